//! The local commands (`status`, `history`, `metrics`) against the GitHub stand-in: tables,
//! `--json`, their errors and exit codes, and a long history read in bounded requests.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::github::{Access, Fault, Seed, now};
use crate::helpers::{FakeGitHub, REPOSITORY, Ran, Step, TOKEN};
use crate::step;

const H: u64 = 3600;
const D: u64 = 86_400;

/// A record's payload, as ecr-promote writes it.
fn payload(tag: &str, digest: char, rollback_of: Option<u64>, hold: bool) -> Value {
    json!({
        "ecr_promote": 2,
        "image_tag": tag,
        "image_digests": {"shop/backend": format!("sha256:{}", digest.to_string().repeat(64))},
        "chain": ["dev", "qa", "staging"],
        "from_environment": null,
        "promotion_id": format!("ecrp-{tag}"),
        "run_url": format!("https://github.example/{REPOSITORY}/actions/runs/{}", tag.len()),
        "rollback_of": rollback_of,
        "hold": hold,
    })
}

/// A made-up commit: `0003abab…` for 3.
fn sha(n: u64) -> String {
    format!("{n:04}{}", "ab".repeat(18))
}

/// A step running a local command against `gh`, with a token in GITHUB_TOKEN.
fn command(gh: &FakeGitHub) -> Step {
    step().github(gh).env("GITHUB_TOKEN", TOKEN)
}

fn json_of(ran: &Ran) -> Value {
    assert_eq!(ran.code, 0, "{}", ran.context());
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", ran.stdout))
}

/// The GETs whose `path?query` contains `part`.
fn requested(gh: &FakeGitHub, part: &str) -> Vec<String> {
    gh.requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| format!("{}?{}", r.path, r.query))
        .filter(|r| r.contains(part))
        .collect()
}

/// dev runs v3; qa runs v2 and its newest deploy (v3) failed; staging runs v1 and is held by
/// a queued rollback to v0.
fn seeded_chain() -> (FakeGitHub, u64) {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let t = now();
    gh.add_deployment(
        Seed::new("dev", t - H)
            .sha(&sha(3))
            .payload(payload("v3", 'c', None, false))
            .status("success", t - H + 60),
    );
    gh.add_deployment(
        Seed::new("qa", t - 2 * D)
            .sha(&sha(2))
            .payload(payload("v2", 'b', None, false))
            .status("success", t - 2 * D + 60),
    );
    gh.add_deployment(
        Seed::new("qa", t - H)
            .sha(&sha(3))
            .payload(payload("v3", 'c', None, false))
            .status("failure", t - H + 60),
    );
    let v1 = gh.add_deployment(
        Seed::new("staging", t - 3 * D)
            .sha(&sha(1))
            .payload(payload("v1", 'a', None, false))
            .status("success", t - 3 * D + 60)
            .status("inactive", t - D),
    );
    gh.add_deployment(
        Seed::new("staging", t - D)
            .sha(&sha(1))
            .payload(payload("v0", '0', Some(v1), true))
            .status("queued", t - D + 5),
    );
    (gh, v1)
}

