//! ecr-promote: verify an image tag in Amazon ECR and dispatch the next environment's workflow.
//!
//! `run` is the whole decision: parse → verify → decide → pre-flight → dispatch. Input/output
//! happens behind the `Registry` and `GitHub` seams; `main` builds the real ones and writes the
//! outputs of the `Report` this returns.

pub mod chain;
pub mod ecr;
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

use crate::ecr::{Lookup, Registry};
use crate::github::{GhError, GitHub, RunInfo, WorkflowMeta};
use crate::inputs::{DispatchTarget, InputError, Inputs, Partial, WorkflowId};
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
    Preflight,
    Dispatch,
}

impl Progress {
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
pub async fn run<R: Registry, G: GitHub>(
    inputs: &Inputs,
    registry: &R,
    github: Option<&G>,
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
    report.images = verify(inputs, registry).await;
    endgroup();
    if let Some(failed) = verification_failure(&inputs.image_tag, &report.images) {
        let (result, message, fix, details) = failed;
        report.details = details;
        return fail(report, result, message, &fix);
    }
    report.deploy_success = true;
    progress.enter(Phase::Registry, Some(&report));

    let Some(next) = inputs.next_environment() else {
        report.result = ResultCode::EndOfChain;
        report.message = format!(
            "`{}` verified; `{env}` is the end of the chain {}: nothing to dispatch",
            inputs.image_tag,
            inputs.chain.names().join(" → ")
        );
        return report;
    };
    if !inputs.auto_promote {
        report.result = ResultCode::AutoPromoteDisabled;
        report.message = format!(
            "`{}` verified; auto-promote is off, so `{next}` was not dispatched",
            inputs.image_tag
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
    let plan = preflight(inputs, target, next, github).await;
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
            inputs.image_tag, plan.workflow, plan.git_ref
        );
        return report;
    }

    progress.enter(Phase::Dispatch, Some(&report));
    group("Dispatch the next environment");
    let correlation = plan
        .correlation
        .as_ref()
        .and_then(|name| plan.inputs.get(name))
        .map(String::as_str);
    let outcome = github
        .dispatch(&target.workflow, &target.git_ref, &plan.inputs, correlation)
        .await;
    endgroup();
    match outcome {
        Ok(run) => {
            progress.dispatched.store(true, Ordering::SeqCst);
            if let Ok(mut slot) = progress.run.lock() {
                slot.clone_from(&run);
            }
            report.promoted = true;
            report.result = ResultCode::Promoted;
            report.message = format!(
                "`{}` verified; dispatched `{}` for `{next}` on `{}`{}",
                inputs.image_tag,
                plan.workflow,
                plan.git_ref,
                run.as_ref()
                    .map(|r| format!(" (run {})", r.id))
                    .unwrap_or_default()
            );
            report.run = run;
            report
        }
        Err(e) => {
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
                        info.digest,
                        info.pushed_at.as_deref().unwrap_or("at an unknown time")
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
            }
        })
        .collect()
}

type Failure = (ResultCode, String, String, Vec<String>);

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
            other => (
                ResultCode::DispatchFailed,
                format!("could not read `{path}` at `{}`: {other}", target.git_ref),
                "re-run the job; check that the token can read the repository's contents".into(),
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
    let mut to_send =
        workflow::dispatch_inputs(&schema, next, &inputs.image_tag, &inputs.extra_inputs);
    // A unique id in the declared correlation input lets a lost answer be matched to its run.
    let correlation = inputs
        .correlation_input
        .clone()
        .filter(|name| schema.declares(name) && !to_send.contains_key(name));
    if let Some(name) = &correlation {
        to_send.insert(name.clone(), correlation_id());
    }
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
