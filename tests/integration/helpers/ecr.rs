//! A local server that speaks ECR's JSON protocol (AWS JSON 1.1, `X-Amz-Target`), for what moto
//! cannot do: paging, image status, a per-request latency like a real network's, scripted
//! faults, tag immutability with exclusions, and counting the calls made. It answers as the ECR
//! model of the AWS SDKs describes (`tests/integration/conformance` checks every answer against
//! botocore's `service-2.json`): DescribeImages, ListImages, BatchGetImage, PutImage,
//! BatchDeleteImage, DescribeRepositories and DescribeImageScanFindings. Plain threads and
//! std::net.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::timeline::{Exchange, monotonic_ns};

/// The account every repository of the stand-in belongs to (a made-up one).
pub const ACCOUNT: &str = "123456789012";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The errors every AWS JSON service can answer besides those its model lists, with their
/// statuses: AWS's "Common Errors", plus `ExpiredTokenException`, which services answer for
/// expired session credentials.
pub const COMMON_ERRORS: &[(u16, &str)] = &[
    (400, "AccessDeniedException"),
    (400, "ExpiredTokenException"),
    (400, "IncompleteSignature"),
    (500, "InternalFailure"),
    (400, "InvalidAction"),
    (403, "InvalidClientTokenId"),
    (400, "NotAuthorized"),
    (403, "OptInRequired"),
    (400, "RequestExpired"),
    (503, "ServiceUnavailable"),
    (400, "ThrottlingException"),
    (400, "ValidationError"),
    (403, "UnrecognizedClientException"),
];

/// The operations served and the errors ECR's model lists for each (the conformance test
/// checks this table against the model). Every one is a 400 but `ServerException` (500).
pub const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "DescribeImages",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
            "ImageNotFoundException",
        ],
    ),
    (
        "ListImages",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
        ],
    ),
    (
        "BatchGetImage",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
            "LimitExceededException",
            "UnableToGetUpstreamImageException",
        ],
    ),
    (
        "PutImage",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
            "ImageAlreadyExistsException",
            "LayersNotFoundException",
            "ReferencedImagesNotFoundException",
            "LimitExceededException",
            "ImageTagAlreadyExistsException",
            "ImageDigestDoesNotMatchException",
            "KmsException",
        ],
    ),
    (
        "BatchDeleteImage",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
        ],
    ),
    (
        "DescribeRepositories",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
        ],
    ),
    (
        "DescribeImageScanFindings",
        &[
            "ServerException",
            "InvalidParameterException",
            "RepositoryNotFoundException",
            "ImageNotFoundException",
            "ScanNotFoundException",
            "ValidationException",
        ],
    ),
];

fn error_status(kind: &str) -> Option<u16> {
    if let Some((status, _)) = COMMON_ERRORS.iter().find(|(_, n)| *n == kind) {
        return Some(*status);
    }
    let listed = OPERATIONS.iter().any(|(_, errors)| errors.contains(&kind));
    listed.then_some(if kind == "ServerException" { 500 } else { 400 })
}

/// Whether `operation` can answer `kind`.
fn can_raise(operation: &str, kind: &str) -> bool {
    COMMON_ERRORS.iter().any(|(_, n)| *n == kind)
        || OPERATIONS
            .iter()
            .any(|(op, errors)| *op == operation && errors.contains(&kind))
}

/// `sha256:` and the hex SHA-256 of the manifest's exact bytes: ECR's image digest.
pub fn digest_of(manifest: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(manifest.as_bytes());
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[derive(Clone, Debug)]
pub struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    /// Seconds since the epoch.
    pub pushed_at: f64,
    /// `ACTIVE`, `ARCHIVED` or `ACTIVATING`.
    pub status: String,
    /// The manifest, byte for byte, as BatchGetImage returns it.
    pub manifest: String,
    /// The manifest's media type; `None`: the manifest's own `mediaType` field.
    pub media_type: Option<String>,
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

/// A single-platform OCI image manifest, distinct for each `seed`.
pub fn manifest(seed: u64) -> String {
    json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1469,
                      "digest": format!("sha256:{seed:064x}")},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 3_623_807,
                       "digest": format!("sha256:{:064x}", seed.wrapping_add(1 << 32))}]})
    .to_string()
}

/// An OCI image index listing these platforms (and a build attestation); the platform
/// manifests it names are not stored (see `multi_platform` for an image whose are).
pub fn index(platforms: &[&str]) -> String {
    let entries: Vec<(String, String)> = platforms
        .iter()
        .enumerate()
        .map(|(i, p)| (p.to_string(), format!("sha256:{:064x}", i + 100)))
        .collect();
    index_of(&entries)
}

