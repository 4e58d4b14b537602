//! ECR through aws-sdk-ecr: one client per region, credentials and endpoints from the SDK's
//! standard configuration (including `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_ECR`).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageIdentifier, TagStatus};

use super::http::SdkHttp;
use super::{
    Lookup, MANIFEST_TYPES, Manifest, PREFIX_PAGES, Registry, RegistryError, Resolved,
    SUGGESTION_PAGES, SUGGESTIONS, Scan, TagMutability, Tagged, index_platforms,
};
use crate::model::{ImageInfo, Repository};
use crate::suggest::{Candidate, nearest};
use crate::text::error_chain;

/// ECR through aws-sdk-ecr, one client per region, credentials and endpoints from the SDK's
/// standard configuration (including `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_ECR`).
pub struct AwsRegistry {
    clients: BTreeMap<String, aws_sdk_ecr::Client>,
    /// How often a scan in progress is asked about again.
    scan_poll: Duration,
}

impl AwsRegistry {
    /// Build clients for the regions the repositories live in. Makes no network call.
    pub async fn new(repositories: &[Repository], scan_poll: Duration) -> AwsRegistry {
        // A plain-HTTP endpoint (a local emulator) needs no TLS: no certificates are loaded.
        let endpoint = std::env::var("AWS_ENDPOINT_URL_ECR")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_default();
        let http = SdkHttp::new(if endpoint.starts_with("http://") {
            crate::tls::plain()
        } else {
            crate::tls::verified()
        });
        // A DescribeImages answers in well under a second: a dead or hung endpoint is reported
        // within 15 s (three tries of 5 s at most), not after a minute.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(15))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(timeouts);
        // Every client gets its region below; giving one here keeps the loader from looking for
        // a region in the instance metadata service.
        if let Some(repo) = repositories.first() {
            loader = loader.region(aws_config::Region::new(repo.region.clone()));
        }
        // Keys in the environment (what aws-actions/configure-aws-credentials exports) are what
        // the default chain tries first and would take: taking them directly skips building the
        // rest of the chain (an STS client for web identity, ECS, instance metadata), which
        // costs more than the rest of the start-up.
        let set = |name| std::env::var(name).is_ok_and(|v: String| !v.trim().is_empty());
        if set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY") {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        let shared = loader
            // Retries: the SDK's standard mode (3 tries, throttling and 5xx), which
            // AWS_MAX_ATTEMPTS and AWS_RETRY_MODE can change.
            .load()
            .await;
        let mut clients = BTreeMap::new();
        for repo in repositories {
            clients.entry(repo.region.clone()).or_insert_with(|| {
                let config = aws_sdk_ecr::config::Builder::from(&shared)
                    .region(aws_sdk_ecr::config::Region::new(repo.region.clone()))
                    .build();
                aws_sdk_ecr::Client::from_conf(config)
            });
        }
        AwsRegistry { clients, scan_poll }
    }

    async fn suggestions(
        &self,
        client: &aws_sdk_ecr::Client,
        repo: &Repository,
        tag: &str,
    ) -> Vec<String> {
        let mut pages = tagged_images(client, repo).send();
        let mut candidates = Vec::new();
        for _ in 0..SUGGESTION_PAGES {
            match pages.next().await {
                Some(Ok(page)) => {
                    for detail in page.image_details() {
                        let pushed_at = detail.image_pushed_at().map(|t| t.secs()).unwrap_or(0);
                        for t in detail.image_tags() {
                            candidates.push(Candidate {
                                tag: t.clone(),
                                pushed_at,
                            });
                        }
                    }
                }
                // Suggestions are a courtesy: a failure to list leaves them out, nothing more.
                Some(Err(e)) => {
                    tracing::debug!(
                        "listing tags for suggestions failed: {}",
                        DisplayErrorContext(&e)
                    );
                    break;
                }
                None => break,
            }
        }
        nearest(tag, &candidates, SUGGESTIONS)
    }
}

