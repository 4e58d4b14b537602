//! Promote exactly what was verified: digests across the chain, prefix resolution with paging,
//! image status, platforms and the vulnerability gate, against a server that speaks ECR's JSON
//! API through the real aws-sdk-ecr client.

use std::time::Duration;

use crate::at;
use crate::helpers::ecr::{FakeEcr, FakeScan, Image, index};
use crate::helpers::{DEPLOY_YML, FakeGitHub, REPOSITORY, Step, TOKEN};

const TAG: &str = "ea11a24-20260129125607";

fn digest(seed: u64) -> String {
    format!("sha256:{seed:064x}")
}

/// A target workflow that declares `image_digest`.
fn github_with_digest_input() -> FakeGitHub {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let yml = DEPLOY_YML.replace(
        "      image_tag:\n",
        "      image_digest:\n        type: string\n      image_tag:\n",
    );
    gh.add_workflow(21, "deploy.yml", "main", &yml);
    gh
}

fn step(ecr: &FakeEcr, gh: &FakeGitHub, env: &str, tag: &str, repos: &str) -> Step {
    at(env, tag, repos)
        .github(gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
}

#[test]
fn the_verified_digest_travels_with_the_dispatch() {
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(7, &[TAG], 1.7e9));
    ecr.add("shop/frontend", Image::new(7, &[TAG], 1.7e9));
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", TAG, "shop/backend,shop/frontend").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(gh.runs()[0].inputs["image_digest"], digest(7));
    assert_eq!(ran.out("image_digest"), digest(7));

    // Different digests: the compact JSON of image_digests, which expected-digest accepts.
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(7, &[TAG], 1.7e9));
    ecr.add("shop/frontend", Image::new(8, &[TAG], 1.7e9));
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", TAG, "shop/backend,shop/frontend").run();
    let sent = gh.runs()[0].inputs["image_digest"].clone();
    assert_eq!(
        sent,
        format!(
            r#"{{"shop/backend":"{}","shop/frontend":"{}"}}"#,
            digest(7),
            digest(8)
        )
    );
    assert_eq!(sent, ran.out("image_digests"));
    assert!(!ran.outputs.contains_key("image_digest"));

    // The next stage checks it: unchanged passes.
    let ran = step(&ecr, &gh, "qa", TAG, "shop/backend,shop/frontend")
        .input("expected-digest", &sent)
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());

    // A target without the input gets none; `digest-input: none` turns it off.
    let plain = FakeGitHub::start(REPOSITORY, TOKEN, "");
    plain.add_workflow(22, "deploy.yml", "main", DEPLOY_YML);
    let ran = step(&ecr, &plain, "dev", TAG, "shop/backend").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert!(!plain.runs()[0].inputs.contains_key("image_digest"));
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", TAG, "shop/backend")
        .input("digest-input", "none")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert!(!gh.runs()[0].inputs.contains_key("image_digest"));
}

#[test]
fn a_tag_moved_between_stages_stops_the_chain() {
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(9, &[TAG], 1.7e9));
    ecr.add("shop/frontend", Image::new(7, &[TAG], 1.7e9));
    let gh = github_with_digest_input();
    let expected = format!(
        r#"{{"shop/backend":"{}","shop/frontend":"{}","old/repo":"{}"}}"#,
        digest(7),
        digest(7),
        digest(1)
    );
    let ran = step(&ecr, &gh, "qa", TAG, "shop/backend,shop/frontend")
        .input("expected-digest", &expected)
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-changed");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    let message = ran.out("message");
    assert!(
        message.contains("shop/backend")
            && message.contains(&digest(7))
            && message.contains(&digest(9)),
        "{message}"
    );
    assert!(gh.runs().is_empty());

    // One digest for all repositories.
    let ran = step(&ecr, &gh, "qa", TAG, "shop/frontend")
        .input("expected-digest", &digest(7))
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());

    // A mapping that misses a repository is refused before any call.
    let partial = format!(r#"{{"shop/backend":"{}"}}"#, digest(9));
    let calls = ecr.calls("DescribeImages");
    let ran = step(&ecr, &gh, "qa", TAG, "shop/backend,shop/frontend")
        .input("expected-digest", &partial)
        .run();
    assert_eq!(ran.out("result"), "invalid-input");
    assert!(
        ran.out("message").contains("shop/frontend"),
        "{}",
        ran.out("message")
    );
    assert_eq!(ecr.calls("DescribeImages"), calls);
}