fn platform(p: &str) -> Value {
    let parts: Vec<&str> = p.split('/').collect();
    let mut platform =
        json!({"os": parts[0], "architecture": parts.get(1).copied().unwrap_or("unknown")});
    if let Some(v) = parts.get(2) {
        platform["variant"] = json!(v);
    }
    platform
}

fn index_of(entries: &[(String, String)]) -> String {
    let mut manifests: Vec<Value> = entries
        .iter()
        .map(|(p, digest)| {
            json!({"mediaType": OCI_MANIFEST, "size": 1_024, "digest": digest, "platform": platform(p)})
        })
        .collect();
    manifests.push(json!({"mediaType": OCI_MANIFEST, "size": 1,
        "digest": format!("sha256:{:064x}", 999), "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}));
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).to_string()
}

/// A multi-platform image as `docker buildx` pushes it: one untagged manifest per platform
/// and a tagged index naming them, every digest the SHA-256 of its manifest. The index first.
pub fn multi_platform(platforms: &[&str], tags: &[&str], pushed_at: f64) -> Vec<Image> {
    let children: Vec<Image> = platforms
        .iter()
        .map(|p| {
            let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1469,
                           "digest": digest_of(&format!("config {p} {tags:?}"))},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 3_623_807,
                            "digest": digest_of(&format!("layer {p} {tags:?}"))}]})
            .to_string();
            Image::from_manifest(&m, None, &[], pushed_at)
        })
        .collect();
    let entries: Vec<(String, String)> = platforms
        .iter()
        .zip(&children)
        .map(|(p, c)| (p.to_string(), c.digest.clone()))
        .collect();
    let mut all = vec![Image::from_manifest(
        &index_of(&entries),
        None,
        tags,
        pushed_at,
    )];
    all.extend(children);
    all
}

impl Image {
    /// An ACTIVE single-platform image with these tags; its digest is `sha256:` and `seed` in
    /// hex (not the hash of its manifest), its manifest distinct for each seed.
    pub fn new(digest_seed: u64, tags: &[&str], pushed_at: f64) -> Image {
        Image {
            digest: format!("sha256:{digest_seed:064x}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at,
            status: "ACTIVE".into(),
            manifest: manifest(digest_seed),
            media_type: None,
            scans: Vec::new(),
        }
    }

    /// An ACTIVE image of this manifest, its digest the SHA-256 of the bytes, as ECR computes it.
    pub fn from_manifest(
        manifest: &str,
        media_type: Option<&str>,
        tags: &[&str],
        pushed_at: f64,
    ) -> Image {
        Image {
            digest: digest_of(manifest),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at,
            status: "ACTIVE".into(),
            manifest: manifest.to_string(),
            media_type: media_type.map(str::to_string),
            scans: Vec::new(),
        }
    }

    /// The media type ECR reports: the one given at push, else the manifest's `mediaType`.
    pub fn manifest_media_type(&self) -> String {
        self.media_type.clone().unwrap_or_else(|| {
            serde_json::from_str::<Value>(&self.manifest)
                .ok()
                .and_then(|m| m["mediaType"].as_str().map(str::to_string))
                .unwrap_or_else(|| OCI_MANIFEST.to_string())
        })
    }

    pub fn is_index(&self) -> bool {
        matches!(self.manifest_media_type().as_str(), OCI_INDEX | DOCKER_LIST)
    }

    /// The compressed size ECR reports: config and layers of a manifest, the manifests an
    /// index lists.
    fn size(&self) -> i64 {
        let m: Value = serde_json::from_str(&self.manifest).unwrap_or(Value::Null);
        let sum = |list: &Value| -> i64 {
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["size"].as_i64())
                .sum()
        };
        m["config"]["size"].as_i64().unwrap_or(0) + sum(&m["layers"]) + sum(&m["manifests"])
    }

    /// The config's media type, which ECR reports as `artifactMediaType` of a manifest.
    fn artifact_media_type(&self) -> Option<String> {
        let m: Value = serde_json::from_str(&self.manifest).ok()?;
        m["config"]["mediaType"].as_str().map(str::to_string)
    }
}

/// One repository: its images and its tag mutability.
#[derive(Clone, Debug)]
pub struct Repository {
    pub images: Vec<Image>,
    /// `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION`.
    pub mutability: String,
    /// WILDCARD exclusion filters (`*` matches any run of characters).
    pub exclusions: Vec<String>,
    pub created_at: f64,
}

