//! A full dev → qa → staging chain on this machine, with no AWS or GitHub account: moto's server
//! plays ECR, a local stand-in plays GitHub's API and answers each dispatch by running the action
//! again for the next environment, the way the dispatched workflow would. Each stage sends the
//! digest it verified and the next one pins it (`expected-digest`). Run it with `scripts/demo`,
//! which installs moto, starts a fresh moto server and builds the binary first.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::path::PathBuf;
use std::sync::{Arc, mpsc};

use helpers::{
    DEPLOY_YML, FakeGitHub, REGION, REPOSITORY, Ran, Step, TOKEN, moto_url, seed, seed_images,
};

const TAG: &str = "ea11a24-20260129125607";
const TYPO: &str = "ea11a24-20260129125555";

fn binary() -> PathBuf {
    std::env::var_os("ECR_PROMOTE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/ecr-promote")
        })
}

fn show(title: &str, ran: &Ran) {
    println!("\n━━━━━━━━ {title} ━━━━━━━━");
    println!("── log (exit {}, {} ms)", ran.code, ran.elapsed.as_millis());
    for line in ran.stdout.lines() {
        println!("   {line}");
    }
    println!("── outputs (GITHUB_OUTPUT, read with the runner's rules)");
    let mut names: Vec<&String> = ran.outputs.keys().collect();
    names.sort_by_key(|n| ecr_promote::report::OUTPUTS.iter().position(|o| o == n));
    for name in names {
        println!("   {name} = {}", ran.outputs[name]);
    }
    println!("── job summary (GITHUB_STEP_SUMMARY)");
    for line in ran.summary.lines() {
        println!("   {line}");
    }
}

fn main() {
    let bin = binary();
    assert!(
        bin.exists(),
        "{} not built: run scripts/demo",
        bin.display()
    );
    // A fresh moto server (scripts/demo starts one per run): plain names, no clash.
    let (backend, frontend) = ("shop/backend", "shop/frontend");
    println!("Local ECR (moto) at {}", moto_url());
    for repo in [backend, frontend] {
        seed(
            REGION,
            repo,
            &["ea11a24-20260128101010", "b0c0ffe-20260129090000", TAG],
        );
        println!("  pushed {repo}: ea11a24-20260128101010, b0c0ffe-20260129090000, {TAG}");
    }

    // deploy.yml declares `image_digest`, so each dispatch carries the digest it verified.
    let github = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let deploy_yml = DEPLOY_YML.replace(
        "      image_tag:\n",
        "      image_digest:\n        type: string\n      image_tag:\n",
    );
    github.add_workflow(161_335, "deploy.yml", "main", &deploy_yml);
    println!(
        "Local GitHub API at {} holding .github/workflows/deploy.yml",
        github.url
    );
    // Each accepted dispatch queues the next "workflow run".
    let (runs, next_run) = mpsc::channel();
    github.on_dispatch(Arc::new(move |run: &helpers::github::Run| {
        let _ = runs.send(run.clone());
    }));

    let repositories = format!("{backend}, {frontend}");
    let step = |environment: &str, tag: &str, digest: &str| {
        Step::new(&bin)
            .github(&github)
            .input("environment", environment)
            .input("image-tag", tag)
            .input("ecr-repositories", &repositories)
            .input("expected-digest", digest)
            .run()
    };

    // A push built TAG and deployed it to dev; the action takes it from there.
    let mut environment = "dev".to_string();
    let mut tag = TAG.to_string();
    let mut digest = String::new();
    let mut n = 1;
    loop {
        let ran = step(&environment, &tag, &digest);
        show(
            &format!("run {n}: deploy of `{environment}` finished"),
            &ran,
        );
        assert!(ran.code == 0, "step failed");
        match next_run.try_recv() {
            Ok(run) => {
                println!(
                    "\n→ GitHub started run {} of deploy.yml on {} with {:?}",
                    run.id, run.branch, run.inputs
                );
                environment = run.inputs["environment"].clone();
                tag = run.inputs["image_tag"].clone();
                digest = run.inputs["image_digest"].clone();
                n += 1;
            }
            Err(_) => break,
        }
    }
    assert_eq!(environment, "staging", "the chain should reach staging");

    // Someone pushes TAG again with other content: the pinned digest no longer matches.
    seed_images(REGION, backend, &[(TAG, "rebuilt")]);
    let ran = step("qa", TAG, &digest);
    show(
        &format!("`{TAG}` pushed again to {backend}, then the deploy of qa finished"),
        &ran,
    );
    assert_eq!(
        ran.outputs.get("result").map(String::as_str),
        Some("image-changed")
    );

    // The field report's incident: a manual promotion with a tag typed from memory.
    let ran = step("qa", TYPO, "");
    show(
        &format!("manual promotion of `{TYPO}` (a typo) to qa"),
        &ran,
    );
    assert_eq!(
        ran.outputs.get("result").map(String::as_str),
        Some("image-missing")
    );
    assert!(next_run.try_recv().is_err(), "nothing dispatched");
    println!(
        "\nDone: dev → qa → staging promoted {TAG} pinned to {digest}; the moved tag and the typo were refused before anything was dispatched."
    );
}
