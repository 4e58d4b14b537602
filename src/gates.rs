//! Gates that establish `deploy_success` beyond the caller's word: a health URL answering
//! healthy, and an Argo CD application Synced, Healthy and running the promoted image. The HTTP
//! seam (a trait and its reqwest implementation), the polling, and the pure reading of answers.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::inputs::{ArgoGate, HealthGate, format_duration};
use crate::report::{error_chain, one_line};

/// At most this many answers are kept to show in the summary.
const KEPT_ANSWERS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAnswer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// Why a request got no answer, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebError {
    Timeout(Duration),
    Dns(String),
    Tls(String),
    Refused(String),
    Other(String),
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::Timeout(d) => write!(f, "no answer within {}", format_duration(*d)),
            WebError::Dns(e) => write!(f, "the host name does not resolve (DNS): {e}"),
            WebError::Tls(e) => write!(
                f,
                "TLS failed (certificate not trusted, expired or for another host): {e}"
            ),
            WebError::Refused(e) => write!(f, "the connection was refused or reset: {e}"),
            WebError::Other(e) => write!(f, "{e}"),
        }
    }
}

/// The HTTP seam. Tests run it against local servers; nothing here is mocked in them.
pub trait Web {
    fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        insecure: bool,
        timeout: Duration,
    ) -> impl Future<Output = Result<WebAnswer, WebError>> + Send;
}

/// reqwest with rustls; redirects are not followed, so a redirect is reported, not hidden. The
/// clients are built on first use: a run without gates does not pay for loading certificates.
#[derive(Default)]
pub struct ReqwestWeb {
    strict: std::sync::OnceLock<Result<reqwest::Client, String>>,
    insecure: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

impl ReqwestWeb {
    pub fn new() -> ReqwestWeb {
        ReqwestWeb::default()
    }

    fn client(&self, insecure: bool) -> Result<&reqwest::Client, WebError> {
        let cell = if insecure {
            &self.insecure
        } else {
            &self.strict
        };
        cell.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .tls_danger_accept_invalid_certs(insecure)
                .user_agent(concat!("ecr-promote/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("could not build the HTTP client: {}", error_chain(&e)))
        })
        .as_ref()
        .map_err(|e| WebError::Other(e.clone()))
    }
}

fn classify(err: &reqwest::Error, timeout: Duration) -> WebError {
    let chain = error_chain(err);
    let lower = chain.to_ascii_lowercase();
    if err.is_timeout() {
        WebError::Timeout(timeout)
    } else if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        WebError::Dns(chain)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        WebError::Tls(chain)
    } else if lower.contains("refused") || lower.contains("reset") {
        WebError::Refused(chain)
    } else {
        WebError::Other(chain)
    }
}

impl Web for ReqwestWeb {
    async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        insecure: bool,
        timeout: Duration,
    ) -> Result<WebAnswer, WebError> {
        let mut request = self.client(insecure)?.get(url).timeout(timeout);
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = request.send().await.map_err(|e| classify(&e, timeout))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.map_err(|e| classify(&e, timeout))?;
        Ok(WebAnswer {
            status,
            body,
            location,
        })
    }
}

/// What a gate found, for the summary and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateReport {
    pub name: String,
    pub passed: bool,
    pub took: Duration,
    /// One line: why it passed or what it was waiting for when it gave up.
    pub summary: String,
    /// The last answers, newest last.
    pub last: Vec<String>,
}

/// Keep `line` among the last answers shown in the summary.
pub(crate) fn keep(last: &mut VecDeque<String>, line: String) {
    if last.len() == KEPT_ANSWERS {
        last.pop_front();
    }
    last.push_back(one_line(&line));
}

fn snippet(body: &str) -> String {
    let s: String = one_line(body).chars().take(80).collect();
    if s.is_empty() {
        "(empty body)".into()
    } else {
        s
    }
}

/// Poll the health URL until it answers healthy `checks` times in a row, or `limit` passes.
pub async fn health<W: Web>(web: &W, gate: &HealthGate, limit: Duration) -> GateReport {
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
        println!("health {}: {}", one_line(&gate.url), one_line(&line));
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

/// Poll the Argo CD application until it is ready, or `limit` passes.
pub async fn argocd<W: Web>(
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
        println!("argocd {}: {}", gate.app, one_line(&line));
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
