//! The promotion chain on this machine, with no AWS or GitHub account: moto's server plays ECR,
//! a local stand-in plays GitHub's API (workflows, dispatches, deployments) and answers each
//! dispatch by running the workflow again, the way deploy.yml would: `resolve` before the deploy,
//! the deploy (simulated, and failing when the story says so), `promote` after it. The story:
//!
//! 1. a push of `ea11a24-…` goes dev → qa → staging, each stage pinning the digest it verified;
//! 2. a manual promotion of a typo'd tag to qa is refused before qa's deploy;
//! 3. a push of `f00dbee-…` stops at qa: staging is frozen for the holidays;
//! 4. after the freeze, staging's deploy of it fails: staging is rolled back and held;
//! 5. the next push stops at qa: staging is held;
//! 6. a person promotes it to staging by hand, which lifts the hold;
//! 7. `ecr-promote status` shows what runs where.
//!
//! Run it with `scripts/demo`, which installs moto, starts a fresh moto server and builds first.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, mpsc};

use helpers::records::{dispatched_event, manual_event};
use helpers::{DEPLOY_YML, FakeGitHub, REGION, REPOSITORY, Ran, Step, TOKEN, moto_url, seed};

const FIRST: &str = "ea11a24-20260129125607";
const TYPO: &str = "ea11a24-20260129125555";
const SECOND: &str = "f00dbee-20260130101500";
const THIRD: &str = "c0ffee1-20260131093000";
const REPOSITORIES: &str = "shop/backend, shop/frontend";
/// Staging's holiday freeze, while step 3 runs.
const HOLIDAYS: &str = "staging: 2026-01-01 - 2099-01-04 Europe/Berlin";

fn binary() -> PathBuf {
    std::env::var_os("ECR_PROMOTE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/ecr-promote")
        })
}

fn out<'a>(ran: &'a Ran, name: &str) -> &'a str {
    ran.outputs.get(name).map(String::as_str).unwrap_or("")
}

/// One step in a line: its result and message.
fn brief(job: &str, ran: &Ran) {
    println!(
        "   {job:<8} {:<22} {}",
        out(ran, "result"),
        out(ran, "message")
    );
}

/// A step in full: its log, outputs and job summary.
fn full(title: &str, ran: &Ran) {
    println!(
        "\n   ┌── {title}: log (exit {}, {} ms)",
        ran.code,
        ran.elapsed.as_millis()
    );
    for line in ran.stdout.lines() {
        println!("   │ {line}");
    }
    println!("   ├── outputs (GITHUB_OUTPUT, read with the runner's rules)");
    let mut names: Vec<&String> = ran.outputs.keys().collect();
    names.sort_by_key(|n| ecr_promote::report::OUTPUTS.iter().position(|o| o == n));
    for name in names {
        println!("   │ {name} = {}", ran.outputs[name]);
    }
    println!("   ├── job summary (GITHUB_STEP_SUMMARY)");
    for line in ran.summary.lines() {
        println!("   │ {line}");
    }
    println!("   └──");
}

/// One run of deploy.yml.
struct Run<'a> {
    environment: &'a str,
    tag: &'a str,
    /// The digest the previous environment verified, when a promotion sent it.
    digest: &'a str,
    /// The run's event: a dispatch by ecr-promote, or a person's Run workflow.
    event: String,
    deploy_succeeds: bool,
    freeze: &'a str,
}

struct Demo {
    bin: PathBuf,
    github: FakeGitHub,
    queued: mpsc::Receiver<helpers::github::Run>,
}

impl Demo {
    fn step(&self, run: &Run) -> Step {
        Step::new(&self.bin)
            .github(&self.github)
            .event(&run.event)
            .input("environment", run.environment)
            .input("ecr-repositories", REPOSITORIES)
            .input("freeze", run.freeze)
    }

    /// resolve → deploy → promote, as deploy.yml's jobs; `detail` prints the steps in full.
    fn workflow(&self, run: &Run, detail: bool) -> (Ran, Option<Ran>) {
        println!(
            "\n▶ deploy.yml for `{}` with `{}`",
            run.environment, run.tag
        );
        let resolve = self
            .step(run)
            .input("mode", "resolve")
            .input("image-tag", run.tag)
            .input("expected-digest", run.digest)
            .run();
        brief("resolve", &resolve);
        if detail {
            full("resolve", &resolve);
        }
        if out(&resolve, "admitted") != "true" {
            println!("   deploy   (skipped: resolve refused the image)");
            return (resolve, None);
        }
        let digest = out(&resolve, "image_digest").to_string();
        println!(
            "   deploy   {} shop@{}",
            if run.deploy_succeeds {
                "ok    "
            } else {
                "FAILED"
            },
            &digest[..19]
        );
        let promote = self
            .step(run)
            .input("image-tag", out(&resolve, "image_tag"))
            .input("expected-digest", &digest)
            .input(
                "deploy-status",
                if run.deploy_succeeds {
                    "success"
                } else {
                    "failure"
                },
            )
            .input("rollback-on-failure", "true")
            .run();
        brief("promote", &promote);
        if detail {
            full("promote", &promote);
        }
        (resolve, Some(promote))
    }

