//! Speed and memory of the release binary against local stand-ins, side by side with the shell
//! teams write today (aws-cli + curl), in one run. `scripts/bench` builds everything and runs it.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use helpers::ecr::{FakeEcr, Image};
use helpers::{REGION, REPOSITORY, Step, TOKEN, github_with_deploy, moto_url, seed};

const TAG: &str = "ea11a24-20260129125607";

struct Sample {
    wall: Duration,
    max_rss_kib: i64,
    cpu: Duration,
    ok: bool,
}

/// `bench --measure PROGRAM ARGS...`: run it (inheriting the environment) and print its wall time,
/// peak RSS and CPU time (children included). A child's peak RSS counts what its parent had
/// mapped when it was spawned, so the measuring parent is this small fresh process, not the
/// bench with its servers.
fn measure_mode(args: &[String]) -> ! {
    let start = Instant::now();
    let child = std::process::Command::new(&args[0])
        .args(&args[1..])
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting on a child we spawned and have not waited for.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    std::mem::forget(child); // already reaped
    let cpu_us = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000
        + usage.ru_utime.tv_usec
        + usage.ru_stime.tv_usec;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    eprintln!(
        "MEASURE {} {} {} {code}",
        wall.as_nanos(),
        usage.ru_maxrss,
        cpu_us
    );
    std::process::exit(0)
}

/// Run `program args` with `envs` in `dir` through `bench --measure`.
fn measure(
    program: &Path,
    args: &[&str],
    envs: &[(OsString, OsString)],
    dir: &Path,
) -> (Sample, i32) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        .arg(program)
        .args(args)
        .env_clear()
        .envs(envs.iter().cloned())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .output()
        .expect("measure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("MEASURE "))
        .unwrap_or_else(|| panic!("no measurement: {stderr}"));
    let f: Vec<i128> = line[8..].split(' ').map(|x| x.parse().unwrap()).collect();
    let sample = Sample {
        wall: Duration::from_nanos(f[0] as u64),
        max_rss_kib: f[1] as i64,
        cpu: Duration::from_micros(f[2] as u64),
        ok: true,
    };
    (sample, f[3] as i32)
}

fn envs_of(step: &Step) -> Vec<(OsString, OsString)> {
    step.command(&[])
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
        .collect()
}

