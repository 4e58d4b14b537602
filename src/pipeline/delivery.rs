//! Delivery figures at the end of the chain: when `mode: promote` deployed the chain's last
//! environment successfully, this promotion's lead time and that environment's 30-day metrics
//! in one line for the summary, and with `lead-time-chart` a Mermaid chart of recent lead
//! times. Read while the run dispatches and writes its record; a read that fails costs the
//! summary its line, never the run its result.

use std::collections::BTreeMap;

use crate::config::Inputs;
use crate::decide::record::Entry;
use crate::gather::{Reach, Reader};
use crate::github::GitHub;
use crate::metrics::{Figures, Window, figures};
use crate::record::{Record, State, Status};
use crate::report::log;
use crate::text::{format_age, now_epoch};

/// The window of the summary's figures.
pub const WINDOW_DAYS: i64 = 30;
/// Pages of 100 records read for the summary at most: one request per record follows (its
/// statuses), and the job's `GITHUB_TOKEN` may make 1,000 requests an hour.
const SUMMARY_PAGES: u32 = 1;
/// Bars in the chart.
const CHART_BARS: usize = 20;

/// The summary's line and chart (`report.metrics`, `report.chart`), when this run ends the
/// chain with a success that is being recorded.
pub(super) async fn figures_at_end<G: GitHub>(
    inputs: &Inputs,
    github: Option<&G>,
    entry: Option<&Entry>,
) -> (Option<String>, Option<String>) {
    let (Some(github), Some(entry)) = (github, entry) else {
        return (None, None);
    };
    if inputs.next_environment().is_some() || entry.state != "success" {
        return (None, None);
    }
    let started = now_epoch();
    let mut window = Window::ending(started, WINDOW_DAYS * 86_400);
    let reader = Reader::new(github).with_max_pages(SUMMARY_PAGES);
    let listed = match reader
        .history(&inputs.environment, Reach::Since(window.since))
        .await
    {
        Ok(listed) => listed,
        Err(e) => {
            log::note(&format!(
                "the delivery metrics were left out of the summary: the record of `{}` could not be read ({e})",
                inputs.environment
            ));
            return (None, None);
        }
    };
    // More records than were read: the figures cover the ones read, from the oldest of them.
    if listed.truncated
        && let Some(oldest) = listed.history.records.last()
    {
        window.since = oldest.created_at;
    }
    // This run's own deployment may be listed already, without its status: it is counted
    // below as the success it is about to be.
    let mut records: Vec<Record> = listed
        .history
        .records
        .into_iter()
        .filter(|r| {
            !(r.outcome().is_none() && r.payload.promotion_id == entry.payload.promotion_id)
        })
        .collect();
    let shas: Vec<&str> = records
        .iter()
        .filter(|r| window.holds(r.created_at) && r.is_success())
        .map(|r| r.sha.as_str())
        .chain([entry.sha.as_str()])
        .collect();
    let commits: BTreeMap<String, i64> = reader
        .commit_times(shas)
        .await
        .into_iter()
        .filter_map(|(sha, t)| Some((sha, t.ok()?)))
        .collect();
    let succeeded = now_epoch();
    records.push(Record {
        id: u64::MAX,
        environment: inputs.environment.clone(),
        sha: entry.sha.clone(),
        created_at: started,
        payload: entry.payload.clone(),
        statuses: Some(vec![Status {
            state: State::Success,
            at: succeeded,
        }]),
    });
    let history = crate::record::History::new(&inputs.environment, records);
    let f = figures(&history, &commits, window);
    let lead = commits.get(&entry.sha).map(|at| (succeeded - at).max(0));
    let chart = inputs.record.lead_time_chart.then(|| chart(&f)).flatten();
    (Some(line(&f, lead, &entry.sha)), chart)
}

/// One line: this promotion's lead time, then the environment's figures over the window.
pub fn line(f: &Figures, lead: Option<i64>, sha: &str) -> String {
    let full = WINDOW_DAYS * 86_400;
    let span = if f.window.until - f.window.since >= full {
        format!("over the last {WINDOW_DAYS} days")
    } else {
        format!(
            "over its newest {} records (the last {})",
            f.records,
            format_age(f.window.until - f.window.since)
        )
    };
    let this = match lead {
        Some(secs) => format_age(secs),
        None => format!(
            "unknown (commit `{}` could not be read)",
            &sha[..sha.len().min(7)]
        ),
    };
    let age = |secs: f64| format_age(secs.round() as i64);
    let lead_times = match f.lead_time {
        Some(s) => format!("lead time median {} (p90 {})", age(s.median), age(s.p90)),
        None => "lead time unknown".into(),
    };
    let restore = match (f.time_to_restore, f.unrestored) {
        (Some(m), 0) => format!("time to restore median {}", age(m)),
        (Some(m), n) => format!("time to restore median {} ({n} not restored)", age(m)),
        (None, 0) => "no failure to restore from".into(),
        (None, n) => format!("{n} failure{} not restored", if n == 1 { "" } else { "s" }),
    };
    format!(
        "This promotion's lead time: {this}. `{}` {span}: {} deploy{} ({:.1} a week), {lead_times}, change failure rate {}, {restore}.",
        f.environment,
        f.successful,
        if f.successful == 1 { "" } else { "s" },
        f.per_week,
        f.rate_text()
    )
}

