//! The local GitHub stand-in as a program, for `.github/workflows/e2e.yml`, where the action runs
//! in its container through `uses: ./` and reaches this over the network.
//!
//! usage: github_standin ADDR RUNS_FILE
//! Serves `acme/shop` with `.github/workflows/deploy.yml` on `main` (token: see helpers::TOKEN)
//! and appends each accepted dispatch to RUNS_FILE as one JSON line.

#[path = "../tests/integration/helpers/mod.rs"]
mod helpers;

use std::io::Write;
use std::sync::Arc;

use helpers::{DEPLOY_YML, FakeGitHub, REPOSITORY, TOKEN};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(runs_file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: github_standin ADDR RUNS_FILE");
        std::process::exit(2);
    };
    let gh = FakeGitHub::start_on(addr, REPOSITORY, TOKEN, "");
    gh.add_workflow(161_335, "deploy.yml", "main", DEPLOY_YML);
    // The runner's commit: the record's deployments are made of it, and GitHub (and so the
    // stand-in) takes a deployment only of a commit it holds.
    if let Ok(sha) = std::env::var("GITHUB_SHA") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        gh.add_commit(&sha, now);
    }
    let file = runs_file.clone();
    gh.on_dispatch(Arc::new(move |run: &helpers::github::Run| {
        let line = serde_json::json!({"id": run.id, "branch": run.branch, "inputs": run.inputs});
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }));
    println!("GitHub stand-in for {REPOSITORY} at {}", gh.url);
    loop {
        std::thread::park();
    }
}
