//! The step's outputs: the list of every output, and the one writer of GITHUB_OUTPUT, always in
//! the runner's heredoc form with a random delimiter so that no value can forge another output.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::outcome::{Report, ResultCode};
use crate::text::one_line;

/// Every output the action may write. `action.yml` and the README are checked against it.
pub const OUTPUTS: &[&str] = &[
    "deploy_success",
    "promoted",
    "result",
    "message",
    "environment",
    "next_environment",
    "image_tag",
    "image_digest",
    "image_digests",
    "run_id",
    "run_url",
    "vulnerabilities",
    "run_conclusion",
    "admitted",
    "recorded",
    "deployment_id",
    "deployment_url",
    "previous_image_tag",
    "previous_image_digest",
    "rolled_back_to",
];

/// GitHub drops a step summary above 1 MiB; stay well below.
/// A random heredoc delimiter, in the toolkit's form, that does not occur in `value`.
fn delimiter_for(value: &str) -> String {
    loop {
        let mut bytes = [0u8; 16];
        // Without an OS random source, fall back to the clock: still fine, the loop checks.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            bytes = nanos.to_le_bytes();
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let delimiter = format!("ghadelimiter_{hex}");
        if !value.contains(&delimiter) {
            return delimiter;
        }
    }
}

/// One output in the runner's heredoc form: `name<<DELIM\nvalue\nDELIM\n`.
pub fn encode_output(name: &str, value: &str) -> String {
    let delimiter = delimiter_for(value);
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// The outputs documented as always written, with the honest value of a run that never got to
/// write its result (killed, crashed): written before anything else.
pub fn initial_pairs() -> Vec<(&'static str, String)> {
    vec![
        ("deploy_success", "false".into()),
        ("promoted", "false".into()),
        ("result", "error".into()),
        ("admitted", "false".into()),
        ("recorded", "false".into()),
        (
            "message",
            "ecr-promote did not finish: it crashed or was killed before writing its result".into(),
        ),
    ]
}

/// The one writer of step outputs.
pub struct OutputWriter {
    path: Option<PathBuf>,
}

impl OutputWriter {
    pub fn new(path: Option<PathBuf>) -> OutputWriter {
        OutputWriter { path }
    }

    /// Append the outputs in one write. Without GITHUB_OUTPUT (local use), print them instead.
    pub fn write(&self, pairs: &[(&str, String)]) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let block: String = pairs.iter().map(|(k, v)| encode_output(k, v)).collect();
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(block.as_bytes())?;
        file.flush()
    }

    /// The honest defaults, written first: a crash or a kill after this still leaves `false`.
    pub fn write_initial(&self) -> io::Result<()> {
        self.write(&initial_pairs())
    }

    pub fn is_local(&self) -> bool {
        self.path.is_none()
    }
}

/// The outputs of a finished run, in the order they are written.
pub fn output_pairs(report: &Report) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("deploy_success", report.deploy_success.to_string()),
        ("promoted", report.promoted.to_string()),
        ("result", report.result.as_str().to_string()),
        ("message", one_line(&report.message_line())),
    ];
    if let Some(env) = &report.environment {
        pairs.push(("environment", env.clone()));
    }
    if let Some(next) = &report.next_environment {
        pairs.push(("next_environment", next.clone()));
    }
    if let Some(tag) = &report.image_tag {
        pairs.push(("image_tag", tag.clone()));
    }
    if let Some(digests) = report.digests() {
        if let Some(common) = report.common_digest() {
            pairs.push(("image_digest", common));
        }
        let json = serde_json::to_string(&digests).unwrap_or_else(|_| "{}".into());
        pairs.push(("image_digests", json));
    }
    if let Some(counts) = &report.vulnerabilities {
        let json = serde_json::to_string(counts).unwrap_or_else(|_| "{}".into());
        pairs.push(("vulnerabilities", json));
    }
    if let Some(run) = &report.run {
        pairs.push(("run_id", run.id.to_string()));
        if !run.url.is_empty() {
            pairs.push(("run_url", run.url.clone()));
        }
    }
    if let Some(conclusion) = &report.run_conclusion {
        pairs.push(("run_conclusion", conclusion.clone()));
    }
    pairs.push((
        "admitted",
        (report.result == ResultCode::Resolved).to_string(),
    ));
    pairs.push(("recorded", report.record.is_some().to_string()));
    if let Some(record) = &report.record {
        pairs.push(("deployment_id", record.id.to_string()));
        if !record.url.is_empty() {
            pairs.push(("deployment_url", record.url.clone()));
        }
    }
    if let Some((tag, digest)) = &report.previous {
        pairs.push(("previous_image_tag", tag.clone()));
        pairs.push(("previous_image_digest", digest.clone()));
    }
    if let Some(tag) = &report.rolled_back_to {
        pairs.push(("rolled_back_to", tag.clone()));
    }
    pairs
}

