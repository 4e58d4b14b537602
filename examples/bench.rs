//! Speed and memory of the release binary against local stand-ins, side by side with the shell
//! teams write today (aws-cli + curl), in one run. `scripts/bench` builds everything and runs it.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::ffi::OsString;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use helpers::ecr::{FakeEcr, Image};
use helpers::timeline::{Exchange, monotonic_ns, round_trips_to, sequential_round_trips};
use helpers::{FakeGitHub, REGION, REPOSITORY, Step, TOKEN, github_with_deploy, moto_url, seed};

const TAG: &str = "ea11a24-20260129125607";

struct Sample {
    wall: Duration,
    max_rss_kib: i64,
    cpu: Duration,
    ok: bool,
    /// When the program was spawned, in nanoseconds of `CLOCK_MONOTONIC` (the stand-ins' clock).
    spawned_ns: u64,
}

/// `bench --measure PROGRAM ARGS...`: run it (inheriting the environment) and print its wall time,
/// peak RSS, CPU time (children included) and when it was spawned. A child's peak RSS counts what
/// its parent had mapped when it was spawned, so the measuring parent is this small fresh
/// process, not the bench with its servers.
fn measure_mode(args: &[String]) -> ! {
    let spawned_ns = monotonic_ns();
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
        "MEASURE {} {} {} {code} {spawned_ns}",
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
        spawned_ns: f[4] as u64,
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
    (0..runs).map(|_| action_once(step, expected)).collect()
}

/// Run the action once and check its `result`.
fn action_once(step: &Step, expected: &str) -> Sample {
    let bin = PathBuf::from(step.command(&[]).get_program());
    let (mut sample, _) = measure(&bin, &[], &envs_of(step), step.dir.path());
    let outputs = std::fs::read_to_string(step.dir.path().join("output")).unwrap_or_default();
    let parsed = ecr_promote::report::outputs::runner::parse(&outputs).unwrap_or_default();
    let _ = std::fs::remove_file(step.dir.path().join("output"));
    sample.ok = parsed.get("result").map(String::as_str) == Some(expected);
    sample
}

/// The stand-ins a GitHub-hosted runner's latency away, and what they saw.
struct Far {
    ecr: FakeEcr,
    gh: FakeGitHub,
}

/// One run, with what the stand-ins saw of it.
struct Traced {
    sample: Sample,
    ecr_requests: usize,
    github_requests: usize,
    round_trips: usize,
    /// The round trips up to and with the dispatch: the promotion's critical path (0 without one).
    to_dispatch: usize,
    /// From the spawn to the first request's arrival at a stand-in.
    first_request: Option<Duration>,
}

