//! Every result code and exit code of the contract, and the incidents of the field report.

use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::{
    DEPLOY_YML, FakeGitHub, REGION, REPOSITORY, TOKEN, github_with_deploy, seed, unique,
};
use crate::{at, step};

const TAG: &str = "ea11a24-20260129125607";
const TYPO: &str = "ea11a24-20260129125555";

/// Two repositories holding TAG (and older tags), named uniquely for this test.
fn repos() -> (String, String) {
    let backend = unique("shop/backend");
    let frontend = unique("shop/frontend");
    for r in [&backend, &frontend] {
        seed(
            REGION,
            r,
            &["ea11a24-20260128101010", "b0c0ffe-20260129000000", TAG],
        );
    }
    (backend, frontend)
}

/// No call at all reached the stand-in.
fn assert_untouched(gh: &FakeGitHub) {
    assert!(
        gh.requests().is_empty(),
        "unexpected GitHub calls: {:?}",
        gh.requests()
    );
}

/// Nothing was dispatched, and the deploy of `environment` was recorded with `state`.
fn assert_not_dispatched_but_recorded(gh: &FakeGitHub, environment: &str, state: &str) {
    assert!(gh.runs().is_empty(), "no run was started");
    assert_eq!(gh.count("POST", "/dispatches"), 0);
    let deployments = gh.deployments();
    let last = deployments
        .iter()
        .max_by_key(|d| d.id)
        .expect("a deployment was recorded");
    assert_eq!(last.environment, environment);
    assert_eq!(last.task, "deploy:ecr-promote");
    assert_eq!(last.latest().map(|s| s.state.as_str()), Some(state));
}

/// The target workflow may have been read (in the first round, while ECR was asked), and the
/// run recorded, but nothing was dispatched.
fn assert_not_dispatched(gh: &FakeGitHub) {
    let writes: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && !r.path.contains("/deployments"))
        .collect();
    assert!(writes.is_empty(), "unexpected GitHub writes: {writes:?}");
    assert!(gh.runs().is_empty(), "no run was started");
}

#[test]
fn dev_verifies_and_dispatches_qa_with_the_same_tag() {
    let (backend, frontend) = repos();
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, &format!("{backend}, {frontend}"))
        .github(&gh)
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("promoted"), "true");
    assert_eq!(ran.out("result"), "promoted");
    assert_eq!(ran.out("environment"), "dev");
    assert_eq!(ran.out("next_environment"), "qa");
    assert_eq!(ran.out("image_tag"), TAG);
    assert!(ran.out("image_digest").starts_with("sha256:"));
    let digests: serde_json::Value = serde_json::from_str(ran.out("image_digests")).unwrap();
    assert!(digests[&backend].as_str().unwrap().starts_with("sha256:"));
    assert!(digests[&frontend].as_str().unwrap().starts_with("sha256:"));

    let runs = gh.runs();
    assert_eq!(runs.len(), 1, "exactly one dispatch");
    let run = &runs[0];
    assert_eq!(run.branch, "main");
    assert_eq!(run.inputs["environment"], "qa");
    assert_eq!(run.inputs["image_tag"], TAG);
    assert_eq!(run.inputs["auto_promote"], "true");
    assert_eq!(ran.out("run_id"), run.id.to_string());
    assert_eq!(ran.out("run_url"), run.html_url);

    // The dispatch asked for the run's details, and went to the running workflow's file.
    let post = gh
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/dispatches"))
        .unwrap();
    assert_eq!(
        post.path,
        format!("/repos/{REPOSITORY}/actions/workflows/deploy.yml/dispatches")
    );
    let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body["return_run_details"], true);
    assert_eq!(post.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(gh.count("POST", "/dispatches"), 1);

    // dev's deploy is recorded: one deployment, the verified image, one success status.
    let deployments = gh.deployments();
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    assert_eq!(d.environment, "dev");
    assert_eq!(d.payload["image_tag"], TAG);
    assert_eq!(d.payload["image_digests"], digests);
    assert_eq!(d.latest().unwrap().state, "success");
    assert_eq!(ran.out("recorded"), "true");
    assert_eq!(ran.out("deployment_id"), d.id.to_string());

    assert!(
        ran.summary.contains(&backend) && ran.summary.contains(&run.html_url),
        "{}",
        ran.summary
    );
    // Step::collect checks every run of every test for the token in every stream and file.
}

