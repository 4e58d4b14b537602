//! Delivery metrics from the record: DORA's four keys for one environment over a window. Pure:
//! a history with its statuses and the commit times in, the figures out.
//!
//! The definitions, exactly (the README sets them beside DORA's):
//! - the window holds the records *created* at or after `since` and at or before `until`;
//!   only ecr-promote's records (task `deploy:ecr-promote`, a version 2 payload) are read;
//! - a *successful* record has a `success` status, even after GitHub marked it `inactive`;
//! - a record's *outcome* is its newest status that is not `inactive`;
//! - **deployment frequency**: successful records divided by the window's length in days (and
//!   times 7 for a week), whatever their age within the window;
//! - **lead time for changes**: for each successful record whose commit could be read, from
//!   the commit's committer date to the record's first `success` status (0 when the commit is
//!   dated later, a clock that ran ahead); the median and the 90th percentile, by linear
//!   interpolation between the closest ranks. Records whose commit cannot be read are left
//!   out and counted in `lead_time_unknown`;
//! - **change failure rate**: records whose outcome is `failure` or `error`, plus rollback
//!   records whatever their status (`queued` included), each record counted once, over every
//!   record in the window (pending and status-less ones included); none when there is no record;
//! - **time to restore**: for each record whose outcome is `failure` or `error`, from its
//!   creation to the `success` of the next successful record created after it in the same
//!   environment; the median. A failure with no successful record after it is not restored:
//!   counted in `unrestored`, never in the median.

use std::collections::BTreeMap;

use crate::record::{History, Record, State};

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Records created at or after `since` and at or before `until` (epoch seconds) count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: i64,
    pub until: i64,
}

impl Window {
    /// The `length` seconds up to `until`.
    pub fn ending(until: i64, length: i64) -> Window {
        Window {
            since: until - length.max(1),
            until,
        }
    }

    pub fn days(&self) -> f64 {
        (self.until - self.since).max(1) as f64 / DAY
    }

    pub fn holds(&self, at: i64) -> bool {
        (self.since..=self.until).contains(&at)
    }
}

/// The middle and the 90th percentile of some durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
}

/// One successful record's lead time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadTime {
    pub id: u64,
    pub tag: String,
    pub succeeded_at: i64,
    pub seconds: i64,
}

/// The four keys of one environment over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub environment: String,
    pub window: Window,
    /// Records created in the window, whatever their outcome.
    pub records: usize,
    /// Of those, the successful ones: the deployments.
    pub successful: usize,
    pub per_day: f64,
    pub per_week: f64,
    /// Each successful record's lead time when its commit is known, oldest success first.
    pub lead_times: Vec<LeadTime>,
    pub lead_time: Option<Spread>,
    /// Successful records whose commit time is unknown: not in `lead_time`.
    pub lead_time_unknown: usize,
    /// Records whose outcome is `failure` or `error`.
    pub failed: usize,
    /// Rollback records, whatever their status.
    pub rollbacks: usize,
    /// Records that are failed or rollbacks, each once: the change failure rate's numerator.
    pub change_failures: usize,
    /// `change_failures / records`; `None` without records.
    pub change_failure_rate: Option<f64>,
    /// Seconds from each restored failure to the next success, in the failures' order.
    pub restores: Vec<i64>,
    pub time_to_restore: Option<f64>,
    /// Failures with no successful record after them.
    pub unrestored: usize,
}

impl Figures {
    /// The change failure rate for people: a whole percentage and its fraction, `33% (2/6)`;
    /// `—` without records.
    pub fn rate_text(&self) -> String {
        match self.change_failure_rate {
            Some(rate) => format!(
                "{}% ({}/{})",
                (rate * 100.0).round() as i64,
                self.change_failures,
                self.records
            ),
            None => "—".into(),
        }
    }
}

/// The `p`-th quantile (0 to 1) of sorted values, interpolating linearly between the closest
/// ranks (numpy's default, BigQuery's `PERCENTILE_CONT`); `None` for no value.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p.clamp(0.0, 1.0) * last as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

fn spread(values: &[i64]) -> Option<Spread> {
    let mut sorted: Vec<f64> = values.iter().map(|v| *v as f64).collect();
    sorted.sort_by(f64::total_cmp);
    Some(Spread {
        median: percentile(&sorted, 0.5)?,
        p90: percentile(&sorted, 0.9)?,
    })
}

fn is_failed(record: &Record) -> bool {
    matches!(record.outcome(), Some(State::Failure | State::Error))
}

