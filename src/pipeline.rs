//! The run, as a reader can follow it: the deploy's status, then one concurrent round of reads
//! (the image in ECR, the target workflow), the image and deploy gates, the decision, the
//! dispatch, and the wait for the dispatched run. A stage that fails ends the run through `?`;
//! the report keeps what was learnt on the way.

use std::time::Duration;

use crate::config::{Inputs, WaitFor};
use crate::decide::{self, Step};
use crate::ecr::Registry;
use crate::gates::{self, Gate};
use crate::gather::{self, WorkflowFacts};
use crate::github::{GhError, GitHub};
use crate::outcome::{Failure, ImageRow, ImageState, Phase, Report, ResultCode};
use crate::report::log;
use crate::runtime::Progress;
use crate::web::Web;
use crate::{act, follow};

/// The seams a run reads and acts through.
pub struct Adapters<'a, R, G, W> {
    pub registry: &'a R,
    /// Present when a dispatch may follow.
    pub github: Option<&'a G>,
    pub web: &'a W,
    /// Paces the polling of scans, gates and runs (5 s in production).
    pub poll: Duration,
}

/// Run the promotion. Never panics on bad data; every path returns a `Report`.
pub async fn run<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
) -> Report {
    let mut report = decide::base_report(inputs);
    if let Err(failure) = promote(inputs, io, progress, &mut report).await {
        report.fail(failure);
    }
    report
}

