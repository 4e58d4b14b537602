//! Integration tests: the compiled binary, run as the runner runs it, against moto's ECR server
//! (through aws-sdk-ecr) and a local stand-in for GitHub's REST API (through octocrab).

mod helpers;

mod chain;
mod commands;
mod conformance;
mod contract;
mod delivery;
mod faults;
mod gates;
mod images;
mod messages;
mod record;
mod reliability;
mod resolve;
mod rollback;
mod summary;
mod tags;

use helpers::Step;

/// A step running the binary built for this test run.
pub fn step() -> Step {
    Step::new(env!("CARGO_BIN_EXE_ecr-promote"))
}

/// A step with the three required inputs set.
pub fn at(environment: &str, image_tag: &str, repositories: &str) -> Step {
    step()
        .input("environment", environment)
        .input("image-tag", image_tag)
        .input("ecr-repositories", repositories)
}
