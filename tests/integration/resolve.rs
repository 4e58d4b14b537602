//! `mode: resolve`, before the deploy: which image may enter an environment, every refusal,
//! against the ECR JSON stand-in and the GitHub stand-in's record.

use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::records::{Rec, dispatched_event, manual_event, now};
use crate::helpers::{FakeGitHub, REPOSITORY, Step, TOKEN, github_with_deploy};
use crate::step;

const TAG: &str = "ea11a24-20260129125607";
const TYPO: &str = "ea11a24-20260129125555";
const OLD: &str = "b0c0ffe-20260101000000";

fn digest(seed: u64) -> String {
    format!("sha256:{seed:064x}")
}

/// shop/backend and shop/frontend hold TAG (digest 7) and OLD (digest 5).
fn registry() -> FakeEcr {
    let ecr = FakeEcr::start();
    for repo in ["shop/backend", "shop/frontend"] {
        ecr.add(repo, Image::new(5, &[OLD], 1.767e9));
        ecr.add(repo, Image::new(7, &[TAG], 1.769e9));
        ecr.add(repo, Image::new(6, &["ea11a24-20260128101010"], 1.768e9));
    }
    ecr
}

fn resolve(ecr: &FakeEcr, gh: &FakeGitHub, env: &str) -> Step {
    step()
        .github(gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .input("mode", "resolve")
        .input("environment", env)
        .input("ecr-repositories", "shop/backend,shop/frontend")
}

/// Nothing was dispatched or recorded.
fn assert_nothing_written(gh: &FakeGitHub) {
    let writes: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "resolve writes nothing: {writes:?}");
}

#[test]
fn a_typed_tag_is_refused_before_the_deploy_with_the_tags_that_exist() {
    // The field report, in the new shape: the typo never reaches qa's deploy.
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = resolve(&ecr, &gh, "qa")
        .event(&manual_event("qa", TYPO))
        .input("image-tag", TYPO)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-missing");
    assert_eq!(ran.out("admitted"), "false");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    let message = ran.out("message");
    assert!(
        message.contains(TAG) && message.contains("Fix:"),
        "{message}"
    );
    assert!(!ran.outputs.contains_key("image_digest"));
    assert_nothing_written(&gh);
}

#[test]
fn an_image_that_may_enter_is_resolved_with_its_digest() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = resolve(&ecr, &gh, "qa").input("image-tag", TAG).run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "resolved");
    assert_eq!(ran.out("admitted"), "true");
    assert_eq!(
        ran.out("deploy_success"),
        "false",
        "nothing was deployed yet"
    );
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(ran.out("image_tag"), TAG);
    assert_eq!(ran.out("image_digest"), digest(7));
    assert!(ran.summary.contains("### Checked"), "{}", ran.summary);
    assert!(
        ran.summary.contains("`resolved` (resolve)"),
        "{}",
        ran.summary
    );
    assert_nothing_written(&gh);
    assert_eq!(gh.count("GET", "/actions/workflows"), 0, "no workflow read");
}

#[test]
fn a_prefix_resolves_to_the_newest_tag_before_the_deploy() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = resolve(&ecr, &gh, "dev")
        .input("image-tag", "ea11a24")
        .input("tag-match", "prefix")
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
    assert_eq!(ran.out("image_tag"), TAG, "the newest of two ea11a24 tags");
}

#[test]
fn an_archived_image_is_refused_before_the_deploy() {
    let ecr = FakeEcr::start();
    let mut archived = Image::new(7, &[TAG], 1.769e9);
    archived.status = "ARCHIVED".into();
    ecr.add("shop/backend", archived);
    ecr.add("shop/frontend", Image::new(7, &[TAG], 1.769e9));
    let gh = github_with_deploy("");
    let ran = resolve(&ecr, &gh, "qa").input("image-tag", TAG).run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-unavailable");
    assert_eq!(ran.out("admitted"), "false");
}

