//! The GitHub stand-in against GitHub's OpenAPI description: every endpoint it serves, success
//! and error, on github.com and on GitHub Enterprise Server; and the behaviour the description
//! and GitHub's documentation give (deployment lists, paging, auto-inactive statuses, limits).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::openapi::Description;
use super::{Exchange, description, send};
use crate::helpers::github::{Access, FakeGitHub, REPOSITORY_ID, Seed};
use crate::helpers::{DEPLOY_YML, REPOSITORY, TOKEN};

const AUTH: (&str, &str) = ("authorization", "Bearer test-token-7f3a9c1e-not-a-secret");
const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn get(gh: &FakeGitHub, path: &str) -> Exchange {
    send(&gh.url, "GET", path, &[AUTH], None)
}

fn post(gh: &FakeGitHub, path: &str, body: &Value) -> Exchange {
    send(
        &gh.url,
        "POST",
        path,
        &[AUTH, ("content-type", "application/json")],
        Some(&body.to_string()),
    )
}

fn repo(path: &str) -> String {
    format!("/repos/{REPOSITORY}{path}")
}

/// A workflow that declares `n` string inputs `in1`..`inN`.
fn wide_workflow(n: usize) -> String {
    let mut yml = String::from("name: wide\non:\n  workflow_dispatch:\n    inputs:\n");
    for i in 1..=n {
        yml.push_str(&format!("      in{i}:\n        type: string\n"));
    }
    yml.push_str("jobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n");
    yml
}

fn inputs(n: usize) -> Value {
    Value::Object((1..=n).map(|i| (format!("in{i}"), json!("x"))).collect())
}

/// Check every answer `gh` gave (but scripted faults) against `d`: the body against the schema
/// of the operation and status; an error status the operation does not describe against
/// GitHub's `basic-error`. Panics listing every mismatch; returns the (operation, status) seen.
fn check_answers(d: &Description, gh: &FakeGitHub) -> BTreeSet<(String, u16)> {
    let basic_error = json!({"$ref": "#/components/schemas/basic-error"});
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let alias = format!("/repositories/{REPOSITORY_ID}/");
    let canonical = format!("/repos/{REPOSITORY}/");
    for a in gh.answers().iter().filter(|a| !a.scripted) {
        let path = a.path.replacen(&alias, &canonical, 1);
        let what = format!("{} {} → {}", a.method, a.path, a.status);
        let Some(op) = d.operation(&a.method, &path) else {
            problems.push(format!("{what}: the description has no such operation"));
            continue;
        };
        seen.insert((op.id.clone(), a.status));
        if a.status == 204 || a.status == 304 {
            if !a.body.is_empty() {
                problems.push(format!("{what}: a body on a {}", a.status));
            }
            continue;
        }
        let schema = match d.response_schema(&op, a.status) {
            Ok(Some(schema)) => schema.clone(),
            // Described without content (a 409 of create-deployment) or not described (the 401
            // of a bad token, 403s, 5xx): GitHub's error object.
            Ok(None) | Err(_) if a.status >= 400 => basic_error.clone(),
            Ok(None) => {
                if !a.body.is_empty() {
                    problems.push(format!("{what}: described without a body, answered one"));
                }
                continue;
            }
            Err(e) => {
                problems.push(format!("{what}: {e}"));
                continue;
            }
        };
        let body: Value = match serde_json::from_str(&a.body) {
            Ok(v) => v,
            Err(e) if a.status == 200 && path.contains("/contents/") => {
                // The raw media type answers the file itself.
                let raw = a
                    .headers
                    .iter()
                    .any(|(k, v)| k == "content-type" && v.starts_with("text/plain"));
                if !raw {
                    problems.push(format!("{what}: not JSON ({e})"));
                }
                continue;
            }
            Err(e) => {
                problems.push(format!("{what}: not JSON ({e}): {}", a.body));
                continue;
            }
        };
        for error in d.check(&schema, &body) {
            problems.push(format!("{what} ({}): {error}", op.id));
        }
    }
    assert!(
        problems.is_empty(),
        "{} answers break GitHub's description {}:\n{}",
        problems.len(),
        d.version,
        problems.join("\n")
    );
    seen
}