#[test]
fn staging_ends_the_chain_and_records_its_deploy() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ran = at("staging", TAG, &backend).github(&gh).run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "end-of-chain");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(ran.out("next_environment"), "");
    assert_not_dispatched_but_recorded(&gh, "staging", "success");
    assert_eq!(ran.out("recorded"), "true");

    // record: false reads and writes nothing at the end of the chain.
    let quiet = github_with_deploy("");
    let ran = at("staging", TAG, &backend)
        .github(&quiet)
        .input("record", "false")
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(ran.out("recorded"), "false");
    assert_untouched(&quiet);
}

#[test]
fn auto_promote_off_verifies_but_does_not_dispatch() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ran = at("qa", TAG, &backend)
        .github(&gh)
        .input("auto-promote", "False")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "auto-promote-disabled");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(ran.out("next_environment"), "staging");
    assert_not_dispatched_but_recorded(&gh, "qa", "success");
}

#[test]
fn dry_run_checks_the_target_but_sends_nothing() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input("dry-run", "true")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "dry-run");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(
        gh.count("GET", "/contents/.github/workflows/deploy.yml"),
        1,
        "pre-flight ran"
    );
    assert_eq!(gh.count("POST", "/dispatches"), 0);
    assert!(gh.runs().is_empty());
}

#[test]
fn failed_deploy_stops_the_chain() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    for status in ["failure", "cancelled", "skipped", "false"] {
        let ran = at("dev", TAG, &backend)
            .github(&gh)
            .input("deploy-status", status)
            .run();
        assert_eq!(ran.code, 1, "{status}: {}", ran.context());
        assert_eq!(ran.out("result"), "deploy-failed");
        assert_eq!(ran.out("deploy_success"), "false");
        assert_eq!(ran.out("promoted"), "false");
        assert!(
            ran.out("message").contains("the chain stops"),
            "{}",
            ran.out("message")
        );
    }
    // fail-on-error: false keeps the outputs and exits 0.
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input("deploy-status", "failure")
        .input("fail-on-error", "false")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "deploy-failed");
    assert_eq!(ran.out("deploy_success"), "false");
    // Every failed deploy is recorded as a failure; nothing is dispatched.
    assert_not_dispatched_but_recorded(&gh, "dev", "failure");
    assert_eq!(gh.deployments().len(), 5);
}

#[test]
fn a_typed_tag_is_refused_with_the_tags_that_exist() {
    // The field report: `...125555` typed, `...125607` pushed.
    let (backend, frontend) = repos();
    let gh = github_with_deploy("");
    let ran = at("qa", TYPO, &format!("{backend}\n{frontend}"))
        .github(&gh)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-missing");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    let message = ran.out("message");
    assert!(message.contains(TYPO), "{message}");
    // Nearest first: same commit SHA, newest first; an unrelated SHA is not offered.
    let at = |t: &str| {
        message
            .find(t)
            .unwrap_or_else(|| panic!("{t} not suggested: {message}"))
    };
    assert!(at(TAG) < at("ea11a24-20260128101010"), "{message}");
    assert!(!message.contains("b0c0ffe"), "{message}");
    assert!(!ran.outputs.contains_key("image_digests"));
    assert!(
        ran.stdout
            .contains("::error title=ecr-promote%3A image-missing::")
    );
    assert!(ran.summary.contains("tag not found"), "{}", ran.summary);
    assert_not_dispatched(&gh);
}

#[test]
fn a_missing_repository_is_told_apart_from_a_missing_tag() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ghost = unique("shop/ghost");
    let ran = at("dev", TAG, &format!("{backend},{ghost}"))
        .github(&gh)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-missing");
    assert!(
        ran.out("message").contains("repository does not exist"),
        "{}",
        ran.out("message")
    );
    assert!(ran.out("message").contains(&ghost));
    assert_not_dispatched(&gh);
}

