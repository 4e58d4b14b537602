//! Know the deploy worked: the health gate, the Argo CD gate (playing back Application JSON
//! sequences) and following the dispatched run, each with its limit reached.

use std::time::Duration;

use serde_json::json;

use crate::at;
use crate::helpers::ecr::{FakeEcr, Image};
use crate::helpers::web::{Answer, ScriptedServer};
use crate::helpers::{FakeGitHub, Step, github_with_deploy};

const TAG: &str = "ea11a24-20260129125607";
const ARGO_TOKEN: &str = "argocd-token-3e1b-not-a-secret";

fn registry() -> FakeEcr {
    let ecr = FakeEcr::start();
    ecr.add("shop/backend", Image::new(7, &[TAG], 1.7e9));
    ecr
}

fn step(ecr: &FakeEcr, gh: &FakeGitHub, env: &str) -> Step {
    at(env, TAG, "shop/backend")
        .github(gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
}

fn healthy() -> Answer {
    Answer::new(200, r#"{"status":"ok","version":"ea11a24"}"#)
}

#[test]
fn health_gate_waits_for_consecutive_healthy_answers() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let web = ScriptedServer::start();
    web.script(
        "/health",
        vec![
            Answer::new(503, "starting"),
            healthy(),
            Answer::new(500, "flap"),
            healthy(),
            healthy(),
            healthy(),
        ],
    );
    let ran = step(&ecr, &gh, "dev")
        .input("health-url", &format!("{}/health", web.url))
        .input("health-interval", "1s")
        .input("health-body", "\"ok\"")
        .input("health-headers", "Authorization: Bearer health-secret-123")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(
        web.hits("/health"),
        6,
        "the flap restarted the count of three"
    );
    assert_eq!(
        web.requests()[0].1["authorization"],
        "Bearer health-secret-123"
    );
    for text in [&ran.stdout, &ran.stderr, &ran.summary] {
        assert!(!text.contains("health-secret-123"), "a header value leaked");
    }
    assert!(ran.summary.contains("### Gates"), "{}", ran.summary);
}

#[test]
fn an_unhealthy_deploy_is_not_promoted() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let web = ScriptedServer::start();
    web.script(
        "/health",
        vec![Answer::new(200, r#"{"status":"degraded"}"#)],
    );
    let ran = step(&ecr, &gh, "dev")
        .input("health-url", &format!("{}/health", web.url))
        .input("health-body", "\"ok\"")
        .input("health-interval", "1s")
        .input("timeouts", "dev=2s")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "unhealthy");
    assert_eq!(ran.out("deploy_success"), "false");
    assert_eq!(ran.out("promoted"), "false");
    assert!(
        ran.out("message").contains("lacks"),
        "{}",
        ran.out("message")
    );
    assert!(ran.elapsed < Duration::from_secs(6));
    assert!(gh.runs().is_empty());
    assert!(
        ran.summary.contains("degraded"),
        "the last answers are shown: {}",
        ran.summary
    );
}

#[test]
fn redirects_tls_dns_and_refusals_get_clear_messages() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let web = ScriptedServer::start();
    web.script(
        "/old",
        vec![Answer::new(301, "").header("location", "https://new.example/health")],
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host_port = web.url.trim_start_matches("http://").to_string();
    let cases = [
        (
            format!("{}/old", web.url),
            "redirect to https://new.example/health",
        ),
        // TLS to a plain HTTP server.
        (format!("https://{host_port}/old"), "TLS failed"),
        (
            "http://ecr-promote-test.invalid/health".to_string(),
            "does not resolve",
        ),
        (format!("http://127.0.0.1:{free}/health"), "refused"),
    ];
    for (url, expected) in cases {
        let ran = step(&ecr, &gh, "dev")
            .input("health-url", &url)
            .input("health-interval", "1s")
            .input("health-checks", "1")
            .input("timeouts", "dev=1s")
            .run();
        assert_eq!(ran.out("result"), "unhealthy", "{url}: {}", ran.context());
        assert!(
            ran.out("message").contains(expected),
            "{url}: {}",
            ran.out("message")
        );
    }
}

fn application(sync: &str, health: &str, phase: &str, image: &str) -> String {
    json!({
        "metadata": {"name": "shop-qa", "namespace": "argocd"},
        "spec": {"destination": {"namespace": "shop-qa"}},
        "status": {
            "sync": {"status": sync, "revision": "4f2c1d0"},
            "health": {"status": health},
            "operationState": {"phase": phase, "message": "waiting for healthy state of argoproj.io/Rollout/backend-rollout"},
            "summary": {"images": [image, "public.ecr.aws/docker/library/redis:7"]},
            "resources": [{"kind": "Rollout", "name": "backend-rollout", "health": {"status": health}}]
        }
    })
    .to_string()
}

#[test]
fn argocd_gate_waits_for_synced_healthy_and_the_promoted_tag() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let argo = ScriptedServer::start();
    let img = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/backend:{TAG}");
    let old = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/backend:b0c0ffe-1";
    argo.script(
        "/api/v1/applications/shop-qa",
        vec![
            Answer::new(200, &application("OutOfSync", "Healthy", "Succeeded", old)),
            Answer::new(200, &application("Synced", "Progressing", "Running", &img)),
            Answer::new(
                200,
                &application("Synced", "Progressing", "Succeeded", &img),
            ),
            Answer::new(200, &application("Synced", "Healthy", "Succeeded", &img)),
        ],
    );
    let ran = step(&ecr, &gh, "qa")
        .input("argocd-server", &argo.url)
        .input("argocd-app", "shop-qa")
        .input("argocd-token", ARGO_TOKEN)
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(argo.hits("/api/v1/applications/shop-qa"), 4);
    assert_eq!(
        argo.requests()[0].1["authorization"],
        format!("Bearer {ARGO_TOKEN}")
    );
    for text in [&ran.stdout, &ran.stderr, &ran.summary, &ran.output_file] {
        assert!(!text.contains(ARGO_TOKEN), "the Argo CD token leaked");
    }
}

