//! Rollback: by hand (`mode: rollback`) and after a failed deploy (`rollback-on-failure`), the
//! hold that keeps automation from undoing it, and the person's promotion that lifts it.

use std::sync::Arc;

use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::github::{Deployment, Run};
use crate::helpers::records::{Rec, dispatched_event, manual_event, now};
use crate::helpers::{DEPLOY_YML, FakeGitHub, REPOSITORY, Step, TOKEN};
use crate::step;

const NEW: &str = "ea11a24-20260129125607";
const OLD: &str = "b0c0ffe-20260101000000";

fn digest(seed: u64) -> String {
    format!("sha256:{seed:064x}")
}

/// The field report's workflow, with the correlation input the hold needs.
fn github() -> FakeGitHub {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let yml = DEPLOY_YML.replace(
        "      image_tag:\n",
        "      promotion_id:\n        type: string\n        required: false\n      image_tag:\n",
    );
    gh.add_workflow(161_335, "deploy.yml", "main", &yml);
    gh
}

fn registry() -> FakeEcr {
    let ecr = FakeEcr::start();
    for repo in ["shop/backend", "shop/frontend"] {
        ecr.add(repo, Image::new(5, &[OLD], 1.767e9));
        ecr.add(repo, Image::new(7, &[NEW], 1.769e9));
    }
    ecr
}

fn run(ecr: &FakeEcr, gh: &FakeGitHub, env: &str) -> Step {
    step()
        .github(gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .input("environment", env)
        .input("ecr-repositories", "shop/backend,shop/frontend")
}

fn image(seed: u64) -> Vec<(&'static str, String)> {
    vec![
        ("shop/backend", digest(seed)),
        ("shop/frontend", digest(seed)),
    ]
}

/// staging ran OLD, then NEW (its current image).
fn history(gh: &FakeGitHub) -> (u64, u64) {
    let old = image(5);
    let old: Vec<(&str, &str)> = old.iter().map(|(r, d)| (*r, d.as_str())).collect();
    let new = image(7);
    let new: Vec<(&str, &str)> = new.iter().map(|(r, d)| (*r, d.as_str())).collect();
    let a = Rec::new("staging", now() - 7200, OLD, &old).add(gh);
    let b = Rec::new("staging", now() - 600, NEW, &new).add(gh);
    (a, b)
}

fn newest(gh: &FakeGitHub, env: &str) -> Deployment {
    gh.deployments()
        .into_iter()
        .filter(|d| d.environment == env)
        .max_by_key(|d| d.id)
        .unwrap()
}

#[test]
fn a_rollback_goes_back_to_the_previous_image_and_holds_the_environment() {
    let ecr = registry();
    let gh = github();
    let (_, current) = history(&gh);
    let ran = run(&ecr, &gh, "staging").input("mode", "rollback").run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "rolled-back");
    assert_eq!(ran.out("rolled_back_to"), OLD);
    assert_eq!(
        ran.out("previous_image_tag"),
        NEW,
        "what it ran before the rollback"
    );
    assert_eq!(ran.out("previous_image_digest"), digest(7));
    // staging's own workflow, the old image, and no chain from it.
    let runs = gh.runs();
    assert_eq!(runs.len(), 1);
    let sent = &runs[0].inputs;
    assert_eq!(sent["environment"], "staging");
    assert_eq!(sent["image_tag"], OLD);
    assert_eq!(sent["auto_promote"], "false");
    let id = sent["promotion_id"].clone();
    // The record: the rollback, held, on its way.
    let d = newest(&gh, "staging");
    assert_eq!(d.payload["image_tag"], OLD);
    assert_eq!(d.payload["hold"], true);
    assert_eq!(d.payload["rollback_of"], current);
    assert_eq!(
        d.payload["promotion_id"], id,
        "the rollback's run is recognised by it"
    );
    assert_eq!(d.latest().unwrap().state, "queued");
    assert!(ran.summary.contains("### Rollback"), "{}", ran.summary);
    assert!(
        ran.summary.contains("| **`staging`** (this run) |") && ran.summary.contains("🔒 held"),
        "the Environments table marks staging held: {}",
        ran.summary
    );
    assert!(ran.summary.contains("lift the hold"), "{}", ran.summary);
}

