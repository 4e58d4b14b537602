//! ecr-promote: verify an image tag in Amazon ECR and dispatch the next environment's workflow.
//!
//! `run` is the whole decision: parse → verify → decide → pre-flight → dispatch. Input/output
//! happens behind the `Registry` and `GitHub` seams; `main` builds the real ones and writes the
//! outputs of the `Report` this returns.

pub mod chain;
pub mod ecr;
pub mod gates;
pub mod github;
pub mod inputs;
pub mod outcome;
pub mod report;
pub mod retry;
pub mod suggest;
pub mod workflow;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::join_all;

use crate::ecr::{Lookup, Registry, Resolved, Scan, has_platform};
use crate::gates::Web;
use crate::github::{Correlation, GhError, GitHub, RunInfo, RunPoll, WorkflowMeta};
use crate::inputs::{
    DispatchTarget, InputError, Inputs, Partial, Severity, TagMatch, WaitFor, WorkflowId,
};
use crate::outcome::{DispatchPlan, ImageRow, ImageState, Report, ResultCode};
use crate::report::{endgroup, group, one_line};

/// What is known while a run is under way, for the cancellation path in `main`.
#[derive(Default)]
pub struct Progress {
    /// GitHub accepted the dispatch.
    pub dispatched: AtomicBool,
    pub run: Mutex<Option<RunInfo>>,
    pub phase: Mutex<Phase>,
    /// The report as it stood once the image was verified (`deploy_success` true).
    pub verified: Mutex<Option<Report>>,
}

/// Where a run is, for a report when it is interrupted (time budget, signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Registry,
    /// The health and Argo CD gates, which have their own limits.
    Gates,
    Preflight,
    Dispatch,
}

impl Progress {
    /// Keep the report as it stands once the image and the gates passed, without moving phase.
    fn verified(&self, report: &Report) {
        if let Ok(mut v) = self.verified.lock() {
            *v = Some(report.clone());
        }
    }

    fn enter(&self, phase: Phase, report: Option<&Report>) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase;
        }
        if let (Some(report), Ok(mut v)) = (report, self.verified.lock()) {
            *v = Some(report.clone());
        }
    }
}

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

/// The report for inputs that could not be read: nothing was called.
pub fn invalid_input(errors: &[InputError], partial: &Partial) -> Report {
    let mut report = Report::new(
        ResultCode::InvalidInput,
        match errors {
            [one] => format!("invalid input: {one}"),
            _ => format!("{} invalid inputs: {}", errors.len(), errors[0]),
        },
    );
    report.details = errors.iter().skip(1).map(ToString::to_string).collect();
    report.fix = Some(
        "correct the input named above in the step's `with:`; nothing was verified or dispatched"
            .into(),
    );
    report.environment = partial.environment.clone();
    report.image_tag = partial.image_tag.clone();
    report.fail_on_error = partial.fail_on_error;
    report
}

/// A report that knows the inputs: environment, chain, next environment, tag, fail-on-error.
pub fn base_report(inputs: &Inputs) -> Report {
    let mut report = Report::new(ResultCode::Error, "");
    report.environment = Some(inputs.environment.clone());
    report.chain = inputs.chain.names().to_vec();
    report.next_environment = Some(inputs.next_environment().unwrap_or_default().to_string());
    report.image_tag = Some(inputs.image_tag.clone());
    report.fail_on_error = inputs.fail_on_error;
    report
}

fn fail(mut report: Report, result: ResultCode, message: String, fix: &str) -> Report {
    report.result = result;
    report.message = message;
    report.fix = Some(fix.to_string());
    report
}

