//! Every input the action reads: the table (the only place defaults live), where values come
//! from, and the parsers, one file per concern. All of it runs before the first network call;
//! every problem is collected, not only the first.

mod chain;
mod dispatch;
mod event;
pub mod freeze;
mod gates;
mod grammar;
mod image;
mod rules;
mod source;
mod table;

use std::collections::BTreeMap;
use std::time::Duration;

pub use chain::{check_member, parse_chain};
pub use dispatch::{
    DEFAULT_API_URL, parse_extra_inputs, parse_ref, parse_repository_slug, parse_workflow,
};
pub use event::RunContext;
pub use freeze::Freeze;
pub use gates::{ArgoGate, HealthGate, Timeouts, WaitFor};
pub use grammar::{
    InputError, RESERVED_DISPATCH_INPUTS, Span, parse_bool, parse_duration, parse_span, split_list,
    valid_input_name,
};
pub use image::{
    ExpectedDigest, TagMatch, parse_deploy_status, parse_repositories, parse_tag, valid_digest,
    valid_repository_name,
};
pub use rules::{EnvironmentTag, PromoteBy, SoakTimes, parse_long_duration};
pub use source::{MapSource, ProcessSource, Source, input_variable};
pub use table::{INPUTS, InputSpec, default_of};

use crate::model::{Chain, DeployStatus, DispatchTarget, GitHubAccess, Mode, Repository, Severity};

/// What the image must be, and where: the inputs of the verification and the image gates.
#[derive(Debug, Clone)]
pub struct ImageInputs {
    /// The tag, or with `tag-match: prefix` the prefix of the tag; `None` when the image comes
    /// from the record (`from-environment`, a rollback).
    pub tag: Option<String>,
    pub tag_match: TagMatch,
    pub repositories: Vec<Repository>,
    /// The digest(s) the tag must still point at.
    pub expected_digest: Option<ExpectedDigest>,
    /// `os/arch[/variant]` each repository's image index must list.
    pub required_platforms: Vec<String>,
    /// Findings at or above this severity refuse the image.
    pub fail_on_severity: Option<Severity>,
    pub scan_wait: Duration,
}

/// The deploy gates and the time limits of gates and waits.
#[derive(Debug, Clone)]
pub struct GateInputs {
    /// Time limits of the gates and waits, per environment.
    pub timeouts: Timeouts,
    pub health: Option<HealthGate>,
    pub argocd: Option<ArgoGate>,
}

/// How to dispatch the next environment, and what to do after.
#[derive(Debug, Clone)]
pub struct DispatchInputs {
    /// Present when the checks could end in a dispatch (a next environment, auto-promote on).
    pub target: Option<DispatchTarget>,
    /// Extra dispatch inputs, already strings.
    pub extra_inputs: BTreeMap<String, String>,
    /// The dispatch input that carries this promotion's unique id, when the target declares it.
    pub correlation_input: Option<String>,
    /// The dispatch input that carries the verified digest(s), when the target declares it.
    pub digest_input: Option<String>,
    pub wait_for: WaitFor,
    /// Dispatch the next environment, move its tag in ECR, or both.
    pub promote_by: PromoteBy,
    pub environment_tag: EnvironmentTag,
}

/// The rules an image must pass to enter an environment, and where it comes from.
#[derive(Debug, Clone, Default)]
pub struct RuleInputs {
    /// `resolve`: take the image this environment runs now.
    pub from_environment: Option<String>,
    pub require_upstream: bool,
    pub soak: SoakTimes,
    pub freeze: Freeze,
}

/// The record of what runs where, and going back.
#[derive(Debug, Clone, Default)]
pub struct RecordInputs {
    /// Write a deployment for every promote and rollback run.
    pub enabled: bool,
    pub environment_url: Option<String>,
    /// `rollback`: the tag to go back to.
    pub rollback_to: Option<String>,
    /// `promote`: roll back after a failed deploy.
    pub rollback_on_failure: bool,
    /// A chart of recent lead times in the summary at the end of the chain.
    pub lead_time_chart: bool,
}

