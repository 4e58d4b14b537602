//! The record: a GitHub deployment for every promote run, its payload and status, what it
//! makes possible in `promote` (the hold, freeze and soak of the next environment, what ran
//! before), and what happens when it cannot be written.

use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::github::{Access, Deployment, fake_sha};
use crate::helpers::records::{Rec, dispatched_event, manual_event, now};
use crate::helpers::{FakeGitHub, REPOSITORY, Step, github_with_deploy};
use crate::step;

const TAG: &str = "ea11a24-20260129125607";
const OLD: &str = "b0c0ffe-20260101000000";

fn digest(seed: u64) -> String {
    format!("sha256:{seed:064x}")
}

fn registry() -> FakeEcr {
    let ecr = FakeEcr::start();
    for repo in ["shop/backend", "shop/frontend"] {
        ecr.add(repo, Image::new(5, &[OLD], 1.767e9));
        ecr.add(repo, Image::new(7, &[TAG], 1.769e9));
    }
    ecr
}

fn promote(ecr: &FakeEcr, gh: &FakeGitHub, env: &str, tag: &str) -> Step {
    step()
        .github(gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .input("environment", env)
        .input("image-tag", tag)
        .input("ecr-repositories", "shop/backend,shop/frontend")
}

fn pairs(seed: u64) -> Vec<(&'static str, String)> {
    vec![
        ("shop/backend", digest(seed)),
        ("shop/frontend", digest(seed)),
    ]
}

fn newest(gh: &FakeGitHub, env: &str) -> Deployment {
    gh.deployments()
        .into_iter()
        .filter(|d| d.environment == env)
        .max_by_key(|d| d.id)
        .unwrap_or_else(|| panic!("no deployment of {env}"))
}

#[test]
fn a_promotion_records_its_deploy_as_the_spec_says() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh, "qa", TAG)
        .input("environment-url", "https://qa.shop.example")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let d = newest(&gh, "qa");
    assert_eq!(d.task, "deploy:ecr-promote");
    assert_eq!(
        d.sha,
        fake_sha(&format!("{REPOSITORY}@main")),
        "GITHUB_SHA: no earlier record"
    );
    let p = &d.payload;
    assert_eq!(p["ecr_promote"], 2);
    assert_eq!(p["image_tag"], TAG);
    assert_eq!(p["image_digests"]["shop/backend"], digest(7));
    assert_eq!(p["image_digests"]["shop/frontend"], digest(7));
    assert_eq!(p["chain"], serde_json::json!(["dev", "qa", "staging"]));
    assert_eq!(
        p["from_environment"],
        serde_json::Value::Null,
        "a push, not a promotion"
    );
    assert!(p["promotion_id"].as_str().unwrap().starts_with("ecrp-"));
    assert_eq!(
        p["run_url"],
        "https://github.example/acme/shop/actions/runs/4242"
    );
    assert_eq!(p["rollback_of"], serde_json::Value::Null);
    assert_eq!(p["hold"], false);
    let status = d.latest().unwrap();
    assert_eq!(status.state, "success");
    assert_eq!(
        status.log_url,
        "https://github.example/acme/shop/actions/runs/4242"
    );
    assert_eq!(status.environment_url, "https://qa.shop.example");
    assert_eq!(d.statuses.len(), 1, "one status");
    assert_eq!(ran.out("recorded"), "true");
    assert_eq!(ran.out("deployment_id"), d.id.to_string());
    assert!(
        ran.out("deployment_url")
            .ends_with(&format!("/deployments/{}", d.id))
    );
}

#[test]
fn a_promotion_by_the_chain_names_where_the_image_came_from_and_reuses_its_commit() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let built = fake_sha("the commit ea11a24 was built from");
    let seven = pairs(7);
    let seven: Vec<(&str, &str)> = seven.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("dev", now() - 600, TAG, &seven)
        .sha(&built)
        .add(&gh);
    let ran = promote(&ecr, &gh, "qa", TAG)
        .event(&dispatched_event("qa", TAG, "ecrp-00000000000000d1"))
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let d = newest(&gh, "qa");
    assert_eq!(
        d.sha, built,
        "the ref of an earlier record of the same digests"
    );
    assert_eq!(d.payload["from_environment"], "dev");
    assert_eq!(
        d.payload["promotion_id"], "ecrp-00000000000000d1",
        "the promotion that started it"
    );
    // The next promotion gets an id of its own.
    let sent = &gh.runs()[0].inputs;
    assert_ne!(
        sent.get("promotion_id").map(String::as_str),
        Some("ecrp-00000000000000d1")
    );
}

#[test]
fn what_ran_before_is_an_output() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let five = pairs(5);
    let five: Vec<(&str, &str)> = five.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("qa", now() - 3600, OLD, &five).add(&gh);
    let ran = promote(&ecr, &gh, "qa", TAG).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("previous_image_tag"), OLD);
    assert_eq!(ran.out("previous_image_digest"), digest(5));
}

#[test]
fn a_token_without_deployments_write_warns_and_still_promotes() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.deployments_access(Access::Read);
    let ran = promote(&ecr, &gh, "dev", TAG).run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "promoted");
    assert_eq!(ran.out("recorded"), "false");
    assert!(!ran.outputs.contains_key("deployment_id"));
    let warned = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        warned.contains("::warning") && warned.contains("deployments: write"),
        "a warning with the fix: {warned}"
    );
    assert_eq!(gh.runs().len(), 1, "the promotion is not affected");

    // GitHub down for deployments: the same.
    let gh = github_with_deploy("");
    gh.deployments_access(Access::Failing(503));
    let ran = promote(&ecr, &gh, "dev", TAG).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("recorded"), "false");
}

