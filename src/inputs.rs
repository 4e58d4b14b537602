//! Every input the action reads, in one place: looked up, parsed and validated before any I/O.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use crate::chain::Chain;

/// One declared input of the action. `action.yml`, the README and `--help` are checked against
/// this table by `tests/contract.rs`.
pub struct InputSpec {
    pub name: &'static str,
    pub required: bool,
    /// Flags that may be given without a value (`--dry-run`) are the boolean inputs.
    pub boolean: bool,
    /// The default as documented (`action.yml` and the README say the same).
    pub default: &'static str,
    pub help: &'static str,
}

pub const INPUTS: &[InputSpec] = &[
    spec(
        "environment",
        true,
        false,
        "",
        "The environment that was just deployed",
    ),
    spec(
        "environments",
        false,
        false,
        "dev,qa,staging",
        "The ordered chain, separated by commas, spaces or newlines",
    ),
    spec(
        "image-tag",
        true,
        false,
        "",
        "The tag to verify in ECR and promote",
    ),
    spec(
        "ecr-repositories",
        true,
        false,
        "",
        "Repository names or full URIs (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME)",
    ),
    spec(
        "aws-region",
        false,
        false,
        "",
        "Region of the repositories [default: AWS_REGION, then AWS_DEFAULT_REGION]",
    ),
    spec(
        "registry-id",
        false,
        false,
        "",
        "AWS account that owns the repositories [default: the caller's]",
    ),
    spec(
        "deploy-status",
        false,
        false,
        "success",
        "Result of the deploy: success|true, or failure|cancelled|skipped|false",
    ),
    spec(
        "auto-promote",
        false,
        true,
        "true",
        "Dispatch the next environment when all checks pass (true|false)",
    ),
    spec(
        "workflow",
        false,
        false,
        "",
        "Workflow file, path or id to dispatch [default: from GITHUB_WORKFLOW_REF]",
    ),
    spec(
        "ref",
        false,
        false,
        "",
        "Branch or tag to dispatch on [default: GITHUB_REF]",
    ),
    spec(
        "repository",
        false,
        false,
        "",
        "owner/name holding the workflow [default: GITHUB_REPOSITORY]",
    ),
    spec(
        "github-token",
        false,
        false,
        "${{ github.token }}",
        "Token with actions: write [default: GITHUB_TOKEN]",
    ),
    spec(
        "github-api-url",
        false,
        false,
        "",
        "GitHub REST API base URL [default: GITHUB_API_URL, then https://api.github.com]",
    ),
    spec(
        "inputs",
        false,
        false,
        "",
        "Extra dispatch inputs: a YAML or JSON mapping",
    ),
    spec(
        "dry-run",
        false,
        true,
        "false",
        "Do every check, dispatch nothing (true|false)",
    ),
    spec(
        "fail-on-error",
        false,
        true,
        "true",
        "Exit non-zero when the result is a failure (true|false)",
    ),
    spec(
        "timeout",
        false,
        false,
        "5m",
        "Time budget for all of the action's calls to AWS and GitHub: a number with s, m or h",
    ),
    spec(
        "correlation-input",
        false,
        false,
        "promotion_id",
        "Dispatch input that carries a unique id of this promotion, when the target declares it ('none' to turn off)",
    ),
    spec(
        "digest-input",
        false,
        false,
        "image_digest",
        "Dispatch input that carries the verified digest(s), when the target declares it ('none' to turn off)",
    ),
    spec(
        "expected-digest",
        false,
        false,
        "",
        "Digest, or JSON mapping of repository to digest, the tag must still point at",
    ),
    spec(
        "tag-match",
        false,
        false,
        "exact",
        "exact, or prefix: promote the newest tag starting with image-tag",
    ),
    spec(
        "required-platforms",
        false,
        false,
        "",
        "Platforms the image index must list, such as linux/amd64,linux/arm64",
    ),
    spec(
        "fail-on-severity",
        false,
        false,
        "none",
        "Refuse images with scan findings at or above: critical, high, medium, low or none",
    ),
    spec(
        "scan-wait",
        false,
        false,
        "2m",
        "How long to wait for an image scan in progress: a number with s, m or h",
    ),
    spec(
        "timeouts",
        false,
        false,
        "dev=5m,qa=10m,staging=10m",
        "Time limit of the gates and waits per environment (env=duration; others: 10m)",
    ),
    spec(
        "health-url",
        false,
        false,
        "",
        "URL polled until healthy before deploy_success is true",
    ),
    spec(
        "health-status",
        false,
        false,
        "200",
        "HTTP status a healthy answer has",
    ),
    spec(
        "health-body",
        false,
        false,
        "",
        "Text a healthy answer's body contains",
    ),
    spec(
        "health-headers",
        false,
        false,
        "",
        "Headers sent to health-url: a YAML or JSON mapping",
    ),
    spec(
        "health-checks",
        false,
        false,
        "3",
        "Consecutive healthy answers needed",
    ),
    spec(
        "health-interval",
        false,
        false,
        "5s",
        "Time between health checks: a number with s, m or h",
    ),
    spec(
        "argocd-server",
        false,
        false,
        "",
        "Argo CD base URL: wait until the application is Synced and Healthy and runs the tag",
    ),
    spec(
        "argocd-app",
        false,
        false,
        "",
        "Argo CD application name (namespace/name for an app in another namespace)",
    ),
    spec("argocd-token", false, false, "", "Argo CD API token"),
    spec(
        "argocd-insecure",
        false,
        true,
        "false",
        "Accept a self-signed Argo CD certificate (true|false)",
    ),
    spec(
        "wait-for",
        false,
        false,
        "none",
        "After dispatching, follow the next run: none, started or completed",
    ),
];

const fn spec(
    name: &'static str,
    required: bool,
    boolean: bool,
    default: &'static str,
    help: &'static str,
) -> InputSpec {
    InputSpec {
        name,
        required,
        boolean,
        default,
        help,
    }
}

pub const DEFAULT_ENVIRONMENTS: &str = "dev,qa,staging";
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Dispatch inputs the action sets itself; `inputs` may not override them.
pub const RESERVED_DISPATCH_INPUTS: &[&str] = &["environment", "image_tag", "auto_promote"];

