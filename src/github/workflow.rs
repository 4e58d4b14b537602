//! The target workflow's `workflow_dispatch` schema, and the check GitHub will make of a dispatch.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// github.com and GitHub Enterprise Server 3.20 and later accept at most this many inputs in
/// one dispatch.
pub const MAX_INPUTS: usize = 25;
/// GitHub Enterprise Server before 3.20 accepts at most this many (its description says
/// `maxProperties: 10`).
pub const MAX_INPUTS_GHES_BEFORE_3_20: usize = 10;

/// How many inputs the server accepts in a dispatch, from the version GitHub Enterprise Server
/// reports (`x-github-enterprise-version`, `/meta`'s `installed_version`); `None`: github.com.
pub fn max_inputs(enterprise_version: Option<&str>) -> usize {
    let Some(version) = enterprise_version else {
        return MAX_INPUTS;
    };
    let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) if (major, minor) < (3, 20) => MAX_INPUTS_GHES_BEFORE_3_20,
        _ => MAX_INPUTS,
    }
}
/// ... and at most this many characters of inputs in all.
pub const MAX_INPUT_CHARS: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    String,
    Choice,
    Boolean,
    Number,
    Environment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDef {
    pub required: bool,
    pub default: Option<String>,
    pub kind: InputKind,
    pub options: Vec<String>,
}

/// The inputs a workflow declares under `on.workflow_dispatch.inputs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchSchema {
    pub inputs: BTreeMap<String, InputDef>,
    /// The workflow's `run-name`, the title of its runs.
    pub run_name: Option<String>,
}

impl DispatchSchema {
    pub fn declares(&self, name: &str) -> bool {
        self.inputs.contains_key(name)
    }

    /// Does `run-name` show input `name` (`${{ inputs.name }}` or `github.event.inputs.name`)?
    pub fn title_shows(&self, name: &str) -> bool {
        self.run_name.as_deref().is_some_and(|t| {
            let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            compact.contains(&format!("inputs.{name}}}}}"))
                || compact.contains(&format!("inputs.{name}||"))
                || compact.contains(&format!("inputs.{name})"))
        })
    }
}

/// A reason GitHub would refuse the dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dispatch input concerned, when there is one.
    pub input: Option<String>,
    pub message: String,
    pub fix: String,
}

/// Parse a workflow file. `Ok(None)`: valid YAML without a `workflow_dispatch` trigger.
pub fn parse(text: &str) -> Result<Option<DispatchSchema>, String> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("is not valid YAML: {e}"))?;
    let Value::Mapping(top) = doc else {
        return Err("is not a mapping of workflow keys".into());
    };
    // `on` is a string key for YAML 1.2 parsers and `true` for YAML 1.1 ones; accept both.
    let on = top
        .get(Value::String("on".into()))
        .or_else(|| top.get(Value::Bool(true)));
    let Some(on) = on else {
        return Err("has no `on:` key".into());
    };
    let run_name = top
        .get(Value::String("run-name".into()))
        .and_then(Value::as_str)
        .map(str::to_string);
    let bare = || DispatchSchema {
        inputs: BTreeMap::new(),
        run_name: run_name.clone(),
    };
    let dispatch = match on {
        Value::String(event) => return Ok((event == "workflow_dispatch").then(bare)),
        Value::Sequence(events) => {
            let found = events
                .iter()
                .any(|e| e.as_str() == Some("workflow_dispatch"));
            return Ok(found.then(bare));
        }
        Value::Mapping(events) => match events.get(Value::String("workflow_dispatch".into())) {
            None => return Ok(None),
            Some(d) => d,
        },
        _ => return Err("has an `on:` that is not an event, a list or a mapping".into()),
    };
    let inputs = match dispatch {
        Value::Null => return Ok(Some(bare())),
        Value::Mapping(m) => m.get(Value::String("inputs".into())),
        _ => return Err("has a `workflow_dispatch:` that is not a mapping".into()),
    };
    let mut schema = bare();
    let inputs = match inputs {
        None | Some(Value::Null) => return Ok(Some(schema)),
        Some(Value::Mapping(m)) => m,
        Some(_) => return Err("has `workflow_dispatch.inputs` that is not a mapping".into()),
    };
    for (name, def) in inputs {
        let name = name
            .as_str()
            .ok_or("has a workflow_dispatch input whose name is not a string")?
            .to_string();
        let def = parse_input(&name, def)?;
        schema.inputs.insert(name, def);
    }
    Ok(Some(schema))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_input(name: &str, def: &Value) -> Result<InputDef, String> {
    let empty = serde_yaml::Mapping::new();
    let map = match def {
        Value::Mapping(m) => m,
        Value::Null => &empty,
        _ => {
            return Err(format!(
                "declares input `{name}` as something other than a mapping"
            ));
        }
    };
    let field = |key: &str| map.get(Value::String(key.into()));
    let required = match field("required") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" => true,
        Some(Value::String(s)) if s == "false" => false,
        Some(_) => {
            return Err(format!(
                "declares `required` of input `{name}` as other than true or false"
            ));
        }
    };
    let kind = match field("type").and_then(Value::as_str).unwrap_or("string") {
        "string" => InputKind::String,
        "choice" => InputKind::Choice,
        "boolean" => InputKind::Boolean,
        "number" => InputKind::Number,
        "environment" => InputKind::Environment,
        other => {
            return Err(format!(
                "declares input `{name}` with unknown type `{other}`"
            ));
        }
    };
    let options = match field("options") {
        Some(Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    };
    Ok(InputDef {
        required,
        default: field("default").and_then(scalar),
        kind,
        options,
    })
}

