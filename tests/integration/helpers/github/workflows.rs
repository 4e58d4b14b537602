//! Workflows, their files (the contents API), dispatches and runs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Hooked, Page, Reply, Run, State, Workflow, iso, message, now, objects, query_map};

/// GitHub's limit on a dispatch's inputs: 25 on github.com and GHES 3.20+, 10 before.
pub fn max_inputs(s: &State) -> usize {
    match &s.enterprise_version {
        Some(v) if super::version_below(v, (3, 20)) => 10,
        _ => 25,
    }
}

fn find(s: &State, key: &str) -> Option<Workflow> {
    s.workflows
        .iter()
        .find(|w| w.id.to_string() == key || w.path.rsplit('/').next() == Some(key))
        .cloned()
}

/// A file is sent inline up to 1 MB; above that the object has `encoding: none` and no content.
const INLINE_LIMIT: usize = 1024 * 1024;

pub(super) fn handle(req: &super::Request, s: &mut State, parts: &[&str]) -> (Reply, Hooked) {
    let reply = match (req.method.as_str(), parts) {
        ("GET", ["actions", "workflows", key]) => match find(s, key) {
            Some(w) => Reply::json(200, objects::workflow(s, &w)),
            None => message(404, "Not Found"),
        },
        ("GET", ["contents", ..]) => contents(req, s, &parts[1..].join("/")),
        ("GET", ["actions", "runs", id]) => run(req, s, id),
        ("GET", ["actions", "workflows", key, "runs"]) => list_runs(req, s, key),
        ("POST", ["actions", "workflows", key, "dispatches"]) => return dispatch(req, s, key),
        _ => message(404, "Not Found"),
    };
    (reply, None)
}

fn contents(req: &super::Request, s: &State, file: &str) -> Reply {
    let q = query_map(&req.query);
    let git_ref = q.get("ref").cloned().unwrap_or_else(|| "main".into());
    let text = s
        .workflows
        .iter()
        .find(|w| w.path == file)
        .and_then(|w| w.files.get(&git_ref).cloned());
    let Some(text) = text else {
        return message(404, &format!("No commit found for the ref {git_ref}"));
    };
    let accept = req.headers.get("accept").cloned().unwrap_or_default();
    if accept.contains("application/vnd.github.raw") {
        return Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: text,
        };
    }
    Reply::json(
        200,
        objects::content_file(s, file, &git_ref, &text, INLINE_LIMIT),
    )
}

fn run(req: &super::Request, s: &mut State, id: &str) -> Reply {
    let Ok(id) = id.parse::<u64>() else {
        return message(404, "Not Found");
    };
    let Some(run) = s.runs.iter().find(|r| r.id == id).cloned() else {
        return message(404, "Not Found");
    };
    let states = s
        .run_states
        .entry(id)
        .or_insert_with(|| vec![("queued".into(), None)]);
    let (status, conclusion) = if states.len() > 1 {
        states.remove(0)
    } else {
        states[0].clone()
    };
    let etag = format!(
        "W/\"{id}-{status}-{}\"",
        conclusion.clone().unwrap_or_default()
    );
    if req.headers.get("if-none-match") == Some(&etag) {
        return Reply::empty(304).header("etag", &etag);
    }
    Reply::json(200, objects::run(s, &run, &status, conclusion.as_deref())).header("etag", &etag)
}

fn list_runs(req: &super::Request, s: &State, key: &str) -> Reply {
    let Some(w) = find(s, key) else {
        return message(404, "Not Found");
    };
    let q = query_map(&req.query);
    let since = q
        .get("created")
        .and_then(|c| c.strip_prefix(">="))
        .map(str::to_string);
    let matching: Vec<&Run> = s
        .runs
        .iter()
        .rev()
        .filter(|r| r.workflow_id == w.id)
        .filter(|r| q.get("branch").is_none_or(|b| *b == r.branch))
        .filter(|_| q.get("event").is_none_or(|e| e == "workflow_dispatch"))
        .filter(|r| since.as_ref().is_none_or(|t| iso(r.created_at) >= *t))
        .collect();
    let page = Page::from_query(&q);
    let runs: Vec<Value> = matching[page.range(matching.len())]
        .iter()
        .map(|r| {
            let (status, conclusion) = s
                .run_states
                .get(&r.id)
                .and_then(|v| v.first().cloned())
                .unwrap_or(("queued".into(), None));
            objects::run(s, r, &status, conclusion.as_deref())
        })
        .collect();
    let mut reply = Reply::json(
        200,
        json!({"total_count": matching.len(), "workflow_runs": runs}),
    );
    let base = format!(
        "{}/repositories/{}/actions/workflows/{}/runs",
        s.api_url,
        super::REPOSITORY_ID,
        w.id
    );
    if let Some(link) = page.link(matching.len(), &base, &q) {
        reply = reply.header("link", &link);
    }
    reply
}

