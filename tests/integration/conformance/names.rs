//! The input grammar against the service's own: `ecr-repositories` accepts exactly the repository
//! names ECR's model allows (`RepositoryName`: its `pattern`, `min` and `max`, read from
//! botocore's `service-2.json`, never copied here by hand).

use ecr_promote::config::valid_repository_name;
use proptest::prelude::*;

use super::ecr_model;

/// Whether ECR's model allows `name` as a repository name: the whole value matches the pattern
/// (as the service validates names) and its length is within the shape's bounds.
struct ModelGrammar {
    pattern: regex_lite::Regex,
    min: usize,
    max: usize,
}

impl ModelGrammar {
    fn get() -> &'static ModelGrammar {
        static GRAMMAR: std::sync::OnceLock<ModelGrammar> = std::sync::OnceLock::new();
        GRAMMAR.get_or_init(ModelGrammar::load)
    }

    fn load() -> ModelGrammar {
        let shape = ecr_model().shape("RepositoryName");
        let pattern = shape["pattern"]
            .as_str()
            .expect("RepositoryName has a pattern");
        ModelGrammar {
            pattern: regex_lite::Regex::new(&format!("^(?:{pattern})$"))
                .unwrap_or_else(|e| panic!("the model's pattern {pattern}: {e}")),
            min: shape["min"].as_u64().expect("RepositoryName has a min") as usize,
            max: shape["max"].as_u64().expect("RepositoryName has a max") as usize,
        }
    }

    fn allows(&self, name: &str) -> bool {
        (self.min..=self.max).contains(&name.chars().count()) && self.pattern.is_match(name)
    }
}

fn agree(model: &ModelGrammar, name: &str) -> Result<(), String> {
    let (ours, theirs) = (valid_repository_name(name), model.allows(name));
    if ours == theirs {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: ecr-promote says {}, ECR's model ({}) says {}",
            if ours { "valid" } else { "invalid" },
            model.pattern,
            if theirs { "valid" } else { "invalid" }
        ))
    }
}

#[test]
fn every_short_name_is_judged_as_the_model_judges_it() {
    // Every name of up to 5 characters over letters, digits, each separator, `/` and a
    // character ECR never allows: 19,607 names, valid and invalid.
    let model = ModelGrammar::get();
    let alphabet = ['a', '1', '.', '_', '-', '/', 'A'];
    let mut names = vec![String::new()];
    let mut disagreements = Vec::new();
    let (mut valid, mut checked) = (0, 0);
    for _ in 0..5 {
        names = names
            .iter()
            .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
            .collect();
        for name in &names {
            checked += 1;
            valid += usize::from(model.allows(name));
            if let Err(e) = agree(model, name) {
                disagreements.push(e);
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {checked} names judged unlike the model, e.g.:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(10)].join("\n")
    );
    // Both sides of the grammar were exercised, including the names of the field report.
    assert!(valid > 500 && checked - valid > 500, "{valid} of {checked}");
    for name in ["team__backend", "team--backend", "team---x"] {
        assert!(model.allows(name) && valid_repository_name(name), "{name}");
    }
}

/// A name made of words and separators, as people write them; the separators include ones ECR
/// refuses (`___`, `._`, `//`), so both valid and invalid names come out.
fn structured() -> impl Strategy<Value = String> {
    let word = "[a-z0-9]{1,8}|[a-zA-Z0-9]{1,3}";
    let separator = prop_oneof![
        Just("."),
        Just("_"),
        Just("__"),
        Just("___"),
        Just("-"),
        Just("--"),
        Just("----"),
        Just("._"),
        Just("/"),
        Just("//"),
        Just(""),
    ];
    (
        prop::option::of(separator.clone()),
        word,
        prop::collection::vec((separator, word), 0..8),
        prop::option::of(prop_oneof![Just("-"), Just("/"), Just("_")]),
    )
        .prop_map(|(lead, first, rest, trail)| {
            let mut s = lead.unwrap_or_default().to_string();
            s.push_str(&first);
            for (sep, w) in rest {
                s.push_str(sep);
                s.push_str(&w);
            }
            s.push_str(trail.unwrap_or_default());
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_names_are_judged_as_the_model_judges_them(
        name in prop_oneof![structured(), "[a-z0-9._/A-Z -]{0,12}"],
    ) {
        let model = ModelGrammar::get();
        prop_assert!(agree(model, &name).is_ok(), "{}", agree(model, &name).unwrap_err());
    }

    #[test]
    fn the_length_bounds_are_the_models(len in 240usize..270, sep in prop_oneof![Just(""), Just("/"), Just("__")]) {
        let model = ModelGrammar::get();
        let mut name = "a".repeat(len - sep.len() - 1);
        name.push_str(sep);
        name.push('b');
        prop_assert!(agree(model, &name).is_ok(), "{}", agree(model, &name).unwrap_err());
    }
}
