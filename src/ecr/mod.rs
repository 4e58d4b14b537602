//! The registry seam: does a tag exist, what is it, what does it list and what did its scan
//! find, and (promote-by tag) may a tag move and move it. The trait and the pure reading of
//! manifests and tag mutability; `aws.rs` implements it with aws-sdk-ecr, which sends through
//! `http.rs`.

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
    /// `action`: the IAM action the call needed.
    #[error("access denied: {message} (the role needs {action})")]
    AccessDenied {
        message: String,
        action: &'static str,
    },
    #[error("ECR could not be reached: {0}")]
    Unreachable(String),
    #[error("ECR kept throttling the requests: {0}")]
    Throttled(String),
    /// PutImage: the tag is immutable in this repository and names another image.
    #[error("the tag is immutable: {0}")]
    TagImmutable(String),
    #[error("ECR answered with an error: {0}")]
    Other(String),
}

impl RegistryError {
    pub fn fix(&self) -> String {
        let fix = match self {
            RegistryError::Credentials(_) => {
                "add an aws-actions/configure-aws-credentials step before this one (with `permissions: id-token: write` for OIDC), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            }
            RegistryError::AccessDenied { action, .. } => {
                return format!(
                    "grant the role {action} on the repositories (see the README's minimal IAM policy)"
                );
            }
            RegistryError::Unreachable(_) => {
                "check aws-region, the network, and AWS_ENDPOINT_URL/AWS_ENDPOINT_URL_ECR if set; then re-run"
            }
            RegistryError::Throttled(_) => {
                "re-run the job later, or verify fewer repositories at once"
            }
            RegistryError::TagImmutable(_) => {
                "make the environment tags mutable in the repository (IMMUTABLE_WITH_EXCLUSION with an exclusion filter for them; see the README's \"Promote by environment tag\")"
            }
            RegistryError::Other(_) => {
                "re-run the job; if it persists, check the AWS Health Dashboard"
            }
        };
        fix.to_string()
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

/// A repository's tag mutability, as DescribeRepositories answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMutability {
    /// `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION`.
    pub setting: String,
    /// The WILDCARD exclusion filters (`*` matches any run of characters).
    pub exclusions: Vec<String>,
}

impl TagMutability {
    /// Whether `tag`, once set, cannot be moved to another image.
    pub fn is_immutable(&self, tag: &str) -> bool {
        let excluded = self.exclusions.iter().any(|f| wildcard(f, tag));
        match self.setting.as_str() {
            "IMMUTABLE" => true,
            "IMMUTABLE_WITH_EXCLUSION" => !excluded,
            "MUTABLE_WITH_EXCLUSION" => excluded,
            // MUTABLE, and a setting newer than this code: PutImage itself refuses if need be.
            _ => false,
        }
    }
}

/// ECR's WILDCARD filter: `*` matches any run of characters (none included), every other
/// character only itself.
pub fn wildcard(filter: &str, tag: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    if parts.len() == 1 {
        return filter == tag;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if tag.len() < first.len() + last.len() || !tag.starts_with(first) || !tag.ends_with(last) {
        return false;
    }
    let mut rest = &tag[first.len()..tag.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// An image's manifest exactly as ECR stores it: putting these bytes with this media type
/// gives the same digest, and an index stays an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    pub bytes: String,
    pub media_type: String,
}

/// What PutImage did with a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    /// The tag now names the image; the digest ECR answered.
    Moved(String),
    /// The tag already named this image (ImageAlreadyExistsException): nothing changed.
    AlreadyThere,
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

    /// The repository's tag mutability and exclusion filters (DescribeRepositories).
    fn mutability(
        &self,
        repo: &Repository,
    ) -> impl Future<Output = Result<TagMutability, RegistryError>> + Send;

    /// The digest `tag` names now; `None` when it names nothing (or the repository is missing:
    /// the image check reports that).
    fn tagged_digest(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, RegistryError>> + Send;

    /// The manifest of `digest`, whatever its type (BatchGetImage accepting every type).
    fn manifest(
        &self,
        repo: &Repository,
        digest: &str,
    ) -> impl Future<Output = Result<Manifest, RegistryError>> + Send;

    /// Put `tag` on the image of `manifest` (PutImage with its exact bytes, media type and
    /// digest).
    fn put_tag(
        &self,
        repo: &Repository,
        manifest: &Manifest,
        tag: &str,
    ) -> impl Future<Output = Result<Tagged, RegistryError>> + Send;

    /// Take `tag` off its image (BatchDeleteImage by tag). ECR deletes an image whose last tag
    /// goes: call it only for an image that keeps another tag.
    fn remove_tag(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
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

    #[test]
    fn wildcard_filters_match_like_ecr() {
        assert!(wildcard("qa", "qa") && !wildcard("qa", "qa2") && !wildcard("qa", "q"));
        assert!(wildcard("stag*", "staging") && wildcard("stag*", "stag"));
        assert!(wildcard("*-env", "qa-env") && wildcard("*", "anything"));
        assert!(wildcard("a*b*c", "aXbYc") && wildcard("a*b*c", "abc"));
        assert!(!wildcard("a*b*c", "aXc") && !wildcard("stag*", "stg"));
        // `.` is itself, not any character (moto treats filters as regular expressions).
        assert!(!wildcard("env.*", "envoy") && wildcard("env.*", "env.qa"));
        assert!(
            !wildcard("ab*ba", "aba"),
            "the prefix and suffix may not overlap"
        );
    }

    #[test]
    fn immutability_follows_the_setting_and_its_exclusions() {
        let m = |setting: &str, exclusions: &[&str]| TagMutability {
            setting: setting.into(),
            exclusions: exclusions.iter().map(|e| e.to_string()).collect(),
        };
        assert!(!m("MUTABLE", &[]).is_immutable("qa"));
        assert!(m("IMMUTABLE", &[]).is_immutable("qa"));
        assert!(!m("IMMUTABLE_WITH_EXCLUSION", &["dev", "q*"]).is_immutable("qa"));
        assert!(m("IMMUTABLE_WITH_EXCLUSION", &["dev", "stag*"]).is_immutable("qa"));
        assert!(m("MUTABLE_WITH_EXCLUSION", &["qa"]).is_immutable("qa"));
        assert!(!m("MUTABLE_WITH_EXCLUSION", &["v*"]).is_immutable("qa"));
    }
}
