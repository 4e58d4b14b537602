//! The registry seam: does a tag exist, what is it, what does it list and what did its scan
//! find? The trait and the pure reading of manifests; `aws.rs` implements it with aws-sdk-ecr,
//! which sends through `http.rs`.

mod aws;
mod http;

use std::collections::BTreeMap;

pub use aws::AwsRegistry;

use crate::model::{ImageInfo, Repository};

/// How many `DescribeImages` pages (of up to 1,000 images) to read for suggestions.
pub(crate) const SUGGESTION_PAGES: usize = 5;
/// How many pages prefix resolution reads at most: 50,000 images.
pub const PREFIX_PAGES: usize = 50;
/// The manifest types BatchGetImage may answer with: indexes first, so a multi-platform image
/// comes back as its index.
pub(crate) const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
pub(crate) const SUGGESTIONS: usize = 5;

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

/// The newest tag with a prefix, and what it cost to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Found {
        tag: String,
        info: ImageInfo,
        pages: usize,
    },
    NoMatch {
        pages: usize,
    },
    RepositoryMissing,
}

/// An image's vulnerability scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Finding counts by ECR severity name (`CRITICAL`, `HIGH`, ...).
    Complete(BTreeMap<String, u64>),
    InProgress,
    /// The scan failed or cannot run; ECR's status and description.
    Failed(String),
    /// The image was never scanned.
    Missing,
}

/// The registry seam. Tests run it against moto's ECR server, and a local server that speaks
/// ECR's JSON API, through the real SDK.
pub trait Registry {
    fn lookup(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> impl Future<Output = Result<Lookup, RegistryError>> + Send;

    /// The newest `ACTIVE` image with a tag starting with `prefix` (equal push times: the
    /// greater tag), reading at most `PREFIX_PAGES` pages.
    fn resolve_prefix(
        &self,
        repo: &Repository,
        prefix: &str,
    ) -> impl Future<Output = Result<Resolved, RegistryError>> + Send;

    /// The platforms (`os/arch[/variant]`) an image index lists; `None` for a single manifest.
    fn platforms(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> impl Future<Output = Result<Option<Vec<String>>, RegistryError>> + Send;

    /// The image's scan; one still in progress is polled until it ends or `wait` runs out.
    fn scan(
        &self,
        repo: &Repository,
        digest: &str,
        wait: std::time::Duration,
    ) -> impl Future<Output = Result<Scan, RegistryError>> + Send;
}

/// The platforms of an image index (OCI index or Docker manifest list), attestations left out;
/// `None` when the manifest is a single image's.
pub fn index_platforms(manifest: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let entries = v.get("manifests")?.as_array()?;
    let mut out: Vec<String> = Vec::new();
    for m in entries {
        let p = &m["platform"];
        let (Some(os), Some(arch)) = (p["os"].as_str(), p["architecture"].as_str()) else {
            continue;
        };
        if os == "unknown" || arch == "unknown" {
            continue; // build attestations
        }
        let platform = match p["variant"].as_str() {
            Some(variant) => format!("{os}/{arch}/{variant}"),
            None => format!("{os}/{arch}"),
        };
        if !out.contains(&platform) {
            out.push(platform);
        }
    }
    Some(out)
}

/// Does `available` satisfy `wanted`? `linux/arm64` is met by `linux/arm64/v8`.
pub fn has_platform(available: &[String], wanted: &str) -> bool {
    available.iter().any(|a| {
        a == wanted
            || a.strip_prefix(wanted)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_of_an_index_without_attestations() {
        let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"digest":"sha256:1","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:2","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"digest":"sha256:3","platform":{"os":"unknown","architecture":"unknown"}}]}"#;
        let p = index_platforms(index).unwrap();
        assert_eq!(p, ["linux/amd64", "linux/arm64/v8"]);
        assert!(has_platform(&p, "linux/arm64"));
        assert!(has_platform(&p, "linux/arm64/v8"));
        assert!(!has_platform(&p, "linux/arm"));
        assert!(!has_platform(&p, "linux/arm/v7"));
        assert_eq!(
            index_platforms(r#"{"schemaVersion":2,"config":{},"layers":[]}"#),
            None
        );
        assert_eq!(index_platforms("not json"), None);
    }
}
