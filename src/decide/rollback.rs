//! Which image a rollback goes back to, and whether it still can.

use std::collections::BTreeMap;

use crate::outcome::{Failure, ImageRow, ImageState, ResultCode};
use crate::record::History;
use crate::text::brief_list;

/// The image a rollback dispatches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tag: String,
    /// The digests the record holds for it; empty for a `rollback-to` tag with no record.
    pub digests: BTreeMap<String, String>,
    /// The record it replaces: the environment's current one.
    pub replaces: Option<u64>,
}

/// `mode: rollback`: `rollback-to`, or the newest successful record older than the current
/// one, of another image.
pub fn target(
    environment: &str,
    history: Option<&History>,
    rollback_to: Option<&str>,
) -> Result<Target, Failure> {
    let current = history.and_then(History::current);
    if let Some(tag) = rollback_to {
        // A record of that tag gives its digests, to check the tag was not moved since.
        let known = history.and_then(|h| {
            h.records
                .iter()
                .find(|r| r.is_success() && r.payload.image_tag == tag)
        });
        // It replaces the current image, or, when none succeeded, the newest record (a failed
        // deploy): `rollback_of` marks the record a rollback, for people and the metrics.
        let replaces = current
            .or_else(|| history.and_then(|h| h.records.first()))
            .map(|r| r.id);
        return Ok(Target {
            tag: tag.to_string(),
            digests: known
                .map(|r| r.payload.image_digests.clone())
                .unwrap_or_default(),
            replaces,
        });
    }
    let before = history.and_then(History::before_current).ok_or_else(|| {
        Failure::new(
            ResultCode::NoRollbackTarget,
            match current {
                Some(c) => format!(
                    "`{environment}` has no successful image before its current one (`{}`) in the record",
                    c.payload.image_tag
                ),
                None => format!("`{environment}` has no successful record to go back from"),
            },
            "give the tag to go back to in `rollback-to`",
        )
    })?;
    Ok(Target {
        tag: before.payload.image_tag.clone(),
        digests: before.payload.image_digests.clone(),
        replaces: current.map(|r| r.id),
    })
}

/// `rollback-on-failure`: what the environment ran before this run, its newest successful
/// record.
pub fn after_failure(environment: &str, history: Option<&History>) -> Result<Target, Failure> {
    let current = history.and_then(History::current).ok_or_else(|| {
        Failure::new(
            ResultCode::NoRollbackTarget,
            format!(
                "`{environment}` has no earlier successful image in the record to roll back to"
            ),
            "fix the deploy and re-run, or promote a known-good image by hand",
        )
    })?;
    Ok(Target {
        tag: current.payload.image_tag.clone(),
        digests: current.payload.image_digests.clone(),
        replaces: None,
    })
}

/// The target must still be in ECR, ACTIVE, and (when the record knows its digests) the same
/// image: a tag moved since would send another image back.
pub fn still_there(target: &Target, rows: &[ImageRow]) -> Result<(), Failure> {
    let mut problems = Vec::new();
    for row in rows {
        match &row.state {
            ImageState::Found(info) => {
                if info.status.as_deref().is_some_and(|s| s != "ACTIVE") {
                    problems.push(format!(
                        "{}: `{}` is {}",
                        row.display,
                        target.tag,
                        info.status.as_deref().unwrap_or_default()
                    ));
                } else if let Some(expected) = target.digests.get(&row.name)
                    && *expected != info.digest
                {
                    problems.push(format!(
                        "{}: `{}` now names {}, not {expected}",
                        row.display, target.tag, info.digest
                    ));
                }
            }
            ImageState::TagMissing { .. } => {
                problems.push(format!("{}: `{}` is gone", row.display, target.tag))
            }
            ImageState::RepositoryMissing => {
                problems.push(format!("{}: the repository does not exist", row.display))
            }
            ImageState::Unknown { error, .. } => {
                return Err(Failure::new(
                    ResultCode::Error,
                    format!(
                        "could not check `{}` in `{}`: {error}",
                        target.tag, row.display
                    ),
                    "re-run once ECR answers",
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        ResultCode::NoRollbackTarget,
        format!(
            "the image to go back to cannot be deployed: {}",
            brief_list(&problems, 3)
        ),
        "give another tag in `rollback-to` (restore an archived image first: `aws ecr update-image-storage-class`)",
    )
    .with_details(problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageInfo;
    use crate::record::tests::{digests, record};

    fn history() -> History {
        History::new(
            "staging",
            vec![
                record(
                    1,
                    "staging",
                    100,
                    "a",
                    &[("success", 110), ("inactive", 210)],
                ),
                record(2, "staging", 200, "b", &[("success", 210)]),
            ],
        )
    }

    #[test]
    fn goes_back_to_the_image_before_the_current_one() {
        let t = target("staging", Some(&history()), None).unwrap();
        assert_eq!(t.tag, "tag-a");
        assert_eq!(t.digests, digests("a"));
        assert_eq!(t.replaces, Some(2));
        let only = History::new(
            "staging",
            vec![record(2, "staging", 200, "b", &[("success", 210)])],
        );
        let f = target("staging", Some(&only), None).unwrap_err();
        assert_eq!(f.result, ResultCode::NoRollbackTarget);
        assert!(f.message.contains("`tag-b`"), "{}", f.message);
        assert_eq!(
            target("staging", None, None).unwrap_err().result,
            ResultCode::NoRollbackTarget
        );
        let to = target("staging", Some(&history()), Some("tag-a")).unwrap();
        assert_eq!(
            (to.tag.as_str(), to.digests.clone()),
            ("tag-a", digests("a"))
        );
        let unknown = target("staging", Some(&history()), Some("v0")).unwrap();
        assert!(unknown.digests.is_empty());
    }

    #[test]
    fn rollback_to_with_nothing_successful_replaces_the_newest_record() {
        // Only a failed deploy in the record: the rollback is still one (`rollback_of`).
        let failed = History::new("qa", vec![record(9, "qa", 300, "c", &[("failure", 310)])]);
        let t = target("qa", Some(&failed), Some("tag-a")).unwrap();
        assert_eq!(t.replaces, Some(9));
        assert_eq!(target("qa", None, Some("tag-a")).unwrap().replaces, None);
    }

    #[test]
    fn after_a_failure_it_goes_back_to_the_current_image() {
        let t = after_failure("staging", Some(&history())).unwrap();
        assert_eq!(t.tag, "tag-b");
        assert!(after_failure("staging", None).is_err());
    }

    #[test]
    fn the_target_must_still_be_the_same_active_image() {
        let t = target("staging", Some(&history()), None).unwrap();
        let row = |digest: &str, status: &str| ImageRow {
            name: "app".into(),
            display: "app".into(),
            state: ImageState::Found(ImageInfo {
                digest: digest.into(),
                pushed_at: None,
                size_bytes: None,
                status: Some(status.into()),
            }),
            checks: Vec::new(),
        };
        assert!(still_there(&t, &[row("sha256:a", "ACTIVE")]).is_ok());
        let moved = still_there(&t, &[row("sha256:z", "ACTIVE")]).unwrap_err();
        assert!(
            moved.message.contains("now names sha256:z"),
            "{}",
            moved.message
        );
        let archived = still_there(&t, &[row("sha256:a", "ARCHIVED")]).unwrap_err();
        assert_eq!(archived.result, ResultCode::NoRollbackTarget);
        let gone = ImageRow {
            state: ImageState::TagMissing {
                suggestions: vec![],
            },
            ..row("x", "ACTIVE")
        };
        assert!(
            still_there(&t, &[gone])
                .unwrap_err()
                .message
                .contains("is gone")
        );
    }
}