impl Registry for AwsRegistry {
    async fn lookup(&self, repo: &Repository, tag: &str) -> Result<Lookup, RegistryError> {
        let client = self.client(repo)?;
        match describe_tag(client, repo, tag).await? {
            Described::Image(detail) => {
                let digest = detail.image_digest().unwrap_or_default().to_string();
                if digest.is_empty() {
                    return Err(RegistryError::Other(format!(
                        "DescribeImages returned no digest for {}:{tag}",
                        repo.name
                    )));
                }
                Ok(Lookup::Found(info_of(&detail, digest)))
            }
            Described::NoTag => Ok(Lookup::TagMissing {
                suggestions: self.suggestions(client, repo, tag).await,
            }),
            Described::NoRepository => Ok(Lookup::RepositoryMissing),
        }
    }

    async fn resolve_prefix(
        &self,
        repo: &Repository,
        prefix: &str,
    ) -> Result<Resolved, RegistryError> {
        let client = self.client(repo)?;
        let mut pages = tagged_images(client, repo).send();
        // ECR lists images in no documented order, so the newest can be on any page: every page
        // is read, up to the bound.
        let mut best: Option<(i64, String, ImageInfo)> = None;
        let mut read = 0;
        while let Some(page) = pages.next().await {
            read += 1;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    return match classify(&err) {
                        Classified::RepositoryMissing => Ok(Resolved::RepositoryMissing),
                        Classified::TagMissing => Ok(Resolved::NoMatch { pages: read }),
                        Classified::Error(e) => Err(e),
                    };
                }
            };
            for detail in page.image_details() {
                let active = detail.image_status().is_none_or(|s| s.as_str() == "ACTIVE");
                let Some(digest) = detail.image_digest().filter(|_| active) else {
                    continue;
                };
                let pushed = detail.image_pushed_at().map(|t| t.secs()).unwrap_or(0);
                for tag in detail.image_tags().iter().filter(|t| t.starts_with(prefix)) {
                    let better = best
                        .as_ref()
                        .is_none_or(|(p, t, _)| (pushed, tag.as_str()) > (*p, t.as_str()));
                    if better {
                        best = Some((pushed, tag.clone(), info_of(detail, digest.to_string())));
                    }
                }
            }
            if read == PREFIX_PAGES {
                if pages.next().await.is_some() {
                    return Err(RegistryError::Other(format!(
                        "{} holds more than {} tagged images: a prefix cannot be resolved in bounded time; give the exact tag",
                        repo.name,
                        PREFIX_PAGES * 1000
                    )));
                }
                break;
            }
        }
        Ok(match best {
            Some((_, tag, info)) => Resolved::Found {
                tag,
                info,
                pages: read,
            },
            None => Resolved::NoMatch { pages: read },
        })
    }

    async fn platforms(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        let out = get_manifest(self.client(repo)?, repo, digest)
            .send()
            .await
            .map_err(|err| match classify_for(&err, "ecr:BatchGetImage") {
                Classified::Error(e) => e,
                _ => RegistryError::Other(format!(
                    "BatchGetImage found no image {digest} in {}",
                    repo.name
                )),
            })?;
        let Some(manifest) = out.images().first().and_then(|i| i.image_manifest()) else {
            let why = out
                .failures()
                .first()
                .and_then(|f| f.failure_reason())
                .unwrap_or("no manifest returned");
            return Err(RegistryError::Other(format!(
                "BatchGetImage could not read {digest} in {}: {why} (the role needs ecr:BatchGetImage)",
                repo.name
            )));
        };
        Ok(index_platforms(manifest))
    }

    async fn scan(
        &self,
        repo: &Repository,
        digest: &str,
        wait: Duration,
    ) -> Result<Scan, RegistryError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let scan = self.scan_once(repo, digest).await?;
            let now = tokio::time::Instant::now();
            if scan != Scan::InProgress || now >= deadline {
                return Ok(scan);
            }
            tracing::info!(
                "the scan of {}@{digest} is in progress; asking again",
                repo.name
            );
            tokio::time::sleep(self.scan_poll.min(deadline - now)).await;
        }
    }

    async fn mutability(&self, repo: &Repository) -> Result<TagMutability, RegistryError> {
        let client = self.client(repo)?;
        let out = client
            .describe_repositories()
            .set_registry_id(repo.registry_id.clone())
            .repository_names(&repo.name)
            .send()
            .await
            .map_err(|err| match classify_for(&err, "ecr:DescribeRepositories") {
                Classified::Error(e) => e,
                _ => RegistryError::Other(format!("no repository {}", repo.name)),
            })?;
        let Some(found) = out.repositories().first() else {
            return Err(RegistryError::Other(format!(
                "DescribeRepositories did not describe {}",
                repo.name
            )));
        };
        Ok(TagMutability {
            setting: found
                .image_tag_mutability()
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "MUTABLE".into()),
            // WILDCARD is the only filter type ECR has; another would be PutImage's to judge.
            exclusions: found
                .image_tag_mutability_exclusion_filters()
                .iter()
                .filter(|f| f.filter_type().as_str() == "WILDCARD")
                .map(|f| f.filter().to_string())
                .collect(),
        })
    }

    async fn tagged_digest(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> Result<Option<String>, RegistryError> {
        Ok(match describe_tag(self.client(repo)?, repo, tag).await? {
            Described::Image(detail) => detail.image_digest,
            Described::NoTag | Described::NoRepository => None,
        })
    }

    async fn manifest(&self, repo: &Repository, digest: &str) -> Result<Manifest, RegistryError> {
        let out = get_manifest(self.client(repo)?, repo, digest)
            .send()
            .await
            .map_err(|err| match classify_for(&err, "ecr:BatchGetImage") {
                Classified::Error(e) => e,
                _ => RegistryError::Other(format!("no repository {}", repo.name)),
            })?;
        let Some(image) = out.images().first() else {
            let why = out
                .failures()
                .first()
                .and_then(|f| f.failure_reason())
                .unwrap_or("no manifest returned");
            return Err(RegistryError::Other(format!(
                "BatchGetImage could not read {digest} in {}: {why}",
                repo.name
            )));
        };
        let bytes = image.image_manifest().unwrap_or_default().to_string();
        let served = image.image_id().and_then(|i| i.image_digest());
        if bytes.is_empty() || served.is_some_and(|d| d != digest) {
            return Err(RegistryError::Other(format!(
                "BatchGetImage answered for {digest} in {} with another manifest ({})",
                repo.name,
                served.unwrap_or("none")
            )));
        }
        // ECR reports the type; a manifest carries its own `mediaType` otherwise.
        let media_type = image
            .image_manifest_media_type()
            .map(str::to_string)
            .or_else(|| {
                serde_json::from_str::<serde_json::Value>(&bytes)
                    .ok()?
                    .get("mediaType")?
                    .as_str()
                    .map(str::to_string)
            })
            .ok_or_else(|| {
                RegistryError::Other(format!(
                    "the manifest of {digest} in {} has no media type",
                    repo.name
                ))
            })?;
        Ok(Manifest {
            digest: digest.to_string(),
            bytes,
            media_type,
        })
    }

    async fn put_tag(
        &self,
        repo: &Repository,
        manifest: &Manifest,
        tag: &str,
    ) -> Result<Tagged, RegistryError> {
        let client = self.client(repo)?;
        let answer = client
            .put_image()
            .repository_name(&repo.name)
            .set_registry_id(repo.registry_id.clone())
            .image_manifest(&manifest.bytes)
            .image_manifest_media_type(&manifest.media_type)
            // ECR refuses bytes whose digest is not this one: the tag names exactly it.
            .image_digest(&manifest.digest)
            .image_tag(tag)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(Tagged::Moved(
                out.image()
                    .and_then(|i| i.image_id())
                    .and_then(|i| i.image_digest())
                    .unwrap_or_default()
                    .to_string(),
            )),
            Err(err) => {
                let code = err.as_service_error().and_then(|e| e.code());
                let message = err
                    .as_service_error()
                    .and_then(|e| e.message())
                    .unwrap_or_default()
                    .to_string();
                match code {
                    Some("ImageAlreadyExistsException") => Ok(Tagged::AlreadyThere),
                    Some("ImageTagAlreadyExistsException") => {
                        Err(RegistryError::TagImmutable(message))
                    }
                    _ => Err(match classify_for(&err, "ecr:PutImage") {
                        Classified::Error(e) => e,
                        _ => RegistryError::Other(format!("no repository {}", repo.name)),
                    }),
                }
            }
        }
    }

    async fn remove_tag(&self, repo: &Repository, tag: &str) -> Result<(), RegistryError> {
        let client = self.client(repo)?;
        let out = client
            .batch_delete_image()
            .repository_name(&repo.name)
            .set_registry_id(repo.registry_id.clone())
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
            .map_err(|err| match classify_for(&err, "ecr:BatchDeleteImage") {
                Classified::Error(e) => e,
                _ => RegistryError::Other(format!("no repository {}", repo.name)),
            })?;
        match out.failures().first() {
            // Gone already: what was wanted.
            Some(f)
                if f.failure_code()
                    .is_some_and(|c| c.as_str() == "ImageNotFound") =>
            {
                Ok(())
            }
            Some(f) => Err(RegistryError::Other(format!(
                "BatchDeleteImage could not remove {tag} in {}: {}",
                repo.name,
                f.failure_reason().unwrap_or("no reason given")
            ))),
            None => Ok(()),
        }
    }
}