fn dispatch(req: &super::Request, s: &mut State, key: &str) -> (Reply, Hooked) {
    let Some(w) = find(s, key) else {
        return (message(404, "Not Found"), None);
    };
    let body: Value = match serde_json::from_str(&req.body) {
        Ok(v) => v,
        Err(_) => return (message(400, "Problems parsing JSON"), None),
    };
    if s.legacy_dispatch && body.get("return_run_details").is_some() {
        return (
            message(
                400,
                "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
            ),
            None,
        );
    }
    let Some(git_ref) = body.get("ref").and_then(Value::as_str) else {
        return (
            message(422, "Invalid request.\n\n\"ref\" wasn't supplied."),
            None,
        );
    };
    let bare = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref)
        .to_string();
    if w.state != "active" {
        return (
            message(
                422,
                "Cannot trigger a 'workflow_dispatch' on a disabled workflow",
            ),
            None,
        );
    }
    let Some(text) = w.files.get(&bare) else {
        return (message(422, &format!("No ref found for: {git_ref}")), None);
    };
    let mut inputs = BTreeMap::new();
    if let Some(map) = body.get("inputs").and_then(Value::as_object) {
        let limit = max_inputs(s);
        if map.len() > limit {
            return (
                message(
                    422,
                    &format!(
                        "you may only define up to {limit} `inputs` for a `workflow_dispatch` event"
                    ),
                ),
                None,
            );
        }
        for (k, v) in map {
            let Some(v) = v.as_str() else {
                return (
                    message(422, &format!("For 'properties/{k}', {v} is not a string.")),
                    None,
                );
            };
            inputs.insert(k.clone(), v.to_string());
        }
    }
    if let Err(why) = validate(text, &inputs) {
        return (message(422, &why), None);
    }
    s.next_run += 1;
    let id = s.next_run;
    let display_title = run_name(text, &inputs).unwrap_or_else(|| w.path.clone());
    let head_sha = s.ensure_branch(&bare);
    let run_number = match s.workflows.iter_mut().find(|x| x.id == w.id) {
        Some(x) => {
            x.run_count += 1;
            x.run_count
        }
        None => 1,
    };
    let run = Run {
        id,
        workflow_id: w.id,
        run_number,
        branch: bare,
        head_sha,
        created_at: now(),
        inputs,
        html_url: format!("{}/actions/runs/{id}", s.web_repo_url()),
        display_title,
    };
    s.runs.push(run.clone());
    let script = s.run_script.clone();
    if !script.is_empty() {
        s.run_states.insert(run.id, script);
    }
    let hook = s.hook.clone().map(|h| (h, run.clone()));
    // API version 2026-03-10 always answers with the run's details.
    let details = body.get("return_run_details") == Some(&Value::Bool(true))
        || (!s.legacy_dispatch
            && req.headers.get("x-github-api-version").map(String::as_str) == Some("2026-03-10"));
    let reply = if details {
        Reply::json(
            200,
            json!({"workflow_run_id": run.id,
                   "run_url": format!("{}/actions/runs/{}", s.api_repo_url(), run.id),
                   "html_url": run.html_url}),
        )
    } else {
        Reply::empty(204)
    };
    (reply, hook)
}

/// The workflow's `run-name` with each `${{ inputs.X }}` (and `|| 'default'`) filled in.
pub fn run_name(text: &str, inputs: &BTreeMap<String, String>) -> Option<String> {
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

/// The workflow's `name:`, as GitHub shows it (its path when it has none).
pub fn workflow_name(w: &Workflow) -> String {
    let text = w
        .files
        .get("main")
        .or_else(|| w.files.values().next())
        .cloned()
        .unwrap_or_default();
    serde_yaml::from_str::<serde_yaml::Value>(&text)
        .ok()
        .and_then(|d| d.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .unwrap_or_else(|| w.path.clone())
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
