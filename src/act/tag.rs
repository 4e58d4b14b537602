//! Promote by environment tag: put the tag on the verified image in every repository at once,
//! with the manifest's exact bytes and media type (the digest unchanged, an index still an
//! index), and move back what moved when a repository fails.

use futures_util::future::join_all;

use crate::decide::tag::{TagMove, TagPlan, registry_failure};
use crate::ecr::{Registry, RegistryError, Tagged};
use crate::model::Repository;
use crate::outcome::Failure;
use crate::text::{brief_list, short_digest};

/// Move the tag as planned. Every manifest is read before any tag moves; when a PutImage
/// fails, the tags this run moved go back to what they named (or come off), and the failure
/// says which did.
pub async fn apply<R: Registry>(registry: &R, plan: &TagPlan) -> Result<(), Failure> {
    let tag = &plan.tag;
    let needed: Vec<&TagMove> = plan.moves.iter().filter(|m| m.needed()).collect();
    let manifests = join_all(needed.iter().map(|m| registry.manifest(&m.repo, &m.digest))).await;
    let unread: Vec<(&Repository, &RegistryError)> = needed
        .iter()
        .zip(&manifests)
        .filter_map(|(m, r)| r.as_ref().err().map(|e| (&m.repo, e)))
        .collect();
    if !unread.is_empty() {
        return Err(registry_failure(
            &format!("the image's manifest could not be read to tag it `{tag}`"),
            &unread,
            "no tag was moved",
        ));
    }
    let manifests: Vec<_> = manifests.into_iter().flatten().collect();
    let puts = join_all(
        needed
            .iter()
            .zip(&manifests)
            .map(|(m, manifest)| registry.put_tag(&m.repo, manifest, tag)),
    )
    .await;

    // What moved (to undo if need be) and what failed.
    let mut moved: Vec<&TagMove> = Vec::new();
    let mut failed: Vec<(&Repository, RegistryError)> = Vec::new();
    for (m, put) in needed.iter().zip(puts) {
        match put {
            Ok(Tagged::Moved(digest)) if digest == m.digest => moved.push(m),
            Ok(Tagged::Moved(digest)) => {
                moved.push(m);
                failed.push((
                    &m.repo,
                    RegistryError::Other(format!(
                        "PutImage answered with {digest}, not the verified {}",
                        m.digest
                    )),
                ));
            }
            // Another run put it there since the check: not ours to move back.
            Ok(Tagged::AlreadyThere) => {}
            Err(e) => failed.push((&m.repo, e)),
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let then = undo(registry, plan, &moved).await;
    let failed: Vec<(&Repository, &RegistryError)> = failed.iter().map(|(r, e)| (*r, e)).collect();
    let mut failure = registry_failure(
        &format!("the `{tag}` tag could not be put on `{}`", plan.image_tag),
        &failed,
        &then.said,
    );
    if !then.left.is_empty() {
        failure.fix = format!("{}; {}", then.left.join("; "), failure.fix);
    }
    Err(failure)
}

/// What moving back did: a clause for the message, and what is left to do by hand.
struct Undone {
    said: String,
    left: Vec<String>,
}

/// Put the tag back where it was in every repository where this run moved it: on the image
/// it named (its manifest put again), or off the image when it named none. The image keeps
/// its own tag, so taking the environment tag off never deletes it (BatchDeleteImage deletes
/// an image whose last tag goes).
async fn undo<R: Registry>(registry: &R, plan: &TagPlan, moved: &[&TagMove]) -> Undone {
    let tag = &plan.tag;
    if moved.is_empty() {
        return Undone {
            said: "no repository's tag had moved".into(),
            left: Vec::new(),
        };
    }
    let results = join_all(moved.iter().map(|m| async move {
        match &m.previous {
            Some(previous) => {
                let manifest = registry.manifest(&m.repo, previous).await?;
                match registry.put_tag(&m.repo, &manifest, tag).await? {
                    Tagged::Moved(d) if d != *previous => Err(RegistryError::Other(format!(
                        "PutImage answered with {d}, not {previous}"
                    ))),
                    _ => Ok(()),
                }
            }
            None if plan.image_tag == *tag => Err(RegistryError::Other(
                "the image has no other tag to keep it".into(),
            )),
            None => registry.remove_tag(&m.repo, tag).await,
        }
    }))
    .await;
    let mut back: Vec<String> = Vec::new();
    let mut stuck: Vec<String> = Vec::new();
    let mut left: Vec<String> = Vec::new();
    for (m, result) in moved.iter().zip(results) {
        match result {
            Ok(()) => back.push(m.repo.display()),
            Err(e) => {
                stuck.push(m.repo.display());
                left.push(match &m.previous {
                Some(p) => format!(
                    "in {} `{tag}` still names the new image and could not be moved back to {} ({e}): move it back by hand",
                    m.repo.display(),
                    short_digest(p)
                ),
                None => format!(
                    "in {} `{tag}` could not be taken off the new image ({e}): `aws ecr batch-delete-image --repository-name {} --image-ids imageTag={tag}` (the image keeps `{}`)",
                    m.repo.display(),
                    m.repo.name,
                    plan.image_tag
                ),
            });
            }
        }
    }
    let said = match (back.is_empty(), left.is_empty()) {
        (false, true) => format!(
            "it was moved back in {}, so no repository is half promoted",
            brief_list(&back, 3)
        ),
        (true, _) => format!(
            "it had moved in {} and could not be moved back",
            brief_list(&stuck, 3)
        ),
        (false, false) => format!(
            "it was moved back in {}, but not in {}",
            brief_list(&back, 3),
            brief_list(&stuck, 3)
        ),
    };
    Undone { said, left }
}