/// The dispatch inputs for `environment`. `auto_promote` is sent only when the target declares
/// it: a chain whose workflow does not take it must not be refused for it.
pub fn dispatch_inputs(
    schema: &DispatchSchema,
    environment: &str,
    image_tag: &str,
    auto_promote: bool,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut inputs = BTreeMap::new();
    inputs.insert("environment".to_string(), environment.to_string());
    inputs.insert("image_tag".to_string(), image_tag.to_string());
    if schema.declares("auto_promote") {
        inputs.insert("auto_promote".to_string(), auto_promote.to_string());
    }
    for (k, v) in extra {
        inputs.insert(k.clone(), v.clone());
    }
    inputs
}

/// Check a dispatch the way GitHub will; every problem is returned, not only the first.
pub fn check(
    schema: &DispatchSchema,
    inputs: &BTreeMap<String, String>,
    max_inputs: usize,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let declared: Vec<&str> = schema.inputs.keys().map(String::as_str).collect();
    let undeclared: Vec<&str> = inputs
        .keys()
        .map(String::as_str)
        .filter(|k| !schema.declares(k))
        .collect();
    for name in &undeclared {
        let near = declared
            .iter()
            .find(|d| d.eq_ignore_ascii_case(name) || d.replace('-', "_") == name.replace('-', "_"))
            .map(|d| format!(" (it declares `{d}`)"))
            .unwrap_or_default();
        problems.push(Problem {
            input: Some(name.to_string()),
            message: format!("the workflow does not declare input `{name}`{near}"),
            fix: format!(
                "add `{name}` under `on.workflow_dispatch.inputs` in the target workflow{}",
                if declared.is_empty() {
                    String::new()
                } else {
                    format!(" (declared: {})", declared.join(", "))
                }
            ),
        });
    }
    for (name, def) in &schema.inputs {
        match inputs.get(name) {
            None if def.required && def.default.is_none() => problems.push(Problem {
                input: Some(name.clone()),
                message: format!("required input `{name}` is not sent and has no default"),
                fix: format!("pass `{name}` in the `inputs` input, or give it a default in the target workflow"),
            }),
            None => {}
            Some(value) => {
                if let Some(p) = check_value(name, def, value) {
                    problems.push(p);
                }
            }
        }
    }
    if inputs.len() > max_inputs {
        problems.push(Problem {
            input: None,
            message: format!(
                "{} inputs would be sent; this GitHub accepts at most {max_inputs}",
                inputs.len()
            ),
            fix: if max_inputs < MAX_INPUTS {
                "send fewer entries in `inputs`, or set `correlation-input: none` / `digest-input: none` (GitHub Enterprise Server before 3.20 takes at most 10 inputs)".into()
            } else {
                "send fewer entries in `inputs`".into()
            },
        });
    }
    let chars: usize = inputs.iter().map(|(k, v)| k.len() + v.len()).sum();
    if chars > MAX_INPUT_CHARS {
        problems.push(Problem {
            input: None,
            message: format!(
                "the inputs total {chars} characters; GitHub accepts at most {MAX_INPUT_CHARS}"
            ),
            fix: "send shorter values in `inputs`".into(),
        });
    }
    problems
}

