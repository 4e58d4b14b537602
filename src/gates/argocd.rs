//! The Argo CD gate: the application Synced, Healthy, no operation running, and running the
//! promoted image; a Rollout paused at a canary step is reported as such.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Context, Verdict, keep, snippet};
use crate::config::ArgoGate;
use crate::outcome::{Failure, GateReport, ImageState, ResultCode};
use crate::report::log;
use crate::text::{format_duration, one_line};
use crate::web::Web;

/// An image the cluster must run: repository name, tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

/// Where an Argo CD application stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppState {
    Ready(String),
    Waiting(String),
}

/// `host/path:tag@digest` → (path without the registry host, tag, digest).
fn parse_image(reference: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (reference, None),
    };
    let (path, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
        _ => (rest, None),
    };
    let path = match path.split_once('/') {
        Some((host, p)) if host.contains('.') || host.contains(':') || host == "localhost" => p,
        _ => path,
    };
    (path.to_string(), tag, digest)
}

/// Read an Argo CD Application: ready when Synced, Healthy, no operation running, and every
/// verified repository that appears in `status.summary.images` shows the promoted tag or digest
/// (at least one appearing).
pub fn app_state(app: &Value, expected: &[Expected]) -> AppState {
    let status = &app["status"];
    let sync = status["sync"]["status"].as_str().unwrap_or("Unknown");
    let health = status["health"]["status"].as_str().unwrap_or("Unknown");
    let phase = status["operationState"]["phase"].as_str().unwrap_or("");
    if phase == "Running" || phase == "Terminating" {
        let message = status["operationState"]["message"].as_str().unwrap_or("");
        return AppState::Waiting(
            format!(
                "an operation is {}: {}",
                phase.to_lowercase(),
                one_line(message)
            )
            .trim_end_matches(": ")
            .to_string(),
        );
    }
    let resources = status["resources"].as_array().cloned().unwrap_or_default();
    if let Some(paused) = resources.iter().find(|r| {
        r["kind"].as_str() == Some("Rollout") && r["health"]["status"].as_str() == Some("Suspended")
    }) {
        return AppState::Waiting(format!(
            "Rollout {} is paused at a canary step: {}",
            paused["name"].as_str().unwrap_or("?"),
            one_line(
                paused["health"]["message"]
                    .as_str()
                    .unwrap_or("waiting to be promoted")
            )
        ));
    }
    if sync != "Synced" {
        return AppState::Waiting(format!("{sync}: not synced to the desired state yet"));
    }
    if health != "Healthy" {
        let message = status["health"]["message"].as_str().unwrap_or("");
        return AppState::Waiting(format!(
            "{health}{}",
            if message.is_empty() {
                String::new()
            } else {
                format!(": {}", one_line(message))
            }
        ));
    }
    let images: Vec<String> = status["summary"]["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut matched = 0;
    for want in expected {
        for reference in &images {
            let (path, tag, digest) = parse_image(reference);
            if path != want.repository && !path.ends_with(&format!("/{}", want.repository)) {
                continue;
            }
            matched += 1;
            let ours = tag.as_deref() == Some(want.tag.as_str())
                || digest.as_deref() == Some(want.digest.as_str());
            if !ours {
                return AppState::Waiting(format!(
                    "Synced and Healthy, but it runs {}, not `{}`",
                    one_line(reference),
                    want.tag
                ));
            }
        }
    }
    if matched == 0 {
        return AppState::Waiting(format!(
            "Synced and Healthy, but it runs none of the verified repositories (its images: {})",
            if images.is_empty() {
                "none listed".to_string()
            } else {
                one_line(&images.join(", "))
            }
        ));
    }
    AppState::Ready(format!(
        "Synced, Healthy, running the promoted image ({matched} container image(s))"
    ))
}

/// The gate: the application ready, running the verified image, within the environment's limit.
pub(super) async fn check<R, W: Web>(ctx: &Context<'_, R, W>) -> Verdict {
    let Some(gate) = &ctx.inputs.gates.argocd else {
        return Verdict::default();
    };
    let expected: Vec<Expected> = ctx
        .images
        .iter()
        .filter_map(|row| match &row.state {
            ImageState::Found(info) => Some(Expected {
                repository: row.name.clone(),
                tag: ctx.tag.to_string(),
                digest: info.digest.clone(),
            }),
            _ => None,
        })
        .collect();
    let env = &ctx.inputs.environment;
    let limit = ctx.limit();
    let report = poll(ctx.web, gate, &expected, limit, ctx.poll).await;
    let failure = (!report.passed).then(|| {
        Failure::new(
            ResultCode::Unhealthy,
            format!("Argo CD application {}", report.summary),
            format!(
                "look at the application in Argo CD; a rollout that is only slow needs a larger limit in `timeouts` (now {env}={})",
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

/// Poll the Argo CD application until it is ready, or `limit` passes.
pub async fn poll<W: Web>(
    web: &W,
    gate: &ArgoGate,
    expected: &[Expected],
    limit: Duration,
    poll: Duration,
) -> GateReport {
    let start = Instant::now();
    let deadline = start + limit;
    let mut url = format!("{}/api/v1/applications/{}", gate.server, gate.app);
    if let Some(ns) = &gate.namespace {
        url.push_str(&format!("?appNamespace={ns}"));
    }
    let headers = vec![(
        "Authorization".to_string(),
        format!("Bearer {}", gate.token.expose()),
    )];
    let mut last = VecDeque::new();
    let name = format!("argocd {}", gate.app);
    let done = |passed: bool, summary: String, last: VecDeque<String>| GateReport {
        name: name.clone(),
        passed,
        took: start.elapsed(),
        summary,
        last: last.into(),
    };
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let answer = web
            .get(
                &url,
                &headers,
                gate.insecure,
                remaining
                    .min(Duration::from_secs(10))
                    .max(Duration::from_millis(100)),
            )
            .await;
        let line = match answer {
            Ok(a) if a.status == 401 || a.status == 403 => {
                keep(&mut last, format!("{}: {}", a.status, snippet(&a.body)));
                return done(
                    false,
                    format!(
                        "Argo CD refused the token ({}): check argocd-token and its RBAC (applications, get)",
                        a.status
                    ),
                    last,
                );
            }
            Ok(a) if a.status == 404 => {
                keep(&mut last, format!("404: {}", snippet(&a.body)));
                return done(
                    false,
                    format!(
                        "Argo CD has no application `{}` (or the token cannot see it): check argocd-app",
                        gate.app
                    ),
                    last,
                );
            }
            Ok(a) if a.status == 200 => match serde_json::from_str::<Value>(&a.body) {
                Ok(app) => match app_state(&app, expected) {
                    AppState::Ready(why) => {
                        keep(&mut last, why.clone());
                        return done(true, why, last);
                    }
                    AppState::Waiting(why) => why,
                },
                Err(e) => format!("the answer is not an Application: {e}"),
            },
            Ok(a) => format!("{}: {}", a.status, snippet(&a.body)),
            Err(e) => e.to_string(),
        };
        log::line(&format!("argocd {}: {line}", gate.app));
        keep(&mut last, line);
        if Instant::now() + poll >= deadline {
            return done(
                false,
                format!(
                    "`{}` was not ready within {}: {}",
                    gate.app,
                    format_duration(limit),
                    last.back().cloned().unwrap_or_default()
                ),
                last,
            );
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(sync: &str, health: &str, phase: &str, images: &[&str]) -> Value {
        json!({"status": {
            "sync": {"status": sync},
            "health": {"status": health, "message": if health == "Degraded" { "Deployment has timed out progressing" } else { "" }},
            "operationState": {"phase": phase, "message": "waiting for healthy state of apps/Deployment/backend"},
            "summary": {"images": images},
            "resources": []
        }})
    }

    fn want() -> Vec<Expected> {
        vec![Expected {
            repository: "shop/backend".into(),
            tag: "ea11a24-2".into(),
            digest: "sha256:d".into(),
        }]
    }

    const HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    #[test]
    fn image_references() {
        assert_eq!(
            parse_image(&format!("{HOST}/shop/backend:v1")),
            ("shop/backend".into(), Some("v1".into()), None)
        );
        assert_eq!(
            parse_image("localhost:5000/app@sha256:x"),
            ("app".into(), None, Some("sha256:x".into()))
        );
        assert_eq!(parse_image("nginx"), ("nginx".into(), None, None));
        assert_eq!(
            parse_image("library/nginx:1.27"),
            ("library/nginx".into(), Some("1.27".into()), None)
        );
    }

    #[test]
    fn progressing_then_healthy() {
        let img = format!("{HOST}/shop/backend:ea11a24-2");
        let other = format!("{HOST}/shop/backend:old");
        let sequence = [
            app("OutOfSync", "Healthy", "Succeeded", &[&other]),
            app("Synced", "Progressing", "Running", &[&img]),
            app("Synced", "Progressing", "Succeeded", &[&img]),
            app("Synced", "Healthy", "Succeeded", &[&other]),
            app("Synced", "Healthy", "Succeeded", &[&img, "redis:7"]),
        ];
        let states: Vec<AppState> = sequence.iter().map(|a| app_state(a, &want())).collect();
        assert!(matches!(&states[0], AppState::Waiting(w) if w.starts_with("OutOfSync")));
        assert!(matches!(&states[1], AppState::Waiting(w) if w.contains("operation is running")));
        assert!(matches!(&states[2], AppState::Waiting(w) if w.starts_with("Progressing")));
        assert!(matches!(&states[3], AppState::Waiting(w) if w.contains("not `ea11a24-2`")));
        assert!(matches!(&states[4], AppState::Ready(_)), "{:?}", states[4]);
    }

    #[test]
    fn degraded_paused_and_foreign_images() {
        let img = format!("{HOST}/shop/backend:ea11a24-2");
        assert!(
            matches!(app_state(&app("Synced", "Degraded", "Succeeded", &[&img]), &want()),
            AppState::Waiting(w) if w.contains("Degraded: Deployment has timed out"))
        );
        let mut paused = app("Synced", "Suspended", "Succeeded", &[&img]);
        paused["status"]["resources"] = json!([{"kind": "Rollout", "name": "backend-rollout",
            "health": {"status": "Suspended", "message": "CanaryPauseStep"}}]);
        assert!(
            matches!(app_state(&paused, &want()), AppState::Waiting(w) if w.contains("paused at a canary step: CanaryPauseStep"))
        );
        assert!(
            matches!(app_state(&app("Synced", "Healthy", "Succeeded", &["redis:7"]), &want()),
            AppState::Waiting(w) if w.contains("none of the verified"))
        );
        // A digest reference counts.
        let by_digest = format!("{HOST}/shop/backend@sha256:d");
        assert!(matches!(
            app_state(
                &app("Synced", "Healthy", "Succeeded", &[&by_digest]),
                &want()
            ),
            AppState::Ready(_)
        ));
    }
}
