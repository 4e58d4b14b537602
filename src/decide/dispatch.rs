//! The pre-flight: the dispatch GitHub would accept, checked against the target workflow as it
//! is at the ref; and GitHub's refusals in words.

use std::collections::BTreeMap;

use crate::config::Inputs;
use crate::gather::WorkflowFacts;
use crate::github::workflow;
use crate::github::{GhError, WorkflowMeta};
use crate::model::{Correlation, DispatchTarget, RunInfo, WorkflowId};
use crate::outcome::{DispatchPlan, Failure, ResultCode};
use crate::text::brief_list;

/// The workflow as it will be dispatched: a file not registered in the repository (not yet on
/// the default branch, or a server that does not say) is taken as active, and GitHub has the
/// last word on the dispatch.
pub fn effective_meta(
    target: &DispatchTarget,
    meta: &Result<WorkflowMeta, GhError>,
) -> Result<WorkflowMeta, GhError> {
    match (meta, &target.workflow) {
        (Err(GhError::NotFound(_)), WorkflowId::File(name)) => Ok(WorkflowMeta {
            id: 0,
            path: format!(".github/workflows/{name}"),
            state: "active".into(),
            name: name.clone(),
        }),
        (other, _) => other.clone(),
    }
}

/// What a dispatch sends: the environment to deploy and its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sending<'a> {
    pub environment: &'a str,
    pub tag: &'a str,
    pub digests: &'a BTreeMap<String, String>,
    /// `true` for a promotion, `false` for a rollback (the chain must not continue from it).
    pub auto_promote: bool,
    /// The target must declare the correlation input (a rollback: the hold needs it to tell
    /// the rollback's run from a person's).
    pub require_correlation: bool,
}

/// The pre-flight: the dispatch GitHub would accept, checked against the workflow as it is at
/// the ref, or why GitHub would refuse it.
pub fn dispatch_plan(
    inputs: &Inputs,
    target: &DispatchTarget,
    sending: &Sending,
    facts: &WorkflowFacts,
    correlation_id: &str,
) -> Result<DispatchPlan, Failure> {
    let (next, tag, digests) = (sending.environment, sending.tag, sending.digests);
    let rejected = |message: String, fix: &str| {
        Failure::new(ResultCode::DispatchRejected, message, fix.to_string())
    };
    let name = target.workflow.to_string();
    let meta = effective_meta(target, &facts.meta).map_err(|e| match e {
        GhError::NotFound(_) => rejected(
            format!("workflow `{name}` was not found in {}", target.repository),
            "check `workflow` and `repository`; a workflow can be dispatched only once its file is on the default branch",
        ),
        other => {
            let plan = DispatchPlan {
                repository: target.repository.clone(),
                workflow: name.clone(),
                workflow_path: None,
                git_ref: target.git_ref.clone(),
                inputs: BTreeMap::new(),
                correlation: None,
            };
            let failure = dispatch_error(&other, &plan);
            Failure {
                message: format!("could not read workflow `{name}`: {}", failure.message),
                ..failure
            }
        }
    })?;
    if meta.state != "active" {
        return Err(rejected(
            format!(
                "workflow `{}` is `{}` and cannot be dispatched",
                meta.path, meta.state
            ),
            "enable the workflow (Actions tab → the workflow → Enable workflow, or `gh workflow enable`)",
        ));
    }
    let path = meta.path.clone();
    let git_ref = &target.git_ref;
    let text = match &facts.file {
        Some(Ok(text)) => text,
        Some(Err(GhError::NotFound(_))) => {
            return Err(rejected(
                format!(
                    "`{path}` does not exist at ref `{git_ref}` in {}",
                    target.repository
                ),
                "dispatch on a branch or tag that has the workflow file (`ref`), or push it there",
            ));
        }
        Some(Err(GhError::Refused { status, message })) => {
            return Err(rejected(
                format!("GitHub refused to read `{path}` at `{git_ref}` ({status}): {message}"),
                "give the token read access to the repository's contents (`permissions: contents: read`)",
            ));
        }
        Some(Err(other)) => {
            return Err(Failure::new(
                ResultCode::DispatchFailed,
                format!("could not read `{path}` at `{git_ref}`: {other}"),
                "re-run the job once GitHub answers",
            ));
        }
        None => {
            return Err(Failure::new(
                ResultCode::Error,
                format!("`{path}` was not read"),
                "report this at the ecr-promote repository",
            ));
        }
    };
    let schema = match workflow::parse(text) {
        Ok(Some(schema)) => schema,
        Ok(None) => {
            return Err(rejected(
                format!("`{path}` at `{git_ref}` has no `workflow_dispatch` trigger"),
                "add `workflow_dispatch:` with the inputs environment and image_tag under `on:` in the target workflow",
            ));
        }
        Err(why) => {
            return Err(rejected(
                format!("`{path}` at `{git_ref}` {why}"),
                "fix the workflow file so GitHub can parse it",
            ));
        }
    };
    let d = &inputs.dispatch;
    if sending.require_correlation {
        let declared = d
            .correlation_input
            .as_deref()
            .is_some_and(|name| schema.declares(name));
        if !declared {
            let name = d.correlation_input.as_deref().unwrap_or("promotion_id");
            return Err(rejected(
                format!(
                    "`{path}` at `{git_ref}` does not declare the input `{name}`: the rolled-back environment's run could not be told from a person's, and would lift the hold"
                ),
                &format!(
                    "declare `{name}` (type: string, required: false) under `on.workflow_dispatch.inputs` in `{path}`, or set `correlation-input` to an input it declares"
                ),
            ));
        }
    }
    let mut to_send =
        workflow::dispatch_inputs(&schema, next, tag, sending.auto_promote, &d.extra_inputs);
    // The verified digest travels with the tag, so the next stage can check the tag was not moved.
    if let Some(name) = d
        .digest_input
        .as_ref()
        .filter(|name| schema.declares(name) && !to_send.contains_key(*name))
        && !digests.is_empty()
    {
        let mut values = digests.values();
        let first = values.next().cloned().unwrap_or_default();
        let value = if values.all(|v| *v == first) {
            first
        } else {
            serde_json::to_string(digests).unwrap_or_default()
        };
        to_send.insert(name.clone(), value);
    }
    // A unique id in the declared correlation input lets a lost answer be matched to its run.
    let correlation = d
        .correlation_input
        .clone()
        .filter(|name| schema.declares(name) && !to_send.contains_key(name))
        .map(|name| {
            to_send.insert(name.clone(), correlation_id.to_string());
            Correlation {
                id: correlation_id.to_string(),
                strict: schema.title_shows(&name),
            }
        });
    let limit = workflow::max_inputs(facts.enterprise_version.as_deref());
    let problems = workflow::check(&schema, &to_send, limit);
    if let Some(first) = problems.first() {
        let messages: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
        return Err(Failure::new(
            ResultCode::DispatchRejected,
            format!(
                "GitHub would refuse the dispatch of `{path}`: {}",
                if problems.len() == 1 {
                    first.message.clone()
                } else {
                    format!("{} problems: {}", problems.len(), brief_list(&messages, 2))
                }
            ),
            first.fix.clone(),
        )
        .with_details(
            problems
                .iter()
                .map(|p| format!("{} ({})", p.message, p.fix))
                .collect(),
        ));
    }
    Ok(DispatchPlan {
        repository: target.repository.clone(),
        workflow: target.workflow.to_string(),
        workflow_path: Some(path),
        git_ref: target.git_ref.clone(),
        inputs: to_send,
        correlation,
    })
}