#[test]
fn argocd_gate_reports_degraded_paused_and_stale_images_at_the_limit() {
    let ecr = registry();
    let gh = github_with_deploy("");
    let img = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/backend:{TAG}");
    let mut paused: serde_json::Value =
        serde_json::from_str(&application("Synced", "Suspended", "Succeeded", &img)).unwrap();
    paused["status"]["resources"][0]["health"]["message"] = json!("CanaryPauseStep");
    let cases = [
        (
            application("Synced", "Degraded", "Succeeded", &img),
            "Degraded",
        ),
        (
            paused.to_string(),
            "paused at a canary step: CanaryPauseStep",
        ),
        (
            application(
                "Synced",
                "Healthy",
                "Succeeded",
                "x.dkr.ecr.eu-west-1.amazonaws.com/shop/backend:b0c0ffe-1",
            ),
            "not `ea11a24-20260129125607`",
        ),
        (
            application("Synced", "Healthy", "Running", &img),
            "operation is running",
        ),
    ];
    for (app, expected) in cases {
        let argo = ScriptedServer::start();
        argo.script("/api/v1/applications/shop-qa", vec![Answer::new(200, &app)]);
        let ran = step(&ecr, &gh, "qa")
            .input("argocd-server", &argo.url)
            .input("argocd-app", "shop-qa")
            .input("argocd-token", ARGO_TOKEN)
            .input("timeouts", "qa=1s")
            .run();
        assert_eq!(
            ran.out("result"),
            "unhealthy",
            "{expected}: {}",
            ran.context()
        );
        assert_eq!(ran.out("deploy_success"), "false");
        assert!(
            ran.out("message").contains(expected),
            "{}",
            ran.out("message")
        );
    }
    // A refused token stops at once.
    let argo = ScriptedServer::start();
    argo.script(
        "/api/v1/applications/shop-qa",
        vec![Answer::new(403, r#"{"error":"permission denied"}"#)],
    );
    let ran = step(&ecr, &gh, "qa")
        .input("argocd-server", &argo.url)
        .input("argocd-app", "shop-qa")
        .input("argocd-token", ARGO_TOKEN)
        .run();
    assert_eq!(ran.out("result"), "unhealthy");
    assert!(
        ran.out("message").contains("refused the token"),
        "{}",
        ran.out("message")
    );
    assert_eq!(argo.hits("/api/v1/applications/shop-qa"), 1);
    assert!(gh.runs().is_empty());
}

#[test]
fn wait_for_completed_follows_the_run_politely() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.script_runs(&[
        ("queued", None),
        ("queued", None),
        ("in_progress", None),
        ("in_progress", None),
        ("completed", Some("success")),
    ]);
    let ran = step(&ecr, &gh, "dev").input("wait-for", "completed").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("run_conclusion"), "success");
    assert_eq!(ran.out("promoted"), "true");
    let run = gh.runs()[0].id;
    let polls: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&format!("/actions/runs/{run}")))
        .collect();
    assert_eq!(polls.len(), 5);
    assert!(
        polls
            .iter()
            .skip(1)
            .all(|r| r.headers.contains_key("if-none-match")),
        "conditional requests"
    );
}

#[test]
fn a_failed_downstream_run_is_downstream_failed() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.script_runs(&[("in_progress", None), ("completed", Some("failure"))]);
    let ran = step(&ecr, &gh, "dev").input("wait-for", "completed").run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "downstream-failed");
    assert_eq!(ran.out("promoted"), "true");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.out("run_conclusion"), "failure");
}

#[test]
fn wait_for_started_and_a_run_waiting_for_approval() {
    let ecr = registry();
    let gh = github_with_deploy("");
    gh.script_runs(&[("queued", None), ("waiting", None)]);
    let ran = step(&ecr, &gh, "dev").input("wait-for", "started").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert!(
        ran.summary.contains("waiting for approval"),
        "{}",
        ran.summary
    );

    // With `completed`, the approval never comes within qa's limit.
    let gh = github_with_deploy("");
    gh.script_runs(&[("queued", None), ("waiting", None)]);
    let ran = step(&ecr, &gh, "dev")
        .input("wait-for", "completed")
        .input("timeouts", "qa=1s")
        .run();
    assert_eq!(ran.code, 1, "{}", ran.context());
    assert_eq!(ran.out("result"), "downstream-timeout");
    assert_eq!(ran.out("promoted"), "true");
    assert_eq!(ran.out("deploy_success"), "true");
    assert!(
        ran.out("message").contains("waiting for approval"),
        "{}",
        ran.out("message")
    );
    assert!(ran.elapsed < Duration::from_secs(5));

    // A run that never starts.
    let gh = github_with_deploy("");
    gh.script_runs(&[("queued", None)]);
    let ran = step(&ecr, &gh, "dev")
        .input("wait-for", "started")
        .input("timeouts", "qa=1s")
        .run();
    assert_eq!(ran.out("result"), "downstream-timeout", "{}", ran.context());
    assert!(
        ran.out("message").contains("`queued`"),
        "{}",
        ran.out("message")
    );
}
