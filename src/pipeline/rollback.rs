//! `mode: rollback`: send `environment` back to the image it ran before (or `rollback-to`),
//! after checking it is still in ECR; record the rollback and hold the environment, so that no
//! automatic promotion undoes it.

use std::collections::BTreeMap;

use crate::act;
use crate::config::Inputs;
use crate::decide::{self, Sending, record, rollback};
use crate::ecr::Registry;
use crate::gather::{TagFacts, WorkflowFacts};
use crate::github::GitHub;
use crate::outcome::RecordRef;
use crate::outcome::{Failure, Phase, Report, ResultCode};
use crate::record::Records;
use crate::report::log;
use crate::runtime::Progress;
use crate::web::Web;

use super::Adapters;

pub(super) async fn run<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
    now: i64,
) -> Result<(), Failure> {
    let env = &inputs.environment;
    // One round: the record and the workflow to dispatch.
    progress.enter(Phase::Registry, None);
    let environments = inputs.chain.names().to_vec();
    let (listed, workflow, tag_facts) = tokio::join!(
        super::lists(io.github, &environments),
        super::workflow(inputs.dispatch.target.as_ref(), io.github),
        super::tag_facts(inputs, io.registry, Some(env))
    );
    let mut records = super::records_or_fail(listed, "a rollback")?;
    if let Some(w) = super::statuses(io.github, &mut records, None).await {
        return Err(Failure::new(
            ResultCode::Error,
            w,
            "give the job `permissions: deployments: read`",
        ));
    }
    report.environments = decide::environments(inputs, &records, now, None);
    let history = records.of(env);
    let current = history.and_then(crate::record::History::current).cloned();
    let target = rollback::target(env, history, inputs.record.rollback_to.as_deref())?;
    log::line(&format!(
        "`{env}` runs `{}`; going back to `{}`",
        current
            .as_ref()
            .map(|c| c.payload.image_tag.as_str())
            .unwrap_or("(nothing recorded)"),
        target.tag
    ));
    report.previous = super::previous(&records, inputs, report);

    super::check_rollback_target(inputs, io, report, &target).await?;
    let digests = if target.digests.is_empty() {
        report.digests().unwrap_or_default()
    } else {
        target.digests.clone()
    };

    let done = carry_out(
        inputs,
        io,
        progress,
        report,
        &records,
        workflow.as_ref(),
        tag_facts.as_deref(),
        &target.tag,
        &digests,
        target.replaces,
        format!("rollback to {}", target.tag),
    )
    .await
    .map_err(|n| n.failure)?;
    let moved = done.moved;
    if inputs.dry_run {
        let what = if inputs.dispatch.promote_by.dispatch {
            "nothing was dispatched, tagged or recorded"
        } else {
            "nothing was tagged or recorded"
        };
        report.succeed(
            ResultCode::DryRun,
            format!(
                "dry run: `{env}` would go back to `{}`{moved}; {what}",
                target.tag
            ),
        );
        return Ok(());
    }
    report.record = done.record;
    let from = current
        .map(|c| format!(" from `{}`", c.payload.image_tag))
        .unwrap_or_default();
    report.succeed(
        ResultCode::RolledBack,
        format!(
            "rolled `{env}` back{from} to `{}`{moved}; `{env}` is held: automatic promotions into it stop until a person promotes it by hand",
            target.tag
        ),
    );
    Ok(())
}

/// A rollback carried out (or, in a dry run, checked up to the point of sending it).
pub(super) struct CarriedOut {
    /// What moving the environment tag did (`"; …"`); empty without `promote-by: tag`.
    pub moved: String,
    /// The rollback's record, when written.
    pub record: Option<RecordRef>,
}

/// Why a rollback was not carried out: `what` did not happen, and the failure says why.
pub(super) struct NotCarriedOut {
    pub what: &'static str,
    pub failure: Failure,
}

/// Send `environment` back to `tag` (`digests`, checked in ECR): its environment tag moved back
/// (`promote-by: tag`), its own workflow dispatched with `auto_promote=false` (`promote-by:
/// dispatch`); then, unless this is a dry run, the environment held and the rollback recorded
/// (`rollback_of`, the hold). Both `mode: rollback` and `rollback-on-failure` go through here.
#[allow(clippy::too_many_arguments)]
pub(super) async fn carry_out<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
    records: &Records,
    workflow: Option<&WorkflowFacts>,
    tag_facts: Option<&[TagFacts]>,
    tag: &str,
    digests: &BTreeMap<String, String>,
    rollback_of: Option<u64>,
    reason: String,
) -> Result<CarriedOut, NotCarriedOut> {
    let env = &inputs.environment;
    let id = act::correlation_id();
    let sending = Sending {
        environment: env,
        tag,
        digests,
        auto_promote: false,
        require_correlation: true,
    };
    // promote-by tag: `environment`'s own tag goes back to the target's digests first.
    let moved = match tag_facts {
        Some(facts) => {
            let dispatching = workflow.map(|w| (&sending, w));
            let m = super::move_tag(
                inputs,
                io,
                progress,
                report,
                env,
                tag,
                digests,
                facts,
                dispatching,
            )
            .await
            .map_err(|failure| NotCarriedOut {
                what: "the rollback's tag was not moved",
                failure,
            })?;
            format!("; {m}")
        }
        None => String::new(),
    };
    if inputs.dispatch.promote_by.dispatch {
        let not_dispatched = |failure| NotCarriedOut {
            what: "the rollback was not dispatched",
            failure,
        };
        let (Some(github), Some(dispatch_target), Some(workflow)) =
            (io.github, &inputs.dispatch.target, workflow)
        else {
            return Err(not_dispatched(Failure::new(
                ResultCode::Error,
                "internal error: no dispatch target for the rollback",
                "report this at the ecr-promote repository",
            )));
        };
        progress.enter(Phase::Preflight, Some(report));
        super::dispatch(
            inputs,
            github,
            dispatch_target,
            workflow,
            &sending,
            &id,
            progress,
            report,
        )
        .await
        .map_err(not_dispatched)?;
    }
    if inputs.dry_run {
        return Ok(CarriedOut {
            moved,
            record: None,
        });
    }
    report.rolled_back_to = Some(tag.to_string());
    report.mark_held(env);
    let mut written = None;
    if inputs.record.enabled
        && let Some(github) = io.github
    {
        match record::rollback_entry(inputs, records, tag, digests, rollback_of, &id, reason) {
            Some(entry) => match act::record::write(github, &entry).await {
                Ok(record) => written = Some(record),
                Err(e) => report.warnings.push(e),
            },
            None => report.warnings.push(format!(
                "the rollback of `{env}` was not recorded: no commit is known for the image, so the hold could not be set"
            )),
        }
    }
    Ok(CarriedOut {
        moved,
        record: written,
    })
}