#[test]
fn status_shows_what_each_environment_runs_held_and_frozen() {
    let (gh, v1) = seeded_chain();
    let ran = command(&gh).run_with(&[
        "status",
        "--json",
        "--freeze",
        "staging: 2020-01-01 - 2099-01-01",
    ]);
    let v = json_of(&ran);
    assert_eq!(v["repository"], REPOSITORY);
    let envs = v["environments"].as_array().unwrap();
    assert_eq!(
        envs.iter()
            .map(|e| e["environment"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["dev", "qa", "staging"],
        "the chain's order"
    );
    let (dev, qa, staging) = (&envs[0], &envs[1], &envs[2]);
    assert_eq!(dev["image_tag"], "v3");
    assert_eq!(dev["image_digest"], format!("sha256:{}", "c".repeat(64)));
    assert_eq!(dev["commit"], sha(3));
    let age = dev["age_seconds"].as_i64().unwrap();
    assert!(
        (3540..3600).contains(&age),
        "dev succeeded 59 minutes ago: {age}"
    );
    assert_eq!(
        dev["newest"],
        Value::Null,
        "its newest record is the one running"
    );
    assert_eq!(
        (&dev["held"], &dev["frozen"]),
        (&json!(false), &json!(false))
    );
    // qa: the failed v3 is its newest record, v2 is what runs.
    assert_eq!(qa["image_tag"], "v2");
    assert_eq!(qa["newest"]["image_tag"], "v3");
    assert_eq!(qa["newest"]["state"], "failure");
    // staging: v1 (a success since marked inactive) runs; the queued rollback holds it.
    assert_eq!(staging["image_tag"], "v1");
    assert_eq!(staging["deployment_id"], v1);
    assert_eq!(staging["held"], true);
    assert_eq!(staging["newest"]["state"], "queued");
    assert_eq!(staging["frozen"], true);
    assert_eq!(staging["frozen_until"], "2099-01-01T00:00:00Z");

    // The table, for people: no colour off a terminal.
    let ran = command(&gh).run_with(&["status", "--freeze", "staging: 2020-01-01 - 2099-01-01"]);
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert!(!ran.stdout.contains('\u{1b}'), "no colour off a terminal");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "ENVIRONMENT  TAG  DIGEST               COMMIT   AGE     NOTE",
            "dev          v3   sha256:cccccccccccc  0003aba  59m",
            "qa           v2   sha256:bbbbbbbbbbbb  0002aba  1d 23h  newest: v3 failure",
            "staging      v1   sha256:aaaaaaaaaaaa  0001aba  2d 23h  held after a rollback; frozen until 2099-01-01 00:00 UTC; newest: v0 queued",
        ]
    );
    // Each environment: one page, and statuses only down to what runs there (dev 1, qa 2,
    // staging 2).
    assert_eq!(
        requested(&gh, "/deployments?").len(),
        6,
        "two runs, three pages each"
    );
    assert_eq!(requested(&gh, "/statuses").len(), 10);
}

#[test]
fn history_lists_one_environment_newest_first() {
    let (gh, v1) = seeded_chain();
    let v = json_of(&command(&gh).run_with(&["history", "--environment", "staging", "--json"]));
    assert_eq!(v["environment"], "staging");
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    let (rollback, older) = (&records[0], &records[1]);
    assert_eq!(rollback["image_tag"], "v0");
    assert_eq!(rollback["state"], "queued");
    assert_eq!(rollback["hold"], true);
    assert_eq!(rollback["rollback_of"], v1);
    assert_eq!(older["deployment_id"], v1);
    assert_eq!(older["state"], "success", "inactive is not an outcome");
    assert_eq!(older["succeeded"], true);
    assert_eq!(older["commit"], sha(1));
    assert_eq!(
        older["run_url"],
        format!("https://github.example/{REPOSITORY}/actions/runs/2")
    );

    let ran = command(&gh).run_with(&["history", "--environment", "staging", "--limit", "1"]);
    assert_eq!(ran.code, 0, "{}", ran.context());
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "--limit 1: the header and the newest record\n{}",
        ran.stdout
    );
    assert!(
        lines[0].starts_with(
            "ID          CREATED           TAG  DIGEST               STATE   HOLD  ROLLBACK OF  RUN"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(" v0   sha256:000000000000  queued  held  "),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(&format!(
            "  held  {v1}   https://github.example/{REPOSITORY}/actions/runs/2"
        )),
        "{}",
        lines[1]
    );

    // An environment without records: nothing on stdout, a note on stderr, exit 0.
    let ran = command(&gh).run_with(&["history", "--environment", "prod"]);
    assert_eq!(ran.code, 0, "{}", ran.context());
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr.contains("prod has no record") && ran.stderr.contains("not in the chain"),
        "{}",
        ran.stderr
    );
}

