//! GitHub through octocrab, with our own retry policy: octocrab's would resend a dispatch
//! blindly, and a dispatch must be sent at most once.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, Method, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::retry::{Policy, jitter, rate_limit_wait};
use super::{
    API_VERSION, CLOCK_SKEW, Deployment, Dispatched, GhError, GitHub, ListedRun, NewDeployment,
    NewStatus, RunPoll, WorkflowMeta, message_of, pick_run, run_from_details,
};
use crate::model::{Correlation, GitHubAccess, RunInfo, WorkflowId};
use crate::record::{State, Status, TASK};
use crate::text::parse_iso8601;
use crate::text::{error_chain, iso8601};

/// No single HTTP exchange may take longer than this, whatever the server does.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// One HTTP answer, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// A request that got no answer: `sent` is false only when it surely never reached GitHub.
struct NoAnswer {
    sent: bool,
    reason: String,
}

pub struct OctoGitHub {
    client: octocrab::Octocrab,
    /// `/repos/OWNER/NAME`
    repo_path: String,
    policy: Policy,
    /// `x-github-enterprise-version`, as the last answer gave it.
    enterprise_version: std::sync::Mutex<Option<String>>,
}

fn now_epoch() -> u64 {
    crate::text::now_epoch().max(0) as u64
}

/// A deployment from GitHub's JSON.
fn deployment_of(v: &Value) -> Option<Deployment> {
    Some(Deployment {
        id: v["id"].as_u64()?,
        environment: v["environment"].as_str()?.to_string(),
        sha: v["sha"].as_str().unwrap_or_default().to_string(),
        created_at: v["created_at"].as_str().and_then(parse_iso8601)?,
        payload: v["payload"].clone(),
        url: v["url"].as_str().unwrap_or_default().to_string(),
    })
}

/// Percent-encode a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Encode a file path for the contents API, keeping its slashes.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// Was the request surely never sent? Only a failure to connect says so.
fn never_sent(err: &octocrab::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>()
            && h.is_connect()
        {
            return true;
        }
        source = e.source();
    }
    false
}

impl OctoGitHub {
    /// A client for `target`'s repository on its API URL. TLS is set up only for an HTTPS
    /// URL, from the roots loaded once for every client of ours.
    pub fn new(access: &GitHubAccess, policy: Policy) -> anyhow::Result<OctoGitHub> {
        use anyhow::Context;
        use octocrab::service::middleware::base_uri::BaseUriLayer;
        use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
        let base: http::Uri = access
            .api_url
            .parse()
            .context("the GitHub API URL is not a valid URL")?;
        let tls = if base.scheme_str() == Some("https") {
            crate::tls::verified()
        } else {
            crate::tls::plain()
        };
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let service =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, octocrab::OctoBody>(connector);
        let mut token = header::HeaderValue::from_str(&format!("Bearer {}", access.token.expose()))
            .context("the token is not a valid header value")?;
        token.set_sensitive(true);
        let headers = vec![
            (
                header::USER_AGENT,
                header::HeaderValue::from_static(concat!(
                    "ecr-promote/",
                    env!("CARGO_PKG_VERSION")
                )),
            ),
            (
                header::HeaderName::from_static("x-github-api-version"),
                header::HeaderValue::from_static(API_VERSION),
            ),
            (header::AUTHORIZATION, token),
        ];
        let client = octocrab::OctocrabBuilder::new_empty()
            .with_service(service)
            .with_layer(&BaseUriLayer::new(base))
            .with_layer(&ExtraHeadersLayer::new(std::sync::Arc::new(headers)))
            .with_auth(octocrab::AuthState::None)
            .build()
            .context("could not build the GitHub client")?;
        Ok(OctoGitHub {
            client,
            repo_path: format!("/repos/{}", access.repository),
            policy,
            enterprise_version: std::sync::Mutex::new(None),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &str,
        extra: &[(&str, &str)],
    ) -> Result<Answer, NoAnswer> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, accept);
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        let request = self
            .client
            .build_request(request, body)
            .map_err(|e| NoAnswer {
                sent: false,
                reason: error_chain(&e),
            })?;
        let exchange = async {
            let response = self.client.execute(request).await.map_err(|e| NoAnswer {
                sent: !never_sent(&e),
                reason: error_chain(&e),
            })?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            if let Some(version) = headers
                .get("x-github-enterprise-version")
                .and_then(|v| v.to_str().ok())
                && let Ok(mut slot) = self.enterprise_version.lock()
            {
                *slot = Some(version.to_string());
            }
            let body = self
                .client
                .body_to_string(response)
                .await
                .map_err(|e| NoAnswer {
                    sent: true,
                    reason: format!("the answer was cut off: {}", error_chain(&e)),
                })?;
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_DEADLINE, exchange).await {
            Ok(result) => result,
            Err(_) => Err(NoAnswer {
                sent: true,
                reason: format!("no answer within {}s", REQUEST_DEADLINE.as_secs()),
            }),
        }
    }

