//! The reads of the first round, which depend on nothing but the inputs: the image in every
//! repository (by tag or by prefix), with promote-by tag each repository's tag mutability and
//! what the environment tag names now, and, when the checks may end in a dispatch, the target
//! workflow's state and its file at the ref. The pipeline runs them together; nothing here
//! decides, `decide` reads what came back.

use futures_util::future::join_all;

use crate::config::{Inputs, TagMatch};
use crate::ecr::{Lookup, Registry, RegistryError, Resolved, TagMutability};
use crate::github::{Deployment, GhError, GitHub, WorkflowMeta};
use crate::model::DispatchTarget;
use crate::record::{History, Record, Records, payload_of};

/// Each repository's answer, in the order of `inputs.image.repositories`.
#[derive(Debug)]
pub enum ImageAnswers {
    Exact(Vec<Result<Lookup, RegistryError>>),
    Prefix(Vec<Result<Resolved, RegistryError>>),
}

/// The target workflow as GitHub has it.
#[derive(Debug)]
pub struct WorkflowFacts {
    pub meta: Result<WorkflowMeta, GhError>,
    /// The file at the dispatch ref; `None` when its path was unknown (a numeric id whose
    /// workflow could not be read).
    pub file: Option<Result<String, GhError>>,
    /// The version GitHub Enterprise Server reports; `None` on github.com.
    pub enterprise_version: Option<String>,
}

/// Every repository's answer for `tag` (or the prefix), concurrently.
pub async fn images<R: Registry>(
    inputs: &Inputs,
    registry: &R,
    tag: &str,
    match_: TagMatch,
) -> ImageAnswers {
    let image = &inputs.image;
    match match_ {
        TagMatch::Exact => ImageAnswers::Exact(
            join_all(
                image
                    .repositories
                    .iter()
                    .map(|repo| registry.lookup(repo, tag)),
            )
            .await,
        ),
        TagMatch::Prefix => ImageAnswers::Prefix(
            join_all(
                image
                    .repositories
                    .iter()
                    .map(|repo| registry.resolve_prefix(repo, tag)),
            )
            .await,
        ),
    }
}

/// One repository's facts for an environment tag, in the order of `inputs.image.repositories`.
#[derive(Debug, Clone)]
pub struct TagFacts {
    pub mutability: Result<TagMutability, RegistryError>,
    /// The digest the tag names now; `None`: nothing.
    pub current: Result<Option<String>, RegistryError>,
}

/// Each repository's tag mutability and what `tag` names there now, all at once.
pub async fn tag_facts<R: Registry>(inputs: &Inputs, registry: &R, tag: &str) -> Vec<TagFacts> {
    join_all(inputs.image.repositories.iter().map(|repo| async move {
        let (mutability, current) =
            tokio::join!(registry.mutability(repo), registry.tagged_digest(repo, tag));
        TagFacts {
            mutability,
            current,
        }
    }))
    .await
}

/// The workflow's state and its file at the ref, together when the file's path is known from
/// the input (a file name); one after the other for a numeric id.
pub async fn workflow<G: GitHub>(target: &DispatchTarget, github: &G) -> WorkflowFacts {
    let (meta, file) = match target.workflow.path() {
        Some(path) => {
            let (meta, file) = tokio::join!(
                github.workflow(&target.workflow),
                github.file(&path, &target.git_ref)
            );
            (meta, Some(file))
        }
        None => {
            let meta = github.workflow(&target.workflow).await;
            let file = match &meta {
                Ok(meta) => Some(github.file(&meta.path, &target.git_ref).await),
                Err(_) => None,
            };
            (meta, file)
        }
    };
    WorkflowFacts {
        meta,
        file,
        enterprise_version: github.enterprise_version(),
    }
}

/// A listed deployment as a record (its statuses not read yet), when its payload is ours.
fn record_of(d: Deployment) -> Option<Record> {
    Some(Record {
        payload: payload_of(&d.payload)?,
        id: d.id,
        environment: d.environment,
        sha: d.sha,
        created_at: d.created_at,
        statuses: None,
    })
}

/// How many records of each environment are listed: enough for what runs there, what ran
/// before, a hold, and the records of an image promoted recently.
pub const RECORDS_LISTED: u32 = 50;

/// Each environment's records, newest first, without their statuses: one request each, all
/// at once.
pub async fn record_lists<G: GitHub>(
    github: &G,
    environments: &[String],
) -> Result<Records, GhError> {
    let pages = join_all(
        environments
            .iter()
            .map(|env| github.deployments(env, RECORDS_LISTED, 1)),
    )
    .await;
    let mut records = Records::default();
    for (env, page) in environments.iter().zip(pages) {
        let listed: Vec<Record> = page?.into_iter().filter_map(record_of).collect();
        records
            .histories
            .insert(env.clone(), History::new(env, listed));
    }
    Ok(records)
}

/// The statuses of these records, all at once.
pub async fn record_statuses<G: GitHub>(
    github: &G,
    records: &mut Records,
    ids: &[u64],
) -> Result<(), GhError> {
    let answers = join_all(ids.iter().map(|id| github.statuses(*id))).await;
    for (id, answer) in ids.iter().zip(answers) {
        records.set_statuses(*id, answer?);
    }
    Ok(())
}

