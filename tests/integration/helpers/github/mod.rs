//! A local server that answers like GitHub's REST API for what ecr-promote calls: workflows,
//! contents, dispatches (validated the way GitHub validates them) and workflow runs. Faults can be
//! scripted per request. Plain threads and std::net, so a test controls every byte and every hang.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};

/// One workflow of the fake repository.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub id: u64,
    pub path: String,
    pub state: String,
    /// The file's text at each ref (bare branch or tag name).
    pub files: HashMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub workflow_id: u64,
    pub branch: String,
    pub created_at: u64,
    pub inputs: BTreeMap<String, String>,
    pub html_url: String,
    /// The workflow's `run-name` with `${{ inputs.X }}` filled in, or its path.
    pub display_title: String,
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
            r#"{"message":"API rate limit exceeded"}"#.into(),
        )
    }
}

pub type DispatchHook = Arc<dyn Fn(&Run) + Send + Sync>;

#[derive(Default)]
pub struct State {
    pub token: String,
    pub repository: String,
    pub workflows: Vec<Workflow>,
    pub requests: Vec<Request>,
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
    next_run: u64,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn iso(secs: u64) -> String {
    ecr_promote::github::iso8601(secs)
}

impl FakeGitHub {
    /// Start on a free loopback port; `prefix` is `""` for github.com or `/api/v3` for GHES.
    pub fn start(repository: &str, token: &str, prefix: &str) -> FakeGitHub {
        FakeGitHub::start_on("127.0.0.1:0", repository, token, prefix)
    }