    /// A read, retried on rate limits, 5xx and network errors within the policy.
    async fn get(&self, path: &str, accept: &str) -> Result<Answer, GhError> {
        let mut last = String::new();
        for attempt in 0..self.policy.attempts {
            match self.send(Method::GET, path, None, accept, &[]).await {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) => {
                    if let Some(wait) =
                        rate_limit_wait(a.status, &a.headers, &a.body, now_epoch(), &self.policy)
                    {
                        if wait > self.policy.max_wait {
                            return Err(GhError::Unavailable(format!(
                                "rate limited by GitHub for {}s: {}",
                                wait.as_secs(),
                                message_of(&a.body)
                            )));
                        }
                        last = format!("rate limited ({}): {}", a.status, message_of(&a.body));
                        tracing::warn!("{last}; waiting {}s", wait.as_secs());
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if a.status == 404 {
                        return Err(GhError::NotFound(message_of(&a.body)));
                    }
                    if a.status < 500 {
                        return Err(GhError::Refused {
                            status: a.status,
                            message: message_of(&a.body),
                        });
                    }
                    last = format!("GitHub answered {}: {}", a.status, message_of(&a.body));
                }
                Err(e) => last = e.reason,
            }
            if attempt + 1 < self.policy.attempts {
                tokio::time::sleep(self.policy.backoff(attempt, jitter())).await;
            }
        }
        Err(GhError::Unavailable(format!(
            "gave up after {} tries: {last}",
            self.policy.attempts
        )))
    }

    /// A write sent at most once: sent again only after a rate limit (GitHub did not process
    /// it) or when it surely never left; any other failure is reported, never resent.
    async fn write(&self, path: &str, body: &Value) -> Result<Answer, GhError> {
        let mut last = String::new();
        for attempt in 0..self.policy.attempts {
            match self
                .send(
                    Method::POST,
                    path,
                    Some(body),
                    "application/vnd.github+json",
                    &[],
                )
                .await
            {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) => {
                    if let Some(wait) =
                        rate_limit_wait(a.status, &a.headers, &a.body, now_epoch(), &self.policy)
                        && wait <= self.policy.max_wait
                    {
                        last = format!("rate limited ({}): {}", a.status, message_of(&a.body));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(match a.status {
                        404 => GhError::NotFound(message_of(&a.body)),
                        s if s < 500 => GhError::Refused {
                            status: s,
                            message: message_of(&a.body),
                        },
                        s => GhError::Unavailable(format!(
                            "GitHub answered {s}: {}",
                            message_of(&a.body)
                        )),
                    });
                }
                Err(e) if !e.sent => {
                    last = e.reason;
                    tokio::time::sleep(self.policy.backoff(attempt, jitter())).await;
                }
                Err(e) => return Err(GhError::Unavailable(e.reason)),
            }
        }
        Err(GhError::Unavailable(format!(
            "gave up after {} tries: {last}",
            self.policy.attempts
        )))
    }

    /// `workflow_dispatch` runs of the workflow on `git_ref` created at or after `since`.
    async fn runs_since(
        &self,
        workflow: &WorkflowId,
        git_ref: &str,
        since: u64,
    ) -> Result<Vec<ListedRun>, GhError> {
        let since_text = iso8601(since as i64);
        let path = format!(
            "{}/actions/workflows/{}/runs?event=workflow_dispatch&branch={}&created={}&per_page=20",
            self.repo_path,
            encode(&workflow.api_segment()),
            encode(git_ref),
            encode(&format!(">={since_text}"))
        );
        let answer = self.get(&path, "application/vnd.github+json").await?;
        #[derive(Deserialize)]
        struct Run {
            id: u64,
            #[serde(default)]
            html_url: String,
            #[serde(default)]
            created_at: String,
            #[serde(default)]
            event: String,
            #[serde(default)]
            display_title: String,
        }
        #[derive(Deserialize)]
        struct Runs {
            #[serde(default)]
            workflow_runs: Vec<Run>,
        }
        let runs: Runs = serde_json::from_str(&answer.body).map_err(|e| {
            GhError::Unavailable(format!("the list of runs could not be read: {e}"))
        })?;
        Ok(runs
            .workflow_runs
            .into_iter()
            .filter(|r| {
                (r.event.is_empty() || r.event == "workflow_dispatch") && r.created_at >= since_text
            })
            .map(|r| ListedRun {
                run: RunInfo {
                    id: r.id,
                    url: r.html_url,
                },
                title: r.display_title,
            })
            .collect())
    }
}