#[test]
fn a_prefix_resolves_to_the_newest_active_tag() {
    let ecr = FakeEcr::start();
    for repo in ["shop/backend", "shop/frontend"] {
        ecr.add(
            repo,
            Image::new(1, &["ea11a24-20260128000000"], 1_769_558_400.0),
        );
        ecr.add(
            repo,
            Image::new(2, &["ea11a24-20260129125607"], 1_769_691_367.0),
        );
        // Newer but archived: does not count.
        let mut archived = Image::new(3, &["ea11a24-20260130000000"], 1_769_731_200.0);
        archived.status = "ARCHIVED".into();
        ecr.add(repo, archived);
        ecr.add(
            repo,
            Image::new(4, &["b0c0ffe-20260131000000"], 1_769_817_600.0),
        );
    }
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", "ea11a24", "shop/backend,shop/frontend")
        .input("tag-match", "prefix")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("image_tag"), "ea11a24-20260129125607");
    assert_eq!(ran.out("image_digest"), digest(2));
    assert_eq!(gh.runs()[0].inputs["image_tag"], "ea11a24-20260129125607");

    // Equal push times: the greater tag.
    let ecr = FakeEcr::start();
    ecr.add("app", Image::new(5, &["v1.2-a"], 1.7e9));
    ecr.add("app", Image::new(6, &["v1.2-b"], 1.7e9));
    let ran = step(&ecr, &gh, "staging", "v1.2", "app")
        .input("tag-match", "prefix")
        .run();
    assert_eq!(ran.out("image_tag"), "v1.2-b", "{}", ran.context());
}

#[test]
fn repositories_that_disagree_on_the_newest_tag_are_refused() {
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(1, &["ea11a24-1"], 1.7e9));
    ecr.add("shop/frontend", Image::new(1, &["ea11a24-1"], 1.7e9));
    ecr.add("shop/frontend", Image::new(2, &["ea11a24-2"], 1.8e9));
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", "ea11a24", "shop/backend,shop/frontend")
        .input("tag-match", "prefix")
        .run();
    assert_eq!(ran.out("result"), "image-missing", "{}", ran.context());
    let message = ran.out("message");
    assert!(
        message.contains("ea11a24-1")
            && message.contains("ea11a24-2")
            && message.contains("shop/frontend"),
        "{message}"
    );
    let ran = step(&ecr, &gh, "dev", "zzz", "shop/backend")
        .input("tag-match", "prefix")
        .run();
    assert_eq!(ran.out("result"), "image-missing", "{}", ran.context());
    assert!(gh.runs().is_empty());
}

#[test]
fn prefix_resolution_pages_through_every_image_once() {
    let ecr = FakeEcr::start();
    // 2,500 images; the newest match sits on the last page.
    for i in 0..2500u64 {
        ecr.add(
            "big",
            Image::new(1000 + i, &[&format!("other-{i}")], 1.0e9 + i as f64),
        );
    }
    ecr.add("big", Image::new(7, &["ea11a24-old"], 1.0e9));
    ecr.add("big", Image::new(8, &["ea11a24-new"], 2.0e9));
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "staging", "ea11a24", "big")
        .input("tag-match", "prefix")
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(ran.out("image_tag"), "ea11a24-new");
    assert_eq!(
        ecr.calls("DescribeImages"),
        3,
        "2,502 images: three pages of 1,000"
    );
}

#[test]
fn an_archived_image_cannot_be_promoted() {
    let ecr = FakeEcr::start();
    let mut archived = Image::new(3, &[TAG], 1.7e9);
    archived.status = "ARCHIVED".into();
    ecr.add("app", archived);
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", TAG, "app").run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "image-unavailable");
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message").contains("ARCHIVED"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());
}

#[test]
fn required_platforms_are_read_from_the_image_index() {
    let ecr = FakeEcr::start();
    let mut multi = Image::new(3, &[TAG], 1.7e9);
    multi.manifest = index(&["linux/amd64", "linux/arm64/v8"]);
    ecr.add("multi", multi);
    let mut amd = Image::new(4, &[TAG], 1.7e9);
    amd.manifest = index(&["linux/amd64"]);
    ecr.add("amd", amd);
    ecr.add("single", Image::new(5, &[TAG], 1.7e9));
    let gh = github_with_digest_input();

    let ran = step(&ecr, &gh, "staging", TAG, "multi")
        .input("required-platforms", "linux/amd64,linux/arm64")
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert!(
        ran.summary.contains("linux/amd64, linux/arm64/v8"),
        "{}",
        ran.summary
    );

    let ran = step(&ecr, &gh, "staging", TAG, "multi,amd")
        .input("required-platforms", "linux/amd64 linux/arm64")
        .run();
    assert_eq!(ran.out("result"), "image-unavailable", "{}", ran.context());
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message")
            .contains("amd: `ea11a24-20260129125607` lacks linux/arm64"),
        "{}",
        ran.out("message")
    );

    let ran = step(&ecr, &gh, "staging", TAG, "single")
        .input("required-platforms", "linux/amd64")
        .run();
    assert_eq!(ran.out("result"), "image-unavailable", "{}", ran.context());
    assert!(
        ran.out("message").contains("single-platform"),
        "{}",
        ran.out("message")
    );
    assert_eq!(ecr.calls("BatchGetImage"), 4);

    // A role allowed DescribeImages but not BatchGetImage: the message names the missing action.
    ecr.deny("BatchGetImage");
    let ran = step(&ecr, &gh, "staging", TAG, "multi")
        .input("required-platforms", "linux/amd64")
        .run();
    assert_eq!(ran.out("deploy_success"), "false", "{}", ran.context());
    assert!(
        ran.out("message")
            .contains("the role needs ecr:BatchGetImage")
            && ran
                .out("message")
                .contains("Fix: grant the role ecr:BatchGetImage"),
        "{}",
        ran.out("message")
    );
}