/// Where inputs and runner variables come from. The binary reads the process (and its flags);
/// tests pass a map, so no test ever sets a process environment variable.
pub trait Source {
    /// The value of input `name` (kebab-case), `None` when unset or empty.
    fn input(&self, name: &str) -> Option<String>;
    /// A runner or AWS variable (`GITHUB_REF`, `AWS_REGION`...), `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real source: command-line flags first, then `INPUT_<NAME>` with hyphens kept.
pub struct ProcessSource {
    pub flags: HashMap<String, String>,
}

/// The variable the runner sets for an input: upper-cased, spaces to `_`, hyphens kept.
pub fn input_variable(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

impl Source for ProcessSource {
    fn input(&self, name: &str) -> Option<String> {
        self.flags
            .get(name)
            .cloned()
            .or_else(|| std::env::var(input_variable(name)).ok())
            .filter(|v| !v.trim().is_empty())
    }
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

/// A map-backed source for tests and embedding.
#[derive(Default, Clone)]
pub struct MapSource {
    pub inputs: HashMap<String, String>,
    pub vars: HashMap<String, String>,
}

impl MapSource {
    pub fn input(mut self, name: &str, value: &str) -> Self {
        self.inputs.insert(name.into(), value.into());
        self
    }
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

impl Source for MapSource {
    fn input(&self, name: &str) -> Option<String> {
        self.inputs
            .get(name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

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

/// An input that is missing or malformed: names the input, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {problem}")]
pub struct InputError {
    pub input: String,
    pub problem: String,
}

fn bad(input: &str, problem: impl Into<String>) -> InputError {
    InputError {
        input: input.to_string(),
        problem: problem.into(),
    }
}

/// Quote a user value for a message, shortened so one bad input cannot flood the log.
pub fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if value.chars().count() > 80 {
        s.push('…');
    }
    crate::report::one_line(&format!("{s:?}"))
}

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
    /// How the repository is named in messages: `name`, or `account/name` when the registry is explicit.
    pub fn display(&self) -> String {
        match &self.registry_id {
            Some(id) => format!("{id}.dkr.ecr.{}.amazonaws.com/{}", self.region, self.name),
            None => self.name.clone(),
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
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkflowId::File(name) => f.write_str(name),
            WorkflowId::Id(id) => write!(f, "workflow id {id}"),
        }
    }
}

/// Where and how to dispatch: resolved only when a dispatch may happen.
#[derive(Debug, Clone)]
pub struct DispatchTarget {
    pub repository: String,
    pub workflow: WorkflowId,
    /// The branch or tag, as a bare name (`main`, `v1.2`).
    pub git_ref: String,
    pub token: Secret,
    pub api_url: String,
}

/// Everything the action needs, validated.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub environment: String,
    pub chain: Chain,
    pub image_tag: String,
    pub repositories: Vec<Repository>,
    pub deploy_status: DeployStatus,
    pub auto_promote: bool,
    pub dry_run: bool,
    pub fail_on_error: bool,
    /// The budget for all calls to AWS and GitHub together.
    pub timeout: Duration,
    /// The dispatch input that carries this promotion's unique id, when the target declares it.
    pub correlation_input: Option<String>,
    /// The dispatch input that carries the verified digest(s), when the target declares it.
    pub digest_input: Option<String>,
    /// The digest(s) the tag must still point at.
    pub expected_digest: Option<ExpectedDigest>,
    pub tag_match: TagMatch,
    /// `os/arch[/variant]` each repository's image index must list.
    pub required_platforms: Vec<String>,
    /// Findings at or above this severity refuse the image.
    pub fail_on_severity: Option<Severity>,
    pub scan_wait: Duration,
    /// Time limits of the gates and waits, per environment.
    pub timeouts: Timeouts,
    pub health: Option<HealthGate>,
    pub argocd: Option<ArgoGate>,
    pub wait_for: WaitFor,
    /// Extra dispatch inputs, already strings.
    pub extra_inputs: BTreeMap<String, String>,
    /// Present when the checks could end in a dispatch (a next environment, auto-promote on).
    pub target: Option<DispatchTarget>,
}

impl Inputs {
    pub fn next_environment(&self) -> Option<&str> {
        self.chain.next(&self.environment)
    }
}

/// What could be read even when validation failed, so outputs can still report it.
#[derive(Debug, Clone, Default)]
pub struct Partial {
    pub environment: Option<String>,
    pub image_tag: Option<String>,
    pub fail_on_error: bool,
}

/// Read `fail-on-error` on its own: needed for the exit code even when other inputs are bad.
pub fn partial(src: &dyn Source) -> Partial {
    Partial {
        environment: src.input("environment").map(|v| v.trim().to_string()),
        image_tag: src.input("image-tag").map(|v| v.trim().to_string()),
        fail_on_error: src
            .input("fail-on-error")
            .and_then(|v| parse_bool("fail-on-error", &v).ok())
            .unwrap_or(true),
    }
}

/// Parse and validate every input. Collects every problem, not only the first.
pub fn parse(src: &dyn Source) -> Result<Inputs, Vec<InputError>> {
    let mut errors = Vec::new();
    let get = |name: &str| src.input(name).map(|v| v.trim().to_string());

    let chain = take(
        &mut errors,
        Chain::parse(
            get("environments")
                .as_deref()
                .unwrap_or(DEFAULT_ENVIRONMENTS),
        ),
    );
    let environment = take(
        &mut errors,
        required(get("environment"), "environment").and_then(|env| match &chain {
            Some(chain) => chain.check_member(&env).map(|_| env),
            None => Ok(env),
        }),
    );
    let image_tag = take(
        &mut errors,
        required(get("image-tag"), "image-tag").and_then(|t| parse_tag(&t)),
    );
    let region_default = get("aws-region")
        .map(|r| parse_region("aws-region", &r))
        .transpose();
    let region_default = take(&mut errors, region_default).flatten().or_else(|| {
        src.var("AWS_REGION")
            .or_else(|| src.var("AWS_DEFAULT_REGION"))
    });
    let registry_id = take(
        &mut errors,
        get("registry-id").map(|r| parse_account(&r)).transpose(),
    )
    .flatten();
    let repositories = take(
        &mut errors,
        required(get("ecr-repositories"), "ecr-repositories")
            .and_then(|r| parse_repositories(&r, region_default.as_deref(), &registry_id)),
    );
    let deploy_status = take(
        &mut errors,
        parse_deploy_status(get("deploy-status").as_deref()),
    );
    let auto_promote = take(&mut errors, bool_input(src, "auto-promote", true));
    let dry_run = take(&mut errors, bool_input(src, "dry-run", false));
    let fail_on_error = take(&mut errors, bool_input(src, "fail-on-error", true));
    let timeout = take(
        &mut errors,
        parse_duration("timeout", get("timeout").as_deref().unwrap_or("5m")),
    );
    let correlation_input = take(
        &mut errors,
        parse_input_name(
            "correlation-input",
            get("correlation-input")
                .as_deref()
                .unwrap_or("promotion_id"),
        ),
    );
    let digest_input = take(
        &mut errors,
        parse_input_name(
            "digest-input",
            get("digest-input").as_deref().unwrap_or("image_digest"),
        ),
    );
    let tag_match = take(&mut errors, parse_tag_match(get("tag-match").as_deref()));
    let required_platforms = take(
        &mut errors,
        parse_platforms(get("required-platforms").as_deref().unwrap_or("")),
    );
    let fail_on_severity = take(
        &mut errors,
        parse_severity(get("fail-on-severity").as_deref().unwrap_or("none")),
    );
    let scan_wait = take(
        &mut errors,
        match get("scan-wait") {
            Some(v) if v == "0" || v == "0s" => Ok(Duration::ZERO),
            Some(v) => parse_duration("scan-wait", &v),
            None => Ok(Duration::from_secs(120)),
        },
    );
    let timeouts = take(
        &mut errors,
        Timeouts::parse(
            get("timeouts")
                .as_deref()
                .unwrap_or("dev=5m,qa=10m,staging=10m"),
        ),
    );
    let health = take(&mut errors, parse_health(src));
    let argocd = take(&mut errors, parse_argocd(src));
    let wait_for = take(&mut errors, parse_wait_for(get("wait-for").as_deref()));
    let expected_digest = match (get("expected-digest"), &repositories) {
        (Some(v), Some(repos)) => take(&mut errors, parse_expected_digest(&v, repos)).map(Some),
        _ => Some(None),
    };
    let extra_inputs = take(
        &mut errors,
        src.input("inputs")
            .map(|v| parse_extra_inputs(&v))
            .unwrap_or_else(|| Ok(BTreeMap::new())),
    );

    // The dispatch settings matter only when the checks can end in a dispatch; their absence is
    // not an error at the end of the chain, after a failed deploy or with auto-promote off.
    let may_dispatch = matches!((&chain, &environment), (Some(c), Some(e)) if c.next(e).is_some())
        && auto_promote == Some(true)
        && deploy_status.is_some_and(DeployStatus::is_success);
    let target = if may_dispatch {
        take(&mut errors, parse_target(src))
    } else {
        None
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Inputs {
        environment: environment.expect("no error"),
        chain: chain.expect("no error"),
        image_tag: image_tag.expect("no error"),
        repositories: repositories.expect("no error"),
        deploy_status: deploy_status.expect("no error"),
        auto_promote: auto_promote.expect("no error"),
        dry_run: dry_run.expect("no error"),
        fail_on_error: fail_on_error.expect("no error"),
        timeout: timeout.expect("no error"),
        correlation_input: correlation_input.expect("no error"),
        digest_input: digest_input.expect("no error"),
        expected_digest: expected_digest.expect("no error"),
        tag_match: tag_match.expect("no error"),
        required_platforms: required_platforms.expect("no error"),
        fail_on_severity: fail_on_severity.expect("no error"),
        scan_wait: scan_wait.expect("no error"),
        timeouts: timeouts.expect("no error"),
        health: health.expect("no error"),
        argocd: argocd.expect("no error"),
        wait_for: wait_for.expect("no error"),
        extra_inputs: extra_inputs.expect("no error"),
        target,
    })
}

fn take<T>(errors: &mut Vec<InputError>, result: Result<T, InputError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

fn required(value: Option<String>, name: &str) -> Result<String, InputError> {
    value.ok_or_else(|| {
        bad(
            name,
            "is required but was not set; add it under `with:` in the step",
        )
    })
}

/// YAML 1.2 core booleans only: anything else is an error, never a silent `false`.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, InputError> {
    match value.trim() {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(bad(
            name,
            format!("{} is not a boolean; use `true` or `false`", shown(other)),
        )),
    }
}

/// `90s`, `5m`, `1h`, `1m30s`: at least one second, at most six hours (GitHub's job limit).
pub fn parse_duration(name: &str, value: &str) -> Result<Duration, InputError> {
    let invalid = || {
        bad(
            name,
            format!(
                "{} is not a duration; write a number with a unit, such as `90s`, `5m`, `1h` or `1m30s`",
                shown(value)
            ),
        )
    };
    let mut total = 0u64;
    let mut number = String::new();
    let mut parts = 0;
    for c in value.trim().chars() {
        match c {
            '0'..='9' => number.push(c),
            's' | 'm' | 'h' => {
                let n: u64 = number.parse().map_err(|_| invalid())?;
                let unit = match c {
                    's' => 1,
                    'm' => 60,
                    _ => 3600,
                };
                total = total
                    .checked_add(n.checked_mul(unit).ok_or_else(invalid)?)
                    .ok_or_else(invalid)?;
                number.clear();
                parts += 1;
            }
            _ => return Err(invalid()),
        }
    }
    if parts == 0 || !number.is_empty() {
        return Err(invalid());
    }
    if !(1..=6 * 3600).contains(&total) {
        return Err(bad(
            name,
            format!("{} is out of range; use between 1s and 6h", shown(value)),
        ));
    }
    Ok(Duration::from_secs(total))
}

/// `90` → `1m30s`, `300` → `5m`: the form `timeout` takes.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// Time limits of gates and waits per environment; others get `Timeouts::DEFAULT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    pub limits: BTreeMap<String, Duration>,
}

impl Timeouts {
    pub const DEFAULT: Duration = Duration::from_secs(600);

    pub fn parse(value: &str) -> Result<Timeouts, InputError> {
        let mut limits = BTreeMap::new();
        for item in split_list(value) {
            let Some((env, duration)) = item.split_once('=') else {
                return Err(bad(
                    "timeouts",
                    format!(
                        "{} is not `environment=duration`, such as `qa=10m`",
                        shown(item)
                    ),
                ));
            };
            let duration = parse_duration("timeouts", duration)?;
            if limits.insert(env.to_string(), duration).is_some() {
                return Err(bad("timeouts", format!("`{env}` is listed twice")));
            }
        }
        Ok(Timeouts { limits })
    }

    pub fn of(&self, environment: &str) -> Duration {
        self.limits
            .get(environment)
            .copied()
            .unwrap_or(Self::DEFAULT)
    }
}

/// The health gate: poll a URL until it answers healthy `checks` times in a row.
#[derive(Debug, Clone)]
pub struct HealthGate {
    pub url: String,
    pub status: u16,
    pub body: Option<String>,
    /// Header values may be secrets: never printed.
    pub headers: Vec<(String, Secret)>,
    pub checks: u32,
    pub interval: Duration,
}

fn parse_http_url(input: &str, value: &str) -> Result<String, InputError> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
    if ok {
        Ok(value.to_string())
    } else {
        Err(bad(
            input,
            format!("{} is not an http(s) URL", shown(value)),
        ))
    }
}

fn parse_health(src: &dyn Source) -> Result<Option<HealthGate>, InputError> {
    let get = |name: &str| src.input(name).map(|v| v.trim().to_string());
    let Some(url) = get("health-url") else {
        // The runner passes action.yml's defaults (health-status: 200, ...) whether set or not:
        // only inputs without a default show that the user meant a health gate.
        for name in ["health-body", "health-headers"] {
            if get(name).is_some() {
                return Err(bad(
                    name,
                    "is set but `health-url` is not; set `health-url` too",
                ));
            }
        }
        return Ok(None);
    };
    let url = parse_http_url("health-url", &url)?;
    let status = match get("health-status") {
        None => 200,
        Some(v) => v
            .parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| {
                bad(
                    "health-status",
                    format!("{} is not an HTTP status (100 to 599)", shown(&v)),
                )
            })?,
    };
    let checks = match get("health-checks") {
        None => 3,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                bad(
                    "health-checks",
                    format!("{} is not a number from 1 to 100", shown(&v)),
                )
            })?,
    };
    let interval = match get("health-interval") {
        None => Duration::from_secs(5),
        Some(v) => parse_duration("health-interval", &v)?,
    };
    let headers = match src.input("health-headers") {
        None => Vec::new(),
        Some(text) => {
            let map: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|_| {
                bad(
                    "health-headers",
                    "is not a YAML or JSON mapping of header names to values",
                )
            })?;
            let Some(map) = map.as_mapping() else {
                return Err(bad(
                    "health-headers",
                    "must be a mapping of header names to values",
                ));
            };
            let mut out = Vec::new();
            for (k, v) in map {
                let (Some(k), Some(v)) = (k.as_str(), scalar_text(v)) else {
                    return Err(bad("health-headers", "names and values must be strings"));
                };
                if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                    || http::HeaderValue::from_str(&v).is_err()
                {
                    // The value may be a secret: name the header only.
                    return Err(bad(
                        "health-headers",
                        format!("header `{}` is not a valid HTTP header", one_line_name(k)),
                    ));
                }
                out.push((k.to_string(), Secret::new(v)));
            }
            out
        }
    };
    Ok(Some(HealthGate {
        url,
        status,
        body: get("health-body"),
        headers,
        checks,
        interval,
    }))
}