/// A run from the list of a workflow's runs, newest first.
impl GitHub for OctoGitHub {
    fn enterprise_version(&self) -> Option<String> {
        self.enterprise_version.lock().ok().and_then(|v| v.clone())
    }

    async fn deployments(
        &self,
        environment: &str,
        per_page: u32,
        page: u32,
    ) -> Result<Vec<Deployment>, GhError> {
        let path = format!(
            "{}/deployments?environment={}&task={}&per_page={per_page}&page={page}",
            self.repo_path,
            encode(environment),
            encode(TASK)
        );
        let answer = self.get(&path, "application/vnd.github+json").await?;
        let list: Vec<Value> = serde_json::from_str(&answer.body).map_err(|e| {
            GhError::Unavailable(format!("the list of deployments could not be read: {e}"))
        })?;
        Ok(list.iter().filter_map(deployment_of).collect())
    }

    async fn statuses(&self, deployment: u64) -> Result<Vec<Status>, GhError> {
        let path = format!(
            "{}/deployments/{deployment}/statuses?per_page=100",
            self.repo_path
        );
        let answer = self.get(&path, "application/vnd.github+json").await?;
        let list: Vec<Value> = serde_json::from_str(&answer.body).map_err(|e| {
            GhError::Unavailable(format!("the deployment's statuses could not be read: {e}"))
        })?;
        Ok(list
            .iter()
            .filter_map(|s| {
                Some(Status {
                    state: State::parse(s["state"].as_str()?),
                    at: parse_iso8601(s["created_at"].as_str()?)?,
                })
            })
            .collect())
    }

    async fn create_deployment(&self, new: &NewDeployment) -> Result<Deployment, GhError> {
        let body = json!({
            "ref": new.git_ref,
            "task": new.task,
            "environment": new.environment,
            "payload": new.payload,
            "description": new.description,
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": false,
        });
        let answer = self
            .write(&format!("{}/deployments", self.repo_path), &body)
            .await?;
        let value: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        // 202 means GitHub merged the default branch first and created nothing: not ours.
        deployment_of(&value).ok_or_else(|| GhError::Refused {
            status: answer.status,
            message: message_of(&answer.body),
        })
    }

    async fn create_status(&self, deployment: u64, new: &NewStatus) -> Result<(), GhError> {
        let mut body = json!({
            "state": new.state,
            "description": new.description.chars().take(140).collect::<String>(),
            "auto_inactive": true,
        });
        if let Some(url) = &new.log_url {
            body["log_url"] = json!(url);
        }
        if let Some(url) = &new.environment_url {
            body["environment_url"] = json!(url);
        }
        self.write(
            &format!("{}/deployments/{deployment}/statuses", self.repo_path),
            &body,
        )
        .await
        .map(|_| ())
    }

    async fn commit_time(&self, sha: &str) -> Result<i64, GhError> {
        let path = format!("{}/commits/{}", self.repo_path, encode(sha));
        let answer = self.get(&path, "application/vnd.github+json").await?;
        let v: Value = serde_json::from_str(&answer.body)
            .map_err(|e| GhError::Unavailable(format!("the commit could not be read: {e}")))?;
        v["commit"]["committer"]["date"]
            .as_str()
            .or_else(|| v["commit"]["author"]["date"].as_str())
            .and_then(parse_iso8601)
            .ok_or_else(|| GhError::Unavailable(format!("commit {sha} has no date")))
    }

