//! `ecr-promote status`: what each environment of the chain runs now (its newest successful
//! record), and whether it is held or frozen.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use super::{Context, Failure, Paint, Printed, Table, digest_cell, json_text, or_dash, plain};
use crate::config::Freeze;
use crate::config::freeze::{self, NEVER};
use crate::gather::{Reach, Reader};
use crate::github::GitHub;
use crate::record::History;
use crate::text::{format_age, iso8601};

/// The `--json` shape (documented in the README; keys are kept, new ones may be added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub repository: String,
    pub generated_at: String,
    pub environments: Vec<Environment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub environment: String,
    /// What it runs now: its newest successful record; all `null` without one.
    pub image_tag: Option<String>,
    /// The digest, when every repository holds the same one.
    pub image_digest: Option<String>,
    pub image_digests: BTreeMap<String, String>,
    pub commit: Option<String>,
    /// When that record got its `success` status.
    pub deployed_at: Option<String>,
    pub age_seconds: Option<i64>,
    pub deployment_id: Option<u64>,
    pub run_url: Option<String>,
    /// Its newest record holds it (after a rollback).
    pub held: bool,
    /// A `--freeze` window is in force now.
    pub frozen: bool,
    /// When it ends; `null` when not frozen or the windows never end.
    pub frozen_until: Option<String>,
    /// The newest record, when it is not the one running (a failed or pending deploy since).
    pub newest: Option<Newest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Newest {
    pub deployment_id: u64,
    pub image_tag: String,
    pub created_at: String,
    /// Its outcome (newest status but `inactive`); `null` without a status.
    pub state: Option<String>,
}

/// Check `--freeze` against the chain.
pub fn check(ctx: &Context, freeze: Option<&str>) -> Result<Freeze, Failure> {
    let Some(text) = freeze else {
        return Ok(Freeze::default());
    };
    freeze::parse(text, ctx.chain.names()).map_err(|errors| {
        Failure::usage(format!(
            "--freeze: {}",
            errors
                .iter()
                .map(|e| format!("`{}`: {}", e.window, e.problem))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// Pages read per environment while looking for what it runs: an environment whose newest 300
/// records all failed is shown without a current image rather than read to its first day.
const PAGES: u32 = 3;

pub async fn run<G: GitHub>(
    ctx: &Context,
    github: &G,
    freeze: &Freeze,
) -> Result<Printed, Failure> {
    let reader = Reader::new(github).with_max_pages(PAGES);
    let read = join_all(
        ctx.chain
            .names()
            .iter()
            .map(|env| reader.history(env, Reach::Current)),
    )
    .await;
    let mut histories = Vec::new();
    let mut notes = Vec::new();
    for listed in read {
        let listed = listed.map_err(|e| super::unreadable(&ctx.repository, e))?;
        if listed.truncated && listed.history.current().is_none() {
            notes.push(format!(
                "{} has no successful record among its newest {} records",
                listed.history.environment,
                PAGES * crate::gather::PAGE_SIZE
            ));
        }
        histories.push(listed.history);
    }
    let status = of(ctx, &histories, freeze);
    Ok(Printed {
        text: if ctx.json {
            json_text(&status)
        } else {
            table(&status, ctx).render(ctx.style)
        },
        notes,
    })
}

/// The status of each environment, from its history (read down to its current record).
pub fn of(ctx: &Context, histories: &[History], freeze: &Freeze) -> Status {
    let environments = histories
        .iter()
        .map(|h| {
            let current = h.current();
            let newest = h.newest().filter(|n| current.is_none_or(|c| c.id != n.id));
            let deployed = current.and_then(|r| r.succeeded_at());
            let block = freeze.blocking(&h.environment, ctx.now);
            Environment {
                environment: h.environment.clone(),
                image_tag: current.map(|r| r.payload.image_tag.clone()),
                image_digest: current.and_then(|r| super::common_digest(&r.payload.image_digests)),
                image_digests: current
                    .map(|r| r.payload.image_digests.clone())
                    .unwrap_or_default(),
                commit: current.map(|r| r.sha.clone()),
                deployed_at: deployed.map(iso8601),
                age_seconds: deployed.map(|at| (ctx.now - at).max(0)),
                deployment_id: current.map(|r| r.id),
                run_url: current
                    .map(|r| r.payload.run_url.clone())
                    .filter(|u| !u.is_empty()),
                held: h.held().is_some(),
                frozen: block.is_some(),
                frozen_until: block
                    .filter(|b| b.ends_at != NEVER)
                    .map(|b| iso8601(b.ends_at)),
                newest: newest.map(|n| Newest {
                    deployment_id: n.id,
                    image_tag: n.payload.image_tag.clone(),
                    created_at: iso8601(n.created_at),
                    state: n.outcome().map(|s| s.as_str().to_string()),
                }),
            }
        })
        .collect();
    Status {
        repository: ctx.repository.clone(),
        generated_at: iso8601(ctx.now),
        environments,
    }
}

pub fn table(status: &Status, ctx: &Context) -> Table {
    let mut t = Table::new(&["ENVIRONMENT", "TAG", "DIGEST", "COMMIT", "AGE", "NOTE"]);
    for e in &status.environments {
        let mut notes: Vec<(String, Paint)> = Vec::new();
        if e.held {
            notes.push(("held after a rollback".into(), Paint::Notice));
        }
        if e.frozen {
            notes.push((
                match &e.frozen_until {
                    Some(until) => format!(
                        "frozen until {} UTC",
                        super::minute(crate::text::parse_iso8601(until).unwrap_or(ctx.now))
                    ),
                    None => "frozen".into(),
                },
                Paint::Notice,
            ));
        }
        if let Some(n) = &e.newest {
            let state = n.state.clone().unwrap_or_else(|| "no status".into());
            let paint = if matches!(state.as_str(), "failure" | "error") {
                Paint::Bad
            } else {
                Paint::Notice
            };
            notes.push((format!("newest: {} {state}", n.image_tag), paint));
        }
        if e.image_tag.is_none() {
            notes.push(("no successful record".into(), Paint::Dim));
        }
        let paint = [Paint::Bad, Paint::Notice, Paint::Dim]
            .into_iter()
            .find(|p| notes.iter().any(|(_, q)| q == p))
            .unwrap_or(Paint::Plain);
        let note = notes
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
            .join("; ");
        t.row(vec![
            plain(&e.environment),
            (or_dash(e.image_tag.clone()), Paint::Good),
            plain(if e.image_tag.is_some() {
                digest_cell(&e.image_digests)
            } else {
                "—".into()
            }),
            plain(or_dash(
                e.commit.as_ref().map(|c| c.chars().take(7).collect()),
            )),
            plain(or_dash(e.age_seconds.map(format_age))),
            (note, paint),
        ]);
    }
    t
}
