//! Everything the step leaves behind: outputs (GITHUB_OUTPUT), the job summary, annotations and
//! log lines, each escaped so no value can forge an output, inject a command or break the page.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::outcome::{ImageState, Report};

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
];

/// GitHub drops a step summary above 1 MiB; stay well below.
const SUMMARY_LIMIT: usize = 512 * 1024;

/// `%`, CR and LF escaped as the runner decodes workflow-command data.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command properties additionally escape `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A value made safe to print on a log line: one line, no control characters, and no `##[`, which
/// the runner's legacy command parser finds anywhere in a line (`##[add-mask]true` would mask
/// every `true` and drop the job outputs that hold it). Every line we print starts with our own
/// text, so with this no value can start a `::command::` line either.
pub fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.replace("##[", "#\u{200b}#[")
}

/// An error and its sources as one line, each cause once.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        source = e.source();
    }
    one_line(&parts.join(": "))
}

/// `::error title=…::message` (or `warning`, `notice`), escaped.
pub fn annotation(level: &str, title: &str, message: &str) -> String {
    format!(
        "::{level} title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

pub fn group(title: &str) {
    println!("::group::{}", escape_data(&one_line(title)));
}

pub fn endgroup() {
    println!("::endgroup::");
}

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
        self.write(&[
            ("deploy_success", "false".into()),
            ("promoted", "false".into()),
            ("result", "error".into()),
            (
                "message",
                "ecr-promote did not finish: it crashed or was killed before writing its result"
                    .into(),
            ),
        ])
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
        ("message", one_line(&report.message)),
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
    pairs
}

/// Escape a user value for GitHub-flavoured Markdown: no HTML, no links, no table breaks.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            // Emphasis, code, links, images, headings, strikethrough: each needs one of these.
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Our own prose with `code` spans, holding user values: spans stay code, the rest is escaped.
pub fn md_text(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { code(part) } else { md(part) })
        .collect()
}

/// A value shown in code font. Only for values whose grammar we validated (no backtick, no `|`).
fn code(s: &str) -> String {
    if s.chars().any(|c| c == '`' || c == '|' || c.is_control()) {
        md(s)
    } else {
        format!("`{s}`")
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "✅ `true`" } else { "❌ `false`" }
}