    /// After a 204 (no run details), find the run: the one with our correlation id, or the only
    /// new one.
    async fn find_run(
        &self,
        workflow: &WorkflowId,
        git_ref: &str,
        since: u64,
        correlation: Option<&Correlation>,
    ) -> Option<RunInfo> {
        for attempt in 0..3 {
            match self
                .runs_since(workflow, git_ref, since.saturating_sub(CLOCK_SKEW))
                .await
            {
                Ok(runs) => {
                    if let Some(c) = correlation
                        && let Some(ours) = runs.iter().find(|r| r.title.contains(&c.id))
                    {
                        return Some(ours.run.clone());
                    }
                    match runs.as_slice() {
                        [only] => return Some(only.run.clone()),
                        // Several new runs: which one is ours cannot be told; none is claimed.
                        [_, _, ..] if correlation.is_none() => return None,
                        // Not created yet: GitHub creates the run a moment after the 204.
                        _ => {}
                    }
                }
                Err(e) => {
                    tracing::debug!("could not list runs to find the dispatched one: {e}");
                    return None;
                }
            }
            tokio::time::sleep(self.policy.base.mul_f64(0.5 * f64::from(attempt + 1))).await;
        }
        None
    }

    async fn run_status(&self, run_id: u64, etag: Option<&str>) -> Result<RunPoll, GhError> {
        let path = format!("{}/actions/runs/{run_id}", self.repo_path);
        let extra: Vec<(&str, &str)> = etag.map(|e| vec![("if-none-match", e)]).unwrap_or_default();
        let answer = match self
            .send(
                Method::GET,
                &path,
                None,
                "application/vnd.github+json",
                &extra,
            )
            .await
        {
            Ok(a) if a.status == 304 => return Ok(RunPoll::NotModified),
            Ok(a) if (200..300).contains(&a.status) => a,
            // Anything else goes through the read policy (rate limits, retries, errors).
            _ => self.get(&path, "application/vnd.github+json").await?,
        };
        let v: Value = serde_json::from_str(&answer.body)
            .map_err(|e| GhError::Unavailable(format!("the run could not be read: {e}")))?;
        Ok(RunPoll::State {
            status: v["status"].as_str().unwrap_or("unknown").to_string(),
            conclusion: v["conclusion"].as_str().map(str::to_string),
            url: v["html_url"].as_str().unwrap_or_default().to_string(),
            etag: answer
                .headers
                .get(header::ETAG)
                .and_then(|e| e.to_str().ok())
                .map(str::to_string),
        })
    }

    async fn workflow(&self, workflow: &WorkflowId) -> Result<WorkflowMeta, GhError> {
        let path = format!(
            "{}/actions/workflows/{}",
            self.repo_path,
            encode(&workflow.api_segment())
        );
        let answer = self.get(&path, "application/vnd.github+json").await?;
        serde_json::from_str(&answer.body)
            .map_err(|e| GhError::Unavailable(format!("the workflow could not be read: {e}")))
    }

    async fn file(&self, path: &str, git_ref: &str) -> Result<String, GhError> {
        let url = format!(
            "{}/contents/{}?ref={}",
            self.repo_path,
            encode_path(path),
            encode(git_ref)
        );
        let answer = self.get(&url, "application/vnd.github+json").await?;
        let parsed: Option<Value> = serde_json::from_str(&answer.body).ok();
        let Some(object) = parsed.as_ref().and_then(Value::as_object) else {
            // Served raw (a server may ignore the JSON media type).
            return Ok(answer.body);
        };
        match object.get("encoding").and_then(Value::as_str) {
            Some("base64") => {
                let content: String = object
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .map_err(|e| {
                        GhError::Unavailable(format!("the file's content is not base64: {e}"))
                    })?;
                String::from_utf8(bytes)
                    .map_err(|_| GhError::Unavailable(format!("{path} is not UTF-8 text")))
            }
            // Above 1 MB the JSON form carries no content: ask for the raw file.
            _ => Ok(self
                .get(&url, "application/vnd.github.raw+json")
                .await?
                .body),
        }
    }

