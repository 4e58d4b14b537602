//! Faults of GitHub and AWS, the time budget, cancellation at every phase, the ambiguous dispatch
//! and hostile API answers: every path ends with the right result and every output written.

use std::time::Duration;

use crate::at;
use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::{
    DEPLOY_YML, FakeGitHub, Fault, REPOSITORY, Ran, Step, TOKEN, github_with_deploy,
};

const TAG: &str = "c0ffee1-20260401000000";

/// A registry holding TAG in `app`, answering like ECR's JSON API.
fn registry() -> FakeEcr {
    let ecr = FakeEcr::start();
    ecr.add("app", Image::new(1, &[TAG], 1.77e9));
    ecr
}

fn promote(ecr: &FakeEcr, gh: &FakeGitHub) -> Step {
    at("dev", TAG, "app")
        .github(gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "2")
}

/// The outputs every path must leave.
fn assert_complete(ran: &Ran) {
    for name in ["deploy_success", "promoted", "result", "message"] {
        ran.out(name);
    }
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
}

#[test]
fn every_5xx_on_dispatch_that_was_not_taken_is_retried() {
    for status in [500, 502, 503, 504] {
        let ecr = registry();
        let gh = github_with_deploy("");
        gh.fault(
            "POST",
            "/dispatches",
            Fault::Answer(status, vec![], "{}".into()),
        );
        let ran = promote(&ecr, &gh).run();
        assert_complete(&ran);
        assert_eq!(ran.out("result"), "promoted", "{status}: {}", ran.context());
        assert_eq!(gh.runs().len(), 1, "{status}");
        assert_eq!(gh.count("POST", "/dispatches"), 2, "{status}");
    }
}

#[test]
fn primary_rate_limit_waits_until_reset() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.fault("GET", "/contents/", Fault::rate_limit_exhausted());
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.count("GET", "/contents/"), 2);
}

#[test]
fn a_rate_limit_longer_than_the_budget_is_not_waited_for() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.fault(
        "POST",
        "/dispatches",
        Fault::Answer(
            429,
            vec![("retry-after".into(), "3600".into())],
            "{}".into(),
        ),
    );
    let ran = promote(&ecr, &gh).run();
    assert_complete(&ran);
    assert_eq!(ran.out("result"), "dispatch-failed", "{}", ran.context());
    assert!(
        ran.out("message").contains("rate limited"),
        "{}",
        ran.out("message")
    );
    assert!(ran.elapsed < Duration::from_secs(10));
}

#[test]
fn a_connection_cut_mid_answer() {
    // A read is simply retried.
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.fault("GET", "/contents/", Fault::AcceptThenCut);
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.count("GET", "/contents/"), 2);
    // A dispatch cut mid-answer was taken: found, not resent.
    let gh = github_with_deploy("");
    gh.fault("POST", "/dispatches", Fault::AcceptThenCut);
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.runs().len(), 1);
    assert_eq!(gh.count("POST", "/dispatches"), 1);
    assert_eq!(ran.out("run_id"), gh.runs()[0].id.to_string());
}

#[test]
fn a_server_that_never_answers_ends_at_the_time_budget() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.fault(
        "GET",
        "/actions/workflows/deploy.yml",
        Fault::Hang(Duration::from_secs(120)),
    );
    let ran = promote(&ecr, &gh).input("timeout", "2s").run();
    assert_complete(&ran);
    assert!(
        ran.elapsed < Duration::from_secs(5),
        "took {:?}",
        ran.elapsed
    );
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("result"), "dispatch-failed");
    assert_eq!(
        ran.out("deploy_success"),
        "true",
        "the image was verified before GitHub hung"
    );
    assert_eq!(ran.out("promoted"), "false");
    assert!(
        ran.out("message").contains("timed out after 2s"),
        "{}",
        ran.out("message")
    );
    assert!(ran.out("image_digests").contains("app"));
}

#[test]
fn a_failed_deploy_stays_deploy_failed_when_the_registry_never_answers() {
    // The image is looked up only for the record's digests; the deploy's failure is known from
    // the inputs, whatever the registry does.
    let ecr = registry();
    ecr.latency(Duration::from_secs(60));
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh)
        .input("deploy-status", "failure")
        .input("timeout", "1s")
        .run();
    assert_complete(&ran);
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("result"), "deploy-failed", "{}", ran.context());
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message").contains("reported `failure`")
            && ran.out("message").contains("timeout: 1s"),
        "{}",
        ran.out("message")
    );
}

