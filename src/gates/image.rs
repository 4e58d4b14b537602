//! The image gates, after the tag was found in every repository: status, expected digest,
//! platforms and scan findings.

use std::collections::BTreeMap;

use futures_util::future::join_all;

use super::{Context, Verdict};
use crate::ecr::{Registry, Scan, has_platform};
use crate::model::Severity;
use crate::outcome::{Failure, ImageState, ResultCode};
use crate::report::log;
use crate::text::{brief_list, format_duration};

/// Archived images cannot be pulled.
pub(super) fn status<R, W>(ctx: &Context<'_, R, W>) -> Verdict {
    let mut verdict = Verdict::default();
    let mut unavailable = Vec::new();
    for (i, row) in ctx.images.iter().enumerate() {
        if let ImageState::Found(info) = &row.state {
            let status = info.status.as_deref().unwrap_or("ACTIVE");
            verdict.notes.push((i, status.to_string()));
            if status != "ACTIVE" {
                unavailable.push(format!("{}: `{}` is {status}", row.display, ctx.tag));
            }
        }
    }
    if !unavailable.is_empty() {
        verdict.failure = Some(Failure::new(
            ResultCode::ImageUnavailable,
            format!("image `{}` cannot be pulled: {}", ctx.tag, brief_list(&unavailable, 3)),
            "restore the image (an archived image: ECR console → the image → Restore, or `aws ecr update-image-storage-class`), or promote another tag",
        ).with_details(unavailable));
    }
    verdict
}

/// The tag must still point where the previous stage saw it.
pub(super) fn expected_digest<R, W>(ctx: &Context<'_, R, W>) -> Verdict {
    let Some(expected) = &ctx.inputs.image.expected_digest else {
        return Verdict::default();
    };
    let changed: Vec<String> = ctx
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
    if changed.is_empty() {
        log::ok(&format!(
            "`{}` still points at the expected digest in every repository",
            ctx.tag
        ));
        return Verdict::default();
    }
    Verdict::failed(
        Failure::new(
            ResultCode::ImageChanged,
            format!(
                "tag `{}` was moved since the previous stage verified it: {}",
                ctx.tag,
                brief_list(&changed, 2)
            ),
            "promote the image the previous stage verified (re-push that digest under the tag), or start the chain again from its first environment",
        )
        .with_details(changed),
    )
}

/// Every required platform in each image index.
pub(super) async fn platforms<R: Registry, W>(ctx: &Context<'_, R, W>) -> Verdict {
    let required = &ctx.inputs.image.required_platforms;
    let found = ctx.found();
    let answers = join_all(
        found
            .iter()
            .map(|(_, repo, digest)| ctx.registry.platforms(repo, digest)),
    )
    .await;
    let mut verdict = Verdict::default();
    let mut problems = Vec::new();
    for ((i, _, _), answer) in found.iter().zip(answers) {
        let row = &ctx.images[*i];
        match answer {
            Err(e) => {
                verdict.failure = Some(Failure::new(
                    ResultCode::Error,
                    format!("could not read the image index of `{}`: {e}", row.display),
                    e.fix(),
                ));
                return verdict;
            }
            Ok(None) => problems.push(format!(
                "{}: `{}` is a single-platform image, not an index listing {}",
                row.display,
                ctx.tag,
                required.join(", ")
            )),
            Ok(Some(platforms)) => {
                let missing: Vec<&str> = required
                    .iter()
                    .filter(|p| !has_platform(&platforms, p))
                    .map(String::as_str)
                    .collect();
                verdict.notes.push((*i, platforms.join(", ")));
                if !missing.is_empty() {
                    problems.push(format!(
                        "{}: `{}` lacks {} (it has {})",
                        row.display,
                        ctx.tag,
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
    if problems.is_empty() {
        log::ok(&format!("every image lists {}", required.join(", ")));
        return verdict;
    }
    verdict.failure = Some(
        Failure::new(
            ResultCode::ImageUnavailable,
            format!(
                "image `{}` is missing required platforms: {}",
                ctx.tag,
                brief_list(&problems, 2)
            ),
            "build and push the image for every platform in `required-platforms` (docker buildx build --platform ...)",
        )
        .with_details(problems),
    );
    verdict
}

/// No scan findings at or above the threshold; a scan in progress is waited for.
pub(super) async fn scan<R: Registry, W>(ctx: &Context<'_, R, W>) -> Verdict {
    let Some(threshold) = ctx.inputs.image.fail_on_severity else {
        return Verdict::default();
    };
    let wait = ctx.inputs.image.scan_wait;
    let found = ctx.found();
    let answers = join_all(
        found
            .iter()
            .map(|(_, repo, digest)| ctx.registry.scan(repo, digest, wait)),
    )
    .await;
    let mut verdict = Verdict::default();
    let mut total: BTreeMap<String, u64> = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    let tag = ctx.tag;
    for ((i, _, _), answer) in found.iter().zip(answers) {
        let row = &ctx.images[*i];
        let trouble = match answer {
            Err(e) => Some((format!("could not read the scan of `{}`: {e}", row.display), e.fix())),
            Ok(Scan::Missing) => Some((
                format!("`{}` has no scan of `{tag}`", row.display),
                "turn on scan on push for the repository, or start a scan: aws ecr start-image-scan --repository-name NAME --image-id imageTag=TAG".into(),
            )),
            Ok(Scan::Failed(why)) => Some((
                format!("the scan of `{tag}` in `{}` did not complete: {why}", row.display),
                "start a new scan (aws ecr start-image-scan), or check that the image's OS is supported by ECR scanning".into(),
            )),
            Ok(Scan::InProgress) => Some((
                format!("the scan of `{tag}` in `{}` was still in progress after {} (`scan-wait`)", row.display, format_duration(wait)),
                "re-run once the scan completes, or raise `scan-wait`".into(),
            )),
            Ok(Scan::Complete(counts)) => {
                let shown: Vec<String> = counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
                verdict.notes.push((*i, if shown.is_empty() { "no findings".into() } else { shown.join(", ") }));
                for (k, n) in counts {
                    *total.entry(k).or_default() += n;
                }
                None
            }
        };
        if let Some((message, fix)) = trouble {
            verdict.vulnerabilities = Some(total);
            verdict.failure = Some(Failure::new(ResultCode::Error, message, fix));
            return verdict;
        }
    }
    let blocking: Vec<String> = total
        .iter()
        .filter(|(k, n)| **n > 0 && Severity::from_ecr(k).is_some_and(|s| s >= threshold))
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    verdict.vulnerabilities = Some(total);
    if blocking.is_empty() {
        log::ok(&format!("no findings at or above {}", threshold.as_str()));
    } else {
        verdict.failure = Some(Failure::new(
            ResultCode::Vulnerable,
            format!(
                "image `{tag}` has findings at or above {}: {}",
                threshold.as_str(),
                blocking.join(", ")
            ),
            "fix the findings and push a new image, or raise `fail-on-severity` knowingly",
        ));
    }
    verdict
}
