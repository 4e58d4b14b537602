//! The image as the registry answered: one row per repository, the tag verified, or why not.

use crate::config::Inputs;
use crate::ecr::{Lookup, RegistryError, Resolved};
use crate::gather::ImageAnswers;
use crate::outcome::{Failure, ImageRow, ImageState, ResultCode};
use crate::text::brief_list;

use super::NAMED;

/// The image as the registry answered: one row per repository, the tag that was verified (the
/// resolved tag with `tag-match: prefix`), or why it was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    pub rows: Vec<ImageRow>,
    pub tag: String,
    pub failure: Option<Failure>,
}

/// Read the first round's image answers.
pub fn image(inputs: &Inputs, wanted: &str, answers: ImageAnswers) -> ImageVerdict {
    let repos = &inputs.image.repositories;
    let row = |i: usize, state: ImageState| ImageRow {
        name: repos[i].name.clone(),
        display: repos[i].display(),
        state,
        checks: Vec::new(),
    };
    match answers {
        ImageAnswers::Exact(answers) => {
            let rows: Vec<ImageRow> = answers
                .into_iter()
                .enumerate()
                .map(|(i, answer)| {
                    row(
                        i,
                        match answer {
                            Ok(Lookup::Found(info)) => ImageState::Found(info),
                            Ok(Lookup::TagMissing { suggestions }) => {
                                ImageState::TagMissing { suggestions }
                            }
                            Ok(Lookup::RepositoryMissing) => ImageState::RepositoryMissing,
                            Err(e) => unknown(&e),
                        },
                    )
                })
                .collect();
            let failure = unknown_failure(&rows).or_else(|| missing_failure(wanted, &rows));
            ImageVerdict {
                rows,
                tag: wanted.to_string(),
                failure,
            }
        }
        ImageAnswers::Prefix(answers) => {
            let mut tags: Vec<(String, String)> = Vec::new();
            let rows: Vec<ImageRow> = answers
                .into_iter()
                .enumerate()
                .map(|(i, answer)| {
                    row(
                        i,
                        match answer {
                            Ok(Resolved::Found { tag, info, .. }) => {
                                tags.push((repos[i].display(), tag));
                                ImageState::Found(info)
                            }
                            Ok(Resolved::NoMatch { .. }) => ImageState::TagMissing {
                                suggestions: Vec::new(),
                            },
                            Ok(Resolved::RepositoryMissing) => ImageState::RepositoryMissing,
                            Err(e) => unknown(&e),
                        },
                    )
                })
                .collect();
            let failure = unknown_failure(&rows)
                .or_else(|| prefix_missing_failure(wanted, &rows))
                .or_else(|| disagreement(wanted, &tags));
            let tag = match (&failure, tags.first()) {
                (None, Some((_, tag))) => tag.clone(),
                _ => wanted.to_string(),
            };
            ImageVerdict { rows, tag, failure }
        }
    }
}

/// A registry error wins over a missing tag: a missing tag cannot be trusted when another
/// repository could not be checked at all.
fn unknown_failure(rows: &[ImageRow]) -> Option<Failure> {
    let unknown: Vec<(&ImageRow, &String, &String)> = rows
        .iter()
        .filter_map(|r| match &r.state {
            ImageState::Unknown { error, fix } => Some((r, error, fix)),
            _ => None,
        })
        .collect();
    let (first, error, fix) = unknown.first()?;
    let names: Vec<String> = unknown.iter().map(|(r, _, _)| r.display.clone()).collect();
    Some(
        Failure::new(
            ResultCode::Error,
            format!(
                "could not check {} in ECR: {error}",
                if names.len() == 1 {
                    format!("`{}`", first.display)
                } else {
                    brief_list(&names, NAMED)
                }
            ),
            (*fix).clone(),
        )
        .with_details(
            unknown
                .iter()
                .map(|(r, e, _)| format!("{}: {e}", r.display))
                .collect(),
        ),
    )
}

fn missing_failure(tag: &str, rows: &[ImageRow]) -> Option<Failure> {
    let missing: Vec<&ImageRow> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                ImageState::TagMissing { .. } | ImageState::RepositoryMissing
            )
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let details = missing
        .iter()
        .map(|r| match &r.state {
            ImageState::TagMissing { suggestions } if suggestions.is_empty() => {
                format!("{}: no tag `{tag}` and no similar tag", r.display)
            }
            ImageState::TagMissing { suggestions } => format!(
                "{}: no tag `{tag}`; nearest existing: {}",
                r.display,
                suggestions.join(", ")
            ),
            _ => format!(
                "{}: the repository does not exist (check the name, aws-region and registry-id)",
                r.display
            ),
        })
        .collect();
    let names: Vec<String> = missing
        .iter()
        .map(|r| match r.state {
            ImageState::RepositoryMissing => {
                format!("{} (the repository does not exist)", r.display)
            }
            _ => r.display.clone(),
        })
        .collect();
    let nearest: Option<&Vec<String>> = missing.iter().find_map(|r| match &r.state {
        ImageState::TagMissing { suggestions } if !suggestions.is_empty() => Some(suggestions),
        _ => None,
    });
    let message = format!(
        "image `{tag}` is missing from {} of {} repositories: {}{}",
        missing.len(),
        rows.len(),
        brief_list(&names, NAMED),
        nearest
            .map(|tags| format!(
                "; nearest existing: {}",
                tags.iter()
                    .take(NAMED)
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .unwrap_or_default()
    );
    let fix = if nearest.is_some() {
        "promote a tag that exists (the nearest are listed) or push the image first; nothing was dispatched"
    } else {
        "push the image with this tag to every listed repository, or fix `image-tag`/`ecr-repositories` (and `aws-region`, `registry-id`); nothing was dispatched"
    };
    Some(Failure::new(ResultCode::ImageMissing, message, fix).with_details(details))
}

fn prefix_missing_failure(prefix: &str, rows: &[ImageRow]) -> Option<Failure> {
    let details: Vec<String> = rows
        .iter()
        .filter_map(|r| match r.state {
            ImageState::TagMissing { .. } => Some(format!(
                "{}: no ACTIVE tag starts with `{prefix}`",
                r.display
            )),
            ImageState::RepositoryMissing => Some(format!(
                "{}: the repository does not exist (check the name, aws-region and registry-id)",
                r.display
            )),
            _ => None,
        })
        .collect();
    if details.is_empty() {
        return None;
    }
    let names: Vec<String> = details
        .iter()
        .map(|d| d.split(": ").next().unwrap_or_default().to_string())
        .collect();
    Some(
        Failure::new(
            ResultCode::ImageMissing,
            format!(
                "prefix `{prefix}` matches no image in {} of {} repositories: {}",
                details.len(),
                rows.len(),
                brief_list(&names, NAMED)
            ),
            "push an image with a tag starting with the prefix, or fix `image-tag`",
        )
        .with_details(details),
    )
}

fn disagreement(prefix: &str, tags: &[(String, String)]) -> Option<Failure> {
    let (first_repo, first) = tags.first()?;
    let (other_repo, other) = tags.iter().find(|(_, t)| t != first)?;
    Some(Failure::new(
        ResultCode::ImageMissing,
        format!(
            "prefix `{prefix}` resolves to `{first}` in {first_repo} but to `{other}` in {other_repo}: the repositories disagree on the newest image"
        ),
        "push the same tag to every repository, or give the exact tag in `image-tag` with `tag-match: exact`",
    ))
}

/// A repository ECR could not answer for: the error, and its fix.
fn unknown(e: &RegistryError) -> ImageState {
    ImageState::Unknown {
        error: e.to_string(),
        fix: e.fix(),
    }
}
