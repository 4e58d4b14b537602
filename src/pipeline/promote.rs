//! `mode: promote`, after the deploy of `environment`: verify the image it runs, record how the
//! deploy went, and move the image on to the next environment, unless a rule keeps it out
//! (freeze, hold, soak). After a failed deploy, `rollback-on-failure` sends it back.

use crate::act;
use crate::config::{Inputs, TagMatch, WaitFor};
use crate::decide::{self, Sending, Step, record, rollback};
use crate::ecr::Registry;
use crate::follow;
use crate::github::GitHub;
use crate::outcome::{Failure, Phase, Report, ResultCode};
use crate::record::Records;
use crate::report::log;
use crate::runtime::Progress;
use crate::web::Web;

use super::{Adapters, Gates};

pub(super) async fn run<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
    now: i64,
) -> Result<(), Failure> {
    let tag = inputs.image.tag.clone().unwrap_or_default();
    let deployed = decide::deploy_status(inputs);
    // The record is read for the summary, the hold and the rules when it is wanted.
    let environments: Vec<String> = if inputs.record.enabled
        || inputs.record.rollback_on_failure
        || inputs.dispatch.target.is_some()
    {
        inputs.chain.names().to_vec()
    } else {
        Vec::new()
    };

    // One round: the image (and the gates), the target workflow, the record.
    progress.enter(Phase::Registry, None);
    // After a failed deploy, the image's digests for the record only: not verified, so neither
    // in the outputs nor in the summary's image table (as in version 1).
    let mut record_digests = None;
    let check = async {
        match &deployed {
            Ok(()) => {
                let verified =
                    super::verify(inputs, io, report, &tag, inputs.image.tag_match, Gates::All)
                        .await;
                if verified.is_ok() {
                    // Known from here on, whatever interrupts the rest (GitHub still answering).
                    report.deploy_success = true;
                    if inputs.dispatch.target.is_some() && inputs.auto_promote {
                        progress.enter(Phase::Preflight, Some(report));
                    } else {
                        progress.verified(report);
                    }
                }
                verified
            }
            Err(failure) => {
                // The deploy failed: the image is looked up only for the record's digests.
                if inputs.record.enabled || inputs.record.rollback_on_failure {
                    let mut looked_up = decide::base_report(inputs);
                    let _ = super::verify(
                        inputs,
                        io,
                        &mut looked_up,
                        &tag,
                        TagMatch::Exact,
                        Gates::None,
                    )
                    .await;
                    record_digests = looked_up.digests();
                }
                Err(failure.clone())
            }
        }
    };
    // Promote by tag: the next environment's tag, read now (what it names, may it move).
    let tag_for = inputs
        .next_environment()
        .filter(|_| deployed.is_ok() && inputs.auto_promote);
    let (checked, workflow, listed, tag_facts) = tokio::join!(
        check,
        super::workflow(inputs.dispatch.target.as_ref(), io.github),
        super::lists(io.github, &environments),
        super::tag_facts(inputs, io.registry, tag_for)
    );
    let mut records = super::records_or_warn(listed, report);
    let digests = report.digests().or(record_digests).unwrap_or_default();
    let tag = report.image_tag.clone().unwrap_or(tag);
    let promotion_id = inputs
        .run
        .promotion
        .clone()
        .unwrap_or_else(act::correlation_id);

    if let Err(failure) = checked {
        return failed(
            inputs,
            io,
            progress,
            report,
            &mut records,
            workflow,
            &tag,
            &digests,
            &promotion_id,
            failure,
        )
        .await;
    }

    let entry = (inputs.record.enabled && !inputs.dry_run)
        .then(|| {
            record::promote_entry(
                inputs,
                &records,
                &tag,
                &digests,
                "success",
                &promotion_id,
                format!("{tag} deployed by ecr-promote"),
            )
        })
        .flatten();
    if inputs.record.enabled && !inputs.dry_run && entry.is_none() && io.github.is_some() {
        report.warnings.push(format!(
            "the record of `{}` was not written: no commit is known for the image (GITHUB_SHA is not set and no earlier record has it)",
            inputs.environment
        ));
    }

    // What next: the end of the chain, auto-promote off, or the next environment if the rules
    // let the image in.
    let next = match decide::after_checks(inputs, &tag) {
        Step::Stop(result, message) => {
            report.succeed(result, message);
            None
        }
        Step::Dispatch(next) => {
            let refusal = decide::rules::frozen(inputs, &next, now)
                .or_else(|| decide::rules::held(records.of(&next), &next, None, &inputs.run));
            let refusal = match refusal {
                Some(r) => Some(r),
                None if inputs.rules.soak.before(&next).is_some() => {
                    if let Some(w) = super::statuses(io.github, &mut records, Some(&digests)).await
                    {
                        report.warnings.push(w);
                    }
                    decide::rules::soak(inputs, &next, &digests, &records, now)
                }
                None => None,
            };
            match refusal {
                Some(refusal) => {
                    log::note(&refusal.message);
                    report.stop(Failure {
                        message: format!(
                            "`{tag}` verified; {}; nothing was dispatched",
                            refusal.message
                        ),
                        ..refusal
                    });
                    None
                }
                None => Some(next),
            }
        }
    };

    // Promote by tag: every repository checked, then the tag moved, before any dispatch.
    let moved = match (&next, &tag_facts) {
        (Some(next), Some(facts)) => {
            let sending = Sending {
                environment: next,
                tag: &tag,
                digests: &digests,
                auto_promote: true,
                require_correlation: false,
            };
            let dispatching = workflow.as_ref().map(|w| (&sending, w));
            Some(
                super::move_tag(
                    inputs,
                    io,
                    progress,
                    report,
                    next,
                    &tag,
                    &digests,
                    facts,
                    dispatching,
                )
                .await,
            )
        }
        _ => None,
    };
    if matches!(moved, Some(Ok(_))) && !inputs.dry_run {
        report.promoted = true;
    }
    let next = next.filter(|_| !matches!(moved, Some(Err(_))));

    // Act: dispatch the next environment, while the record is written and read.
    let github = io.github;
    let dispatching = async {
        let (Some(next), Some(target), Some(github), Some(workflow)) =
            (&next, &inputs.dispatch.target, github, &workflow)
        else {
            return Ok(None);
        };
        let sending = Sending {
            environment: next,
            tag: &tag,
            digests: &digests,
            auto_promote: true,
            require_correlation: false,
        };
        let id = act::correlation_id();
        super::dispatch(
            inputs, github, target, workflow, &sending, &id, progress, report,
        )
        .await
        .map(|plan| Some((next.clone(), plan)))
    };
    let recording = async {
        match (&entry, github) {
            (Some(entry), Some(github)) => Some(act::record::create(github, entry).await),
            _ => None,
        }
    };
    let mut for_summary = records.clone();
    let reading = super::statuses(github, &mut for_summary, Some(&digests));
    // ── Delivery metrics (delivery.rs): at the end of the chain, read alongside. ──
    let delivery = super::delivery::figures_at_end(inputs, github, entry.as_ref());
    let (dispatched, created, unread, (metrics, chart)) =
        tokio::join!(dispatching, recording, reading, delivery);
    (report.metrics, report.chart) = (metrics, chart);
    // ── end of delivery metrics ──
    records = for_summary;
    if let Some(w) = unread {
        report.warnings.push(w);
    }
    let finished = match (created, &entry, github) {
        (Some(Ok(deployment)), Some(entry), Some(github)) => {
            Some(act::record::finish(github, &deployment, entry).await)
        }
        (Some(Err(e)), _, _) => Some(Err(e)),
        _ => None,
    };
    match finished {
        Some(Ok(written)) => report.record = Some(written),
        Some(Err(e)) => report.warnings.push(e),
        None => {}
    }
    report.previous = super::previous(&records, inputs, report);
    report.environments = decide::environments(
        inputs,
        &records,
        now,
        Some(decide::Deployed {
            tag: &tag,
            digests: &digests,
            sha: entry
                .as_ref()
                .map(|e| e.sha.clone())
                .or_else(|| record::commit_for(&records, &digests, &inputs.run)),
        }),
    );

    let moved = moved.transpose()?;
    let and_tag = moved.as_ref().map(|m| format!("; {m}")).unwrap_or_default();
    let dispatched = dispatched.map_err(|f| match &moved {
        Some(m) => Failure {
            message: format!("{m}, but {}", f.message),
            ..f
        },
        None => f,
    });
    match dispatched? {
        Some((next, plan)) if inputs.dry_run => {
            report.succeed(
                ResultCode::DryRun,
                format!(
                    "dry run: `{tag}` verified and `{}` would accept the dispatch of `{next}` on `{}`{and_tag}; nothing was dispatched, tagged or recorded",
                    plan.workflow, plan.git_ref
                ),
            );
        }
        Some((next, plan)) => {
            report.promoted = true;
            report.succeed(
                ResultCode::Promoted,
                decide::promoted_message(&tag, &plan, &next, report.run.as_ref()) + &and_tag,
            );
            if inputs.dispatch.wait_for != WaitFor::None
                && let Some(github) = github
            {
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
        }
        None => match moved {
            Some(m) if inputs.dry_run => report.succeed(
                ResultCode::DryRun,
                format!("dry run: `{tag}` verified; {m}; nothing was tagged or recorded"),
            ),
            Some(m) => report.succeed(ResultCode::Promoted, format!("`{tag}` verified; {m}")),
            None => {}
        },
    }
    Ok(())
}

/// The deploy of `environment` failed, or its image did not pass: record it, and roll back
/// when asked.
#[allow(clippy::too_many_arguments)]
async fn failed<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
    records: &mut Records,
    workflow: Option<crate::gather::WorkflowFacts>,
    tag: &str,
    digests: &std::collections::BTreeMap<String, String>,
    promotion_id: &str,
    failure: Failure,
) -> Result<(), Failure> {
    if let Some(w) = super::statuses(io.github, records, None).await {
        report.warnings.push(w);
    }
    report.previous = super::previous(records, inputs, report);
    let state = record::state_of(failure.result, false);
    // A dry run writes nothing: no record, no rollback, no hold.
    let entry = (inputs.record.enabled && !inputs.dry_run)
        .then(|| {
            record::promote_entry(
                inputs,
                records,
                tag,
                digests,
                state,
                promotion_id,
                format!("{tag}: {}", failure.result.as_str()),
            )
        })
        .flatten();
    let written = match (&entry, io.github) {
        (Some(entry), Some(github)) => match act::record::write(github, entry).await {
            Ok(written) => Some(written),
            Err(e) => {
                report.warnings.push(e);
                None
            }
        },
        _ => None,
    };
    report.record = written.clone();
    report.environments = decide::environments(inputs, records, crate::text::now_epoch(), None);

    let env = &inputs.environment;
    let history = records.of(env);
    let rolls_back = inputs.record.rollback_on_failure
        && state == "failure"
        && !record::is_rollback_deploy(&inputs.run, history);
    if !rolls_back {
        if inputs.record.rollback_on_failure && record::is_rollback_deploy(&inputs.run, history) {
            log::note("this deploy was itself a rollback: it is not rolled back again");
        }
        return Err(failure);
    }

    // Roll back: what the environment ran before this run.
    let target = match rollback::after_failure(env, history) {
        Ok(target) => target,
        Err(none) => {
            return Err(Failure {
                message: format!("{}; no rollback: {}", failure.message, none.message),
                ..failure
            });
        }
    };
    let this_run = std::mem::take(&mut report.images);
    let checked = super::check_rollback_target(inputs, io, report, &target).await;
    let target_digests = report.digests().unwrap_or_else(|| target.digests.clone());
    // The report (outputs, summary) shows this run's image, not the one it goes back to.
    report.image_tag = Some(tag.to_string());
    report.images = this_run;
    if let Err(problem) = checked {
        return Err(Failure {
            message: format!("{}; no rollback: {}", failure.message, problem.message),
            fix: format!("{}; {}", failure.fix, problem.fix),
            ..failure
        });
    }
    let facts = super::tag_facts(inputs, io.registry, Some(env)).await;
    let done = super::rollback::carry_out(
        inputs,
        io,
        progress,
        report,
        records,
        workflow.as_ref(),
        facts.as_deref(),
        &target.tag,
        &target_digests,
        written.as_ref().map(|r| r.id),
        format!(
            "rollback to {} after {}",
            target.tag,
            failure.result.as_str()
        ),
    )
    .await;
    let moved = match done {
        Ok(done) => done.moved,
        Err(not) => {
            return Err(Failure {
                message: format!("{}; {}: {}", failure.message, not.what, not.failure.message),
                fix: not.failure.fix,
                ..failure
            });
        }
    };
    if inputs.dry_run {
        return Err(Failure {
            message: format!(
                "{}; dry run: `{env}` would go back to `{}`{moved} and be held; nothing was dispatched, tagged or recorded",
                failure.message, target.tag
            ),
            ..failure
        });
    }
    report.fail(Failure::new(
        ResultCode::RolledBack,
        format!(
            "{}; rolled `{env}` back to `{}`{moved} and held it: automatic promotions into it stop",
            failure.message, target.tag
        ),
        format!(
            "{}; then promote `{env}` by hand (Run workflow), which lifts the hold",
            failure.fix
        ),
    ));
    Ok(())
}