#[test]
fn a_dry_run_records_nothing() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh, "dev", TAG)
        .input("dry-run", "true")
        .run();
    assert_eq!(ran.out("result"), "dry-run", "{}", ran.context());
    assert_eq!(ran.out("recorded"), "false");
    assert!(gh.deployments().is_empty());
}

#[test]
fn a_held_next_environment_stops_the_promotion_without_failing() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let five = pairs(5);
    let five: Vec<(&str, &str)> = five.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("staging", now() - 60, OLD, &five)
        .state("queued")
        .hold(Some(1), "ecrp-00000000000000ee")
        .add(&gh);
    let ran = promote(&ecr, &gh, "qa", TAG).run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "held");
    assert_eq!(ran.out("deploy_success"), "true", "qa's deploy succeeded");
    assert_eq!(ran.out("promoted"), "false");
    assert!(
        gh.runs().is_empty(),
        "nothing dispatched into a held environment"
    );
    assert_eq!(newest(&gh, "qa").latest().unwrap().state, "success");
    assert!(ran.summary.contains("🔒 held"), "{}", ran.summary);
}

#[test]
fn a_frozen_or_soaking_next_environment_stops_the_promotion_without_failing() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = promote(&ecr, &gh, "qa", TAG)
        .input("freeze", "staging: 2020-01-01 - 2100-01-01")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "frozen");
    assert!(
        ran.out("message").contains("2100-01-01"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());

    // qa ran TAG 10 minutes ago (and this run again now): staging wants an hour.
    let seven = pairs(7);
    let seven: Vec<(&str, &str)> = seven.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("qa", now() - 600, TAG, &seven).add(&gh);
    let ran = promote(&ecr, &gh, "qa", TAG)
        .input("soak-time", "staging=1h")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "soaking");
    assert!(
        ran.out("message").contains("the soak ends at"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());
    let ran = promote(&ecr, &gh, "qa", TAG)
        .input("soak-time", "staging=5m")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
}

#[test]
fn an_automatic_run_carries_the_hold_and_a_persons_run_lifts_it() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let five = pairs(5);
    let five: Vec<(&str, &str)> = five.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("staging", now() - 60, OLD, &five)
        .state("queued")
        .hold(Some(1), "ecrp-00000000000000ee")
        .add(&gh);
    // The rollback's own deploy (started by its dispatch): still held.
    let ran = promote(&ecr, &gh, "staging", OLD)
        .event(&dispatched_event("staging", OLD, "ecrp-00000000000000ee"))
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(newest(&gh, "staging").payload["hold"], true);
    assert_eq!(
        newest(&gh, "staging").payload["from_environment"],
        serde_json::Value::Null,
        "a rollback's deploy came from no other environment"
    );
    // A person's promotion by hand: lifted.
    let ran = promote(&ecr, &gh, "staging", TAG)
        .event(&manual_event("staging", TAG))
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(newest(&gh, "staging").payload["hold"], false);
}

#[test]
fn the_summary_shows_what_runs_where() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let five = pairs(5);
    let five: Vec<(&str, &str)> = five.iter().map(|(r, d)| (*r, d.as_str())).collect();
    // Succeeded 2h 10m ago (give or take the seconds this test takes).
    Rec::new("staging", now() - 7800, OLD, &five).add(&gh);
    let ran = promote(&ecr, &gh, "qa", TAG).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let s = &ran.summary;
    assert!(s.contains("### Environments"), "{s}");
    assert!(
        s.contains(&format!("| **`qa`** (this run) | `{TAG}` |")),
        "this run's image, not what the record said before it: {s}"
    );
    assert!(
        s.contains("`sha256:000000000000`"),
        "digests are short in tables: {s}"
    );
    assert!(!s.contains(&format!("| `{}`", digest(7))), "{s}");
    assert!(s.contains("```mermaid\nflowchart LR"), "{s}");
    assert!(
        s.contains("2h 9m ago") || s.contains("2h 10m ago"),
        "staging's age: {s}"
    );
    assert!(
        s.contains("https://github.example/acme/shop/commit/"),
        "commits are linked: {s}"
    );
}

#[test]
fn a_promotion_reads_the_record_in_few_requests() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let five = pairs(5);
    let five: Vec<(&str, &str)> = five.iter().map(|(r, d)| (*r, d.as_str())).collect();
    for env in ["dev", "qa", "staging"] {
        Rec::new(env, now() - 3600, OLD, &five).add(&gh);
    }
    let ran = promote(&ecr, &gh, "qa", TAG).run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    let requests = gh.requests();
    let count = |method: &str, part: &str| {
        requests
            .iter()
            .filter(|r| r.method == method && r.path.contains(part))
            .count()
    };
    assert_eq!(
        count("GET", "/actions/workflows/"),
        1,
        "the workflow's state"
    );
    assert_eq!(count("GET", "/contents/"), 1, "the workflow file");
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/deployments"))
            .count(),
        3,
        "one listing per environment"
    );
    assert_eq!(count("GET", "/statuses"), 3, "the newest record of each");
    assert_eq!(count("POST", "/dispatches"), 1);
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/deployments"))
            .count(),
        1
    );
    assert_eq!(count("POST", "/statuses"), 1);
    assert_eq!(requests.len(), 11, "{requests:#?}");
}
