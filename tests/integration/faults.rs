//! GitHub and AWS misbehaving, and the runner cancelling the step: the outputs stay honest and a
//! dispatch is never sent twice.

use std::time::Duration;

use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::{Fault, REGION, github_with_deploy, seed, unique};
use crate::{at, step};

const TAG: &str = "f00dbee-20260301120000";

fn repo() -> String {
    let r = unique("chain/app");
    seed(REGION, &r, &[TAG]);
    r
}

#[test]
fn an_accepted_dispatch_whose_answer_is_a_502_is_not_sent_again() {
    let backend = repo();
    let gh = github_with_deploy("");
    gh.fault("POST", "/dispatches", Fault::AcceptThenAnswer(502));
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    let runs = gh.runs();
    assert_eq!(runs.len(), 1, "exactly one run must exist");
    assert_eq!(gh.count("POST", "/dispatches"), 1, "never resent");
    assert_eq!(ran.out("result"), "promoted");
    assert_eq!(ran.out("promoted"), "true");
    assert_eq!(ran.out("run_id"), runs[0].id.to_string());
}

#[test]
fn a_connection_dropped_after_the_dispatch_is_not_sent_again() {
    let backend = repo();
    let gh = github_with_deploy("");
    gh.fault("POST", "/dispatches", Fault::AcceptThenDrop);
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.runs().len(), 1);
    assert_eq!(gh.count("POST", "/dispatches"), 1);
}

#[test]
fn a_502_that_was_not_accepted_is_sent_again_once() {
    let backend = repo();
    let gh = github_with_deploy("");
    gh.fault(
        "POST",
        "/dispatches",
        Fault::Answer(502, vec![], "bad gateway".into()),
    );
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.count("POST", "/dispatches"), 2);
    assert!(
        gh.count("GET", "/runs") >= 1,
        "looked for a run before resending"
    );
    assert_eq!(gh.runs().len(), 1);
}

#[test]
fn rate_limits_are_waited_out_as_github_asks() {
    let backend = repo();
    let gh = github_with_deploy("");
    gh.fault(
        "POST",
        "/dispatches",
        Fault::Answer(
            429,
            vec![("retry-after".into(), "1".into())],
            r#"{"message":"slow down"}"#.into(),
        ),
    );
    gh.fault(
        "GET",
        "/contents/",
        Fault::Answer(
            403,
            vec![],
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#
                .into(),
        ),
    );
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.count("POST", "/dispatches"), 2);
    assert_eq!(gh.count("GET", "/contents/"), 2);
    assert_eq!(gh.runs().len(), 1);
    assert!(
        ran.elapsed >= Duration::from_secs(1),
        "retry-after was honoured"
    );
}

#[test]
fn github_down_is_dispatch_failed_after_bounded_retries() {
    let backend = repo();
    let gh = github_with_deploy("");
    for _ in 0..4 {
        gh.fault(
            "GET",
            "/actions/workflows/deploy.yml",
            Fault::Answer(503, vec![], "unavailable".into()),
        );
    }
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "dispatch-failed");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(gh.count("GET", "/actions/workflows/deploy.yml"), 4);
    assert_eq!(gh.count("POST", "/dispatches"), 0);
}

#[test]
fn github_unreachable_is_dispatch_failed() {
    let backend = repo();
    // A port nothing listens on: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ran = step()
        .env("GITHUB_API_URL", &format!("http://127.0.0.1:{port}"))
        .input("environment", "dev")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend)
        .input("fail-on-error", "false")
        .run();
    assert_eq!(ran.code, 0, "fail-on-error: false; {}", ran.context());
    assert_eq!(ran.out("result"), "dispatch-failed");
    assert_eq!(ran.out("deploy_success"), "true");
}

