//! The one table of the action's inputs: names, whether required, boolean or not, defaults and
//! help. The only place a default is written: `action.yml`, the README, `--help` and the parser
//! all take it from here (`tests/integration/contract.rs` checks the first two).

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
        false,
        false,
        "",
        "The tag to verify in ECR and promote (required unless from-environment is set or mode is rollback)",
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
    spec(
        "mode",
        false,
        false,
        "promote",
        "promote (after the deploy), resolve (before it) or rollback",
    ),
    spec(
        "from-environment",
        false,
        false,
        "",
        "resolve: take the image this environment of the chain runs now instead of image-tag",
    ),
    spec(
        "require-upstream",
        false,
        true,
        "false",
        "The image must have a successful record in the previous environment (true|false)",
    ),
    spec(
        "soak-time",
        false,
        false,
        "",
        "Per environment (qa=30m, staging=2h): how long the image must have run in the environment before it",
    ),
    spec(
        "freeze",
        false,
        false,
        "",
        "Windows in which nothing may enter an environment: `ENV: START - END [TIMEZONE]`, one a line",
    ),
    spec(
        "record",
        false,
        true,
        "true",
        "Write a GitHub deployment for every promote and rollback run (true|false)",
    ),
    spec(
        "environment-url",
        false,
        false,
        "",
        "The URL shown on the deployment",
    ),
    spec(
        "rollback-to",
        false,
        false,
        "",
        "rollback: the tag to go back to [default: the environment's previous successful image]",
    ),
    spec(
        "rollback-on-failure",
        false,
        true,
        "false",
        "promote: roll the environment back when its deploy failed (true|false)",
    ),
    spec(
        "promote-by",
        false,
        false,
        "dispatch",
        "How the next environment gets the image: dispatch, tag, or dispatch,tag",
    ),
    spec(
        "environment-tag",
        false,
        false,
        "{environment}",
        "With promote-by tag: the ECR tag naming the image an environment should run",
    ),
    spec(
        "lead-time-chart",
        false,
        true,
        "false",
        "At the end of the chain: a chart of recent lead times in the summary (true|false)",
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

/// The default of input `name` as the table gives it; `""` when it has none.
pub fn default_of(name: &str) -> &'static str {
    INPUTS
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.default)
        .unwrap_or("")
}