impl Repository {
    fn new() -> Repository {
        Repository {
            images: Vec::new(),
            mutability: "MUTABLE".into(),
            exclusions: Vec::new(),
            created_at: 1_700_000_000.0,
        }
    }

    /// Whether `tag`, once set, may be moved to another image.
    pub fn tag_is_mutable(&self, tag: &str) -> bool {
        let excluded = self.exclusions.iter().any(|f| wildcard(f, tag));
        match self.mutability.as_str() {
            "IMMUTABLE" => false,
            "IMMUTABLE_WITH_EXCLUSION" => excluded,
            "MUTABLE_WITH_EXCLUSION" => !excluded,
            _ => true,
        }
    }
}

/// ECR's WILDCARD filter: `*` matches any run of characters, everything else itself.
pub fn wildcard(filter: &str, tag: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    if parts.len() == 1 {
        return filter == tag;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !tag.starts_with(first) || tag.len() < first.len() + last.len() || !tag.ends_with(last) {
        return false;
    }
    let mut rest = &tag[first.len()..tag.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// One answer, as sent: for the conformance test.
#[derive(Clone, Debug)]
pub struct EcrAnswer {
    pub operation: String,
    pub status: u16,
    pub body: Value,
}

/// A scripted error: `kind` with `status` for the next `times` calls (of `operation`, or of
/// every operation that can raise it).
#[derive(Clone, Debug)]
pub struct EcrFault {
    pub operation: Option<String>,
    pub kind: String,
    pub status: u16,
    pub times: usize,
}

#[derive(Default)]
pub struct EcrState {
    /// Repository name → repository.
    pub repositories: HashMap<String, Repository>,
    /// Calls by operation name.
    pub calls: HashMap<String, usize>,
    pub faults: Vec<EcrFault>,
    /// Operations the caller is not allowed (AccessDeniedException).
    pub denied: HashSet<String>,
    pub latency: Duration,
    pub answers: Vec<EcrAnswer>,
    /// When each request arrived and its answer left.
    pub exchanges: Vec<Exchange>,
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

    /// Add an image to `repository` (created MUTABLE if new). An image whose digest the
    /// repository already holds is refused: ECR holds one image per digest.
    pub fn add(&self, repository: &str, image: Image) {
        let mut s = self.state.lock().unwrap();
        let repo = s
            .repositories
            .entry(repository.to_string())
            .or_insert_with(Repository::new);
        assert!(
            !repo.images.iter().any(|i| i.digest == image.digest),
            "{repository} already holds {}",
            image.digest
        );
        for tag in &image.tags {
            assert!(
                !repo.images.iter().any(|i| i.tags.contains(tag)),
                "{repository} already has the tag {tag}: one image per tag"
            );
        }
        repo.images.push(image);
    }

    /// Add every image (`multi_platform`'s index and manifests, say).
    pub fn add_all(&self, repository: &str, images: Vec<Image>) {
        for image in images {
            self.add(repository, image);
        }
    }

    /// Create `repository` (empty) or set its tag mutability: `MUTABLE`, `IMMUTABLE`,
    /// `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION` with WILDCARD `exclusions`.
    pub fn repository(&self, repository: &str, mutability: &str, exclusions: &[&str]) {
        assert!(
            [
                "MUTABLE",
                "IMMUTABLE",
                "IMMUTABLE_WITH_EXCLUSION",
                "MUTABLE_WITH_EXCLUSION"
            ]
            .contains(&mutability),
            "{mutability} is not an ImageTagMutability"
        );
        assert_eq!(
            mutability.ends_with("_WITH_EXCLUSION"),
            !exclusions.is_empty(),
            "exclusion filters go with (and only with) the *_WITH_EXCLUSION settings"
        );
        let mut s = self.state.lock().unwrap();
        let repo = s
            .repositories
            .entry(repository.to_string())
            .or_insert_with(Repository::new);
        repo.mutability = mutability.into();
        repo.exclusions = exclusions.iter().map(|e| e.to_string()).collect();
    }

    /// Answer the next `times` calls that can raise `kind` with it. `kind` must be an error the
    /// ECR model lists for an operation served here, or a common AWS error, with its status.
    pub fn fault(&self, kind: &str, status: u16, times: usize) {
        self.push_fault(None, kind, status, times);
    }

    /// Answer the next `times` calls of `operation` with `kind`.
    pub fn fault_on(&self, operation: &str, kind: &str, status: u16, times: usize) {
        assert!(
            can_raise(operation, kind),
            "ECR's {operation} does not answer {kind} (see OPERATIONS and COMMON_ERRORS)"
        );
        self.push_fault(Some(operation), kind, status, times);
    }

    fn push_fault(&self, operation: Option<&str>, kind: &str, status: u16, times: usize) {
        let expected = error_status(kind).unwrap_or_else(|| {
            panic!("ECR never answers {kind}: it is neither in its model nor a common AWS error (InternalServerException is ServerException in ECR)")
        });
        assert_eq!(status, expected, "ECR answers {kind} with {expected}");
        self.state.lock().unwrap().faults.push(EcrFault {
            operation: operation.map(str::to_string),
            kind: kind.into(),
            status,
            times,
        });
    }

    /// Deny `operation` (`PutImage`, say): AccessDeniedException, as IAM answers.
    pub fn deny(&self, operation: &str) {
        self.state
            .lock()
            .unwrap()
            .denied
            .insert(operation.to_string());
    }

    pub fn allow(&self, operation: &str) {
        self.state.lock().unwrap().denied.remove(operation);
    }

    /// Change an image already added (found by digest) in every repository.
    pub fn update(&self, digest: &str, change: impl Fn(&mut Image)) {
        let mut s = self.state.lock().unwrap();
        for repo in s.repositories.values_mut() {
            for image in repo.images.iter_mut().filter(|i| i.digest == digest) {
                change(image);
            }
        }
    }

    /// The images of `repository`, as stored now.
    pub fn images(&self, repository: &str) -> Vec<Image> {
        self.state
            .lock()
            .unwrap()
            .repositories
            .get(repository)
            .map(|r| r.images.clone())
            .unwrap_or_default()
    }

    /// The image `tag` names in `repository`.
    pub fn tagged(&self, repository: &str, tag: &str) -> Option<Image> {
        self.images(repository)
            .into_iter()
            .find(|i| i.tags.iter().any(|t| t == tag))
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

    /// Every answer given so far, in order.
    pub fn answers(&self) -> Vec<EcrAnswer> {
        self.state.lock().unwrap().answers.clone()
    }

    /// Every request answered so far, with when it arrived and when its answer left.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.lock().unwrap().exchanges.clone()
    }
}

/// The region of the request's SigV4 credential scope.
fn region_of(headers: &HashMap<String, String>) -> String {
    headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

fn serve(mut stream: TcpStream, state: &Arc<Mutex<EcrState>>) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    // Keep-alive: the SDK reuses connections; answer requests until the client closes.
    while let Some(request) = super::http::read_request(&mut reader) {
        let received = Instant::now();
        let arrived = monotonic_ns();
        let (headers, body) = (request.headers, request.body);
        let operation = headers
            .get("x-amz-target")
            .and_then(|t| t.split('.').nth(1))
            .unwrap_or_default()
            .to_string();
        let region = region_of(&headers);
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let latency = {
            let mut s = state.lock().unwrap();
            *s.calls.entry(operation.clone()).or_default() += 1;
            s.latency
        };
        let (status, answer) = handle(&operation, &request, &region, state);
        state.lock().unwrap().answers.push(EcrAnswer {
            operation: operation.clone(),
            status,
            body: answer.clone(),
        });
        let text = answer.to_string();
        let mut response = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nx-amzn-requestid: {}\r\n",
            if status == 200 { "OK" } else { "Error" },
            text.len(),
            request_id()
        );
        if status >= 400 {
            let kind = answer["__type"].as_str().unwrap_or_default();
            response.push_str(&format!("x-amzn-errortype: {kind}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&text);
        // The answer leaves `latency` after the request arrived, however long it took to compute.
        std::thread::sleep(latency.saturating_sub(received.elapsed()));
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
        state.lock().unwrap().exchanges.push(Exchange {
            service: "ecr",
            what: operation,
            arrived,
            answered: monotonic_ns(),
        });
    }
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("5d7e1a2b-0000-4000-8000-{n:012x}")
}

fn error(kind: &str, message: &str) -> (u16, Value) {
    let status = error_status(kind).unwrap_or(400);
    (status, json!({"__type": kind, "message": message}))
}

fn not_found(repository: &str, registry: &str) -> (u16, Value) {
    error(
        "RepositoryNotFoundException",
        &format!(
            "The repository with name '{repository}' does not exist in the registry with id '{registry}'"
        ),
    )
}

fn id_text(id: &Value) -> String {
    format!(
        "{{imageDigest:'{}', imageTag:'{}'}}",
        id["imageDigest"].as_str().unwrap_or("null"),
        id["imageTag"].as_str().unwrap_or("null")
    )
}

fn detail(registry: &str, repository: &str, image: &Image) -> Value {
    let mut d = json!({
        "registryId": registry,
        "repositoryName": repository,
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size(),
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.manifest_media_type(),
        "imageStatus": image.status,
    });
    // ECR leaves imageTags out for an untagged image.
    if !image.tags.is_empty() {
        d["imageTags"] = json!(image.tags);
    }
    if !image.is_index()
        && let Some(t) = image.artifact_media_type()
    {
        d["artifactMediaType"] = json!(t);
    }
    d
}

fn repository_object(registry: &str, region: &str, name: &str, repo: &Repository) -> Value {
    let mut r = json!({
        "repositoryArn": format!("arn:aws:ecr:{region}:{registry}:repository/{name}"),
        "registryId": registry,
        "repositoryName": name,
        "repositoryUri": format!("{registry}.dkr.ecr.{region}.amazonaws.com/{name}"),
        "createdAt": repo.created_at,
        "imageTagMutability": repo.mutability,
        "imageScanningConfiguration": {"scanOnPush": false},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    });
    if !repo.exclusions.is_empty() {
        r["imageTagMutabilityExclusionFilters"] = json!(
            repo.exclusions
                .iter()
                .map(|f| json!({"filterType": "WILDCARD", "filter": f}))
                .collect::<Vec<_>>()
        );
    }
    r
}

/// `maxResults` (1 to 1,000, default 100) and `nextToken` of a listing.
fn paging(request: &Value) -> Result<(usize, usize), (u16, Value)> {
    let max = match request.get("maxResults") {
        None => 100,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=1000) => n as usize,
            _ => {
                return Err(error(
                    "InvalidParameterException",
                    "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'",
                ));
            }
        },
    };
    let start = match request["nextToken"].as_str() {
        None => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return Err(error(
                    "InvalidParameterException",
                    "Invalid parameter at 'nextToken' failed to satisfy constraint: 'The token is not valid'",
                ));
            }
        },
    };
    Ok((max, start))
}

/// ECR's listing filter: `tagStatus` (TAGGED, UNTAGGED, ANY; default ANY) and `imageStatus`
/// (ACTIVE, ARCHIVED, ACTIVATING, ANY; default ACTIVE: an archived image is listed only when
/// asked for).
fn listed(filter: &Value, image: &Image) -> bool {
    let tags = match filter["tagStatus"].as_str().unwrap_or("ANY") {
        "TAGGED" => !image.tags.is_empty(),
        "UNTAGGED" => image.tags.is_empty(),
        _ => true,
    };
    let status = match filter["imageStatus"].as_str().unwrap_or("ACTIVE") {
        "ANY" => true,
        wanted => image.status == wanted,
    };
    tags && status
}

fn find<'a>(images: &'a [Image], id: &Value) -> Option<&'a Image> {
    let tag = id["imageTag"].as_str();
    let digest = id["imageDigest"].as_str();
    images.iter().find(|i| {
        tag.is_none_or(|t| i.tags.iter().any(|x| x == t))
            && digest.is_none_or(|d| i.digest == d)
            && (tag.is_some() || digest.is_some())
    })
}