/// The job summary: what happened, in ten seconds.
pub fn summary(report: &Report) -> String {
    let mut s = String::new();
    let icon = if report.result.is_failure() {
        "❌"
    } else {
        "✅"
    };
    s.push_str(&format!(
        "## {icon} ecr-promote: `{}`\n\n{}\n\n",
        report.result.as_str(),
        md_text(&report.message)
    ));

    if !report.chain.is_empty() {
        let current = report.environment.as_deref();
        let next = report.next_environment.as_deref().filter(|n| !n.is_empty());
        let steps: Vec<String> = report
            .chain
            .iter()
            .map(|env| {
                if Some(env.as_str()) == current {
                    format!("**{}** (deployed)", code(env))
                } else if Some(env.as_str()) == next {
                    let verb = if report.promoted {
                        "dispatched"
                    } else {
                        "next"
                    };
                    format!("**{}** ({verb})", code(env))
                } else {
                    code(env)
                }
            })
            .collect();
        s.push_str(&format!("**Chain:** {}\n\n", steps.join(" → ")));
    }

    s.push_str("| deploy_success | promoted | result |\n|---|---|---|\n");
    s.push_str(&format!(
        "| {} | {} | `{}` |\n\n",
        yes_no(report.deploy_success),
        yes_no(report.promoted),
        report.result.as_str()
    ));

    if !report.images.is_empty() {
        s.push_str("### Images\n\n| Repository | Tag | Digest | Pushed | Checks |\n|---|---|---|---|---|\n");
        let tag = report.image_tag.as_deref().unwrap_or_default();
        for row in &report.images {
            let (digest, pushed) = match &row.state {
                ImageState::Found(info) => (
                    code(&info.digest),
                    info.pushed_at
                        .as_deref()
                        .map(md)
                        .unwrap_or_else(|| "—".into()),
                ),
                ImageState::TagMissing { suggestions } if suggestions.is_empty() => {
                    ("❌ tag not found".into(), "—".into())
                }
                ImageState::TagMissing { suggestions } => (
                    format!(
                        "❌ tag not found; nearest: {}",
                        suggestions
                            .iter()
                            .map(|t| code(t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "—".into(),
                ),
                ImageState::RepositoryMissing => ("❌ repository not found".into(), "—".into()),
                ImageState::Unknown { error, .. } => (format!("⚠️ {}", md(error)), "—".into()),
            };
            let checks = if row.checks.is_empty() {
                "—".to_string()
            } else {
                row.checks
                    .iter()
                    .map(|c| md(c))
                    .collect::<Vec<_>>()
                    .join(" · ")
            };
            s.push_str(&format!(
                "| {} | {} | {digest} | {pushed} | {checks} |\n",
                md(&row.display),
                code(tag)
            ));
        }
        s.push('\n');
    }

    if !report.gates.is_empty() {
        s.push_str("### Gates\n\n| Gate | Outcome | Took | Last answers |\n|---|---|---|---|\n");
        for g in &report.gates {
            let took = if g.took.as_secs() == 0 {
                "<1s".to_string()
            } else {
                crate::inputs::format_duration(g.took)
            };
            let last = if g.last.is_empty() {
                "—".to_string()
            } else {
                g.last.iter().map(|l| md(l)).collect::<Vec<_>>().join(" · ")
            };
            s.push_str(&format!(
                "| {} | {} {} | {took} | {last} |\n",
                md(&g.name),
                if g.passed { "✅" } else { "❌" },
                md(&g.summary),
            ));
        }
        s.push('\n');
    }

    if let Some(counts) = &report.vulnerabilities {
        s.push_str(
            "### Vulnerabilities (all repositories)\n\n| Severity | Findings |\n|---|---|\n",
        );
        for (severity, n) in counts {
            s.push_str(&format!("| {} | {n} |\n", md(severity)));
        }
        s.push('\n');
    }

    if let Some(plan) = &report.dispatch {
        s.push_str("### Dispatch\n\n");
        let workflow = plan.workflow_path.as_deref().unwrap_or(&plan.workflow);
        match &report.run {
            Some(run)
                if !run.url.is_empty()
                    && (run.url.starts_with("https://") || run.url.starts_with("http://")) =>
            {
                s.push_str(&format!(
                    "Run: [{}]({})\n\n",
                    run.id,
                    run.url.replace(['(', ')', ' '], "")
                ))
            }
            Some(run) => s.push_str(&format!("Run: {}\n\n", run.id)),
            None if report.promoted => {
                s.push_str("Run: dispatched (GitHub did not say which run)\n\n")
            }
            None => {}
        }
        s.push_str(&format!(
            "| Repository | Workflow | Ref | Inputs |\n|---|---|---|---|\n| {} | {} | {} | {} |\n\n",
            md(&plan.repository),
            md(workflow),
            md(&plan.git_ref),
            plan.inputs
                .iter()
                .map(|(k, v)| format!("{}={}", md(k), md(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    if report.result.is_failure() {
        s.push_str("### What went wrong\n\n");
        for line in std::iter::once(&report.message).chain(&report.details) {
            s.push_str(&format!("- {}\n", md_text(line)));
        }
        if let Some(fix) = &report.fix {
            s.push_str(&format!("\n**Fix:** {}\n", md_text(fix)));
        }
        s.push('\n');
    }
    if s.len() > SUMMARY_LIMIT {
        let mut cut = SUMMARY_LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("\n\n(summary truncated)\n");
    }
    s
}

pub fn append_summary(path: &PathBuf, markdown: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(markdown.as_bytes())
}

pub mod runner {
    //! The runner's own reading of a GITHUB_OUTPUT file (actions/runner, SetOutputFileCommand),
    //! re-implemented from RUNNER-FACTS.md to check what we write.
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

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(escape_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(
            annotation("error", "ecr-promote: x", "line1\nline2"),
            "::error title=ecr-promote%3A x::line1%0Aline2"
        );
        assert_eq!(
            one_line("a\n::set-output name=x::y"),
            "a ::set-output name=x::y"
        );
    }

    #[test]
    fn markdown_escaping_neutralises_html_links_and_tables() {
        assert_eq!(md("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;");
        assert_eq!(md("a|b"), "a&#124;b");
        assert_eq!(md("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(md("## h"), "\\#\\# h");
        assert_eq!(md_text("tag `v1` of a|b"), "tag `v1` of a&#124;b");
        assert_eq!(md("l1\nl2"), "l1 l2");
        assert_eq!(code("v1.2"), "`v1.2`");
        assert_eq!(code("a`b"), "a\\`b");
    }
}
