//! ecr-promote: verify an image tag in Amazon ECR and dispatch the next environment's workflow.
//!
//! `run` is the whole decision: verify (`verify.rs`) → gates (`gates.rs`) → decide → pre-flight
//! → dispatch → follow (`dispatch.rs`). Input/output happens behind the `Registry`, `GitHub` and
//! `Web` seams; `main` builds the real ones and writes the outputs of the `Report` this returns.

pub mod chain;
mod dispatch;
pub mod ecr;
pub mod gates;
pub mod github;
pub mod inputs;
pub mod outcome;
pub mod report;
pub mod retry;
pub mod suggest;
mod verify;
pub mod workflow;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ecr::Registry;
use crate::gates::Web;
use crate::github::{GitHub, RunInfo};
use crate::inputs::{InputError, Inputs, Partial, TagMatch, WaitFor};
use crate::outcome::{ImageState, Report, ResultCode};
use crate::report::{endgroup, group};
pub use dispatch::correlation_id;
use dispatch::{dispatch_error, follow_run, preflight};
use verify::{gates, resolve_prefix, verification_failure, verify};

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

/// A failed check: its result, message, fix and further lines.
pub(crate) type Failure = (ResultCode, String, String, Vec<String>);

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