/// Drive every endpoint of the stand-in, success and error; what the test then expects to have
/// been checked.
fn drive(gh: &FakeGitHub) -> Vec<(&'static str, u16)> {
    gh.add_workflow(161_335, "deploy.yml", "main", DEPLOY_YML);
    gh.add_workflow(77, "wide.yml", "main", &wide_workflow(11));
    let mut expect = Vec::new();
    let mut check = |what: &'static str, status: u16, got: Exchange| {
        assert_eq!(got.status, status, "{what}: {}", got.body);
        expect.push((what, status));
        got
    };
    // Workflows and their files.
    check(
        "actions/get-workflow",
        200,
        get(gh, &repo("/actions/workflows/deploy.yml")),
    );
    check(
        "actions/get-workflow",
        200,
        get(gh, &repo("/actions/workflows/161335")),
    );
    check(
        "actions/get-workflow",
        404,
        get(gh, &repo("/actions/workflows/nope.yml")),
    );
    check(
        "actions/get-workflow",
        401,
        send(
            &gh.url,
            "GET",
            &repo("/actions/workflows/deploy.yml"),
            &[("authorization", "Bearer wrong")],
            None,
        ),
    );
    check(
        "repos/get-content",
        200,
        get(gh, &repo("/contents/.github/workflows/deploy.yml?ref=main")),
    );
    let raw = send(
        &gh.url,
        "GET",
        &repo("/contents/.github/workflows/deploy.yml?ref=main"),
        &[AUTH, ("accept", "application/vnd.github.raw+json")],
        None,
    );
    assert_eq!(check("repos/get-content", 200, raw).body, DEPLOY_YML);
    check(
        "repos/get-content",
        404,
        get(gh, &repo("/contents/.github/workflows/deploy.yml?ref=nope")),
    );
    // Dispatches.
    let d = "/actions/workflows/deploy.yml/dispatches";
    check(
        "actions/create-workflow-dispatch",
        204,
        post(
            gh,
            &repo(d),
            &json!({"ref": "main", "inputs": {"environment": "qa"}}),
        ),
    );
    // GitHub Enterprise Server before 3.21 refuses return_run_details.
    let legacy = gh.state.lock().unwrap().legacy_dispatch;
    let details = post(
        gh,
        &repo(d),
        &json!({"ref": "refs/heads/main", "return_run_details": true}),
    );
    let run_id = if legacy {
        check("actions/create-workflow-dispatch", 400, details);
        gh.runs()[0].id
    } else {
        check("actions/create-workflow-dispatch", 200, details).json()["workflow_run_id"]
            .as_u64()
            .unwrap()
    };
    post(gh, &repo(d), &json!({"ref": "main"}));
    check(
        "actions/create-workflow-dispatch",
        422,
        post(
            gh,
            &repo(d),
            &json!({"ref": "main", "inputs": {"nope": "x"}}),
        ),
    );
    check(
        "actions/create-workflow-dispatch",
        422,
        post(gh, &repo(d), &json!({"ref": "nope"})),
    );
    check(
        "actions/create-workflow-dispatch",
        422,
        post(gh, &repo(d), &json!({"inputs": {}})),
    );
    check(
        "actions/create-workflow-dispatch",
        400,
        send(&gh.url, "POST", &repo(d), &[AUTH], Some("{not json")),
    );
    check(
        "actions/create-workflow-dispatch",
        404,
        post(
            gh,
            &repo("/actions/workflows/nope.yml/dispatches"),
            &json!({"ref": "main"}),
        ),
    );
    // Runs.
    let run = check(
        "actions/get-workflow-run",
        200,
        get(gh, &repo(&format!("/actions/runs/{run_id}"))),
    );
    let etag = run.header("etag").expect("a run's ETag").to_string();
    check(
        "actions/get-workflow-run",
        304,
        send(
            &gh.url,
            "GET",
            &repo(&format!("/actions/runs/{run_id}")),
            &[AUTH, ("if-none-match", &etag)],
            None,
        ),
    );
    check(
        "actions/get-workflow-run",
        404,
        get(gh, &repo("/actions/runs/1")),
    );
    let runs = check(
        "actions/list-workflow-runs",
        200,
        get(
            gh,
            &repo(
                "/actions/workflows/deploy.yml/runs?event=workflow_dispatch&branch=main&per_page=1",
            ),
        ),
    );
    assert!(
        runs.header("link")
            .is_some_and(|l| l.contains("rel=\"next\"")),
        "two runs, one a page"
    );
    check(
        "actions/list-workflow-runs",
        404,
        get(gh, &repo("/actions/workflows/nope.yml/runs")),
    );
    // Commits.
    gh.add_commit("4f2c1d0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e", T0 - 3600);
    check(
        "repos/get-commit",
        200,
        get(
            gh,
            &repo("/commits/4f2c1d0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e"),
        ),
    );
    check("repos/get-commit", 200, get(gh, &repo("/commits/main")));
    check(
        "repos/get-commit",
        422,
        get(
            gh,
            &repo("/commits/0000000000000000000000000000000000000000"),
        ),
    );
    // Deployments.
    let created = check(
        "repos/create-deployment",
        201,
        post(
            gh,
            &repo("/deployments"),
            &json!({
            "ref": "4f2c1d0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e", "task": "deploy:ecr-promote",
            "environment": "qa", "auto_merge": false, "required_contexts": [],
            "payload": {"ecr_promote": 2, "image_tag": "ea11a24-20260129125607", "hold": false},
            "description": "ecr-promote", "transient_environment": false, "production_environment": false}),
        ),
    );
    let id = created.json()["id"].as_u64().unwrap();
    check(
        "repos/create-deployment",
        201,
        post(gh, &repo("/deployments"), &json!({"ref": "main"})),
    );
    check(
        "repos/create-deployment",
        422,
        post(gh, &repo("/deployments"), &json!({"environment": "qa"})),
    );
    check(
        "repos/create-deployment",
        422,
        post(gh, &repo("/deployments"), &json!({"ref": "no-such-branch"})),
    );
    check(
        "repos/create-deployment",
        422,
        post(
            gh,
            &repo("/deployments"),
            &json!({"ref": "main", "payload": 7}),
        ),
    );
    check(
        "repos/create-deployment",
        400,
        send(&gh.url, "POST", &repo("/deployments"), &[AUTH], Some("{")),
    );
    gh.failing_contexts(&["ci/build"]);
    check(
        "repos/create-deployment",
        409,
        post(gh, &repo("/deployments"), &json!({"ref": "main"})),
    );
    check(
        "repos/create-deployment",
        201,
        post(
            gh,
            &repo("/deployments"),
            &json!({"ref": "main", "required_contexts": []}),
        ),
    );
    gh.failing_contexts(&[]);
    check(
        "repos/list-deployments",
        200,
        get(
            gh,
            &repo("/deployments?environment=qa&task=deploy%3Aecr-promote&per_page=1"),
        ),
    );
    check(
        "repos/get-deployment",
        200,
        get(gh, &repo(&format!("/deployments/{id}"))),
    );
    check(
        "repos/get-deployment",
        404,
        get(gh, &repo("/deployments/1")),
    );
    let s = format!("/deployments/{id}/statuses");
    let status = check(
        "repos/create-deployment-status",
        201,
        post(
            gh,
            &repo(&s),
            &json!({
        "state": "success", "log_url": "https://github.example/acme/shop/actions/runs/9001",
        "environment_url": "https://qa.example", "description": "deployed", "auto_inactive": true}),
        ),
    );
    assert!(status.header("location").is_some());
    check(
        "repos/create-deployment-status",
        201,
        post(gh, &repo(&s), &json!({"state": "in_progress"})),
    );
    check(
        "repos/create-deployment-status",
        422,
        post(gh, &repo(&s), &json!({"state": "done"})),
    );
    check(
        "repos/create-deployment-status",
        422,
        post(gh, &repo(&s), &json!({})),
    );
    check(
        "repos/create-deployment-status",
        422,
        post(
            gh,
            &repo(&s),
            &json!({"state": "error", "description": "x".repeat(141)}),
        ),
    );
    check(
        "repos/create-deployment-status",
        404,
        post(
            gh,
            &repo("/deployments/1/statuses"),
            &json!({"state": "success"}),
        ),
    );
    check(
        "repos/list-deployment-statuses",
        200,
        get(gh, &repo(&format!("{s}?per_page=1"))),
    );
    check(
        "repos/list-deployment-statuses",
        404,
        get(gh, &repo("/deployments/1/statuses")),
    );
    let one = format!("{s}/{}", status.json()["id"]);
    check("repos/get-deployment-status", 200, get(gh, &repo(&one)));
    check(
        "repos/get-deployment-status",
        404,
        get(gh, &repo(&format!("{s}/1"))),
    );
    // A token without deployments: write, then without any deployments permission, then
    // GitHub failing.
    gh.deployments_access(Access::Read);
    check(
        "repos/list-deployments",
        200,
        get(gh, &repo("/deployments")),
    );
    check(
        "repos/create-deployment",
        403,
        post(gh, &repo("/deployments"), &json!({"ref": "main"})),
    );
    check(
        "repos/create-deployment-status",
        403,
        post(gh, &repo(&s), &json!({"state": "success"})),
    );
    gh.deployments_access(Access::None);
    check(
        "repos/list-deployments",
        403,
        get(gh, &repo("/deployments")),
    );
    gh.deployments_access(Access::Failing(502));
    check(
        "repos/create-deployment",
        502,
        post(gh, &repo("/deployments"), &json!({"ref": "main"})),
    );
    gh.deployments_access(Access::Failing(503));
    check(
        "repos/list-deployments",
        503,
        get(gh, &repo("/deployments")),
    );
    gh.deployments_access(Access::Write);
    check("meta/get", 200, get(gh, "/meta"));
    expect
}