fn handle(
    operation: &str,
    request: &Value,
    region: &str,
    state: &Arc<Mutex<EcrState>>,
) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    let registry = request["registryId"]
        .as_str()
        .unwrap_or(ACCOUNT)
        .to_string();
    let repository = request["repositoryName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if s.denied.contains(operation) {
        let resource = format!("arn:aws:ecr:{region}:{registry}:repository/{repository}");
        return error(
            "AccessDeniedException",
            &format!(
                "User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci is not authorized to perform: ecr:{operation} on resource: {resource} because no identity-based policy allows the ecr:{operation} action"
            ),
        );
    }
    if let Some(fault) = s.faults.iter_mut().find(|f| {
        f.times > 0
            && f.operation.as_deref().is_none_or(|o| o == operation)
            && can_raise(operation, &f.kind)
    }) {
        fault.times -= 1;
        let (kind, status) = (fault.kind.clone(), fault.status);
        return (status, json!({"__type": kind, "message": "injected fault"}));
    }
    if operation == "DescribeRepositories" {
        return describe_repositories(&s, request, &registry, region);
    }
    if !OPERATIONS.iter().any(|(op, _)| *op == operation) {
        return (
            400,
            json!({"__type": "UnknownOperationException", "message": format!("{operation} is not served here")}),
        );
    }
    let Some(repo) = s.repositories.get_mut(&repository) else {
        return not_found(&repository, &registry);
    };
    match operation {
        "DescribeImages" => describe_images(repo, request, &registry, &repository),
        "ListImages" => list_images(repo, request),
        "BatchGetImage" => batch_get_image(repo, request, &registry, &repository),
        "PutImage" => put_image(repo, request, &registry, &repository),
        "BatchDeleteImage" => batch_delete_image(repo, request),
        "DescribeImageScanFindings" => scan_findings(repo, request, &registry, &repository),
        _ => unreachable!(),
    }
}

