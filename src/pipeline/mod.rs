//! The run, as a reader can follow it, one file per mode: `promote` (after the deploy),
//! `resolve` (before it), `rollback`. Each reads in concurrent rounds (`gather`), decides purely
//! (`decide`), acts (`act`) and follows (`follow`); a stage that fails ends the run through `?`,
//! and the report keeps what was learnt on the way. What the modes share lives here, promote
//! by environment tag included.

mod delivery;
mod promote;
mod resolve;
mod rollback;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::config::{Inputs, TagMatch};
use crate::decide;
use crate::ecr::Registry;
use crate::gates::{self, Gate};
use crate::gather::{self, TagFacts, WorkflowFacts};
use crate::github::{GhError, GitHub};
use crate::model::{DispatchTarget, Mode};
use crate::outcome::{Failure, ImageRow, ImageState, Report};
use crate::record::Records;
use crate::report::log;
use crate::runtime::Progress;
use crate::web::Web;

/// The seams a run reads and acts through.
pub struct Adapters<'a, R, G, W> {
    pub registry: &'a R,
    /// Present when GitHub can be reached (a token and a repository).
    pub github: Option<&'a G>,
    pub web: &'a W,
    /// Paces the polling of scans, gates and runs (5 s in production).
    pub poll: Duration,
}

/// Run the step in its mode. Never panics on bad data; every path returns a `Report`.
pub async fn run<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
) -> Report {
    let mut report = decide::base_report(inputs);
    let now = crate::text::now_epoch();
    report.generated_at = now;
    let outcome = match inputs.mode {
        Mode::Promote => promote::run(inputs, io, progress, &mut report, now).await,
        Mode::Resolve => resolve::run(inputs, io, progress, &mut report, now).await,
        Mode::Rollback => rollback::run(inputs, io, progress, &mut report, now).await,
    };
    if let Err(failure) = outcome {
        report.fail(failure);
    }
    for warning in &report.warnings {
        log::warn("ecr-promote", warning);
    }
    report
}

/// Which gates a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gates {
    /// None: only whether the image is there (the digests of a failed deploy, a rollback's image).
    None,
    /// The image's own: status, expected digest, platforms, scan (before a deploy).
    Image,
    /// The image's and the deploy's (health, Argo CD): after a deploy.
    All,
}