/// Everything the action needs, validated, grouped by the step that uses it.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub mode: Mode,
    pub environment: String,
    pub chain: Chain,
    pub deploy_status: DeployStatus,
    pub auto_promote: bool,
    pub dry_run: bool,
    pub fail_on_error: bool,
    /// The budget for all calls to AWS and GitHub together.
    pub timeout: Duration,
    pub image: ImageInputs,
    pub gates: GateInputs,
    pub dispatch: DispatchInputs,
    pub rules: RuleInputs,
    pub record: RecordInputs,
    /// How to reach GitHub; `None` when no token or repository is known and nothing requires
    /// them (a local run without a token, say).
    pub github: Option<GitHubAccess>,
    pub run: RunContext,
}

impl Inputs {
    pub fn next_environment(&self) -> Option<&str> {
        self.chain.next(&self.environment)
    }

    pub fn previous_environment(&self) -> Option<&str> {
        self.chain.previous(&self.environment)
    }
}

/// Inputs as the parsers see them: the user's value, or the table's default.
pub struct Lookup<'a> {
    src: &'a dyn Source,
}

impl<'a> Lookup<'a> {
    pub fn new(src: &'a dyn Source) -> Lookup<'a> {
        Lookup { src }
    }

    /// The value the user gave, trimmed; `None` when unset or empty.
    pub fn given(&self, name: &str) -> Option<String> {
        self.src.input(name).map(|v| v.trim().to_string())
    }

    /// The value as given, untrimmed (a YAML mapping keeps its indentation).
    pub fn raw(&self, name: &str) -> Option<String> {
        self.src.input(name)
    }

    /// The value the user gave, else the table's default (`""` when it has none). A default
    /// that is an expression (`${{ github.token }}`) is the runner's to fill in, not ours.
    pub fn value(&self, name: &str) -> String {
        self.given(name).unwrap_or_else(|| {
            let default = default_of(name);
            if default.contains("${{") {
                String::new()
            } else {
                default.to_string()
            }
        })
    }

    /// A boolean input, its default from the table.
    pub fn flag(&self, name: &str) -> Result<bool, InputError> {
        parse_bool(name, &self.value(name))
    }

    /// A runner or AWS variable.
    pub fn var(&self, name: &str) -> Option<String> {
        self.src.var(name)
    }

    /// The event that started the run.
    pub fn event(&self) -> Option<String> {
        self.src.event()
    }
}

/// What could be read even when validation failed, so outputs can still report it: only
/// values that parsed (a rejected tag is not echoed back as `image_tag`).
#[derive(Debug, Clone, Default)]
pub struct Partial {
    pub environment: Option<String>,
    pub image_tag: Option<String>,
    pub fail_on_error: bool,
}

/// Read what can be read on its own: `fail-on-error` decides the exit code even when other
/// inputs are bad.
pub fn partial(src: &dyn Source) -> Partial {
    let get = Lookup::new(src);
    let chain = parse_chain(&get.value("environments")).ok();
    Partial {
        environment: get.given("environment").filter(|env| {
            chain
                .as_ref()
                .is_some_and(|c| check_member(c, "environment", env).is_ok())
        }),
        image_tag: get.given("image-tag").filter(|t| parse_tag(t).is_ok()),
        fail_on_error: get.flag("fail-on-error").unwrap_or(true),
    }
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
    value.ok_or_else(|| grammar::bad(name, "is required but was not set"))
}

/// Parse and validate every input. Collects every problem, not only the first.
pub fn parse(src: &dyn Source) -> Result<Inputs, Vec<InputError>> {
    let mut errors = Vec::new();
    let get = Lookup::new(src);

    let mode = take(&mut errors, rules::parse_mode(&get.value("mode")));
    let chain = take(&mut errors, parse_chain(&get.value("environments")));
    let environment = take(
        &mut errors,
        required(get.given("environment"), "environment").and_then(|env| match &chain {
            Some(chain) => check_member(chain, "environment", &env).map(|_| env),
            None => Ok(env),
        }),
    );
    let from_environment = get.given("from-environment");
    let image = parse_image(&get, mode, from_environment.is_some(), &mut errors);
    let deploy_status = take(
        &mut errors,
        parse_deploy_status(&get.value("deploy-status")),
    );
    let auto_promote = take(&mut errors, get.flag("auto-promote"));
    let dry_run = take(&mut errors, get.flag("dry-run"));
    let fail_on_error = take(&mut errors, get.flag("fail-on-error"));
    let timeout = take(
        &mut errors,
        parse_duration("timeout", &get.value("timeout")),
    );
    let gates = GateInputs {
        timeouts: take(&mut errors, Timeouts::parse(&get.value("timeouts"))).unwrap_or_default(),
        health: take(&mut errors, gates::parse_health(&get)).flatten(),
        argocd: take(&mut errors, gates::parse_argocd(&get)).flatten(),
    };
    let correlation_input = take(
        &mut errors,
        grammar::parse_input_name("correlation-input", &get.value("correlation-input")),
    )
    .flatten();
    let promote_by = take(
        &mut errors,
        rules::parse_promote_by(&get.value("promote-by")),
    );
    let rules = chain
        .as_ref()
        .map(|chain| {
            parse_rules(
                &get,
                mode,
                chain,
                environment.as_deref(),
                from_environment,
                &mut errors,
            )
        })
        .unwrap_or_default();
    let record = parse_record(&get, mode, &mut errors);
    let environment_tag = chain.as_ref().and_then(|chain| {
        take(
            &mut errors,
            rules::parse_environment_tag(&get.value("environment-tag"), chain),
        )
    });

    // GitHub is needed to dispatch (a next environment, auto-promote on, dispatch among the
    // ways; or a rollback) and to read the record for a rule; to write the record it is only
    // wanted: without it the record is skipped with a warning.
    let next = match (&chain, &environment) {
        (Some(c), Some(e)) => c.next(e),
        _ => None,
    };
    let dispatching = promote_by.is_some_and(|by| by.dispatch);
    let may_dispatch = match mode {
        Some(Mode::Promote) => {
            dispatching
                && ((next.is_some()
                    && auto_promote == Some(true)
                    && deploy_status.is_some_and(DeployStatus::is_success))
                    || record.rollback_on_failure)
        }
        Some(Mode::Rollback) => dispatching,
        _ => false,
    };
    let reads_record = match mode {
        Some(Mode::Resolve) => {
            rules.from_environment.is_some()
                || rules.require_upstream
                || environment
                    .as_deref()
                    .is_some_and(|e| rules.soak.before(e).is_some())
        }
        Some(Mode::Rollback) => true,
        _ => record.rollback_on_failure,
    };
    let github = if may_dispatch || reads_record {
        take(&mut errors, dispatch::parse_access(&get))
    } else {
        dispatch::parse_access(&get).ok()
    };
    let target = match &github {
        Some(access) if may_dispatch => take(
            &mut errors,
            dispatch::parse_target(&get, &access.repository),
        ),
        _ => None,
    };
    let dispatch = DispatchInputs {
        target,
        extra_inputs: take(
            &mut errors,
            get.raw("inputs")
                .map(|v| parse_extra_inputs(&v))
                .unwrap_or_else(|| Ok(BTreeMap::new())),
        )
        .unwrap_or_default(),
        correlation_input: correlation_input.clone(),
        digest_input: take(
            &mut errors,
            grammar::parse_input_name("digest-input", &get.value("digest-input")),
        )
        .flatten(),
        wait_for: take(&mut errors, gates::parse_wait_for(&get.value("wait-for")))
            .unwrap_or(WaitFor::None),
        promote_by: promote_by.unwrap_or(PromoteBy {
            dispatch: true,
            tag: false,
        }),
        environment_tag: environment_tag
            .clone()
            .unwrap_or_else(EnvironmentTag::default_pattern),
    };
    let run = event::run_context(&get, correlation_input.as_deref());

    match (
        mode,
        chain,
        environment,
        image,
        deploy_status,
        (auto_promote, dry_run, fail_on_error),
        timeout,
    ) {
        (
            Some(mode),
            Some(chain),
            Some(environment),
            Some(image),
            Some(deploy_status),
            (Some(auto_promote), Some(dry_run), Some(fail_on_error)),
            Some(timeout),
        ) if errors.is_empty() => Ok(Inputs {
            mode,
            environment,
            chain,
            deploy_status,
            auto_promote,
            dry_run,
            fail_on_error,
            timeout,
            image,
            gates,
            dispatch,
            rules,
            record,
            github,
            run,
        }),
        _ => Err(errors),
    }
}

/// Where the image comes from and what it must pass to enter an environment.
fn parse_rules(
    get: &Lookup,
    mode: Option<Mode>,
    chain: &Chain,
    environment: Option<&str>,
    from_environment: Option<String>,
    errors: &mut Vec<InputError>,
) -> RuleInputs {
    let from_environment = from_environment.and_then(|from| {
        let checked = if mode.is_some_and(|m| m != Mode::Resolve) {
            Err(grammar::bad(
                "from-environment",
                "is for `mode: resolve` (take the image another environment runs before the deploy); remove it here",
            ))
        } else if Some(from.as_str()) == environment {
            Err(grammar::bad(
                "from-environment",
                format!("`{from}` is `environment` itself; name the environment to take the image from"),
            ))
        } else {
            check_member(chain, "from-environment", &from).map(|_| from)
        };
        take(errors, checked)
    });
    let freeze = match rules::parse_freeze(&get.value("freeze"), chain) {
        Ok(freeze) => freeze,
        Err(mut bad) => {
            errors.append(&mut bad);
            Freeze::default()
        }
    };
    RuleInputs {
        from_environment,
        require_upstream: take(errors, get.flag("require-upstream")).unwrap_or(false),
        soak: take(errors, rules::parse_soak(&get.value("soak-time"), chain)).unwrap_or_default(),
        freeze,
    }
}

/// The record and rollback inputs.
fn parse_record(get: &Lookup, mode: Option<Mode>, errors: &mut Vec<InputError>) -> RecordInputs {
    let only_in = |input: &str, wanted: Mode| -> Result<(), InputError> {
        match mode {
            Some(m) if m != wanted => Err(grammar::bad(
                input,
                format!("is for `mode: {}`; remove it here", wanted.as_str()),
            )),
            _ => Ok(()),
        }
    };
    let rollback_to = get.given("rollback-to").and_then(|tag| {
        take(
            errors,
            only_in("rollback-to", Mode::Rollback)
                .and_then(|_| parse_tag(&tag).map_err(|e| grammar::bad("rollback-to", e.problem))),
        )
    });
    let rollback_on_failure = take(errors, get.flag("rollback-on-failure")).unwrap_or(false);
    if rollback_on_failure {
        take(errors, only_in("rollback-on-failure", Mode::Promote));
    }
    let environment_url = get
        .given("environment-url")
        .and_then(|url| take(errors, grammar::parse_http_url("environment-url", &url)));
    RecordInputs {
        enabled: take(errors, get.flag("record")).unwrap_or(true),
        environment_url,
        rollback_to,
        rollback_on_failure,
        lead_time_chart: take(errors, get.flag("lead-time-chart")).unwrap_or(false),
    }
}

/// The image inputs; `None` when any of them is invalid (the errors are in `errors`).
fn parse_image(
    get: &Lookup,
    mode: Option<Mode>,
    from_environment: bool,
    errors: &mut Vec<InputError>,
) -> Option<ImageInputs> {
    let before = errors.len();
    // The tag is typed, or it comes from the record: from another environment, or the one a
    // rollback goes back to.
    let tag = match (get.given("image-tag"), mode, from_environment) {
        (_, Some(Mode::Rollback), _) => Some(None),
        (Some(_), _, true) => take(
            errors,
            Err(grammar::bad(
                "image-tag",
                "is set together with `from-environment`; give one of them: the tag, or the environment whose image to take",
            )),
        ),
        (None, _, true) => Some(None),
        (tag, _, false) => take(
            errors,
            required(tag, "image-tag")
                .and_then(|t| parse_tag(&t))
                .map(Some),
        ),
    };
    let region_default = take(
        errors,
        get.given("aws-region")
            .map(|r| image::parse_region("aws-region", &r))
            .transpose(),
    )
    .flatten()
    .or_else(|| {
        get.var("AWS_REGION")
            .or_else(|| get.var("AWS_DEFAULT_REGION"))
    });
    let registry_id = take(
        errors,
        get.given("registry-id")
            .map(|r| image::parse_account(&r))
            .transpose(),
    )
    .flatten();
    let repositories = take(
        errors,
        required(get.given("ecr-repositories"), "ecr-repositories")
            .and_then(|r| parse_repositories(&r, region_default.as_deref(), &registry_id)),
    );
    let expected_digest = match (get.given("expected-digest"), &repositories) {
        (Some(v), Some(repos)) => take(errors, image::parse_expected_digest(&v, repos)),
        _ => None,
    };
    let scan_wait = match get.value("scan-wait").as_str() {
        "0" | "0s" => Some(Duration::ZERO),
        v => take(errors, parse_duration("scan-wait", v)),
    };
    let tag_match = take(errors, image::parse_tag_match(&get.value("tag-match")));
    let required_platforms = take(
        errors,
        image::parse_platforms(&get.value("required-platforms")),
    );
    let fail_on_severity = take(
        errors,
        image::parse_severity(&get.value("fail-on-severity")),
    );
    if errors.len() != before {
        return None;
    }
    Some(ImageInputs {
        tag: tag?,
        tag_match: tag_match?,
        repositories: repositories?,
        expected_digest,
        required_platforms: required_platforms?,
        fail_on_severity: fail_on_severity?,
        scan_wait: scan_wait?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WorkflowId;
    use crate::text::format_duration;

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
        assert_eq!(i.image.repositories.len(), 2);
        assert_eq!(i.image.repositories[1].name, "app/frontend");
        assert_eq!(i.image.repositories[1].region, "eu-west-1");
        let t = i.dispatch.target.unwrap();
        assert_eq!(t.repository, "acme/shop");
        assert_eq!(t.workflow, WorkflowId::File("deploy.yml".into()));
        assert_eq!(t.git_ref, "main");
        assert_eq!(i.github.unwrap().api_url, DEFAULT_API_URL);
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
        assert_eq!(
            i.dispatch.correlation_input.as_deref(),
            Some("promotion_id")
        );
        assert_eq!(
            parse(&base().input("correlation-input", "none"))
                .unwrap()
                .dispatch
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
        assert_eq!(
            i.image.expected_digest,
            Some(ExpectedDigest::All(d.clone()))
        );
        assert_eq!(i.image.tag_match, TagMatch::Prefix);
        let each = format!(r#"{{"app/backend": "{d}", "app/frontend": "{d}", "extra": "{d}"}}"#);
        let i = parse(&base().input("expected-digest", &each)).unwrap();
        assert_eq!(
            i.image
                .expected_digest
                .unwrap()
                .for_repository("app/frontend"),
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
        assert_eq!(
            i.image.required_platforms,
            ["linux/amd64", "linux/arm64/v8"]
        );
        assert_eq!(i.image.fail_on_severity, Some(Severity::High));
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
        assert!(errors(base().input("fail-on-severity", "severe"))[0].input == "fail-on-severity");
        assert!(
            errors(base().input("required-platforms", "amd64"))[0].input == "required-platforms"
        );
        assert!(errors(base().input("tag-match", "fuzzy"))[0].input == "tag-match");
        assert_eq!(
            parse(&base()).unwrap().dispatch.digest_input.as_deref(),
            Some("image_digest")
        );
    }

    #[test]
    fn gate_inputs() {
        let i = parse(&base()).unwrap();
        assert_eq!(i.gates.timeouts.of("dev"), Duration::from_secs(300));
        assert_eq!(i.gates.timeouts.of("qa"), Duration::from_secs(600));
        assert_eq!(i.gates.timeouts.of("prod"), Timeouts::DEFAULT);
        assert!(i.gates.health.is_none() && i.gates.argocd.is_none());
        assert_eq!(i.dispatch.wait_for, WaitFor::None);
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
        assert_eq!(i.gates.timeouts.of("dev"), Duration::from_secs(30));
        let h = i.gates.health.unwrap();
        assert_eq!(
            (h.status, h.checks, h.interval),
            (200, 3, Duration::from_secs(5))
        );
        assert_eq!(h.headers[0].1.expose(), "Bearer s3cret");
        let a = i.gates.argocd.unwrap();
        assert_eq!(
            (a.server.as_str(), a.app.as_str(), a.namespace.as_deref()),
            ("https://argocd.example", "shop-qa", Some("apps"))
        );
        assert_eq!(i.dispatch.wait_for, WaitFor::Completed);
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
        assert!(parse_deploy_status("true").unwrap().is_success());
        assert!(parse_deploy_status("success").unwrap().is_success());
        assert!(parse(&base()).unwrap().deploy_status.is_success());
        for v in ["failure", "cancelled", "skipped", "false"] {
            assert!(!parse_deploy_status(v).unwrap().is_success());
        }
        assert!(parse_deploy_status("SUCCESS").is_err(), "exact words only");
        let e = parse_deploy_status("ok").unwrap_err();
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
        assert!(i.dispatch.target.is_none());
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
            i.dispatch.target.unwrap().workflow,
            WorkflowId::File("caller.yml".into())
        );
    }

    #[test]
    fn secrets_never_print() {
        let i = parse(&base()).unwrap();
        assert!(!format!("{i:?}").contains("ghs_secret"));
    }

    #[test]
    fn partial_reads_fail_on_error_even_when_invalid() {
        let p = partial(&MapSource::default().input("fail-on-error", "false"));
        assert!(!p.fail_on_error);
        assert!(partial(&MapSource::default().input("fail-on-error", "nah")).fail_on_error);
    }

    #[test]
    fn every_default_comes_from_the_table() {
        // With nothing optional set, each parsed value is what the table's default parses to.
        let i = parse(&base()).unwrap();
        let d = |name: &str| default_of(name).to_string();
        assert_eq!(i.chain.names().join(","), d("environments"));
        assert_eq!(i.timeout, parse_duration("timeout", &d("timeout")).unwrap());
        assert_eq!(
            i.image.scan_wait,
            parse_duration("scan-wait", &d("scan-wait")).unwrap()
        );
        assert_eq!(i.gates.timeouts, Timeouts::parse(&d("timeouts")).unwrap());
        assert_eq!(i.auto_promote, parse_bool("x", &d("auto-promote")).unwrap());
        assert_eq!(i.dry_run, parse_bool("x", &d("dry-run")).unwrap());
        assert_eq!(
            i.fail_on_error,
            parse_bool("x", &d("fail-on-error")).unwrap()
        );
        assert_eq!(
            i.dispatch.digest_input.as_deref(),
            Some(default_of("digest-input"))
        );
        let h = parse(&base().input("health-url", "https://h.example"))
            .unwrap()
            .gates
            .health
            .unwrap();
        assert_eq!(h.status.to_string(), d("health-status"));
        assert_eq!(h.checks.to_string(), d("health-checks"));
        assert_eq!(format_duration(h.interval), d("health-interval"));
    }

    #[test]
    fn repository_names_follow_the_service_model() {
        // The pattern ECR publishes in its model (botocore's service-2.json, RepositoryName).
        for ok in [
            "ab",
            "team/backend",
            "team__backend",
            "team--backend",
            "team---x",
            "a.b_c-d/e__f",
            "x1/y2/z3",
        ] {
            assert!(valid_repository_name(ok), "{ok} is valid");
        }
        for bad in [
            "a", "Team", "team___x", "team..x", "team_-x", "-team", "team-", "team//x", "/team",
            "team/", "te am",
        ] {
            assert!(!valid_repository_name(bad), "{bad} is invalid");
        }
        assert!(valid_repository_name(&"a".repeat(256)));
        assert!(!valid_repository_name(&"a".repeat(257)));
    }

    #[test]
    fn a_rejected_value_is_not_echoed_as_parsed() {
        let p = partial(
            &MapSource::default()
                .input("environment", "qa")
                .input("image-tag", "bad tag!"),
        );
        assert_eq!(p.environment.as_deref(), Some("qa"));
        assert_eq!(p.image_tag, None);
        let p = partial(&MapSource::default().input("environment", "prod"));
        assert_eq!(p.environment, None, "prod is not in the default chain");
    }

    #[test]
    fn flags_are_reported_as_flags() {
        let src = base().flag("image-tag", "x");
        assert!(src.given_by_flag("image-tag"));
        assert!(!src.given_by_flag("environment"));
    }
}