/// Requests in flight at once when long histories are read (GitHub asks integrators to keep
/// concurrent requests low; 16 keeps 5,000 records within seconds).
pub const READS_IN_FLIGHT: usize = 16;
/// Deployments per page: GitHub's maximum.
pub const PAGE_SIZE: u32 = 100;
/// Pages read per environment at most (10,000 records), so that no history takes unbounded time.
pub const MAX_PAGES: u32 = 100;

/// How far back an environment's history is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every record created at or after this instant (epoch seconds).
    Since(i64),
    /// The newest `n` records.
    Newest(usize),
    /// The records down to the newest successful one, inclusive: what runs there now.
    Current,
}

/// One environment's records as read, with their statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub history: History,
    /// The most pages were read and more records were within reach.
    pub truncated: bool,
}

/// Reads of long histories: pages of 100, statuses and commits at most `READS_IN_FLIGHT` at a
/// time across everything this reader reads, so several environments can be read at once.
pub struct Reader<'a, G> {
    github: &'a G,
    permits: tokio::sync::Semaphore,
    max_pages: u32,
}

impl<'a, G: GitHub> Reader<'a, G> {
    pub fn new(github: &'a G) -> Reader<'a, G> {
        Reader {
            github,
            permits: tokio::sync::Semaphore::new(READS_IN_FLIGHT),
            max_pages: MAX_PAGES,
        }
    }

    /// Read at most `pages` pages of an environment (fewer than `MAX_PAGES`).
    pub fn with_max_pages(mut self, pages: u32) -> Reader<'a, G> {
        self.max_pages = pages.clamp(1, MAX_PAGES);
        self
    }

    /// The records of `environment` within `reach`, newest first, each with its statuses. The
    /// statuses of a page are read while the next page is listed.
    pub async fn history(&self, environment: &str, reach: Reach) -> Result<Listed, GhError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        use std::cell::Cell;

        let truncated = Cell::new(false);
        let truncated_ref = &truncated;
        // Pages, newest first, until a short page, a page that reaches past `since`, or enough
        // records for `Newest`.
        let pages = stream::unfold(Some((1u32, 0usize)), move |state| async move {
            let (page, seen) = state?;
            let listed = {
                let _permit = self.permits.acquire().await.ok();
                self.github.deployments(environment, PAGE_SIZE, page).await
            };
            let listed = match listed {
                Ok(listed) => listed,
                Err(e) => return Some((Err(e), None)),
            };
            let seen = seen + listed.len();
            let more = listed.len() == PAGE_SIZE as usize
                && match reach {
                    Reach::Since(since) => listed.last().is_some_and(|d| d.created_at >= since),
                    Reach::Newest(n) => seen < n,
                    Reach::Current => true,
                };
            if more && page >= self.max_pages {
                truncated_ref.set(true);
            }
            let next = (more && page < self.max_pages).then_some((page + 1, seen));
            let records: Vec<Result<Record, GhError>> =
                listed.into_iter().filter_map(record_of).map(Ok).collect();
            Some((Ok(stream::iter(records)), next))
        });
        let records = pages.try_flatten();
        let with_statuses = |record: Record| async move {
            let _permit = self.permits.acquire().await.ok();
            let statuses = self.github.statuses(record.id).await?;
            Ok::<Record, GhError>(Record {
                statuses: Some(statuses),
                ..record
            })
        };
        let read: Vec<Record> = match reach {
            Reach::Since(since) => {
                records
                    .try_take_while(|r| std::future::ready(Ok(r.created_at >= since)))
                    .map_ok(with_statuses)
                    .try_buffer_unordered(READS_IN_FLIGHT)
                    .try_collect()
                    .await?
            }
            Reach::Newest(n) => {
                records
                    .take(n)
                    .map_ok(with_statuses)
                    .try_buffer_unordered(READS_IN_FLIGHT)
                    .try_collect()
                    .await?
            }
            Reach::Current => {
                // In order, a few ahead: usually the newest record is the current one.
                let found = Cell::new(false);
                records
                    .map_ok(with_statuses)
                    .try_buffered(4)
                    .try_take_while(|r| {
                        let before = found.get();
                        found.set(before || r.is_success());
                        std::future::ready(Ok(!before))
                    })
                    .try_collect()
                    .await?
            }
        };
        Ok(Listed {
            history: History::new(environment, read),
            truncated: truncated.get(),
        })
    }

    /// When each commit was made: one request per distinct SHA, `READS_IN_FLIGHT` at a time.
    pub async fn commit_times<'s>(
        &self,
        shas: impl IntoIterator<Item = &'s str>,
    ) -> std::collections::BTreeMap<String, Result<i64, GhError>> {
        use futures_util::stream::{self, StreamExt};
        let distinct: std::collections::BTreeSet<&str> =
            shas.into_iter().filter(|s| !s.is_empty()).collect();
        stream::iter(distinct)
            .map(|sha| async move {
                let _permit = self.permits.acquire().await.ok();
                (sha.to_string(), self.github.commit_time(sha).await)
            })
            .buffer_unordered(READS_IN_FLIGHT)
            .collect()
            .await
    }
}