#[test]
fn repositories_as_full_uris_in_another_region() {
    let name = unique("team/api");
    seed("us-east-2", &name, &[TAG]);
    let gh = github_with_deploy("");
    let ran = step()
        .github(&gh)
        .input("environment", "staging")
        .input("image-tag", TAG)
        .input(
            "ecr-repositories",
            &format!("123456789012.dkr.ecr.us-east-2.amazonaws.com/{name}"),
        )
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    let digests: serde_json::Value = serde_json::from_str(ran.out("image_digests")).unwrap();
    assert!(
        digests.get(&name).is_some(),
        "keyed by name without the host: {digests}"
    );
    // The same name in the default region does not exist: the URI's region was used.
    let ran = at("staging", TAG, &name).github(&gh).run();
    assert_eq!(ran.out("result"), "image-missing", "{}", ran.context());
}

#[test]
fn invalid_input_exits_1_even_when_failures_are_tolerated_and_calls_nothing() {
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, "shop/backend")
        .github(&gh)
        .input("dry-run", "yes")
        .input("fail-on-error", "false")
        .env("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "invalid-input");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    let message = ran.out("message");
    assert!(
        message.contains("`dry-run`")
            && message.contains("\"yes\"")
            && message.contains("`true` or `false`"),
        "{message}"
    );
    assert_untouched(&gh);
}

#[test]
fn every_bad_input_is_named() {
    let gh = github_with_deploy("");
    let ran = at("prod", "v1:2", "Shop/Backend")
        .github(&gh)
        .input("deploy-status", "ok")
        .run();
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("result"), "invalid-input");
    for name in [
        "environment",
        "image-tag",
        "ecr-repositories",
        "deploy-status",
    ] {
        assert!(
            ran.stdout.contains(&format!("input `{name}`")),
            "{name} not named:\n{}",
            ran.stdout
        );
    }
    assert!(
        ran.out("message").starts_with("4 invalid inputs"),
        "{}",
        ran.out("message")
    );
    assert_untouched(&gh);
}

#[test]
fn missing_required_inputs_and_a_pull_request_ref() {
    let ran = step().run();
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("result"), "invalid-input");
    assert!(ran.out("message").contains("`environment`"));
    let (backend, _) = repos();
    let ran = step()
        .input("environment", "dev")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend)
        .env("GITHUB_REF", "refs/pull/12/merge")
        .run();
    assert_eq!(ran.out("result"), "invalid-input");
    assert!(
        ran.out("message").contains("github.head_ref"),
        "{}",
        ran.out("message")
    );
}

#[test]
fn a_choice_without_the_next_environment_is_caught_before_dispatch() {
    let (backend, _) = repos();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    gh.add_workflow(
        1,
        "deploy.yml",
        "main",
        &DEPLOY_YML.replace("[dev, qa, staging]", "[dev, staging]"),
    );
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "dispatch-rejected");
    assert_eq!(
        ran.out("deploy_success"),
        "true",
        "the checks passed; only the dispatch was refused"
    );
    assert_eq!(ran.out("promoted"), "false");
    let message = ran.out("message");
    assert!(
        message.contains(".github/workflows/deploy.yml")
            && message.contains("`environment`")
            && message.contains("qa"),
        "{message}"
    );
    assert_eq!(gh.count("POST", "/dispatches"), 0, "nothing dispatched");
}

#[test]
fn undeclared_extra_inputs_and_a_missing_trigger_are_refused_before_dispatch() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input("inputs", "replicas: 3")
        .run();
    assert_eq!(ran.out("result"), "dispatch-rejected", "{}", ran.context());
    assert!(ran.out("message").contains("`replicas`"));

    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    gh.add_workflow(2, "deploy.yml", "main", "on: push\njobs: {}\n");
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "dispatch-rejected", "{}", ran.context());
    assert!(
        ran.out("message")
            .contains("no `workflow_dispatch` trigger")
    );
    assert_eq!(gh.count("POST", "/dispatches"), 0);
}

#[test]
fn declared_extra_inputs_are_sent_as_strings() {
    let (backend, _) = repos();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let yml = DEPLOY_YML.replace(
        "      image_tag:\n",
        "      replicas:\n        type: number\n      canary:\n        type: boolean\n      image_tag:\n",
    );
    gh.add_workflow(3, "deploy.yml", "main", &yml);
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input("inputs", r#"{"replicas": 3, "canary": true}"#)
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let run = &gh.runs()[0];
    assert_eq!(run.inputs["replicas"], "3");
    assert_eq!(run.inputs["canary"], "true");
}

#[test]
fn a_disabled_workflow_is_refused() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    gh.set_state("deploy.yml", "disabled_manually");
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "dispatch-rejected", "{}", ran.context());
    assert!(ran.out("message").contains("disabled_manually"));
    assert_eq!(gh.count("POST", "/dispatches"), 0);
}

