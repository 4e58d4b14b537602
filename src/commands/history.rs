//! `ecr-promote history --environment E`: one environment's records, newest first, with the
//! outcome of each.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Context, Failure, Paint, Printed, Table, digest_cell, json_text, or_dash, plain};
use crate::gather::{Reach, Reader};
use crate::github::GitHub;
use crate::record::History;
use crate::text::iso8601;

/// `history`'s options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub environment: String,
    pub limit: usize,
}

/// The `--json` shape (documented in the README; keys are kept, new ones may be added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryJson {
    pub repository: String,
    pub environment: String,
    pub records: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub deployment_id: u64,
    pub created_at: String,
    pub image_tag: String,
    /// The digest, when every repository holds the same one.
    pub image_digest: Option<String>,
    pub image_digests: BTreeMap<String, String>,
    pub commit: String,
    /// The outcome: the newest status that is not `inactive`; `null` without one.
    pub state: Option<String>,
    /// It ran successfully at some point (a `success` status, even if `inactive` since).
    pub succeeded: bool,
    pub hold: bool,
    pub rollback_of: Option<u64>,
    pub run_url: Option<String>,
}

pub fn check(ctx: &Context, environment: &str, limit: usize) -> Result<Args, Failure> {
    Ok(Args {
        environment: super::environment_arg(&ctx.chain, environment)?,
        limit,
    })
}

pub async fn run<G: GitHub>(ctx: &Context, github: &G, args: &Args) -> Result<Printed, Failure> {
    let listed = Reader::new(github)
        .history(&args.environment, Reach::Newest(args.limit))
        .await
        .map_err(|e| super::unreadable(&ctx.repository, e))?;
    let json = of(ctx, &listed.history);
    let mut notes = Vec::new();
    if json.records.is_empty() {
        let hint = if ctx.chain.position(&args.environment).is_none() {
            format!(
                " (it is not in the chain {}; is the name right?)",
                ctx.chain.names().join(", ")
            )
        } else {
            String::new()
        };
        notes.push(format!(
            "{} has no record of ecr-promote in {}{hint}",
            args.environment, ctx.repository
        ));
    }
    Ok(Printed {
        text: if ctx.json {
            json_text(&json)
        } else if json.records.is_empty() {
            String::new()
        } else {
            table(&json).render(ctx.style)
        },
        notes,
    })
}

pub fn of(ctx: &Context, history: &History) -> HistoryJson {
    HistoryJson {
        repository: ctx.repository.clone(),
        environment: history.environment.clone(),
        records: history
            .records
            .iter()
            .map(|r| Entry {
                deployment_id: r.id,
                created_at: iso8601(r.created_at),
                image_tag: r.payload.image_tag.clone(),
                image_digest: super::common_digest(&r.payload.image_digests),
                image_digests: r.payload.image_digests.clone(),
                commit: r.sha.clone(),
                state: r.outcome().map(|s| s.as_str().to_string()),
                succeeded: r.is_success(),
                hold: r.payload.hold,
                rollback_of: r.payload.rollback_of,
                run_url: Some(r.payload.run_url.clone()).filter(|u| !u.is_empty()),
            })
            .collect(),
    }
}

pub fn table(history: &HistoryJson) -> Table {
    let mut t = Table::new(&[
        "ID",
        "CREATED",
        "TAG",
        "DIGEST",
        "STATE",
        "HOLD",
        "ROLLBACK OF",
        "RUN",
    ]);
    for e in &history.records {
        let state = or_dash(e.state.clone());
        let paint = match state.as_str() {
            "success" => Paint::Good,
            "failure" | "error" => Paint::Bad,
            "—" => Paint::Dim,
            _ => Paint::Notice,
        };
        t.row(vec![
            plain(e.deployment_id.to_string()),
            plain(
                crate::text::parse_iso8601(&e.created_at)
                    .map(super::minute)
                    .unwrap_or_default(),
            ),
            plain(&e.image_tag),
            plain(digest_cell(&e.image_digests)),
            (state, paint),
            (
                if e.hold { "held".into() } else { String::new() },
                Paint::Notice,
            ),
            plain(e.rollback_of.map(|id| id.to_string()).unwrap_or_default()),
            plain(or_dash(e.run_url.clone())),
        ]);
    }
    t
}
