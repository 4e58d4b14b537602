//! The delivery figures in the summary at the end of the chain: this promotion's lead time and
//! the last environment's 30 days, worked out by hand; the lead-time chart when asked.

use serde_json::json;

use crate::at;
use crate::helpers::github::{Seed, now};
use crate::helpers::{REGION, github_with_deploy, seed, unique};

const TAG: &str = "ea11a24-20260129125607";
const H: u64 = 3600;
const D: u64 = 86_400;

fn sha(n: u64) -> String {
    format!("{n:04}{}", "cd".repeat(18))
}

fn payload(tag: &str) -> serde_json::Value {
    json!({
        "ecr_promote": 2,
        "image_tag": tag,
        "image_digests": {"other": format!("sha256:{}", "e".repeat(64))},
        "chain": ["dev", "qa", "staging"],
        "from_environment": "qa",
        "promotion_id": format!("ecrp-{tag}"),
        "run_url": "",
        "rollback_of": null,
        "hold": false,
    })
}

#[test]
fn the_end_of_the_chain_summarises_this_promotion_and_thirty_days() {
    let backend = unique("shop/backend");
    seed(REGION, &backend, &[TAG]);
    let gh = github_with_deploy("");
    let t = now();
    // A successful record created at `created`, its commit `lead` before its success (10 min
    // after creation).
    let ok = |n: u64, created: u64, lead: u64| {
        gh.add_commit(&sha(n), created + 600 - lead);
        gh.add_deployment(
            Seed::new("staging", created)
                .sha(&sha(n))
                .payload(payload(&format!("r{n}")))
                .status("success", created + 600),
        );
    };
    // Outside the window: ignored.
    gh.add_deployment(
        Seed::new("staging", t - 40 * D)
            .sha(&sha(9))
            .payload(payload("old"))
            .status("failure", t - 40 * D + 60),
    );
    ok(1, t - 20 * D, H);
    ok(2, t - 15 * D, 2 * H);
    // A failure restored by r3: (T-12d+2h+10m) - (T-12d) = 2h 10m.
    gh.add_deployment(
        Seed::new("staging", t - 12 * D)
            .sha(&sha(8))
            .payload(payload("f"))
            .status("failure", t - 12 * D + 60),
    );
    ok(3, t - 12 * D + 2 * H, 4 * H);
    ok(4, t - 5 * D, 5 * H);
    // This run's image was built from GITHUB_SHA, committed 10 hours ago.
    let head = sha(100);
    gh.add_commit(&head, t - 10 * H);

    let ran = at("staging", TAG, &backend)
        .github(&gh)
        .env("GITHUB_SHA", &head)
        .input("lead-time-chart", "true")
        .run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(ran.out("recorded"), "true");
    // With this run: successful r1..r4 and this one = 5 in 30 days: 5 × 7 / 30 = 1.17 a week.
    // Lead times 1, 2, 4, 5 and 10 h (this run, plus its few seconds): median 4 h; p90 at rank
    // 0.9 × 4 = 3.6: 5 h + 0.6 × (10 h - 5 h) = 8 h. Records: r1..r4, the failure and this run
    // = 6; one failed: 17 % (1/6). One restore: 2 h 10 m.
    let line = "This promotion's lead time: 10h. `staging` over the last 30 days: 5 deploys (1.2 a week), lead time median 4h (p90 8h), change failure rate 17% (1/6), time to restore median 2h 10m.";
    assert!(ran.summary.contains("### Delivery"), "{}", ran.summary);
    assert!(ran.summary.contains(line), "{}", ran.summary);
    assert!(
        ran.summary.contains(
            "```mermaid\nxychart-beta\n    title \"Lead time of the last 5 deploys to staging (hours)\"\n    x-axis [\"r1\", \"r2\", \"r3\", \"r4\", \"ea11a24-20260129125607\"]\n    y-axis \"hours\" 0 --> 10\n    bar [1.0, 2.0, 4.0, 5.0, 10.0]\n```"
        ),
        "{}",
        ran.summary
    );
    // Each commit read once: r1..r4's and this run's.
    let commits: Vec<String> = gh
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/commits/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(commits.len(), 5, "{commits:?}");

    // Without `lead-time-chart`, the line alone; before the end of the chain, nothing.
    let ran = at("staging", TAG, &backend)
        .github(&gh)
        .env("GITHUB_SHA", &head)
        .run();
    assert!(
        ran.summary.contains("This promotion's lead time: 10h."),
        "{}",
        ran.summary
    );
    assert!(!ran.summary.contains("xychart-beta"), "{}", ran.summary);
    let ran = at("qa", TAG, &backend)
        .github(&gh)
        .env("GITHUB_SHA", &head)
        .input("auto-promote", "false")
        .input("lead-time-chart", "true")
        .run();
    assert_eq!(
        ran.out("result"),
        "auto-promote-disabled",
        "{}",
        ran.context()
    );
    assert!(!ran.summary.contains("### Delivery"), "{}", ran.summary);
}

