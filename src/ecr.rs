//! The registry seam: does a tag exist, and what is it? The trait and its aws-sdk-ecr implementation.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageIdentifier, TagStatus};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::inputs::Repository;
use crate::report::error_chain;
use crate::suggest::{Candidate, nearest};

/// How many `DescribeImages` pages (of up to 1,000 images) to read for suggestions.
const SUGGESTION_PAGES: usize = 5;
const SUGGESTIONS: usize = 5;

/// The image a tag points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub digest: String,
    /// RFC 3339, UTC.
    pub pushed_at: Option<String>,
    pub size_bytes: Option<i64>,
    /// `ACTIVE`, `ARCHIVED`, ... when ECR reports it.
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(ImageInfo),
    /// The repository exists but the tag is not in it; the nearest existing tags, newest first.
    TagMissing {
        suggestions: Vec<String>,
    },
    RepositoryMissing,
}

/// Why the registry could not answer. Each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("no usable AWS credentials: {0}")]
    Credentials(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("ECR could not be reached: {0}")]
    Unreachable(String),
    #[error("ECR kept throttling the requests: {0}")]
    Throttled(String),
    #[error("ECR answered with an error: {0}")]
    Other(String),
}

impl RegistryError {
    pub fn fix(&self) -> &'static str {
        match self {
            RegistryError::Credentials(_) => {
                "add an aws-actions/configure-aws-credentials step before this one (with `permissions: id-token: write` for OIDC), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            }
            RegistryError::AccessDenied(_) => {
                "grant the role ecr:DescribeImages on the repositories (see the README's minimal IAM policy)"
            }
            RegistryError::Unreachable(_) => {
                "check aws-region, the network, and AWS_ENDPOINT_URL/AWS_ENDPOINT_URL_ECR if set; then re-run"
            }
            RegistryError::Throttled(_) => {
                "re-run the job later, or verify fewer repositories at once"
            }
            RegistryError::Other(_) => {
                "re-run the job; if it persists, check the AWS Health Dashboard"
            }
        }
    }
}

/// The registry seam. Tests run it against moto's ECR server through the real SDK.
pub trait Registry {
    fn lookup(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> impl Future<Output = Result<Lookup, RegistryError>> + Send;
}

/// ECR through aws-sdk-ecr, one client per region, credentials and endpoints from the SDK's
/// standard configuration (including `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_ECR`).
pub struct AwsRegistry {
    clients: BTreeMap<String, aws_sdk_ecr::Client>,
}

impl AwsRegistry {
    /// Build clients for the regions the repositories live in. Makes no network call.
    pub async fn new(repositories: &[Repository]) -> AwsRegistry {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(20))
            .operation_attempt_timeout(Duration::from_secs(25))
            .operation_timeout(Duration::from_secs(60))
            .build();
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(timeouts)
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
        AwsRegistry { clients }
    }

    async fn suggestions(
        &self,
        client: &aws_sdk_ecr::Client,
        repo: &Repository,
        tag: &str,
    ) -> Vec<String> {
        let mut pages = client
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
            .send();
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
        let client = self
            .clients
            .get(&repo.region)
            .ok_or_else(|| RegistryError::Other(format!("no client for region {}", repo.region)))?;
        let answer = client
            .describe_images()
            .repository_name(&repo.name)
            .set_registry_id(repo.registry_id.clone())
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await;
        match answer {
            Ok(out) => {
                let Some(detail) = out.image_details().first() else {
                    return Ok(Lookup::TagMissing {
                        suggestions: self.suggestions(client, repo, tag).await,
                    });
                };
                let digest = detail.image_digest().unwrap_or_default().to_string();
                if digest.is_empty() {
                    return Err(RegistryError::Other(format!(
                        "DescribeImages returned no digest for {}:{tag}",
                        repo.name
                    )));
                }
                Ok(Lookup::Found(ImageInfo {
                    digest,
                    pushed_at: detail
                        .image_pushed_at()
                        .and_then(|t| t.fmt(aws_smithy_types_format()).ok()),
                    size_bytes: detail.image_size_in_bytes(),
                    status: detail.image_status().map(|s| s.as_str().to_string()),
                }))
            }
            Err(err) => match classify(&err) {
                Classified::TagMissing => Ok(Lookup::TagMissing {
                    suggestions: self.suggestions(client, repo, tag).await,
                }),
                Classified::RepositoryMissing => Ok(Lookup::RepositoryMissing),
                Classified::Error(e) => Err(e),
            },
        }
    }
}

fn aws_smithy_types_format() -> aws_sdk_ecr::primitives::DateTimeFormat {
    aws_sdk_ecr::primitives::DateTimeFormat::DateTime
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
                    Classified::Error(RegistryError::AccessDenied(format!(
                        "{message} (the role needs ecr:DescribeImages)"
                    )))
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