impl AwsRegistry {
    async fn scan_once(&self, repo: &Repository, digest: &str) -> Result<Scan, RegistryError> {
        let client = self.client(repo)?;
        let answer = client
            .describe_image_scan_findings()
            .repository_name(&repo.name)
            .set_registry_id(repo.registry_id.clone())
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .max_results(1)
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(err) => {
                let code = err
                    .as_service_error()
                    .and_then(|e| e.code())
                    .unwrap_or_default();
                if code == "ScanNotFoundException" {
                    return Ok(Scan::Missing);
                }
                return Err(match classify_for(&err, "ecr:DescribeImageScanFindings") {
                    Classified::Error(e) => e,
                    _ => RegistryError::Other(format!(
                        "no image {digest} in {} to read the scan of",
                        repo.name
                    )),
                });
            }
        };
        let status = out
            .image_scan_status()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string());
        let description = out
            .image_scan_status()
            .and_then(|s| s.description())
            .unwrap_or_default()
            .to_string();
        Ok(match status.as_deref() {
            Some("COMPLETE") | Some("ACTIVE") => {
                let counts = out
                    .image_scan_findings()
                    .and_then(|f| f.finding_severity_counts())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.as_str().to_string(), u64::try_from(*v).unwrap_or(0)))
                            .collect()
                    })
                    .unwrap_or_default();
                Scan::Complete(counts)
            }
            Some("IN_PROGRESS") | Some("PENDING") => Scan::InProgress,
            Some(other) => Scan::Failed(
                format!("{other}: {description}")
                    .trim_end_matches(": ")
                    .to_string(),
            ),
            None => Scan::Missing,
        })
    }
}