async fn promote<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
) -> Result<(), Failure> {
    decide::deploy_status(inputs)?;

    // One round: the workflow is read while the image is checked, and used only if it passes.
    let workflow = async {
        match (&inputs.dispatch.target, io.github) {
            (Some(target), Some(github)) => Some(gather::workflow(target, github).await),
            _ => None,
        }
    };
    let (tag, workflow) = tokio::join!(check(inputs, io, progress, report), workflow);
    let tag = tag?;

    let next = match decide::after_checks(inputs, &tag) {
        Step::Stop(result, message) => {
            report.result = result;
            report.message = message;
            return Ok(());
        }
        Step::Dispatch(next) => next,
    };
    let (Some(target), Some(github), Some(workflow)) =
        (&inputs.dispatch.target, io.github, workflow)
    else {
        // config resolves the target whenever a dispatch is possible; reaching here is a bug.
        return Err(Failure::new(
            ResultCode::Error,
            "internal error: no dispatch target",
            "report this at the ecr-promote repository",
        ));
    };

    progress.enter(Phase::Preflight, Some(report));
    let plan = {
        let _group = log::group("Pre-flight: check the target workflow");
        log_workflow(&workflow, target);
        let digests = report.digests().unwrap_or_default();
        let plan = decide::dispatch_plan(
            inputs,
            target,
            &next,
            &tag,
            &digests,
            &workflow,
            &act::correlation_id(),
        );
        match &plan {
            Ok(plan) => log::ok(&format!(
                "`{}` at `{}` accepts: {}",
                plan.workflow_path.as_deref().unwrap_or(&plan.workflow),
                plan.git_ref,
                plan.inputs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(failure) => log_failure(failure),
        }
        plan?
    };
    report.dispatch = Some(plan.clone());

    if inputs.dry_run {
        report.result = ResultCode::DryRun;
        report.message = format!(
            "dry run: `{tag}` verified and `{}` would accept the dispatch of `{next}` on `{}`; nothing was dispatched",
            plan.workflow, plan.git_ref
        );
        return Ok(());
    }

    progress.enter(Phase::Dispatch, Some(report));
    let run = {
        let _group = log::group("Dispatch the next environment");
        let run = act::dispatch(github, target, &plan, progress).await;
        match &run {
            Ok(Some(run)) => log::ok(&format!("dispatched; run {} {}", run.id, run.url)),
            Ok(None) => log::ok("dispatched; GitHub did not say which run it started"),
            Err(failure) => log_failure(failure),
        }
        run?
    };
    report.promoted = true;
    report.result = ResultCode::Promoted;
    report.message = decide::promoted_message(&tag, &plan, &next, run.as_ref());
    report.run = run;

    if inputs.dispatch.wait_for != WaitFor::None {
        let _group = log::group("Wait for the dispatched run");
        let limit = inputs.gates.timeouts.of(&next);
        follow::follow_run(
            github,
            inputs.dispatch.wait_for,
            limit,
            io.poll,
            &next,
            report,
        )
        .await;
    }
    Ok(())
}

/// The image in every repository, then every gate: the verified tag, or why not. On success
/// `deploy_success` is true.
async fn check<R: Registry, G, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
) -> Result<String, Failure> {
    progress.enter(Phase::Registry, None);
    let gates = gates::configured(inputs);
    let tag = {
        let _group = log::group("Verify the image in ECR");
        let verdict = decide::image(inputs, gather::images(inputs, io.registry).await);
        log_images(&verdict.rows, &verdict.tag);
        report.images = verdict.rows;
        report.image_tag = Some(verdict.tag.clone());
        if let Some(failure) = verdict.failure {
            return Err(failure);
        }
        for gate in gates.iter().filter(|g| g.log_group().is_none()) {
            run_gate(*gate, inputs, io, &verdict.tag, report).await?;
        }
        verdict.tag
    };
    progress.enter(Phase::Gates, None);
    for gate in gates.iter().filter(|g| g.log_group().is_some()) {
        let _group = log::group(gate.log_group().unwrap_or_default());
        run_gate(*gate, inputs, io, &tag, report).await?;
    }
    report.deploy_success = true;
    if inputs.dispatch.target.is_some() && inputs.auto_promote {
        progress.enter(Phase::Preflight, Some(report));
    } else {
        progress.verified(report);
    }
    Ok(tag)
}

async fn run_gate<R: Registry, G, W: Web>(
    gate: Gate,
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    tag: &str,
    report: &mut Report,
) -> Result<(), Failure> {
    let ctx = gates::Context {
        inputs,
        registry: io.registry,
        web: io.web,
        poll: io.poll,
        tag,
        images: &report.images,
    };
    let verdict = gates::check(gate, &ctx).await;
    if let Some(failure) = &verdict.failure {
        log_failure(failure);
    }
    verdict.apply(report)
}

fn log_images(rows: &[ImageRow], tag: &str) {
    for row in rows {
        match &row.state {
            ImageState::Found(info) => log::ok(&format!(
                "{}:{tag} → {} (pushed {})",
                row.display,
                info.digest,
                info.pushed_at.as_deref().unwrap_or("at an unknown time")
            )),
            ImageState::TagMissing { suggestions } if suggestions.is_empty() => {
                log::fail(&format!("{}: no tag {tag}", row.display))
            }
            ImageState::TagMissing { suggestions } => log::fail(&format!(
                "{}: no tag {tag}; nearest: {}",
                row.display,
                suggestions.join(", ")
            )),
            ImageState::RepositoryMissing => {
                log::fail(&format!("{}: repository not found", row.display))
            }
            ImageState::Unknown { error, .. } => log::fail(&format!("{}: {error}", row.display)),
        }
    }
}

fn log_workflow(workflow: &WorkflowFacts, target: &crate::model::DispatchTarget) {
    match &workflow.meta {
        Ok(meta) => log::line(&format!(
            "workflow {} ({}) is {}",
            meta.path, meta.id, meta.state
        )),
        Err(GhError::NotFound(_)) => log::note(&format!(
            "workflow `{}` is not registered in {}: its state cannot be checked (GitHub dispatches only workflows whose file is on the default branch)",
            target.workflow, target.repository
        )),
        Err(e) => log::fail(&format!("workflow `{}`: {e}", target.workflow)),
    }
}

fn log_failure(failure: &Failure) {
    if failure.details.is_empty() {
        log::fail(&failure.message);
    }
    for detail in &failure.details {
        log::fail(detail);
    }
}
