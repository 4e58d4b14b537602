//! Pure decisions: facts in, a plan or a `Failure` out. Nothing here reads, writes or waits, so
//! every result code can be reached by a unit test with plain values.

use std::collections::BTreeMap;

mod dispatch;
mod image;
pub mod record;
pub mod rollback;
pub mod rules;
pub mod tag;

pub use dispatch::{Sending, dispatch_error, dispatch_plan, effective_meta, promoted_message};
pub use image::{ImageVerdict, image};

use crate::config::{InputError, Inputs, Partial};
use crate::model::RunInfo;
use crate::outcome::{Failure, Phase, Report, ResultCode};
use crate::text::{brief_list, format_duration};

/// How many failing items a one-line message names before it says "and N more".
pub(crate) const NAMED: usize = 3;

/// The report that knows the inputs: environment, chain, next environment, tag, fail-on-error.
pub fn base_report(inputs: &Inputs) -> Report {
    let mut report = Report::new(ResultCode::Error, "");
    report.environment = Some(inputs.environment.clone());
    report.chain = inputs.chain.names().to_vec();
    report.next_environment = Some(inputs.next_environment().unwrap_or_default().to_string());
    report.image_tag = inputs.image.tag.clone();
    report.fail_on_error = inputs.fail_on_error;
    report.mode = inputs.mode;
    report.commit_base = inputs.run.commit_base.clone();
    report
}

/// The report for inputs that could not be read: nothing was called. Each input is named the
/// way it was given: `--name` for a flag, `name` for a step's `with:`.
pub fn invalid_input(
    errors: &[InputError],
    partial: &Partial,
    given_by_flag: &dyn Fn(&str) -> bool,
) -> Report {
    let named = |input: &str| {
        if given_by_flag(input) {
            format!("`--{input}`")
        } else {
            format!("`{input}`")
        }
    };
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            let what = if given_by_flag(&e.input) {
                "flag"
            } else {
                "input"
            };
            format!("{what} {}: {}", named(&e.input), e.problem)
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for e in errors {
        let name = named(&e.input);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let message = match lines.as_slice() {
        [one] => format!("invalid {one}"),
        _ => format!(
            "{} invalid inputs: {}; first, {}",
            errors.len(),
            brief_list(&names, 5),
            lines.first().cloned().unwrap_or_default()
        ),
    };
    let all_flags = errors.iter().all(|e| given_by_flag(&e.input));
    let fix = format!(
        "correct {} {}; nothing was verified or dispatched",
        brief_list(&names, 5),
        if all_flags {
            "on the command line (`ecr-promote --help` lists the flags)"
        } else {
            "in the step's `with:`"
        }
    );
    let mut report = Report::new(ResultCode::InvalidInput, message);
    report.details = if lines.len() > 1 { lines } else { Vec::new() };
    report.fix = Some(fix);
    report.environment = partial.environment.clone();
    report.image_tag = partial.image_tag.clone();
    report.fail_on_error = partial.fail_on_error;
    report
}

/// The deploy of `environment` must have succeeded before anything else is looked at.
pub fn deploy_status(inputs: &Inputs) -> Result<(), Failure> {
    if inputs.deploy_status.is_success() {
        return Ok(());
    }
    Err(Failure::new(
        ResultCode::DeployFailed,
        format!(
            "the deploy of `{}` reported `{}`: the chain stops here",
            inputs.environment,
            inputs.deploy_status.as_str()
        ),
        "fix the deploy of this environment and re-run the workflow; the next environment is dispatched only after a successful deploy",
    ))
}

/// This run's deploy, when it succeeded: what `environment` runs now, whatever the record read
/// before it was written says.
pub struct Deployed<'a> {
    pub tag: &'a str,
    pub digests: &'a BTreeMap<String, String>,
    pub sha: Option<String>,
}

/// What runs where: each environment of the chain as its record has it (and `deployed` for
/// this run's environment), for the summary.
pub fn environments(
    inputs: &Inputs,
    records: &crate::record::Records,
    now: i64,
    deployed: Option<Deployed>,
) -> Vec<crate::outcome::EnvironmentRow> {
    inputs
        .chain
        .names()
        .iter()
        .map(|env| {
            let history = records.of(env);
            let current = history.and_then(crate::record::History::current);
            if *env == inputs.environment
                && let Some(d) = &deployed
            {
                return crate::outcome::EnvironmentRow {
                    name: env.clone(),
                    tag: Some(d.tag.to_string()),
                    digests: d.digests.clone(),
                    sha: d.sha.clone(),
                    since: Some(now),
                    held: crate::decide::record::hold_for(&inputs.run, history),
                    frozen: None,
                    this_run: true,
                };
            }
            crate::outcome::EnvironmentRow {
                name: env.clone(),
                tag: current.map(|r| r.payload.image_tag.clone()),
                digests: current
                    .map(|r| r.payload.image_digests.clone())
                    .unwrap_or_default(),
                sha: current.map(|r| r.sha.clone()),
                since: current.and_then(crate::record::Record::succeeded_at),
                held: history.and_then(crate::record::History::held).is_some(),
                frozen: inputs.rules.freeze.blocking(env, now).map(|b| {
                    if b.ends_at == crate::config::freeze::NEVER {
                        "frozen".to_string()
                    } else {
                        format!("frozen until {}", b.ends_utc)
                    }
                }),
                this_run: *env == inputs.environment,
            }
        })
        .collect()
}

/// What follows checks that passed, when it is not a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The run ends here with this (successful) result.
    Stop(ResultCode, String),
    /// Dispatch this environment.
    Dispatch(String),
}

