//! What the step says: the `message` output carries the fix of a failure and names every failing
//! item; values that were refused are not echoed as if parsed; the command line is answered in
//! its own terms; stderr holds our own messages only.

use crate::helpers::ecr::{FakeEcr, Image, index};
use crate::helpers::web::ScriptedServer;
use crate::helpers::{Fault, REGION, github_with_deploy, seed, unique};
use crate::{at, step};

const TAG: &str = "c0ffee1-20260301120000";
const TYPO: &str = "c0ffee1-20260301120001";

fn repos() -> (String, String) {
    let backend = unique("msg/backend");
    let frontend = unique("msg/frontend");
    for r in [&backend, &frontend] {
        seed(REGION, r, &[TAG]);
    }
    (backend, frontend)
}

/// The `message` output: what happened, then `. Fix: ` and what to do.
fn fix_of(message: &str) -> &str {
    message
        .split_once(". Fix: ")
        .unwrap_or_else(|| panic!("no fix in the message: {message}"))
        .1
}

#[test]
fn a_refused_dispatch_says_what_to_do_in_the_message() {
    let (backend, _) = repos();
    let gh = github_with_deploy("");
    gh.fault(
        "POST",
        "/dispatches",
        Fault::Answer(
            403,
            vec![],
            r#"{"message":"Resource not accessible by integration"}"#.into(),
        ),
    );
    let ran = at("dev", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "dispatch-rejected", "{}", ran.context());
    let message = ran.out("message");
    assert!(
        message.contains("Resource not accessible by integration"),
        "{message}"
    );
    assert!(
        fix_of(message).contains("permissions: actions: write"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[test]
fn every_invalid_input_is_named_in_the_message_with_the_fix() {
    let ran = at("prod", "v1:2", "shop/backend")
        .input("deploy-status", "ok")
        .run();
    assert_eq!(ran.out("result"), "invalid-input", "{}", ran.context());
    let message = ran.out("message");
    assert!(message.starts_with("3 invalid inputs"), "{message}");
    let (what, fix) = message.split_once(". Fix: ").expect("a fix");
    for name in ["`environment`", "`image-tag`", "`deploy-status`"] {
        assert!(what.contains(name), "{name} not named: {message}");
        assert!(
            fix.contains(name),
            "the fix does not name {name}: {message}"
        );
    }
    assert!(fix.contains("in the step's `with:`"), "{message}");
}

#[test]
fn every_repository_without_the_tag_is_named_in_the_message() {
    let (backend, frontend) = repos();
    let gh = github_with_deploy("");
    let ran = at("dev", TYPO, &format!("{backend}, {frontend}"))
        .github(&gh)
        .run();
    assert_eq!(ran.out("result"), "image-missing", "{}", ran.context());
    let message = ran.out("message");
    assert!(
        message.contains("missing from 2 of 2 repositories"),
        "{message}"
    );
    let (what, fix) = message.split_once(". Fix: ").expect("a fix");
    assert!(
        what.contains(&backend) && what.contains(&frontend),
        "{message}"
    );
    assert!(what.contains(&format!("`{TAG}`")), "the nearest: {message}");
    assert!(fix.contains("promote a tag that exists"), "{message}");
}

#[test]
fn every_image_a_gate_refuses_is_named_in_the_message() {
    let ecr = FakeEcr::start();
    for (seed, repository, platforms) in [
        (1, "shop/backend", &["linux/amd64"][..]),
        (2, "shop/frontend", &["linux/amd64"][..]),
        (3, "shop/worker", &["linux/amd64", "linux/arm64"][..]),
    ] {
        let mut image = Image::new(seed, &[TAG], 1.7e9);
        image.manifest = index(platforms);
        ecr.add(repository, image);
    }
    let ran = at("dev", TAG, "shop/backend, shop/frontend, shop/worker")
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .input("required-platforms", "linux/amd64,linux/arm64")
        .input("auto-promote", "false")
        .run();
    assert_eq!(ran.out("result"), "image-unavailable", "{}", ran.context());
    let message = ran.out("message");
    let (what, fix) = message.split_once(". Fix: ").expect("a fix");
    assert!(
        what.contains("shop/backend: `c0ffee1-20260301120000` lacks linux/arm64")
            && what.contains("shop/frontend: `c0ffee1-20260301120000` lacks linux/arm64"),
        "{message}"
    );
    assert!(!what.contains("shop/worker"), "worker has both: {message}");
    assert!(fix.contains("required-platforms"), "{message}");
}

#[test]
fn a_refused_tag_is_not_echoed_as_the_image_tag_output() {
    let ran = at("qa", "v1:2", "shop/backend").run();
    assert_eq!(ran.out("result"), "invalid-input", "{}", ran.context());
    assert_eq!(ran.out("environment"), "qa", "a valid environment is kept");
    assert_eq!(
        ran.outputs.get("image_tag"),
        None,
        "a refused tag is not a parsed one"
    );
    // A valid tag next to another bad input is still reported.
    let ran = at("qa", TAG, "Shop/Backend").run();
    assert_eq!(ran.out("result"), "invalid-input", "{}", ran.context());
    assert_eq!(ran.out("image_tag"), TAG);
}

#[test]
fn command_line_errors_name_the_flag_and_the_command_line() {
    let ran = step()
        .input("environment", "dev")
        .input("ecr-repositories", "shop/backend")
        .run_with(&["--image-tag", "v1:2"]);
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "invalid-input");
    let message = ran.out("message");
    let (what, fix) = message.split_once(". Fix: ").expect("a fix");
    assert!(what.contains("`--image-tag`"), "{message}");
    assert!(
        fix.contains("`--image-tag` on the command line"),
        "{message}"
    );
    assert!(!message.contains("with:"), "no step to edit: {message}");

    // A bad flag next to a bad input variable: each is named the way it was given.
    let ran = step()
        .input("environment", "prod")
        .input("ecr-repositories", "shop/backend")
        .run_with(&["--image-tag", "v1:2"]);
    let message = ran.out("message");
    assert!(
        message.contains("`--image-tag`") && message.contains("`environment`"),
        "{message}"
    );
    assert!(!message.contains("`--environment`"), "{message}");

    // On the command line, a missing input is a missing flag.
    let ran = step()
        .input("ecr-repositories", "shop/backend")
        .run_with(&["--environment", "dev"]);
    let message = ran.out("message");
    assert!(
        message.contains("flag `--image-tag`: is required but was not set"),
        "{message}"
    );
    assert!(!message.contains("with:"), "no step to edit: {message}");

    // In a step, it is a missing `with:` key.
    let ran = step()
        .input("environment", "dev")
        .input("ecr-repositories", "shop/backend")
        .run();
    let message = ran.out("message");
    assert!(
        message.contains("input `image-tag`: is required but was not set")
            && message.contains("in the step's `with:`"),
        "{message}"
    );
}

#[test]
fn stderr_holds_our_own_messages_unless_a_log_is_asked_for() {
    let (backend, _) = repos();
    // An instance metadata service that would be asked for the region (or credentials).
    let imds = ScriptedServer::start();
    let quiet = |log: Option<&str>| {
        let gh = github_with_deploy("");
        let mut s = at("dev", TAG, &backend)
            .github(&gh)
            // The region comes from the input only, as with a runner that sets no AWS_REGION.
            .unset("AWS_REGION")
            .input("aws-region", REGION)
            .unset("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url);
        if let Some(level) = log {
            s = s.env("ECR_PROMOTE_LOG", level);
        }
        s.run()
    };
    let ran = quiet(None);
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.stderr, "", "stderr holds nothing but our own messages");
    assert_eq!(
        imds.requests().len(),
        0,
        "the instance metadata service was asked: {:?}",
        imds.requests()
    );
    // Asked for, the libraries' log is there.
    let ran = quiet(Some("debug"));
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert!(ran.stderr.contains("DEBUG"), "{}", ran.stderr);
}
