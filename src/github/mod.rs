//! The GitHub seam: the target workflow, its file, the dispatch and the dispatched run. The
//! trait and the pure reading of GitHub's answers; `octo.rs` implements it with octocrab and our
//! own retry policy (`retry.rs`), `workflow.rs` checks a dispatch the way GitHub will.

mod octo;
pub mod retry;
pub mod workflow;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

pub use octo::OctoGitHub;

use crate::model::{CORRELATION_PREFIX, Correlation, RunInfo, WorkflowId};
use crate::record::Status;

/// A deployment as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: u64,
    pub environment: String,
    pub sha: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// As GitHub returns it: an object, or text.
    pub payload: Value,
    /// The deployment's API URL.
    pub url: String,
}

/// A deployment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    pub environment: String,
    /// The commit (a SHA, or a branch or tag).
    pub git_ref: String,
    pub task: String,
    pub payload: Value,
    pub description: String,
}

/// A deployment status to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatus {
    /// `success`, `failure`, `error`, `queued`, ...
    pub state: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub description: String,
}

/// The REST API version we speak; `return_run_details` works with it on github.com.
pub const API_VERSION: &str = "2022-11-28";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkflowMeta {
    pub id: u64,
    pub path: String,
    pub state: String,
    #[serde(default)]
    pub name: String,
}

/// A workflow run as `wait-for` follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunPoll {
    NotModified,
    State {
        /// `queued`, `in_progress`, `waiting`, `completed`, ...
        status: String,
        conclusion: Option<String>,
        url: String,
        etag: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GhError {
    /// 404: the repository, workflow or file does not exist (or the token cannot see it).
    #[error("not found (404): {0}")]
    NotFound(String),
    /// Another 4xx: GitHub understood and refused.
    #[error("refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// GitHub could not be reached, or kept failing after retries.
    #[error("{0}")]
    Unavailable(String),
}

/// The GitHub seam. Tests run it against a local server that answers like GitHub's REST API.
pub trait GitHub {
    /// The version GitHub Enterprise Server reported in its answers so far
    /// (`x-github-enterprise-version`); `None` on github.com.
    fn enterprise_version(&self) -> Option<String> {
        None
    }

    fn workflow(
        &self,
        workflow: &WorkflowId,
    ) -> impl Future<Output = Result<WorkflowMeta, GhError>> + Send;
    fn file(
        &self,
        path: &str,
        git_ref: &str,
    ) -> impl Future<Output = Result<String, GhError>> + Send;
    /// Dispatch at most once: `Ok` means GitHub accepted it (with the run when it said which).
    /// A run's state; `etag` from the last answer makes the request conditional (a 304 does not
    /// count against the rate limit).
    fn run_status(
        &self,
        run_id: u64,
        etag: Option<&str>,
    ) -> impl Future<Output = Result<RunPoll, GhError>> + Send;

    /// Dispatch at most once. `Ok` means GitHub accepted it, with the run when GitHub said which
    /// (or a lost answer was matched to its run); `correlation` is the unique id sent in the
    /// inputs, when the target declares one.
    fn dispatch(
        &self,
        workflow: &WorkflowId,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        correlation: Option<&Correlation>,
    ) -> impl Future<Output = Result<Dispatched, GhError>> + Send;

    /// One page of the deployments ecr-promote wrote in `environment`, newest first.
    fn deployments(
        &self,
        environment: &str,
        per_page: u32,
        page: u32,
    ) -> impl Future<Output = Result<Vec<Deployment>, GhError>> + Send;

    /// Every status of a deployment.
    fn statuses(
        &self,
        deployment: u64,
    ) -> impl Future<Output = Result<Vec<Status>, GhError>> + Send;

    /// Create a deployment, at most once.
    fn create_deployment(
        &self,
        new: &NewDeployment,
    ) -> impl Future<Output = Result<Deployment, GhError>> + Send;

    /// Add a status to a deployment, at most once.
    fn create_status(
        &self,
        deployment: u64,
        new: &NewStatus,
    ) -> impl Future<Output = Result<(), GhError>> + Send;

    /// When a commit was made (the committer's date), in epoch seconds.
    fn commit_time(&self, sha: &str) -> impl Future<Output = Result<i64, GhError>> + Send;

    /// After an accepted dispatch that did not say which run it started (a 204), look for it.
    fn find_run(
        &self,
        workflow: &WorkflowId,
        git_ref: &str,
        since: u64,
        correlation: Option<&Correlation>,
    ) -> impl Future<Output = Option<RunInfo>> + Send;
}
/// An accepted dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    pub run: Option<RunInfo>,
    /// When the accepted attempt was sent (epoch seconds), for `find_run`.
    pub since: u64,
}