    /// Run the workflow, then every run its dispatches start, until the chain stops.
    fn chain(
        &self,
        first: Run,
        fails: &dyn Fn(&str, &str) -> bool,
        detail: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, String)> {
        let mut stopped_at = vec![(first.environment.to_string(), first.tag.to_string())];
        self.workflow(&first, detail(first.environment));
        while let Ok(next) = self.queued.try_recv() {
            let inputs: BTreeMap<String, String> = next.inputs.clone();
            let (env, tag) = (inputs["environment"].clone(), inputs["image_tag"].clone());
            println!(
                "\n→ GitHub started run {} of deploy.yml: environment={env} image_tag={tag} auto_promote={} promotion_id={}",
                next.id, inputs["auto_promote"], inputs["promotion_id"]
            );
            let run = Run {
                environment: &env,
                tag: &tag,
                digest: inputs.get("image_digest").map(String::as_str).unwrap_or(""),
                event: dispatched_event(&env, &tag, &inputs["promotion_id"]),
                deploy_succeeds: !fails(&env, &tag),
                freeze: first.freeze,
            };
            self.workflow(&run, detail(&env));
            stopped_at.push((env, tag));
        }
        stopped_at
    }
}

fn push(tag: &str) -> Run<'_> {
    Run {
        environment: "dev",
        tag,
        digest: "",
        event: r#"{"ref": "refs/heads/main", "sender": {"login": "octocat", "type": "User"}}"#
            .into(),
        deploy_succeeds: true,
        freeze: "",
    }
}

fn status(bin: &Path, github: &FakeGitHub) -> String {
    let out = Command::new(bin)
        .args(["status", "--repository", REPOSITORY])
        .env_clear()
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_API_URL", &github.url)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ecr-promote status");
    assert!(out.status.success(), "status failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn main() {
    let bin = binary();
    assert!(
        bin.exists(),
        "{} not built: run scripts/demo",
        bin.display()
    );
    println!("Local ECR (moto) at {}", moto_url());
    for repo in ["shop/backend", "shop/frontend"] {
        seed(
            REGION,
            repo,
            &["ea11a24-20260128101010", FIRST, SECOND, THIRD],
        );
        println!("  pushed {repo}: ea11a24-20260128101010, {FIRST}, {SECOND}, {THIRD}");
    }
    // deploy.yml declares image_digest and promotion_id: each dispatch carries the digest it
    // verified and the promotion's id (which keeps a hold on the runs it starts).
    let github = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let deploy_yml = DEPLOY_YML.replace(
        "      image_tag:\n",
        "      image_digest:\n        type: string\n      promotion_id:\n        type: string\n      image_tag:\n",
    );
    github.add_workflow(161_335, "deploy.yml", "main", &deploy_yml);
    println!(
        "Local GitHub API at {} holding .github/workflows/deploy.yml",
        github.url
    );
    let (queue, queued) = mpsc::channel();
    github.on_dispatch(Arc::new(move |run: &helpers::github::Run| {
        let _ = queue.send(run.clone());
    }));
    let demo = Demo {
        bin: bin.clone(),
        github: github.clone(),
        queued,
    };
    let never = |_: &str, _: &str| false;

    println!("\n━━━━━━━━ 1. A push of {FIRST}: dev → qa → staging ━━━━━━━━");
    let path = demo.chain(push(FIRST), &never, &|env| env == "staging");
    assert_eq!(path.last().map(|(e, _)| e.as_str()), Some("staging"));

    println!("\n━━━━━━━━ 2. By hand: `{TYPO}` (a typo) to qa ━━━━━━━━");
    let typo = Run {
        environment: "qa",
        tag: TYPO,
        digest: "",
        event: manual_event("qa", TYPO),
        deploy_succeeds: true,
        freeze: "",
    };
    let (resolve, promote) = demo.workflow(&typo, true);
    assert_eq!(out(&resolve, "result"), "image-missing");
    assert!(promote.is_none(), "qa's deploy never ran");

    println!("\n━━━━━━━━ 3. A push of {SECOND} while staging is frozen ━━━━━━━━");
    let frozen = Run {
        freeze: HOLIDAYS,
        ..push(SECOND)
    };
    let path = demo.chain(frozen, &never, &|_| false);
    assert_eq!(
        path.last().map(|(e, _)| e.as_str()),
        Some("qa"),
        "the chain stops at qa"
    );

    println!(
        "\n━━━━━━━━ 4. After the freeze, qa promotes {SECOND} again; staging's deploy fails ━━━━━━━━"
    );
    let again = Run {
        environment: "qa",
        tag: SECOND,
        digest: "",
        event: manual_event("qa", SECOND),
        deploy_succeeds: true,
        freeze: "",
    };
    let fails = |env: &str, tag: &str| env == "staging" && tag == SECOND;
    demo.chain(again, &fails, &|env| env == "staging");

    println!("\n━━━━━━━━ 5. A push of {THIRD}: staging is held ━━━━━━━━");
    let path = demo.chain(push(THIRD), &never, &|_| false);
    assert_eq!(
        path.last().map(|(e, _)| e.as_str()),
        Some("qa"),
        "the hold stops it at qa"
    );

    println!(
        "\n━━━━━━━━ 6. A person promotes {THIRD} to staging by hand: the hold is lifted ━━━━━━━━"
    );
    let by_hand = Run {
        environment: "staging",
        tag: THIRD,
        digest: "",
        event: manual_event("staging", THIRD),
        deploy_succeeds: true,
        freeze: "",
    };
    let (_, promote) = demo.workflow(&by_hand, false);
    assert_eq!(
        promote.as_ref().map(|p| out(p, "result")),
        Some("end-of-chain")
    );

    println!("\n━━━━━━━━ 7. ecr-promote status ━━━━━━━━\n");
    let table = status(&bin, &github);
    print!("{table}");
    assert!(table.contains(THIRD), "staging runs {THIRD}");
    println!(
        "\nDone: {FIRST} went dev → qa → staging; the typo was refused before qa's deploy; {SECOND} stopped at qa for the freeze, then failed in staging, which went back to {FIRST} and was held; {THIRD} stopped at the hold until a person promoted it."
    );
}