fn describe_images(repo: &Repository, request: &Value, registry: &str, name: &str) -> (u16, Value) {
    if let Some(ids) = request["imageIds"].as_array() {
        if request.get("maxResults").is_some() || request.get("nextToken").is_some() {
            return error(
                "InvalidParameterException",
                "Invalid parameter: maxResults and nextToken cannot be used with imageIds",
            );
        }
        // Asked for by id, an image is described whatever its status (the archive guide:
        // "it can still be described ... The image status will be shown as ARCHIVED").
        let mut found = Vec::new();
        for id in ids {
            match find(&repo.images, id) {
                Some(i) => found.push(detail(registry, name, i)),
                None => {
                    return error(
                        "ImageNotFoundException",
                        &format!(
                            "The image with imageId {} does not exist within the repository with name '{name}' in the registry with id '{registry}'",
                            id_text(id)
                        ),
                    );
                }
            }
        }
        return (200, json!({"imageDetails": found}));
    }
    let (max, start) = match paging(request) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let listed: Vec<&Image> = repo
        .images
        .iter()
        .filter(|i| listed(&request["filter"], i))
        .collect();
    let page = &listed[start.min(listed.len())..(start + max).min(listed.len())];
    let mut answer =
        json!({"imageDetails": page.iter().map(|i| detail(registry, name, i)).collect::<Vec<_>>()});
    if start + max < listed.len() {
        answer["nextToken"] = json!(format!("page-{}", start + max));
    }
    (200, answer)
}