#[test]
fn a_workflow_without_auto_promote_still_gets_environment_and_tag() {
    let (backend, _) = repos();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let yml = "on:\n  workflow_dispatch:\n    inputs:\n      environment: {required: true}\n      image_tag: {required: true}\njobs: {}\n";
    gh.add_workflow(4, "promote.yml", "main", yml);
    let ran = at("qa", TAG, &backend)
        .github(&gh)
        .input("workflow", ".github/workflows/promote.yml")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let run = &gh.runs()[0];
    assert_eq!(run.inputs.len(), 2, "{:?}", run.inputs);
    assert_eq!(run.inputs["environment"], "staging");
}

#[test]
fn github_refusals_are_dispatch_rejected_with_the_fix() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    gh.fault(
        "POST",
        "/dispatches",
        crate::helpers::Fault::Answer(
            403,
            vec![],
            r#"{"message":"Resource not accessible by integration"}"#.into(),
        ),
    );
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "dispatch-rejected");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("promoted"), "false");
    assert!(ran.stdout.contains("actions: write"), "{}", ran.stdout);
    assert_eq!(
        gh.count("POST", "/dispatches"),
        1,
        "a refusal is never retried"
    );

    // A bad token.
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input("github-token", "wrong-token-5b8e1f")
        .run();
    assert_eq!(ran.out("result"), "dispatch-rejected", "{}", ran.context());
    assert!(ran.out("message").contains("401"));
}

#[test]
fn github_enterprise_prefix_and_legacy_dispatch() {
    let (backend, _) = repos();
    let gh = github_with_deploy("/api/v3");
    gh.legacy_dispatch();
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "promoted");
    assert!(gh.requests().iter().all(|r| r.path.starts_with("/api/v3/")));
    // First with return_run_details (400), then the plain form (204), then the run was found.
    assert_eq!(gh.count("POST", "/dispatches"), 2);
    let runs = gh.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(ran.out("run_id"), runs[0].id.to_string());
}

#[test]
fn a_reusable_workflow_redispatches_its_caller() {
    let (backend, _) = repos();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    gh.add_workflow(5, "caller.yml", "release/1.x", DEPLOY_YML);
    let ran = step()
        .github(&gh)
        .env(
            "GITHUB_WORKFLOW_REF",
            &format!("{REPOSITORY}/.github/workflows/caller.yml@refs/heads/release/1.x"),
        )
        .env("GITHUB_REF", "refs/heads/release/1.x")
        .input("environment", "qa")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend)
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let post = gh
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/dispatches"))
        .unwrap();
    assert!(
        post.path.ends_with("/workflows/caller.yml/dispatches"),
        "{}",
        post.path
    );
    assert_eq!(gh.runs()[0].branch, "release/1.x");
    assert_eq!(gh.runs()[0].inputs["environment"], "staging");
}

#[test]
fn flags_win_over_input_variables() {
    let (backend, _) = repos();
    let ran = step()
        .input("environment", "dev")
        .input("image-tag", TYPO)
        .input("ecr-repositories", &backend)
        .run_with(&["--environment", "staging", "--image-tag", TAG]);
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(ran.out("environment"), "staging");
    let ran = step()
        .input("environment", "qa")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend)
        .input("auto-promote", "true")
        .run_with(&["--auto-promote=false"]);
    assert_eq!(
        ran.out("result"),
        "auto-promote-disabled",
        "{}",
        ran.context()
    );
}

#[test]
fn help_documents_every_input() {
    let ran = step().run_with(&["--help"]);
    assert_eq!(ran.code, 0);
    for spec in ecr_promote::config::INPUTS {
        assert!(
            ran.stdout.contains(&format!("--{}", spec.name)),
            "--{} missing from --help",
            spec.name
        );
    }
    let ran = step().run_with(&["--no-such-flag"]);
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("result"), "invalid-input");
}

