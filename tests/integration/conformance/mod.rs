//! Do the stand-ins answer like the services? Every answer of the GitHub stand-in is checked
//! against GitHub's OpenAPI description (@octokit/openapi, pinned in scripts/lib.sh), every
//! answer of the ECR stand-in against ECR's model as botocore ships it (pinned in
//! scripts/requirements-test.txt); what moto's ECR does faithfully is pinned down; and the
//! input grammar for repository names is the model's.
//! `scripts/test` installs both references and says where they are.

mod botocore;
mod ecr;
mod github;
mod moto;
mod names;
mod openapi;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The @octokit/openapi release scripts/lib.sh installs (keep the two in step).
pub const OCTOKIT_OPENAPI: &str = "23.0.2";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder of GitHub's descriptions: `ECR_PROMOTE_GITHUB_OPENAPI`, else where scripts/test
/// installs them.
fn openapi_dir() -> PathBuf {
    let dir = std::env::var_os("ECR_PROMOTE_GITHUB_OPENAPI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root().join(format!(
                ".tools/octokit-openapi-{OCTOKIT_OPENAPI}/package/generated"
            ))
        });
    assert!(
        dir.join("api.github.com.json").exists(),
        "GitHub's OpenAPI description is not at {}; run scripts/test, which installs @octokit/openapi@{OCTOKIT_OPENAPI}",
        dir.display()
    );
    dir
}

/// The description of `flavor`: `api.github.com`, `ghes-3.17`, `ghes-3.18`, `ghes-3.19`.
pub fn description(flavor: &str) -> &'static openapi::Description {
    static CACHE: OnceLock<std::sync::Mutex<Vec<(String, &'static openapi::Description)>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some((_, d)) = cache.lock().unwrap().iter().find(|(f, _)| f == flavor) {
        return d;
    }
    let d: &'static openapi::Description = Box::leak(Box::new(openapi::Description::load(
        &openapi_dir().join(format!("{flavor}.json")),
    )));
    assert_eq!(
        d.version, OCTOKIT_OPENAPI,
        "the installed description is not the pinned release"
    );
    cache.lock().unwrap().push((flavor.to_string(), d));
    d
}

/// ECR's model: `ECR_PROMOTE_ECR_MODEL`, else botocore's in .venv.
pub fn ecr_model() -> &'static botocore::Model {
    static MODEL: OnceLock<botocore::Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = std::env::var_os("ECR_PROMOTE_ECR_MODEL")
            .map(PathBuf::from)
            .or_else(|| {
                let lib = root().join(".venv/lib");
                std::fs::read_dir(&lib).ok()?.flatten().find_map(|python| {
                    let dir = python
                        .path()
                        .join("site-packages/botocore/data/ecr/2015-09-21");
                    ["service-2.json", "service-2.json.gz"]
                        .iter()
                        .map(|f| dir.join(f))
                        .find(|p| p.exists())
                })
            })
            .expect("ECR's model (botocore's service-2.json) was not found; run scripts/test, which installs botocore into .venv");
        botocore::Model::load(&path)
    })
}

/// One HTTP exchange as a client sees it.
pub struct Exchange {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Send one request to `base` + `path` (the stand-ins close every connection after answering).
pub fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Exchange {
    use std::io::{Read, Write};
    let rest = base.strip_prefix("http://").expect("an http:// URL");
    let (host, prefix) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, String::new()),
    };
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut text = format!(
        "{method} {prefix}{path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: conformance\r\naccept: application/vnd.github+json\r\n"
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Exchange {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A current-thread runtime for the async SDK calls of a test.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
