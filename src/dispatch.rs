//! The dispatch side: the pre-flight check of the target workflow, GitHub's answers in words,
//! the correlation id, and following the dispatched run.

use crate::Failure;
use crate::gates;
use crate::github;
use crate::github::{Correlation, GhError, GitHub, RunPoll, WorkflowMeta};
use crate::inputs::{self, DispatchTarget, Inputs, WaitFor, WorkflowId};
use crate::outcome::{DispatchPlan, Report, ResultCode};
use crate::report::one_line;
use crate::workflow;

/// A value unique to one promotion, sent in the correlation input: `ecrp-` and 16 hex digits.
pub fn correlation_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    format!(
        "{}{}",
        github::CORRELATION_PREFIX,
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

pub(crate) async fn preflight<G: GitHub>(
    inputs: &Inputs,
    target: &DispatchTarget,
    next: &str,
    tag: &str,
    report: &Report,
    github: &G,
) -> Result<DispatchPlan, Failure> {
    let rejected = |message: String, fix: &str| {
        (
            ResultCode::DispatchRejected,
            message,
            fix.to_string(),
            Vec::new(),
        )
    };
    let name = target.workflow.to_string();
    let meta = match github.workflow(&target.workflow).await {
        // Not registered (a file not yet on the default branch, or a server that does not say):
        // the file itself decides below, and GitHub has the last word on the dispatch.
        Err(GhError::NotFound(_)) if matches!(target.workflow, WorkflowId::File(_)) => {
            println!(
                "⚠ workflow `{name}` is not registered in {}: its state cannot be checked (GitHub dispatches only workflows whose file is on the default branch)",
                target.repository
            );
            Ok(WorkflowMeta {
                id: 0,
                path: format!(".github/workflows/{name}"),
                state: "active".into(),
                name: name.clone(),
            })
        }
        other => other,
    };
    let meta = meta.map_err(|e| match e {
        GhError::NotFound(_) => rejected(
            format!("workflow `{name}` was not found in {}", target.repository),
            "check `workflow` and `repository`; a workflow can be dispatched only once its file is on the default branch",
        ),
        other => {
            let plan = DispatchPlan {
                repository: target.repository.clone(),
                workflow: name.clone(),
                workflow_path: None,
                git_ref: target.git_ref.clone(),
                inputs: Default::default(),
                correlation: None,
            };
            let (result, message, fix) = dispatch_error(&other, &plan);
            (result, format!("could not read workflow `{name}`: {message}"), fix, Vec::new())
        }
    })?;
    println!(
        "workflow {} ({}) is {}",
        one_line(&meta.path),
        meta.id,
        one_line(&meta.state)
    );
    if meta.state != "active" {
        return Err(rejected(
            format!(
                "workflow `{}` is `{}` and cannot be dispatched",
                meta.path, meta.state
            ),
            "enable the workflow (Actions tab → the workflow → Enable workflow, or `gh workflow enable`)",
        ));
    }
    let path = meta.path.clone();
    let text = github
        .file(&path, &target.git_ref)
        .await
        .map_err(|e| match e {
            GhError::NotFound(_) => rejected(
                format!(
                    "`{path}` does not exist at ref `{}` in {}",
                    target.git_ref, target.repository
                ),
                "dispatch on a branch or tag that has the workflow file (`ref`), or push it there",
            ),
            GhError::Refused { status, message } => rejected(
                format!("GitHub refused to read `{path}` at `{}` ({status}): {message}", target.git_ref),
                "give the token read access to the repository's contents (`permissions: contents: read`)",
            ),
            other => (
                ResultCode::DispatchFailed,
                format!("could not read `{path}` at `{}`: {other}", target.git_ref),
                "re-run the job once GitHub answers".into(),
                Vec::new(),
            ),
        })?;
    let schema = match workflow::parse(&text) {
        Ok(Some(schema)) => schema,
        Ok(None) => {
            return Err(rejected(
                format!(
                    "`{path}` at `{}` has no `workflow_dispatch` trigger",
                    target.git_ref
                ),
                "add `workflow_dispatch:` with the inputs environment and image_tag under `on:` in the target workflow",
            ));
        }
        Err(why) => {
            return Err(rejected(
                format!("`{path}` at `{}` {why}", target.git_ref),
                "fix the workflow file so GitHub can parse it",
            ));
        }
    };
    let mut to_send = workflow::dispatch_inputs(&schema, next, tag, &inputs.extra_inputs);
    // The verified digest travels with the tag, so the next stage can check the tag was not moved.
    if let Some(name) = inputs
        .digest_input
        .as_ref()
        .filter(|name| schema.declares(name) && !to_send.contains_key(*name))
    {
        let value = report.common_digest().or_else(|| {
            report
                .digests()
                .and_then(|d| serde_json::to_string(&d).ok())
        });
        if let Some(value) = value {
            to_send.insert(name.clone(), value);
        }
    }
    // A unique id in the declared correlation input lets a lost answer be matched to its run.
    let correlation = inputs
        .correlation_input
        .clone()
        .filter(|name| schema.declares(name) && !to_send.contains_key(name))
        .map(|name| {
            let id = correlation_id();
            to_send.insert(name.clone(), id.clone());
            Correlation {
                id,
                strict: schema.title_shows(&name),
            }
        });
    let problems = workflow::check(&schema, &to_send);
    if let Some(first) = problems.first() {
        for p in &problems {
            println!("✘ {}", one_line(&p.message));
        }
        return Err((
            ResultCode::DispatchRejected,
            format!(
                "GitHub would refuse the dispatch of `{path}`: {}",
                first.message
            ),
            first.fix.clone(),
            problems[1..]
                .iter()
                .map(|p| format!("{} ({})", p.message, p.fix))
                .collect(),
        ));
    }
    println!(
        "✔ `{}` at `{}` accepts: {}",
        one_line(&path),
        one_line(&target.git_ref),
        to_send
            .iter()
            .map(|(k, v)| format!("{k}={}", one_line(v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(DispatchPlan {
        repository: target.repository.clone(),
        workflow: target.workflow.to_string(),
        workflow_path: Some(path),
        git_ref: target.git_ref.clone(),
        inputs: to_send,
        correlation,
    })
}

pub(crate) fn dispatch_error(e: &GhError, plan: &DispatchPlan) -> (ResultCode, String, String) {
    let workflow = plan.workflow_path.as_deref().unwrap_or(&plan.workflow);
    match e {
        GhError::Refused { status: 401, message } => (
            ResultCode::DispatchRejected,
            format!("GitHub refused the token (401): {message}"),
            "pass a valid token in `github-token` (the default `${{ github.token }}`, or a PAT/App token for another repository)".into(),
        ),
        GhError::Refused { status: 403, message } => (
            ResultCode::DispatchRejected,
            format!("GitHub refused the dispatch of `{workflow}` (403): {message}"),
            "give the job `permissions: actions: write`; to dispatch in another repository use a PAT or GitHub App token with actions:write".into(),
        ),
        GhError::Refused { status, message } => (
            ResultCode::DispatchRejected,
            format!("GitHub refused the dispatch of `{workflow}` on `{}` ({status}): {message}", plan.git_ref),
            if message.contains("No ref found") {
                "set `ref` to a branch or tag that exists".into()
            } else if message.contains("Unexpected inputs") {
                "declare the listed inputs under `on.workflow_dispatch.inputs` in the target workflow, or stop sending them in `inputs`".into()
            } else {
                "fix what GitHub names above in the target workflow or the step's inputs".into()
            },
        ),
        GhError::NotFound(message) => (
            ResultCode::DispatchRejected,
            format!("GitHub answered 404 for `{workflow}` in {}: {message}", plan.repository),
            "check `repository` and `workflow`; the workflow file must be on the default branch, and the token must see the repository".into(),
        ),
        GhError::Unavailable(message) => (
            ResultCode::DispatchFailed,
            format!("could not reach GitHub to dispatch `{workflow}`: {message}"),
            "re-run the job once GitHub is reachable (https://www.githubstatus.com); check the Actions tab first, a run may already exist".into(),
        ),
    }
}
/// `wait-for`: follow the dispatched run until it starts or completes, within the next
/// environment's limit. Conditional requests (ETag) and a growing interval keep it polite.
pub(crate) async fn follow_run<G: GitHub>(
    github: &G,
    mode: WaitFor,
    limit: std::time::Duration,
    poll: std::time::Duration,
    next: &str,
    report: &mut Report,
) {
    use std::time::Duration;
    let start = tokio::time::Instant::now();
    let deadline = start + limit;
    let limit_text = inputs::format_duration(limit);
    let wanted = if mode == WaitFor::Started {
        "start"
    } else {
        "complete"
    };
    let Some(run) = report.run.clone() else {
        report.result = ResultCode::DownstreamTimeout;
        report.message = format!(
            "`{next}` was dispatched, but GitHub did not say which run it started, so it cannot be followed"
        );
        report.fix = Some("find the run in the Actions tab; on GitHub Enterprise Server before 3.21 declare a correlation input so the run can be found".into());
        return;
    };
    let mut etag: Option<String> = None;
    let mut status = String::from("unknown");
    let mut interval = poll;
    let mut last = std::collections::VecDeque::new();
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
                    println!("run {}: {}", run.id, one_line(&s));
                    gates::keep(&mut last, s.clone());
                }
                status = s;
                etag = e;
                let started = matches!(status.as_str(), "in_progress" | "waiting" | "completed");
                if mode == WaitFor::Started && started {
                    report.gates.push(gates::GateReport {
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
                    report.gates.push(gates::GateReport {
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
                        report.result = ResultCode::DownstreamFailed;
                        report.message = format!(
                            "`{next}` was dispatched, and its run {} concluded `{conclusion}`",
                            run.id
                        );
                        report.fix = Some(format!("look at the run's log: {}", run.url));
                    }
                    return;
                }
            }
            Err(e) => println!(
                "run {}: could not read its state ({})",
                run.id,
                one_line(&e.to_string())
            ),
        }
        let now = tokio::time::Instant::now();
        if now + interval >= deadline {
            let waiting = status == "waiting";
            report.gates.push(gates::GateReport {
                name: format!("run {}", run.id),
                passed: false,
                took: start.elapsed(),
                summary: format!("did not {wanted} within {limit_text}: {status}"),
                last: last.iter().cloned().collect(),
            });
            report.result = ResultCode::DownstreamTimeout;
            report.message = if waiting {
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
            report.fix = Some(if waiting {
                format!(
                    "approve the deployment to `{next}` in the run ({}), or raise `{next}` in `timeouts`",
                    run.url
                )
            } else {
                format!(
                    "follow the run ({}); raise `{next}` in `timeouts` if it is only slow",
                    run.url
                )
            });
            return;
        }
        tokio::time::sleep(interval).await;
        // Back off gently while nothing changes, up to six times the base interval.
        interval = (interval + poll / 2)
            .min(poll * 6)
            .max(Duration::from_millis(1));
    }
}