fn one_line_name(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// The Argo CD gate.
#[derive(Debug, Clone)]
pub struct ArgoGate {
    pub server: String,
    pub app: String,
    /// `appNamespace`, for an application outside Argo CD's own namespace.
    pub namespace: Option<String>,
    pub token: Secret,
    pub insecure: bool,
}

fn parse_argocd(src: &dyn Source) -> Result<Option<ArgoGate>, InputError> {
    let get = |name: &str| src.input(name).map(|v| v.trim().to_string());
    let Some(server) = get("argocd-server") else {
        for name in ["argocd-app", "argocd-token"] {
            if get(name).is_some() {
                return Err(bad(
                    name,
                    "is set but `argocd-server` is not; set `argocd-server` too",
                ));
            }
        }
        return Ok(None);
    };
    let server = parse_http_url("argocd-server", &server)?
        .trim_end_matches('/')
        .to_string();
    let app = get("argocd-app").ok_or_else(|| {
        bad(
            "argocd-app",
            "is required with `argocd-server`: the application's name",
        )
    })?;
    let (namespace, name) = match app.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, app.clone()),
    };
    let valid = |s: &str| {
        (1..=253).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    if !valid(&name) || namespace.as_deref().is_some_and(|ns| !valid(ns)) {
        return Err(bad(
            "argocd-app",
            format!(
                "{} is not an application name (lower-case letters, digits, `-`, `.`; `namespace/name` for another namespace)",
                shown(&app)
            ),
        ));
    }
    let token = get("argocd-token").ok_or_else(|| {
        bad("argocd-token", "is required with `argocd-server`: an API token (argocd account generate-token), from a secret")
    })?;
    Ok(Some(ArgoGate {
        server,
        app: name,
        namespace,
        token: Secret::new(token),
        insecure: bool_input(src, "argocd-insecure", false)?,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    None,
    Started,
    Completed,
}

fn parse_wait_for(value: Option<&str>) -> Result<WaitFor, InputError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") => Ok(WaitFor::None),
        Some("started") => Ok(WaitFor::Started),
        Some("completed") => Ok(WaitFor::Completed),
        Some(_) => Err(bad(
            "wait-for",
            format!(
                "{} is not none, started or completed",
                shown(value.unwrap_or_default())
            ),
        )),
    }
}

/// A dispatch input name, or `none`.
fn parse_input_name(input: &str, value: &str) -> Result<Option<String>, InputError> {
    if value == "none" {
        return Ok(None);
    }
    if !valid_input_name(value) || RESERVED_DISPATCH_INPUTS.contains(&value) {
        return Err(bad(
            input,
            format!(
                "{} is not a usable workflow input name; use a name such as `promotion_id` or `image_digest`, or `none`",
                shown(value)
            ),
        ));
    }
    Ok(Some(value.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMatch {
    Exact,
    /// The newest `ACTIVE` tag starting with `image-tag`.
    Prefix,
}

fn parse_tag_match(value: Option<&str>) -> Result<TagMatch, InputError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("exact") => Ok(TagMatch::Exact),
        Some("prefix") => Ok(TagMatch::Prefix),
        Some(_) => Err(bad(
            "tag-match",
            format!(
                "{} is not `exact` or `prefix`",
                shown(value.unwrap_or_default())
            ),
        )),
    }
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

fn parse_severity(value: &str) -> Result<Option<Severity>, InputError> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Severity::from_ecr(value).map(Some).ok_or_else(|| {
        bad(
            "fail-on-severity",
            format!(
                "{} is not one of critical, high, medium, low, none",
                shown(value)
            ),
        )
    })
}

fn parse_platforms(value: &str) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::new();
    for p in split_list(value) {
        let parts: Vec<&str> = p.split('/').collect();
        let ok = (2..=3).contains(&parts.len())
            && parts.iter().all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if !ok {
            return Err(bad(
                "required-platforms",
                format!(
                    "{} is not a platform such as `linux/amd64` or `linux/arm64/v8`",
                    shown(p)
                ),
            ));
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    Ok(out)
}

/// The digest(s) a tag must still point at: one for every repository, or one each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedDigest {
    All(String),
    /// Repository name → digest.
    Each(BTreeMap<String, String>),
}

impl ExpectedDigest {
    pub fn for_repository(&self, name: &str) -> Option<&str> {
        match self {
            ExpectedDigest::All(d) => Some(d),
            ExpectedDigest::Each(map) => map.get(name).map(String::as_str),
        }
    }
}

/// `sha256:` and 64 hex digits (or `sha512:` and 128).
pub fn valid_digest(d: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    d.strip_prefix("sha256:").is_some_and(|h| hex(h, 64))
        || d.strip_prefix("sha512:").is_some_and(|h| hex(h, 128))
}

fn parse_expected_digest(
    value: &str,
    repositories: &[Repository],
) -> Result<ExpectedDigest, InputError> {
    let input = "expected-digest";
    if valid_digest(value) {
        return Ok(ExpectedDigest::All(value.to_string()));
    }
    let map: BTreeMap<String, String> = serde_json::from_str(value).map_err(|_| {
        bad(
            input,
            format!(
                "{} is neither a digest (`sha256:` and 64 hex digits) nor a JSON object of repository names to digests, such as the `image_digests` output",
                shown(value)
            ),
        )
    })?;
    if let Some((k, v)) = map.iter().find(|(_, v)| !valid_digest(v)) {
        return Err(bad(
            input,
            format!(
                "the digest of `{k}`, {}, is not `sha256:` and 64 hex digits",
                shown(v)
            ),
        ));
    }
    let missing: Vec<&str> = repositories
        .iter()
        .map(|r| r.name.as_str())
        .filter(|name| !map.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            input,
            format!(
                "has no digest for {}; it must name every repository in `ecr-repositories` (pass the previous stage's `image_digests` output)",
                missing.join(", ")
            ),
        ));
    }
    Ok(ExpectedDigest::Each(map))
}

