//! A local server that answers like GitHub's REST API for what ecr-promote calls: workflows,
//! contents, dispatches (validated the way GitHub validates them), workflow runs, deployments
//! and their statuses, commits and `/meta`, on github.com or a given GitHub Enterprise Server
//! version. Every answer carries the fields GitHub's OpenAPI description requires
//! (`tests/integration/conformance` checks them against it). Faults can be scripted per
//! request. Plain threads and std::net, so a test controls every byte and every hang.

#![allow(dead_code)]

mod deployments;
pub mod objects;
mod workflows;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

#[allow(unused_imports)]
pub use deployments::{Access, Deployment, DeploymentStatus, Seed};

use super::timeline::{Exchange, monotonic_ns};

/// One workflow of the fake repository.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub id: u64,
    pub path: String,
    pub state: String,
    /// The file's text at each ref (bare branch or tag name).
    pub files: HashMap<String, String>,
    /// Runs of this workflow so far (GitHub's `run_number`).
    pub run_count: u64,
    pub created_at: u64,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// One answer the stand-in gave, as sent: for the conformance test.
#[derive(Clone, Debug)]
pub struct Answer {
    pub method: String,
    /// The request's path without the `/api/v3` prefix and without the query.
    pub path: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// A scripted fault (`Fault::Answer`), not the stand-in's own answer.
    pub scripted: bool,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub workflow_id: u64,
    pub run_number: u64,
    pub branch: String,
    pub head_sha: String,
    pub created_at: u64,
    pub inputs: BTreeMap<String, String>,
    pub html_url: String,
    /// The workflow's `run-name` with `${{ inputs.X }}` filled in, or its path.
    pub display_title: String,
}

/// A commit the repository holds.
#[derive(Clone, Debug)]
pub struct Commit {
    pub sha: String,
    pub authored_at: u64,
    pub committed_at: u64,
    pub message: String,
}

/// What to do with the next request that matches.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status, headers and body instead of handling the request.
    Answer(u16, Vec<(String, String)>, String),
    /// Handle the request (a dispatch is accepted), then answer this status instead.
    AcceptThenAnswer(u16),
    /// Handle the request, then close the connection without answering.
    AcceptThenDrop,
    /// Handle the request, send the start of the answer, then close the connection.
    AcceptThenCut,
    /// Close the connection without reading or answering.
    Drop,
    /// Never answer (the connection stays open this long).
    Hang(Duration),
}

impl Fault {
    /// GitHub's primary rate limit: `x-ratelimit-remaining: 0` until the next second.
    pub fn rate_limit_exhausted() -> Fault {
        Fault::Answer(
            403,
            vec![
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), (now() + 1).to_string()),
            ],
            json!({"message": "API rate limit exceeded for installation ID 1.",
                   "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                   "status": "403"})
            .to_string(),
        )
    }
}

pub type DispatchHook = Arc<dyn Fn(&Run) + Send + Sync>;