#[test]
fn the_previous_image_of_repositories_with_different_digests_is_their_map() {
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(5, &[OLD], 1.767e9));
    ecr.add("shop/frontend", Image::new(6, &[OLD], 1.767e9));
    ecr.add("shop/backend", Image::new(7, &[NEW], 1.769e9));
    ecr.add("shop/frontend", Image::new(8, &[NEW], 1.769e9));
    let gh = github();
    let (d5, d6, d7, d8) = (digest(5), digest(6), digest(7), digest(8));
    Rec::new(
        "staging",
        now() - 7200,
        OLD,
        &[("shop/backend", &d5), ("shop/frontend", &d6)],
    )
    .add(&gh);
    Rec::new(
        "staging",
        now() - 600,
        NEW,
        &[("shop/backend", &d7), ("shop/frontend", &d8)],
    )
    .add(&gh);
    let ran = run(&ecr, &gh, "staging").input("mode", "rollback").run();
    assert_eq!(ran.out("result"), "rolled-back", "{}", ran.context());
    let previous: serde_json::Value =
        serde_json::from_str(ran.out("previous_image_digest")).expect("a JSON map");
    assert_eq!(
        previous,
        serde_json::json!({"shop/backend": d7, "shop/frontend": d8})
    );
}

#[test]
fn rollback_to_names_the_image_to_go_back_to() {
    let ecr = registry();
    let gh = github();
    history(&gh);
    let ran = run(&ecr, &gh, "staging")
        .input("mode", "rollback")
        .input("rollback-to", OLD)
        .run();
    assert_eq!(ran.out("result"), "rolled-back", "{}", ran.context());
    assert_eq!(gh.runs()[0].inputs["image_tag"], OLD);
}

#[test]
fn a_target_gone_from_ecr_or_unknown_is_no_rollback_target() {
    // OLD was deleted from one repository since.
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(5, &[OLD], 1.767e9));
    ecr.add("shop/backend", Image::new(7, &[NEW], 1.769e9));
    ecr.add("shop/frontend", Image::new(7, &[NEW], 1.769e9));
    let gh = github();
    history(&gh);
    let ran = run(&ecr, &gh, "staging").input("mode", "rollback").run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "no-rollback-target");
    assert!(
        ran.out("message").contains("shop/frontend"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());

    // Nothing before the current image.
    let gh = github();
    let new = image(7);
    let new: Vec<(&str, &str)> = new.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("staging", now() - 600, NEW, &new).add(&gh);
    let ran = run(&registry(), &gh, "staging")
        .input("mode", "rollback")
        .run();
    assert_eq!(ran.out("result"), "no-rollback-target", "{}", ran.context());
    assert!(
        ran.out("message").contains("rollback-to"),
        "the fix: {}",
        ran.out("message")
    );
}

#[test]
fn a_rollback_needs_the_correlation_input_to_hold() {
    let ecr = registry();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    gh.add_workflow(161_335, "deploy.yml", "main", DEPLOY_YML);
    history(&gh);
    let ran = run(&ecr, &gh, "staging").input("mode", "rollback").run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "dispatch-rejected");
    assert!(
        ran.out("message").contains("`promotion_id`"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());
}

/// staging ran OLD; this run's deploy of NEW failed, with `rollback-on-failure`.
fn failed_deploy_of_new(ecr: &FakeEcr, gh: &FakeGitHub) -> Step {
    let old = image(5);
    let old: Vec<(&str, &str)> = old.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("staging", now() - 7200, OLD, &old).add(gh);
    run(ecr, gh, "staging")
        .input("image-tag", NEW)
        .input("deploy-status", "failure")
        .input("rollback-on-failure", "true")
}

#[test]
fn a_failed_deploy_is_rolled_back_and_the_failure_stays_visible() {
    let ecr = registry();
    let gh = github();
    let ran = failed_deploy_of_new(&ecr, &gh).run();
    assert_eq!(ran.code, 1, "the failure stays visible: {}", ran.context());
    assert_eq!(ran.out("result"), "rolled-back");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("rolled_back_to"), OLD);
    assert_eq!(ran.out("image_tag"), NEW, "this run's image");
    assert!(
        !ran.outputs.contains_key("image_digest"),
        "not verified: no image_digest output, as in version 1"
    );
    let staging: Vec<Deployment> = gh
        .deployments()
        .into_iter()
        .filter(|d| d.environment == "staging")
        .collect();
    assert_eq!(
        staging.len(),
        3,
        "the old one, this run's failure, the rollback"
    );
    let failed = &staging[1];
    let rollback = &staging[2];
    assert_eq!(failed.payload["image_tag"], NEW);
    assert_eq!(
        failed.payload["image_digests"]["shop/backend"],
        digest(7),
        "the failed image's digests are on its record"
    );
    assert_eq!(failed.latest().unwrap().state, "failure");
    assert_eq!(rollback.payload["rollback_of"], failed.id);
    assert_eq!(rollback.payload["hold"], true);
    assert_eq!(rollback.latest().unwrap().state, "queued");
    assert_eq!(gh.runs()[0].inputs["image_tag"], OLD);
}