/// A staging history whose figures are worked out by hand. T is when the test seeds it.
#[test]
fn metrics_of_a_seeded_history_match_the_arithmetic() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let t = now();
    for (n, at) in [(1, t - 20 * D - 4 * H), (3, t - 14 * D - H)] {
        gh.add_commit(&sha(n), at);
    }
    let seed = |at: u64, commit: u64, tag: &str| {
        Seed::new("staging", at)
            .sha(&sha(commit))
            .payload(payload(tag, 'a', None, false))
    };
    // Outside the 30-day window: ignored, failure and all.
    gh.add_deployment(seed(t - 31 * D, 9, "old").status("failure", t - 31 * D + 60));
    // r1: success 1 h after creation, its commit 4 h before it: lead 5 h.
    gh.add_deployment(seed(t - 20 * D, 1, "r1").status("success", t - 20 * D + H));
    // r2: failed; restored by r3's success: (T-14d+1h) - (T-15d) = 25 h.
    gh.add_deployment(seed(t - 15 * D, 2, "r2").status("failure", t - 15 * D + 60));
    // r3: success 1 h after creation, commit 1 h before: lead 2 h.
    gh.add_deployment(seed(t - 14 * D, 3, "r3").status("success", t - 14 * D + H));
    // r4: the commit of r1 again (read once): lead (T-10d+2h) - (T-20d-4h) = 246 h.
    let r4 = gh.add_deployment(
        seed(t - 10 * D, 1, "r4")
            .status("success", t - 10 * D + 2 * H)
            .status("inactive", t - 2 * D),
    );
    // r5: a queued rollback of r4: a change failure.
    gh.add_deployment(
        Seed::new("staging", t - 5 * D)
            .sha(&sha(3))
            .payload(payload("r5", 'b', Some(r4), true))
            .status("queued", t - 5 * D),
    );
    // r6: success, but its commit cannot be read: out of the lead time.
    gh.add_deployment(seed(t - 2 * D, 6, "r6").status("success", t - 2 * D + 1800));
    // Both runs below find r6's commit gone (a force-push), as GitHub answers it.
    for _ in 0..2 {
        gh.fault(
            "GET",
            &format!("/commits/{}", sha(6)),
            Fault::Answer(
                422,
                vec![],
                json!({"message": format!("No commit found for SHA: {}", sha(6)), "status": "422"})
                    .to_string(),
            ),
        );
    }

    let ran = command(&gh).run_with(&["metrics", "--environment", "staging", "--json"]);
    let v = json_of(&ran);
    let staging = &v["environments"][0];
    // Records in the window: r1..r6 = 6; successful: r1, r3, r4, r6 = 4.
    assert_eq!(
        (staging["records"].as_u64(), staging["successful"].as_u64()),
        (Some(6), Some(4))
    );
    // Frequency: 4 / 30 days = 0.1333 a day; × 7 = 0.9333 a week.
    assert_eq!(
        staging["deployment_frequency"],
        json!({"per_day": 0.1333, "per_week": 0.9333})
    );
    // Lead times 2 h, 5 h, 246 h (r6 unknown). Median 5 h = 18000 s. p90: rank 0.9 × 2 = 1.8
    // → 5 h + 0.8 × (246 h - 5 h) = 197.8 h = 712080 s.
    assert_eq!(
        staging["lead_time_seconds"],
        json!({"median": 18000, "p90": 712080, "samples": 3, "unknown_commits": 1})
    );
    // Failed r2, rollback r5: 2 of 6 = 0.3333.
    assert_eq!(
        staging["change_failure_rate"],
        json!({"rate": 0.3333, "failed": 1, "rollbacks": 1, "change_failures": 2, "records": 6})
    );
    // One restore, 25 h = 90000 s.
    assert_eq!(
        staging["time_to_restore_seconds"],
        json!({"median": 90000, "samples": 1, "unrestored": 0})
    );
    assert_eq!(v["window_days"], 30.0);
    assert!(
        ran.stderr.contains("1 of 3 commits could not be read"),
        "{}",
        ran.stderr
    );
    // Each distinct commit of a successful record, once: r1/r4's, r3's, r6's.
    let commits = requested(&gh, "/commits/");
    assert_eq!(commits.len(), 3, "{commits:?}");
    assert_eq!(
        commits.iter().collect::<BTreeSet<_>>().len(),
        3,
        "none twice"
    );
    // Statuses of the 6 records in the window only.
    assert_eq!(requested(&gh, "/statuses").len(), 6);

    // The table: every environment of the chain by default.
    let ran = command(&gh).run_with(&["metrics"]);
    assert_eq!(ran.code, 0, "{}", ran.context());
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{REPOSITORY} · records created ")),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(" UTC (30 days)"), "{}", lines[0]);
    assert_eq!(
        lines[2..],
        [
            "ENVIRONMENT  RECORDS  DEPLOYS/DAY  DEPLOYS/WEEK  LEAD TIME p50   LEAD TIME p90  CHANGE FAILURE  TIME TO RESTORE p50",
            "dev          0        0.00         0.0           —               —              —               —",
            "qa           0        0.00         0.0           —               —              —               —",
            "staging      6        0.13         0.9           5h (1 unknown)  8d 5h          33% (2/6)       1d 1h",
        ]
    );
}