#[derive(Default)]
pub struct State {
    pub token: String,
    pub repository: String,
    /// The API's base URL as clients reach it (with `/api/v3` on GitHub Enterprise Server).
    pub api_url: String,
    /// `x-github-enterprise-version` (`3.17.0`): GitHub Enterprise Server of that version.
    pub enterprise_version: Option<String>,
    pub workflows: Vec<Workflow>,
    pub requests: Vec<Request>,
    pub answers: Vec<Answer>,
    pub runs: Vec<Run>,
    /// (method, path substring, fault): the first match is used once.
    pub faults: VecDeque<(String, String, Fault)>,
    /// GitHub Enterprise Server before 3.21: `return_run_details` is refused with 400.
    pub legacy_dispatch: bool,
    pub hook: Option<DispatchHook>,
    /// The states every new run goes through, one per GET of the run (the last repeats).
    pub run_script: Vec<(String, Option<String>)>,
    /// Each run's remaining states.
    pub run_states: HashMap<u64, Vec<(String, Option<String>)>>,
    /// Commits by SHA, and branch names to SHAs.
    pub commits: HashMap<String, Commit>,
    pub branches: HashMap<String, String>,
    pub deployments: deployments::Store,
    /// How long every answer is held, like a network's round trip.
    pub latency: Duration,
    /// When each request arrived and its answer left.
    pub exchanges: Vec<Exchange>,
    next_run: u64,
    next_request: u64,
    started_at: u64,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `2026-01-29T12:56:07Z`, as GitHub writes times.
pub fn iso(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// A made-up but stable 40-hex object id for `seed` (not git's hash of anything).
pub fn fake_sha(seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

impl FakeGitHub {
    /// Start on a free loopback port; `prefix` is `""` for github.com or `/api/v3` for GHES.
    pub fn start(repository: &str, token: &str, prefix: &str) -> FakeGitHub {
        FakeGitHub::start_on("127.0.0.1:0", repository, token, prefix)
    }

    /// GitHub Enterprise Server `version` (`3.17.0`): served under `/api/v3`, every answer
    /// carries `x-github-enterprise-version`, `/meta` gives `installed_version`, a dispatch takes
    /// at most 10 inputs before 3.20, and `return_run_details` is refused before 3.21.
    pub fn start_enterprise(repository: &str, token: &str, version: &str) -> FakeGitHub {
        let gh = FakeGitHub::start(repository, token, "/api/v3");
        gh.enterprise(Some(version));
        gh
    }

    /// Start on `addr` (`0.0.0.0:8080` to be reachable from a container).
    pub fn start_on(addr: &str, repository: &str, token: &str, prefix: &str) -> FakeGitHub {
        let listener = TcpListener::bind(addr).unwrap();
        let url = format!("http://{}{prefix}", listener.local_addr().unwrap());
        let started_at = now();
        let main_sha = fake_sha(&format!("{repository}@main"));
        let state = Arc::new(Mutex::new(State {
            token: token.into(),
            repository: repository.into(),
            api_url: url.clone(),
            next_run: 9000,
            started_at,
            commits: HashMap::from([(
                main_sha.clone(),
                Commit {
                    sha: main_sha.clone(),
                    authored_at: started_at,
                    committed_at: started_at,
                    message: "Initial commit".into(),
                },
            )]),
            branches: HashMap::from([("main".to_string(), main_sha)]),
            ..Default::default()
        }));
        let shared = state.clone();
        let prefix = prefix.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                let prefix = prefix.clone();
                std::thread::spawn(move || serve(stream, &state, &prefix));
            }
        });
        FakeGitHub { url, state }
    }

    /// Play GitHub Enterprise Server `version` (`Some("3.19.0")`) or github.com (`None`).
    pub fn enterprise(&self, version: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        s.enterprise_version = version.map(str::to_string);
        if version.is_some_and(|v| version_below(v, (3, 21))) {
            s.legacy_dispatch = true;
        }
    }

    pub fn add_workflow(&self, id: u64, file: &str, git_ref: &str, text: &str) {
        let mut s = self.state.lock().unwrap();
        s.ensure_branch(git_ref);
        let path = format!(".github/workflows/{file}");
        if let Some(w) = s.workflows.iter_mut().find(|w| w.path == path) {
            w.files.insert(git_ref.into(), text.into());
            return;
        }
        let created_at = s.started_at;
        s.workflows.push(Workflow {
            id,
            path,
            state: "active".into(),
            files: HashMap::from([(git_ref.to_string(), text.to_string())]),
            run_count: 0,
            created_at,
        });
    }