/// GitHub's refusal or silence, in words, with what to do.
pub fn dispatch_error(e: &GhError, plan: &DispatchPlan) -> Failure {
    let workflow = plan.workflow_path.as_deref().unwrap_or(&plan.workflow);
    match e {
        GhError::Refused {
            status: 401,
            message,
        } => Failure::new(
            ResultCode::DispatchRejected,
            format!("GitHub refused the token (401): {message}"),
            "pass a valid token in `github-token` (the default `${{ github.token }}`, or a PAT/App token for another repository)",
        ),
        GhError::Refused {
            status: 403,
            message,
        } => Failure::new(
            ResultCode::DispatchRejected,
            format!("GitHub refused the dispatch of `{workflow}` (403): {message}"),
            "give the job `permissions: actions: write`; to dispatch in another repository use a PAT or GitHub App token with actions:write",
        ),
        GhError::Refused { status, message } => Failure::new(
            ResultCode::DispatchRejected,
            format!(
                "GitHub refused the dispatch of `{workflow}` on `{}` ({status}): {message}",
                plan.git_ref
            ),
            if message.contains("No ref found") {
                "set `ref` to a branch or tag that exists"
            } else if message.contains("Unexpected inputs") {
                "declare the listed inputs under `on.workflow_dispatch.inputs` in the target workflow, or stop sending them in `inputs`"
            } else {
                "fix what GitHub names above in the target workflow or the step's inputs"
            },
        ),
        GhError::NotFound(message) => Failure::new(
            ResultCode::DispatchRejected,
            format!(
                "GitHub answered 404 for `{workflow}` in {}: {message}",
                plan.repository
            ),
            "check `repository` and `workflow`; the workflow file must be on the default branch, and the token must see the repository",
        ),
        GhError::Unavailable(message) => Failure::new(
            ResultCode::DispatchFailed,
            format!("could not reach GitHub to dispatch `{workflow}`: {message}"),
            "re-run the job once GitHub is reachable (https://www.githubstatus.com); check the Actions tab first, a run may already exist",
        ),
    }
}

/// The message of a promotion GitHub accepted.
pub fn promoted_message(
    tag: &str,
    plan: &DispatchPlan,
    next: &str,
    run: Option<&RunInfo>,
) -> String {
    format!(
        "`{tag}` verified; dispatched `{}` for `{next}` on `{}`{}",
        plan.workflow,
        plan.git_ref,
        run.map(|r| format!(" (run {})", r.id)).unwrap_or_default()
    )
}
