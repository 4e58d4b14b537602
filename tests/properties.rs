//! Property tests (proptest, a bounded number of cases in every test run) of everything that
//! reads untrusted text: the inputs, the `inputs` mapping, the target workflow file, and of the
//! output writer and the escaping. No panic, ever; values round-trip exactly.

use std::collections::HashMap;

use ecr_promote::config::{
    INPUTS, MapSource, parse, parse_chain, parse_duration, parse_extra_inputs, parse_ref,
};
use ecr_promote::github::workflow;
use ecr_promote::report::log::escape_data;
use ecr_promote::report::outputs::runner;
use ecr_promote::report::{encode_output, md};
use ecr_promote::text::one_line;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that hits the parsers' edges: separators, quotes, YAML and workflow-command syntax,
/// control characters, non-ASCII.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[a-z0-9_.:/,\\- \n]{0,40}",
        prop::collection::vec(
            prop_oneof![
                Just("::".to_string()),
                Just("\n".to_string()),
                Just("\r".to_string()),
                Just("%".to_string()),
                Just("{".to_string()),
                Just("}".to_string()),
                Just("[".to_string()),
                Just("- ".to_string()),
                Just(": ".to_string()),
                Just("\"".to_string()),
                Just("'".to_string()),
                Just("|".to_string()),
                Just("<<".to_string()),
                Just("ghadelimiter_".to_string()),
                Just("é".to_string()),
                Just("\u{0}".to_string()),
                "[a-z]{1,5}",
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn inputs_never_panic(values in prop::collection::vec((0..INPUTS.len(), nasty()), 0..12),
                          region in prop::option::of("[a-z]{2}-[a-z]{4,7}-[0-9]"),
                          git_ref in prop::option::of(nasty())) {
        let mut src = MapSource::default();
        for (i, value) in values {
            src = src.input(INPUTS[i].name, &value);
        }
        if let Some(r) = region { src = src.var("AWS_REGION", &r); }
        if let Some(r) = git_ref { src = src.var("GITHUB_REF", &r); }
        src = src.var("GITHUB_REPOSITORY", "acme/shop").var("GITHUB_WORKFLOW_REF", "acme/shop/.github/workflows/d.yml@refs/heads/main");
        match parse(&src) {
            Ok(inputs) => {
                prop_assert!(inputs.chain.position(&inputs.environment).is_some());
                prop_assert!(!inputs.image.repositories.is_empty());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(INPUTS.iter().any(|s| s.name == e.input), "unknown input {}", e.input);
                }
            }
        }
    }

    #[test]
    fn small_parsers_never_panic(text in nasty()) {
        let _ = parse_chain(&text);
        let _ = parse_duration("timeout", &text);
        let _ = parse_ref("ref", &text);
        let _ = parse_extra_inputs(&text);
        if let Ok(Some(schema)) = workflow::parse(&text) {
            let _ = workflow::check(&schema, &Default::default(), workflow::MAX_INPUTS);
        }
    }

    #[test]
    fn extra_inputs_round_trip(map in prop::collection::btree_map("[a-z_][a-z0-9_-]{0,10}", nasty(), 0..8)) {
        let reserved = ["environment", "image_tag", "auto_promote"];
        let map: std::collections::BTreeMap<String, String> =
            map.into_iter().filter(|(k, _)| !reserved.contains(&k.as_str())).collect();
        let json = serde_json::to_string(&map).unwrap();
        prop_assert_eq!(parse_extra_inputs(&json).unwrap(), map);
    }

    #[test]
    fn workflow_check_never_panics(
        inputs in prop::collection::btree_map("[a-z_]{1,8}", (0..5usize, any::<bool>(), prop::option::of("[^\\p{Cc}]{0,20}"), prop::collection::vec("[a-z]{1,6}", 0..4)), 0..10),
        sent in prop::collection::btree_map("[a-z_]{1,8}", nasty(), 0..10),
    ) {
        let mut text = String::from("on:\n  workflow_dispatch:\n    inputs:\n");
        for (name, (kind, required, default, options)) in &inputs {
            let kind = ["string", "choice", "boolean", "number", "environment"][*kind];
            text.push_str(&format!("      {name}:\n        type: {kind}\n        required: {required}\n"));
            if let Some(d) = default {
                text.push_str(&format!("        default: {}\n", serde_json::to_string(d).unwrap()));
            }
            if !options.is_empty() {
                text.push_str(&format!("        options: [{}]\n", options.join(", ")));
            }
        }
        let schema = workflow::parse(&text).unwrap().unwrap();
        prop_assert_eq!(schema.inputs.len(), inputs.len());
        let problems = workflow::check(&schema, &sent, workflow::MAX_INPUTS);
        // Every undeclared input sent is reported.
        for name in sent.keys().filter(|k| !inputs.contains_key(*k)) {
            prop_assert!(problems.iter().any(|p| p.input.as_deref() == Some(name.as_str())));
        }
    }

    #[test]
    fn any_output_value_parses_back_exactly_and_forges_nothing(values in prop::collection::vec(nasty(), 1..5)) {
        let mut text = String::new();
        let mut expected = HashMap::new();
        for (i, v) in values.iter().enumerate() {
            text.push_str(&encode_output(&format!("out{i}"), v));
            expected.insert(format!("out{i}"), v.clone());
        }
        text.push_str(&encode_output("deploy_success", "false"));
        expected.insert("deploy_success".into(), "false".into());
        let parsed = runner::parse(&text).expect("the runner accepts it");
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn escaping_leaves_no_line_breaks_or_markup(text in nasty()) {
        prop_assert!(!one_line(&text).chars().any(char::is_control));
        let data = escape_data(&text);
        prop_assert!(!data.contains('\n') && !data.contains('\r'));
        let m = md(&text);
        prop_assert!(!m.contains('<') && !m.contains('>') && !m.contains('|') && !m.contains('\n'));
    }
}