#[test]
fn a_registry_that_never_answers_ends_at_the_time_budget() {
    let ecr = registry();
    ecr.latency(Duration::from_secs(60));
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh).input("timeout", "1s").run();
    assert_complete(&ran);
    assert!(
        ran.elapsed < Duration::from_secs(4),
        "took {:?}",
        ran.elapsed
    );
    assert_eq!(ran.out("result"), "error");
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message").contains("verifying the image in ECR"),
        "{}",
        ran.out("message")
    );
    // The workflow was read in the same round as ECR; nothing was sent.
    assert_eq!(gh.count("POST", "/dispatches"), 0);
}

#[test]
fn a_hung_registry_is_reported_within_20s_by_default() {
    // A DescribeImages answers in well under a second; the default `timeout` (5m) must not be
    // what ends a run against a registry that never answers.
    let ecr = registry();
    ecr.latency(Duration::from_secs(90));
    let gh = github_with_deploy("");
    let ran = at("dev", TAG, "app")
        .github(&gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .run();
    assert_complete(&ran);
    assert!(
        ran.elapsed < Duration::from_secs(20),
        "took {:?}; {}",
        ran.elapsed,
        ran.context()
    );
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "error");
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message").contains("`app`"),
        "{}",
        ran.out("message")
    );
    assert_eq!(gh.count("POST", "/dispatches"), 0, "nothing dispatched");
    assert!(gh.runs().is_empty());
}

#[test]
fn aws_faults_name_the_cause_and_the_fix() {
    let cases = [
        ("ThrottlingException", 400, "throttling"),
        ("ServerException", 500, "ECR answered"),
        ("ExpiredTokenException", 400, "credentials"),
        ("AccessDeniedException", 400, "ecr:DescribeImages"),
    ];
    for (kind, status, expected) in cases {
        let ecr = registry();
        ecr.fault(kind, status, 100);
        let gh = github_with_deploy("");
        let ran = promote(&ecr, &gh).run();
        assert_complete(&ran);
        assert_eq!(ran.out("result"), "error", "{kind}: {}", ran.context());
        assert_eq!(ran.out("deploy_success"), "false");
        assert!(
            ran.out("message").contains(expected),
            "{kind}: {}",
            ran.out("message")
        );
        assert_eq!(
            gh.count("POST", "/dispatches"),
            0,
            "{kind}: nothing dispatched"
        );
    }
    // A throttle that passes is retried by the SDK.
    let ecr = registry();
    ecr.fault("ThrottlingException", 400, 1);
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ecr.calls("DescribeImages"), 2);
}

/// Start the step, wait until `ready`, then signal as the runner does and collect it.
#[cfg(unix)]
fn cancel_when(step: &Step, ready: impl Fn() -> bool, signal: &str) -> Ran {
    let ran = step.cancel_when(ready, signal);
    assert!(
        ran.elapsed < Duration::from_secs(3),
        "exited {:?} after {signal}",
        ran.elapsed
    );
    ran
}

#[cfg(unix)]
#[test]
fn cancellation_at_every_phase() {
    // During ECR.
    let ecr = registry();
    ecr.latency(Duration::from_secs(60));
    let gh = github_with_deploy("");
    let probe = ecr.clone();
    let ran = cancel_when(
        &promote(&ecr, &gh),
        move || probe.calls("DescribeImages") > 0,
        "-INT",
    );
    assert_complete(&ran);
    assert_eq!(
        (
            ran.out("result"),
            ran.out("deploy_success"),
            ran.out("promoted")
        ),
        ("error", "false", "false")
    );
    assert!(
        ran.out("message").contains("cancelled by SIGINT"),
        "{}",
        ran.out("message")
    );

    // During pre-flight.
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.fault("GET", "/contents/", Fault::Hang(Duration::from_secs(60)));
    let probe = gh.clone();
    let ran = cancel_when(
        &promote(&ecr, &gh),
        move || probe.count("GET", "/contents/") > 0,
        "-TERM",
    );
    assert_eq!(
        (
            ran.out("result"),
            ran.out("deploy_success"),
            ran.out("promoted")
        ),
        ("error", "false", "false")
    );

    // During the dispatch, after GitHub took it but before it answered.
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.fault("POST", "/dispatches", Fault::Hang(Duration::from_secs(60)));
    let probe = gh.clone();
    let ran = cancel_when(
        &promote(&ecr, &gh),
        move || probe.count("POST", "/dispatches") > 0,
        "-TERM",
    );
    assert_eq!(ran.out("result"), "error");
    assert_eq!(ran.out("promoted"), "false", "GitHub had not answered");
    assert!(ran.out("message").contains("cancelled by SIGTERM"));
}