/// After every check passed: the end of the chain, auto-promote off, or a dispatch.
pub fn after_checks(inputs: &Inputs, tag: &str) -> Step {
    match inputs.next_environment() {
        None => Step::Stop(
            ResultCode::EndOfChain,
            format!(
                "`{tag}` verified; `{}` is the end of the chain {}: nothing to dispatch",
                inputs.environment,
                inputs.chain.arrows()
            ),
        ),
        Some(next) if !inputs.auto_promote => Step::Stop(
            ResultCode::AutoPromoteDisabled,
            format!("`{tag}` verified; auto-promote is off, so `{next}` was not dispatched"),
        ),
        Some(next) => Step::Dispatch(next.to_string()),
    }
}

/// Why a run stopped before it finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interruption {
    /// The `timeout` budget (plus the gates' and waits' limits) ran out.
    TimedOut,
    /// SIGINT or SIGTERM: the run was cancelled or reached `timeout-minutes`.
    Cancelled(&'static str),
    /// A bug.
    Panicked(String),
}

/// Where a run stood when it was interrupted.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    pub phase: Phase,
    /// The report as it stood once the image was verified (`deploy_success` true).
    pub verified: Option<Report>,
    /// GitHub accepted the dispatch.
    pub dispatched: bool,
    pub run: Option<RunInfo>,
}

/// The report after an interruption: never a success, `promoted` only when GitHub had already
/// accepted the dispatch.
pub fn interrupted(inputs: &Inputs, standing: Standing, why: Interruption) -> Report {
    let mut report = match (&why, standing.verified) {
        (Interruption::TimedOut, Some(verified)) => verified,
        _ => base_report(inputs),
    };
    report.promoted = standing.dispatched;
    report.run = standing.run;
    let (result, message, fix) = match why {
        Interruption::Cancelled(signal) => (
            ResultCode::Error,
            format!(
                "cancelled by {signal} (the run was cancelled or reached timeout-minutes) before the promotion finished"
            ),
            "re-run the job; if `promoted` is true the next environment was already dispatched"
                .to_string(),
        ),
        Interruption::Panicked(what) => (
            ResultCode::Error,
            format!("internal error (panic: {what}); this is a bug in ecr-promote"),
            "re-run the job; please report this at the ecr-promote repository with the log"
                .to_string(),
        ),
        Interruption::TimedOut => {
            let budget = format_duration(inputs.timeout);
            let failed_deploy = (inputs.mode == crate::model::Mode::Promote)
                .then(|| deploy_status(inputs).err())
                .flatten();
            match standing.phase {
                // The deploy's failure is known from the inputs; what ran out of time was only
                // the record or the rollback.
                _ if let Some(failed) = failed_deploy.filter(|_| !report.promoted) => {
                    report.deploy_success = false;
                    (
                        failed.result,
                        format!(
                            "{}; the time budget (`timeout: {budget}`) ran out before the record or the rollback was done",
                            failed.message
                        ),
                        failed.fix,
                    )
                }
                _ if report.promoted => {
                    report.succeed(
                        ResultCode::Promoted,
                        format!(
                            "the next environment was dispatched; the time budget (`timeout: {budget}`) ran out afterwards"
                        ),
                    );
                    return report;
                }
                Phase::Registry => {
                    report.deploy_success = false;
                    (
                        ResultCode::Error,
                        format!(
                            "timed out after {budget} (`timeout`) verifying the image in ECR; nothing was dispatched"
                        ),
                        "check that ECR answers (aws-region, the network, AWS_ENDPOINT_URL_ECR), or raise `timeout`".to_string(),
                    )
                }
                Phase::Gates => {
                    report.deploy_success = false;
                    (
                        ResultCode::Unhealthy,
                        "the deploy gates did not pass within their limits; nothing was dispatched"
                            .to_string(),
                        "raise this environment's limit in `timeouts`".to_string(),
                    )
                }
                Phase::Preflight => (
                    ResultCode::DispatchFailed,
                    format!(
                        "timed out after {budget} (`timeout`) reading the target workflow from GitHub; nothing was dispatched"
                    ),
                    "re-run the job (https://www.githubstatus.com), or raise `timeout`".to_string(),
                ),
                Phase::Tag => (
                    ResultCode::Error,
                    format!(
                        "timed out after {budget} (`timeout`) moving the environment tag in ECR: it may have moved in some repositories and not in others"
                    ),
                    "check the environment tag in each repository (`aws ecr describe-images --image-ids imageTag=TAG`); a re-run moves it where it is missing".to_string(),
                ),
                Phase::Dispatch => (
                    ResultCode::DispatchFailed,
                    format!(
                        "timed out after {budget} (`timeout`) dispatching: GitHub may or may not have started the run"
                    ),
                    "check the Actions tab for a new run of the target workflow before re-running"
                        .to_string(),
                ),
            }
        }
    };
    report.fail(Failure::new(result, message, fix));
    report
}

/// The time budget of the whole step: `timeout` for the calls to AWS and GitHub, plus the limit
/// of each configured gate and wait (and `scan-wait`), which have their own.
pub fn budget(inputs: &Inputs) -> std::time::Duration {
    use crate::config::WaitFor;
    let limits = &inputs.gates.timeouts;
    let current = limits.of(&inputs.environment);
    let mut total = inputs.timeout;
    if inputs.image.fail_on_severity.is_some() {
        total += inputs.image.scan_wait;
    }
    if inputs.gates.health.is_some() {
        total += current;
    }
    if inputs.gates.argocd.is_some() {
        total += current;
    }
    if let (WaitFor::Started | WaitFor::Completed, Some(next)) =
        (inputs.dispatch.wait_for, inputs.next_environment())
    {
        total += limits.of(next);
    }
    total
}