#[test]
fn an_unknown_workflow_is_refused_before_dispatch() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input("workflow", "deploy-typo.yml")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "dispatch-rejected");
    assert!(
        ran.out("message").contains("deploy-typo.yml"),
        "{}",
        ran.out("message")
    );
    assert_eq!(gh.count("POST", "/dispatches"), 0);
}

#[test]
fn github_api_url_input_wins_over_the_runner_variable() {
    let (backend, _) = repos();
    let gh = github_with_deploy("/api/v3");
    let ran = at("dev", TAG, &backend)
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .input("github-api-url", &gh.url)
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.runs().len(), 1);
    let ran = at("dev", TAG, &backend)
        .input("github-api-url", "ftp://x")
        .run();
    assert_eq!(ran.out("result"), "invalid-input");
    assert!(
        ran.out("message").contains("`github-api-url`"),
        "{}",
        ran.out("message")
    );
}

/// DEPLOY_YML (environment, image_tag, auto_promote) with `extra` more string inputs.
fn deploy_yml_with(extra: usize) -> String {
    let more: String = (1..=extra)
        .map(|i| format!("      note{i}:\n        type: string\n"))
        .collect();
    DEPLOY_YML.replace("      image_tag:\n", &format!("{more}      image_tag:\n"))
}

#[test]
fn enterprise_server_before_3_20_takes_at_most_10_inputs() {
    let (backend, _) = repos();
    // environment, image_tag, auto_promote and 8 notes: 11 inputs.
    let notes: String = (1..=8).map(|i| format!("note{i}: n{i}\n")).collect();
    let promote = |version: Option<&str>| {
        let gh = match version {
            Some(v) => FakeGitHub::start_enterprise(REPOSITORY, TOKEN, v),
            None => FakeGitHub::start(REPOSITORY, TOKEN, ""),
        };
        gh.add_workflow(7, "deploy.yml", "main", &deploy_yml_with(8));
        let ran = at("dev", TAG, &backend)
            .github(&gh)
            .input("inputs", &notes)
            .run();
        (gh, ran)
    };
    for version in ["3.17.0", "3.19.4"] {
        let (gh, ran) = promote(Some(version));
        assert_eq!(ran.code, 1, "{version}: {}", ran.context());
        assert_eq!(ran.out("result"), "dispatch-rejected", "{version}");
        assert_eq!(ran.out("deploy_success"), "true");
        let message = ran.out("message");
        assert!(
            message.contains("11 inputs would be sent; this GitHub accepts at most 10"),
            "{version}: {message}"
        );
        assert!(message.contains("before 3.20"), "{version}: {message}");
        assert_not_dispatched(&gh);
    }
    for version in [Some("3.20.0"), None] {
        let (gh, ran) = promote(version);
        assert_eq!(
            ran.out("result"),
            "promoted",
            "{version:?}: {}",
            ran.context()
        );
        assert_eq!(gh.runs()[0].inputs.len(), 11, "{version:?}");
    }
}

#[test]
fn repository_names_ecr_allows_are_accepted() {
    // moto refuses these names (an older pattern; see conformance::moto): the ECR stand-in,
    // whose answers are checked against ECR's model, holds them.
    let ecr = FakeEcr::start();
    let names = ["team__backend", "team--backend", "team---x/api"];
    for (seed, name) in names.iter().enumerate() {
        ecr.add(name, Image::new(seed as u64 + 1, &[TAG], 1.7e9));
    }
    let ran = at("staging", TAG, &names.join(", "))
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    let digests: serde_json::Value = serde_json::from_str(ran.out("image_digests")).unwrap();
    for name in names {
        assert!(digests.get(name).is_some(), "{name}: {digests}");
    }
}

/// The lines of the log group `title`.
fn log_group<'a>(stdout: &'a str, title: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| *l != format!("::group::{title}"))
        .skip(1)
        .take_while(|l| *l != "::endgroup::")
        .collect()
}

#[test]
fn the_dispatch_log_group_says_what_was_dispatched() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let group = log_group(&ran.stdout, "Dispatch").join("\n");
    let run = &gh.runs()[0];
    for part in [
        ".github/workflows/deploy.yml".to_string(),
        "`qa`".to_string(),
        "`main`".to_string(),
        format!("image_tag={TAG}"),
        format!("run {}", run.id),
    ] {
        assert!(
            group.contains(&part),
            "{part} not in the group:\n{}",
            ran.stdout
        );
    }
}