/// Run the promotion. Never panics on bad data; every path returns a `Report`.
/// `poll` paces the polling of scans, gates and runs (5 s in production).
pub async fn run<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    registry: &R,
    github: Option<&G>,
    web: &W,
    poll: std::time::Duration,
    progress: &Progress,
) -> Report {
    let mut report = base_report(inputs);
    let env = &inputs.environment;

    if !inputs.deploy_status.is_success() {
        return fail(
            report,
            ResultCode::DeployFailed,
            format!(
                "the deploy of `{env}` reported `{}`: the chain stops here, nothing was verified or dispatched",
                inputs.deploy_status.as_str()
            ),
            "fix the deploy of this environment and re-run the workflow; the next environment is dispatched only after a successful deploy",
        );
    }

    progress.enter(Phase::Registry, None);
    group("Verify the image in ECR");
    let verified = match inputs.tag_match {
        TagMatch::Exact => {
            let rows = verify(inputs, registry).await;
            let failed = verification_failure(&inputs.image_tag, &rows);
            (rows, inputs.image_tag.clone(), failed)
        }
        TagMatch::Prefix => resolve_prefix(inputs, registry).await,
    };
    let (rows, tag, failed) = verified;
    report.images = rows;
    report.image_tag = Some(tag.clone());
    if let Some((result, message, fix, details)) = failed {
        endgroup();
        report.details = details;
        return fail(report, result, message, &fix);
    }
    let gate = gates(inputs, registry, &tag, &mut report).await;
    endgroup();
    if let Some((result, message, fix, details)) = gate {
        report.details = details;
        return fail(report, result, message, &fix);
    }
    progress.enter(Phase::Gates, None);
    if let Some(failed) = deploy_gates(inputs, web, poll, &tag, &mut report).await {
        let (result, message, fix, details) = failed;
        report.details = details;
        return fail(report, result, message, &fix);
    }
    report.deploy_success = true;
    progress.verified(&report);

    let Some(next) = inputs.next_environment() else {
        report.result = ResultCode::EndOfChain;
        report.message = format!(
            "`{}` verified; `{env}` is the end of the chain {}: nothing to dispatch",
            tag,
            inputs.chain.names().join(" → ")
        );
        return report;
    };
    if !inputs.auto_promote {
        report.result = ResultCode::AutoPromoteDisabled;
        report.message = format!(
            "`{}` verified; auto-promote is off, so `{next}` was not dispatched",
            tag
        );
        return report;
    }
    let (Some(target), Some(github)) = (&inputs.target, github) else {
        // parse() resolves the target whenever a dispatch is possible; reaching here is a bug.
        return fail(
            report,
            ResultCode::Error,
            "internal error: no dispatch target".into(),
            "report this at the ecr-promote repository",
        );
    };

    progress.enter(Phase::Preflight, Some(&report));
    group("Pre-flight: check the target workflow");
    let plan = preflight(inputs, target, next, &tag, &report, github).await;
    endgroup();
    let plan = match plan {
        Ok(plan) => plan,
        Err((result, message, fix, details)) => {
            report.details = details;
            return fail(report, result, message, &fix);
        }
    };
    report.dispatch = Some(plan.clone());

    if inputs.dry_run {
        report.result = ResultCode::DryRun;
        report.message = format!(
            "dry run: `{}` verified and `{}` would accept the dispatch of `{next}` on `{}`; nothing was dispatched",
            tag, plan.workflow, plan.git_ref
        );
        return report;
    }

    progress.enter(Phase::Dispatch, Some(&report));
    group("Dispatch the next environment");
    let correlation = plan.correlation.as_ref();
    let outcome = github
        .dispatch(&target.workflow, &target.git_ref, &plan.inputs, correlation)
        .await;
    match outcome {
        Ok(accepted) => {
            // Known accepted from here on, whatever interrupts the rest.
            progress.dispatched.store(true, Ordering::SeqCst);
            let run = match accepted.run {
                Some(run) => Some(run),
                None => {
                    github
                        .find_run(
                            &target.workflow,
                            &target.git_ref,
                            accepted.since,
                            correlation,
                        )
                        .await
                }
            };
            endgroup();
            if let Ok(mut slot) = progress.run.lock() {
                slot.clone_from(&run);
            }
            report.promoted = true;
            report.result = ResultCode::Promoted;
            report.message = format!(
                "`{}` verified; dispatched `{}` for `{next}` on `{}`{}",
                tag,
                plan.workflow,
                plan.git_ref,
                run.as_ref()
                    .map(|r| format!(" (run {})", r.id))
                    .unwrap_or_default()
            );
            report.run = run;
            if inputs.wait_for != WaitFor::None {
                let limit = inputs.timeouts.of(next);
                group("Wait for the dispatched run");
                follow_run(github, inputs.wait_for, limit, poll, next, &mut report).await;
                endgroup();
            }
            report
        }
        Err(e) => {
            endgroup();
            let (result, message, fix) = dispatch_error(&e, &plan);
            fail(report, result, message, &fix)
        }
    }
}

