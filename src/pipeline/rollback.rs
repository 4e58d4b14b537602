//! `mode: rollback`: send `environment` back to the image it ran before (or `rollback-to`),
//! after checking it is still in ECR; record the rollback and hold the environment, so that no
//! automatic promotion undoes it.

use crate::act;
use crate::config::Inputs;
use crate::decide::{self, Sending, record, rollback};
use crate::ecr::Registry;
use crate::github::GitHub;
use crate::outcome::{Failure, Phase, Report, ResultCode};
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

    let id = act::correlation_id();
    let sending = Sending {
        environment: env,
        tag: &target.tag,
        digests: &digests,
        auto_promote: false,
        require_correlation: true,
    };
    // promote-by tag: `environment`'s own tag goes back to the target's digests first.
    let moved = match &tag_facts {
        Some(facts) => {
            let dispatching = workflow.as_ref().map(|w| (&sending, w));
            let m = super::move_tag(
                inputs,
                io,
                progress,
                report,
                env,
                &target.tag,
                &digests,
                facts,
                dispatching,
            )
            .await?;
            format!("; {m}")
        }
        None => String::new(),
    };
    if inputs.dry_run && !inputs.dispatch.promote_by.dispatch {
        report.succeed(
            ResultCode::DryRun,
            format!(
                "dry run: `{env}` would go back to `{}`{moved}; nothing was tagged or recorded",
                target.tag
            ),
        );
        return Ok(());
    }
    if inputs.dispatch.promote_by.dispatch {
        let (Some(github), Some(dispatch_target), Some(workflow)) =
            (io.github, &inputs.dispatch.target, &workflow)
        else {
            return Err(Failure::new(
                ResultCode::Error,
                "internal error: no dispatch target for the rollback",
                "report this at the ecr-promote repository",
            ));
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
        .await?;
        if inputs.dry_run {
            report.succeed(
                ResultCode::DryRun,
                format!(
                    "dry run: `{env}` would go back to `{}`{moved}; nothing was dispatched, tagged or recorded",
                    target.tag
                ),
            );
            return Ok(());
        }
    }
    report.rolled_back_to = Some(target.tag.clone());
    report.mark_held(env);
    if inputs.record.enabled
        && let Some(github) = io.github
    {
        match record::rollback_entry(
            inputs,
            &records,
            &target.tag,
            &digests,
            target.replaces,
            &id,
            format!("rollback to {}", target.tag),
        ) {
            Some(entry) => match act::record::write(github, &entry).await {
                Ok(written) => report.record = Some(written),
                Err(e) => report.warnings.push(e),
            },
            None => report.warnings.push(format!(
                "the rollback of `{env}` was not recorded: no commit is known for the image, so the hold could not be set"
            )),
        }
    }
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