fn list_images(repo: &Repository, request: &Value) -> (u16, Value) {
    let (max, start) = match paging(request) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let ids: Vec<Value> = repo
        .images
        .iter()
        .filter(|i| listed(&request["filter"], i))
        .flat_map(|i| {
            if i.tags.is_empty() {
                vec![json!({"imageDigest": i.digest})]
            } else {
                i.tags
                    .iter()
                    .map(|t| json!({"imageDigest": i.digest, "imageTag": t}))
                    .collect()
            }
        })
        .collect();
    let page = &ids[start.min(ids.len())..(start + max).min(ids.len())];
    let mut answer = json!({"imageIds": page});
    if start + max < ids.len() {
        answer["nextToken"] = json!(format!("page-{}", start + max));
    }
    (200, answer)
}

fn batch_get_image(repo: &Repository, request: &Value, registry: &str, name: &str) -> (u16, Value) {
    let ids = request["imageIds"].as_array().cloned().unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return error(
            "InvalidParameterException",
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'",
        );
    }
    // Without acceptedMediaTypes a client gets what it would without an Accept header: a
    // single-platform manifest.
    let accepted: Vec<String> = request["acceptedMediaTypes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec![DOCKER_MANIFEST.to_string(), OCI_MANIFEST.to_string()]);
    let mut images = Vec::new();
    let mut failures = Vec::new();
    let failure = |id: &Value, code: &str, reason: &str| json!({"imageId": id, "failureCode": code, "failureReason": reason});
    for id in &ids {
        let (tag, digest) = (id["imageTag"].as_str(), id["imageDigest"].as_str());
        if tag.is_none() && digest.is_none() {
            failures.push(failure(
                id,
                "MissingDigestAndTag",
                "Missing image digest and tag",
            ));
            continue;
        }
        let Some(image) = find(&repo.images, id) else {
            let by_tag =
                tag.and_then(|t| repo.images.iter().find(|i| i.tags.iter().any(|x| x == t)));
            if by_tag.is_some() && digest.is_some() {
                failures.push(failure(
                    id,
                    "ImageTagDoesNotMatchDigest",
                    "Image tag does not match digest",
                ));
            } else {
                failures.push(failure(id, "ImageNotFound", "Requested image not found"));
            }
            continue;
        };
        let media_type = image.manifest_media_type();
        // An index is an index only for a client that accepts its type; ECR may otherwise
        // answer with a platform manifest it lists (the first one it holds, here).
        let served = if accepted.contains(&media_type) {
            Some(image)
        } else if image.is_index() {
            let m: Value = serde_json::from_str(&image.manifest).unwrap_or(Value::Null);
            m["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|e| {
                    let child = repo
                        .images
                        .iter()
                        .find(|i| Some(i.digest.as_str()) == e["digest"].as_str())?;
                    accepted
                        .contains(&child.manifest_media_type())
                        .then_some(child)
                })
        } else {
            None
        };
        let Some(served) = served else {
            failures.push(failure(id, "ImageNotFound", "Requested image not found"));
            continue;
        };
        let mut image_id = json!({"imageDigest": served.digest});
        if let Some(t) = tag {
            image_id["imageTag"] = json!(t);
        }
        images.push(
            json!({"registryId": registry, "repositoryName": name, "imageId": image_id,
                           "imageManifest": served.manifest,
                           "imageManifestMediaType": served.manifest_media_type()}),
        );
    }
    (200, json!({"images": images, "failures": failures}))
}