    /// Start on `addr` (`0.0.0.0:8080` to be reachable from a container).
    pub fn start_on(addr: &str, repository: &str, token: &str, prefix: &str) -> FakeGitHub {
        let listener = TcpListener::bind(addr).unwrap();
        let url = format!("http://{}{prefix}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            token: token.into(),
            repository: repository.into(),
            next_run: 9000,
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

    pub fn add_workflow(&self, id: u64, file: &str, git_ref: &str, text: &str) {
        let mut s = self.state.lock().unwrap();
        let path = format!(".github/workflows/{file}");
        if let Some(w) = s.workflows.iter_mut().find(|w| w.path == path) {
            w.files.insert(git_ref.into(), text.into());
            return;
        }
        s.workflows.push(Workflow {
            id,
            path,
            state: "active".into(),
            files: HashMap::from([(git_ref.to_string(), text.to_string())]),
        });
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
        s.next_run += 1;
        let id = s.next_run;
        let html_url = format!("https://github.example/{}/actions/runs/{id}", s.repository);
        s.runs.push(Run {
            id,
            workflow_id,
            branch: branch.into(),
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

    pub fn runs(&self) -> Vec<Run> {
        self.state.lock().unwrap().runs.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_part))
            .count()
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

fn respond(stream: &mut TcpStream, status: u16, headers: &[(String, String)], body: &str) {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut text = format!("HTTP/1.1 {status} {reason}\r\nconnection: close\r\n");
    if status != 204 {
        text.push_str(&format!(
            "content-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    if status != 204 {
        text.push_str(body);
    }
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

fn serve(mut stream: TcpStream, state: &Arc<Mutex<State>>, prefix: &str) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
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
            return respond(&mut stream, status, &headers, &body);
        }
        Some(Fault::Drop) => return,
        Some(Fault::Hang(d)) => {
            std::thread::sleep(d);
            return;
        }
        _ => {}
    }
    let (status, body) = handle(&request, state, prefix);
    match fault {
        Some(Fault::AcceptThenAnswer(code)) => {
            respond(&mut stream, code, &[], r#"{"message":"Server Error"}"#)
        }
        Some(Fault::AcceptThenDrop) => {}
        Some(Fault::AcceptThenCut) => {
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{{\"workflow_run_id\"").as_bytes(),
            );
        }
        _ => {
            // A run's ETag travels as a header, as GitHub sends it.
            let etag: Vec<(String, String)> = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("etag").and_then(Value::as_str).map(str::to_string))
                .map(|e| vec![("etag".to_string(), e)])
                .unwrap_or_default();
            respond(&mut stream, status, &etag, &body)
        }
    }
}

fn message(status: u16, text: &str) -> (u16, String) {
    (
        status,
        json!({"message": text, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()})
            .to_string(),
    )
}

fn decode(s: &str) -> String {
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

fn query_map(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn handle(req: &Request, state: &Arc<Mutex<State>>, prefix: &str) -> (u16, String) {
    let mut s = state.lock().unwrap();
    let expected = format!("Bearer {}", s.token);
    if req.headers.get("authorization") != Some(&expected) {
        return message(401, "Bad credentials");
    }
    let Some(path) = req.path.strip_prefix(prefix) else {
        return message(404, "Not Found");
    };
    let repo_prefix = format!("/repos/{}/", s.repository);
    let Some(rest) = path.strip_prefix(&repo_prefix) else {
        return message(404, "Not Found");
    };
    let segments: Vec<String> = rest.split('/').map(decode).collect();
    let find = |s: &State, key: &str| -> Option<Workflow> {
        s.workflows
            .iter()
            .find(|w| w.id.to_string() == key || w.path.rsplit('/').next() == Some(key))
            .cloned()
    };
    match (req.method.as_str(), segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
        ("GET", ["actions", "workflows", key]) => match find(&s, key) {
            Some(w) => (
                200,
                json!({"id": w.id, "node_id": "W", "name": w.path, "path": w.path, "state": w.state}).to_string(),
            ),
            None => message(404, "Not Found"),
        },
        ("GET", ["contents", ..]) => {
            let file = segments[1..].join("/");
            let q = query_map(&req.query);
            let git_ref = q.get("ref").cloned().unwrap_or_else(|| "main".into());
            let text = s
                .workflows
                .iter()
                .find(|w| w.path == file)
                .and_then(|w| w.files.get(&git_ref).cloned());
            match text {
                Some(t) => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(t.as_bytes());
                    // GitHub wraps the base64 at 60 characters.
                    let wrapped: Vec<String> = encoded
                        .as_bytes()
                        .chunks(60)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                    (
                        200,
                        json!({"type": "file", "encoding": "base64", "path": file, "content": wrapped.join("\n") + "\n"})
                            .to_string(),
                    )
                }
                None => message(404, &format!("No commit found for the ref {git_ref}")),
            }
        }
        ("GET", ["actions", "runs", id]) => {
            let Ok(id) = id.parse::<u64>() else {
                return message(404, "Not Found");
            };
            let Some(run) = s.runs.iter().find(|r| r.id == id).cloned() else {
                return message(404, "Not Found");
            };
            let states = s.run_states.entry(id).or_insert_with(|| vec![("queued".into(), None)]);
            let (status, conclusion) = if states.len() > 1 { states.remove(0) } else { states[0].clone() };
            let etag = format!("W/\"{id}-{status}-{}\"", conclusion.clone().unwrap_or_default());
            if req.headers.get("if-none-match") == Some(&etag) {
                return (304, String::new());
            }
            (
                200,
                json!({"id": id, "status": status, "conclusion": conclusion, "html_url": run.html_url,
                       "event": "workflow_dispatch", "head_branch": run.branch, "etag": etag})
                    .to_string(),
            )
        }
        ("GET", ["actions", "workflows", key, "runs"]) => {
            let Some(w) = find(&s, key) else {
                return message(404, "Not Found");
            };
            let q = query_map(&req.query);
            let since = q.get("created").and_then(|c| c.strip_prefix(">=")).map(str::to_string);
            let runs: Vec<Value> = s
                .runs
                .iter()
                .rev()
                .filter(|r| r.workflow_id == w.id)
                .filter(|r| q.get("branch").is_none_or(|b| *b == r.branch))
                .filter(|r| since.as_ref().is_none_or(|t| iso(r.created_at) >= *t))
                .map(|r| {
                    json!({"id": r.id, "event": "workflow_dispatch", "head_branch": r.branch,
                           "created_at": iso(r.created_at), "html_url": r.html_url, "status": "queued",
                           "display_title": r.display_title})
                })
                .collect();
            (200, json!({"total_count": runs.len(), "workflow_runs": runs}).to_string())
        }
        ("POST", ["actions", "workflows", key, "dispatches"]) => {
            let Some(w) = find(&s, key) else {
                return message(404, "Not Found");
            };
            let body: Value = match serde_json::from_str(&req.body) {
                Ok(v) => v,
                Err(_) => return message(400, "Problems parsing JSON"),
            };
            if s.legacy_dispatch && body.get("return_run_details").is_some() {
                return message(
                    400,
                    "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
                );
            }
            let Some(git_ref) = body.get("ref").and_then(Value::as_str) else {
                return message(422, "Invalid request.\n\n\"ref\" wasn't supplied.");
            };
            let bare = git_ref
                .strip_prefix("refs/heads/")
                .or_else(|| git_ref.strip_prefix("refs/tags/"))
                .unwrap_or(git_ref)
                .to_string();
            if w.state != "active" {
                return message(422, "Cannot trigger a 'workflow_dispatch' on a disabled workflow");
            }
            let Some(text) = w.files.get(&bare) else {
                return message(422, &format!("No ref found for: {git_ref}"));
            };
            let mut inputs = BTreeMap::new();
            if let Some(map) = body.get("inputs").and_then(Value::as_object) {
                for (k, v) in map {
                    let Some(v) = v.as_str() else {
                        return message(422, &format!("For 'properties/{k}', {v} is not a string."));
                    };
                    inputs.insert(k.clone(), v.to_string());
                }
            }
            if let Err(why) = validate(text, &inputs) {
                return message(422, &why);
            }
            s.next_run += 1;
            let display_title = run_name(text, &inputs).unwrap_or_else(|| w.path.clone());
            let run = Run {
                id: s.next_run,
                workflow_id: w.id,
                branch: bare,
                created_at: now(),
                inputs,
                html_url: format!("https://github.example/{}/actions/runs/{}", s.repository, s.next_run),
                display_title,
            };
            s.runs.push(run.clone());
            let script = s.run_script.clone();
            if !script.is_empty() {
                s.run_states.insert(run.id, script);
            }
            let hook = s.hook.clone();
            drop(s);
            if let Some(hook) = hook {
                hook(&run);
            }
            if body.get("return_run_details") == Some(&Value::Bool(true)) {
                (
                    200,
                    json!({"workflow_run_id": run.id, "run_url": format!("https://api.github.example/runs/{}", run.id), "html_url": run.html_url})
                        .to_string(),
                )
            } else {
                (204, String::new())
            }
        }
        _ => message(404, "Not Found"),
    }
}

/// The workflow's `run-name` with each `${{ inputs.X }}` (and `|| 'default'`) filled in.
fn run_name(text: &str, inputs: &BTreeMap<String, String>) -> Option<String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let template = doc.get("run-name")?.as_str()?.to_string();
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map(|e| start + e)?;
        let expr = rest[start + 3..end].trim();
        let (name, fallback) = match expr.split_once("||") {
            Some((n, f)) => (n.trim(), f.trim().trim_matches('\'').to_string()),
            None => (expr, String::new()),
        };
        let key = name.strip_prefix("inputs.").unwrap_or(name);
        out.push_str(
            inputs
                .get(key)
                .filter(|v| !v.is_empty())
                .unwrap_or(&fallback),
        );
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// GitHub's own checks of a dispatch against the workflow file, written independently of
/// ecr-promote's pre-flight so the two can disagree in a test.
fn validate(text: &str, inputs: &BTreeMap<String, String>) -> Result<(), String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|_| "Invalid workflow file".to_string())?;
    let on = doc
        .get("on")
        .ok_or("Workflow does not have 'workflow_dispatch' trigger")?;
    let dispatch = match on {
        serde_yaml::Value::String(s) if s == "workflow_dispatch" => serde_yaml::Value::Null,
        serde_yaml::Value::Sequence(v)
            if v.iter().any(|e| e.as_str() == Some("workflow_dispatch")) =>
        {
            serde_yaml::Value::Null
        }
        serde_yaml::Value::Mapping(m) => m
            .get("workflow_dispatch")
            .cloned()
            .ok_or("Workflow does not have 'workflow_dispatch' trigger")?,
        _ => return Err("Workflow does not have 'workflow_dispatch' trigger".into()),
    };
    let declared = dispatch
        .get("inputs")
        .and_then(|i| i.as_mapping())
        .cloned()
        .unwrap_or_default();
    if inputs.len() > 25 {
        return Err("you may only define up to 25 `inputs` for a `workflow_dispatch` event".into());
    }
    let unexpected: Vec<String> = inputs
        .keys()
        .filter(|k| !declared.contains_key(k.as_str()))
        .map(|k| format!("\"{k}\""))
        .collect();
    if !unexpected.is_empty() {
        return Err(format!(
            "Unexpected inputs provided: [{}]",
            unexpected.join(", ")
        ));
    }
    for (name, def) in &declared {
        let name = name.as_str().unwrap_or_default();
        let required = def
            .get("required")
            .and_then(|r| r.as_bool())
            .unwrap_or(false);
        let has_default = def.get("default").is_some();
        let value = inputs.get(name);
        if required && !has_default && value.is_none() {
            return Err(format!("Required input '{name}' not provided"));
        }
        let Some(value) = value else { continue };
        match def.get("type").and_then(|t| t.as_str()) {
            Some("choice") => {
                let options: Vec<String> = def
                    .get("options")
                    .and_then(|o| o.as_sequence())
                    .map(|o| {
                        o.iter()
                            .filter_map(|v| match v {
                                serde_yaml::Value::String(s) => Some(s.clone()),
                                other => serde_yaml::to_string(other)
                                    .ok()
                                    .map(|s| s.trim().to_string()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !options.contains(value) {
                    return Err(format!(
                        "Provided value '{value}' for input '{name}' not in the list of allowed values"
                    ));
                }
            }
            Some("boolean") if value != "true" && value != "false" => {
                return Err(format!(
                    "Provided value '{value}' for input '{name}' is not a boolean"
                ));
            }
            Some("number") if value.parse::<f64>().is_err() => {
                return Err(format!(
                    "Provided value '{value}' for input '{name}' is not a number"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