impl Far {
    /// Wait until every request that reached a stand-in is written down as answered: a program
    /// can exit before the stand-in's thread notes the answer it just sent.
    fn settle(&self) {
        let start = Instant::now();
        loop {
            let ecr_calls: usize = self.ecr.state.lock().unwrap().calls.values().sum();
            let settled = ecr_calls == self.ecr.exchanges().len()
                && self.gh.requests().len() == self.gh.exchanges().len();
            if settled || start.elapsed() > Duration::from_secs(2) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Run `run` once and trace what it asked of the stand-ins.
    fn trace(&self, run: impl FnOnce() -> Sample) -> Traced {
        self.settle();
        let (ecr_before, gh_before) = (self.ecr.exchanges().len(), self.gh.exchanges().len());
        let sample = run();
        self.settle();
        let ecr = self.ecr.exchanges()[ecr_before..].to_vec();
        let gh = self.gh.exchanges()[gh_before..].to_vec();
        let mut all: Vec<Exchange> = ecr.iter().chain(&gh).cloned().collect();
        if std::env::var_os("BENCH_TRACE").is_some() {
            all.sort_by_key(|e| e.arrived);
            let t0 = sample.spawned_ns;
            eprintln!("-- one run's requests (ms from the spawn: arrived → answered):");
            for e in &all {
                eprintln!(
                    "   {:>8.2} → {:>8.2}  {} {}",
                    e.arrived.saturating_sub(t0) as f64 / 1e6,
                    e.answered.saturating_sub(t0) as f64 / 1e6,
                    e.service,
                    e.what
                );
            }
        }
        let first_request = all
            .iter()
            .map(|e| e.arrived)
            .min()
            .map(|at| Duration::from_nanos(at.saturating_sub(sample.spawned_ns)));
        Traced {
            ecr_requests: ecr.len(),
            github_requests: gh.len(),
            round_trips: sequential_round_trips(&all),
            to_dispatch: round_trips_to(&all, |e| e.what.ends_with("/dispatches")),
            first_request,
            sample,
        }
    }
}

/// `a` when every value is `a`, `a–b` otherwise.
fn span(values: impl Iterator<Item = usize>) -> String {
    let v: Vec<usize> = values.collect();
    let (lo, hi) = (
        v.iter().min().copied().unwrap_or(0),
        v.iter().max().copied().unwrap_or(0),
    );
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    }
}

/// What a latency-mode row measured, for the targets.
struct Latency {
    wall: Duration,
    ideal: Duration,
    max_round_trips: usize,
    /// The most round trips up to the dispatch, in any run.
    max_to_dispatch: usize,
    first_request: Duration,
    first_request_p95: Duration,
    peak_rss_kib: i64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn latency_row(name: &str, traced: &[Traced], ideal: Duration, ideal_trips: usize) -> Latency {
    let samples: Vec<&Sample> = traced.iter().map(|t| &t.sample).collect();
    let wall = median(samples.iter().map(|s| s.wall).collect());
    let mut starts: Vec<Duration> = traced.iter().filter_map(|t| t.first_request).collect();
    starts.sort();
    let first_request = starts.get(starts.len() / 2).copied().unwrap_or_default();
    let first_request_p95 = starts
        .get((starts.len() * 95 / 100).min(starts.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    let peak_rss_kib = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    let ok = samples.iter().filter(|s| s.ok).count();
    println!(
        "| {name} | {} | {:.1} | {:.0} | {:.2} | {} | {} | {} ({ideal_trips}) | {} | {:.2} | {:.2} | {:.1} | {ok}/{} |",
        traced.len(),
        ms(wall),
        ms(ideal),
        wall.as_secs_f64() / ideal.as_secs_f64(),
        span(traced.iter().map(|t| t.ecr_requests)),
        span(traced.iter().map(|t| t.github_requests)),
        span(traced.iter().map(|t| t.round_trips)),
        if traced.iter().all(|t| t.to_dispatch == 0) {
            "—".to_string()
        } else {
            span(traced.iter().map(|t| t.to_dispatch))
        },
        ms(first_request),
        ms(first_request_p95),
        peak_rss_kib as f64 / 1024.0,
        traced.len(),
    );
    Latency {
        wall,
        ideal,
        max_round_trips: traced.iter().map(|t| t.round_trips).max().unwrap_or(0),
        max_to_dispatch: traced.iter().map(|t| t.to_dispatch).max().unwrap_or(0),
        first_request,
        first_request_p95,
        peak_rss_kib,
    }
}

/// An HTTPS endpoint that never answers: it notes when the first bytes of each connection (a
/// TLS ClientHello) arrive. With HTTPS endpoints, as in production, the start-up includes
/// setting up TLS; the stand-ins speak plain HTTP and cannot show that.
struct Silent {
    url: String,
    first_bytes: mpsc::Receiver<u64>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let (tx, first_bytes) = mpsc::channel();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut byte = [0u8; 1];
                    if stream.read(&mut byte).unwrap_or(0) > 0 {
                        let _ = tx.send(monotonic_ns());
                    }
                    // Hold the connection until the client goes away.
                    let _ = stream.read_to_end(&mut Vec::new());
                });
            }
        });
        Silent { url, first_bytes }
    }

    /// Spawn `step` `runs` times; each time, the time from the spawn to the first ClientHello,
    /// after which the run is stopped.
    fn start_up(&self, step: &Step, runs: usize) -> Vec<Duration> {
        (0..runs)
            .filter_map(|_| {
                while self.first_bytes.try_recv().is_ok() {}
                let mut command = step.command(&[]);
                command
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
                let spawned = monotonic_ns();
                let mut child = command.spawn().expect("start ecr-promote");
                let first = self.first_bytes.recv_timeout(Duration::from_secs(10));
                let _ = child.kill();
                let _ = child.wait();
                first
                    .ok()
                    .map(|at| Duration::from_nanos(at.saturating_sub(spawned)))
            })
            .collect()
    }
}

