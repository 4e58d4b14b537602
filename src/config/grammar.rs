//! Grammars shared by many inputs: input errors, booleans, durations, lists, URLs and workflow
//! input names.

use std::time::Duration;

use crate::text::shown;

/// Dispatch inputs the action sets itself; `inputs` may not override them.
pub const RESERVED_DISPATCH_INPUTS: &[&str] = &["environment", "image_tag", "auto_promote"];

/// An input that is missing or malformed: names the input, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {problem}")]
pub struct InputError {
    pub input: String,
    pub problem: String,
}

pub(crate) fn bad(input: &str, problem: impl Into<String>) -> InputError {
    InputError {
        input: input.to_string(),
        problem: problem.into(),
    }
}

/// YAML 1.2 core booleans only: anything else is an error, never a silent `false`.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, InputError> {
    match value.trim() {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(bad(
            name,
            format!("{} is not a boolean; use `true` or `false`", shown(other)),
        )),
    }
}

/// `90s`, `5m`, `1h`, `1m30s`: at least one second, at most six hours (GitHub's job limit).
pub fn parse_duration(name: &str, value: &str) -> Result<Duration, InputError> {
    let span = parse_span(value, &[('s', 1), ('m', 60), ('h', 3600)], 1..=6 * 3600);
    span.map(Duration::from_secs).map_err(|e| {
        bad(
            name,
            match e {
                Span::Invalid => format!(
                    "{} is not a duration; write a number with a unit, such as `90s`, `5m`, `1h` or `1m30s`",
                    shown(value)
                ),
                Span::OutOfRange => {
                    format!("{} is out of range; use between 1s and 6h", shown(value))
                }
            },
        )
    })
}

/// Why a span of time did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Not numbers with units (`5`, `5x`, `1.5m`, an overflow).
    Invalid,
    /// Well formed, outside the range allowed.
    OutOfRange,
}

/// Seconds in a span written as numbers with units (`1m30s`, `2h`, `1d12h`): each unit one of
/// `units` (letter, seconds), the total within `range`. Every duration input reads through it.
pub fn parse_span(
    value: &str,
    units: &[(char, u64)],
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, Span> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut parts = 0;
    for c in value.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let (_, unit) = units.iter().find(|(u, _)| *u == c).ok_or(Span::Invalid)?;
        let n: u64 = number.parse().map_err(|_| Span::Invalid)?;
        total = n
            .checked_mul(*unit)
            .and_then(|v| total.checked_add(v))
            .ok_or(Span::Invalid)?;
        number.clear();
        parts += 1;
    }
    if parts == 0 || !number.is_empty() {
        return Err(Span::Invalid);
    }
    if !range.contains(&total) {
        return Err(Span::OutOfRange);
    }
    Ok(total)
}

pub(crate) fn parse_http_url(input: &str, value: &str) -> Result<String, InputError> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
    if ok {
        Ok(value.to_string())
    } else {
        Err(bad(
            input,
            format!("{} is not an http(s) URL", shown(value)),
        ))
    }
}

pub(crate) fn one_line_name(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// A dispatch input name, or `none`.
pub(crate) fn parse_input_name(input: &str, value: &str) -> Result<Option<String>, InputError> {
    if value == "none" {
        return Ok(None);
    }
    if !valid_input_name(value) || RESERVED_DISPATCH_INPUTS.contains(&value) {
        return Err(bad(
            input,
            format!(
                "{} is not a usable workflow input name; use a name such as `promotion_id` or `image_digest`, or `none`",
                shown(value)
            ),
        ));
    }
    Ok(Some(value.to_string()))
}

/// Split a list input on commas, whitespace and newlines.
pub fn split_list(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

pub(crate) fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn valid_input_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 100
}
