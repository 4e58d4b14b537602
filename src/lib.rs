//! ecr-promote: verify an image in Amazon ECR and promote it to the next environment of a chain.
//!
//! The run is a pipeline (`pipeline.rs`): the inputs (`config/`), one concurrent round of reads
//! (`gather.rs`), pure decisions (`decide.rs`), the gates (`gates/`), the dispatch (`act.rs`) and
//! the wait for the dispatched run (`follow.rs`). Every read and write of the outside world goes
//! through a seam with a trait and one implementation: `ecr/` (aws-sdk-ecr), `github/`
//! (octocrab), `web.rs` (the gates' HTTP). `report/` writes everything the step leaves behind;
//! `runtime.rs` keeps a run honest under timeouts, signals and panics. `model.rs` and `text.rs`
//! import nothing of ours. `commands/` holds the local commands (`status`, `history`,
//! `metrics`) that read the record; `metrics.rs` computes the delivery metrics, purely.

pub mod act;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decide;
pub mod ecr;
pub mod follow;
pub mod gates;
pub mod gather;
pub mod github;
pub mod metrics;
pub mod model;
pub mod outcome;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod runtime;
pub mod suggest;
pub mod text;
pub mod tls;
pub mod web;
