//! Verify the image in ECR: the tag (exact or by prefix) in every repository, then the image
//! gates (status, expected digest, platforms, vulnerabilities).

use futures_util::future::join_all;

use crate::Failure;
use crate::ecr::{Lookup, Registry, Resolved, Scan, has_platform};
use crate::inputs::{self, Inputs, Severity};
use crate::outcome::{ImageRow, ImageState, Report, ResultCode};
use crate::report::one_line;

pub(crate) async fn verify<R: Registry>(inputs: &Inputs, registry: &R) -> Vec<ImageRow> {
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
                        one_line(&info.digest),
                        one_line(info.pushed_at.as_deref().unwrap_or("at an unknown time"))
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
                checks: Vec::new(),
            }
        })
        .collect()
}

/// `tag-match: prefix`: the newest tag starting with `image-tag`, the same in every repository.
pub(crate) async fn resolve_prefix<R: Registry>(
    inputs: &Inputs,
    registry: &R,
) -> (Vec<ImageRow>, String, Option<Failure>) {
    let prefix = &inputs.image_tag;
    let answers = join_all(
        inputs
            .repositories
            .iter()
            .map(|repo| registry.resolve_prefix(repo, prefix)),
    )
    .await;
    let mut rows = Vec::new();
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut missing = Vec::new();
    let mut error = None;
    for (repo, answer) in inputs.repositories.iter().zip(answers) {
        let display = repo.display();
        let state = match answer {
            Ok(Resolved::Found { tag, info, pages }) => {
                println!(
                    "✔ {}: `{prefix}…` → {} → {} ({pages} page(s) read)",
                    one_line(&display),
                    one_line(&tag),
                    one_line(&info.digest)
                );
                tags.push((display.clone(), tag));
                ImageState::Found(info)
            }
            Ok(Resolved::NoMatch { pages }) => {
                println!(
                    "✘ {}: no ACTIVE tag starts with {prefix} ({pages} page(s) read)",
                    one_line(&display)
                );
                missing.push(format!("{display}: no ACTIVE tag starts with `{prefix}`"));
                ImageState::TagMissing {
                    suggestions: Vec::new(),
                }
            }
            Ok(Resolved::RepositoryMissing) => {
                missing.push(format!("{display}: the repository does not exist (check the name, aws-region and registry-id)"));
                ImageState::RepositoryMissing
            }
            Err(e) => {
                println!("✘ {}: {}", one_line(&display), one_line(&e.to_string()));
                error.get_or_insert((display.clone(), e.to_string(), e.fix().to_string()));
                ImageState::Unknown {
                    error: e.to_string(),
                    fix: e.fix().to_string(),
                }
            }
        };
        rows.push(ImageRow {
            name: repo.name.clone(),
            display,
            state,
            checks: Vec::new(),
        });
    }
    if let Some((display, error, fix)) = error {
        let message = format!("could not check `{display}` in ECR: {error}");
        return (
            rows,
            prefix.clone(),
            Some((ResultCode::Error, message, fix, Vec::new())),
        );
    }
    if !missing.is_empty() {
        let message = format!(
            "prefix `{prefix}` matches no image in {} of {} repositories: {}",
            missing.len(),
            rows.len(),
            missing[0]
        );
        let fix =
            "push an image with a tag starting with the prefix, or fix `image-tag`".to_string();
        return (
            rows,
            prefix.clone(),
            Some((
                ResultCode::ImageMissing,
                message,
                fix,
                missing[1..].to_vec(),
            )),
        );
    }
    let first = tags[0].1.clone();
    if let Some((display, other)) = tags.iter().find(|(_, t)| *t != first) {
        let message = format!(
            "prefix `{prefix}` resolves to `{first}` in {} but to `{other}` in {display}: the repositories disagree on the newest image",
            tags[0].0
        );
        let fix = "push the same tag to every repository, or give the exact tag in `image-tag` with `tag-match: exact`".to_string();
        return (
            rows,
            prefix.clone(),
            Some((ResultCode::ImageMissing, message, fix, Vec::new())),
        );
    }
    (rows, first, None)
}