fn assert_covered(seen: &BTreeSet<(String, u16)>, expected: &[(&str, u16)]) {
    for (op, status) in expected {
        assert!(
            seen.contains(&(op.to_string(), *status)),
            "{op} {status} was not checked; checked: {seen:?}"
        );
    }
}

#[test]
fn every_answer_of_the_github_stand_in_matches_the_description() {
    let d = description("api.github.com");
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let expected = drive(&gh);
    // The wide workflow takes 11 inputs on github.com.
    let wide = post(
        &gh,
        &repo("/actions/workflows/wide.yml/dispatches"),
        &json!({"ref": "main", "inputs": inputs(11)}),
    );
    assert_eq!(wide.status, 204, "{}", wide.body);
    let seen = check_answers(d, &gh);
    assert_covered(&seen, &expected);
    // github.com says no version.
    assert!(gh.answers().iter().all(|a| {
        !a.headers
            .iter()
            .any(|(k, _)| k == "x-github-enterprise-version")
    }));
    assert!(get(&gh, "/meta").json().get("installed_version").is_none());
}

#[test]
fn every_answer_on_enterprise_server_matches_its_description() {
    for version in ["3.17", "3.18", "3.19"] {
        let d = description(&format!("ghes-{version}"));
        let gh = FakeGitHub::start_enterprise(REPOSITORY, TOKEN, &format!("{version}.2"));
        assert!(gh.url.ends_with("/api/v3"));
        let expected = drive(&gh);
        let seen = check_answers(d, &gh);
        assert_covered(&seen, &expected);
        for a in gh.answers() {
            assert!(
                a.headers.iter().any(
                    |(k, v)| k == "x-github-enterprise-version" && *v == format!("{version}.2")
                ),
                "{} {} lacks x-github-enterprise-version",
                a.method,
                a.path
            );
        }
        assert_eq!(
            get(&gh, "/meta").json()["installed_version"],
            format!("{version}.2")
        );
    }
}