#[test]
fn a_freeze_refuses_and_says_when_it_ends() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let ran = resolve(&ecr, &gh, "staging")
        .input("image-tag", TAG)
        .input(
            "freeze",
            "staging: 2020-01-01 - 2100-01-04T08:00 Europe/Berlin\n*: Sat 00:00 - Sat 00:01",
        )
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "frozen");
    let message = ran.out("message");
    assert!(
        message.contains("2100-01-04 08:00 Europe/Berlin") && message.contains("07:00 UTC"),
        "the end in its zone and in UTC: {message}"
    );
    // Another environment is not frozen.
    let ran = resolve(&ecr, &gh, "qa")
        .input("image-tag", TAG)
        .input("freeze", "staging: 2020-01-01 - 2100-01-04")
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
    // A malformed window names itself.
    let ran = resolve(&ecr, &gh, "qa")
        .input("image-tag", TAG)
        .input("freeze", "qa: Fry 16:00 - Mon 08:00")
        .run();
    assert_eq!(ran.out("result"), "invalid-input");
    assert!(ran.out("message").contains("Fry"), "{}", ran.out("message"));
}

#[test]
fn require_upstream_wants_a_success_of_the_same_digests_upstream() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let t = now() - 3600;
    // qa ran OLD successfully, and tried TAG without success.
    Rec::new(
        "qa",
        t,
        OLD,
        &[("shop/backend", &digest(5)), ("shop/frontend", &digest(5))],
    )
    .add(&gh);
    let seven = [("shop/backend", digest(7)), ("shop/frontend", digest(7))];
    let seven: Vec<(&str, &str)> = seven.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("qa", t + 60, TAG, &seven)
        .state("failure")
        .add(&gh);
    let ran = resolve(&ecr, &gh, "staging")
        .input("image-tag", TAG)
        .input("require-upstream", "true")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "not-verified-upstream");
    let message = ran.out("message");
    assert!(
        message.contains("`qa`") && message.contains("sha256:000000000000"),
        "{message}"
    );

    Rec::new("qa", t + 120, TAG, &seven).add(&gh);
    let ran = resolve(&ecr, &gh, "staging")
        .input("image-tag", TAG)
        .input("require-upstream", "true")
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
    // An automatic run reads staging's own record (for the hold): what the deploy replaces.
    Rec::new(
        "staging",
        t,
        OLD,
        &[("shop/backend", &digest(5)), ("shop/frontend", &digest(5))],
    )
    .add(&gh);
    let ran = resolve(&ecr, &gh, "staging")
        .event(&dispatched_event("staging", TAG, "ecrp-00000000000000aa"))
        .input("image-tag", TAG)
        .input("require-upstream", "true")
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
    assert_eq!(ran.out("previous_image_tag"), OLD);
    assert_eq!(ran.out("previous_image_digest"), digest(5));
    // The first environment is exempt.
    let ran = resolve(&ecr, &gh, "dev")
        .input("image-tag", TAG)
        .input("require-upstream", "true")
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
}

#[test]
fn soak_time_refuses_until_the_image_has_run_long_enough_upstream() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let seven = [("shop/backend", digest(7)), ("shop/frontend", digest(7))];
    let seven: Vec<(&str, &str)> = seven.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("qa", now() - 600, TAG, &seven).add(&gh);
    let ran = resolve(&ecr, &gh, "staging")
        .input("image-tag", TAG)
        .input("soak-time", "staging=1h")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "soaking");
    let message = ran.out("message");
    assert!(
        message.contains("the soak ends at") && message.contains("of the 1h"),
        "{message}"
    );
    let ran = resolve(&ecr, &gh, "staging")
        .input("image-tag", TAG)
        .input("soak-time", "staging=5m")
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
}

