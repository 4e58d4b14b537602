//! The reads of the first round, which depend on nothing but the inputs: the image in every
//! repository (by tag or by prefix), with promote-by tag each repository's tag mutability and
//! what the environment tag names now, and, when the checks may end in a dispatch, the target
//! workflow's state and its file at the ref. The pipeline runs them together; nothing here
//! decides, `decide` reads what came back.

use futures_util::future::join_all;

use crate::config::{Inputs, TagMatch};
use crate::ecr::{Lookup, Registry, RegistryError, Resolved, TagMutability};
use crate::github::{GhError, GitHub, WorkflowMeta};
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
        let listed: Vec<Record> = page?
            .into_iter()
            .filter_map(|d| {
                Some(Record {
                    id: d.id,
                    environment: d.environment,
                    sha: d.sha,
                    created_at: d.created_at,
                    payload: payload_of(&d.payload)?,
                    statuses: None,
                })
            })
            .collect();
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
