//! After the dispatch: follow the next environment's run until it starts or completes
//! (`wait-for`), within that environment's limit.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::WaitFor;
use crate::gates::keep;
use crate::github::{GitHub, RunPoll};
use crate::outcome::{Failure, GateReport, Report, ResultCode};
use crate::report::log;
use crate::text::{format_duration, one_line};

/// `wait-for`: follow the dispatched run until it starts or completes, within the next
/// environment's limit. Conditional requests (ETag) and a growing interval keep it polite.
pub async fn follow_run<G: GitHub>(
    github: &G,
    mode: WaitFor,
    limit: Duration,
    poll: Duration,
    next: &str,
    report: &mut Report,
) {
    let start = tokio::time::Instant::now();
    let deadline = start + limit;
    let limit_text = format_duration(limit);
    let wanted = if mode == WaitFor::Started {
        "start"
    } else {
        "complete"
    };
    let Some(run) = report.run.clone() else {
        report.fail(Failure::new(
            ResultCode::DownstreamTimeout,
            format!(
                "`{next}` was dispatched, but GitHub did not say which run it started, so it cannot be followed"
            ),
            "find the run in the Actions tab; on GitHub Enterprise Server before 3.21 declare a correlation input so the run can be found",
        ));
        return;
    };
    let mut etag: Option<String> = None;
    let mut status = String::from("unknown");
    let mut interval = poll;
    let mut last = VecDeque::new();
    loop {
        match github.run_status(run.id, etag.as_deref()).await {
            Ok(RunPoll::NotModified) => {}
            Ok(RunPoll::State {
                status: s,
                conclusion,
                url: _,
                etag: e,
            }) => {
                if s != status {
                    log::line(&format!("run {}: {}", run.id, one_line(&s)));
                    keep(&mut last, s.clone());
                }
                status = s;
                etag = e;
                let started = matches!(status.as_str(), "in_progress" | "waiting" | "completed");
                if mode == WaitFor::Started && started {
                    report.gates.push(GateReport {
                        name: format!("run {}", run.id),
                        passed: true,
                        took: start.elapsed(),
                        summary: if status == "waiting" {
                            format!("started; waiting for approval of `{next}`")
                        } else {
                            format!("started ({status})")
                        },
                        last: last.iter().cloned().collect(),
                    });
                    if status == "completed" {
                        report.run_conclusion = conclusion;
                    }
                    report
                        .message
                        .push_str(&format!("; run {} started", run.id));
                    return;
                }
                if status == "completed" {
                    let conclusion = conclusion.unwrap_or_else(|| "unknown".into());
                    report.run_conclusion = Some(conclusion.clone());
                    let passed = conclusion == "success";
                    report.gates.push(GateReport {
                        name: format!("run {}", run.id),
                        passed,
                        took: start.elapsed(),
                        summary: format!("completed: {conclusion}"),
                        last: last.iter().cloned().collect(),
                    });
                    if passed {
                        report
                            .message
                            .push_str(&format!("; run {} succeeded", run.id));
                    } else {
                        report.fail(Failure::new(
                            ResultCode::DownstreamFailed,
                            format!(
                                "`{next}` was dispatched, and its run {} concluded `{conclusion}`",
                                run.id
                            ),
                            format!("look at the run's log: {}", run.url),
                        ));
                    }
                    return;
                }
            }
            Err(e) => log::line(&format!(
                "run {}: could not read its state ({})",
                run.id,
                one_line(&e.to_string())
            )),
        }
        let now = tokio::time::Instant::now();
        if now + interval >= deadline {
            let waiting = status == "waiting";
            report.gates.push(GateReport {
                name: format!("run {}", run.id),
                passed: false,
                took: start.elapsed(),
                summary: format!("did not {wanted} within {limit_text}: {status}"),
                last: last.iter().cloned().collect(),
            });
            let message = if waiting {
                format!(
                    "`{next}` was dispatched; its run {} is waiting for approval and did not {wanted} within {limit_text} (`{next}`'s limit)",
                    run.id
                )
            } else {
                format!(
                    "`{next}` was dispatched; its run {} did not {wanted} within {limit_text} (`{next}`'s limit): it is `{status}`",
                    run.id
                )
            };
            let fix = if waiting {
                format!(
                    "approve the deployment to `{next}` in the run ({}), or raise `{next}` in `timeouts`",
                    run.url
                )
            } else {
                format!(
                    "follow the run ({}); raise `{next}` in `timeouts` if it is only slow",
                    run.url
                )
            };
            report.fail(Failure::new(ResultCode::DownstreamTimeout, message, fix));
            return;
        }
        tokio::time::sleep(interval).await;
        // Back off gently while nothing changes, up to six times the base interval.
        interval = (interval + poll / 2)
            .min(poll * 6)
            .max(Duration::from_millis(1));
    }
}