    async fn dispatch(
        &self,
        workflow: &WorkflowId,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
        correlation: Option<&Correlation>,
    ) -> Result<Dispatched, GhError> {
        let path = format!(
            "{}/actions/workflows/{}/dispatches",
            self.repo_path,
            encode(&workflow.api_segment())
        );
        let mut with_details = true;
        let mut last = String::new();
        let mut attempt = 0;
        while attempt < self.policy.attempts {
            let mut body = json!({ "ref": git_ref, "inputs": inputs });
            if with_details {
                body["return_run_details"] = json!(true);
            }
            let started = now_epoch();
            match self
                .send(
                    Method::POST,
                    &path,
                    Some(&body),
                    "application/vnd.github+json",
                    &[],
                )
                .await
            {
                // Any 2xx is an accepted dispatch; 200 carries the run's details, 204 does not.
                Ok(a) if (200..300).contains(&a.status) => {
                    return Ok(Dispatched {
                        run: run_from_details(&a.body),
                        since: started,
                    });
                }
                Ok(a) => {
                    let message = message_of(&a.body);
                    // A 400 is never an accepted dispatch, so the plain form is safe to try once.
                    if with_details
                        && (a.status == 400
                            || (a.status == 422 && message.contains("return_run_details")))
                    {
                        // GitHub Enterprise Server before 3.21 does not know the field: send the plain form.
                        tracing::info!(
                            "GitHub does not accept return_run_details; dispatching without it"
                        );
                        with_details = false;
                        continue;
                    }
                    if let Some(wait) =
                        rate_limit_wait(a.status, &a.headers, &a.body, now_epoch(), &self.policy)
                    {
                        // A rate-limited request was not processed: safe to send again.
                        if wait > self.policy.max_wait {
                            return Err(GhError::Unavailable(format!(
                                "rate limited by GitHub for {}s: {message}",
                                wait.as_secs()
                            )));
                        }
                        last = format!("rate limited ({}): {message}", a.status);
                        tracing::warn!("{last}; waiting {}s", wait.as_secs());
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    if a.status < 500 {
                        return Err(if a.status == 404 {
                            GhError::NotFound(message)
                        } else {
                            GhError::Refused {
                                status: a.status,
                                message,
                            }
                        });
                    }
                    last = format!("GitHub answered {}: {message}", a.status);
                    if let Some(run) = self
                        .accepted_after_all(workflow, git_ref, started, attempt, correlation)
                        .await?
                    {
                        return Ok(Dispatched {
                            run: Some(run),
                            since: started,
                        });
                    }
                }
                Err(e) if !e.sent => {
                    last = e.reason;
                    tokio::time::sleep(self.policy.backoff(attempt, jitter())).await;
                }
                Err(e) => {
                    last = e.reason;
                    if let Some(run) = self
                        .accepted_after_all(workflow, git_ref, started, attempt, correlation)
                        .await?
                    {
                        return Ok(Dispatched {
                            run: Some(run),
                            since: started,
                        });
                    }
                }
            }
            attempt += 1;
        }
        Err(GhError::Unavailable(format!(
            "the dispatch failed after {} tries: {last}",
            self.policy.attempts
        )))
    }
}

impl OctoGitHub {
    /// After an answer that leaves it open whether GitHub took the dispatch (5xx, a dropped
    /// connection), look for the run it would have created, a few times, since GitHub creates a
    /// run a moment after accepting. Never resend blindly.
    async fn accepted_after_all(
        &self,
        workflow: &WorkflowId,
        git_ref: &str,
        started: u64,
        attempt: u32,
        correlation: Option<&Correlation>,
    ) -> Result<Option<RunInfo>, GhError> {
        tokio::time::sleep(self.policy.backoff(attempt, 0.5 + jitter() / 2.0)).await;
        let since = started.saturating_sub(CLOCK_SKEW);
        // Four looks over about 7 s (base 1 s): GitHub creates the run a moment after accepting.
        for look in 0..4u32 {
            match self.runs_since(workflow, git_ref, since).await {
                Ok(runs) => {
                    if let Some(run) = pick_run(&runs, correlation) {
                        tracing::warn!(
                            "the dispatch answer was lost, but run {} exists: not sending again",
                            run.id
                        );
                        return Ok(Some(run));
                    }
                }
                Err(e) => {
                    return Err(GhError::Unavailable(format!(
                        "the dispatch may or may not have been accepted, and the runs could not be listed to find out ({e}); check the Actions tab before re-running"
                    )));
                }
            }
            if look < 3 {
                tokio::time::sleep(self.policy.base * (1 << look)).await;
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_queries_and_paths() {
        assert_eq!(
            encode(">=2026-01-01T00:00:00Z"),
            "%3E%3D2026-01-01T00%3A00%3A00Z"
        );
        assert_eq!(encode("feature/x y"), "feature%2Fx%20y");
        assert_eq!(
            encode_path(".github/workflows/a b.yml"),
            ".github/workflows/a%20b.yml"
        );
    }
}
