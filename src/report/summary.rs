//! The job summary: what happened, in ten seconds, in GitHub-flavoured Markdown with every user
//! value escaped.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::model::Mode;
use crate::outcome::{ImageState, Report};
use crate::text::format_age;
use crate::text::{format_duration, one_line, short_digest};

/// GitHub drops a step summary above 1 MiB; stay well below.
const SUMMARY_LIMIT: usize = 512 * 1024;

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

/// A boolean output in the summary: a `false` is a failure's mark only when the run failed
/// (at the end of the chain `promoted` is false, and that is fine).
fn flag(value: bool, failed: bool) -> &'static str {
    match (value, failed) {
        (true, _) => "✅ `true`",
        (false, true) => "❌ `false`",
        (false, false) => "➖ `false`",
    }
}

/// What runs where: a table and a Mermaid flowchart of the chain, this run's environment
/// marked. Digests are short in both; the outputs keep them whole.
fn environments(s: &mut String, report: &Report) {
    if report.environments.is_empty() {
        return;
    }
    s.push_str("### Environments\n\n| Environment | Runs | Digest | Commit | Since | State |\n|---|---|---|---|---|---|\n");
    let mut nodes = Vec::new();
    for (i, env) in report.environments.iter().enumerate() {
        let mut digests: Vec<String> = env.digests.values().map(|d| short_digest(d)).collect();
        digests.dedup();
        let name = if env.this_run {
            format!("**{}** (this run)", code(&env.name))
        } else {
            code(&env.name)
        };
        let commit = match (&env.sha, &report.commit_base) {
            (Some(sha), Some(base)) if sha.len() >= 7 => {
                format!("[{}]({base}{sha})", code(&sha[..7]))
            }
            (Some(sha), None) if sha.len() >= 7 => code(&sha[..7]),
            _ => "—".into(),
        };
        let age = env
            .since
            .map(|t| format!("{} ago", format_age(report.generated_at - t)))
            .unwrap_or_else(|| "—".into());
        let mut state = Vec::new();
        if env.held {
            state.push("🔒 held".to_string());
        }
        if let Some(f) = &env.frozen {
            state.push(format!("❄️ {}", md(f)));
        }
        s.push_str(&format!(
            "| {name} | {} | {} | {commit} | {age} | {} |\n",
            env.tag.as_deref().map(code).unwrap_or_else(|| "—".into()),
            if digests.is_empty() {
                "—".into()
            } else {
                digests
                    .iter()
                    .map(|d| code(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if state.is_empty() {
                "—".into()
            } else {
                state.join(" · ")
            }
        ));
        // Names and tags follow grammars without quotes or brackets: safe in a Mermaid label.
        let mut label = vec![env.name.clone()];
        label.push(
            env.tag
                .clone()
                .unwrap_or_else(|| "(nothing recorded)".into()),
        );
        if let Some(d) = digests.first() {
            label.push(d.clone());
        }
        if let Some(t) = env.since {
            label.push(format!("{} ago", format_age(report.generated_at - t)));
        }
        if env.held {
            label.push("held".into());
        }
        if env.frozen.is_some() {
            label.push("frozen".into());
        }
        nodes.push((format!("e{i}"), label.join("<br/>"), env.this_run));
    }
    s.push_str("\n```mermaid\nflowchart LR\n");
    for (i, (id, label, _)) in nodes.iter().enumerate() {
        let arrow = if i + 1 < nodes.len() {
            format!(" --> {}", nodes[i + 1].0)
        } else {
            String::new()
        };
        s.push_str(&format!("  {id}[\"{label}\"]{arrow}\n"));
    }
    if let Some((id, _, _)) = nodes.iter().find(|(_, _, this)| *this) {
        s.push_str(&format!(
            "  classDef thisRun stroke-width:3px\n  class {id} thisRun\n"
        ));
    }
    s.push_str("```\n\n");
}

/// The job summary: what happened, in ten seconds. The message is stated once, at the top; a
/// failure adds its details and fix.
pub fn summary(report: &Report) -> String {
    let mut s = String::new();
    let failed = report.failed;
    // A refusal that stops a promotion without failing it (frozen, held, soaking) pauses.
    let paused = !failed && report.fix.is_some();
    let icon = if failed {
        "❌"
    } else if paused {
        "⏸️"
    } else {
        "✅"
    };
    s.push_str(&format!(
        "## {icon} ecr-promote: `{}` ({})\n\n",
        report.result.as_str(),
        report.mode.as_str()
    ));
    if failed {
        s.push_str("### What went wrong\n\n");
    }
    s.push_str(&format!("{}\n\n", md_text(&report.message)));
    if paused && let Some(fix) = &report.fix {
        s.push_str(&format!("**Next:** {}\n\n", md_text(fix)));
    }
    if failed {
        for line in report.listed_details() {
            s.push_str(&format!("- {}\n", md_text(line)));
        }
        if !report.listed_details().is_empty() {
            s.push('\n');
        }
        if let Some(fix) = &report.fix {
            s.push_str(&format!("**Fix:** {}\n\n", md_text(fix)));
        }
    }

    if !report.chain.is_empty() {
        let current = report.environment.as_deref();
        let next = report.next_environment.as_deref().filter(|n| !n.is_empty());
        let steps: Vec<String> = report
            .chain
            .iter()
            .map(|env| {
                if Some(env.as_str()) == current {
                    let what = match report.mode {
                        Mode::Promote => "deployed",
                        Mode::Resolve => "entering",
                        Mode::Rollback => "rolling back",
                    };
                    format!("**{}** ({what})", code(env))
                } else if Some(env.as_str()) == next {
                    // Promoted without a dispatch: its environment tag moved (promote-by tag).
                    let verb = match (report.promoted, report.dispatch.is_some()) {
                        (true, true) => "dispatched",
                        (true, false) => "promoted",
                        (false, _) => "next",
                    };
                    format!("**{}** ({verb})", code(env))
                } else {
                    code(env)
                }
            })
            .collect();
        s.push_str(&format!("**Chain:** {}\n\n", steps.join(" → ")));
    }

    match report.mode {
        Mode::Resolve => {
            s.push_str("| admitted | result |\n|---|---|\n");
            s.push_str(&format!(
                "| {} | `{}` |\n\n",
                flag(
                    report.result == crate::outcome::ResultCode::Resolved,
                    failed
                ),
                report.result.as_str()
            ));
        }
        _ => {
            s.push_str("| deploy_success | promoted | recorded | result |\n|---|---|---|---|\n");
            s.push_str(&format!(
                "| {} | {} | {} | `{}` |\n\n",
                flag(report.deploy_success, failed),
                flag(report.promoted, failed),
                flag(report.record.is_some(), false),
                report.result.as_str()
            ));
        }
    }
    if !report.checks.is_empty() {
        s.push_str("### Checked\n\n");
        for check in &report.checks {
            s.push_str(&format!("- ✅ {}\n", md_text(check)));
        }
        s.push('\n');
    }
    if let Some(to) = &report.rolled_back_to {
        let env = report.environment.as_deref().unwrap_or_default();
        let from = report
            .previous
            .as_ref()
            .map(|(tag, _)| format!(" from {}", code(tag)))
            .unwrap_or_default();
        s.push_str(&format!(
            "### Rollback\n\n{} goes back{from} to {}. It is **held**: automatic promotions into it stop, and a run that an automation starts may only bring {}. To lift the hold, fix what the rollback was for, then run the workflow by hand for {} with the image you want: a person's run records `\"hold\": false`.\n\n",
            code(env),
            code(to),
            code(to),
            code(env)
        ));
    }
    environments(&mut s, report);

    if !report.images.is_empty() {
        s.push_str("### Images\n\n| Repository | Tag | Digest | Pushed | Checks |\n|---|---|---|---|---|\n");
        let tag = report.image_tag.as_deref().unwrap_or_default();
        for row in &report.images {
            let mut checks: Vec<String> = row.checks.iter().map(|c| md(c)).collect();
            let (digest, pushed) = match &row.state {
                ImageState::Found(info) => (
                    code(&short_digest(&info.digest)),
                    info.pushed_at
                        .as_deref()
                        .map(md)
                        .unwrap_or_else(|| "—".into()),
                ),
                ImageState::TagMissing { suggestions } => {
                    if !suggestions.is_empty() {
                        checks.push(format!(
                            "nearest: {}",
                            suggestions
                                .iter()
                                .map(|t| code(t))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    ("❌ tag not found".into(), "—".into())
                }
                ImageState::RepositoryMissing => ("❌ repository not found".into(), "—".into()),
                ImageState::Unknown { error, .. } => {
                    checks.push(md(error));
                    ("⚠️ not checked".into(), "—".into())
                }
            };
            let checks = if checks.is_empty() {
                "—".to_string()
            } else {
                checks.join(" · ")
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
                format_duration(g.took)
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

    s.push_str(&delivery(report));

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

/// Delivery figures at the end of the chain: the metrics line, and the lead-time chart as a
/// Mermaid block (GitHub renders Mermaid in job summaries).
fn delivery(report: &Report) -> String {
    if report.metrics.is_none() && report.chart.is_none() {
        return String::new();
    }
    let mut s = String::from("### Delivery\n\n");
    if let Some(line) = &report.metrics {
        s.push_str(&format!("{}\n\n", md_text(line)));
    }
    if let Some(chart) = &report.chart {
        s.push_str(&format!("```mermaid\n{}\n```\n\n", chart.replace('`', "")));
    }
    s
}

pub fn append(path: &PathBuf, markdown: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(markdown.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

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
