//! A validator for answers of an AWS JSON 1.1 service against its model as the AWS SDKs ship it
//! (botocore's `service-2.json`): an operation's output shape, and an error's `__type`, status
//! and members.
//!
//! Covered: structure members (unknown ones are errors: a stand-in that invents or misspells a
//! member has drifted), `required`, the types string/integer/long/double/float/boolean/
//! timestamp (epoch seconds, as the JSON protocol sends them)/blob (base64)/list/map/structure,
//! `enum`, `pattern` (matched against the whole value, as the service validates names), and
//! `min`/`max` of strings (length) and numbers (value).
//! Not covered: `min`/`max` of lists and maps, because the model shares them with requests and
//! ECR's answers exceed them (ListImages answers up to 1,000 `imageIds` in an
//! `ImageIdentifierList` of at most 100, and an empty repository answers an empty one of at
//! least 1); union shapes, `jsonvalue` strings and documents (ECR's model has none).

use std::collections::HashMap;

use serde_json::Value;

pub use crate::helpers::ecr::COMMON_ERRORS;

pub struct Model {
    pub doc: Value,
    /// botocore's version, when known.
    pub source: String,
    patterns: std::sync::Mutex<HashMap<String, regex_lite::Regex>>,
}

impl Model {
    /// Read `service-2.json` or `service-2.json.gz` (gunzipped with the system's `gzip`, so no
    /// decompression crate is needed).
    pub fn load(path: &std::path::Path) -> Model {
        let text = if path.extension().is_some_and(|e| e == "gz") {
            let out = std::process::Command::new("gzip")
                .arg("-dc")
                .arg(path)
                .output()
                .expect("run gzip -dc");
            assert!(out.status.success(), "gzip -dc {} failed", path.display());
            String::from_utf8(out.stdout).expect("the model is UTF-8")
        } else {
            std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        };
        Model::from_value(
            serde_json::from_str(&text).expect("the model is JSON"),
            path.display().to_string(),
        )
    }

    pub fn from_value(doc: Value, source: String) -> Model {
        Model {
            doc,
            source,
            patterns: Default::default(),
        }
    }

    pub fn shape(&self, name: &str) -> &Value {
        self.doc["shapes"]
            .get(name)
            .unwrap_or_else(|| panic!("the model has no shape {name}"))
    }

    pub fn operation(&self, name: &str) -> &Value {
        self.doc["operations"]
            .get(name)
            .unwrap_or_else(|| panic!("the model has no operation {name}"))
    }