async fn verify<R: Registry>(inputs: &Inputs, registry: &R) -> Vec<ImageRow> {
    let lookups = inputs
        .repositories
        .iter()
        .map(|repo| registry.lookup(repo, &inputs.image_tag));
    let answers = join_all(lookups).await;
    inputs
        .repositories
        .iter()
        .zip(answers)
        .map(|(repo, answer)| {
            let display = repo.display();
            let state = match answer {
                Ok(Lookup::Found(info)) => {
                    println!(
                        "✔ {}:{} → {} (pushed {})",
                        one_line(&display),
                        inputs.image_tag,
                        one_line(&info.digest),
                        one_line(info.pushed_at.as_deref().unwrap_or("at an unknown time"))
                    );
                    ImageState::Found(info)
                }
                Ok(Lookup::TagMissing { suggestions }) => {
                    println!("✘ {}: no tag {}", one_line(&display), inputs.image_tag);
                    ImageState::TagMissing { suggestions }
                }
                Ok(Lookup::RepositoryMissing) => {
                    println!("✘ {}: repository not found", one_line(&display));
                    ImageState::RepositoryMissing
                }
                Err(e) => {
                    println!("✘ {}: {}", one_line(&display), one_line(&e.to_string()));
                    ImageState::Unknown {
                        error: e.to_string(),
                        fix: e.fix().to_string(),
                    }
                }
            };
            ImageRow {
                name: repo.name.clone(),
                display,
                state,
                checks: Vec::new(),
            }
        })
        .collect()
}

type Failure = (ResultCode, String, String, Vec<String>);

/// The time budget of the whole step: `timeout` for the calls to AWS and GitHub, plus the limit
/// of each configured gate and wait (and `scan-wait`), which have their own.
pub fn budget(inputs: &Inputs) -> std::time::Duration {
    let current = inputs.timeouts.of(&inputs.environment);
    let mut total = inputs.timeout;
    if inputs.fail_on_severity.is_some() {
        total += inputs.scan_wait;
    }
    if inputs.health.is_some() {
        total += current;
    }
    if inputs.argocd.is_some() {
        total += current;
    }
    if let (WaitFor::Started | WaitFor::Completed, Some(next)) =
        (inputs.wait_for, inputs.next_environment())
    {
        total += inputs.timeouts.of(next);
    }
    total
}

/// Keep a gate's report for the summary; its summary line when it did not pass.
fn record(report: &mut Report, gate: gates::GateReport) -> Option<String> {
    let failed = (!gate.passed).then(|| gate.summary.clone());
    report.gates.push(gate);
    failed
}

/// The health and Argo CD gates, each within the current environment's limit.
async fn deploy_gates<W: Web>(
    inputs: &Inputs,
    web: &W,
    poll: std::time::Duration,
    tag: &str,
    report: &mut Report,
) -> Option<Failure> {
    let env = &inputs.environment;
    let limit = inputs.timeouts.of(env);
    let limit_text = inputs::format_duration(limit);
    if let Some(health) = &inputs.health {
        group("Health gate");
        let gate = gates::health(web, health, limit).await;
        endgroup();
        if let Some(summary) = record(report, gate) {
            return Some((
                ResultCode::Unhealthy,
                format!("`{env}` is not healthy: {summary}"),
                format!(
                    "check the deploy of `{env}`; if it is only slow, raise its limit in `timeouts` (now {env}={limit_text})"
                ),
                Vec::new(),
            ));
        }
    }
    if let Some(argo) = &inputs.argocd {
        let expected: Vec<gates::Expected> = report
            .images
            .iter()
            .filter_map(|row| match &row.state {
                ImageState::Found(info) => Some(gates::Expected {
                    repository: row.name.clone(),
                    tag: tag.to_string(),
                    digest: info.digest.clone(),
                }),
                _ => None,
            })
            .collect();
        group("Argo CD gate");
        let gate = gates::argocd(web, argo, &expected, limit, poll).await;
        endgroup();
        if let Some(summary) = record(report, gate) {
            return Some((
                ResultCode::Unhealthy,
                format!("Argo CD application {summary}"),
                format!(
                    "look at the application in Argo CD; a rollout that is only slow needs a larger limit in `timeouts` (now {env}={limit_text})"
                ),
                Vec::new(),
            ));
        }
    }
    None
}