#[test]
fn aws_unreachable_and_missing_credentials_are_errors_with_a_fix() {
    let backend = repo();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ran = step()
        .env("AWS_ENDPOINT_URL_ECR", &format!("http://127.0.0.1:{port}"))
        .input("environment", "staging")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "error");
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message").contains("could not be reached"),
        "{}",
        ran.out("message")
    );

    let ran = step()
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .input("environment", "staging")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend)
        .run();
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert!(
        ran.out("message").contains("credentials"),
        "{}",
        ran.out("message")
    );
    assert!(
        ran.stdout.contains("configure-aws-credentials"),
        "the fix is printed"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_github_call_writes_cancelled_outputs_promptly() {
    let backend = repo();
    let gh = github_with_deploy("");
    gh.fault(
        "GET",
        "/actions/workflows/deploy.yml",
        Fault::Hang(Duration::from_secs(60)),
    );
    let s = step()
        .github(&gh)
        .input("environment", "dev")
        .input("image-tag", TAG)
        .input("ecr-repositories", &backend);
    let probe = gh.clone();
    let ran = s.cancel_when(
        move || probe.count("GET", "/actions/workflows/deploy.yml") > 0,
        "-TERM",
    );
    assert!(
        ran.elapsed < Duration::from_secs(3),
        "exited {:?} after SIGTERM",
        ran.elapsed
    );
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "error");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    assert!(
        ran.out("message").contains("cancelled by SIGTERM"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());
}

#[test]
fn hostile_values_cannot_forge_outputs_or_commands() {
    let backend = repo();
    let gh =
        crate::helpers::FakeGitHub::start(crate::helpers::REPOSITORY, crate::helpers::TOKEN, "");
    let yml = crate::helpers::DEPLOY_YML.replace(
        "      image_tag:\n",
        "      note:\n        type: string\n      image_tag:\n",
    );
    gh.add_workflow(7, "deploy.yml", "main", &yml);
    let hostile =
        "x\n::error::forged\ndeploy_success=true\n%0A<script>| ##[add-mask]true ##[error]legacy";
    let ran = at("dev", TAG, &backend)
        .github(&gh)
        .input(
            "inputs",
            &serde_json::json!({ "note": hostile }).to_string(),
        )
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(
        gh.runs()[0].inputs["note"],
        hostile,
        "the value is sent as given"
    );
    for line in ran.stdout.lines().chain(ran.stderr.lines()) {
        assert!(
            !line.contains("##["),
            "a legacy command reached the log: {line}"
        );
        assert!(
            !line.trim_start().starts_with("::error::forged"),
            "command injected: {line}"
        );
    }
    assert!(!ran.summary.contains("<script>"), "{}", ran.summary);
}

#[test]
fn a_panic_still_writes_every_output() {
    // The binary under test is a debug build, which honours ECR_PROMOTE_TEST_PANIC.
    let backend = repo();
    let ran = at("staging", TAG, &backend)
        .env("ECR_PROMOTE_TEST_PANIC", "1")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "error");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    assert!(
        ran.out("message").contains("internal error (panic"),
        "{}",
        ran.out("message")
    );
    assert!(ran.summary.contains("What went wrong"), "{}", ran.summary);
    let ran = at("staging", TAG, &backend)
        .env("ECR_PROMOTE_TEST_PANIC", "1")
        .input("fail-on-error", "false")
        .run();
    assert_eq!(ran.code, 0, "fail-on-error: false holds for a panic too");
    assert_eq!(ran.out("result"), "error");
}

#[test]
fn an_unwritable_github_output_stops_the_step_before_any_call() {
    // Later steps could read no `deploy_success` at all: nothing may be verified or dispatched.
    let ecr = FakeEcr::start();
    ecr.add("app", Image::new(1, &[TAG], 1.7e9));
    let gh = github_with_deploy("");
    let s = at("dev", TAG, "app")
        .github(&gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .input("fail-on-error", "false");
    let missing = s.dir.path().join("no-such-folder/output");
    let ran = s.env("GITHUB_OUTPUT", &missing.display().to_string()).run();
    assert_eq!(
        ran.code,
        1,
        "even with fail-on-error: false; {}",
        ran.context()
    );
    assert!(
        ran.stdout
            .contains("::error title=ecr-promote%3A error::cannot write GITHUB_OUTPUT"),
        "{}",
        ran.context()
    );
    assert!(ran.stdout.contains("no-such-folder"), "the path is named");
    assert_eq!(ecr.answers().len(), 0, "ECR was called");
    assert!(
        gh.requests().is_empty(),
        "GitHub was called: {:?}",
        gh.requests()
    );
    assert!(gh.runs().is_empty());
}
