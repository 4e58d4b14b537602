//! `action.yml`, the README and the code must agree on every input, output and result code.

use std::collections::BTreeSet;

use ecr_promote::config::INPUTS;
use ecr_promote::outcome::RESULT_CODES;
use ecr_promote::report::OUTPUTS;

fn read(file: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

fn action() -> serde_yaml::Value {
    serde_yaml::from_str(&read("action.yml")).expect("action.yml is YAML")
}

/// The first-column names of the Markdown table under `## {heading}` in the README.
fn readme_table(heading: &str) -> Vec<String> {
    let readme = read("README.md");
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no `## {heading}` section"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map(|i| i + 3)
        .unwrap_or(section.len())];
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l[3..].split('`').next().unwrap().to_string())
        .collect()
}

#[test]
fn action_yml_inputs_match_the_code() {
    let action = action();
    let inputs = action["inputs"].as_mapping().expect("inputs");
    let declared: Vec<String> = inputs
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let code: Vec<String> = INPUTS.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        declared, code,
        "action.yml inputs (in order) differ from src/config/table.rs INPUTS"
    );
    for spec in INPUTS {
        let def = &inputs[spec.name];
        assert_eq!(
            def["required"].as_bool(),
            Some(spec.required),
            "required of {}",
            spec.name
        );
        let default = def["default"].as_str().unwrap_or_default();
        assert_eq!(default, spec.default, "default of {}", spec.name);
        let description = def["description"].as_str().unwrap_or_default();
        if spec.boolean {
            assert!(
                description.contains("`true` or `false`"),
                "{} lists its values",
                spec.name
            );
        }
        if !spec.default.is_empty() && !spec.default.contains("${{") {
            assert!(
                description.contains(spec.default),
                "{} documents its default",
                spec.name
            );
        }
    }
}

#[test]
fn action_yml_outputs_match_the_code() {
    let action = action();
    let outputs: Vec<String> = action["outputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        outputs, OUTPUTS,
        "action.yml outputs differ from src/report/outputs.rs OUTPUTS"
    );
    let result = action["outputs"]["result"]["description"].as_str().unwrap();
    for code in RESULT_CODES {
        assert!(
            result.contains(code.as_str()),
            "result description lacks {}",
            code.as_str()
        );
    }
    assert_eq!(action["runs"]["using"].as_str(), Some("docker"));
}

#[test]
fn outputs_documented_as_always_written_are_written_before_anything_else() {
    let action = action();
    let always: BTreeSet<String> = action["outputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, def)| {
            def["description"]
                .as_str()
                .is_some_and(|d| d.trim_start().starts_with("Always written"))
        })
        .map(|(k, _)| k.as_str().unwrap().to_string())
        .collect();
    let initial: BTreeSet<String> = ecr_promote::report::initial_pairs()
        .into_iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert!(always.len() >= 5, "{always:?}");
    assert_eq!(
        always, initial,
        "a kill must leave every output action.yml calls always written"
    );
}

#[test]
fn readme_tables_match_the_code() {
    let inputs: Vec<String> = INPUTS.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(readme_table("Inputs"), inputs, "README inputs table");
    assert_eq!(readme_table("Outputs"), OUTPUTS, "README outputs table");
    let codes: Vec<String> = RESULT_CODES
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(
        readme_table("Result codes"),
        codes,
        "README result codes table"
    );
}

#[test]
fn readme_inputs_table_states_required_and_defaults() {
    let readme = read("README.md");
    for spec in INPUTS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", spec.name)))
            .unwrap();
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(
            cells[1].trim() == "yes",
            spec.required,
            "required column of {}",
            spec.name
        );
        if !spec.default.is_empty() {
            assert!(
                cells[2].contains(spec.default),
                "default column of {}: {row}",
                spec.name
            );
        }
    }
}

#[test]
fn every_output_the_code_writes_is_declared() {
    // Written names come only from OUTPUTS: check the writer against the declared set.
    let mut report =
        ecr_promote::outcome::Report::new(ecr_promote::outcome::ResultCode::Promoted, "m");
    report.environment = Some("dev".into());
    report.next_environment = Some("qa".into());
    report.image_tag = Some("t".into());
    report.vulnerabilities = Some([("HIGH".to_string(), 1)].into());
    report.run_conclusion = Some("success".into());
    report.record = Some(ecr_promote::outcome::RecordRef {
        id: 7,
        url: "https://api.example/deployments/7".into(),
    });
    report.previous = Some(("v0".into(), "sha256:0".into()));
    report.rolled_back_to = Some("v0".into());
    report.run = Some(ecr_promote::model::RunInfo {
        id: 1,
        url: "https://x".into(),
    });
    report.images = vec![ecr_promote::outcome::ImageRow {
        name: "a".into(),
        display: "a".into(),
        state: ecr_promote::outcome::ImageState::Found(ecr_promote::model::ImageInfo {
            digest: "sha256:1".into(),
            pushed_at: None,
            size_bytes: None,
            status: None,
        }),
        checks: Vec::new(),
    }];
    let written: BTreeSet<&str> = ecr_promote::report::output_pairs(&report)
        .iter()
        .map(|(k, _)| *k)
        .collect();
    let declared: BTreeSet<&str> = OUTPUTS.iter().copied().collect();
    assert_eq!(written, declared);
}

#[test]
fn readme_shows_the_example_workflows_as_they_are() {
    let readme = read("README.md");
    for file in [
        "deploy.yml",
        "reusable-promote.yml",
        "reusable-caller.yml",
        "gated.yml",
        "tag-promotion.yml",
        "rollback.yml",
    ] {
        let text = read(&format!("examples/workflows/{file}"));
        assert!(
            readme.contains(&format!("```yaml\n{text}```")),
            "README's copy of examples/workflows/{file} is out of date; paste the file into its ```yaml block"
        );
    }
}
