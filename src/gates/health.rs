//! The health gate: a URL answering healthy a number of times in a row, within the
//! environment's limit.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Context, Verdict, keep, snippet};
use crate::config::HealthGate;
use crate::outcome::{Failure, GateReport, ResultCode};
use crate::report::log;
use crate::text::format_duration;
use crate::web::Web;

/// The gate: `health-url` healthy within the environment's limit.
pub(super) async fn check<R, W: Web>(ctx: &Context<'_, R, W>) -> Verdict {
    let Some(gate) = &ctx.inputs.gates.health else {
        return Verdict::default();
    };
    let env = &ctx.inputs.environment;
    let limit = ctx.limit();
    let report = poll(ctx.web, gate, limit).await;
    let failure = (!report.passed).then(|| {
        Failure::new(
            ResultCode::Unhealthy,
            format!("`{env}` is not healthy: {}", report.summary),
            format!(
                "check the deploy of `{env}`; if it is only slow, raise its limit in `timeouts` (now {env}={})",
                format_duration(limit)
            ),
        )
    });
    Verdict {
        failure,
        report: Some(report),
        ..Verdict::default()
    }
}

/// Poll the health URL until it answers healthy `checks` times in a row, or `limit` passes.
pub async fn poll<W: Web>(web: &W, gate: &HealthGate, limit: Duration) -> GateReport {
    let start = Instant::now();
    let deadline = start + limit;
    let headers: Vec<(String, String)> = gate
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_string()))
        .collect();
    let mut streak = 0;
    let mut last = VecDeque::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let answer = web
            .get(
                &gate.url,
                &headers,
                false,
                remaining
                    .min(Duration::from_secs(10))
                    .max(Duration::from_millis(100)),
            )
            .await;
        let (healthy, line) = match answer {
            Ok(a) if (300..400).contains(&a.status) => (
                false,
                format!(
                    "{} redirect to {}: point health-url at the final URL",
                    a.status,
                    a.location.as_deref().unwrap_or("(no location)")
                ),
            ),
            Ok(a) => {
                let status_ok = a.status == gate.status;
                let body_ok = gate.body.as_deref().is_none_or(|b| a.body.contains(b));
                let line = match (status_ok, body_ok) {
                    (true, true) => format!("{} healthy", a.status),
                    (false, _) => format!(
                        "{} (expected {}): {}",
                        a.status,
                        gate.status,
                        snippet(&a.body)
                    ),
                    (true, false) => format!(
                        "{} but the body lacks {:?}: {}",
                        a.status,
                        gate.body.as_deref().unwrap_or_default(),
                        snippet(&a.body)
                    ),
                };
                (status_ok && body_ok, line)
            }
            Err(e) => (false, e.to_string()),
        };
        streak = if healthy { streak + 1 } else { 0 };
        log::line(&format!("health {}: {line}", gate.url));
        keep(&mut last, line);
        if streak >= gate.checks {
            return GateReport {
                name: "health".into(),
                passed: true,
                took: start.elapsed(),
                summary: format!("{} healthy {} time(s) in a row", gate.url, gate.checks),
                last: last.into(),
            };
        }
        if Instant::now() + gate.interval >= deadline {
            return GateReport {
                name: "health".into(),
                passed: false,
                took: start.elapsed(),
                summary: format!(
                    "{} was not healthy {} time(s) in a row within {}; last: {}",
                    gate.url,
                    gate.checks,
                    format_duration(limit),
                    last.back().cloned().unwrap_or_default()
                ),
                last: last.into(),
            };
        }
        tokio::time::sleep(gate.interval).await;
    }
}