fn check_value(name: &str, def: &InputDef, value: &str) -> Option<Problem> {
    let problem = |message: String, fix: String| {
        Some(Problem {
            input: Some(name.to_string()),
            message,
            fix,
        })
    };
    match def.kind {
        InputKind::Choice if !def.options.iter().any(|o| o == value) => problem(
            format!(
                "`{name}` is a choice of [{}] and `{value}` is not one of them",
                def.options.join(", ")
            ),
            format!("add `{value}` to the `options` of input `{name}` in the target workflow"),
        ),
        InputKind::Boolean if value != "true" && value != "false" => problem(
            format!("`{name}` is a boolean and `{value}` is neither true nor false"),
            format!("send `true` or `false` for `{name}`"),
        ),
        InputKind::Number if !value.trim().parse::<f64>().is_ok_and(f64::is_finite) => problem(
            format!("`{name}` is a number and `{value}` is not numeric"),
            format!("send a number for `{name}`"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
name: "CI Build & Push"
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      environment:
        description: 'Target environment'
        type: choice
        options: [dev, qa, staging]
        default: 'dev'
      auto_promote:
        type: boolean
        default: true
      image_tag:
        type: string
      replicas:
        type: number
        required: false
jobs: {}
"#;

    fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_field_report_template() {
        let s = parse(TEMPLATE).unwrap().unwrap();
        assert_eq!(s.inputs.len(), 4);
        let env = &s.inputs["environment"];
        assert_eq!(env.kind, InputKind::Choice);
        assert_eq!(env.options, ["dev", "qa", "staging"]);
        assert_eq!(s.inputs["auto_promote"].default.as_deref(), Some("true"));
        let sent = dispatch_inputs(&s, "qa", "t1", true, &BTreeMap::new());
        assert_eq!(
            sent,
            inputs(&[
                ("environment", "qa"),
                ("image_tag", "t1"),
                ("auto_promote", "true")
            ])
        );
        assert!(check(&s, &sent, MAX_INPUTS).is_empty());
    }

    #[test]
    fn trigger_forms() {
        assert!(parse("on: workflow_dispatch").unwrap().is_some());
        assert!(parse("on: push").unwrap().is_none());
        assert!(parse("on: [push, workflow_dispatch]").unwrap().is_some());
        assert!(parse("on:\n  workflow_dispatch:\n").unwrap().is_some());
        assert!(parse("on:\n  push: {}\n").unwrap().is_none());
        // A YAML 1.1 writer may have produced a boolean key.
        assert!(parse("true:\n  workflow_dispatch: {}\n").unwrap().is_some());
        assert!(parse("jobs: {}").is_err());
        assert!(parse("on: [").is_err());
        assert!(parse("- a").is_err());
    }

    #[test]
    fn choice_that_does_not_list_the_next_environment() {
        let s = parse(TEMPLATE).unwrap().unwrap();
        let p = check(
            &s,
            &inputs(&[("environment", "prod"), ("image_tag", "t")]),
            MAX_INPUTS,
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].input.as_deref(), Some("environment"));
        assert!(p[0].message.contains("[dev, qa, staging]"), "{:?}", p[0]);
        assert!(p[0].fix.contains("options"));
    }

    #[test]
    fn undeclared_and_missing_required() {
        let s = parse(
            "on:\n  workflow_dispatch:\n    inputs:\n      image-tag: {}\n      region:\n        required: true\n",
        )
        .unwrap()
        .unwrap();
        let p = check(&s, &inputs(&[("image_tag", "t")]), MAX_INPUTS);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].message
                .contains("does not declare input `image_tag` (it declares `image-tag`)")
        );
        assert!(p[1].message.contains("required input `region`"));
    }

    #[test]
    fn booleans_numbers_and_limits() {
        let s = parse(TEMPLATE).unwrap().unwrap();
        let p = check(
            &s,
            &inputs(&[
                ("environment", "qa"),
                ("auto_promote", "yes"),
                ("replicas", "three"),
            ]),
            MAX_INPUTS,
        );
        assert_eq!(p.len(), 2);
        assert!(check(&s, &inputs(&[("replicas", "2.5")]), MAX_INPUTS).is_empty());
        let mut many = BTreeMap::new();
        let mut big = DispatchSchema::default();
        for i in 0..26 {
            big.inputs.insert(
                format!("i{i}"),
                InputDef {
                    required: false,
                    default: None,
                    kind: InputKind::String,
                    options: vec![],
                },
            );
            many.insert(format!("i{i}"), "x".into());
        }
        let p = check(&big, &many, MAX_INPUTS);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("at most 25"));
        let eleven: BTreeMap<String, String> = many.into_iter().take(11).collect();
        assert!(check(&big, &eleven, max_inputs(None)).is_empty());
        let p = check(&big, &eleven, max_inputs(Some("3.19.2")));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("at most 10"), "{p:?}");
        assert!(check(&big, &eleven, max_inputs(Some("3.20.0"))).is_empty());
    }

    #[test]
    fn the_input_limit_follows_the_server_version() {
        assert_eq!(max_inputs(None), 25);
        assert_eq!(max_inputs(Some("3.17.0")), 10);
        assert_eq!(max_inputs(Some("3.19")), 10);
        assert_eq!(max_inputs(Some("3.20.1")), 25);
        assert_eq!(max_inputs(Some("4.0")), 25);
        assert_eq!(
            max_inputs(Some("garbage")),
            25,
            "unknown: github.com's limit, GitHub has the last word"
        );
    }

    #[test]
    fn run_name_shows_an_input() {
        let s = parse("run-name: deploy ${{ inputs.environment }} ${{ inputs.promotion_id }}\non: workflow_dispatch\n")
            .unwrap()
            .unwrap();
        assert!(s.title_shows("promotion_id"));
        assert!(!s.title_shows("promotion"));
        let s = parse("run-name: ${{ github.event.inputs.promotion_id || 'push' }}\non: [push, workflow_dispatch]\n").unwrap().unwrap();
        assert!(s.title_shows("promotion_id"));
        assert!(
            !parse("on: workflow_dispatch")
                .unwrap()
                .unwrap()
                .title_shows("promotion_id")
        );
    }

    #[test]
    fn required_with_default_need_not_be_sent() {
        let s = parse("on:\n  workflow_dispatch:\n    inputs:\n      a:\n        required: true\n        default: x\n")
            .unwrap()
            .unwrap();
        assert!(check(&s, &BTreeMap::new(), MAX_INPUTS).is_empty());
    }
}
