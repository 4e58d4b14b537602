//! The local commands against the GitHub stand-in holding 5,000 deployments in one
//! environment, all within the 30-day window: wall time of the release binary and the requests
//! it made. `scripts/bench` runs it; alone:
//! `cargo build --release --bin ecr-promote && cargo run --release --example metrics_bench`.
//! BENCH_RUNS sets the runs per command (default 5).

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helpers::github::{Seed, now};
use helpers::{FakeGitHub, REPOSITORY, TOKEN};

const DEPLOYMENTS: u64 = 5000;
const COMMITS: u64 = 500;
const DAY: u64 = 86_400;

fn sha(n: u64) -> String {
    format!("{n:04}{}", "ab".repeat(18))
}

fn seed(gh: &FakeGitHub) {
    let t = now();
    for c in 0..COMMITS {
        gh.add_commit(&sha(c), t - 31 * DAY + c * (30 * DAY / COMMITS));
    }
    // Spread over the 30 days before now, newest a minute ago; one in ten failed.
    let spacing = 30 * DAY / DEPLOYMENTS;
    for i in 0..DEPLOYMENTS {
        let at = t - 30 * DAY + 3600 + i * spacing;
        let state = if i % 10 == 9 { "failure" } else { "success" };
        gh.add_deployment(
            Seed::new("staging", at)
                .sha(&sha(i * COMMITS / DEPLOYMENTS))
                .payload(serde_json::json!({
                    "ecr_promote": 2,
                    "image_tag": format!("t{i}"),
                    "image_digests": {"shop/backend": format!("sha256:{i:064x}")},
                    "chain": ["dev", "qa", "staging"],
                    "from_environment": "qa",
                    "promotion_id": format!("ecrp-{i:016x}"),
                    "run_url": format!("https://github.example/{REPOSITORY}/actions/runs/{i}"),
                    "rollback_of": null,
                    "hold": false
                }))
                .status(state, at + 600),
        );
    }
}

struct Sample {
    wall: Duration,
    pages: usize,
    statuses: usize,
    commits: usize,
}

fn run(bin: &PathBuf, gh: &FakeGitHub, args: &[&str]) -> Sample {
    gh.state.lock().unwrap().requests.clear();
    let start = Instant::now();
    let timed = std::env::var_os("BENCH_TIME").is_some();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("TIME %e s wall %U s user %S s sys %M KiB")
            .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(args)
        .env_clear()
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_API_URL", &gh.url)
        .stdin(Stdio::null())
        .output()
        .expect("run ecr-promote");
    let wall = start.elapsed();
    if timed {
        eprintln!(
            "{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        );
    }
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = gh.requests();
    let count =
        |f: &dyn Fn(&helpers::github::Request) -> bool| requests.iter().filter(|r| f(r)).count();
    Sample {
        wall,
        pages: count(&|r| r.path.ends_with("/deployments")),
        statuses: count(&|r| r.path.ends_with("/statuses")),
        commits: count(&|r| r.path.contains("/commits/")),
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/ecr-promote");
    assert!(
        bin.exists(),
        "build it first: cargo build --release --bin ecr-promote"
    );
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let seeding = Instant::now();
    seed(&gh);
    eprintln!(
        "seeded {DEPLOYMENTS} deployments of staging over 30 days ({COMMITS} commits) in {:.1?}",
        seeding.elapsed()
    );
    println!();
    println!(
        "| command ({DEPLOYMENTS} deployments in staging) | wall time, median of {runs} | requests: pages + statuses + commits |"
    );
    println!("|---|---|---|");
    for args in [
        &[
            "metrics",
            "--environment",
            "staging",
            "--since",
            "30d",
            "--json",
        ][..],
        &[
            "history",
            "--environment",
            "staging",
            "--limit",
            "100",
            "--json",
        ],
        &["status", "--json"],
    ] {
        let mut samples: Vec<Sample> = (0..runs).map(|_| run(&bin, &gh, args)).collect();
        samples.sort_by_key(|s| s.wall);
        let median = &samples[samples.len() / 2];
        println!(
            "| `ecr-promote {}` | {:.2} s | {} = {} + {} + {} |",
            args.join(" "),
            median.wall.as_secs_f64(),
            median.pages + median.statuses + median.commits,
            median.pages,
            median.statuses,
            median.commits
        );
    }
}