#[test]
fn the_vulnerability_gate() {
    let ecr = FakeEcr::start();
    let mut a = Image::new(3, &[TAG], 1.7e9);
    a.scans = vec![FakeScan::complete(&[("HIGH", 2), ("LOW", 5)])];
    ecr.add("scan-a", a);
    let mut b = Image::new(4, &[TAG], 1.7e9);
    b.scans = vec![FakeScan::complete(&[("MEDIUM", 1), ("LOW", 1)])];
    ecr.add("scan-b", b);
    let gh = github_with_digest_input();

    let ran = step(&ecr, &gh, "dev", TAG, "scan-a,scan-b")
        .input("fail-on-severity", "High")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "vulnerable");
    assert_eq!(ran.out("deploy_success"), "false");
    assert!(
        ran.out("message").contains("2 HIGH"),
        "{}",
        ran.out("message")
    );
    let counts: serde_json::Value = serde_json::from_str(ran.out("vulnerabilities")).unwrap();
    assert_eq!(
        counts,
        serde_json::json!({"CRITICAL": 0, "HIGH": 2, "MEDIUM": 1, "LOW": 6})
    );
    assert!(
        ran.summary.contains("### Vulnerabilities"),
        "{}",
        ran.summary
    );
    assert!(gh.runs().is_empty());

    let ran = step(&ecr, &gh, "dev", TAG, "scan-a,scan-b")
        .input("fail-on-severity", "critical")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("deploy_success"), "true");
    assert!(ran.outputs.contains_key("vulnerabilities"));
    // Without the gate, no scan is read.
    let calls = ecr.calls("DescribeImageScanFindings");
    let ran = step(&ecr, &gh, "staging", TAG, "scan-a").run();
    assert!(!ran.outputs.contains_key("vulnerabilities"));
    assert_eq!(ecr.calls("DescribeImageScanFindings"), calls);

    // A role without ecr:DescribeImageScanFindings is told so, by that action's name.
    ecr.deny("DescribeImageScanFindings");
    let ran = step(&ecr, &gh, "staging", TAG, "scan-a")
        .input("fail-on-severity", "high")
        .run();
    assert_eq!(ran.out("deploy_success"), "false", "{}", ran.context());
    assert!(
        ran.out("message")
            .contains("Fix: grant the role ecr:DescribeImageScanFindings"),
        "{}",
        ran.out("message")
    );
}

#[test]
fn a_scan_in_progress_is_waited_for_within_scan_wait() {
    let ecr = FakeEcr::start();
    let mut img = Image::new(3, &[TAG], 1.7e9);
    img.scans = vec![
        FakeScan::status("IN_PROGRESS", ""),
        FakeScan::status("IN_PROGRESS", ""),
        FakeScan::complete(&[("CRITICAL", 1)]),
    ];
    ecr.add("app", img);
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "staging", TAG, "app")
        .input("fail-on-severity", "critical")
        .run();
    assert_eq!(ran.out("result"), "vulnerable", "{}", ran.context());
    assert_eq!(ecr.calls("DescribeImageScanFindings"), 3);

    // Still running when scan-wait ends: error, nothing promoted, says how to fix it.
    let ecr = FakeEcr::start();
    let mut img = Image::new(3, &[TAG], 1.7e9);
    img.scans = vec![FakeScan::status("IN_PROGRESS", "")];
    ecr.add("app", img);
    let ran = step(&ecr, &gh, "dev", TAG, "app")
        .input("fail-on-severity", "low")
        .input("scan-wait", "1s")
        .run();
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert!(
        ran.out("message").contains("still in progress after 1s"),
        "{}",
        ran.out("message")
    );
    assert!(ran.elapsed < Duration::from_secs(5));
    assert!(gh.runs().is_empty());
}

#[test]
fn a_missing_or_failed_scan_is_an_error_with_a_fix() {
    let ecr = FakeEcr::start();
    ecr.add("unscanned", Image::new(3, &[TAG], 1.7e9));
    let mut failed = Image::new(4, &[TAG], 1.7e9);
    failed.scans = vec![FakeScan::status(
        "FAILED",
        "UnsupportedImageError: The operating system is not supported",
    )];
    ecr.add("failed", failed);
    let gh = github_with_digest_input();
    let ran = step(&ecr, &gh, "dev", TAG, "unscanned")
        .input("fail-on-severity", "high")
        .run();
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert!(
        ran.out("message").contains("has no scan"),
        "{}",
        ran.out("message")
    );
    assert!(ran.stdout.contains("start-image-scan"));
    let ran = step(&ecr, &gh, "dev", TAG, "failed")
        .input("fail-on-severity", "high")
        .run();
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert!(
        ran.out("message").contains("UnsupportedImageError"),
        "{}",
        ran.out("message")
    );
    assert!(gh.runs().is_empty());
}