#[test]
fn enterprise_server_takes_10_dispatch_inputs_before_3_20_and_25_from_then_on() {
    let dispatch = |gh: &FakeGitHub, n: usize| {
        post(
            gh,
            &repo("/actions/workflows/wide.yml/dispatches"),
            &json!({"ref": "main", "inputs": inputs(n)}),
        )
    };
    for (version, limit) in [
        ("3.17.0", 10),
        ("3.19.4", 10),
        ("3.20.0", 25),
        ("3.21.1", 25),
    ] {
        let gh = FakeGitHub::start_enterprise(REPOSITORY, TOKEN, version);
        gh.add_workflow(77, "wide.yml", "main", &wide_workflow(30));
        assert_eq!(
            dispatch(&gh, limit).status,
            204,
            "{version}: {limit} inputs"
        );
        let refused = dispatch(&gh, limit + 1);
        assert_eq!(refused.status, 422, "{version}: {} inputs", limit + 1);
        assert!(
            refused.json()["message"]
                .as_str()
                .unwrap()
                .contains(&format!("up to {limit} `inputs`"))
        );
        // return_run_details is refused before 3.21.
        let details = post(
            &gh,
            &repo("/actions/workflows/wide.yml/dispatches"),
            &json!({"ref": "main", "return_run_details": true}),
        );
        let expected = if version.starts_with("3.21") {
            200
        } else {
            400
        };
        assert_eq!(details.status, expected, "{version}: {}", details.body);
    }
    // The descriptions agree: maxProperties 10 on 3.17-3.19, 25 on github.com.
    let limit = |flavor: &str| {
        let d = description(flavor);
        let op = d
            .operation("POST", "/repos/o/r/actions/workflows/1/dispatches")
            .unwrap();
        d.request_schema(&op).unwrap()["properties"]["inputs"]["maxProperties"].clone()
    };
    assert_eq!(limit("ghes-3.17"), json!(10));
    assert_eq!(limit("ghes-3.19"), json!(10));
    assert_eq!(limit("api.github.com"), json!(25));
}