#[test]
fn a_failed_deploy_at_the_end_of_the_chain_has_no_delivery_line() {
    let backend = unique("shop/backend");
    seed(REGION, &backend, &[TAG]);
    let gh = github_with_deploy("");
    let ran = at("staging", TAG, &backend)
        .github(&gh)
        .input("deploy-status", "failure")
        .run();
    assert_eq!(ran.out("result"), "deploy-failed", "{}", ran.context());
    assert!(!ran.summary.contains("### Delivery"), "{}", ran.summary);
    assert!(gh.requests().iter().all(|r| !r.path.contains("/commits/")));
}

#[test]
fn the_delivery_block_renders_as_text_and_a_mermaid_block() {
    use ecr_promote::outcome::{Report, ResultCode};
    let mut r = Report::new(ResultCode::EndOfChain, "`t1` verified");
    r.metrics = Some("This promotion's lead time: 1h. `staging` <b>x</b> | *y*".into());
    r.chart = Some("xychart-beta\n    bar [1.0]\n```\n<script>".into());
    let markdown = ecr_promote::report::summary(&r);
    let mut options = comrak::Options::default();
    options.extension.table = true;
    let html = comrak::markdown_to_html(&markdown, &options);
    assert!(html.contains("<h3>Delivery</h3>"), "{html}");
    assert!(
        html.contains(
            "This promotion's lead time: 1h. <code>staging</code> &lt;b&gt;x&lt;/b&gt; | *y*"
        ),
        "{html}"
    );
    // The chart stays inside its block: no backtick can close it early.
    assert!(
        html.contains("<pre><code class=\"language-mermaid\">xychart-beta\n    bar [1.0]\n\n&lt;script&gt;\n</code></pre>"),
        "{html}"
    );
    // Nothing without figures.
    assert!(
        !ecr_promote::report::summary(&Report::new(ResultCode::EndOfChain, "x"))
            .contains("Delivery")
    );
}

/// A busy last environment: the summary reads one page of 100 records, not the whole month, so
/// that a promotion's requests stay bounded (the job's token may make 1,000 an hour).
#[test]
fn a_busy_environment_is_summarised_from_its_newest_hundred_records() {
    let backend = unique("shop/backend");
    seed(REGION, &backend, &[TAG]);
    let gh = github_with_deploy("");
    let t = now();
    // 150 successes 4 h apart, the newest an hour ago: 25 days.
    for i in 0..150u64 {
        let created = t - H - i * 4 * H;
        gh.add_commit(&sha(i), created - H);
        gh.add_deployment(
            Seed::new("staging", created)
                .sha(&sha(i))
                .payload(payload(&format!("b{i}")))
                .status("success", created + 60),
        );
    }
    let before = gh.requests().len();
    let ran = at("staging", TAG, &backend).github(&gh).run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    // The newest 100 records span 1 h + 99 × 4 h = 16 d 13 h (or, when this run's own new
    // deployment is on the page, 99 of them: 16 d 9 h).
    assert!(
        ran.summary.contains("`staging` over its newest 10")
            && ran.summary.contains(" records (the last 16d "),
        "{}",
        ran.summary
    );
    let requests = &gh.requests()[before..];
    let count = |part: &str| {
        requests
            .iter()
            .filter(|r| format!("{}?{}", r.path, r.query).contains(part))
            .count()
    };
    assert_eq!(count("per_page=100&page="), 1, "one page for the summary");
    // At most 100 for the summary; the run reads a few of the newest records' statuses itself.
    assert!(count("/statuses") <= 110, "{}", count("/statuses"));
    assert!(count("/commits/") <= 101, "{}", count("/commits/"));
}