    /// Hold every answer this long after its request arrived, as a network away would.
    pub fn latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Every request answered so far, with when it arrived and when its answer left.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.lock().unwrap().exchanges.clone()
    }

    pub fn set_state(&self, file: &str, state: &str) {
        let mut s = self.state.lock().unwrap();
        for w in s.workflows.iter_mut().filter(|w| w.path.ends_with(file)) {
            w.state = state.into();
        }
    }

    pub fn fault(&self, method: &str, path_part: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), path_part.into(), fault));
    }

    pub fn legacy_dispatch(&self) {
        self.state.lock().unwrap().legacy_dispatch = true;
    }

    pub fn on_dispatch(&self, hook: DispatchHook) {
        self.state.lock().unwrap().hook = Some(hook);
    }

    /// A run someone else dispatched, created now.
    pub fn add_run(&self, workflow_id: u64, branch: &str, display_title: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        let head_sha = s.ensure_branch(branch);
        s.next_run += 1;
        let id = s.next_run;
        let run_number = match s.workflows.iter_mut().find(|w| w.id == workflow_id) {
            Some(w) => {
                w.run_count += 1;
                w.run_count
            }
            None => 1,
        };
        let html_url = format!("{}/actions/runs/{id}", s.web_repo_url());
        s.runs.push(Run {
            id,
            workflow_id,
            run_number,
            branch: branch.into(),
            head_sha,
            created_at: now(),
            inputs: BTreeMap::new(),
            html_url,
            display_title: display_title.into(),
        });
        id
    }

    /// Every run dispatched from now on goes through these (status, conclusion) states.
    pub fn script_runs(&self, states: &[(&str, Option<&str>)]) {
        self.state.lock().unwrap().run_script = states
            .iter()
            .map(|(s, c)| (s.to_string(), c.map(str::to_string)))
            .collect();
    }

    /// A commit with this committer (and author) date, seconds since the epoch.
    pub fn add_commit(&self, sha: &str, date: u64) {
        self.add_commit_dated(sha, date, date);
    }

    /// A commit whose author date and committer date differ (a rebase, a cherry-pick).
    pub fn add_commit_dated(&self, sha: &str, authored_at: u64, committed_at: u64) {
        self.state.lock().unwrap().commits.insert(
            sha.to_string(),
            Commit {
                sha: sha.to_string(),
                authored_at,
                committed_at,
                message: format!("Commit {}", &sha[..sha.len().min(7)]),
            },
        );
    }

    /// Point `branch` at `sha` (which must have been added with `add_commit`).
    pub fn set_branch(&self, branch: &str, sha: &str) {
        let mut s = self.state.lock().unwrap();
        assert!(
            s.commits.contains_key(sha),
            "add_commit({sha}) before pointing a branch at it"
        );
        s.branches.insert(branch.to_string(), sha.to_string());
    }

    /// The SHA `branch` points at.
    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        self.state.lock().unwrap().branches.get(branch).cloned()
    }

    pub fn runs(&self) -> Vec<Run> {
        self.state.lock().unwrap().runs.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every answer given so far, in order.
    pub fn answers(&self) -> Vec<Answer> {
        self.state.lock().unwrap().answers.clone()
    }

    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_part))
            .count()
    }
}

/// `3.17.0` is below (3, 20).
pub(crate) fn version_below(version: &str, (major, minor): (u64, u64)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) < (major, minor)
}

impl State {
    /// The repository's web address (`html_url`s).
    pub(crate) fn web_repo_url(&self) -> String {
        let host = if self.enterprise_version.is_some() {
            "https://ghes.example"
        } else {
            "https://github.example"
        };
        format!("{host}/{}", self.repository)
    }

    pub(crate) fn api_repo_url(&self) -> String {
        format!("{}/repos/{}", self.api_url, self.repository)
    }

    /// The SHA of `branch`, created (dated when the stand-in started) if new.
    pub(crate) fn ensure_branch(&mut self, branch: &str) -> String {
        if let Some(sha) = self.branches.get(branch) {
            return sha.clone();
        }
        let sha = fake_sha(&format!("{}@{branch}", self.repository));
        let at = self.started_at;
        self.commits.entry(sha.clone()).or_insert(Commit {
            sha: sha.clone(),
            authored_at: at,
            committed_at: at,
            message: format!("Tip of {branch}"),
        });
        self.branches.insert(branch.to_string(), sha.clone());
        sha
    }

