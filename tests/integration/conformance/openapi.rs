//! A small validator for GitHub's OpenAPI 3.0 description: finds the operation a request went
//! to and checks an answer's body against the schema of that operation and status code.
//!
//! Covered: `$ref` (local), `type` (with 3.0's `nullable`), `enum`, `required`, `properties`,
//! `additionalProperties` (false or a schema), `items`, `allOf`/`anyOf`/`oneOf` (exactly one),
//! `minLength`/`maxLength`, `pattern`, `minimum`/`maximum`, `minItems`/`maxItems`,
//! `uniqueItems`, `minProperties`/`maxProperties`, and the formats `date-time` and `uri`.
//! Not covered: `not`, `discriminator` (the `oneOf` it sits on decides), `readOnly`/`writeOnly`,
//! other formats.

use std::collections::HashMap;

use serde_json::Value;

pub struct Description {
    pub doc: Value,
    /// The `info.version` of the description (the @octokit/openapi release).
    pub version: String,
    /// Compiled `pattern`s.
    patterns: std::sync::Mutex<HashMap<String, regex_lite::Regex>>,
}

/// The operation a request reached: its path template and its object in the description.
pub struct Operation<'a> {
    pub template: String,
    pub id: String,
    pub op: &'a Value,
}

impl Description {
    pub fn load(path: &std::path::Path) -> Description {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        Description::from_value(serde_json::from_str(&text).expect("the description is JSON"))
    }

    pub fn from_value(doc: Value) -> Description {
        let version = doc["info"]["version"].as_str().unwrap_or("?").to_string();
        Description {
            doc,
            version,
            patterns: Default::default(),
        }
    }

