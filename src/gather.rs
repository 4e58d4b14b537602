//! The reads of the first round, which depend on nothing but the inputs: the image in every
//! repository (by tag or by prefix) and, when the checks may end in a dispatch, the target
//! workflow's state and its file at the ref. The pipeline runs them together; nothing here
//! decides, `decide` reads what came back.

use futures_util::future::join_all;

use crate::config::{Inputs, TagMatch};
use crate::ecr::{Lookup, Registry, RegistryError, Resolved};
use crate::github::{GhError, GitHub, WorkflowMeta};
use crate::model::DispatchTarget;

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

/// Every repository's answer for the tag (or the prefix), concurrently.
pub async fn images<R: Registry>(inputs: &Inputs, registry: &R) -> ImageAnswers {
    let image = &inputs.image;
    match image.tag_match {
        TagMatch::Exact => ImageAnswers::Exact(
            join_all(
                image
                    .repositories
                    .iter()
                    .map(|repo| registry.lookup(repo, &image.tag)),
            )
            .await,
        ),
        TagMatch::Prefix => ImageAnswers::Prefix(
            join_all(
                image
                    .repositories
                    .iter()
                    .map(|repo| registry.resolve_prefix(repo, &image.tag)),
            )
            .await,
        ),
    }
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