/// Run the action `runs` times and check its `result` each time.
fn action(step: &Step, expected: &str, runs: usize) -> Vec<Sample> {
    let bin = PathBuf::from(step.command(&[]).get_program());
    let envs = envs_of(step);
    (0..runs)
        .map(|_| {
            let (mut sample, _) = measure(&bin, &[], &envs, step.dir.path());
            let outputs =
                std::fs::read_to_string(step.dir.path().join("output")).unwrap_or_default();
            let parsed = ecr_promote::report::outputs::runner::parse(&outputs).unwrap_or_default();
            let _ = std::fs::remove_file(step.dir.path().join("output"));
            sample.ok = parsed.get("result").map(String::as_str) == Some(expected);
            sample
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn row(name: &str, samples: &[Sample]) -> Duration {
    let wall = median(samples.iter().map(|s| s.wall).collect());
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    let p95 = walls[(walls.len() * 95 / 100).min(walls.len() - 1)];
    let cpu = median(samples.iter().map(|s| s.cpu).collect());
    let rss = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    let ok = samples.iter().filter(|s| s.ok).count();
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {ok}/{} |",
        samples.len(),
        wall.as_secs_f64() * 1000.0,
        p95.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1000.0,
        rss as f64 / 1024.0,
        samples.len()
    );
    wall
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--measure") {
        measure_mode(&args[2..]);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("ECR_PROMOTE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/ecr-promote"));
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let id = std::process::id();
    let repos: Vec<String> = (0..50).map(|i| format!("bench/app{i}-{id}")).collect();
    for r in &repos[..2] {
        seed(REGION, r, &[TAG]);
    }
    let gh = github_with_deploy("");
    // A registry 20 ms away, like a real one: shows what concurrency does, which moto (one
    // Python process answering one request at a time) cannot.
    let far = FakeEcr::start();
    far.latency(Duration::from_millis(20));
    for r in &repos {
        far.add(r, Image::new(7, &[TAG], 1.77e9));
    }

    let size = std::fs::metadata(&bin).unwrap().len() as f64 / 1048576.0;
    println!("binary: {} ({size:.2} MiB)\n", bin.display());
    println!(
        "| scenario | runs | median wall ms | p95 wall ms | median CPU ms | peak RSS MiB | expected result |"
    );
    println!("|---|---|---|---|---|---|---|");

    let promotion = Step::new(&bin)
        .github(&gh)
        .input("environment", "dev")
        .input("image-tag", TAG)
        .input("ecr-repositories", &repos[..2].join(","));
    let ours = row(
        "ecr-promote: full promotion (2 repositories + pre-flight + dispatch), moto",
        &action(&promotion, "promoted", runs),
    );

    // What teams write today: aws-cli for each repository, then curl for the dispatch.
    let aws = root.join(".venv/bin/aws");
    if aws.exists() {
        let script = format!(
            "set -e\nfor r in {r0} {r1}; do \"{aws}\" ecr describe-images --region {REGION} --endpoint-url {moto} \
             --repository-name \"$r\" --image-ids imageTag={TAG} --output json >/dev/null; done\n\
             curl -sf -X POST -H 'Authorization: Bearer {TOKEN}' -H 'Accept: application/vnd.github+json' \
             {gh}/repos/{REPOSITORY}/actions/workflows/deploy.yml/dispatches \
             -d '{{\"ref\":\"main\",\"inputs\":{{\"environment\":\"qa\",\"image_tag\":\"{TAG}\",\"auto_promote\":\"true\"}}}}'\n",
            r0 = repos[0],
            r1 = repos[1],
            aws = aws.display(),
            moto = moto_url(),
            gh = gh.url,
        );
        let envs: Vec<(OsString, OsString)> = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", std::env::temp_dir().display().to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let samples: Vec<Sample> = (0..runs.min(10))
            .map(|_| {
                let (mut s, code) = measure(
                    Path::new("/bin/sh"),
                    &["-c", &script],
                    &envs,
                    &std::env::temp_dir(),
                );
                s.ok = code == 0;
                s
            })
            .collect();
        let theirs = row(
            "aws-cli describe-images ×2 + curl dispatch (no pre-flight), moto",
            &samples,
        );
        println!(
            "\necr-promote is {:.0}× faster than the aws-cli path.\n",
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    } else {
        println!("\n(aws-cli not installed in .venv: scripts/bench installs it)\n");
    }

    println!(
        "| scenario | runs | median wall ms | p95 wall ms | median CPU ms | peak RSS MiB | expected result |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut one = Duration::ZERO;
    for n in [1, 10, 50] {
        let verify = Step::new(&bin)
            .env("AWS_ENDPOINT_URL_ECR", &far.url)
            .input("environment", "staging")
            .input("image-tag", TAG)
            .input("ecr-repositories", &repos[..n].join(","));
        let wall = row(
            &format!(
                "verify {n} repositor{}, registry 20 ms away",
                if n == 1 { "y" } else { "ies" }
            ),
            &action(&verify, "end-of-chain", runs),
        );
        if n == 1 {
            one = wall;
        } else {
            println!(
                "|  ({n} vs 1: {:.2}×) | | | | | | |",
                wall.as_secs_f64() / one.as_secs_f64()
            );
        }
    }
    // Prefix resolution over a repository of 10,000 images (10 pages), the match on the last.
    for i in 0..10_000u64 {
        far.add(
            "bench/big",
            Image::new(100_000 + i, &[&format!("other-{i}")], 1.0e9 + i as f64),
        );
    }
    far.add(
        "bench/big",
        Image::new(9, &["ea11a24-20260129125607"], 2.0e9),
    );
    let before = far.calls("DescribeImages");
    let prefix = Step::new(&bin)
        .env("AWS_ENDPOINT_URL_ECR", &far.url)
        .input("environment", "staging")
        .input("image-tag", "ea11a24")
        .input("tag-match", "prefix")
        .input("ecr-repositories", "bench/big");
    let samples = action(&prefix, "end-of-chain", runs);
    row(
        "prefix resolution, 10,000 images, registry 20 ms away",
        &samples,
    );
    println!(
        "|  ({} DescribeImages calls a run) | | | | | | |",
        (far.calls("DescribeImages") - before) / samples.len()
    );
    let invalid = Step::new(&bin).input("environment", "dev");
    row(
        "invalid input (start-up only, no network)",
        &action(&invalid, "invalid-input", runs),
    );
    println!(
        "\nDescribeImages calls served by the 20 ms registry: {}",
        far.calls("DescribeImages")
    );
}