/// Every page of a list, following the `Link` header's `next` as a client does.
fn all_pages(gh: &FakeGitHub, first: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let page = get(gh, &path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        pages += 1;
        items.extend(page.json().as_array().unwrap().iter().cloned());
        next = page.header("link").and_then(|l| {
            l.split(", ")
                .find(|p| p.ends_with("rel=\"next\""))
                .map(|p| {
                    let url = p.trim_start_matches('<').split('>').next().unwrap();
                    url.strip_prefix(gh.url.as_str()).unwrap().to_string()
                })
        });
    }
    (items, pages)
}

#[test]
fn deployments_are_listed_newest_first_filtered_and_paged_like_github() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let sha = "1111111111111111111111111111111111111111";
    // 250 deployments, times out of id order: the list orders by creation time.
    for i in 0..250u64 {
        let env = ["dev", "qa", "staging"][(i % 3) as usize];
        let at = T0 + (i * 7919) % 250 * 60;
        let seed = Seed::new(env, at).sha(if i % 5 == 0 {
            sha
        } else {
            "2222222222222222222222222222222222222222"
        });
        gh.add_deployment(seed.task(if i % 2 == 0 {
            "deploy:ecr-promote"
        } else {
            "deploy"
        }));
    }
    let (qa, pages) = all_pages(&gh, &repo("/deployments?environment=qa&per_page=30"));
    assert_eq!(qa.len(), 83);
    assert_eq!(pages, 3);
    let times: Vec<&str> = qa
        .iter()
        .map(|d| d["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert!(qa.iter().all(|d| d["environment"] == "qa"));
    // Filters combine.
    let (both, _) = all_pages(
        &gh,
        &repo(&format!(
            "/deployments?environment=qa&task=deploy%3Aecr-promote&sha={sha}&per_page=100"
        )),
    );
    let expected = (0..250u64)
        .filter(|i| i % 3 == 1 && i % 2 == 0 && i % 5 == 0)
        .count();
    assert_eq!(both.len(), expected);
    let (by_ref, _) = all_pages(&gh, &repo("/deployments?ref=main&per_page=100"));
    assert_eq!(by_ref.len(), 250);
    // per_page is capped at 100; the default is 30; the Link header is GitHub's.
    let page = get(&gh, &repo("/deployments?per_page=500&page=2"));
    assert_eq!(page.json().as_array().unwrap().len(), 100);
    let link = page.header("link").unwrap();
    let base = format!("{}/repositories/{REPOSITORY_ID}/deployments", gh.url);
    assert_eq!(
        link,
        format!(
            "<{base}?per_page=100&page=1>; rel=\"prev\", <{base}?per_page=100&page=3>; rel=\"next\", <{base}?per_page=100&page=3>; rel=\"last\", <{base}?per_page=100&page=1>; rel=\"first\""
        )
    );
    assert_eq!(
        get(&gh, &repo("/deployments"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        30
    );
    let last = get(&gh, &repo("/deployments?per_page=100&page=3"));
    assert_eq!(last.json().as_array().unwrap().len(), 50);
    assert!(!last.header("link").unwrap().contains("rel=\"next\""));
    assert_eq!(get(&gh, &repo("/deployments?page=99")).json(), json!([]));
}

#[test]
fn a_success_status_inactivates_earlier_successful_deployments_of_its_environment() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let ok = gh.add_deployment(Seed::new("qa", T0).status("success", T0 + 60));
    let failed = gh.add_deployment(
        Seed::new("qa", T0 + 100)
            .status("success", T0 + 160)
            .status("failure", T0 + 170),
    );
    let transient = gh.add_deployment(
        Seed::new("qa", T0 + 200)
            .transient(true)
            .status("success", T0 + 260),
    );
    let production = gh.add_deployment(
        Seed::new("qa", T0 + 300)
            .production(true)
            .status("success", T0 + 360),
    );
    let elsewhere = gh.add_deployment(Seed::new("staging", T0 + 400).status("success", T0 + 460));
    let prod_env = gh.add_deployment(Seed::new("production", T0 + 500).status("success", T0 + 560));
    let new = post(
        &gh,
        &repo("/deployments"),
        &json!({"ref": "main", "environment": "qa", "required_contexts": []}),
    );
    let new = new.json()["id"].as_u64().unwrap();
    // A newer deployment than the one whose status is set: not "prior", so left alone.
    let later = gh.add_deployment(
        Seed::new("qa", crate::helpers::github::now() + 10).status("success", T0 + 600),
    );
    // Not success: nothing changes.
    post(
        &gh,
        &repo(&format!("/deployments/{new}/statuses")),
        &json!({"state": "in_progress"}),
    );
    assert_eq!(
        gh.deployment(ok).unwrap().latest().unwrap().state,
        "success"
    );
    post(
        &gh,
        &repo(&format!("/deployments/{new}/statuses")),
        &json!({"state": "success"}),
    );
    let state = |id| gh.deployment(id).unwrap().latest().unwrap().state.clone();
    assert_eq!(state(ok), "inactive");
    assert_eq!(state(failed), "failure");
    assert_eq!(state(transient), "success");
    assert_eq!(state(production), "success");
    assert_eq!(state(elsewhere), "success");
    assert_eq!(state(prod_env), "success");
    assert_eq!(state(later), "success");
    assert_eq!(state(new), "success");
    // The inactive status is listed first, and a successful record stays findable.
    let statuses = get(&gh, &repo(&format!("/deployments/{ok}/statuses"))).json();
    let states: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["inactive", "success"]);
    // auto_inactive: false leaves the others alone.
    let other = gh.add_deployment(Seed::new("dev", T0).status("success", T0 + 1));
    let dev = post(
        &gh,
        &repo("/deployments"),
        &json!({"ref": "main", "environment": "dev"}),
    )
    .json()["id"]
        .as_u64()
        .unwrap();
    post(
        &gh,
        &repo(&format!("/deployments/{dev}/statuses")),
        &json!({"state": "success", "auto_inactive": false}),
    );
    assert_eq!(state(other), "success");
}

#[test]
fn created_records_read_back_as_written() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let sha = "4f2c1d0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e";
    gh.add_commit_dated(sha, T0 - 7200, T0 - 3600);
    let payload = json!({"ecr_promote": 2, "image_tag": "t", "image_digests": {"app": "sha256:aa"},
                         "chain": ["dev", "qa"], "from_environment": null, "promotion_id": "ecrp-1",
                         "run_url": "https://github.example/acme/shop/actions/runs/1", "rollback_of": null, "hold": false});
    let d = post(&gh, &repo("/deployments"), &json!({"ref": sha, "environment": "qa", "task": "deploy:ecr-promote", "auto_merge": false, "required_contexts": [], "payload": payload})).json();
    assert_eq!(d["payload"], payload);
    assert_eq!(d["sha"], sha);
    assert_eq!(d["production_environment"], false);
    assert_eq!(d["creator"]["login"], "github-actions[bot]");
    // A short SHA and a branch resolve; the commit carries both dates.
    let c = get(&gh, &repo(&format!("/commits/{}", &sha[..7]))).json();
    assert_eq!(
        c["commit"]["author"]["date"],
        crate::helpers::github::iso(T0 - 7200)
    );
    assert_eq!(
        c["commit"]["committer"]["date"],
        crate::helpers::github::iso(T0 - 3600)
    );
    let prod = post(&gh, &repo("/deployments"), &json!({"ref": "main"})).json();
    assert_eq!(
        (
            prod["environment"].as_str(),
            prod["production_environment"].as_bool(),
            prod["task"].as_str()
        ),
        (Some("production"), Some(true), Some("deploy"))
    );
    assert_eq!(prod["sha"], json!(gh.branch_sha("main").unwrap()));
    // log_url is also the target_url; a status may move the deployment to another environment.
    let id = d["id"].as_u64().unwrap();
    let st = post(
        &gh,
        &repo(&format!("/deployments/{id}/statuses")),
        &json!({"state": "queued", "log_url": "https://l.example/1", "environment": "qa-2"}),
    )
    .json();
    assert_eq!(
        (st["target_url"].as_str(), st["environment"].as_str()),
        (Some("https://l.example/1"), Some("qa-2"))
    );
    let again = get(&gh, &repo(&format!("/deployments/{id}"))).json();
    assert_eq!(
        (
            again["environment"].as_str(),
            again["original_environment"].as_str()
        ),
        (Some("qa-2"), Some("qa"))
    );
    assert_eq!(gh.count("POST", "/deployments"), 3);
}

