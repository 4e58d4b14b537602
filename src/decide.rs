//! Pure decisions: facts in, a plan or a `Failure` out. Nothing here reads, writes or waits, so
//! every result code can be reached by a unit test with plain values.

use std::collections::BTreeMap;

use crate::config::{InputError, Inputs, Partial};
use crate::ecr::{Lookup, Resolved};
use crate::gather::{ImageAnswers, WorkflowFacts};
use crate::github::workflow;
use crate::github::{GhError, WorkflowMeta};
use crate::model::{Correlation, DispatchTarget, RunInfo, WorkflowId};
use crate::outcome::{DispatchPlan, Failure, ImageRow, ImageState, Phase, Report, ResultCode};
use crate::text::{brief_list, format_duration};

/// How many failing items a one-line message names before it says "and N more".
const NAMED: usize = 3;

/// The report that knows the inputs: environment, chain, next environment, tag, fail-on-error.
pub fn base_report(inputs: &Inputs) -> Report {
    let mut report = Report::new(ResultCode::Error, "");
    report.environment = Some(inputs.environment.clone());
    report.chain = inputs.chain.names().to_vec();
    report.next_environment = Some(inputs.next_environment().unwrap_or_default().to_string());
    report.image_tag = Some(inputs.image.tag.clone());
    report.fail_on_error = inputs.fail_on_error;
    report
}

/// The report for inputs that could not be read: nothing was called. Each input is named the
/// way it was given: `--name` for a flag, `name` for a step's `with:`.
pub fn invalid_input(
    errors: &[InputError],
    partial: &Partial,
    given_by_flag: &dyn Fn(&str) -> bool,
) -> Report {
    let named = |input: &str| {
        if given_by_flag(input) {
            format!("`--{input}`")
        } else {
            format!("`{input}`")
        }
    };
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            let what = if given_by_flag(&e.input) {
                "flag"
            } else {
                "input"
            };
            format!("{what} {}: {}", named(&e.input), e.problem)
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for e in errors {
        let name = named(&e.input);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let message = match lines.as_slice() {
        [one] => format!("invalid {one}"),
        _ => format!(
            "{} invalid inputs: {}; first, {}",
            errors.len(),
            brief_list(&names, 5),
            lines.first().cloned().unwrap_or_default()
        ),
    };
    let all_flags = errors.iter().all(|e| given_by_flag(&e.input));
    let fix = format!(
        "correct {} {}; nothing was verified or dispatched",
        brief_list(&names, 5),
        if all_flags {
            "on the command line (`ecr-promote --help` lists the flags)"
        } else {
            "in the step's `with:`"
        }
    );
    let mut report = Report::new(ResultCode::InvalidInput, message);
    report.details = if lines.len() > 1 { lines } else { Vec::new() };
    report.fix = Some(fix);
    report.environment = partial.environment.clone();
    report.image_tag = partial.image_tag.clone();
    report.fail_on_error = partial.fail_on_error;
    report
}

/// The deploy of `environment` must have succeeded before anything else is looked at.
pub fn deploy_status(inputs: &Inputs) -> Result<(), Failure> {
    if inputs.deploy_status.is_success() {
        return Ok(());
    }
    Err(Failure::new(
        ResultCode::DeployFailed,
        format!(
            "the deploy of `{}` reported `{}`: the chain stops here, nothing was verified or dispatched",
            inputs.environment,
            inputs.deploy_status.as_str()
        ),
        "fix the deploy of this environment and re-run the workflow; the next environment is dispatched only after a successful deploy",
    ))
}

/// The image as the registry answered: one row per repository, the tag that was verified (the
/// resolved tag with `tag-match: prefix`), or why it was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    pub rows: Vec<ImageRow>,
    pub tag: String,
    pub failure: Option<Failure>,
}

/// Read the first round's image answers.
pub fn image(inputs: &Inputs, answers: ImageAnswers) -> ImageVerdict {
    let repos = &inputs.image.repositories;
    let wanted = &inputs.image.tag;
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
                            Err(e) => ImageState::Unknown {
                                error: e.to_string(),
                                fix: e.fix().to_string(),
                            },
                        },
                    )
                })
                .collect();
            let failure = unknown_failure(&rows).or_else(|| missing_failure(wanted, &rows));
            ImageVerdict {
                rows,
                tag: wanted.clone(),
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
                            Err(e) => ImageState::Unknown {
                                error: e.to_string(),
                                fix: e.fix().to_string(),
                            },
                        },
                    )
                })
                .collect();
            let failure = unknown_failure(&rows)
                .or_else(|| prefix_missing_failure(wanted, &rows))
                .or_else(|| disagreement(wanted, &tags));
            let tag = match (&failure, tags.first()) {
                (None, Some((_, tag))) => tag.clone(),
                _ => wanted.clone(),
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

/// What follows checks that passed, when it is not a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The run ends here with this (successful) result.
    Stop(ResultCode, String),
    /// Dispatch this environment.
    Dispatch(String),
}

