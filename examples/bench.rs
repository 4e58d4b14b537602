//! Speed and memory of the release binary against local stand-ins (moto's ECR server and the
//! GitHub stand-in), in one run. `scripts/bench` builds everything and runs this.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use helpers::{REGION, Step, github_with_deploy, seed};

const TAG: &str = "ea11a24-20260129125607";

struct Sample {
    wall: Duration,
    max_rss_kib: i64,
    cpu: Duration,
    ok: bool,
}

/// `bench --measure BIN`: run BIN (inheriting the environment) and print its wall time, peak RSS
/// and CPU time. A child's peak RSS includes whatever its parent had mapped when it was spawned,
/// so the measuring parent must be this small fresh process, not the bench with its servers.
fn measure_mode(bin: &str) -> ! {
    let start = Instant::now();
    let child = std::process::Command::new(bin).spawn().expect("spawn");
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
    eprintln!("MEASURE {} {} {}", wall.as_nanos(), usage.ru_maxrss, cpu_us);
    std::process::exit(0)
}

/// Run the step once through `bench --measure`.
fn measure(step: &Step, expected: &str) -> Sample {
    let cmd = step.command(&[]);
    let mut wrapper = std::process::Command::new(std::env::current_exe().unwrap());
    wrapper
        .arg("--measure")
        .arg(cmd.get_program())
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .current_dir(step.dir.path())
        .stdin(std::process::Stdio::null());
    let out = wrapper.output().expect("measure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("MEASURE "))
        .expect("measurement");
    let fields: Vec<u128> = line[8..].split(' ').map(|f| f.parse().unwrap()).collect();
    let wall = Duration::from_nanos(fields[0] as u64);
    let outputs = std::fs::read_to_string(step.dir.path().join("output")).unwrap_or_default();
    let parsed = ecr_promote::report::runner::parse(&outputs).unwrap_or_default();
    let _ = std::fs::remove_file(step.dir.path().join("output"));
    Sample {
        wall,
        max_rss_kib: fields[1] as i64,
        cpu: Duration::from_micros(fields[2] as u64),
        ok: parsed.get("result").map(String::as_str) == Some(expected),
    }
}

fn report(name: &str, samples: &[Sample]) {
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    let median = walls[walls.len() / 2];
    let p95 = walls[(walls.len() * 95 / 100).min(walls.len() - 1)];
    let rss = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    let mut cpu: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
    cpu.sort();
    let ok = samples.iter().filter(|s| s.ok).count();
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {ok}/{} |",
        samples.len(),
        median.as_secs_f64() * 1000.0,
        p95.as_secs_f64() * 1000.0,
        cpu[cpu.len() / 2].as_secs_f64() * 1000.0,
        rss as f64 / 1024.0,
        samples.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--measure") {
        measure_mode(&args[2]);
    }
    let bin = std::env::var_os("ECR_PROMOTE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/ecr-promote")
        });
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let id = std::process::id();
    let repos: Vec<String> = (0..50).map(|i| format!("bench/app{i}-{id}")).collect();
    for r in &repos {
        seed(REGION, r, &[TAG]);
    }
    let gh = github_with_deploy("");

    println!(
        "binary: {} ({:.2} MiB)",
        bin.display(),
        std::fs::metadata(&bin).unwrap().len() as f64 / 1048576.0
    );
    println!();
    println!(
        "| scenario | runs | median wall ms | p95 wall ms | median CPU ms | peak RSS MiB | expected result |"
    );
    println!("|---|---|---|---|---|---|---|");

    let promotion = Step::new(&bin)
        .github(&gh)
        .input("environment", "dev")
        .input("image-tag", TAG)
        .input("ecr-repositories", &repos[..2].join(","));
    let samples: Vec<Sample> = (0..runs).map(|_| measure(&promotion, "promoted")).collect();
    report(
        "full promotion: 2 repositories + pre-flight + dispatch",
        &samples,
    );

    for n in [1, 10, 50] {
        let verify = Step::new(&bin)
            .input("environment", "staging")
            .input("image-tag", TAG)
            .input("ecr-repositories", &repos[..n].join(","));
        let samples: Vec<Sample> = (0..runs)
            .map(|_| measure(&verify, "end-of-chain"))
            .collect();
        report(
            &format!("verify {n} repositor{}", if n == 1 { "y" } else { "ies" }),
            &samples,
        );
    }
    let invalid = Step::new(&bin).input("environment", "dev");
    let samples: Vec<Sample> = (0..runs)
        .map(|_| measure(&invalid, "invalid-input"))
        .collect();
    report("invalid input (start-up, no network)", &samples);
    println!();
    println!("dispatches received by the stand-in: {}", gh.runs().len());
}
