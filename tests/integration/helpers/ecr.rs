//! A local server that speaks ECR's JSON protocol (AWS JSON 1.1, `X-Amz-Target`), for what moto
//! cannot do: paging, image status, a per-request latency like a real network's, scripted
//! faults, and counting the calls made. Plain threads and std::net.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    /// Seconds since the epoch.
    pub pushed_at: f64,
    pub status: String,
    /// What BatchGetImage returns.
    pub manifest: String,
    /// What DescribeImageScanFindings answers, in turn (the last one repeats); none: no scan.
    pub scans: Vec<FakeScan>,
}

#[derive(Clone, Debug)]
pub struct FakeScan {
    pub status: String,
    pub description: String,
    pub counts: Vec<(String, u64)>,
}

impl FakeScan {
    pub fn complete(counts: &[(&str, u64)]) -> FakeScan {
        FakeScan {
            status: "COMPLETE".into(),
            description: "The scan was completed successfully.".into(),
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }
    pub fn status(status: &str, description: &str) -> FakeScan {
        FakeScan {
            status: status.into(),
            description: description.into(),
            counts: Vec::new(),
        }
    }
}

/// An OCI image index listing these platforms (and a build attestation).
pub fn index(platforms: &[&str]) -> String {
    let mut manifests: Vec<Value> = platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let parts: Vec<&str> = p.split('/').collect();
            let mut platform = json!({"os": parts[0], "architecture": parts[1]});
            if let Some(v) = parts.get(2) {
                platform["variant"] = json!(v);
            }
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 100,
                   "digest": format!("sha256:{:064x}", i + 100), "platform": platform})
        })
        .collect();
    manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
        "digest": format!("sha256:{:064x}", 999), "platform": {"os": "unknown", "architecture": "unknown"}}));
    json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}).to_string()
}

impl Image {
    /// An ACTIVE single-platform image with these tags.
    pub fn new(digest_seed: u64, tags: &[&str], pushed_at: f64) -> Image {
        Image {
            digest: format!("sha256:{digest_seed:064x}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at,
            status: "ACTIVE".into(),
            manifest: json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1,
                                        "digest": format!("sha256:{:064x}", 1)}, "layers": []}).to_string(),
            scans: Vec::new(),
        }
    }
}

#[derive(Default)]
pub struct EcrState {
    /// Repository name → images.
    pub repositories: HashMap<String, Vec<Image>>,
    /// Calls by operation name.
    pub calls: HashMap<String, usize>,
    /// Answer the next N calls with this error type and status.
    pub faults: Vec<(String, u16, usize)>,
    pub latency: Duration,
}

#[derive(Clone)]
pub struct FakeEcr {
    pub url: String,
    pub state: Arc<Mutex<EcrState>>,
}

impl FakeEcr {
    pub fn start() -> FakeEcr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(EcrState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeEcr { url, state }
    }

    pub fn latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    pub fn add(&self, repository: &str, image: Image) {
        self.state
            .lock()
            .unwrap()
            .repositories
            .entry(repository.to_string())
            .or_default()
            .push(image);
    }

    pub fn fault(&self, error_type: &str, status: u16, times: usize) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((error_type.to_string(), status, times));
    }

    /// Change an image already added (found by digest) in every repository.
    pub fn update(&self, digest: &str, change: impl Fn(&mut Image)) {
        let mut s = self.state.lock().unwrap();
        for images in s.repositories.values_mut() {
            for image in images.iter_mut().filter(|i| i.digest == digest) {
                change(image);
            }
        }
    }

    pub fn calls(&self, operation: &str) -> usize {
        *self
            .state
            .lock()
            .unwrap()
            .calls
            .get(operation)
            .unwrap_or(&0)
    }
}