/// A successful record's lead time, when its commit's time is known.
pub fn lead_time(record: &Record, commit_at: Option<i64>) -> Option<i64> {
    Some((record.succeeded_at()? - commit_at?).max(0))
}

/// The four keys of `history` over `window`; `commits` holds the commit times that could be
/// read (SHA → epoch seconds).
pub fn figures(history: &History, commits: &BTreeMap<String, i64>, window: Window) -> Figures {
    // Newest first, as the history keeps them.
    let all = &history.records;
    let within: Vec<(usize, &Record)> = all
        .iter()
        .enumerate()
        .filter(|(_, r)| window.holds(r.created_at))
        .collect();
    let successful: Vec<&Record> = within
        .iter()
        .map(|(_, r)| *r)
        .filter(|r| r.is_success())
        .collect();

    let mut lead_times: Vec<LeadTime> = successful
        .iter()
        .filter_map(|r| {
            Some(LeadTime {
                id: r.id,
                tag: r.payload.image_tag.clone(),
                succeeded_at: r.succeeded_at()?,
                seconds: lead_time(r, commits.get(&r.sha).copied())?,
            })
        })
        .collect();
    lead_times.sort_by_key(|l| (l.succeeded_at, l.id));
    let lead_values: Vec<i64> = lead_times.iter().map(|l| l.seconds).collect();

    let failed = within.iter().filter(|(_, r)| is_failed(r)).count();
    let rollbacks = within.iter().filter(|(_, r)| r.is_rollback()).count();
    let change_failures = within
        .iter()
        .filter(|(_, r)| is_failed(r) || r.is_rollback())
        .count();

    let mut restores = Vec::new();
    let mut unrestored = 0;
    // Oldest failure first; the records after index `i` in time are those before it here.
    for (i, failure) in within.iter().rev().filter(|(_, r)| is_failed(r)) {
        let next_success = all[..*i]
            .iter()
            .rev()
            .find(|r| r.is_success())
            .and_then(Record::succeeded_at);
        match next_success {
            Some(at) => restores.push((at - failure.created_at).max(0)),
            None => unrestored += 1,
        }
    }

    let per_day = successful.len() as f64 / window.days();
    Figures {
        environment: history.environment.clone(),
        window,
        records: within.len(),
        successful: successful.len(),
        per_day,
        per_week: per_day * 7.0,
        lead_time: spread(&lead_values),
        lead_time_unknown: successful.len() - lead_times.len(),
        lead_times,
        failed,
        rollbacks,
        change_failures,
        change_failure_rate: (!within.is_empty())
            .then(|| change_failures as f64 / within.len() as f64),
        time_to_restore: spread(&restores).map(|s| s.median),
        restores,
        unrestored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;

    const H: i64 = 3600;
    const D: i64 = 86_400;
    /// "Now" in these tests: 2026-03-01T00:00:00Z.
    const NOW: i64 = 1_772_323_200;

    fn rollback_of(mut r: Record, of: u64) -> Record {
        r.payload.rollback_of = Some(of);
        r.payload.hold = true;
        r
    }

    /// A staging history over the 30 days before NOW, whose four figures are worked out by hand
    /// below. Times are offsets from the window's start, S = NOW - 30 d.
    #[test]
    fn the_four_keys_of_a_seeded_history_match_the_arithmetic() {
        let s = NOW - 30 * D;
        let h = History::new(
            "staging",
            vec![
                // Outside the window (created 1 h before it starts): ignored by every figure,
                // although it failed and is followed by a success.
                record(1, "staging", s - H, "old", &[("failure", s - H + 60)]),
                // r2: success 2 h after creation, commit 5 h before creation → lead 7 h.
                record(
                    2,
                    "staging",
                    s + D,
                    "a",
                    &[("success", s + D + 2 * H), ("inactive", s + 3 * D)],
                ),
                // r3: failure at day 3. Restored by r4's success: (s+4d+1h) - (s+3d) = 25 h.
                record(
                    3,
                    "staging",
                    s + 3 * D,
                    "b",
                    &[("failure", s + 3 * D + 600)],
                ),
                // r4: success 1 h after creation, commit 3 h before creation → lead 4 h.
                record(
                    4,
                    "staging",
                    s + 4 * D,
                    "c",
                    &[("success", s + 4 * D + H), ("inactive", s + 10 * D)],
                ),
                // r5: error at day 10. Next successful record created after it is r8 (r6 is
                // a queued rollback, r7 failed): (s+12d+30m) - (s+10d) = 48.5 h.
                record(5, "staging", s + 10 * D, "d", &[("error", s + 10 * D + 60)]),
                // r6: a rollback of r5, still queued: a change failure, no outcome of its own.
                rollback_of(
                    record(
                        6,
                        "staging",
                        s + 10 * D + 120,
                        "c",
                        &[("queued", s + 10 * D + 121)],
                    ),
                    5,
                ),
                // r7: failure at day 11. Restored by r8: (s+12d+30m) - (s+11d) = 24.5 h.
                record(
                    7,
                    "staging",
                    s + 11 * D,
                    "e",
                    &[("failure", s + 11 * D + 60)],
                ),
                // r8: success 30 m after creation; its commit cannot be read → no lead time.
                record(
                    8,
                    "staging",
                    s + 12 * D,
                    "c",
                    &[("success", s + 12 * D + 1800)],
                ),
                // r9: success, commit 1 h before creation, success 1 h after → lead 2 h.
                record(
                    9,
                    "staging",
                    s + 20 * D,
                    "f",
                    &[("success", s + 20 * D + H)],
                ),
                // r10: success, commit 10 h before, success 2 h after → lead 12 h.
                record(
                    10,
                    "staging",
                    s + 25 * D,
                    "g",
                    &[("success", s + 25 * D + 2 * H)],
                ),
                // r11: failure on the last day: nothing after it, so not restored.
                record(
                    11,
                    "staging",
                    s + 29 * D,
                    "h",
                    &[("failure", s + 29 * D + 60)],
                ),
                // r12: no status yet (a run in progress): counts among all records only.
                record(12, "staging", s + 29 * D + H, "i", &[]),
            ],
        );
        // `record()` gives record N the commit format!("{N:040x}").
        let sha = |id: u64| format!("{id:040x}");
        let commits: BTreeMap<String, i64> = [
            (sha(1), s - 2 * H),
            (sha(2), s + D - 5 * H),
            (sha(4), s + 4 * D - 3 * H),
            // sha(8) could not be read.
            (sha(9), s + 20 * D - H),
            (sha(10), s + 25 * D - 10 * H),
        ]
        .into();
        let f = figures(&h, &commits, Window::ending(NOW, 30 * D));

        // Records in the window: r2..r12 = 11.
        assert_eq!(f.records, 11);
        // Successful: r2, r4, r8, r9, r10 = 5. Frequency: 5 / 30 days = 0.1667 a day, × 7 =
        // 1.1667 a week.
        assert_eq!(f.successful, 5);
        assert!((f.per_day - 5.0 / 30.0).abs() < 1e-9, "{}", f.per_day);
        assert!((f.per_week - 35.0 / 30.0).abs() < 1e-9, "{}", f.per_week);
        // Lead times, by success: r2 7 h, r4 4 h, r9 2 h, r10 12 h; r8 unknown.
        // Sorted: 2, 4, 7, 12 h. Median: rank 0.5 × 3 = 1.5 → (4 + 7) / 2 = 5.5 h.
        // p90: rank 0.9 × 3 = 2.7 → 7 + 0.7 × (12 - 7) = 10.5 h.
        assert_eq!(
            f.lead_times
                .iter()
                .map(|l| (l.id, l.seconds))
                .collect::<Vec<_>>(),
            vec![(2, 7 * H), (4, 4 * H), (9, 2 * H), (10, 12 * H)]
        );
        assert_eq!(f.lead_time_unknown, 1);
        let lead = f.lead_time.unwrap();
        assert_eq!(lead.median, 5.5 * H as f64);
        assert!((lead.p90 - 10.5 * H as f64).abs() < 1e-6, "{}", lead.p90);
        // Change failures: failed r3, r5, r7, r11 (4) + rollback r6 (1) = 5 of 11 = 45.45 %.
        assert_eq!((f.failed, f.rollbacks, f.change_failures), (4, 1, 5));
        assert!((f.change_failure_rate.unwrap() - 5.0 / 11.0).abs() < 1e-9);
        assert_eq!(f.rate_text(), "45% (5/11)");
        // Restores: r3 25 h, r5 48.5 h, r7 24.5 h; r11 unrestored. Sorted 24.5, 25, 48.5 →
        // median 25 h.
        assert_eq!(
            f.restores,
            vec![25 * H, 48 * H + 1800, 24 * H + 1800],
            "oldest failure first"
        );
        assert_eq!(f.unrestored, 1);
        assert_eq!(f.time_to_restore, Some(25.0 * H as f64));
    }

    #[test]
    fn no_records_give_zero_frequency_and_no_other_figure() {
        let h = History::new(
            "qa",
            vec![record(
                1,
                "qa",
                NOW - 40 * D,
                "a",
                &[("success", NOW - 40 * D)],
            )],
        );
        let f = figures(&h, &BTreeMap::new(), Window::ending(NOW, 30 * D));
        assert_eq!((f.records, f.successful), (0, 0));
        assert_eq!((f.per_day, f.per_week), (0.0, 0.0));
        assert_eq!(f.lead_time, None);
        assert_eq!(f.change_failure_rate, None, "no records: no rate, not 0 %");
        assert_eq!(f.rate_text(), "—");
        assert_eq!(f.time_to_restore, None);
        assert_eq!(f.unrestored, 0);
    }

    #[test]
    fn no_failures_give_a_zero_rate_and_no_time_to_restore() {
        let h = History::new(
            "qa",
            vec![
                record(1, "qa", NOW - 2 * D, "a", &[("success", NOW - 2 * D + 60)]),
                record(2, "qa", NOW - D, "b", &[("success", NOW - D + 60)]),
            ],
        );
        let f = figures(&h, &BTreeMap::new(), Window::ending(NOW, 7 * D));
        assert_eq!(f.change_failure_rate, Some(0.0));
        assert_eq!((f.time_to_restore, f.unrestored), (None, 0));
        // Commits unknown: frequency still counts both, lead time has no sample.
        assert_eq!(
            (f.successful, f.lead_time_unknown, f.lead_time),
            (2, 2, None)
        );
        // 2 in 7 days: 2/7 a day, 2 a week.
        assert!((f.per_week - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_failure_never_restored_is_counted_apart_from_the_median() {
        let h = History::new(
            "staging",
            vec![
                record(
                    1,
                    "staging",
                    NOW - 3 * H,
                    "a",
                    &[("failure", NOW - 3 * H + 60)],
                ),
                // A queued rollback is no restore: only a success is.
                rollback_of(
                    record(2, "staging", NOW - 2 * H, "z", &[("queued", NOW - 2 * H)]),
                    1,
                ),
            ],
        );
        let f = figures(&h, &BTreeMap::new(), Window::ending(NOW, D));
        assert_eq!(
            (f.failed, f.rollbacks, f.change_failures, f.records),
            (1, 1, 2, 2)
        );
        assert_eq!(f.change_failure_rate, Some(1.0));
        assert_eq!((f.time_to_restore, f.unrestored), (None, 1));
    }

    #[test]
    fn a_success_created_before_a_failure_does_not_restore_it() {
        // "The next successful record" is the next one created: a record created before the
        // failure does not restore it, even when its success status came later.
        let h = History::new(
            "qa",
            vec![
                record(1, "qa", NOW - 5 * H, "a", &[("success", NOW - H)]),
                record(2, "qa", NOW - 4 * H, "b", &[("failure", NOW - 4 * H + 60)]),
            ],
        );
        let f = figures(&h, &BTreeMap::new(), Window::ending(NOW, D));
        assert_eq!((f.time_to_restore, f.unrestored), (None, 1));
    }

    #[test]
    fn a_rollback_that_failed_counts_once_and_inactive_is_not_an_outcome() {
        let h = History::new(
            "qa",
            vec![
                rollback_of(
                    record(1, "qa", NOW - 3 * H, "a", &[("error", NOW - 3 * H)]),
                    9,
                ),
                record(
                    2,
                    "qa",
                    NOW - 2 * H,
                    "b",
                    &[("success", NOW - 2 * H + 60), ("inactive", NOW - H)],
                ),
                record(3, "qa", NOW - H, "c", &[("success", NOW - H + 60)]),
            ],
        );
        let f = figures(&h, &BTreeMap::new(), Window::ending(NOW, D));
        assert_eq!((f.failed, f.rollbacks, f.change_failures), (1, 1, 1));
        // The errored rollback is restored by r2's success: (NOW-2h+60) - (NOW-3h) = 3660 s.
        assert_eq!(f.restores, vec![3660]);
        assert_eq!(f.successful, 2, "an inactive success still counts");
    }

    #[test]
    fn a_commit_dated_after_its_deploy_counts_zero() {
        let r = record(1, "qa", NOW - H, "a", &[("success", NOW - H + 60)]);
        assert_eq!(lead_time(&r, Some(NOW)), Some(0));
        assert_eq!(lead_time(&r, Some(NOW - 2 * H)), Some(H + 60));
        assert_eq!(lead_time(&r, None), None);
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[1.0, 3.0], 0.5), Some(2.0));
        // Ranks 0..=9, p90 at rank 8.1.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((percentile(&ten, 0.9).unwrap() - 9.1).abs() < 1e-9);
        assert_eq!(percentile(&ten, 0.5), Some(5.5));
    }
}