impl AwsRegistry {
    fn client(&self, repo: &Repository) -> Result<&aws_sdk_ecr::Client, RegistryError> {
        self.clients
            .get(&repo.region)
            .ok_or_else(|| RegistryError::Other(format!("no client for region {}", repo.region)))
    }
}

/// Every tagged image of a repository, 1,000 a page.
fn tagged_images(
    client: &aws_sdk_ecr::Client,
    repo: &Repository,
) -> aws_sdk_ecr::operation::describe_images::paginator::DescribeImagesPaginator {
    client
        .describe_images()
        .repository_name(&repo.name)
        .set_registry_id(repo.registry_id.clone())
        .filter(
            DescribeImagesFilter::builder()
                .tag_status(TagStatus::Tagged)
                .build(),
        )
        .max_results(1000)
        .into_paginator()
}

fn info_of(detail: &aws_sdk_ecr::types::ImageDetail, digest: String) -> ImageInfo {
    ImageInfo {
        digest,
        pushed_at: detail
            .image_pushed_at()
            .and_then(|t| t.fmt(aws_smithy_types_format()).ok()),
        size_bytes: detail.image_size_in_bytes(),
        status: detail.image_status().map(|s| s.as_str().to_string()),
    }
}

fn aws_smithy_types_format() -> aws_sdk_ecr::primitives::DateTimeFormat {
    aws_sdk_ecr::primitives::DateTimeFormat::DateTime
}

