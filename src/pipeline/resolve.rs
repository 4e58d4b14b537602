//! `mode: resolve`, before the deploy of `environment`: decide exactly which image the deploy
//! may use, and prove it may enter. Nothing is dispatched or recorded.

use std::collections::BTreeMap;

use crate::config::{Inputs, TagMatch};
use crate::decide;
use crate::ecr::Registry;
use crate::github::GitHub;
use crate::outcome::{Failure, ImageState, Phase, Report, ResultCode};
use crate::record::History;
use crate::report::log;
use crate::runtime::Progress;
use crate::text::short_digest;
use crate::web::Web;

use super::{Adapters, Gates};

pub(super) async fn run<R: Registry, G: GitHub, W: Web>(
    inputs: &Inputs,
    io: &Adapters<'_, R, G, W>,
    progress: &Progress,
    report: &mut Report,
    now: i64,
) -> Result<(), Failure> {
    let env = &inputs.environment;
    let rules = &inputs.rules;
    let previous = inputs.previous_environment();
    // The environments whose record a rule reads.
    let mut environments: Vec<String> = Vec::new();
    let mut want = |e: Option<&str>| {
        if let Some(e) = e
            && !environments.iter().any(|x| x == e)
        {
            environments.push(e.to_string());
        }
    };
    if !inputs.run.started_by_person() {
        want(Some(env));
    }
    if rules.require_upstream || rules.soak.before(env).is_some() {
        want(previous);
    }
    want(rules.from_environment.as_deref());
    let needs_record = rules.from_environment.is_some()
        || (previous.is_some() && (rules.require_upstream || rules.soak.before(env).is_some()));

    progress.enter(Phase::Registry, None);
    let (tag, records) = match (&inputs.image.tag, &rules.from_environment) {
        (Some(typed), _) => {
            // One round: the image and the record.
            let (checked, listed) = tokio::join!(
                super::verify(
                    inputs,
                    io,
                    report,
                    typed,
                    inputs.image.tag_match,
                    Gates::Image
                ),
                super::lists(io.github, &environments)
            );
            let records = if needs_record {
                super::records_or_fail(listed, "a rule")?
            } else {
                super::records_or_warn(listed, report)
            };
            (checked?, records)
        }
        (None, Some(from)) => {
            // The image another environment runs: its record first, then ECR.
            let listed = super::lists(io.github, &environments).await;
            let mut records =
                super::records_or_fail(listed, &format!("`from-environment: {from}`"))?;
            if let Some(w) = super::statuses(io.github, &mut records, None).await {
                return Err(Failure::new(
                    ResultCode::Error,
                    w,
                    "give the job `permissions: deployments: read`",
                ));
            }
            let current = records.of(from).and_then(History::current).ok_or_else(|| {
                Failure::new(
                    ResultCode::ImageMissing,
                    format!("`{from}` has no successful record: no image runs there to take"),
                    format!("promote an image to `{from}` first, or give `image-tag`"),
                )
            })?;
            let (from_tag, from_digests) = (
                current.payload.image_tag.clone(),
                current.payload.image_digests.clone(),
            );
            log::line(&format!(
                "`{from}` runs `{from_tag}` (deployment {})",
                current.id
            ));
            let tag =
                super::verify(inputs, io, report, &from_tag, TagMatch::Exact, Gates::Image).await?;
            moved_since(&report.images, from, &from_tag, &from_digests)?;
            (tag, records)
        }
        (None, None) => {
            return Err(Failure::new(
                ResultCode::InvalidInput,
                "no image to resolve: `image-tag` and `from-environment` are both empty",
                "give `image-tag`, or `from-environment`",
            ));
        }
    };
    let mut records = records;
    let digests = report.digests().unwrap_or_default();
    report.checks.push(format!(
        "`{tag}` is in every repository ({})",
        digests_text(&digests)
    ));

    // The record's statuses, for the rules that read them.
    if needs_record && let Some(w) = super::statuses(io.github, &mut records, Some(&digests)).await
    {
        return Err(Failure::new(
            ResultCode::Error,
            w,
            "give the job `permissions: deployments: read`",
        ));
    }
    // What `environment` runs now, when its record was read (it is what this deploy replaces).
    report.previous = super::previous(&records, inputs, report);
    let refusal = decide::rules::frozen(inputs, env, now)
        .or_else(|| decide::rules::held(records.of(env), env, Some(&digests), &inputs.run))
        .or_else(|| decide::rules::upstream(inputs, env, &digests, &records))
        .or_else(|| decide::rules::soak(inputs, env, &digests, &records, now));
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    if !inputs.rules.freeze.is_empty() {
        report.checks.push(format!("`{env}` is not frozen"));
    }
    if let Some(previous) = previous.filter(|_| rules.require_upstream) {
        report
            .checks
            .push(format!("it ran successfully in `{previous}`"));
    }
    if let Some(soak) = rules.soak.before(env) {
        report.checks.push(format!(
            "it has soaked in `{}` for {} or more",
            previous.unwrap_or_default(),
            crate::text::format_duration(soak)
        ));
    }
    report.succeed(
        ResultCode::Resolved,
        format!(
            "`{tag}` ({}) may enter `{env}`: deploy this tag and digest",
            digests_text(&digests)
        ),
    );
    Ok(())
}

fn digests_text(digests: &BTreeMap<String, String>) -> String {
    let mut values: Vec<String> = digests.values().map(|d| short_digest(d)).collect();
    values.dedup();
    values.join(", ")
}

/// The tag another environment's record names must still name the image it runs.
fn moved_since(
    rows: &[crate::outcome::ImageRow],
    from: &str,
    tag: &str,
    expected: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let moved: Vec<String> = rows
        .iter()
        .filter_map(|row| match (&row.state, expected.get(&row.name)) {
            (ImageState::Found(info), Some(want)) if info.digest != *want => Some(format!(
                "{}: `{tag}` now names {}, `{from}` runs {want}",
                row.display, info.digest
            )),
            _ => None,
        })
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        ResultCode::ImageChanged,
        format!(
            "the tag `{from}` runs was moved since: {}",
            crate::text::brief_list(&moved, 2)
        ),
        format!("deploy `{from}`'s image by digest, or re-push it under `{tag}`"),
    )
    .with_details(moved))
}