#[test]
fn from_environment_takes_what_another_environment_runs() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let seven = [("shop/backend", digest(7)), ("shop/frontend", digest(7))];
    let seven: Vec<(&str, &str)> = seven.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("qa", now() - 7200, TAG, &seven).add(&gh);
    Rec::new("qa", now() - 60, TYPO, &seven)
        .state("failure")
        .add(&gh);
    let ran = resolve(&ecr, &gh, "staging")
        .input("from-environment", "qa")
        .run();
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.out("result"), "resolved");
    assert_eq!(
        ran.out("image_tag"),
        TAG,
        "qa's newest successful record, not its failed one"
    );
    assert_eq!(ran.out("image_digest"), digest(7));

    // Nothing runs in dev: there is nothing to take.
    let ran = resolve(&ecr, &gh, "qa")
        .input("from-environment", "dev")
        .run();
    assert_eq!(ran.out("result"), "image-missing", "{}", ran.context());
    assert!(
        ran.out("message")
            .contains("`dev` has no successful record"),
        "{}",
        ran.out("message")
    );

    // A tag and an environment both: which one?
    let ran = resolve(&ecr, &gh, "staging")
        .input("from-environment", "qa")
        .input("image-tag", TAG)
        .run();
    assert_eq!(ran.out("result"), "invalid-input");
    assert!(
        ran.out("message").contains("`image-tag`"),
        "{}",
        ran.out("message")
    );
}

#[test]
fn from_environment_refuses_a_tag_moved_since() {
    let ecr = registry();
    let gh = github_with_deploy("");
    // qa's record says TAG was digest 9; ECR now has digest 7 under TAG.
    let nine = [("shop/backend", digest(9)), ("shop/frontend", digest(9))];
    let nine: Vec<(&str, &str)> = nine.iter().map(|(r, d)| (*r, d.as_str())).collect();
    Rec::new("qa", now() - 60, TAG, &nine).add(&gh);
    let ran = resolve(&ecr, &gh, "staging")
        .input("from-environment", "qa")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-changed");
}

#[test]
fn a_held_environment_admits_only_a_person_or_the_rollbacks_image() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let five = [("shop/backend", digest(5)), ("shop/frontend", digest(5))];
    let five: Vec<(&str, &str)> = five.iter().map(|(r, d)| (*r, d.as_str())).collect();
    let seven = [("shop/backend", digest(7)), ("shop/frontend", digest(7))];
    let seven: Vec<(&str, &str)> = seven.iter().map(|(r, d)| (*r, d.as_str())).collect();
    let failed = Rec::new("staging", now() - 600, TAG, &seven)
        .state("failure")
        .add(&gh);
    Rec::new("staging", now() - 500, OLD, &five)
        .state("queued")
        .hold(Some(failed), "ecrp-00000000000000bb")
        .add(&gh);

    // An automatic promotion of another image: refused.
    let ran = resolve(&ecr, &gh, "staging")
        .event(&dispatched_event("staging", TAG, "ecrp-00000000000000cc"))
        .input("image-tag", TAG)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "held");
    assert!(
        ran.out("message").contains("by hand"),
        "{}",
        ran.out("message")
    );

    // The rollback's own run brings the rollback's image: admitted.
    let ran = resolve(&ecr, &gh, "staging")
        .event(&dispatched_event("staging", OLD, "ecrp-00000000000000bb"))
        .input("image-tag", OLD)
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());

    // A person's Run workflow: admitted (and its record will lift the hold).
    let ran = resolve(&ecr, &gh, "staging")
        .event(&manual_event("staging", TAG))
        .input("image-tag", TAG)
        .run();
    assert_eq!(ran.out("result"), "resolved", "{}", ran.context());
}

#[test]
fn a_rule_that_needs_the_record_says_so_without_access() {
    let ecr = registry();
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    gh.deployments_access(crate::helpers::github::Access::None);
    let ran = resolve(&ecr, &gh, "staging")
        .input("image-tag", TAG)
        .input("require-upstream", "true")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "error");
    assert!(
        ran.out("message").contains("deployments: read"),
        "{}",
        ran.out("message")
    );
}