/// `BatchGetImage` of one digest with every manifest type accepted: ECR answers with the
/// manifest as pushed, an index as an index.
fn get_manifest(
    client: &aws_sdk_ecr::Client,
    repo: &Repository,
    digest: &str,
) -> aws_sdk_ecr::operation::batch_get_image::builders::BatchGetImageFluentBuilder {
    let mut request = client
        .batch_get_image()
        .repository_name(&repo.name)
        .set_registry_id(repo.registry_id.clone())
        .image_ids(ImageIdentifier::builder().image_digest(digest).build());
    for t in MANIFEST_TYPES {
        request = request.accepted_media_types(*t);
    }
    request
}

/// What `DescribeImages` of one tag found.
enum Described {
    Image(Box<aws_sdk_ecr::types::ImageDetail>),
    /// An empty answer, or `ImageNotFoundException`.
    NoTag,
    NoRepository,
}

/// `DescribeImages` of one tag.
async fn describe_tag(
    client: &aws_sdk_ecr::Client,
    repo: &Repository,
    tag: &str,
) -> Result<Described, RegistryError> {
    let answer = client
        .describe_images()
        .repository_name(&repo.name)
        .set_registry_id(repo.registry_id.clone())
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await;
    match answer {
        Ok(out) => Ok(
            match out.image_details.unwrap_or_default().into_iter().next() {
                Some(detail) => Described::Image(Box::new(detail)),
                None => Described::NoTag,
            },
        ),
        Err(err) => match classify(&err) {
            Classified::TagMissing => Ok(Described::NoTag),
            Classified::RepositoryMissing => Ok(Described::NoRepository),
            Classified::Error(e) => Err(e),
        },
    }
}

enum Classified {
    TagMissing,
    RepositoryMissing,
    Error(RegistryError),
}

fn classify<E, R>(err: &SdkError<E, R>) -> Classified
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    classify_for(err, "ecr:DescribeImages")
}

/// `classify` for a call that needs `action` (named when access is denied).
fn classify_for<E, R>(err: &SdkError<E, R>, action: &'static str) -> Classified
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let context = error_chain(err);
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or_default();
            let message = e.message().unwrap_or(code).to_string();
            match code {
                "ImageNotFoundException" => Classified::TagMissing,
                "RepositoryNotFoundException" => Classified::RepositoryMissing,
                "AccessDeniedException" | "AccessDenied" => {
                    Classified::Error(RegistryError::AccessDenied { message, action })
                }
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException"
                | "ExpiredToken"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch" => {
                    Classified::Error(RegistryError::Credentials(format!("{code}: {message}")))
                }
                "ThrottlingException" | "TooManyRequestsException" => {
                    Classified::Error(RegistryError::Throttled(message))
                }
                _ => Classified::Error(RegistryError::Other(format!(
                    "{} {message}",
                    if code.is_empty() {
                        "unknown error:"
                    } else {
                        code
                    }
                ))),
            }
        }
        SdkError::TimeoutError(_) => {
            Classified::Error(RegistryError::Unreachable("the request timed out".into()))
        }
        SdkError::DispatchFailure(failure) => {
            if is_credentials_problem(&context) {
                Classified::Error(RegistryError::Credentials(first_useful(&context)))
            } else if failure.is_io() || failure.is_timeout() {
                Classified::Error(RegistryError::Unreachable(first_useful(&context)))
            } else {
                Classified::Error(RegistryError::Other(first_useful(&context)))
            }
        }
        _ if is_credentials_problem(&context) => {
            Classified::Error(RegistryError::Credentials(first_useful(&context)))
        }
        SdkError::ResponseError(_) => Classified::Error(RegistryError::Unreachable(format!(
            "the response could not be read: {}",
            first_useful(&context)
        ))),
        _ => Classified::Error(RegistryError::Other(first_useful(&context))),
    }
}

fn is_credentials_problem(context: &str) -> bool {
    let lower = context.to_ascii_lowercase();
    lower.contains("credential") || lower.contains("identity")
}

/// The SDK's error chain as one short line: the innermost causes say what happened.
fn first_useful(context: &str) -> String {
    if context.contains("no credentials found in chain") {
        return "no credentials found (tried environment variables, profile, web identity token, ECS and EC2 instance metadata)".into();
    }
    let line = context.split_whitespace().collect::<Vec<_>>().join(" ");
    let parts: Vec<&str> = line.split(": ").collect();
    // Keep the last three links of "dispatch failure: io error: client error (Connect): ...".
    parts[parts.len().saturating_sub(3)..].join(": ")
}