fn put_image(repo: &mut Repository, request: &Value, registry: &str, name: &str) -> (u16, Value) {
    let Some(manifest) = request["imageManifest"].as_str().filter(|m| !m.is_empty()) else {
        return error(
            "InvalidParameterException",
            "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Member must not be null'",
        );
    };
    let parsed: Value = match serde_json::from_str(manifest) {
        Ok(v) => v,
        Err(_) => {
            return error(
                "InvalidParameterException",
                "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'",
            );
        }
    };
    let given = request["imageManifestMediaType"].as_str();
    let own = parsed["mediaType"].as_str();
    let media_type = match (given, own) {
        (Some(g), Some(o)) if g != o => {
            return error(
                "InvalidParameterException",
                &format!(
                    "Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'the media type {g} does not match the manifest's mediaType {o}'"
                ),
            );
        }
        (Some(g), _) => g.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) => {
            return error(
                "InvalidParameterException",
                "Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'a manifest without mediaType needs imageManifestMediaType'",
            );
        }
    };
    let digest = digest_of(manifest);
    if let Some(d) = request["imageDigest"].as_str()
        && d != digest
    {
        return error(
            "ImageDigestDoesNotMatchException",
            &format!(
                "Invalid input: Image digest '{d}' does not match the computed digest '{digest}' of the manifest"
            ),
        );
    }
    let tag = request["imageTag"].as_str();
    if let Some(t) = tag {
        let valid = regex_lite::Regex::new(r"^[a-zA-Z0-9_.-]{1,300}$").unwrap();
        if !valid.is_match(t) {
            return error(
                "InvalidParameterException",
                &format!(
                    "Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_.]+'' ({t})"
                ),
            );
        }
    }
    // The image this manifest is: the one stored with the same bytes (a seeded image keeps its
    // given digest), else a new one.
    let existing = repo.images.iter().position(|i| i.manifest == manifest);
    let holder = tag.and_then(|t| {
        repo.images
            .iter()
            .position(|i| i.tags.iter().any(|x| x == t))
    });
    if let (Some(e), Some(h)) = (existing, holder)
        && e == h
    {
        let t = tag.unwrap_or_default();
        return error(
            "ImageAlreadyExistsException",
            &format!(
                "Image with digest '{}' and tag '{t}' already exists in the repository with name '{name}' in registry with id '{registry}'",
                repo.images[e].digest
            ),
        );
    }
    if tag.is_none() && existing.is_some() {
        return error(
            "ImageAlreadyExistsException",
            &format!(
                "Image with digest '{digest}' already exists in the repository with name '{name}' in registry with id '{registry}'"
            ),
        );
    }
    if let (Some(t), Some(_)) = (tag, holder)
        && !repo.tag_is_mutable(t)
    {
        return error(
            "ImageTagAlreadyExistsException",
            &format!(
                "The image tag '{t}' already exists in the '{name}' repository and cannot be overwritten because the tag is immutable."
            ),
        );
    }
    if let (Some(t), Some(h)) = (tag, holder) {
        repo.images[h].tags.retain(|x| x != t);
    }
    let index = match existing {
        Some(e) => e,
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            repo.images.push(Image {
                digest: digest.clone(),
                tags: Vec::new(),
                pushed_at: (now * 1000.0).round() / 1000.0,
                status: "ACTIVE".into(),
                manifest: manifest.to_string(),
                media_type: Some(media_type.clone()),
                scans: Vec::new(),
            });
            repo.images.len() - 1
        }
    };
    let image = &mut repo.images[index];
    if let Some(t) = tag {
        image.tags.push(t.to_string());
    }
    let mut image_id = json!({"imageDigest": image.digest});
    if let Some(t) = tag {
        image_id["imageTag"] = json!(t);
    }
    (
        200,
        json!({"image": {"registryId": registry, "repositoryName": name, "imageId": image_id,
                          "imageManifest": image.manifest,
                          "imageManifestMediaType": image.manifest_media_type()}}),
    )
}

