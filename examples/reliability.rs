//! The README's reliability table: every fault, several runs each, against local stand-ins
//! (the GitHub stand-in, the ECR JSON stand-in), counting outcomes, complete outputs, duplicate
//! dispatches and panics. `scripts/reliability` builds the binary and runs this.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::path::PathBuf;
use std::time::Duration;

use helpers::ecr::{FakeEcr, Image};
use helpers::{FakeGitHub, Fault, Ran, Step, github_with_deploy};

const TAG: &str = "c0ffee1-20260401000000";

/// How a scenario is run: plainly, or cancelled with a signal once a call is under way.
enum Run {
    Plain,
    Signal(&'static str, fn(&FakeEcr, &FakeGitHub) -> bool),
}

struct Scenario {
    fault: &'static str,
    expected: &'static str,
    dispatches: usize,
    setup: fn(&FakeEcr, &FakeGitHub),
    step: fn(Step) -> Step,
    run: Run,
}

fn none(_: &FakeEcr, _: &FakeGitHub) {}
fn same(s: Step) -> Step {
    s
}

fn scenarios() -> Vec<Scenario> {
    fn gh(fault: Fault, method: &'static str, path: &'static str) -> impl Fn(&FakeGitHub) {
        move |g| g.fault(method, path, fault.clone())
    }
    vec![
        Scenario {
            fault: "GitHub 500 on the dispatch (not taken)",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                gh(
                    Fault::Answer(500, vec![], "{}".into()),
                    "POST",
                    "/dispatches",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub 502 on the dispatch (not taken)",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                gh(
                    Fault::Answer(502, vec![], "{}".into()),
                    "POST",
                    "/dispatches",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub 503 on the dispatch (not taken)",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                gh(
                    Fault::Answer(503, vec![], "{}".into()),
                    "POST",
                    "/dispatches",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub 504 on the dispatch (not taken)",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                gh(
                    Fault::Answer(504, vec![], "{}".into()),
                    "POST",
                    "/dispatches",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub 502 after taking the dispatch",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| gh(Fault::AcceptThenAnswer(502), "POST", "/dispatches")(g),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "connection dropped after the dispatch was taken",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| gh(Fault::AcceptThenDrop, "POST", "/dispatches")(g),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "connection reset mid-answer",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| gh(Fault::AcceptThenCut, "POST", "/dispatches")(g),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "429 with retry-after",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                gh(
                    Fault::Answer(429, vec![("retry-after".into(), "1".into())], "{}".into()),
                    "POST",
                    "/dispatches",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "403 secondary rate limit",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                gh(
                    Fault::Answer(
                        403,
                        vec![],
                        r#"{"message":"You have exceeded a secondary rate limit"}"#.into(),
                    ),
                    "GET",
                    "/contents/",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "x-ratelimit-remaining: 0 until x-ratelimit-reset",
            expected: "promoted",
            dispatches: 1,
            setup: |_, g| {
                g.fault("GET", "/actions/workflows/", Fault::rate_limit_exhausted());
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub connection refused",
            expected: "dispatch-failed",
            dispatches: 0,
            setup: none,
            step: |s| s.input("github-api-url", "http://127.0.0.1:9"),
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub never answers (timeout: 2s)",
            expected: "dispatch-failed",
            dispatches: 0,
            setup: |_, g| {
                gh(
                    Fault::Hang(Duration::from_secs(30)),
                    "GET",
                    "/actions/workflows/",
                )(g)
            },
            step: |s| s.input("timeout", "2s"),
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub 503 on every read",
            expected: "dispatch-failed",
            dispatches: 0,
            setup: |_, g| {
                for _ in 0..4 {
                    gh(
                        Fault::Answer(503, vec![], "{}".into()),
                        "GET",
                        "/actions/workflows/",
                    )(g)
                }
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "GitHub 422 with a hostile message",
            expected: "dispatch-rejected",
            dispatches: 0,
            setup: |_, g| {
                gh(
                    Fault::Answer(
                        422,
                        vec![],
                        r#"{"message":"no\n::error::forged\ndeploy_success=true"}"#.into(),
                    ),
                    "POST",
                    "/dispatches",
                )(g)
            },
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "ECR ThrottlingException, persistent",
            expected: "error",
            dispatches: 0,
            setup: |e, _| e.fault("ThrottlingException", 400, 100),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "ECR 500, persistent",
            expected: "error",
            dispatches: 0,
            setup: |e, _| e.fault("ServerException", 500, 100),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "ECR unreachable",
            expected: "error",
            dispatches: 0,
            setup: none,
            step: |s| s.env("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9"),
            run: Run::Plain,
        },
        Scenario {
            fault: "ECR never answers (timeout: 1s)",
            expected: "error",
            dispatches: 0,
            setup: |e, _| e.latency(Duration::from_secs(30)),
            step: |s| s.input("timeout", "1s"),
            run: Run::Plain,
        },
        Scenario {
            fault: "AWS credentials expired",
            expected: "error",
            dispatches: 0,
            setup: |e, _| e.fault("ExpiredTokenException", 400, 100),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "AWS credentials missing",
            expected: "error",
            dispatches: 0,
            setup: none,
            step: |s| s.unset("AWS_ACCESS_KEY_ID").unset("AWS_SECRET_ACCESS_KEY"),
            run: Run::Plain,
        },
        Scenario {
            fault: "AWS access denied",
            expected: "error",
            dispatches: 0,
            setup: |e, _| e.fault("AccessDeniedException", 400, 100),
            step: same,
            run: Run::Plain,
        },
        Scenario {
            fault: "SIGINT during ECR",
            expected: "error",
            dispatches: 0,
            setup: |e, _| e.latency(Duration::from_secs(30)),
            step: same,
            run: Run::Signal("-INT", |e, _| e.calls("DescribeImages") > 0),
        },
        Scenario {
            fault: "SIGTERM during pre-flight",
            expected: "error",
            dispatches: 0,
            setup: |_, g| gh(Fault::Hang(Duration::from_secs(30)), "GET", "/contents/")(g),
            step: same,
            run: Run::Signal("-TERM", |_, g| g.count("GET", "/contents/") > 0),
        },
        Scenario {
            fault: "SIGTERM during the dispatch",
            expected: "error",
            dispatches: 0,
            setup: |_, g| gh(Fault::Hang(Duration::from_secs(30)), "POST", "/dispatches")(g),
            step: same,
            run: Run::Signal("-TERM", |_, g| g.count("POST", "/dispatches") > 0),
        },
        Scenario {
            fault: "invalid input",
            expected: "invalid-input",
            dispatches: 0,
            setup: none,
            step: |s| s.input("dry-run", "yes"),
            run: Run::Plain,
        },
    ]
}

fn run_once(bin: &PathBuf, scenario: &Scenario) -> (Ran, usize) {
    let ecr = FakeEcr::start();
    ecr.add("app", Image::new(1, &[TAG], 1.77e9));
    let gh = github_with_deploy("");
    (scenario.setup)(&ecr, &gh);
    let step = (scenario.step)(
        Step::new(bin)
            .github(&gh)
            .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
            .env("AWS_MAX_ATTEMPTS", "2")
            .input("environment", "dev")
            .input("image-tag", TAG)
            .input("ecr-repositories", "app"),
    );
    let ran = match scenario.run {
        Run::Plain => step.run(),
        Run::Signal(signal, ready) => step.cancel_when(|| ready(&ecr, &gh), signal),
    };
    (ran, gh.runs().len())
}

fn main() {
    let bin = std::env::var_os("ECR_PROMOTE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/ecr-promote")
        });
    let runs: usize = std::env::var("RELIABILITY_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    println!(
        "| fault | runs | outcome | as expected | outputs complete | duplicate dispatches | panics |"
    );
    println!("|---|---|---|---|---|---|---|");
    let (mut total, mut good, mut complete_all, mut duplicates_all, mut panics_all) =
        (0, 0, 0, 0, 0);
    for scenario in scenarios() {
        let (mut ok, mut complete, mut duplicates, mut panics) = (0, 0, 0, 0);
        let mut outcomes = std::collections::BTreeSet::new();
        for _ in 0..runs {
            let (ran, dispatched) = run_once(&bin, &scenario);
            let result = ran
                .outputs
                .get("result")
                .cloned()
                .unwrap_or_else(|| "(none)".into());
            if ["deploy_success", "promoted", "result", "message"]
                .iter()
                .all(|o| ran.outputs.contains_key(*o))
            {
                complete += 1;
            }
            if result == scenario.expected && dispatched == scenario.dispatches {
                ok += 1;
            }
            duplicates += dispatched.saturating_sub(1);
            if ran.stderr.contains("panicked") {
                panics += 1;
            }
            outcomes.insert(result);
        }
        println!(
            "| {} | {runs} | `{}` | {ok}/{runs} | {complete}/{runs} | {duplicates} | {panics} |",
            scenario.fault,
            outcomes.into_iter().collect::<Vec<_>>().join("`, `"),
        );
        total += runs;
        good += ok;
        complete_all += complete;
        duplicates_all += duplicates;
        panics_all += panics;
    }
    println!(
        "\n{total} runs: {good} as expected, outputs complete in {complete_all}, {duplicates_all} duplicate dispatches, {panics_all} panics."
    );
    if good != total || complete_all != total || duplicates_all > 0 || panics_all > 0 {
        std::process::exit(1);
    }
}