pub(crate) fn message_of(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect());
    crate::text::one_line(&msg.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRun {
    pub run: RunInfo,
    /// `display_title`: the target's `run-name`, which should include the correlation id.
    pub title: String,
}

/// Which of the runs created since a dispatch attempt is the one it started. With a correlation
/// id in the target's `run-name` (strict), only the run whose title carries it. Otherwise that
/// run if any; runs carrying another id belong to other promotions; failing those, the newest
/// run, since time and branch are all there is to match on.
pub fn pick_run(runs: &[ListedRun], correlation: Option<&Correlation>) -> Option<RunInfo> {
    if let Some(c) = correlation {
        if let Some(ours) = runs.iter().find(|r| r.title.contains(&c.id)) {
            return Some(ours.run.clone());
        }
        if c.strict {
            return None;
        }
    }
    runs.iter()
        .find(|r| !r.title.contains(CORRELATION_PREFIX))
        .map(|r| r.run.clone())
}

/// How far GitHub's clock may be behind ours when runs are matched by creation time.
pub(crate) const CLOCK_SKEW: u64 = 10;

pub(crate) fn run_from_details(body: &str) -> Option<RunInfo> {
    let v: Value = serde_json::from_str(body).ok()?;
    let id = v.get("workflow_run_id").and_then(Value::as_u64)?;
    let url = v
        .get("html_url")
        .and_then(Value::as_str)
        .or_else(|| v.get("run_url").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    Some(RunInfo { id, url })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_github_messages_and_run_details() {
        assert_eq!(
            message_of(
                r#"{"message":"Unexpected inputs provided: [\"x\"]","documentation_url":"u"}"#
            ),
            r#"Unexpected inputs provided: ["x"]"#
        );
        assert_eq!(message_of("plain\ntext"), "plain text");
        let run = run_from_details(
            r#"{"workflow_run_id": 42, "run_url": "api", "html_url": "https://h/r/42"}"#,
        );
        assert_eq!(
            run,
            Some(RunInfo {
                id: 42,
                url: "https://h/r/42".into()
            })
        );
        assert_eq!(run_from_details(""), None);
    }

    #[test]
    fn picking_the_run_a_dispatch_started() {
        let run = |id: u64, title: &str| ListedRun {
            run: RunInfo {
                id,
                url: String::new(),
            },
            title: title.into(),
        };
        let id = "ecrp-00000000000000aa";
        let loose = Correlation {
            id: id.into(),
            strict: false,
        };
        let strict = Correlation {
            id: id.into(),
            strict: true,
        };
        // Newest first: another promotion's run came after ours.
        let runs = [
            run(3, "deploy qa ecrp-00000000000000bb"),
            run(2, &format!("deploy qa {id}")),
        ];
        assert_eq!(pick_run(&runs, Some(&loose)).unwrap().id, 2);
        assert_eq!(pick_run(&runs, Some(&strict)).unwrap().id, 2);
        // Only other promotions' runs: none is ours, so the dispatch was not taken.
        assert_eq!(pick_run(&runs[..1], Some(&loose)), None);
        // A run-name without ids: time and branch decide, unless the run-name shows the id.
        let plain = [run(5, "deploy"), run(4, "deploy")];
        assert_eq!(pick_run(&plain, Some(&loose)).unwrap().id, 5);
        assert_eq!(
            pick_run(&plain, Some(&strict)),
            None,
            "a manual run is never taken for ours"
        );
        assert_eq!(pick_run(&plain, None).unwrap().id, 5);
        assert_eq!(pick_run(&[], None), None);
    }
}
