//! The domain's shared types: what a repository, an image, a workflow, a run and a chain are.
//! Imports nothing of ours, so every other module may use it.

use std::fmt;

/// A token that never prints: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The ordered chain of environments and the step from one to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    envs: Vec<String>,
}

impl Chain {
    /// A chain of these names; the caller (config) has checked them.
    pub fn new(envs: Vec<String>) -> Chain {
        Chain { envs }
    }

    pub fn names(&self) -> &[String] {
        &self.envs
    }

    pub fn position(&self, env: &str) -> Option<usize> {
        self.envs.iter().position(|e| e == env)
    }

    /// The environment after `env`, `None` at the end of the chain (or when `env` is not in it).
    pub fn next(&self, env: &str) -> Option<&str> {
        let i = self.position(env)?;
        self.envs.get(i + 1).map(String::as_str)
    }

    /// The environment before `env`, `None` for the first (or when `env` is not in it).
    pub fn previous(&self, env: &str) -> Option<&str> {
        let i = self.position(env)?;
        i.checked_sub(1)
            .and_then(|p| self.envs.get(p))
            .map(String::as_str)
    }

    /// `dev → qa → staging`
    pub fn arrows(&self) -> String {
        self.envs.join(" → ")
    }
}

/// The result of the deploy of `environment`, as the caller reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployStatus {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl DeployStatus {
    pub fn is_success(self) -> bool {
        self == DeployStatus::Success
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::Success => "success",
            DeployStatus::Failure => "failure",
            DeployStatus::Cancelled => "cancelled",
            DeployStatus::Skipped => "skipped",
        }
    }
}

/// One ECR repository, by name, with the registry and region it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The repository name, without the registry host (`team/backend`).
    pub name: String,
    /// The owning account, when known (a full URI or `registry-id`).
    pub registry_id: Option<String>,
    pub region: String,
}

impl Repository {
    /// How the repository is named in messages: `name`, or the full URI when the registry is explicit.
    pub fn display(&self) -> String {
        match &self.registry_id {
            Some(id) => format!("{id}.dkr.ecr.{}.amazonaws.com/{}", self.region, self.name),
            None => self.name.clone(),
        }
    }
}

/// The image a tag points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub digest: String,
    /// RFC 3339, UTC.
    pub pushed_at: Option<String>,
    pub size_bytes: Option<i64>,
    /// `ACTIVE`, `ARCHIVED`, ... when ECR reports it.
    pub status: Option<String>,
}

/// Scan finding severities, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
    /// ECR's severity names (basic scanning also says INFORMATIONAL, UNDEFINED).
    pub fn from_ecr(name: &str) -> Option<Severity> {
        match name.to_ascii_uppercase().as_str() {
            "LOW" => Some(Severity::Low),
            "MEDIUM" => Some(Severity::Medium),
            "HIGH" => Some(Severity::High),
            "CRITICAL" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// The workflow to dispatch, as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowId {
    /// A file name such as `deploy.yml` (a path is reduced to its file name).
    File(String),
    Id(u64),
}

impl WorkflowId {
    /// The form the REST API takes in `/actions/workflows/{..}`.
    pub fn api_segment(&self) -> String {
        match self {
            WorkflowId::File(f) => f.clone(),
            WorkflowId::Id(id) => id.to_string(),
        }
    }

    /// The file's path in the repository, when the id says it (`.github/workflows/NAME`).
    pub fn path(&self) -> Option<String> {
        match self {
            WorkflowId::File(f) => Some(format!(".github/workflows/{f}")),
            WorkflowId::Id(_) => None,
        }
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkflowId::File(name) => f.write_str(name),
            WorkflowId::Id(id) => write!(f, "workflow id {id}"),
        }
    }
}

/// How to reach GitHub: the repository that holds the workflows and the record, a token, and
/// the REST API's base URL.
#[derive(Debug, Clone)]
pub struct GitHubAccess {
    /// `owner/name`
    pub repository: String,
    pub token: Secret,
    pub api_url: String,
}

/// What to dispatch: resolved only when a dispatch may happen.
#[derive(Debug, Clone)]
pub struct DispatchTarget {
    pub repository: String,
    pub workflow: WorkflowId,
    /// The branch or tag, as a bare name (`main`, `v1.2`).
    pub git_ref: String,
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// After the deploy of `environment`: verify, record, promote to the next one.
    Promote,
    /// Before the deploy: decide which image may enter `environment`.
    Resolve,
    /// Send `environment` back to an image it ran before.
    Rollback,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Promote => "promote",
            Mode::Resolve => "resolve",
            Mode::Rollback => "rollback",
        }
    }
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub id: u64,
    pub url: String,
}

/// The unique id sent with a dispatch, and whether the target's `run-name` shows it (then a run
/// is ours only when its title carries the id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    pub id: String,
    pub strict: bool,
}

/// Correlation ids start with this, so runs of other promotions can be told apart.
pub const CORRELATION_PREFIX: &str = "ecrp-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_steps_both_ways() {
        let c = Chain::new(vec!["dev".into(), "qa".into(), "staging".into()]);
        assert_eq!(c.next("dev"), Some("qa"));
        assert_eq!(c.next("staging"), None);
        assert_eq!(c.next("prod"), None);
        assert_eq!(c.previous("qa"), Some("dev"));
        assert_eq!(c.previous("dev"), None);
        assert_eq!(c.arrows(), "dev → qa → staging");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghs_secret".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
    }

    #[test]
    fn workflow_paths() {
        assert_eq!(
            WorkflowId::File("d.yml".into()).path().as_deref(),
            Some(".github/workflows/d.yml")
        );
        assert_eq!(WorkflowId::Id(7).path(), None);
        assert_eq!(WorkflowId::Id(7).to_string(), "workflow id 7");
    }
}