fn bool_input(src: &dyn Source, name: &str, default: bool) -> Result<bool, InputError> {
    match src.input(name) {
        None => Ok(default),
        Some(v) => parse_bool(name, &v),
    }
}

pub fn parse_deploy_status(value: Option<&str>) -> Result<DeployStatus, InputError> {
    let Some(value) = value else {
        return Ok(DeployStatus::Success);
    };
    // Exact words, as `job.status` and `needs.<job>.result` give them: anything else is invalid.
    match value.trim() {
        "success" | "true" => Ok(DeployStatus::Success),
        "failure" | "false" => Ok(DeployStatus::Failure),
        "cancelled" => Ok(DeployStatus::Cancelled),
        "skipped" => Ok(DeployStatus::Skipped),
        _ => Err(bad(
            "deploy-status",
            format!(
                "{} is not a deploy result; use success, true, failure, false, cancelled or skipped (for example `${{{{ job.status }}}}` or `${{{{ needs.deploy.result }}}}`)",
                shown(value)
            ),
        )),
    }
}

/// ECR's tag grammar: 1 to 300 characters of `[A-Za-z0-9_.-]`.
pub fn parse_tag(tag: &str) -> Result<String, InputError> {
    if tag.starts_with("sha256:") {
        return Err(bad(
            "image-tag",
            format!(
                "{} is a digest; give the tag the image was pushed with",
                shown(tag)
            ),
        ));
    }
    let valid_chars = tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if tag.is_empty() || tag.len() > 300 || !valid_chars {
        return Err(bad(
            "image-tag",
            format!(
                "{} is not a valid ECR tag; a tag is 1 to 300 characters of letters, digits, `_`, `.` and `-`",
                shown(tag)
            ),
        ));
    }
    Ok(tag.to_string())
}