fn mark(pass: bool) -> &'static str {
    if pass { "✔" } else { "✘" }
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

/// What teams write today: aws-cli for each repository, then curl for the dispatch (no
/// pre-flight), against the ECR at `ecr_url` and the GitHub API at `gh_url`.
fn shell_path(aws: &Path, ecr_url: &str, gh_url: &str, repos: &[String]) -> String {
    format!(
        "set -e\nfor r in {r0} {r1}; do \"{aws}\" ecr describe-images --region {REGION} --endpoint-url {ecr_url} \
         --repository-name \"$r\" --image-ids imageTag={TAG} --output json >/dev/null; done\n\
         curl -sf -X POST -H 'Authorization: Bearer {TOKEN}' -H 'Accept: application/vnd.github+json' \
         {gh_url}/repos/{REPOSITORY}/actions/workflows/deploy.yml/dispatches \
         -d '{{\"ref\":\"main\",\"inputs\":{{\"environment\":\"qa\",\"image_tag\":\"{TAG}\",\"auto_promote\":\"true\"}}}}'\n",
        r0 = repos[0],
        r1 = repos[1],
        aws = aws.display(),
    )
}

/// The environment of the shell path.
fn shell_envs() -> Vec<(OsString, OsString)> {
    [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", std::env::temp_dir().display().to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

/// Run `program args` once; it succeeds when it exits 0.
fn command_once(program: &str, args: &[&str]) -> Sample {
    let (mut sample, code) = measure(
        Path::new(program),
        args,
        &shell_envs(),
        &std::env::temp_dir(),
    );
    sample.ok = code == 0;
    sample
}

/// Run the shell path once; it succeeds when every command does.
fn shell_once(script: &str) -> Sample {
    command_once("/bin/sh", &["-c", script])
}

fn peak(samples: &[Sample]) -> i64 {
    samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0)
}

const HEADER: &str = "| scenario | runs | median wall ms | p95 wall ms | median CPU ms | peak RSS MiB | expected result |\n|---|---|---|---|---|---|---|";

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
    let near = FakeEcr::start();
    near.latency(Duration::from_millis(20));
    // The latency a GitHub-hosted runner sees: ECR about 60 ms a call, GitHub about 100 ms.
    let (ecr_latency, gh_latency) = (Duration::from_millis(60), Duration::from_millis(100));
    let far = Far {
        ecr: FakeEcr::start(),
        gh: github_with_deploy(""),
    };
    far.ecr.latency(ecr_latency);
    far.gh.latency(gh_latency);
    for r in &repos {
        near.add(r, Image::new(7, &[TAG], 1.77e9));
        far.ecr.add(r, Image::new(7, &[TAG], 1.77e9));
    }
    let aws = root.join(".venv/bin/aws");
    // Every ecr-promote run of this bench, for the memory target.
    let mut ours_peak_kib = 0i64;

    let size = std::fs::metadata(&bin).unwrap().len();
    println!(
        "binary: {} ({size} bytes, {:.2} MiB)\n",
        bin.display(),
        size as f64 / 1048576.0
    );

    // Latency mode: what a promotion costs a GitHub-hosted runner, next to what the network
    // allows: every independent read in one round, then the dispatch.
    println!(
        "Latency mode: the stand-ins hold each answer ECR {} ms, GitHub {} ms.\n",
        ecr_latency.as_millis(),
        gh_latency.as_millis()
    );
    println!(
        "| path | runs | median wall ms | ideal ms | wall ÷ ideal | ECR requests | GitHub requests | sequential round trips (ideal) | of them, to the dispatch | spawn → first request ms (median) | (p95) | peak RSS MiB | expected result |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // The reads in one round, then the dispatch; with the record (the default), the record's
    // deployment beside the dispatch and its status after: one round more, after the dispatch.
    let promote_ideal = ecr_latency.max(gh_latency) + gh_latency;
    let recorded_ideal = promote_ideal + gh_latency;
    let promotion_at = |n: usize| {
        Step::new(&bin)
            .github(&far.gh)
            .env("AWS_ENDPOINT_URL_ECR", &far.ecr.url)
            .input("environment", "dev")
            .input("image-tag", TAG)
            .input("ecr-repositories", &repos[..n].join(","))
    };
    let step = promotion_at(2).input("record", "false");
    let traced: Vec<Traced> = (0..runs)
        .map(|_| far.trace(|| action_once(&step, "promoted")))
        .collect();
    let promotion = latency_row(
        "ecr-promote: full promotion (2 repositories + pre-flight + dispatch), `record: false` (the record still read: the hold, the summary)",
        &traced,
        promote_ideal,
        2,
    );
    ours_peak_kib = ours_peak_kib.max(promotion.peak_rss_kib);
    let step = promotion_at(2);
    let traced: Vec<Traced> = (0..runs)
        .map(|_| far.trace(|| action_once(&step, "promoted")))
        .collect();
    let recorded = latency_row(
        "the same promotion with the record (the default: 3 listings read, a deployment and its status written)",
        &traced,
        recorded_ideal,
        3,
    );
    ours_peak_kib = ours_peak_kib.max(recorded.peak_rss_kib);
    let step = promotion_at(50).input("record", "false");
    let traced: Vec<Traced> = (0..runs)
        .map(|_| far.trace(|| action_once(&step, "promoted")))
        .collect();
    let promotion50 = latency_row(
        "ecr-promote: full promotion, 50 repositories, `record: false`",
        &traced,
        promote_ideal,
        2,
    );
    ours_peak_kib = ours_peak_kib.max(promotion50.peak_rss_kib);
    // The repositories alone (no dispatch: the end of the chain), for the cost of many.
    let verify_at = |n: usize| {
        Step::new(&bin)
            .env("AWS_ENDPOINT_URL_ECR", &far.ecr.url)
            .input("record", "false")
            .input("environment", "staging")
            .input("image-tag", TAG)
            .input("ecr-repositories", &repos[..n].join(","))
    };
    let mut verify = Vec::new();
    for n in [1, 50] {
        let step = verify_at(n);
        let traced: Vec<Traced> = (0..runs)
            .map(|_| far.trace(|| action_once(&step, "end-of-chain")))
            .collect();
        let row = latency_row(
            &format!(
                "ecr-promote: verify {n} repositor{} (end of chain)",
                if n == 1 { "y" } else { "ies" }
            ),
            &traced,
            ecr_latency,
            1,
        );
        ours_peak_kib = ours_peak_kib.max(row.peak_rss_kib);
        verify.push(row);
    }
    // Resolve, before the deploy: a person's typed tag (no record needed: one round, ECR only);
    // an automatic run with entry rules (the record in the first round, its statuses in the
    // second); and `from-environment` (the record, its statuses, then ECR).
    let image7: Vec<(&str, String)> = repos[..2]
        .iter()
        .map(|r| (r.as_str(), format!("sha256:{:064x}", 7)))
        .collect();
    let image7: Vec<(&str, &str)> = image7.iter().map(|(r, d)| (*r, d.as_str())).collect();
    helpers::records::Rec::new("qa", helpers::records::now() - 7200, TAG, &image7).add(&far.gh);
    let resolve_at = |env: &str| {
        Step::new(&bin)
            .github(&far.gh)
            .env("AWS_ENDPOINT_URL_ECR", &far.ecr.url)
            .input("mode", "resolve")
            .input("environment", env)
            .input("ecr-repositories", &repos[..2].join(","))
    };
    for (name, step, ideal, trips) in [
        (
            "ecr-promote: resolve a tag a person typed (2 repositories)",
            resolve_at("staging").input("image-tag", TAG),
            ecr_latency,
            1,
        ),
        (
            "ecr-promote: resolve an automatic promotion with `require-upstream` and `soak-time`",
            resolve_at("staging")
                .event(&helpers::records::dispatched_event(
                    "staging",
                    TAG,
                    "ecrp-00000000000000be",
                ))
                .input("image-tag", TAG)
                .input("require-upstream", "true")
                .input("soak-time", "staging=1h"),
            gh_latency * 2,
            2,
        ),
        (
            "ecr-promote: resolve `from-environment: qa`",
            resolve_at("staging").input("from-environment", "qa"),
            gh_latency * 2 + ecr_latency,
            3,
        ),
    ] {
        let traced: Vec<Traced> = (0..runs)
            .map(|_| far.trace(|| action_once(&step, "resolved")))
            .collect();
        let row = latency_row(name, &traced, ideal, trips);
        ours_peak_kib = ours_peak_kib.max(row.peak_rss_kib);
    }
    // The same promotion with HTTPS endpoints, as in production, up to its first ClientHello;
    // the CA bundle named as the image names it (without it, rustls-native-certs also reads
    // every file of /etc/ssl/certs).
    let silent = Silent::start();
    let mut step = promotion_at(2)
        .env("AWS_ENDPOINT_URL_ECR", &silent.url)
        .env("GITHUB_API_URL", &silent.url);
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    if Path::new(bundle).exists() {
        step = step.env("SSL_CERT_FILE", bundle);
    }
    let mut https_start = silent.start_up(&step, runs);
    https_start.sort();
    let https_median = https_start
        .get(https_start.len() / 2)
        .copied()
        .unwrap_or(Duration::MAX);
    let https_p95 = https_start
        .get((https_start.len() * 95 / 100).min(https_start.len().saturating_sub(1)))
        .copied()
        .unwrap_or(Duration::MAX);
    println!(
        "| ecr-promote: the same promotion, HTTPS endpoints (up to the first ClientHello) | {} | | | | | | | {:.2} | {:.2} | | |",
        https_start.len(),
        ms(https_median),
        ms(https_p95)
    );
    // For comparison: curl, a C program, sending the dispatch alone.
    let curl_ok = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if curl_ok {
        let url = format!(
            "{}/repos/{REPOSITORY}/actions/workflows/deploy.yml/dispatches",
            far.gh.url
        );
        let body = format!(
            "{{\"ref\":\"main\",\"inputs\":{{\"environment\":\"qa\",\"image_tag\":\"{TAG}\",\"auto_promote\":\"true\"}}}}"
        );
        let auth = format!("Authorization: Bearer {TOKEN}");
        let args = [
            "-sf",
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "Accept: application/vnd.github+json",
            &url,
            "-d",
            &body,
        ];
        let traced: Vec<Traced> = (0..runs)
            .map(|_| far.trace(|| command_once("curl", &args)))
            .collect();
        latency_row(
            "curl alone: the dispatch, nothing checked",
            &traced,
            gh_latency,
            1,
        );
    }
    if aws.exists() {
        let script = shell_path(&aws, &far.ecr.url, &far.gh.url, &repos);
        let traced: Vec<Traced> = (0..runs.min(10))
            .map(|_| far.trace(|| shell_once(&script)))
            .collect();
        let theirs = latency_row(
            "aws-cli describe-images ×2 + curl dispatch (no pre-flight)",
            &traced,
            ecr_latency + gh_latency,
            2,
        );
        println!(
            "\nUnder the same latency ecr-promote is {:.1}× faster than the aws-cli path, with the pre-flight it lacks.",
            theirs.wall.as_secs_f64() / promotion.wall.as_secs_f64()
        );
    }
    println!(
        "\nIdeal: every independent read in one round, then the dispatch; wall ÷ ideal above 1 is start-up, CPU and the local network."
    );

    println!();
    println!("{HEADER}");
    let promotion_moto = Step::new(&bin)
        .github(&gh)
        .input("environment", "dev")
        .input("image-tag", TAG)
        .input("ecr-repositories", &repos[..2].join(","));
    let samples = action(&promotion_moto, "promoted", runs);
    ours_peak_kib = ours_peak_kib.max(peak(&samples));
    let ours = row(
        "ecr-promote: full promotion (2 repositories + pre-flight + dispatch), moto",
        &samples,
    );
    // What teams write today: aws-cli for each repository, then curl for the dispatch.
    if aws.exists() {
        let script = shell_path(&aws, moto_url(), &gh.url, &repos);
        let samples: Vec<Sample> = (0..runs.min(10)).map(|_| shell_once(&script)).collect();
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

    println!("{HEADER}");
    let mut one = Duration::ZERO;
    for n in [1, 10, 50] {
        let verify = Step::new(&bin)
            .input("record", "false")
            .env("AWS_ENDPOINT_URL_ECR", &near.url)
            .input("environment", "staging")
            .input("image-tag", TAG)
            .input("ecr-repositories", &repos[..n].join(","));
        let samples = action(&verify, "end-of-chain", runs);
        ours_peak_kib = ours_peak_kib.max(peak(&samples));
        let wall = row(
            &format!(
                "verify {n} repositor{}, registry 20 ms away",
                if n == 1 { "y" } else { "ies" }
            ),
            &samples,
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
        near.add(
            "bench/big",
            Image::new(100_000 + i, &[&format!("other-{i}")], 1.0e9 + i as f64),
        );
    }
    near.add(
        "bench/big",
        Image::new(9, &["ea11a24-20260129125607"], 2.0e9),
    );
    let before = near.calls("DescribeImages");
    let prefix = Step::new(&bin)
        .input("record", "false")
        .env("AWS_ENDPOINT_URL_ECR", &near.url)
        .input("environment", "staging")
        .input("image-tag", "ea11a24")
        .input("tag-match", "prefix")
        .input("ecr-repositories", "bench/big");
    let samples = action(&prefix, "end-of-chain", runs);
    ours_peak_kib = ours_peak_kib.max(peak(&samples));
    row(
        "prefix resolution, 10,000 images, registry 20 ms away",
        &samples,
    );
    println!(
        "|  ({} DescribeImages calls a run) | | | | | | |",
        (near.calls("DescribeImages") - before) / samples.len()
    );
    let invalid = Step::new(&bin).input("environment", "dev");
    let samples = action(&invalid, "invalid-input", runs);
    ours_peak_kib = ours_peak_kib.max(peak(&samples));
    row("invalid input (start-up only, no network)", &samples);

    // The targets of issue 9, all from this run.
    let ratio50 = verify[1].wall.as_secs_f64() / verify[0].wall.as_secs_f64();
    let wall_ratio = promotion.wall.as_secs_f64() / promotion.ideal.as_secs_f64();
    let targets = [
        (
            promotion.max_round_trips <= 2
                && promotion50.max_round_trips <= 2
                && recorded.max_to_dispatch <= 2,
            format!(
                "2 sequential round trips for a promotion: {} with 2 repositories, {} with 50; with the record, {} up to the dispatch ({} in all) (the most of any run)",
                promotion.max_round_trips,
                promotion50.max_round_trips,
                recorded.max_to_dispatch,
                recorded.max_round_trips
            ),
        ),
        (
            wall_ratio <= 1.15,
            format!(
                "wall ≤ 1.15 × the ideal: {:.1} ms = {wall_ratio:.2} × {:.0} ms (median)",
                ms(promotion.wall),
                ms(promotion.ideal)
            ),
        ),
        (
            ratio50 <= 1.3,
            format!(
                "50 repositories within 1.3× of one: {:.1} ms against {:.1} ms = {ratio50:.2}× (verify, ECR {} ms away, medians; a full promotion of 50 takes {:.2}× one of 2, GitHub's round trip hiding the difference)",
                ms(verify[1].wall),
                ms(verify[0].wall),
                ecr_latency.as_millis(),
                promotion50.wall.as_secs_f64() / promotion.wall.as_secs_f64()
            ),
        ),
        (
            promotion.first_request <= Duration::from_millis(3)
                && https_median <= Duration::from_millis(3),
            format!(
                "start-up to the first request ≤ 3 ms: {:.2} ms to the stand-ins (plain HTTP; p95 {:.2} ms), {:.2} ms with HTTPS endpoints (p95 {:.2} ms); medians from the spawn",
                ms(promotion.first_request),
                ms(promotion.first_request_p95),
                ms(https_median),
                ms(https_p95)
            ),
        ),
        (
            ours_peak_kib <= 16 * 1024,
            format!(
                "peak memory ≤ 16 MiB: {:.1} MiB (the most of any ecr-promote run above)",
                ours_peak_kib as f64 / 1024.0
            ),
        ),
        (
            size <= 6 * 1024 * 1024,
            format!(
                "binary ≤ 6 MiB: {size} bytes ({:.2} MiB)",
                size as f64 / 1048576.0
            ),
        ),
    ];
    println!("\nTargets (issue 9):");
    for (pass, text) in &targets {
        println!("{} {text}", mark(*pass));
    }
    println!(
        "\nDescribeImages calls served by the 20 ms registry: {}",
        near.calls("DescribeImages")
    );
}