#[test]
fn thousands_of_deployments_are_served_quickly() {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let start = Instant::now();
    for i in 0..5_000u64 {
        let env = ["dev", "qa", "staging"][(i % 3) as usize];
        let seed = Seed::new(env, T0 + i * 60)
            .payload(json!({"ecr_promote": 2, "image_tag": format!("t-{i}")}))
            .status("in_progress", T0 + i * 60 + 1)
            .status(
                if i % 7 == 0 { "failure" } else { "success" },
                T0 + i * 60 + 30,
            );
        gh.add_deployment(seed);
    }
    let seeded = start.elapsed();
    let start = Instant::now();
    let (staging, pages) = all_pages(&gh, &repo("/deployments?environment=staging&per_page=100"));
    assert_eq!((staging.len(), pages), (1_666, 17));
    for d in staging.iter().take(50) {
        let statuses = get(&gh, &repo(&format!("/deployments/{}/statuses", d["id"]))).json();
        assert_eq!(statuses.as_array().unwrap().len(), 2);
    }
    let post_new = post(
        &gh,
        &repo("/deployments"),
        &json!({"ref": "main", "environment": "staging"}),
    )
    .json();
    post(
        &gh,
        &repo(&format!("/deployments/{}/statuses", post_new["id"])),
        &json!({"state": "success"}),
    );
    let read = start.elapsed();
    assert!(
        seeded < Duration::from_secs(2) && read < Duration::from_secs(5),
        "seeding 5,000 took {seeded:?}; 17 pages, 50 status lists and a status took {read:?}"
    );
    let inactive = gh
        .deployments()
        .iter()
        .filter(|d| d.latest().unwrap().state == "inactive")
        .count();
    assert_eq!(
        inactive,
        (0..5_000).filter(|i| i % 3 == 2 && i % 7 != 0).count()
    );
}

