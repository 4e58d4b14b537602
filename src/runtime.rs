//! What keeps a run honest when it does not finish: the time budget, SIGINT and SIGTERM, and
//! panics. `guard` runs the work and says how it ended; `Progress` holds what the report of an
//! interrupted run needs.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::FutureExt;

use crate::decide::{Interruption, Standing};
use crate::model::RunInfo;
use crate::outcome::{Phase, Report};
use crate::text::one_line;

/// What is known while a run is under way, for the report of an interrupted run.
#[derive(Default)]
pub struct Progress {
    dispatched: AtomicBool,
    run: Mutex<Option<RunInfo>>,
    phase: Mutex<Phase>,
    verified: Mutex<Option<Report>>,
}

impl Progress {
    /// Move to `phase`, keeping the report as it stands when it is given.
    pub fn enter(&self, phase: Phase, report: Option<&Report>) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase;
        }
        if let Some(report) = report {
            self.verified(report);
        }
    }

    /// Keep the report as it stands once the image and the gates passed.
    pub fn verified(&self, report: &Report) {
        if let Ok(mut v) = self.verified.lock() {
            *v = Some(report.clone());
        }
    }

    /// GitHub accepted the dispatch: from here on `promoted` is true, whatever interrupts.
    pub fn dispatched(&self) {
        self.dispatched.store(true, Ordering::SeqCst);
    }

    pub fn run(&self, run: Option<RunInfo>) {
        if let Ok(mut slot) = self.run.lock() {
            *slot = run;
        }
    }

    /// Where the run stands now.
    pub fn standing(&self) -> Standing {
        Standing {
            phase: self.phase.lock().map(|p| *p).unwrap_or_default(),
            verified: self.verified.lock().ok().and_then(|v| v.clone()),
            dispatched: self.dispatched.load(Ordering::SeqCst),
            run: self.run.lock().ok().and_then(|r| r.clone()),
        }
    }
}

/// Run `work` within `budget`, stopping at the first of: the work's end, the budget, `cancel`
/// (a signal in production) or a panic.
pub async fn guard<T>(
    budget: Duration,
    work: impl Future<Output = T>,
    cancel: impl Future<Output = &'static str>,
) -> Result<T, Interruption> {
    tokio::select! {
        _ = tokio::time::sleep(budget) => Err(Interruption::TimedOut),
        outcome = AssertUnwindSafe(work).catch_unwind() => outcome.map_err(|panic| {
            Interruption::Panicked(panic_message(panic.as_ref()))
        }),
        signal = cancel => Err(Interruption::Cancelled(signal)),
    }
}

/// What a panic said, on one line.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    one_line(&what)
}

/// SIGINT or SIGTERM, whichever comes first. The binary is PID 1 in its container, and PID 1
/// ignores any signal it has no handler for.
#[cfg(unix)]
pub async fn signalled() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
}

#[cfg(not(unix))]
pub async fn signalled() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn work_that_finishes_in_time_is_returned() {
        let got = rt().block_on(guard(
            Duration::from_secs(5),
            async { 7 },
            std::future::pending(),
        ));
        assert_eq!(got, Ok(7));
    }

    #[test]
    fn the_budget_stops_slow_work() {
        let got = rt().block_on(guard(
            Duration::from_secs(5),
            async { tokio::time::sleep(Duration::from_secs(60)).await },
            std::future::pending(),
        ));
        assert_eq!(got, Err(Interruption::TimedOut));
    }

    #[test]
    fn a_signal_stops_the_work() {
        let got = rt().block_on(guard(
            Duration::from_secs(5),
            async { tokio::time::sleep(Duration::from_secs(1)).await },
            async { "SIGTERM" },
        ));
        assert_eq!(got, Err(Interruption::Cancelled("SIGTERM")));
    }

    #[test]
    fn a_panic_is_caught_with_its_message() {
        let got = rt().block_on(guard(
            Duration::from_secs(5),
            async {
                if std::hint::black_box(true) {
                    panic!("boom\nline two");
                }
            },
            std::future::pending(),
        ));
        assert_eq!(got, Err(Interruption::Panicked("boom line two".into())));
    }

    #[test]
    fn progress_remembers_where_the_run_stands() {
        let p = Progress::default();
        assert_eq!(p.standing().phase, Phase::Registry);
        let report = Report::new(crate::outcome::ResultCode::Promoted, "verified");
        p.enter(Phase::Dispatch, Some(&report));
        p.dispatched();
        p.run(Some(RunInfo {
            id: 3,
            url: "u".into(),
        }));
        let s = p.standing();
        assert_eq!(s.phase, Phase::Dispatch);
        assert!(s.dispatched);
        assert_eq!(s.run.unwrap().id, 3);
        assert_eq!(s.verified.unwrap().message, "verified");
    }
}