fn parse_region(name: &str, region: &str) -> Result<String, InputError> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.contains('-');
    if ok {
        Ok(region.to_string())
    } else {
        Err(bad(
            name,
            format!("{} is not an AWS region such as `eu-west-1`", shown(region)),
        ))
    }
}

fn parse_account(id: &str) -> Result<String, InputError> {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        Err(bad(
            "registry-id",
            format!("{} is not an AWS account ID (12 digits)", shown(id)),
        ))
    }
}

/// Split a list input on commas, whitespace and newlines.
pub fn split_list(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

/// ECR's repository-name grammar: `[a-z0-9]+(?:[._-][a-z0-9]+)*` segments joined by `/`, 2 to 256.
fn valid_repository_name(name: &str) -> bool {
    if name.len() < 2 || name.len() > 256 {
        return false;
    }
    name.split('/').all(|segment| {
        !segment.is_empty()
            && segment.split(['.', '_', '-']).all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    })
}

pub fn parse_repositories(
    value: &str,
    default_region: Option<&str>,
    registry_id: &Option<String>,
) -> Result<Vec<Repository>, InputError> {
    let mut out: Vec<Repository> = Vec::new();
    for item in split_list(value) {
        let repo = parse_repository(item, default_region, registry_id)?;
        // Digests are keyed by repository name (`image_digests`, `expected-digest`): one name
        // in two registries would make them ambiguous.
        if out.iter().any(|r| r.name == repo.name) {
            return Err(bad(
                "ecr-repositories",
                format!(
                    "{} is listed twice (repositories are told apart by name, also across registries)",
                    shown(&repo.name)
                ),
            ));
        }
        out.push(repo);
    }
    if out.is_empty() {
        return Err(bad("ecr-repositories", "lists no repository"));
    }
    Ok(out)
}

fn parse_repository(
    item: &str,
    default_region: Option<&str>,
    registry_id: &Option<String>,
) -> Result<Repository, InputError> {
    let input = "ecr-repositories";
    let item = item.strip_prefix("https://").unwrap_or(item);
    if item.contains('@')
        || item
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(bad(
            input,
            format!(
                "{} includes a tag or digest; list the repository only and put the tag in `image-tag`",
                shown(item)
            ),
        ));
    }
    let (registry, name) = match item.split_once('/') {
        Some((host, rest)) if host.contains(".dkr.ecr.") => (Some(host), rest),
        _ => (None, item),
    };
    if !valid_repository_name(name) {
        return Err(bad(
            input,
            format!(
                "{} is not an ECR repository name; names are lower-case letters, digits and `._-/` (2 to 256 characters), or a full URI `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME`",
                shown(name)
            ),
        ));
    }
    match registry {
        Some(host) => {
            // ACCOUNT.dkr.ecr.REGION.amazonaws.com(.cn)
            let parts: Vec<&str> = host.split('.').collect();
            let well_formed = parts.len() >= 6
                && parts[1] == "dkr"
                && parts[2] == "ecr"
                && parts[4] == "amazonaws"
                && matches!(&parts[5..], ["com"] | ["com", "cn"]);
            if !well_formed {
                return Err(bad(
                    input,
                    format!(
                        "{} is not an ECR registry host; expected `ACCOUNT.dkr.ecr.REGION.amazonaws.com`",
                        shown(host)
                    ),
                ));
            }
            let account = parse_account(parts[0]).map_err(|_| {
                bad(
                    input,
                    format!("{} does not start with a 12-digit account ID", shown(host)),
                )
            })?;
            let region = parse_region(input, parts[3])?;
            Ok(Repository {
                name: name.to_string(),
                registry_id: Some(account),
                region,
            })
        }
        None => {
            let region = default_region.ok_or_else(|| {
                bad(
                    "aws-region",
                    format!(
                        "no region for repository {}; set `aws-region`, or AWS_REGION (aws-actions/configure-aws-credentials sets it), or give the full URI",
                        shown(name)
                    ),
                )
            })?;
            Ok(Repository {
                name: name.to_string(),
                registry_id: registry_id.clone(),
                region: region.to_string(),
            })
        }
    }
}

/// The `inputs` mapping: YAML or JSON, values strings, numbers or booleans, sent as strings.
pub fn parse_extra_inputs(value: &str) -> Result<BTreeMap<String, String>, InputError> {
    let input = "inputs";
    // JSON first: it allows characters (DEL, say) that YAML does not, and YAML would read
    // `{"a": 1}` the same anyway.
    if value.trim_start().starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(value)
    {
        let yaml = map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => serde_yaml::Value::String(s),
                    serde_json::Value::Bool(b) => serde_yaml::Value::Bool(b),
                    serde_json::Value::Number(n) => serde_yaml::from_str(&n.to_string())
                        .unwrap_or(serde_yaml::Value::String(n.to_string())),
                    _ => serde_yaml::Value::Null,
                };
                (serde_yaml::Value::String(k), v)
            })
            .collect();
        return extra_inputs_from(yaml);
    }
    let parsed: serde_yaml::Value = serde_yaml::from_str(value).map_err(|e| {
        bad(
            input,
            format!(
                "is not a YAML or JSON mapping ({e}); write `key: value` lines or a JSON object"
            ),
        )
    })?;
    let map = match parsed {
        serde_yaml::Value::Mapping(map) => map,
        serde_yaml::Value::Null => return Ok(BTreeMap::new()),
        _ => {
            return Err(bad(
                input,
                "must be a mapping of input names to values, such as `region: eu-west-1`",
            ));
        }
    };
    extra_inputs_from(map)
}