#[test]
fn a_lost_answer_is_matched_to_its_run_by_the_correlation_id() {
    let ecr = registry();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let yml = DEPLOY_YML
        .replace(
            "name: deploy\n",
            "name: deploy\nrun-name: deploy ${{ inputs.environment }} ${{ inputs.promotion_id }}\n",
        )
        .replace(
            "      image_tag:\n",
            "      promotion_id:\n        type: string\n      image_tag:\n",
        );
    gh.add_workflow(11, "deploy.yml", "main", &yml);
    // Someone else's promotion lands right after ours; then our answer is lost.
    let other = gh.clone();
    gh.on_dispatch(std::sync::Arc::new(move |_run| {
        other.add_run(11, "main", "deploy qa ecrp-ffffffffffffffff");
    }));
    gh.fault("POST", "/dispatches", Fault::AcceptThenAnswer(502));
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.count("POST", "/dispatches"), 1, "not sent again");
    let ours = gh
        .runs()
        .into_iter()
        .find(|r| !r.inputs.is_empty())
        .unwrap();
    let id = &ours.inputs["promotion_id"];
    assert!(id.starts_with("ecrp-") && id.len() == 21, "{id}");
    assert!(ours.display_title.contains(id.as_str()));
    assert_eq!(
        ran.out("run_id"),
        ours.id.to_string(),
        "the newest run is the other promotion's; ours was picked"
    );
}

#[test]
fn no_correlation_input_when_the_target_does_not_declare_it_or_it_is_off() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert!(!gh.runs()[0].inputs.contains_key("promotion_id"));

    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    gh.add_workflow(
        12,
        "deploy.yml",
        "main",
        &DEPLOY_YML.replace(
            "      image_tag:\n",
            "      promotion_id:\n        type: string\n      image_tag:\n",
        ),
    );
    let ran = promote(&ecr, &gh).input("correlation-input", "none").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert!(!gh.runs()[0].inputs.contains_key("promotion_id"));
}

#[test]
fn hostile_api_messages_cannot_inject_commands_or_outputs() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let hostile = "Unexpected inputs\n::error::forged\ndeploy_success=true\r\n%0A::warning::x";
    gh.fault(
        "POST",
        "/dispatches",
        Fault::Answer(
            422,
            vec![],
            serde_json::json!({ "message": hostile }).to_string(),
        ),
    );
    let ran = promote(&ecr, &gh).run();
    assert_complete(&ran);
    assert_eq!(ran.out("result"), "dispatch-rejected");
    assert_eq!(ran.out("deploy_success"), "true");
    for line in ran.stdout.lines().chain(ran.stderr.lines()) {
        let line = line.trim_start();
        assert!(
            !line.starts_with("::error::forged") && !line.starts_with("::warning::x"),
            "injected: {line}"
        );
    }
    assert!(!ran.out("message").contains('\n'));
}

#[test]
fn with_the_id_in_run_name_a_manual_run_is_never_taken_for_ours() {
    let ecr = registry();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let yml = DEPLOY_YML
        .replace(
            "name: deploy\n",
            "name: deploy\nrun-name: deploy ${{ inputs.environment }} ${{ inputs.promotion_id }}\n",
        )
        .replace(
            "      image_tag:\n",
            "      promotion_id:\n        type: string\n      image_tag:\n",
        );
    gh.add_workflow(13, "deploy.yml", "main", &yml);
    // Someone dispatches by hand (no id in its title) just as our attempt fails without being taken.
    let manual = gh.add_run(13, "main", "deploy qa ");
    gh.fault(
        "POST",
        "/dispatches",
        Fault::Answer(502, vec![], "{}".into()),
    );
    let ran = promote(&ecr, &gh).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(
        gh.count("POST", "/dispatches"),
        2,
        "ours was not taken, so it was sent again"
    );
    assert_ne!(ran.out("run_id"), manual.to_string());
    let ours = gh.runs().into_iter().find(|r| r.id != manual).unwrap();
    assert_eq!(ran.out("run_id"), ours.id.to_string());
}

#[cfg(unix)]
#[test]
fn cancelled_while_looking_for_the_run_after_a_204_still_says_promoted() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.legacy_dispatch();
    gh.fault("GET", "/runs", Fault::Hang(Duration::from_secs(60)));
    let probe = gh.clone();
    let ran = cancel_when(
        &promote(&ecr, &gh),
        move || probe.count("GET", "/runs") > 0,
        "-TERM",
    );
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert_eq!(
        ran.out("promoted"),
        "true",
        "GitHub had accepted the dispatch"
    );
    assert_eq!(gh.runs().len(), 1);
}