/// The runner's own reading of a GITHUB_OUTPUT file (actions/runner, SetOutputFileCommand),
/// re-implemented from RUNNER-FACTS.md to check what we write. Test support, not shipped:
/// built only for tests and with the `test-hooks` feature.
#[cfg(any(test, feature = "test-hooks"))]
pub mod runner {
    use std::collections::HashMap;

    /// `Ok(map)` of lower-cased name → last value, or `Err` where the runner would fail the step.
    pub fn parse(text: &str) -> Result<HashMap<String, String>, String> {
        let mut out = HashMap::new();
        let lines: Vec<&str> = text.split('\n').collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            if line.is_empty() {
                continue;
            }
            let heredoc = line.find("<<");
            let equals = line.find('=');
            match (heredoc, equals) {
                (Some(h), e) if e.is_none_or(|e| h < e) => {
                    let name = &line[..h];
                    let delimiter = &line[h + 2..];
                    if name.is_empty() || delimiter.is_empty() {
                        return Err(format!("invalid heredoc line {line:?}"));
                    }
                    let mut value: Vec<&str> = Vec::new();
                    loop {
                        let Some(next) = lines.get(i) else {
                            return Err(format!("heredoc {delimiter} never ends"));
                        };
                        i += 1;
                        if *next == delimiter {
                            break;
                        }
                        value.push(next);
                    }
                    out.insert(name.to_ascii_lowercase(), value.join("\n"));
                }
                (_, Some(e)) => {
                    let name = &line[..e];
                    if name.is_empty() {
                        return Err(format!("empty name in {line:?}"));
                    }
                    out.insert(name.to_ascii_lowercase(), line[e + 1..].to_string());
                }
                _ => return Err(format!("invalid line {line:?}")),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ResultCode;

    #[test]
    fn heredoc_values_parse_back_exactly() {
        let tricky = [
            "",
            "plain",
            "two\nlines",
            "x\ndeploy_success=true",
            "trailing\n",
            "ghadelimiter_",
            "a=b<<c",
            "%0A::error::x",
            "\r\n",
        ];
        for value in tricky {
            let text = format!(
                "{}{}",
                encode_output("message", value),
                encode_output("deploy_success", "false")
            );
            let parsed = runner::parse(&text).unwrap();
            assert_eq!(parsed["message"], value, "{value:?}");
            assert_eq!(
                parsed["deploy_success"], "false",
                "{value:?} forged another output"
            );
        }
    }

    #[test]
    fn delimiters_are_random_and_avoid_the_value() {
        let a = encode_output("x", "v");
        let b = encode_output("x", "v");
        assert_ne!(a, b);
        assert!(a.starts_with("x<<ghadelimiter_"));
    }

    #[test]
    fn last_write_wins_so_initial_false_is_overridden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let w = OutputWriter::new(Some(path.clone()));
        w.write_initial().unwrap();
        let mut report = Report::new(ResultCode::Promoted, "ok");
        report.deploy_success = true;
        report.promoted = true;
        w.write(&output_pairs(&report)).unwrap();
        let parsed = runner::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(parsed["deploy_success"], "true");
        assert_eq!(parsed["result"], "promoted");
        assert_eq!(parsed["message"], "ok");
    }
}
