//! `ecr-promote metrics`: the four delivery keys of each environment over a window, computed
//! by `crate::metrics` from the records and their commits.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use super::{Context, Failure, Paint, Printed, Table, json_text, plain};
use crate::config::{Span, parse_span};
use crate::gather::{Reach, Reader};
use crate::github::{GhError, GitHub};
use crate::metrics::{Figures, Window, figures};
use crate::text::{format_age, iso8601, shown};

/// The longest window: a year and a day.
const MAX_WINDOW: i64 = 366 * 86_400;

/// `metrics`'s options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub environments: Vec<String>,
    /// The window's length in seconds.
    pub since: i64,
}

/// `30d`, `2w`, `12h`, `90m`, `1w3d`: a window from one minute to 366 days.
pub fn parse_since(value: &str) -> Result<i64, String> {
    let units = [('m', 60), ('h', 3600), ('d', 86_400), ('w', 7 * 86_400)];
    match parse_span(value, &units, 60..=MAX_WINDOW as u64) {
        Ok(secs) => Ok(secs as i64),
        Err(Span::Invalid) => Err(format!(
            "{} is not a duration; write a number with a unit (`m`, `h`, `d`, `w`), such as `30d`, `2w` or `12h`",
            shown(value)
        )),
        Err(Span::OutOfRange) => Err(format!(
            "{} is out of range; use between 1m and 366d",
            shown(value)
        )),
    }
}

pub fn check(ctx: &Context, environment: Option<&str>, since: &str) -> Result<Args, Failure> {
    let since = parse_since(since).map_err(|e| Failure::usage(format!("--since: {e}")))?;
    let environments = match environment {
        Some(env) => vec![super::environment_arg(&ctx.chain, env)?],
        None => ctx.chain.names().to_vec(),
    };
    Ok(Args {
        environments,
        since,
    })
}

pub async fn run<G: GitHub>(ctx: &Context, github: &G, args: &Args) -> Result<Printed, Failure> {
    let window = Window::ending(ctx.now, args.since);
    let reader = Reader::new(github);
    let read = join_all(
        args.environments
            .iter()
            .map(|env| reader.history(env, Reach::Since(window.since))),
    )
    .await;
    let mut listed = Vec::new();
    for one in read {
        listed.push(one.map_err(|e| super::unreadable(&ctx.repository, e))?);
    }
    // The commits of the successful records: each distinct one read once.
    let shas: Vec<&str> = listed
        .iter()
        .flat_map(|l| l.history.records.iter())
        .filter(|r| window.holds(r.created_at) && r.is_success())
        .map(|r| r.sha.as_str())
        .collect();
    let answers = reader.commit_times(shas).await;
    let commits: BTreeMap<String, i64> = answers
        .iter()
        .filter_map(|(sha, t)| Some((sha.clone(), *t.as_ref().ok()?)))
        .collect();

    let mut notes = Vec::new();
    let unread: Vec<(&String, &GhError)> = answers
        .iter()
        .filter_map(|(sha, t)| Some((sha, t.as_ref().err()?)))
        .collect();
    if let Some((sha, e)) = unread.first() {
        let forbidden = unread
            .iter()
            .all(|(_, e)| matches!(e, GhError::Refused { status: 403, .. }));
        notes.push(format!(
            "{} of {} commits could not be read (first: {} {e}); their records are left out of the lead time{}",
            unread.len(),
            answers.len(),
            &sha[..sha.len().min(12)],
            if forbidden {
                "; the token needs `contents: read` to read commits"
            } else {
                ""
            }
        ));
    }
    for l in listed.iter().filter(|l| l.truncated) {
        notes.push(format!(
            "{} has more than {} records in the window; the figures cover the newest {}",
            l.history.environment,
            crate::gather::MAX_PAGES * crate::gather::PAGE_SIZE,
            crate::gather::MAX_PAGES * crate::gather::PAGE_SIZE
        ));
    }
    let all: Vec<(Figures, bool)> = listed
        .iter()
        .map(|l| (figures(&l.history, &commits, window), l.truncated))
        .collect();
    let json = of(ctx, window, &all);
    Ok(Printed {
        text: if ctx.json {
            json_text(&json)
        } else {
            let mut text = format!(
                "{} · records created {} → {} UTC ({})\n\n",
                ctx.repository,
                super::minute(window.since),
                super::minute(window.until),
                window_length(args.since)
            );
            text.push_str(&table(&all).render(ctx.style));
            text
        },
        notes,
    })
}