fn serve(mut stream: TcpStream, state: &Arc<Mutex<EcrState>>) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    // Keep-alive: the SDK reuses connections; answer requests until the client closes.
    while let Some(request) = super::http::read_request(&mut reader) {
        let (headers, body) = (request.headers, request.body);
        let operation = headers
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or_default()
            .to_string();
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let latency = {
            let mut s = state.lock().unwrap();
            *s.calls.entry(operation.clone()).or_default() += 1;
            s.latency
        };
        std::thread::sleep(latency);
        let (status, answer) = handle(&operation, &request, state);
        let text = answer.to_string();
        let mut response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nx-amzn-requestid: fake\r\n",
            text.len()
        );
        if status >= 400 {
            let kind = answer["__type"].as_str().unwrap_or_default();
            response.push_str(&format!("x-amzn-errortype: {kind}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&text);
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn error(kind: &str, status: u16, message: &str) -> (u16, Value) {
    (status, json!({"__type": kind, "message": message}))
}

fn detail(repository: &str, image: &Image) -> Value {
    json!({
        "registryId": "123456789012",
        "repositoryName": repository,
        "imageDigest": image.digest,
        "imageTags": image.tags,
        "imagePushedAt": image.pushed_at,
        "imageSizeInBytes": 1234,
        "imageManifestMediaType": "application/vnd.oci.image.index.v1+json",
        "imageStatus": image.status,
    })
}

fn handle(operation: &str, request: &Value, state: &Arc<Mutex<EcrState>>) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    if let Some(fault) = s.faults.iter_mut().find(|f| f.2 > 0) {
        fault.2 -= 1;
        let (kind, status) = (fault.0.clone(), fault.1);
        return error(&kind, status, "injected fault");
    }
    let repository = request["repositoryName"].as_str().unwrap_or_default();
    let Some(images) = s.repositories.get_mut(repository) else {
        return error(
            "RepositoryNotFoundException",
            400,
            &format!(
                "The repository with name '{repository}' does not exist in the registry with id '123456789012'"
            ),
        );
    };
    match operation {
        "DescribeImages" | "ListImages" => {
            if let Some(ids) = request["imageIds"].as_array() {
                let mut found = Vec::new();
                for id in ids {
                    let hit = images.iter().find(|i| {
                        id["imageTag"]
                            .as_str()
                            .is_some_and(|t| i.tags.iter().any(|x| x == t))
                            || id["imageDigest"].as_str() == Some(i.digest.as_str())
                    });
                    match hit {
                        Some(i) => found.push(detail(repository, i)),
                        None => {
                            return error(
                                "ImageNotFoundException",
                                400,
                                &format!(
                                    "The image with imageId {id} does not exist within the repository with name '{repository}'"
                                ),
                            );
                        }
                    }
                }
                return (200, json!({"imageDetails": found}));
            }
            let tagged_only = request["filter"]["tagStatus"].as_str() == Some("TAGGED");
            let listed: Vec<&Image> = images
                .iter()
                .filter(|i| !tagged_only || !i.tags.is_empty())
                .collect();
            let max = request["maxResults"].as_u64().unwrap_or(100).clamp(1, 1000) as usize;
            let start: usize = request["nextToken"]
                .as_str()
                .and_then(|t| t.strip_prefix("page-"))
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page = &listed[start.min(listed.len())..(start + max).min(listed.len())];
            let mut answer = if operation == "DescribeImages" {
                json!({"imageDetails": page.iter().map(|i| detail(repository, i)).collect::<Vec<_>>()})
            } else {
                let ids: Vec<Value> = page
                    .iter()
                    .flat_map(|i| {
                        i.tags
                            .iter()
                            .map(move |t| json!({"imageDigest": i.digest, "imageTag": t}))
                    })
                    .collect();
                json!({"imageIds": ids})
            };
            if start + max < listed.len() {
                answer["nextToken"] = json!(format!("page-{}", start + max));
            }
            (200, answer)
        }
        "BatchGetImage" => {
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for id in request["imageIds"].as_array().cloned().unwrap_or_default() {
                match images.iter().find(|i| id["imageDigest"].as_str() == Some(i.digest.as_str())) {
                    Some(i) => found.push(json!({"registryId": "123456789012", "repositoryName": repository,
                        "imageId": {"imageDigest": i.digest}, "imageManifest": i.manifest})),
                    None => failures.push(json!({"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"})),
                }
            }
            (200, json!({"images": found, "failures": failures}))
        }
        "DescribeImageScanFindings" => {
            let digest = request["imageId"]["imageDigest"]
                .as_str()
                .unwrap_or_default();
            let Some(image) = images.iter_mut().find(|i| i.digest == digest) else {
                return error("ImageNotFoundException", 400, "The image does not exist");
            };
            if image.scans.is_empty() {
                return error(
                    "ScanNotFoundException",
                    400,
                    &format!(
                        "Image scan does not exist for the image with '{{imageDigest:'{digest}'}}'"
                    ),
                );
            }
            let scan = if image.scans.len() > 1 {
                image.scans.remove(0)
            } else {
                image.scans[0].clone()
            };
            let counts: serde_json::Map<String, Value> = scan
                .counts
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            (
                200,
                json!({"registryId": "123456789012", "repositoryName": repository,
                "imageId": {"imageDigest": digest},
                "imageScanStatus": {"status": scan.status, "description": scan.description},
                "imageScanFindings": {"findingSeverityCounts": counts, "findings": []}}),
            )
        }
        other => error(
            "UnknownOperationException",
            400,
            &format!("{other} is not served here"),
        ),
    }
}