/// The documented behaviour: a tag alone removes that tag, and the image with it when it was
/// the image's last tag; a digest removes the image and all its tags.
fn batch_delete_image(repo: &mut Repository, request: &Value) -> (u16, Value) {
    let ids = request["imageIds"].as_array().cloned().unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return error(
            "InvalidParameterException",
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'",
        );
    }
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for id in &ids {
        let (tag, digest) = (id["imageTag"].as_str(), id["imageDigest"].as_str());
        if tag.is_none() && digest.is_none() {
            failures.push(json!({"imageId": id, "failureCode": "MissingDigestAndTag", "failureReason": "Missing image digest and tag"}));
            continue;
        }
        let Some(position) = find(&repo.images, id).map(|i| i.digest.clone()) else {
            failures.push(json!({"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}));
            continue;
        };
        let index = repo
            .images
            .iter()
            .position(|i| i.digest == position)
            .unwrap();
        match (tag, digest) {
            (Some(t), None) => {
                let image = &mut repo.images[index];
                image.tags.retain(|x| x != t);
                deleted.push(json!({"imageDigest": image.digest, "imageTag": t}));
                if image.tags.is_empty() {
                    repo.images.remove(index);
                }
            }
            _ => {
                let image = repo.images.remove(index);
                if image.tags.is_empty() {
                    deleted.push(json!({"imageDigest": image.digest}));
                }
                for t in &image.tags {
                    deleted.push(json!({"imageDigest": image.digest, "imageTag": t}));
                }
            }
        }
    }
    (200, json!({"imageIds": deleted, "failures": failures}))
}

fn describe_repositories(
    s: &EcrState,
    request: &Value,
    registry: &str,
    region: &str,
) -> (u16, Value) {
    if let Some(names) = request["repositoryNames"].as_array() {
        let mut found = Vec::new();
        for name in names.iter().filter_map(Value::as_str) {
            match s.repositories.get(name) {
                Some(repo) => found.push(repository_object(registry, region, name, repo)),
                None => return not_found(name, registry),
            }
        }
        return (200, json!({"repositories": found}));
    }
    let (max, start) = match paging(request) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut names: Vec<&String> = s.repositories.keys().collect();
    names.sort();
    let page = &names[start.min(names.len())..(start + max).min(names.len())];
    let mut answer = json!({"repositories": page
        .iter()
        .map(|n| repository_object(registry, region, n, &s.repositories[*n]))
        .collect::<Vec<_>>()});
    if start + max < names.len() {
        answer["nextToken"] = json!(format!("page-{}", start + max));
    }
    (200, answer)
}

fn scan_findings(
    repo: &mut Repository,
    request: &Value,
    registry: &str,
    name: &str,
) -> (u16, Value) {
    let id = &request["imageId"];
    let Some(position) = find(&repo.images, id).map(|i| i.digest.clone()) else {
        return error(
            "ImageNotFoundException",
            &format!(
                "The image with imageId {} does not exist within the repository with name '{name}' in the registry with id '{registry}'",
                id_text(id)
            ),
        );
    };
    let image = repo
        .images
        .iter_mut()
        .find(|i| i.digest == position)
        .unwrap();
    let digest = image.digest.clone();
    if image.scans.is_empty() {
        return error(
            "ScanNotFoundException",
            &format!("Image scan does not exist for the image with '{{imageDigest:'{digest}'}}'"),
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
    let mut findings = json!({"findingSeverityCounts": counts, "findings": []});
    if scan.status == "COMPLETE" {
        findings["imageScanCompletedAt"] = json!(image.pushed_at + 60.0);
        findings["vulnerabilitySourceUpdatedAt"] = json!(image.pushed_at);
    }
    let mut image_id = json!({"imageDigest": digest});
    if let Some(t) = id["imageTag"].as_str() {
        image_id["imageTag"] = json!(t);
    }
    (
        200,
        json!({"registryId": registry, "repositoryName": name, "imageId": image_id,
               "imageScanStatus": {"status": scan.status, "description": scan.description},
               "imageScanFindings": findings}),
    )
}
