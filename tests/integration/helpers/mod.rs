//! Shared by the integration tests and the local demo: moto's ECR server, seeding it through the
//! real aws-sdk-ecr client, the GitHub stand-in, and running the binary the way the runner does;
//! `timeline` turns what the stand-ins saw into sequential round trips.

#![allow(dead_code)]

pub mod ecr;
pub mod github;
pub mod http;
pub mod records;
pub mod timeline;
pub mod web;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use github::FakeGitHub;
#[allow(unused_imports)]
pub use github::Fault;

use ecr_promote::config::{INPUTS, input_variable};

/// A made-up token: never a real credential. Tests assert it never leaks.
pub const TOKEN: &str = "test-token-7f3a9c1e-not-a-secret";
pub const REGION: &str = "eu-west-1";
pub const REPOSITORY: &str = "acme/shop";

/// The workflow of the field report, as a dispatch target.
pub const DEPLOY_YML: &str = r#"name: deploy
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      environment:
        description: Target environment
        type: choice
        options: [dev, qa, staging]
        default: dev
      auto_promote:
        description: Auto-promote to the next environment
        type: boolean
        default: true
      image_tag:
        description: Use an existing image (skip the build)
        type: string
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: echo deploying
"#;

fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

fn wait_for_port(addr: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// moto's server, as an ECR API: the one named by ECR_PROMOTE_MOTO_URL (the test script starts
/// one for all tests), or one started here for this process and stopped when it exits.
#[allow(clippy::zombie_processes)] // the watchdog below is meant to outlive every test
pub fn moto_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("ECR_PROMOTE_MOTO_URL") {
            return url;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = moto_server_path();
        // A watchdog shell stops moto when this process ends, however it ends.
        let script = format!(
            "\"$0\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; trap 'kill $m 2>/dev/null' EXIT; \
             while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done",
            parent = std::process::id()
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&server)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {} ({e}); run scripts/test, which installs moto", server.display()));
        let addr = format!("127.0.0.1:{port}");
        assert!(
            wait_for_port(&addr, Duration::from_secs(60)),
            "moto_server ({}) did not start on {addr}; run scripts/test, which installs moto[server]",
            server.display()
        );
        format!("http://{addr}")
    })
}

/// A repository name no other test uses, so tests can share one moto server.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn ecr_client(region: &str) -> aws_sdk_ecr::Client {
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .region(aws_sdk_ecr::config::Region::new(region.to_string()))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}

/// Create `repository` in moto and push one image per tag, in order (the last is the newest).
/// Each tag gets a layer of its own, so a digest of its own (moto's digest hashes the layer
/// digests); the same tag in two repositories is the same image, with the same digest.
pub fn seed(region: &str, repository: &str, tags: &[&str]) {
    let images: Vec<(&str, &str)> = tags.iter().map(|t| (*t, *t)).collect();
    seed_images(region, repository, &images);
}

/// Like `seed`, each `(tag, content)` pushed as an image whose one layer is made from
/// `content`: a tag pushed again with other content moves to another digest.
pub fn seed_images(region: &str, repository: &str, images: &[(&str, &str)]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = ecr_client(region).await;
        let _ = client
            .create_repository()
            .repository_name(repository)
            .send()
            .await;
        for (tag, content) in images {
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7,
                           "digest": ecr::digest_of(&format!("config {content}"))},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                            "size": 1024, "digest": ecr::digest_of(&format!("layer {content}"))}],
                "annotations": {"tag": tag, "repository": repository}
            });
            client
                .put_image()
                .repository_name(repository)
                .image_manifest(manifest.to_string())
                .image_tag(*tag)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "seeding {repository}:{tag}: {}",
                        aws_sdk_ecr::error::DisplayErrorContext(e)
                    )
                });
        }
    });
}

/// A GitHub stand-in holding `deploy.yml` (the field report's workflow) on `main`.
pub fn github_with_deploy(prefix: &str) -> FakeGitHub {
    let gh = FakeGitHub::start(REPOSITORY, TOKEN, prefix);
    gh.add_workflow(161_335, "deploy.yml", "main", DEPLOY_YML);
    gh
}

/// One run of the action's binary, in an environment like the runner's.
pub struct Step {
    bin: PathBuf,
    env: HashMap<String, String>,
    pub dir: tempfile::TempDir,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: HashMap<String, String>,
    pub output_file: String,
    pub summary: String,
    pub elapsed: Duration,
}

impl Ran {
    /// An output, or a panic that shows everything the step printed.
    pub fn out(&self, name: &str) -> &str {
        match self.outputs.get(name) {
            Some(v) => v,
            None => panic!(
                "output {name} missing\noutputs: {:?}\nstdout:\n{}\nstderr:\n{}",
                self.outputs, self.stdout, self.stderr
            ),
        }
    }

    pub fn context(&self) -> String {
        format!(
            "exit {}\noutputs: {:#?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.outputs, self.stdout, self.stderr
        )
    }
}