#[test]
fn a_dry_run_of_a_failed_deploy_says_what_it_would_roll_back_and_writes_nothing() {
    let ecr = registry();
    let gh = github();
    let ran = failed_deploy_of_new(&ecr, &gh)
        .input("dry-run", "true")
        .run();
    assert_eq!(ran.code, 1, "the deploy still failed: {}", ran.context());
    assert_eq!(ran.out("result"), "deploy-failed");
    assert!(
        ran.out("message")
            .contains(&format!("would go back to `{OLD}`")),
        "{}",
        ran.out("message")
    );
    assert!(
        ran.outputs
            .get("rolled_back_to")
            .is_none_or(String::is_empty)
    );
    assert!(
        !ran.outputs.contains_key("image_digest"),
        "not verified: no image_digest output, as in version 1"
    );
    assert_eq!(ran.out("recorded"), "false");
    assert!(gh.runs().is_empty(), "nothing dispatched");
    assert_eq!(
        gh.deployments().len(),
        1,
        "no failure record, no rollback record, no hold"
    );
}

#[test]
fn the_deploy_of_a_rollback_that_fails_is_not_rolled_back_again() {
    let ecr = registry();
    let gh = github();
    let (_, current) = history(&gh);
    let old = image(5);
    let old: Vec<(&str, &str)> = old.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("staging", now() - 60, OLD, &old)
        .state("queued")
        .hold(Some(current), "ecrp-00000000000000f1")
        .add(&gh);
    let ran = run(&ecr, &gh, "staging")
        .event(&dispatched_event("staging", OLD, "ecrp-00000000000000f1"))
        .input("image-tag", OLD)
        .input("deploy-status", "failure")
        .input("rollback-on-failure", "true")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "deploy-failed", "no loop");
    assert!(gh.runs().is_empty(), "nothing dispatched");
    let d = newest(&gh, "staging");
    assert_eq!(d.latest().unwrap().state, "failure");
    assert_eq!(d.payload["hold"], true, "still held");
}

#[test]
fn the_hold_stops_the_next_automatic_promotion_and_a_manual_one_lifts_it() {
    let ecr = registry();
    let gh = github();
    history(&gh);
    // staging is rolled back and held.
    let ran = run(&ecr, &gh, "staging").input("mode", "rollback").run();
    assert_eq!(ran.out("result"), "rolled-back", "{}", ran.context());
    // qa's next promotion stops at the hold.
    let ran = run(&ecr, &gh, "qa").input("image-tag", NEW).run();
    assert_eq!(ran.out("result"), "held", "{}", ran.context());
    assert_eq!(ran.code, 0);
    assert_eq!(gh.runs().len(), 1, "only the rollback's dispatch");
    // A person promotes staging by hand: the hold is lifted.
    let ran = run(&ecr, &gh, "staging")
        .event(&manual_event("staging", NEW))
        .input("image-tag", NEW)
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(newest(&gh, "staging").payload["hold"], false);
    // The chain moves again.
    let ran = run(&ecr, &gh, "qa").input("image-tag", NEW).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
}

#[test]
fn the_hold_under_concurrent_promotions() {
    // qa reads staging's record, then staging is rolled back before qa's dispatch lands: the
    // dispatched run's resolve refuses it.
    let ecr = registry();
    let gh = github();
    let (_, current) = history(&gh);
    let racing = gh.clone();
    gh.on_dispatch(Arc::new(move |run: &Run| {
        if run.inputs.get("environment").map(String::as_str) == Some("staging")
            && run.inputs.get("auto_promote").map(String::as_str) == Some("true")
        {
            let old = image(5);
            let old: Vec<(&str, &str)> = old.iter().map(|(r, d)| (*r, d.as_str())).collect();
            Rec::new("staging", now(), OLD, &old)
                .state("queued")
                .hold(Some(current), "ecrp-00000000000000f2")
                .add(&racing);
        }
    }));
    let ran = run(&ecr, &gh, "qa").input("image-tag", NEW).run();
    assert_eq!(
        ran.out("result"),
        "promoted",
        "qa saw no hold: {}",
        ran.context()
    );
    let dispatched = gh.runs()[0].inputs.clone();
    // The run qa started resolves staging's image before its deploy: held.
    let ran = run(&ecr, &gh, "staging")
        .event(&dispatched_event(
            "staging",
            NEW,
            &dispatched["promotion_id"],
        ))
        .input("mode", "resolve")
        .input("image-tag", NEW)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "held");
    assert_eq!(ran.out("admitted"), "false");
}