/// The image in every repository, then the gates: the verified tag, or why not.
async fn verify<R: Registry, G, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    report: &mut Report,
    tag: &str,
    matching: TagMatch,
    which: Gates,
) -> Result<String, Failure> {
    let configured = match which {
        Gates::None => Vec::new(),
        _ => gates::configured(inputs),
    };
    let tag = {
        let _group = log::group("Verify the image in ECR");
        let verdict = decide::image(
            inputs,
            tag,
            gather::images(inputs, io.registry, tag, matching).await,
        );
        log_images(&verdict.rows, &verdict.tag);
        report.images = verdict.rows;
        report.image_tag = Some(verdict.tag.clone());
        if let Some(failure) = verdict.failure {
            return Err(failure);
        }
        for gate in configured.iter().filter(|g| g.log_group().is_none()) {
            run_gate(*gate, inputs, io, &verdict.tag, report).await?;
        }
        verdict.tag
    };
    if which == Gates::All {
        for gate in configured.iter().filter(|g| g.log_group().is_some()) {
            let _group = log::group(gate.log_group().unwrap_or_default());
            run_gate(*gate, inputs, io, &tag, report).await?;
        }
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

/// The target workflow, read when a dispatch may follow.
async fn workflow<G: GitHub>(
    target: Option<&DispatchTarget>,
    github: Option<&G>,
) -> Option<WorkflowFacts> {
    match (target, github) {
        (Some(target), Some(github)) => Some(gather::workflow(target, github).await),
        _ => None,
    }
}

/// The records of `environments`, listed; `None` without GitHub.
async fn lists<G: GitHub>(
    github: Option<&G>,
    environments: &[String],
) -> Option<Result<Records, GhError>> {
    let github = github?;
    if environments.is_empty() {
        return Some(Ok(Records::default()));
    }
    Some(gather::record_lists(github, environments).await)
}

/// The records as read, or empty with a warning when they could not be.
fn records_or_warn(read: Option<Result<Records, GhError>>, report: &mut Report) -> Records {
    match read {
        Some(Ok(records)) => records,
        Some(Err(e)) => {
            report.warnings.push(records_unreadable(&e));
            Records::default()
        }
        None => Records::default(),
    }
}

/// The records as read, or the failure of a rule that needs them.
fn records_or_fail(read: Option<Result<Records, GhError>>, what: &str) -> Result<Records, Failure> {
    match read {
        Some(Ok(records)) => Ok(records),
        Some(Err(e)) => Err(Failure::new(
            crate::outcome::ResultCode::Error,
            format!("{what} needs the record, and it could not be read: {e}"),
            "give the job `permissions: deployments: read` (`write` to record), or check `repository` and `github-token`",
        )),
        None => Err(Failure::new(
            crate::outcome::ResultCode::Error,
            format!("{what} needs the record, and GitHub cannot be reached without a token"),
            "pass `github-token` (or set GITHUB_TOKEN) and `repository`",
        )),
    }
}

fn records_unreadable(e: &GhError) -> String {
    format!(
        "the record could not be read ({e}): the summary shows no environments and no hold is known; give the job `permissions: deployments: read` (`write` to record)"
    )
}

/// Read the statuses the decisions want: the newest few records of each environment, and
/// every record of `image`. A warning when they could not be read.
async fn statuses<G: GitHub>(
    github: Option<&G>,
    records: &mut Records,
    image: Option<&std::collections::BTreeMap<String, String>>,
) -> Option<String> {
    let github = github?;
    let ids: Vec<u64> = records
        .histories
        .values()
        .flat_map(|h| h.wanting_statuses(3, image))
        .collect();
    if ids.is_empty() {
        return None;
    }
    gather::record_statuses(github, records, &ids)
        .await
        .err()
        .map(|e| records_unreadable(&e))
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

fn log_workflow(workflow: &WorkflowFacts, target: &DispatchTarget) {
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

/// The image a rollback goes back to must still be in every repository, the same image, and
/// `ACTIVE`; a tag gone from a repository is the rollback's problem (`no-rollback-target`).
async fn check_rollback_target<R: Registry, G, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    report: &mut Report,
    target: &decide::rollback::Target,
) -> Result<(), Failure> {
    match verify(
        inputs,
        io,
        report,
        &target.tag,
        TagMatch::Exact,
        Gates::None,
    )
    .await
    {
        Err(missing) if missing.result == crate::outcome::ResultCode::ImageMissing => {}
        Err(other) => return Err(other),
        Ok(_) => {}
    }
    decide::rollback::still_there(target, &report.images)
}

/// What the environment ran before this run (`previous_image_tag`, `previous_image_digest`): its
/// newest successful record, when it is known and not this run's.
pub(super) fn previous(
    records: &Records,
    inputs: &Inputs,
    report: &Report,
) -> Option<(String, String)> {
    let current = records.of(&inputs.environment)?.current()?;
    if report.record.as_ref().is_some_and(|r| r.id == current.id) {
        return None;
    }
    // One digest when every repository has the same, else the map as JSON (like
    // `image_digests`).
    let digests = &current.payload.image_digests;
    let mut values = digests.values();
    let first = values.next()?;
    let digest = if values.all(|d| d == first) {
        first.clone()
    } else {
        serde_json::to_string(digests).unwrap_or_default()
    };
    Some((current.payload.image_tag.clone(), digest))
}

/// The inputs a dispatch sends, for the log.
fn inputs_text(plan: &crate::outcome::DispatchPlan) -> String {
    plan.inputs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a dispatch sends, for the log: the workflow, its ref, the environment and the inputs.
fn sent(plan: &crate::outcome::DispatchPlan, environment: &str) -> String {
    format!(
        "`{}` on `{}` for `{environment}` with {}",
        plan.workflow_path.as_deref().unwrap_or(&plan.workflow),
        plan.git_ref,
        inputs_text(plan)
    )
}

fn log_failure(failure: &Failure) {
    if failure.details.is_empty() {
        log::fail(&failure.message);
    }
    for detail in &failure.details {
        log::fail(detail);
    }
}

/// Pre-flight, then dispatch (not in a dry run): the plan GitHub accepted, the run it started
/// in `report.run`.
#[allow(clippy::too_many_arguments)]
async fn dispatch<G: GitHub>(
    inputs: &Inputs,
    github: &G,
    target: &DispatchTarget,
    workflow: &WorkflowFacts,
    sending: &decide::Sending<'_>,
    correlation_id: &str,
    progress: &Progress,
    report: &mut Report,
) -> Result<crate::outcome::DispatchPlan, Failure> {
    let plan = {
        let _group = log::group("Pre-flight: check the target workflow");
        log_workflow(workflow, target);
        let plan = decide::dispatch_plan(inputs, target, sending, workflow, correlation_id);
        match &plan {
            Ok(plan) => log::ok(&format!(
                "`{}` at `{}` accepts: {}",
                plan.workflow_path.as_deref().unwrap_or(&plan.workflow),
                plan.git_ref,
                inputs_text(plan)
            )),
            Err(failure) => log_failure(failure),
        }
        plan?
    };
    report.dispatch = Some(plan.clone());
    if inputs.dry_run {
        return Ok(plan);
    }
    progress.enter(crate::outcome::Phase::Dispatch, Some(report));
    let _group = log::group("Dispatch");
    let run = crate::act::dispatch(github, target, &plan, progress).await;
    match &run {
        Ok(Some(run)) => log::ok(&format!(
            "dispatched {}: run {} {}",
            sent(&plan, sending.environment),
            run.id,
            run.url
        )),
        Ok(None) => log::ok(&format!(
            "dispatched {}; GitHub did not say which run it started",
            sent(&plan, sending.environment)
        )),
        Err(failure) => log_failure(failure),
    }
    report.run = run?;
    Ok(plan)
}

/// The first round's read for promote-by tag: each repository's tag mutability and what
/// `environment`'s tag names there now; `None` when no tag is to move.
async fn tag_facts<R: Registry>(
    inputs: &Inputs,
    registry: &R,
    environment: Option<&str>,
) -> Option<Vec<TagFacts>> {
    let environment = environment.filter(|_| inputs.dispatch.promote_by.tag)?;
    let tag = inputs.dispatch.environment_tag.for_environment(environment);
    Some(gather::tag_facts(inputs, registry, &tag).await)
}

/// Promote by tag: check every repository (and, with dispatch too, the dispatch's pre-flight)
/// before any tag moves, then move `environment`'s tag to the verified digests everywhere (not
/// in a dry run). A sentence for the message.
#[allow(clippy::too_many_arguments)]
async fn move_tag<R: Registry, G, W>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
    environment: &str,
    image_tag: &str,
    digests: &std::collections::BTreeMap<String, String>,
    facts: &[TagFacts],
    dispatching: Option<(&decide::Sending<'_>, &WorkflowFacts)>,
) -> Result<String, Failure> {
    let tag = inputs.dispatch.environment_tag.for_environment(environment);
    let _group = log::group(&format!("Move the `{tag}` tag in ECR"));
    if let (Some((sending, workflow)), Some(target)) = (dispatching, &inputs.dispatch.target) {
        // A dispatch GitHub would refuse is known now: refuse before any tag moves.
        decide::dispatch_plan(inputs, target, sending, workflow, "").map_err(|f| {
            log_workflow(workflow, target);
            log_failure(&f);
            Failure {
                message: format!("{}; no tag was moved", f.message),
                ..f
            }
        })?;
    }
    let plan = decide::tag::plan(inputs, environment, image_tag, digests, facts)
        .inspect_err(log_failure)?;
    for m in &plan.moves {
        log::line(&format!(
            "{}: `{tag}` names {}",
            m.repo.display(),
            m.previous.as_deref().unwrap_or("nothing")
        ));
    }
    if !inputs.dry_run {
        progress.enter(crate::outcome::Phase::Tag, Some(report));
        crate::act::tag::apply(io.registry, &plan)
            .await
            .inspect_err(log_failure)?;
        // Moving the tag is the promotion: `promoted`, whatever interrupts from here on.
        progress.dispatched();
    }
    let moved = decide::tag::moved_message(&plan, inputs.dry_run);
    log::ok(&moved);
    Ok(moved)
}