impl Step {
    /// The runner's environment: every declared input present (its default, or empty), file
    /// commands in a fresh folder, the job's AWS settings pointing at moto.
    pub fn new(bin: impl Into<PathBuf>) -> Step {
        let dir = tempfile::tempdir().unwrap();
        let mut env = HashMap::new();
        for spec in INPUTS {
            let value = if spec.name == "github-token" {
                TOKEN
            } else if spec.default.contains("${{") {
                ""
            } else {
                spec.default
            };
            env.insert(input_variable(spec.name), value.to_string());
        }
        let vars = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", dir.path().display().to_string()),
            ("GITHUB_ACTIONS", "true".into()),
            (
                "GITHUB_OUTPUT",
                dir.path().join("output").display().to_string(),
            ),
            (
                "GITHUB_STEP_SUMMARY",
                dir.path().join("summary").display().to_string(),
            ),
            ("GITHUB_REPOSITORY", REPOSITORY.into()),
            // The stand-in's `main`: a record's commit must exist in the repository.
            (
                "GITHUB_SHA",
                github::fake_sha(&format!("{REPOSITORY}@main")),
            ),
            ("GITHUB_SERVER_URL", "https://github.example".into()),
            ("GITHUB_RUN_ID", "4242".into()),
            ("GITHUB_EVENT_NAME", "push".into()),
            ("GITHUB_REF", "refs/heads/main".into()),
            (
                "GITHUB_WORKFLOW_REF",
                format!("{REPOSITORY}/.github/workflows/deploy.yml@refs/heads/main"),
            ),
            ("GITHUB_API_URL", "http://127.0.0.1:9/unused".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ENDPOINT_URL_ECR", moto_url().to_string()),
            // Never let the SDK look for an EC2 metadata service from a test machine.
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            (
                "AWS_CONFIG_FILE",
                dir.path().join("no-aws-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.path().join("no-aws-credentials").display().to_string(),
            ),
            ("ECR_PROMOTE_RETRY_BASE_MS", "20".into()),
        ];
        for (k, v) in vars {
            env.insert(k.to_string(), v);
        }
        let bin: PathBuf = bin.into();
        // The step runs in its own folder: a relative path must not depend on it.
        let bin = if bin.is_relative() {
            std::env::current_dir().unwrap().join(bin)
        } else {
            bin
        };
        Step { bin, env, dir }
    }

    pub fn github(self, gh: &FakeGitHub) -> Step {
        self.env("GITHUB_API_URL", &gh.url)
    }

    /// Set an input as the runner does: `INPUT_<NAME>`, hyphens kept.
    pub fn input(mut self, name: &str, value: &str) -> Step {
        assert!(
            INPUTS.iter().any(|s| s.name == name),
            "{name} is not an input of the action"
        );
        self.env.insert(input_variable(name), value.to_string());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Step {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// The run was started by this event (its JSON at GITHUB_EVENT_PATH).
    pub fn event(self, json: &str) -> Step {
        let path = self.dir.path().join("event.json");
        std::fs::write(&path, json).unwrap();
        let path = path.display().to_string();
        self.env("GITHUB_EVENT_PATH", &path)
            .env("GITHUB_EVENT_NAME", "workflow_dispatch")
    }

    pub fn unset(mut self, name: &str) -> Step {
        self.env.remove(name);
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn spawn(&self) -> Child {
        self.command(&[]).spawn().expect("start ecr-promote")
    }

    pub fn run(&self) -> Ran {
        self.run_with(&[])
    }

    pub fn run_with(&self, args: &[&str]) -> Ran {
        let start = Instant::now();
        let out = self.command(args).output().expect("run ecr-promote");
        self.collect(out, start.elapsed())
    }

    /// Start the step, wait until `ready` (the step is inside the call to cancel), then signal it
    /// as the runner does (`-INT`, `-TERM`) and collect it; `elapsed` is the time from the signal
    /// to the exit.
    #[cfg(unix)]
    pub fn cancel_when(&self, ready: impl Fn() -> bool, signal: &str) -> Ran {
        let child = self.spawn();
        let start = Instant::now();
        while !ready() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the step never reached the call to cancel"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let signalled = Instant::now();
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
        let out = child.wait_with_output().unwrap();
        self.collect(out, signalled.elapsed())
    }

    pub fn collect(&self, out: std::process::Output, elapsed: Duration) -> Ran {
        let output_file =
            std::fs::read_to_string(self.dir.path().join("output")).unwrap_or_default();
        let outputs = ecr_promote::report::outputs::runner::parse(&output_file).unwrap_or_else(|e| {
            panic!(
                "the runner would fail the step reading GITHUB_OUTPUT: {e}\n{output_file}\nstdout:\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let ran = Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs,
            output_file,
            summary: std::fs::read_to_string(self.dir.path().join("summary")).unwrap_or_default(),
            elapsed,
        };
        // Every run of every test: the token never appears in any stream or file we produce.
        let tokens = [
            Some(TOKEN.to_string()),
            self.env.get(&input_variable("github-token")).cloned(),
        ];
        for token in tokens.into_iter().flatten().filter(|t| t.len() >= 8) {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&token);
            let in_basic_auth =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
            for (what, text) in [
                ("stdout", &ran.stdout),
                ("stderr", &ran.stderr),
                ("GITHUB_OUTPUT", &ran.output_file),
                ("the job summary", &ran.summary),
            ] {
                assert!(
                    !text.contains(&encoded) && !text.contains(&in_basic_auth),
                    "the token leaked, base64-encoded, into {what}"
                );
            }
            for (what, text) in [
                ("stdout", &ran.stdout),
                ("stderr", &ran.stderr),
                ("GITHUB_OUTPUT", &ran.output_file),
                ("the job summary", &ran.summary),
            ] {
                assert!(!text.contains(&token), "the token leaked into {what}");
            }
        }
        ran
    }
}