/// The gates after the tag was found: status, expected digest, platforms, vulnerabilities.
pub(crate) async fn gates<R: Registry>(
    inputs: &Inputs,
    registry: &R,
    tag: &str,
    report: &mut Report,
) -> Option<Failure> {
    let found: Vec<(usize, String)> = report
        .images
        .iter()
        .enumerate()
        .filter_map(|(i, row)| match &row.state {
            ImageState::Found(info) => Some((i, info.digest.clone())),
            _ => None,
        })
        .collect();

    // Archived images cannot be pulled.
    let mut unavailable = Vec::new();
    for row in &mut report.images {
        if let ImageState::Found(info) = &row.state {
            let status = info.status.as_deref().unwrap_or("ACTIVE");
            row.checks.push(status.to_string());
            if status != "ACTIVE" {
                unavailable.push(format!("{}: `{tag}` is {status}", row.display));
            }
        }
    }
    if !unavailable.is_empty() {
        return Some((
            ResultCode::ImageUnavailable,
            format!("image `{tag}` cannot be pulled: {}", unavailable.join("; ")),
            "restore the image (an archived image: ECR console → the image → Restore, or `aws ecr update-image-storage-class`), or promote another tag".into(),
            Vec::new(),
        ));
    }

    // The tag must still point where the previous stage saw it.
    if let Some(expected) = &inputs.expected_digest {
        let changed: Vec<String> = report
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
        if let Some(first) = changed.first() {
            return Some((
                ResultCode::ImageChanged,
                format!("tag `{tag}` was moved since the previous stage verified it: {first}"),
                "promote the image the previous stage verified (re-push that digest under the tag), or start the chain again from its first environment".into(),
                changed[1..].to_vec(),
            ));
        }
        println!("✔ `{tag}` still points at the expected digest in every repository");
    }

    // Every required platform in the image index.
    if !inputs.required_platforms.is_empty() {
        let repos = found_repositories(inputs, &found);
        let answers = join_all(
            repos
                .iter()
                .map(|(repo, digest)| registry.platforms(repo, digest)),
        )
        .await;
        let mut problems = Vec::new();
        for ((i, _), answer) in found.iter().zip(answers) {
            let row = &mut report.images[*i];
            match answer {
                Err(e) => {
                    return Some((
                        ResultCode::Error,
                        format!("could not read the image index of `{}`: {e}", row.display),
                        e.fix().into(),
                        Vec::new(),
                    ));
                }
                Ok(None) => problems.push(format!(
                    "{}: `{tag}` is a single-platform image, not an index listing {}",
                    row.display,
                    inputs.required_platforms.join(", ")
                )),
                Ok(Some(platforms)) => {
                    let missing: Vec<&str> = inputs
                        .required_platforms
                        .iter()
                        .filter(|p| !has_platform(&platforms, p))
                        .map(String::as_str)
                        .collect();
                    row.checks.push(platforms.join(", "));
                    if !missing.is_empty() {
                        problems.push(format!(
                            "{}: `{tag}` lacks {} (it has {})",
                            row.display,
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
        if let Some(first) = problems.first() {
            return Some((
                ResultCode::ImageUnavailable,
                format!("image `{tag}` is missing required platforms: {first}"),
                "build and push the image for every platform in `required-platforms` (docker buildx build --platform ...)".into(),
                problems[1..].to_vec(),
            ));
        }
        println!(
            "✔ every image lists {}",
            inputs.required_platforms.join(", ")
        );
    }

    // Vulnerability findings at or above the threshold.
    if let Some(threshold) = inputs.fail_on_severity {
        let repos = found_repositories(inputs, &found);
        let answers = join_all(
            repos
                .iter()
                .map(|(repo, digest)| registry.scan(repo, digest, inputs.scan_wait)),
        )
        .await;
        let mut total: std::collections::BTreeMap<String, u64> =
            ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
                .iter()
                .map(|s| (s.to_string(), 0))
                .collect();
        for ((i, _), answer) in found.iter().zip(answers) {
            let row = &mut report.images[*i];
            let wait = inputs::format_duration(inputs.scan_wait);
            let trouble = match answer {
                Err(e) => Some((format!("could not read the scan of `{}`: {e}", row.display), e.fix().to_string())),
                Ok(Scan::Missing) => Some((
                    format!("`{}` has no scan of `{tag}`", row.display),
                    "turn on scan on push for the repository, or start a scan: aws ecr start-image-scan --repository-name NAME --image-id imageTag=TAG".into(),
                )),
                Ok(Scan::Failed(why)) => Some((
                    format!("the scan of `{tag}` in `{}` did not complete: {why}", row.display),
                    "start a new scan (aws ecr start-image-scan), or check that the image's OS is supported by ECR scanning".into(),
                )),
                Ok(Scan::InProgress) => Some((
                    format!("the scan of `{tag}` in `{}` was still in progress after {wait} (`scan-wait`)", row.display),
                    "re-run once the scan completes, or raise `scan-wait`".into(),
                )),
                Ok(Scan::Complete(counts)) => {
                    let shown: Vec<String> = counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
                    row.checks.push(if shown.is_empty() { "no findings".into() } else { shown.join(", ") });
                    for (k, n) in counts {
                        *total.entry(k).or_default() += n;
                    }
                    None
                }
            };
            if let Some((message, fix)) = trouble {
                report.vulnerabilities = Some(total);
                return Some((ResultCode::Error, message, fix, Vec::new()));
            }
        }
        let blocking: Vec<String> = total
            .iter()
            .filter(|(k, n)| **n > 0 && Severity::from_ecr(k).is_some_and(|s| s >= threshold))
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        report.vulnerabilities = Some(total);
        if !blocking.is_empty() {
            return Some((
                ResultCode::Vulnerable,
                format!(
                    "image `{tag}` has findings at or above {}: {}",
                    threshold.as_str(),
                    blocking.join(", ")
                ),
                "fix the findings and push a new image, or raise `fail-on-severity` knowingly"
                    .into(),
                Vec::new(),
            ));
        }
        println!("✔ no findings at or above {}", threshold.as_str());
    }
    None
}

/// The repository and digest of each image found, by row.
fn found_repositories<'a>(
    inputs: &'a Inputs,
    found: &'a [(usize, String)],
) -> Vec<(&'a crate::inputs::Repository, &'a String)> {
    found
        .iter()
        .map(|(i, d)| (&inputs.repositories[*i], d))
        .collect()
}

/// Why the verification failed, if it did: a registry error wins over a missing tag, since a
/// missing tag cannot be trusted when another repository could not be checked at all.
pub(crate) fn verification_failure(tag: &str, rows: &[ImageRow]) -> Option<Failure> {
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