    /// The commit a ref names: a branch, a full SHA or a unique SHA prefix of 7 or more.
    pub(crate) fn resolve(&self, git_ref: &str) -> Option<&Commit> {
        let bare = git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(git_ref);
        if let Some(sha) = self.branches.get(bare) {
            return self.commits.get(sha);
        }
        if let Some(c) = self.commits.get(git_ref) {
            return Some(c);
        }
        if git_ref.len() >= 7 && git_ref.chars().all(|c| c.is_ascii_hexdigit()) {
            let mut hits = self.commits.values().filter(|c| c.sha.starts_with(git_ref));
            let first = hits.next();
            if hits.next().is_none() {
                return first;
            }
        }
        None
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let raw = super::http::read_request(&mut reader)?;
    let (path, query) = match raw.target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (raw.target, String::new()),
    };
    Some(Request {
        method: raw.method,
        path,
        query,
        headers: raw.headers,
        body: String::from_utf8_lossy(&raw.body).into_owned(),
    })
}

/// What a handler answers: status, extra headers, body (JSON unless a header says otherwise).
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// GitHub's error body: `{message, documentation_url, status}`.
pub(crate) fn message(status: u16, text: &str) -> Reply {
    Reply::json(
        status,
        json!({"message": text, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn respond(
    stream: &mut TcpStream,
    state: &Arc<Mutex<State>>,
    request: &Request,
    prefix: &str,
    reply: Reply,
    scripted: bool,
) {
    let Reply {
        status,
        mut headers,
        body,
    } = reply;
    {
        let mut s = state.lock().unwrap();
        s.next_request += 1;
        headers.push((
            "x-github-request-id".into(),
            format!(
                "CAFE:{:04X}:{:06X}",
                std::process::id() % 0xFFFF,
                s.next_request
            ),
        ));
        headers.push((
            "x-github-media-type".into(),
            "github.v3; format=json".into(),
        ));
        if !scripted {
            headers.push((
                "x-github-api-version-selected".into(),
                request
                    .headers
                    .get("x-github-api-version")
                    .cloned()
                    .unwrap_or_else(|| "2022-11-28".into()),
            ));
        }
        if let Some(v) = &s.enterprise_version {
            headers.push(("x-github-enterprise-version".into(), v.clone()));
        }
        s.answers.push(Answer {
            method: request.method.clone(),
            path: request
                .path
                .strip_prefix(prefix)
                .unwrap_or(&request.path)
                .to_string(),
            status,
            headers: headers.clone(),
            body: body.clone(),
            scripted,
        });
    }
    let mut text = format!(
        "HTTP/1.1 {status} {}\r\nconnection: close\r\n",
        reason(status)
    );
    let has_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if status != 204 && status != 304 {
        if !has_type {
            text.push_str("content-type: application/json; charset=utf-8\r\n");
        }
        text.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (k, v) in &headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    if status != 204 && status != 304 {
        text.push_str(&body);
    }
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

fn serve(mut stream: TcpStream, state: &Arc<Mutex<State>>, prefix: &str) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let received = Instant::now();
    let arrived = monotonic_ns();
    let what = format!("{} {}", request.method, request.path);
    let outcome = answer(state, &request, prefix);
    // The answer leaves `latency` after the request arrived, however long it took to compute.
    let latency = state.lock().unwrap().latency;
    std::thread::sleep(latency.saturating_sub(received.elapsed()));
    match outcome {
        Outcome::Reply(reply, scripted) => {
            respond(&mut stream, state, &request, prefix, reply, scripted)
        }
        Outcome::Nothing => {}
        Outcome::Hang(d) => std::thread::sleep(d),
        Outcome::Cut(status) => {
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{{\"workflow_run_id\""
                )
                .as_bytes(),
            );
        }
    }
    state.lock().unwrap().exchanges.push(Exchange {
        service: "github",
        what,
        arrived,
        answered: monotonic_ns(),
    });
}

/// What goes back on the connection.
enum Outcome {
    /// This answer; `true` when it is a scripted fault.
    Reply(Reply, bool),
    /// Close the connection without answering.
    Nothing,
    /// Keep the connection open this long, then close it.
    Hang(Duration),
    /// The start of an answer with this status, then close.
    Cut(u16),
}

/// Handle `request`: a scripted fault when one matches, else what GitHub would do.
fn answer(state: &Arc<Mutex<State>>, request: &Request, prefix: &str) -> Outcome {
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(request.clone());
        let position = s
            .faults
            .iter()
            .position(|(m, p, _)| *m == request.method && request.path.contains(p.as_str()));
        position.and_then(|i| s.faults.remove(i)).map(|(_, _, f)| f)
    };
    match fault {
        Some(Fault::Answer(status, headers, body)) => {
            let reply = Reply {
                status,
                headers,
                body,
            };
            return Outcome::Reply(reply, true);
        }
        Some(Fault::Drop) => return Outcome::Nothing,
        Some(Fault::Hang(d)) => return Outcome::Hang(d),
        _ => {}
    }
    let (reply, hook) = handle(request, state, prefix);
    if let Some((hook, run)) = hook {
        hook(&run);
    }
    match fault {
        Some(Fault::AcceptThenAnswer(code)) => Outcome::Reply(message(code, "Server Error"), true),
        Some(Fault::AcceptThenDrop) => Outcome::Nothing,
        Some(Fault::AcceptThenCut) => Outcome::Cut(reply.status),
        _ => Outcome::Reply(reply, false),
    }
}

pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn query_map(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// GitHub's paging: `per_page` (default 30, at most 100) and `page` (from 1).
pub(crate) struct Page {
    pub per_page: usize,
    pub page: usize,
}

impl Page {
    pub fn from_query(q: &HashMap<String, String>) -> Page {
        let per_page = q
            .get("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(30)
            .min(100);
        let page = q
            .get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        Page { per_page, page }
    }

    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        start..(start + self.per_page).min(total)
    }

    /// The `Link` header GitHub sends: `prev`, `next`, `last`, `first` as they apply, on the
    /// `/repositories/{id}/...` form of the URL, the other parameters kept.
    pub fn link(
        &self,
        total: usize,
        base: &str,
        query: &HashMap<String, String>,
    ) -> Option<String> {
        let last = total.div_ceil(self.per_page).max(1);
        let url = |page: usize| {
            let mut params: Vec<(String, String)> = query
                .iter()
                .filter(|(k, _)| *k != "page" && *k != "per_page")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            params.sort();
            params.push(("per_page".into(), self.per_page.to_string()));
            params.push(("page".into(), page.to_string()));
            let q: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            format!("<{base}?{}>", q.join("&"))
        };
        let mut links = Vec::new();
        if self.page > 1 {
            links.push(format!("{}; rel=\"prev\"", url((self.page - 1).min(last))));
        }
        if self.page < last {
            links.push(format!("{}; rel=\"next\"", url(self.page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if self.page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
        }
        (!links.is_empty()).then(|| links.join(", "))
    }
}

/// The id GitHub's `Link` headers use for the repository (`/repositories/{id}`).
pub const REPOSITORY_ID: u64 = 1_296_269;

type Hooked = Option<(DispatchHook, Run)>;

fn handle(req: &Request, state: &Arc<Mutex<State>>, prefix: &str) -> (Reply, Hooked) {
    let mut s = state.lock().unwrap();
    let expected = format!("Bearer {}", s.token);
    if req.headers.get("authorization") != Some(&expected) {
        return (message(401, "Bad credentials"), None);
    }
    let Some(path) = req.path.strip_prefix(prefix) else {
        return (message(404, "Not Found"), None);
    };
    if req.method == "GET" && path == "/meta" {
        return (objects::meta(&s), None);
    }
    let repo_prefix = format!("/repos/{}/", s.repository);
    let id_prefix = format!("/repositories/{REPOSITORY_ID}/");
    let Some(rest) = path
        .strip_prefix(&repo_prefix)
        .or_else(|| path.strip_prefix(&id_prefix))
    else {
        return (message(404, "Not Found"), None);
    };
    let segments: Vec<String> = rest.split('/').map(decode).collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    if parts.first() == Some(&"deployments") {
        return (deployments::handle(req, &mut s, &parts), None);
    }
    if let ["commits", git_ref] = parts.as_slice() {
        return (deployments::commit(&s, git_ref), None);
    }
    workflows::handle(req, &mut s, &parts)
}