/// A Mermaid `xychart-beta` of the newest lead times, oldest left; `None` without any.
pub fn chart(f: &Figures) -> Option<String> {
    let recent = &f.lead_times[f.lead_times.len().saturating_sub(CHART_BARS)..];
    let longest = recent.iter().map(|l| l.seconds).max()?;
    let (unit, per) = if longest >= 2 * 3600 {
        ("hours", 3600.0)
    } else {
        ("minutes", 60.0)
    };
    let values: Vec<f64> = recent
        .iter()
        .map(|l| (l.seconds as f64 / per * 10.0).round() / 10.0)
        .collect();
    let top = values.iter().copied().fold(1.0, f64::max).ceil();
    // Tags come from the record, which anyone with `deployments: write` writes: only the
    // characters of an ECR tag reach the chart.
    let label = |tag: &str| {
        let clean: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(24)
            .collect();
        format!("\"{clean}\"")
    };
    Some(format!(
        "xychart-beta\n    title \"Lead time of the last {} deploys to {} ({unit})\"\n    x-axis [{}]\n    y-axis \"{unit}\" 0 --> {top}\n    bar [{}]",
        recent.len(),
        f.environment,
        recent
            .iter()
            .map(|l| label(&l.tag))
            .collect::<Vec<_>>()
            .join(", "),
        values
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{LeadTime, Spread};

    fn figures_of(lead_times: &[(i64, &str)]) -> Figures {
        Figures {
            environment: "staging".into(),
            window: Window::ending(1_000_000_000, 30 * 86_400),
            records: 6,
            successful: 4,
            per_day: 4.0 / 30.0,
            per_week: 28.0 / 30.0,
            lead_times: lead_times
                .iter()
                .enumerate()
                .map(|(i, (s, tag))| LeadTime {
                    id: i as u64,
                    tag: tag.to_string(),
                    succeeded_at: i as i64,
                    seconds: *s,
                })
                .collect(),
            lead_time: Some(Spread {
                median: 18_000.0,
                p90: 712_080.0,
            }),
            lead_time_unknown: 0,
            failed: 1,
            rollbacks: 1,
            change_failures: 2,
            change_failure_rate: Some(2.0 / 6.0),
            restores: vec![90_000],
            time_to_restore: Some(90_000.0),
            unrestored: 0,
        }
    }

    #[test]
    fn the_summary_line_states_this_promotion_then_the_window() {
        let f = figures_of(&[]);
        assert_eq!(
            line(&f, Some(3 * 3600 + 5 * 60), "abcdef1234"),
            "This promotion's lead time: 3h 5m. `staging` over the last 30 days: 4 deploys (0.9 a week), lead time median 5h (p90 8d 5h), change failure rate 33% (2/6), time to restore median 1d 1h."
        );
        let mut recent = f.clone();
        recent.window.since = recent.window.until - 12 * 86_400 - 3 * 3600;
        assert!(
            line(&recent, Some(60), "abc")
                .contains("`staging` over its newest 6 records (the last 12d 3h): 4 deploys"),
            "{}",
            line(&recent, Some(60), "abc")
        );
        let mut quiet = f.clone();
        (quiet.lead_time, quiet.time_to_restore, quiet.unrestored) = (None, None, 2);
        let text = line(&quiet, None, "abcdef1234");
        assert!(
            text.starts_with(
                "This promotion's lead time: unknown (commit `abcdef1` could not be read)."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "lead time unknown, change failure rate 33% (2/6), 2 failures not restored."
            ),
            "{text}"
        );
    }

    #[test]
    fn the_chart_shows_the_newest_twenty_in_hours_or_minutes() {
        assert_eq!(chart(&figures_of(&[])), None);
        let short = chart(&figures_of(&[(600, "v1"), (1800, "v2\"]\n```")])).unwrap();
        assert_eq!(
            short,
            "xychart-beta\n    title \"Lead time of the last 2 deploys to staging (minutes)\"\n    x-axis [\"v1\", \"v2\"]\n    y-axis \"minutes\" 0 --> 30\n    bar [10.0, 30.0]"
        );
        let many: Vec<(i64, String)> = (0..25).map(|i| (i * 3600, format!("t{i}"))).collect();
        let many: Vec<(i64, &str)> = many.iter().map(|(s, t)| (*s, t.as_str())).collect();
        let long = chart(&figures_of(&many)).unwrap();
        assert!(
            long.contains("last 20 deploys to staging (hours)"),
            "{long}"
        );
        assert!(
            long.contains("x-axis [\"t5\", "),
            "the oldest five are left out: {long}"
        );
        assert!(long.ends_with("23.0, 24.0]"), "{long}");
        assert!(long.contains("0 --> 24"), "{long}");
    }
}