    /// The error shapes the model lists for `operation`.
    pub fn errors(&self, operation: &str) -> Vec<String> {
        self.operation(operation)["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["shape"].as_str().map(str::to_string))
            .collect()
    }

    /// The HTTP status the model gives an error shape: its `error.httpStatusCode`, else 500 for a
    /// `fault` and 400 otherwise.
    pub fn error_status(&self, shape: &str) -> u16 {
        let s = self.shape(shape);
        if let Some(code) = s["error"]["httpStatusCode"].as_u64() {
            return code as u16;
        }
        if s["fault"] == Value::Bool(true) {
            500
        } else {
            400
        }
    }

    /// Check one answer of `operation`: a 200 against its output shape, an error against the
    /// errors the operation can raise (or the common ones).
    pub fn check_answer(&self, operation: &str, status: u16, body: &Value) -> Vec<String> {
        if status == 200 {
            let op = self.operation(operation);
            return match op["output"]["shape"].as_str() {
                Some(shape) => self.check(shape, body),
                None => Vec::new(),
            };
        }
        let Some(kind) = body["__type"].as_str() else {
            return vec![format!("{operation}: status {status} without an __type")];
        };
        // The type may carry a namespace (`com.amazonaws.ecr#ServerException`).
        let kind = kind.rsplit('#').next().unwrap_or(kind);
        if let Some((expected, _)) = COMMON_ERRORS.iter().find(|(_, n)| *n == kind) {
            let mut errors = Vec::new();
            if *expected != status {
                errors.push(format!("{kind}: status {status}, AWS answers {expected}"));
            }
            for (k, v) in body.as_object().into_iter().flatten() {
                if k != "__type" && k != "message" && k != "Message" {
                    errors.push(format!("{kind}: unexpected member {k}"));
                } else if !v.is_string() {
                    errors.push(format!("{kind}: {k} is not a string"));
                }
            }
            return errors;
        }
        if !self.errors(operation).iter().any(|e| e == kind) {
            return vec![format!(
                "{operation} cannot answer {kind}: the model lists {:?} (and the common errors)",
                self.errors(operation)
            )];
        }
        let mut errors = Vec::new();
        let expected = self.error_status(kind);
        if expected != status {
            errors.push(format!(
                "{kind}: status {status}, the model says {expected}"
            ));
        }
        let mut members = body.clone();
        if let Some(map) = members.as_object_mut() {
            map.remove("__type");
        }
        errors.extend(self.check(kind, &members));
        errors
    }

    /// Every way `value` breaks the shape `shape`, each with a path.
    pub fn check(&self, shape: &str, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(shape, value, shape, &mut errors);
        errors
    }

    fn walk(&self, name: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
        let s = self.shape(name);
        let t = s["type"].as_str().unwrap_or_default();
        let ok = match t {
            "structure" | "map" => value.is_object(),
            "list" => value.is_array(),
            "string" | "blob" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" | "long" => value.is_i64() || value.is_u64(),
            "double" | "float" | "timestamp" => value.is_number(),
            other => {
                errors.push(format!("{at}: shape type {other} is not supported here"));
                return;
            }
        };
        if !ok {
            errors.push(format!("{at}: expected {t} ({name}), got {value}"));
            return;
        }
        let min = s["min"].as_f64();
        let max = s["max"].as_f64();
        let bounds = |size: f64, what: &str, errors: &mut Vec<String>| {
            if let Some(min) = min
                && size < min
            {
                errors.push(format!(
                    "{at}: {what} {size} is below the minimum {min} of {name}"
                ));
            }
            if let Some(max) = max
                && size > max
            {
                errors.push(format!(
                    "{at}: {what} {size} is above the maximum {max} of {name}"
                ));
            }
        };
        match (t, value) {
            ("structure", Value::Object(map)) => {
                let members = s["members"].as_object().cloned().unwrap_or_default();
                for required in s["required"].as_array().into_iter().flatten() {
                    let required = required.as_str().unwrap_or_default();
                    if !map.contains_key(required) {
                        errors.push(format!("{at}: required member {required} is missing"));
                    }
                }
                for (k, v) in map {
                    match members.get(k) {
                        // The service leaves an absent member out; it never sends null.
                        Some(_) if v.is_null() => {
                            errors.push(format!("{at}.{k}: null (the service omits the member)"))
                        }
                        Some(m) => {
                            let target = m["shape"].as_str().unwrap_or_default();
                            self.walk(target, v, &format!("{at}.{k}"), errors);
                        }
                        None => errors.push(format!("{at}: {name} has no member {k}")),
                    }
                }
            }
            ("list", Value::Array(items)) => {
                let member = s["member"]["shape"].as_str().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    self.walk(member, item, &format!("{at}[{i}]"), errors);
                }
            }
            ("map", Value::Object(map)) => {
                let key = s["key"]["shape"].as_str().unwrap_or_default();
                let val = s["value"]["shape"].as_str().unwrap_or_default();
                for (k, v) in map {
                    self.walk(
                        key,
                        &Value::String(k.clone()),
                        &format!("{at}<key {k}>"),
                        errors,
                    );
                    self.walk(val, v, &format!("{at}[{k}]"), errors);
                }
            }
            ("string", Value::String(text)) => {
                bounds(text.chars().count() as f64, "length", errors);
                if let Some(allowed) = s["enum"].as_array()
                    && !allowed.iter().any(|a| a.as_str() == Some(text))
                {
                    errors.push(format!("{at}: {text:?} is not one of {name}'s {allowed:?}"));
                }
                if let Some(pattern) = s["pattern"].as_str() {
                    let mut cache = self.patterns.lock().unwrap();
                    let re = cache.entry(pattern.to_string()).or_insert_with(|| {
                        regex_lite::Regex::new(&format!("^(?:{pattern})$"))
                            .unwrap_or_else(|e| panic!("pattern {pattern} of {name}: {e}"))
                    });
                    if !re.is_match(text) {
                        errors.push(format!("{at}: {text:?} does not match {name}'s {pattern}"));
                    }
                }
            }
            ("blob", Value::String(text)) => {
                use base64::Engine;
                if base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_err()
                {
                    errors.push(format!("{at}: a blob that is not base64"));
                }
            }
            ("integer" | "long" | "double" | "float", Value::Number(n)) => {
                bounds(n.as_f64().unwrap_or_default(), "value", errors);
            }
            _ => {}
        }
    }
}