    /// The operation whose path template matches `path` (no query, no `/api/v3` prefix).
    /// A literal segment wins over a `{parameter}` one, as routers do.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation<'_>> {
        let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, &String, &Value)> = None;
        for (template, item) in self.doc["paths"].as_object()? {
            let segments: Vec<&str> = template.split('/').collect();
            // `{path}` of the contents API spans several segments: it is always last.
            let greedy = segments.last().is_some_and(|s| *s == "{path}");
            let fits = if greedy {
                wanted.len() >= segments.len()
            } else {
                wanted.len() == segments.len()
            };
            if !fits {
                continue;
            }
            let mut literal = 0;
            let matched = segments.iter().zip(&wanted).all(|(t, w)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !w.is_empty()
                } else {
                    literal += 1;
                    t == w
                }
            });
            let Some(op) = item.get(method.to_ascii_lowercase()) else {
                continue;
            };
            if matched && best.is_none_or(|(l, _, _)| literal > l) {
                best = Some((literal, template, op));
            }
        }
        best.map(|(_, template, op)| Operation {
            template: template.clone(),
            id: op["operationId"].as_str().unwrap_or("?").to_string(),
            op,
        })
    }

    /// Follow `$ref`s to the schema (or response) they name.
    pub fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        let mut hops = 0;
        while let Some(r) = value.get("$ref").and_then(Value::as_str) {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {r}"));
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            hops += 1;
            assert!(hops < 64, "a $ref cycle at {r}");
        }
        value
    }

    /// The described response of `op` for `status`: `Err` when the status is not described,
    /// `Ok(None)` when it is described without a JSON body.
    pub fn response_schema<'a>(
        &'a self,
        op: &Operation<'a>,
        status: u16,
    ) -> Result<Option<&'a Value>, String> {
        let responses = &op.op["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get(format!("{}XX", status / 100)))
            .or_else(|| responses.get("default"))
            .ok_or_else(|| {
                let described: Vec<&String> = responses
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                format!(
                    "{} ({}) does not describe status {status}; it describes {described:?}",
                    op.id, op.template
                )
            })?;
        let response = self.resolve(response);
        let content = &response["content"];
        Ok(content
            .get("application/json")
            .or_else(|| content.get("application/vnd.github.object"))
            .and_then(|c| c.get("schema")))
    }

    /// The request body schema of `op`, if it takes one.
    pub fn request_schema<'a>(&'a self, op: &Operation<'a>) -> Option<&'a Value> {
        let body = self.resolve(op.op.get("requestBody")?);
        body["content"]["application/json"].get("schema")
    }

    /// Every way `value` breaks `schema`, each with a JSON pointer to the place.
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(schema, value, "", &mut errors);
        errors
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let Some(s) = schema.as_object() else {
            return;
        };
        let here = if at.is_empty() { "/" } else { at };
        if value.is_null() {
            // OpenAPI 3.0: null only where `nullable: true` (or in a schema that says nothing).
            let says_nothing = !s.contains_key("type")
                && !s.contains_key("allOf")
                && !s.contains_key("anyOf")
                && !s.contains_key("oneOf")
                && !s.contains_key("enum")
                && !s.contains_key("properties");
            if s.get("nullable") == Some(&Value::Bool(true)) || says_nothing {
                return;
            }
            if !s.contains_key("type") && !s.contains_key("enum") {
                // Only the combinators can allow it.
                self.combinators(s, value, at, errors);
                return;
            }
            errors.push(format!("{here}: null where the schema is not nullable"));
            return;
        }
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            let ok = match t {
                "string" => value.is_string(),
                "integer" => {
                    value.is_i64()
                        || value.is_u64()
                        || value.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                other => {
                    errors.push(format!("{here}: unknown type {other} in the description"));
                    true
                }
            };
            if !ok {
                errors.push(format!("{here}: expected {t}, got {}", kind(value)));
                return;
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{here}: {value} is not one of {allowed:?}"));
        }
        match value {
            Value::String(text) => self.string(s, text, here, errors),
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or_default();
                if let Some(min) = s.get("minimum").and_then(Value::as_f64)
                    && f < min
                {
                    errors.push(format!("{here}: {f} is below the minimum {min}"));
                }
                if let Some(max) = s.get("maximum").and_then(Value::as_f64)
                    && f > max
                {
                    errors.push(format!("{here}: {f} is above the maximum {max}"));
                }
            }
            Value::Array(items) => {
                if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                    && (items.len() as u64) < min
                {
                    errors.push(format!("{here}: {} items, fewer than {min}", items.len()));
                }
                if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                    && (items.len() as u64) > max
                {
                    errors.push(format!("{here}: {} items, more than {max}", items.len()));
                }
                if s.get("uniqueItems") == Some(&Value::Bool(true)) {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            errors.push(format!("{here}: item {i} repeats an earlier one"));
                        }
                    }
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item_schema, item, &format!("{at}/{i}"), errors);
                    }
                }
            }
            Value::Object(map) => {
                for name in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !map.contains_key(name) {
                        errors.push(format!("{here}: required property `{name}` is missing"));
                    }
                }
                if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
                    && (map.len() as u64) < min
                {
                    errors.push(format!(
                        "{here}: {} properties, fewer than {min}",
                        map.len()
                    ));
                }
                if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
                    && (map.len() as u64) > max
                {
                    errors.push(format!("{here}: {} properties, more than {max}", map.len()));
                }
                let properties = s.get("properties").and_then(Value::as_object);
                for (name, v) in map {
                    let path = format!("{at}/{name}");
                    match properties.and_then(|p| p.get(name)) {
                        Some(p) => self.walk(p, v, &path, errors),
                        None => match s.get("additionalProperties") {
                            Some(Value::Bool(false)) => {
                                errors.push(format!("{path}: property not allowed here"))
                            }
                            Some(extra @ Value::Object(_)) => self.walk(extra, v, &path, errors),
                            _ => {}
                        },
                    }
                }
            }
            _ => {}
        }
        self.combinators(s, value, at, errors);
    }

    fn combinators(
        &self,
        s: &serde_json::Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let here = if at.is_empty() { "/" } else { at };
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.walk(sub, value, at, errors);
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            let failures: Vec<Vec<String>> = any
                .iter()
                .map(|sub| self.check_at(sub, value, at))
                .collect();
            if failures.iter().all(|f| !f.is_empty()) {
                errors.push(format!(
                    "{here}: matches none of anyOf: {}",
                    failures
                        .iter()
                        .map(|f| f.join("; "))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let failures: Vec<Vec<String>> = one
                .iter()
                .map(|sub| self.check_at(sub, value, at))
                .collect();
            let matched = failures.iter().filter(|f| f.is_empty()).count();
            if matched == 0 {
                errors.push(format!(
                    "{here}: matches none of oneOf: {}",
                    failures
                        .iter()
                        .map(|f| f.join("; "))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            } else if matched > 1 {
                errors.push(format!(
                    "{here}: matches {matched} schemas of oneOf, not exactly one"
                ));
            }
        }
    }

    fn check_at(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(schema, value, at, &mut errors);
        errors
    }

    fn string(
        &self,
        s: &serde_json::Map<String, Value>,
        text: &str,
        here: &str,
        errors: &mut Vec<String>,
    ) {
        let length = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            errors.push(format!("{here}: {length} characters, fewer than {min}"));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            errors.push(format!("{here}: {length} characters, more than {max}"));
        }
        if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
            let mut cache = self.patterns.lock().unwrap();
            let re = cache.entry(pattern.to_string()).or_insert_with(|| {
                regex_lite::Regex::new(pattern)
                    .unwrap_or_else(|e| panic!("pattern {pattern} of the description: {e}"))
            });
            // JSON Schema patterns are not anchored.
            if !re.is_match(text) {
                errors.push(format!("{here}: {text:?} does not match {pattern}"));
            }
        }
        match s.get("format").and_then(Value::as_str) {
            Some("date-time") if !is_date_time(text) => {
                errors.push(format!("{here}: {text:?} is not an RFC 3339 date-time"));
            }
            // GitHub sends "" for an unset URL (`target_url` defaults to ""), so "" passes.
            Some("uri") if !text.is_empty() && !is_uri(text) => {
                errors.push(format!("{here}: {text:?} is not a URI"));
            }
            _ => {}
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// RFC 3339: `2026-01-29T12:56:07Z`, fractions and offsets allowed.
pub fn is_date_time(text: &str) -> bool {
    let re = regex_lite::Regex::new(
        r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$",
    )
    .unwrap();
    re.is_match(text)
}

/// An absolute URI: a scheme, then no spaces.
pub fn is_uri(text: &str) -> bool {
    let re = regex_lite::Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$").unwrap();
    re.is_match(text)
}