/// `30 days`, `12 hours`, `90 minutes`.
fn window_length(secs: i64) -> String {
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else {
        (secs / 60, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The `--json` shape (documented in the README; keys are kept, new ones may be added).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsJson {
    pub repository: String,
    pub since: String,
    pub until: String,
    pub window_days: f64,
    pub environments: Vec<EnvironmentJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentJson {
    pub environment: String,
    /// Records created in the window, whatever their outcome.
    pub records: usize,
    /// Of those, the ones with a `success` status.
    pub successful: usize,
    pub deployment_frequency: Frequency,
    pub lead_time_seconds: LeadTimeJson,
    pub change_failure_rate: ChangeFailure,
    pub time_to_restore_seconds: Restore,
    /// More records were in the window than were read (10,000).
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frequency {
    pub per_day: f64,
    pub per_week: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadTimeJson {
    pub median: Option<i64>,
    pub p90: Option<i64>,
    /// Successful records with a known commit time.
    pub samples: usize,
    /// Successful records whose commit could not be read.
    pub unknown_commits: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeFailure {
    /// `change_failures / records`; `null` without records.
    pub rate: Option<f64>,
    pub failed: usize,
    pub rollbacks: usize,
    pub change_failures: usize,
    pub records: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restore {
    pub median: Option<i64>,
    /// Failures restored by a later success.
    pub samples: usize,
    /// Failures with no success after them yet.
    pub unrestored: usize,
}

/// Four decimals: enough for a rate, stable in JSON.
fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

pub fn of(ctx: &Context, window: Window, all: &[(Figures, bool)]) -> MetricsJson {
    MetricsJson {
        repository: ctx.repository.clone(),
        since: iso8601(window.since),
        until: iso8601(window.until),
        window_days: round4(window.days()),
        environments: all
            .iter()
            .map(|(f, truncated)| EnvironmentJson {
                environment: f.environment.clone(),
                records: f.records,
                successful: f.successful,
                deployment_frequency: Frequency {
                    per_day: round4(f.per_day),
                    per_week: round4(f.per_week),
                },
                lead_time_seconds: LeadTimeJson {
                    median: f.lead_time.map(|s| s.median.round() as i64),
                    p90: f.lead_time.map(|s| s.p90.round() as i64),
                    samples: f.lead_times.len(),
                    unknown_commits: f.lead_time_unknown,
                },
                change_failure_rate: ChangeFailure {
                    rate: f.change_failure_rate.map(round4),
                    failed: f.failed,
                    rollbacks: f.rollbacks,
                    change_failures: f.change_failures,
                    records: f.records,
                },
                time_to_restore_seconds: Restore {
                    median: f.time_to_restore.map(|m| m.round() as i64),
                    samples: f.restores.len(),
                    unrestored: f.unrestored,
                },
                truncated: *truncated,
            })
            .collect(),
    }
}

pub fn table(all: &[(Figures, bool)]) -> Table {
    let mut t = Table::new(&[
        "ENVIRONMENT",
        "RECORDS",
        "DEPLOYS/DAY",
        "DEPLOYS/WEEK",
        "LEAD TIME p50",
        "LEAD TIME p90",
        "CHANGE FAILURE",
        "TIME TO RESTORE p50",
    ]);
    let age = |secs: Option<f64>| secs.map(|s| format_age(s.round() as i64));
    for (f, _) in all {
        let lead = match f.lead_time_unknown {
            0 => age(f.lead_time.map(|s| s.median)),
            n => Some(format!(
                "{} ({n} unknown)",
                age(f.lead_time.map(|s| s.median)).unwrap_or_else(|| "—".into())
            )),
        };
        let restore = match (age(f.time_to_restore), f.unrestored) {
            (Some(m), 0) => m,
            (None, 0) => "—".into(),
            (m, n) => format!("{} ({n} not restored)", m.unwrap_or_else(|| "—".into())),
        };
        let failure_paint = match f.change_failure_rate {
            Some(r) if r > 0.15 => Paint::Bad,
            Some(r) if r > 0.0 => Paint::Notice,
            Some(_) => Paint::Good,
            None => Paint::Dim,
        };
        t.row(vec![
            plain(&f.environment),
            plain(f.records.to_string()),
            plain(format!("{:.2}", f.per_day)),
            plain(format!("{:.1}", f.per_week)),
            plain(super::or_dash(lead)),
            plain(super::or_dash(age(f.lead_time.map(|s| s.p90)))),
            (f.rate_text(), failure_paint),
            (
                restore,
                if f.unrestored > 0 {
                    Paint::Bad
                } else {
                    Paint::Plain
                },
            ),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_durations_from_a_minute_to_a_year() {
        assert_eq!(parse_since("30d"), Ok(30 * 86_400));
        assert_eq!(parse_since("2w"), Ok(14 * 86_400));
        assert_eq!(parse_since("1w3d"), Ok(10 * 86_400));
        assert_eq!(parse_since(" 12h "), Ok(12 * 3600));
        assert_eq!(parse_since("90m"), Ok(5400));
        for bad in [
            "",
            "30",
            "d",
            "30x",
            "0d",
            "367d",
            "-1d",
            "1.5d",
            "99999999999999999999w",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(window_length(30 * 86_400), "30 days");
        assert_eq!(window_length(3600), "1 hour");
        assert_eq!(window_length(5400), "90 minutes");
    }
}