#[test]
fn a_drifting_answer_fails_the_check() {
    let d = description("api.github.com");
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, "");
    let id = gh.add_deployment(Seed::new("qa", T0).status("success", T0 + 1));
    let answer = get(&gh, &repo(&format!("/deployments/{id}")));
    let op = d
        .operation("GET", &repo(&format!("/deployments/{id}")))
        .unwrap();
    let schema = d.response_schema(&op, 200).unwrap().unwrap();
    let good = answer.json();
    assert_eq!(d.check(schema, &good), Vec::<String>::new());
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        change(&mut body);
        d.check(schema, &body).join("\n")
    };
    assert!(
        broken(&|b| drop(b.as_object_mut().unwrap().remove("url"))).contains("`url` is missing")
    );
    assert!(broken(&|b| b["created_at"] = json!("yesterday")).contains("date-time"));
    assert!(broken(&|b| b["id"] = json!("42")).contains("expected integer"));
    assert!(broken(&|b| b["payload"] = json!(7)).contains("oneOf"));
    assert!(broken(&|b| b["sha"] = Value::Null).contains("not nullable"));
    assert!(
        !broken(&|b| b["description"] = Value::Null).contains("description"),
        "description is nullable"
    );
    assert!(broken(&|b| b["creator"]["site_admin"] = json!("no")).contains("/creator/site_admin"));
    // A status whose state GitHub does not have, and a description over 140 characters.
    let op = d
        .operation("POST", &repo(&format!("/deployments/{id}/statuses")))
        .unwrap();
    let schema = d.response_schema(&op, 201).unwrap().unwrap();
    let st = post(
        &gh,
        &repo(&format!("/deployments/{id}/statuses")),
        &json!({"state": "queued"}),
    )
    .json();
    assert!(d.check(schema, &st).is_empty());
    let mut bad = st.clone();
    bad["state"] = json!("done");
    bad["description"] = json!("x".repeat(141));
    let errors = d.check(schema, &bad).join("\n");
    assert!(
        errors.contains("\"done\" is not one of") && errors.contains("more than 140"),
        "{errors}"
    );
    // A workflow run without run_number, an empty object with a property.
    let op = d.operation("GET", "/repos/o/r/actions/runs/1").unwrap();
    let schema = d.response_schema(&op, 200).unwrap().unwrap();
    assert!(d.check(schema, &json!({})).len() >= 20);
    let empty = json!({"$ref": "#/components/schemas/empty-object"});
    assert!(
        d.check(&empty, &json!({"x": 1}))
            .join("")
            .contains("not allowed")
    );
    // And the check of the answers log catches it end to end.
    gh.state
        .lock()
        .unwrap()
        .answers
        .push(crate::helpers::github::Answer {
            method: "GET".into(),
            path: repo(&format!("/deployments/{id}")),
            status: 200,
            headers: vec![],
            body: json!({"id": id}).to_string(),
            scripted: false,
        });
    let caught = std::panic::catch_unwind(|| check_answers(d, &gh));
    let message = *caught.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("`node_id` is missing"), "{message}");
}

#[test]
fn iso_times_are_rfc_3339() {
    use crate::helpers::github::iso;
    assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso(1_769_691_367), "2026-01-29T12:56:07Z");
    assert_eq!(iso(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(iso(4_107_542_399), "2100-02-28T23:59:59Z");
    assert!(super::openapi::is_date_time(&iso(T0)));
}