/// `wait-for`: follow the dispatched run until it starts or completes, within the next
/// environment's limit. Conditional requests (ETag) and a growing interval keep it polite.
async fn follow_run<G: GitHub>(
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
                    if last.len() == 5 {
                        last.pop_front();
                    }
                    last.push_back(s.clone());
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

/// `tag-match: prefix`: the newest tag starting with `image-tag`, the same in every repository.
async fn resolve_prefix<R: Registry>(
    inputs: &Inputs,
    registry: &R,
) -> (Vec<ImageRow>, String, Option<Failure>) {
    let prefix = &inputs.image_tag;
    let answers = join_all(
        inputs
            .repositories
            .iter()
            .map(|repo| registry.resolve_prefix(repo, prefix)),
    )
    .await;
    let mut rows = Vec::new();
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut missing = Vec::new();
    let mut error = None;
    for (repo, answer) in inputs.repositories.iter().zip(answers) {
        let display = repo.display();
        let state = match answer {
            Ok(Resolved::Found { tag, info, pages }) => {
                println!(
                    "✔ {}: `{prefix}…` → {} → {} ({pages} page(s) read)",
                    one_line(&display),
                    one_line(&tag),
                    one_line(&info.digest)
                );
                tags.push((display.clone(), tag));
                ImageState::Found(info)
            }
            Ok(Resolved::NoMatch { pages }) => {
                println!(
                    "✘ {}: no ACTIVE tag starts with {prefix} ({pages} page(s) read)",
                    one_line(&display)
                );
                missing.push(format!("{display}: no ACTIVE tag starts with `{prefix}`"));
                ImageState::TagMissing {
                    suggestions: Vec::new(),
                }
            }
            Ok(Resolved::RepositoryMissing) => {
                missing.push(format!("{display}: the repository does not exist (check the name, aws-region and registry-id)"));
                ImageState::RepositoryMissing
            }
            Err(e) => {
                println!("✘ {}: {}", one_line(&display), one_line(&e.to_string()));
                error.get_or_insert((display.clone(), e.to_string(), e.fix().to_string()));
                ImageState::Unknown {
                    error: e.to_string(),
                    fix: e.fix().to_string(),
                }
            }
        };
        rows.push(ImageRow {
            name: repo.name.clone(),
            display,
            state,
            checks: Vec::new(),
        });
    }
    if let Some((display, error, fix)) = error {
        let message = format!("could not check `{display}` in ECR: {error}");
        return (
            rows,
            prefix.clone(),
            Some((ResultCode::Error, message, fix, Vec::new())),
        );
    }
    if !missing.is_empty() {
        let message = format!(
            "prefix `{prefix}` matches no image in {} of {} repositories: {}",
            missing.len(),
            rows.len(),
            missing[0]
        );
        let fix =
            "push an image with a tag starting with the prefix, or fix `image-tag`".to_string();
        return (
            rows,
            prefix.clone(),
            Some((
                ResultCode::ImageMissing,
                message,
                fix,
                missing[1..].to_vec(),
            )),
        );
    }
    let first = tags[0].1.clone();
    if let Some((display, other)) = tags.iter().find(|(_, t)| *t != first) {
        let message = format!(
            "prefix `{prefix}` resolves to `{first}` in {} but to `{other}` in {display}: the repositories disagree on the newest image",
            tags[0].0
        );
        let fix = "push the same tag to every repository, or give the exact tag in `image-tag` with `tag-match: exact`".to_string();
        return (
            rows,
            prefix.clone(),
            Some((ResultCode::ImageMissing, message, fix, Vec::new())),
        );
    }
    (rows, first, None)
}

/// The gates after the tag was found: status, expected digest, platforms, vulnerabilities.
async fn gates<R: Registry>(
    inputs: &Inputs,
    registry: &R,
    tag: &str,
    report: &mut Report,
) -> Option<Failure> {
    let found: Vec<(usize, String)> = report
        .images
        .iter()
        .enumerate()
        .filter_map(|(i, row)| match &row.state {
            ImageState::Found(info) => Some((i, info.digest.clone())),
            _ => None,
        })
        .collect();

    // Archived images cannot be pulled.
    let mut unavailable = Vec::new();
    for row in &mut report.images {
        if let ImageState::Found(info) = &row.state {
            let status = info.status.as_deref().unwrap_or("ACTIVE");
            row.checks.push(status.to_string());
            if status != "ACTIVE" {
                unavailable.push(format!("{}: `{tag}` is {status}", row.display));
            }
        }
    }
    if !unavailable.is_empty() {
        return Some((
            ResultCode::ImageUnavailable,
            format!("image `{tag}` cannot be pulled: {}", unavailable.join("; ")),
            "restore the image (an archived image: ECR console → the image → Restore, or `aws ecr update-image-storage-class`), or promote another tag".into(),
            Vec::new(),
        ));
    }

    // The tag must still point where the previous stage saw it.
    if let Some(expected) = &inputs.expected_digest {
        let changed: Vec<String> = report
            .images
            .iter()
            .filter_map(|row| match &row.state {
                ImageState::Found(info) => expected
                    .for_repository(&row.name)
                    .filter(|e| *e != info.digest)
                    .map(|e| format!("{}: expected {e}, found {}", row.display, info.digest)),
                _ => None,
            })
            .collect();
        if let Some(first) = changed.first() {
            return Some((
                ResultCode::ImageChanged,
                format!("tag `{tag}` was moved since the previous stage verified it: {first}"),
                "promote the image the previous stage verified (re-push that digest under the tag), or start the chain again from its first environment".into(),
                changed[1..].to_vec(),
            ));
        }
        println!("✔ `{tag}` still points at the expected digest in every repository");
    }

    // Every required platform in the image index.
    if !inputs.required_platforms.is_empty() {
        let repos: Vec<_> = found
            .iter()
            .map(|(i, d)| (&inputs.repositories[*i], d))
            .collect();
        let answers = join_all(
            repos
                .iter()
                .map(|(repo, digest)| registry.platforms(repo, digest)),
        )
        .await;
        let mut problems = Vec::new();
        for ((i, _), answer) in found.iter().zip(answers) {
            let row = &mut report.images[*i];
            match answer {
                Err(e) => {
                    return Some((
                        ResultCode::Error,
                        format!("could not read the image index of `{}`: {e}", row.display),
                        e.fix().into(),
                        Vec::new(),
                    ));
                }
                Ok(None) => problems.push(format!(
                    "{}: `{tag}` is a single-platform image, not an index listing {}",
                    row.display,
                    inputs.required_platforms.join(", ")
                )),
                Ok(Some(platforms)) => {
                    let missing: Vec<&str> = inputs
                        .required_platforms
                        .iter()
                        .filter(|p| !has_platform(&platforms, p))
                        .map(String::as_str)
                        .collect();
                    row.checks.push(platforms.join(", "));
                    if !missing.is_empty() {
                        problems.push(format!(
                            "{}: `{tag}` lacks {} (it has {})",
                            row.display,
                            missing.join(", "),
                            if platforms.is_empty() {
                                "none".to_string()
                            } else {
                                platforms.join(", ")
                            }
                        ));
                    }
                }
            }
        }
        if let Some(first) = problems.first() {
            return Some((
                ResultCode::ImageUnavailable,
                format!("image `{tag}` is missing required platforms: {first}"),
                "build and push the image for every platform in `required-platforms` (docker buildx build --platform ...)".into(),
                problems[1..].to_vec(),
            ));
        }
        println!(
            "✔ every image lists {}",
            inputs.required_platforms.join(", ")
        );
    }

    // Vulnerability findings at or above the threshold.
    if let Some(threshold) = inputs.fail_on_severity {
        let repos: Vec<_> = found
            .iter()
            .map(|(i, d)| (&inputs.repositories[*i], d))
            .collect();
        let answers = join_all(
            repos
                .iter()
                .map(|(repo, digest)| registry.scan(repo, digest, inputs.scan_wait)),
        )
        .await;
        let mut total: std::collections::BTreeMap<String, u64> =
            ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
                .iter()
                .map(|s| (s.to_string(), 0))
                .collect();
        for ((i, _), answer) in found.iter().zip(answers) {
            let row = &mut report.images[*i];
            let wait = inputs::format_duration(inputs.scan_wait);
            let trouble = match answer {
                Err(e) => Some((format!("could not read the scan of `{}`: {e}", row.display), e.fix().to_string())),
                Ok(Scan::Missing) => Some((
                    format!("`{}` has no scan of `{tag}`", row.display),
                    "turn on scan on push for the repository, or start a scan: aws ecr start-image-scan --repository-name NAME --image-id imageTag=TAG".into(),
                )),
                Ok(Scan::Failed(why)) => Some((
                    format!("the scan of `{tag}` in `{}` did not complete: {why}", row.display),
                    "start a new scan (aws ecr start-image-scan), or check that the image's OS is supported by ECR scanning".into(),
                )),
                Ok(Scan::InProgress) => Some((
                    format!("the scan of `{tag}` in `{}` was still in progress after {wait} (`scan-wait`)", row.display),
                    "re-run once the scan completes, or raise `scan-wait`".into(),
                )),
                Ok(Scan::Complete(counts)) => {
                    let shown: Vec<String> = counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
                    row.checks.push(if shown.is_empty() { "no findings".into() } else { shown.join(", ") });
                    for (k, n) in counts {
                        *total.entry(k).or_default() += n;
                    }
                    None
                }
            };
            if let Some((message, fix)) = trouble {
                report.vulnerabilities = Some(total);
                return Some((ResultCode::Error, message, fix, Vec::new()));
            }
        }
        let blocking: Vec<String> = total
            .iter()
            .filter(|(k, n)| **n > 0 && Severity::from_ecr(k).is_some_and(|s| s >= threshold))
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        report.vulnerabilities = Some(total);
        if !blocking.is_empty() {
            return Some((
                ResultCode::Vulnerable,
                format!(
                    "image `{tag}` has findings at or above {}: {}",
                    threshold.as_str(),
                    blocking.join(", ")
                ),
                "fix the findings and push a new image, or raise `fail-on-severity` knowingly"
                    .into(),
                Vec::new(),
            ));
        }
        println!("✔ no findings at or above {}", threshold.as_str());
    }
    None
}

/// Why the verification failed, if it did: a registry error wins over a missing tag, since a
/// missing tag cannot be trusted when another repository could not be checked at all.
fn verification_failure(tag: &str, rows: &[ImageRow]) -> Option<Failure> {
    if let Some((row, error, fix)) = rows.iter().find_map(|r| match &r.state {
        ImageState::Unknown { error, fix } => Some((r, error, fix)),
        _ => None,
    }) {
        return Some((
            ResultCode::Error,
            format!("could not check `{}` in ECR: {error}", row.display),
            fix.clone(),
            Vec::new(),
        ));
    }
    let missing: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.state {
            ImageState::TagMissing { suggestions } if suggestions.is_empty() => {
                Some(format!("{}: no tag `{tag}` and no similar tag", r.display))
            }
            ImageState::TagMissing { suggestions } => Some(format!(
                "{}: no tag `{tag}`; nearest existing: {}",
                r.display,
                suggestions.join(", ")
            )),
            ImageState::RepositoryMissing => Some(format!(
                "{}: the repository does not exist (check the name, aws-region and registry-id)",
                r.display
            )),
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let message = format!(
        "image `{tag}` is missing from {} of {} repositories: {}",
        missing.len(),
        rows.len(),
        missing[0]
    );
    let fix = if rows.iter().any(
        |r| matches!(&r.state, ImageState::TagMissing { suggestions } if !suggestions.is_empty()),
    ) {
        "promote a tag that exists (see the nearest tags above) or push the image first; nothing was dispatched"
    } else {
        "push the image with this tag to every listed repository, or fix `image-tag`/`ecr-repositories`; nothing was dispatched"
    };
    Some((
        ResultCode::ImageMissing,
        message,
        fix.to_string(),
        missing[1..].to_vec(),
    ))
}

async fn preflight<G: GitHub>(
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

fn dispatch_error(e: &GhError, plan: &DispatchPlan) -> (ResultCode, String, String) {
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