/// After every check passed: the end of the chain, auto-promote off, or a dispatch.
pub fn after_checks(inputs: &Inputs, tag: &str) -> Step {
    match inputs.next_environment() {
        None => Step::Stop(
            ResultCode::EndOfChain,
            format!(
                "`{tag}` verified; `{}` is the end of the chain {}: nothing to dispatch",
                inputs.environment,
                inputs.chain.arrows()
            ),
        ),
        Some(next) if !inputs.auto_promote => Step::Stop(
            ResultCode::AutoPromoteDisabled,
            format!("`{tag}` verified; auto-promote is off, so `{next}` was not dispatched"),
        ),
        Some(next) => Step::Dispatch(next.to_string()),
    }
}

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

/// The pre-flight: the dispatch GitHub would accept, checked against the workflow as it is at
/// the ref, or why GitHub would refuse it.
pub fn dispatch_plan(
    inputs: &Inputs,
    target: &DispatchTarget,
    next: &str,
    tag: &str,
    digests: &BTreeMap<String, String>,
    facts: &WorkflowFacts,
    correlation_id: &str,
) -> Result<DispatchPlan, Failure> {
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
    let mut to_send = workflow::dispatch_inputs(&schema, next, tag, &d.extra_inputs);
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

/// Why a run stopped before it finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interruption {
    /// The `timeout` budget (plus the gates' and waits' limits) ran out.
    TimedOut,
    /// SIGINT or SIGTERM: the run was cancelled or reached `timeout-minutes`.
    Cancelled(&'static str),
    /// A bug.
    Panicked(String),
}

/// Where a run stood when it was interrupted.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    pub phase: Phase,
    /// The report as it stood once the image was verified (`deploy_success` true).
    pub verified: Option<Report>,
    /// GitHub accepted the dispatch.
    pub dispatched: bool,
    pub run: Option<RunInfo>,
}

/// The report after an interruption: never a success, `promoted` only when GitHub had already
/// accepted the dispatch.
pub fn interrupted(inputs: &Inputs, standing: Standing, why: Interruption) -> Report {
    let mut report = match (&why, standing.verified) {
        (Interruption::TimedOut, Some(verified)) => verified,
        _ => base_report(inputs),
    };
    report.promoted = standing.dispatched;
    report.run = standing.run;
    let (result, message, fix) = match why {
        Interruption::Cancelled(signal) => (
            ResultCode::Error,
            format!(
                "cancelled by {signal} (the run was cancelled or reached timeout-minutes) before the promotion finished"
            ),
            "re-run the job; if `promoted` is true the next environment was already dispatched"
                .to_string(),
        ),
        Interruption::Panicked(what) => (
            ResultCode::Error,
            format!("internal error (panic: {what}); this is a bug in ecr-promote"),
            "re-run the job; please report this at the ecr-promote repository with the log"
                .to_string(),
        ),
        Interruption::TimedOut => {
            let budget = format_duration(inputs.timeout);
            match standing.phase {
                _ if report.promoted => (
                    ResultCode::Promoted,
                    format!(
                        "the next environment was dispatched; the time budget (`timeout: {budget}`) ran out afterwards"
                    ),
                    "nothing to do".to_string(),
                ),
                Phase::Registry => {
                    report.deploy_success = false;
                    (
                        ResultCode::Error,
                        format!(
                            "timed out after {budget} (`timeout`) verifying the image in ECR; nothing was dispatched"
                        ),
                        "check that ECR answers (aws-region, the network, AWS_ENDPOINT_URL_ECR), or raise `timeout`".to_string(),
                    )
                }
                Phase::Gates => {
                    report.deploy_success = false;
                    (
                        ResultCode::Unhealthy,
                        "the deploy gates did not pass within their limits; nothing was dispatched"
                            .to_string(),
                        "raise this environment's limit in `timeouts`".to_string(),
                    )
                }
                Phase::Preflight => (
                    ResultCode::DispatchFailed,
                    format!(
                        "timed out after {budget} (`timeout`) reading the target workflow from GitHub; nothing was dispatched"
                    ),
                    "re-run the job (https://www.githubstatus.com), or raise `timeout`".to_string(),
                ),
                Phase::Dispatch => (
                    ResultCode::DispatchFailed,
                    format!(
                        "timed out after {budget} (`timeout`) dispatching: GitHub may or may not have started the run"
                    ),
                    "check the Actions tab for a new run of the target workflow before re-running"
                        .to_string(),
                ),
            }
        }
    };
    report.result = result;
    report.message = message;
    report.fix = Some(fix);
    report.details = Vec::new();
    report
}

/// The time budget of the whole step: `timeout` for the calls to AWS and GitHub, plus the limit
/// of each configured gate and wait (and `scan-wait`), which have their own.
pub fn budget(inputs: &Inputs) -> std::time::Duration {
    use crate::config::WaitFor;
    let limits = &inputs.gates.timeouts;
    let current = limits.of(&inputs.environment);
    let mut total = inputs.timeout;
    if inputs.image.fail_on_severity.is_some() {
        total += inputs.image.scan_wait;
    }
    if inputs.gates.health.is_some() {
        total += current;
    }
    if inputs.gates.argocd.is_some() {
        total += current;
    }
    if let (WaitFor::Started | WaitFor::Completed, Some(next)) =
        (inputs.dispatch.wait_for, inputs.next_environment())
    {
        total += limits.of(next);
    }
    total
}