#[test]
fn without_a_token_the_error_says_what_to_set_and_nothing_is_called() {
    let (gh, _) = seeded_chain();
    for args in [
        &["status"][..],
        &["history", "--environment", "qa"],
        &["metrics"],
    ] {
        let ran = step()
            .github(&gh)
            .unset("GITHUB_TOKEN")
            .unset("GH_TOKEN")
            .run_with(args);
        assert_eq!(ran.code, 1, "{args:?}: {}", ran.context());
        assert_eq!(ran.stdout, "");
        assert!(
            ran.stderr.contains("no GitHub token")
                && ran.stderr.contains("GITHUB_TOKEN or GH_TOKEN"),
            "{}",
            ran.stderr
        );
    }
    assert!(gh.requests().is_empty());
    // GH_TOKEN alone is enough.
    let ran = step()
        .github(&gh)
        .env("GH_TOKEN", TOKEN)
        .run_with(&["status", "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.context());
}

#[test]
fn without_access_the_error_names_the_permission_or_the_repository() {
    let (gh, _) = seeded_chain();
    gh.deployments_access(Access::None);
    for args in [
        &["status"][..],
        &["history", "--environment", "qa"],
        &["metrics", "--json"],
    ] {
        let ran = command(&gh).run_with(args);
        assert_eq!(ran.code, 1, "{args:?}: {}", ran.context());
        assert!(
            ran.stderr
                .contains("(403: Resource not accessible by integration)"),
            "{}",
            ran.stderr
        );
        assert!(
            ran.stderr
                .contains("fix: give the token `deployments: read` on acme/shop"),
            "{}",
            ran.stderr
        );
    }
    gh.deployments_access(Access::Write);
    let ran = command(&gh).run_with(&["metrics", "--repository", "acme/shoq"]);
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert!(
        ran.stderr
            .contains("acme/shoq was not found, or the token cannot see it (404)"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("check --repository"), "{}", ran.stderr);
    let ran = command(&gh)
        .env("GITHUB_TOKEN", "not-the-token")
        .run_with(&["status"]);
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert!(
        ran.stderr.contains("does not accept the token (401"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_wrong_command_line_exits_2_before_any_call() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    for args in [
        &["metrics", "--since", "a month"][..],
        &["metrics", "--since", "400d"],
        &["metrics", "--environment", "QA"],
        &["history"],
        &["history", "--environment", "qa", "--limit", "none"],
        &["status", "--repository", "not-a-slug"],
        &["status", "--environments", "dev,dev"],
        &["status", "--freeze", "qa: whenever"],
        &["status", "--image-tag", "v1"],
    ] {
        let ran = command(&gh).run_with(args);
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.context());
        assert!(ran.stderr.contains("error"), "{args:?}: {}", ran.stderr);
    }
    let ran = command(&gh)
        .unset("GITHUB_REPOSITORY")
        .run_with(&["status"]);
    assert_eq!(ran.code, 2, "{}", ran.context());
    assert!(
        ran.stderr.contains("--repository OWNER/NAME"),
        "{}",
        ran.stderr
    );
    assert!(gh.requests().is_empty());
    // A local command leaves no outputs behind, even inside a job.
    assert_eq!(ran.output_file, "");
}

/// 5,000 deployments over 50 days, 3,000 of them in the 30-day window: read in pages of 100
/// down to the window's start, each status once, each commit once, in bounded time.
#[test]
fn five_thousand_deployments_are_read_in_bounded_requests() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let t = now();
    let spacing = 50 * D / 5000;
    for c in 0..500u64 {
        gh.add_commit(&sha(c + 1), t - 60 * D + c * 8640);
    }
    for i in 0..5000u64 {
        let at = t - 50 * D + i * spacing + spacing / 2;
        let state = if i % 10 == 9 { "failure" } else { "success" };
        gh.add_deployment(
            Seed::new("staging", at)
                .sha(&sha(i / 10 + 1))
                .payload(payload(&format!("t{i}"), 'a', None, false))
                .status(state, at + 300),
        );
    }
    let ran = command(&gh).run_with(&["metrics", "--environment", "staging", "--json"]);
    let v = json_of(&ran);
    let records = v["environments"][0]["records"].as_u64().unwrap();
    assert!((2999..=3001).contains(&records), "{records}");

    let pages = requested(&gh, "/deployments?");
    assert!(
        pages.len() <= 31,
        "30 pages of the window and one past it: {}",
        pages.len()
    );
    assert!(pages.iter().all(|p| p.contains("per_page=100")));
    let statuses = requested(&gh, "/statuses");
    assert_eq!(
        statuses.len() as u64,
        records,
        "one status read per record in the window"
    );
    assert_eq!(
        statuses.iter().collect::<BTreeSet<_>>().len(),
        statuses.len(),
        "none twice"
    );
    let commits = requested(&gh, "/commits/");
    let distinct: BTreeMap<&String, usize> = commits.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c).or_default() += 1;
        m
    });
    assert!(distinct.values().all(|n| *n == 1), "a commit read twice");
    // 10 records a commit: the window's 300 commits (±1 at its edge).
    assert!((299..=301).contains(&commits.len()), "{}", commits.len());
    assert!(
        ran.elapsed < Duration::from_secs(60),
        "5,000 deployments took {:?}",
        ran.elapsed
    );
}

/// An environment that never succeeded is not read to its first day: `status` stops after
/// three pages and says so.
#[test]
fn status_reads_at_most_three_pages_of_an_environment_that_never_succeeded() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let t = now();
    for i in 0..350u64 {
        gh.add_deployment(
            Seed::new("qa", t - 400 * H + i * H)
                .sha(&sha(i))
                .payload(payload(&format!("f{i}"), 'f', None, false))
                .status("failure", t - 400 * H + i * H + 60),
        );
    }
    let ran = command(&gh).run_with(&["status", "--json"]);
    let v = json_of(&ran);
    assert_eq!(v["environments"][1]["image_tag"], Value::Null);
    assert_eq!(v["environments"][1]["newest"]["image_tag"], "f349");
    assert!(
        ran.stderr
            .contains("note: qa has no successful record among its newest 300 records"),
        "{}",
        ran.stderr
    );
    let pages = requested(&gh, "/deployments?environment=qa");
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(requested(&gh, "/statuses").len() <= 300);
}