fn extra_inputs_from(map: serde_yaml::Mapping) -> Result<BTreeMap<String, String>, InputError> {
    let input = "inputs";
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let key = match key {
            serde_yaml::Value::String(k) => k,
            other => {
                return Err(bad(
                    input,
                    format!(
                        "key {} is not a string",
                        shown(&scalar_text(&other).unwrap_or_default())
                    ),
                ));
            }
        };
        if !valid_input_name(&key) {
            return Err(bad(
                input,
                format!(
                    "key {} is not a workflow input name; names start with a letter or `_` and contain letters, digits, `_` and `-`",
                    shown(&key)
                ),
            ));
        }
        if RESERVED_DISPATCH_INPUTS.contains(&key.as_str()) {
            return Err(bad(
                input,
                format!(
                    "key `{key}` is set by the action itself; remove it (the action sends environment, image_tag and auto_promote)"
                ),
            ));
        }
        let text = scalar_text(&value).ok_or_else(|| {
            bad(
                input,
                format!("value of `{key}` must be a string, number or boolean, not a list, mapping or null"),
            )
        })?;
        out.insert(key, text);
    }
    Ok(out)
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn valid_input_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 100
}

fn parse_target(src: &dyn Source) -> Result<DispatchTarget, InputError> {
    let get = |name: &str| src.input(name).map(|v| v.trim().to_string());
    let repository = get("repository")
        .or_else(|| src.var("GITHUB_REPOSITORY"))
        .ok_or_else(|| {
            bad(
                "repository",
                "is not set and GITHUB_REPOSITORY is empty; set `repository: owner/name`",
            )
        })?;
    let repository = parse_repository_slug(&repository)?;

    let workflow = match get("workflow") {
        Some(w) => parse_workflow(&w)?,
        None => {
            let workflow_ref = src.var("GITHUB_WORKFLOW_REF").ok_or_else(|| {
                bad(
                    "workflow",
                    "is not set and GITHUB_WORKFLOW_REF is empty; set `workflow: deploy.yml` (the file to dispatch)",
                )
            })?;
            workflow_from_ref(&workflow_ref)?
        }
    };

    let git_ref = match get("ref") {
        Some(r) => parse_ref("ref", &r)?,
        None => {
            let r = src.var("GITHUB_REF").ok_or_else(|| {
                bad(
                    "ref",
                    "is not set and GITHUB_REF is empty; set `ref: main` (the branch or tag to dispatch on)",
                )
            })?;
            parse_ref("ref", &r)?
        }
    };

    let token = get("github-token")
        .or_else(|| src.var("GITHUB_TOKEN"))
        .ok_or_else(|| {
            bad(
                "github-token",
                "is empty; pass `github-token: ${{ github.token }}` (the job needs `permissions: actions: write`) or a PAT/App token for another repository",
            )
        })?;
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "github-token",
            "contains whitespace or control characters; check the secret it comes from",
        ));
    }

    let api_url = get("github-api-url")
        .or_else(|| src.var("GITHUB_API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    let api_url = api_url.trim().trim_end_matches('/').to_string();
    if !(api_url.starts_with("https://") || api_url.starts_with("http://"))
        || api_url.parse::<http::Uri>().is_err()
    {
        return Err(bad(
            "github-api-url",
            format!(
                "{} is not an http(s) URL; leave it unset for github.com (or GITHUB_API_URL), or use https://HOST/api/v3 for GitHub Enterprise Server",
                shown(&api_url)
            ),
        ));
    }
    Ok(DispatchTarget {
        repository,
        workflow,
        git_ref,
        token: Secret::new(token),
        api_url,
    })
}

fn parse_repository_slug(value: &str) -> Result<String, InputError> {
    let ok = match value.split_once('/') {
        Some((owner, name)) => {
            !owner.is_empty()
                && !name.is_empty()
                && owner.len() <= 100
                && name.len() <= 100
                && owner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && name != "."
                && name != ".."
        }
        None => false,
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err(bad(
            "repository",
            format!("{} is not `owner/name`", shown(value)),
        ))
    }
}

/// `deploy.yml`, `.github/workflows/deploy.yml` or a numeric id.
pub fn parse_workflow(value: &str) -> Result<WorkflowId, InputError> {
    if let Ok(id) = value.parse::<u64>() {
        return Ok(WorkflowId::Id(id));
    }
    let file = match value.strip_prefix(".github/workflows/") {
        Some(rest) => rest,
        None if value.contains('/') => {
            return Err(bad(
                "workflow",
                format!(
                    "{} is not under .github/workflows/; give the file name (`deploy.yml`), its path (`.github/workflows/deploy.yml`) or its numeric id",
                    shown(value)
                ),
            ));
        }
        None => value,
    };
    let ok = (file.ends_with(".yml") || file.ends_with(".yaml"))
        && !file.contains('/')
        && file.len() > 4
        && !file
            .chars()
            .any(|c| c.is_control() || matches!(c, '?' | '#' | '%' | '\\'));
    if ok {
        Ok(WorkflowId::File(file.to_string()))
    } else {
        Err(bad(
            "workflow",
            format!(
                "{} is not a workflow file name ending in .yml or .yaml, a path under .github/workflows/, or a numeric id",
                shown(value)
            ),
        ))
    }
}

/// `owner/repo/.github/workflows/file.yml@refs/heads/main` → `file.yml`.
fn workflow_from_ref(value: &str) -> Result<WorkflowId, InputError> {
    let path = value.split_once('@').map(|(p, _)| p).unwrap_or(value);
    match path.split_once("/.github/workflows/") {
        Some((_, file)) => parse_workflow(file),
        None => Err(bad(
            "workflow",
            format!(
                "is not set and GITHUB_WORKFLOW_REF {} names no workflow file; set `workflow: deploy.yml`",
                shown(value)
            ),
        )),
    }
}

/// `refs/heads/x`, `refs/tags/x` or a bare name → the bare name GitHub's dispatch takes.
pub fn parse_ref(name: &str, value: &str) -> Result<String, InputError> {
    if value.starts_with("refs/pull/") {
        return Err(bad(
            name,
            format!(
                "{} is a pull request ref, which cannot be dispatched; set `ref: ${{{{ github.head_ref }}}}` or a branch such as `main`",
                shown(value)
            ),
        ));
    }
    let bare = value
        .strip_prefix("refs/heads/")
        .or_else(|| value.strip_prefix("refs/tags/"))
        .unwrap_or(value);
    let ok = !bare.is_empty()
        && bare.len() <= 255
        && !bare.starts_with('/')
        && !bare.ends_with('/')
        && !bare.ends_with(".lock")
        && !bare.contains("..")
        && !bare.contains("@{")
        && !bare.contains("//")
        && !bare.starts_with("refs/")
        && !bare.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        });
    if ok {
        Ok(bare.to_string())
    } else {
        Err(bad(
            name,
            format!(
                "{} is not a branch or tag; use `main`, `refs/heads/main` or `refs/tags/v1.2.3`",
                shown(value)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> MapSource {
        MapSource::default()
            .input("environment", "dev")
            .input("image-tag", "ea11a24-20260129125607")
            .input("ecr-repositories", "app/backend, app/frontend")
            .var("AWS_REGION", "eu-west-1")
            .var("GITHUB_REPOSITORY", "acme/shop")
            .var(
                "GITHUB_WORKFLOW_REF",
                "acme/shop/.github/workflows/deploy.yml@refs/heads/main",
            )
            .var("GITHUB_REF", "refs/heads/main")
            .input("github-token", "ghs_secret")
    }

    fn errors(src: MapSource) -> Vec<InputError> {
        parse(&src).expect_err("should be invalid")
    }

    #[test]
    fn defaults_resolve_from_runner_variables() {
        let i = parse(&base()).unwrap();
        assert_eq!(i.environment, "dev");
        assert_eq!(i.next_environment(), Some("qa"));
        assert!(i.auto_promote && !i.dry_run && i.fail_on_error);
        assert_eq!(i.deploy_status, DeployStatus::Success);
        assert_eq!(i.repositories.len(), 2);
        assert_eq!(i.repositories[1].name, "app/frontend");
        assert_eq!(i.repositories[1].region, "eu-west-1");
        let t = i.target.unwrap();
        assert_eq!(t.repository, "acme/shop");
        assert_eq!(t.workflow, WorkflowId::File("deploy.yml".into()));
        assert_eq!(t.git_ref, "main");
        assert_eq!(t.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn durations() {
        fn d(v: &str) -> Result<Duration, InputError> {
            parse_duration("timeout", v)
        }
        assert_eq!(d("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(d("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(d("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(d("1m30s").unwrap(), Duration::from_secs(90));
        for text in ["90s", "5m", "1h", "1h0m5s"] {
            let parsed = d(text).unwrap();
            assert_eq!(d(&format_duration(parsed)).unwrap(), parsed);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "0s",
            "7h",
            "-1s",
            "1.5m",
            "99999999999999999999h",
        ] {
            let e = d(bad).unwrap_err();
            assert_eq!(e.input, "timeout", "{bad}");
        }
        let i = parse(&base()).unwrap();
        assert_eq!(i.timeout, Duration::from_secs(300));
        assert_eq!(i.correlation_input.as_deref(), Some("promotion_id"));
        assert_eq!(
            parse(&base().input("correlation-input", "none"))
                .unwrap()
                .correlation_input,
            None
        );
        assert!(parse(&base().input("correlation-input", "image_tag")).is_err());
    }

    #[test]
    fn image_inputs() {
        let d = format!("sha256:{}", "a".repeat(64));
        let i = parse(
            &base()
                .input("expected-digest", &d)
                .input("tag-match", "Prefix"),
        )
        .unwrap();
        assert_eq!(i.expected_digest, Some(ExpectedDigest::All(d.clone())));
        assert_eq!(i.tag_match, TagMatch::Prefix);
        let each = format!(r#"{{"app/backend": "{d}", "app/frontend": "{d}", "extra": "{d}"}}"#);
        let i = parse(&base().input("expected-digest", &each)).unwrap();
        assert_eq!(
            i.expected_digest.unwrap().for_repository("app/frontend"),
            Some(d.as_str())
        );
        let partial = format!(r#"{{"app/backend": "{d}"}}"#);
        let e = errors(base().input("expected-digest", &partial));
        assert!(e[0].problem.contains("app/frontend"), "{}", e[0]);
        assert!(
            errors(base().input("expected-digest", "sha256:abc"))[0].input == "expected-digest"
        );
        let i = parse(
            &base()
                .input("required-platforms", "linux/amd64, linux/arm64/v8")
                .input("fail-on-severity", "HIGH"),
        )
        .unwrap();
        assert_eq!(i.required_platforms, ["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(i.fail_on_severity, Some(Severity::High));
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
        assert!(errors(base().input("fail-on-severity", "severe"))[0].input == "fail-on-severity");
        assert!(
            errors(base().input("required-platforms", "amd64"))[0].input == "required-platforms"
        );
        assert!(errors(base().input("tag-match", "fuzzy"))[0].input == "tag-match");
        assert_eq!(
            parse(&base()).unwrap().digest_input.as_deref(),
            Some("image_digest")
        );
    }

    #[test]
    fn gate_inputs() {
        let i = parse(&base()).unwrap();
        assert_eq!(i.timeouts.of("dev"), Duration::from_secs(300));
        assert_eq!(i.timeouts.of("qa"), Duration::from_secs(600));
        assert_eq!(i.timeouts.of("prod"), Timeouts::DEFAULT);
        assert!(i.health.is_none() && i.argocd.is_none());
        assert_eq!(i.wait_for, WaitFor::None);
        let i = parse(
            &base()
                .input("timeouts", "dev=30s qa=1h")
                .input("health-url", "https://qa.example/health")
                .input("health-headers", "Authorization: Bearer s3cret")
                .input("argocd-server", "https://argocd.example/")
                .input("argocd-app", "apps/shop-qa")
                .input("argocd-token", "tok")
                .input("wait-for", "Completed"),
        )
        .unwrap();
        assert_eq!(i.timeouts.of("dev"), Duration::from_secs(30));
        let h = i.health.unwrap();
        assert_eq!(
            (h.status, h.checks, h.interval),
            (200, 3, Duration::from_secs(5))
        );
        assert_eq!(h.headers[0].1.expose(), "Bearer s3cret");
        let a = i.argocd.unwrap();
        assert_eq!(
            (a.server.as_str(), a.app.as_str(), a.namespace.as_deref()),
            ("https://argocd.example", "shop-qa", Some("apps"))
        );
        assert_eq!(i.wait_for, WaitFor::Completed);
        assert!(!format!("{a:?} {h:?}").contains("s3cret"));
        for (name, value) in [
            ("timeouts", "qa"),
            ("timeouts", "qa=10"),
            ("health-url", "ftp://x"),
            ("wait-for", "finished"),
            ("argocd-token", "t"),
        ] {
            let e = errors(base().input(name, value));
            assert_eq!(e[0].input, name, "{name}={value}: {:?}", e);
        }
        let h = base().input("health-url", "https://h.example");
        assert_eq!(
            errors(h.clone().input("health-status", "99"))[0].input,
            "health-status"
        );
        assert_eq!(
            errors(h.clone().input("health-checks", "0"))[0].input,
            "health-checks"
        );
        let e = errors(base().input("argocd-server", "https://a.example"));
        assert_eq!(e[0].input, "argocd-app");
        let e = errors(
            base()
                .input("health-url", "https://h.example")
                .input("health-headers", "X-Token: \"a\\nb\""),
        );
        assert_eq!(e[0].input, "health-headers");
        assert!(!e[0].problem.contains("a\nb"));
    }

    #[test]
    fn input_variable_keeps_hyphens() {
        assert_eq!(input_variable("image-tag"), "INPUT_IMAGE-TAG");
        assert_eq!(input_variable("a b"), "INPUT_A_B");
    }

    #[test]
    fn booleans_are_strict_yaml_core() {
        for t in ["true", "True", "TRUE"] {
            assert!(parse_bool("dry-run", t).unwrap());
        }
        for f in ["false", "False", "FALSE"] {
            assert!(!parse_bool("dry-run", f).unwrap());
        }
        for junk in ["yes", "1", "on", "tru", "fALSE"] {
            let e = parse_bool("dry-run", junk).unwrap_err();
            assert_eq!(e.input, "dry-run");
            assert!(e.problem.contains("`true` or `false`"), "{e}");
        }
    }

    #[test]
    fn missing_required_inputs_are_all_reported() {
        let src = MapSource::default().var("AWS_REGION", "eu-west-1");
        let names: Vec<String> = errors(src).into_iter().map(|e| e.input).collect();
        assert_eq!(names, ["environment", "image-tag", "ecr-repositories"]);
    }

    #[test]
    fn environment_must_be_in_the_chain() {
        let e = errors(base().input("environment", "prod"));
        assert_eq!(e[0].input, "environment");
        assert!(e[0].problem.contains("dev, qa, staging"), "{}", e[0]);
    }

    #[test]
    fn deploy_status_values() {
        assert!(parse_deploy_status(Some("true")).unwrap().is_success());
        assert!(parse_deploy_status(Some("success")).unwrap().is_success());
        assert!(parse_deploy_status(None).unwrap().is_success());
        for v in ["failure", "cancelled", "skipped", "false"] {
            assert!(!parse_deploy_status(Some(v)).unwrap().is_success());
        }
        assert!(
            parse_deploy_status(Some("SUCCESS")).is_err(),
            "exact words only"
        );
        let e = parse_deploy_status(Some("ok")).unwrap_err();
        assert_eq!(e.input, "deploy-status");
        assert!(e.problem.contains("\"ok\""));
    }

    #[test]
    fn tags_follow_ecr_grammar() {
        assert!(parse_tag("ea11a24-20260129125607").is_ok());
        assert!(parse_tag(&"a".repeat(300)).is_ok());
        assert!(parse_tag(&"a".repeat(301)).is_err());
        assert!(parse_tag("v1:2").is_err());
        assert!(parse_tag("a b").is_err());
        let e = parse_tag("sha256:abc").unwrap_err();
        assert!(e.problem.contains("digest"));
    }

    #[test]
    fn repositories_by_name_and_uri() {
        let r = parse_repositories(
            "app/backend\n123456789012.dkr.ecr.us-east-2.amazonaws.com/team/api",
            Some("eu-west-1"),
            &None,
        )
        .unwrap();
        assert_eq!(r[0].region, "eu-west-1");
        assert_eq!(r[0].registry_id, None);
        assert_eq!(r[1].name, "team/api");
        assert_eq!(r[1].region, "us-east-2", "a URI's region wins");
        assert_eq!(r[1].registry_id.as_deref(), Some("123456789012"));
    }

    #[test]
    fn repository_errors_name_the_fix() {
        let e = parse_repositories("App", Some("eu-west-1"), &None).unwrap_err();
        assert!(e.problem.contains("lower-case"), "{e}");
        let e = parse_repositories("app/backend:v1", Some("eu-west-1"), &None).unwrap_err();
        assert!(e.problem.contains("image-tag"), "{e}");
        let e = parse_repositories("ab,ab", Some("eu-west-1"), &None).unwrap_err();
        assert!(e.problem.contains("twice"));
        let e = parse_repositories(
            "team/api 123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api",
            Some("eu-west-1"),
            &None,
        )
        .unwrap_err();
        assert!(e.problem.contains("across registries"), "{e}");
        let e = parse_repositories("app", None, &None).unwrap_err();
        assert_eq!(e.input, "aws-region");
        let e =
            parse_repositories("12.dkr.ecr.eu-west-1.amazonaws.com/app", None, &None).unwrap_err();
        assert!(e.problem.contains("12-digit"));
    }

    #[test]
    fn extra_inputs_yaml_and_json() {
        let m = parse_extra_inputs("region: eu-west-1\nreplicas: 3\ncanary: true").unwrap();
        assert_eq!(m["replicas"], "3");
        assert_eq!(m["canary"], "true");
        let m = parse_extra_inputs(r#"{"a": "x", "b": 1.5}"#).unwrap();
        assert_eq!(m["b"], "1.5");
        assert!(parse_extra_inputs("a: [1]").is_err());
        assert!(parse_extra_inputs("a:").is_err(), "null value");
        assert!(parse_extra_inputs("- a").is_err());
        assert!(
            parse_extra_inputs("image_tag: x")
                .unwrap_err()
                .problem
                .contains("set by the action")
        );
        assert!(parse_extra_inputs("1bad: x").is_err());
    }

    #[test]
    fn dispatch_settings_only_required_when_dispatch_is_possible() {
        let src = MapSource::default()
            .input("environment", "staging")
            .input("image-tag", "v1")
            .input("ecr-repositories", "app")
            .input("aws-region", "eu-west-1");
        let i = parse(&src).unwrap();
        assert!(i.target.is_none());
        assert_eq!(i.next_environment(), None);
        let e = errors(src.input("environment", "dev"));
        assert_eq!(e[0].input, "repository");
    }

    #[test]
    fn pull_request_refs_are_refused_with_a_fix() {
        let e = errors(base().var("GITHUB_REF", "refs/pull/7/merge"));
        assert_eq!(e[0].input, "ref");
        assert!(e[0].problem.contains("github.head_ref"));
        assert_eq!(parse_ref("ref", "refs/tags/v1.2").unwrap(), "v1.2");
        assert!(parse_ref("ref", "a..b").is_err());
    }

    #[test]
    fn workflow_forms() {
        assert_eq!(parse_workflow("123").unwrap(), WorkflowId::Id(123));
        assert_eq!(
            parse_workflow(".github/workflows/d.yaml").unwrap(),
            WorkflowId::File("d.yaml".into())
        );
        assert!(parse_workflow("other/d.yml").is_err());
        assert!(parse_workflow("deploy").is_err());
        let i = parse(&base().var(
            "GITHUB_WORKFLOW_REF",
            "acme/shop/.github/workflows/caller.yml@refs/heads/feature/x",
        ))
        .unwrap();
        assert_eq!(
            i.target.unwrap().workflow,
            WorkflowId::File("caller.yml".into())
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghs_secret".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let i = parse(&base()).unwrap();
        assert!(!format!("{i:?}").contains("ghs_secret"));
    }

    #[test]
    fn partial_reads_fail_on_error_even_when_invalid() {
        let p = partial(&MapSource::default().input("fail-on-error", "false"));
        assert!(!p.fail_on_error);
        assert!(partial(&MapSource::default().input("fail-on-error", "nah")).fail_on_error);
    }
}
