//! The image inputs: the tag, the repositories (names and full URIs, regions, registries), how
//! a tag is matched, and what the image must be (digest, platforms, scan findings).

use std::collections::BTreeMap;

use super::grammar::{InputError, bad, split_list};
use crate::model::{DeployStatus, Repository, Severity};
use crate::text::shown;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMatch {
    Exact,
    /// The newest `ACTIVE` tag starting with `image-tag`.
    Prefix,
}

pub(crate) fn parse_tag_match(value: &str) -> Result<TagMatch, InputError> {
    match value.to_ascii_lowercase().as_str() {
        "exact" => Ok(TagMatch::Exact),
        "prefix" => Ok(TagMatch::Prefix),
        _ => Err(bad(
            "tag-match",
            format!("{} is not `exact` or `prefix`", shown(value)),
        )),
    }
}

pub(crate) fn parse_severity(value: &str) -> Result<Option<Severity>, InputError> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Severity::from_ecr(value).map(Some).ok_or_else(|| {
        bad(
            "fail-on-severity",
            format!(
                "{} is not one of critical, high, medium, low, none",
                shown(value)
            ),
        )
    })
}

pub(crate) fn parse_platforms(value: &str) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::new();
    for p in split_list(value) {
        let parts: Vec<&str> = p.split('/').collect();
        let ok = (2..=3).contains(&parts.len())
            && parts.iter().all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if !ok {
            return Err(bad(
                "required-platforms",
                format!(
                    "{} is not a platform such as `linux/amd64` or `linux/arm64/v8`",
                    shown(p)
                ),
            ));
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    Ok(out)
}

/// The digest(s) a tag must still point at: one for every repository, or one each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedDigest {
    All(String),
    /// Repository name → digest.
    Each(BTreeMap<String, String>),
}

impl ExpectedDigest {
    pub fn for_repository(&self, name: &str) -> Option<&str> {
        match self {
            ExpectedDigest::All(d) => Some(d),
            ExpectedDigest::Each(map) => map.get(name).map(String::as_str),
        }
    }
}

/// `sha256:` and 64 hex digits (or `sha512:` and 128).
pub fn valid_digest(d: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    d.strip_prefix("sha256:").is_some_and(|h| hex(h, 64))
        || d.strip_prefix("sha512:").is_some_and(|h| hex(h, 128))
}

pub(crate) fn parse_expected_digest(
    value: &str,
    repositories: &[Repository],
) -> Result<ExpectedDigest, InputError> {
    let input = "expected-digest";
    if valid_digest(value) {
        return Ok(ExpectedDigest::All(value.to_string()));
    }
    let map: BTreeMap<String, String> = serde_json::from_str(value).map_err(|_| {
        bad(
            input,
            format!(
                "{} is neither a digest (`sha256:` and 64 hex digits) nor a JSON object of repository names to digests, such as the `image_digests` output",
                shown(value)
            ),
        )
    })?;
    if let Some((k, v)) = map.iter().find(|(_, v)| !valid_digest(v)) {
        return Err(bad(
            input,
            format!(
                "the digest of `{k}`, {}, is not `sha256:` and 64 hex digits",
                shown(v)
            ),
        ));
    }
    let missing: Vec<&str> = repositories
        .iter()
        .map(|r| r.name.as_str())
        .filter(|name| !map.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            input,
            format!(
                "has no digest for {}; it must name every repository in `ecr-repositories` (pass the previous stage's `image_digests` output)",
                missing.join(", ")
            ),
        ));
    }
    Ok(ExpectedDigest::Each(map))
}

pub fn parse_deploy_status(value: &str) -> Result<DeployStatus, InputError> {
    // Exact words, as `job.status` and `needs.<job>.result` give them: anything else is invalid.
    match value.trim() {
        "success" | "true" => Ok(DeployStatus::Success),
        "failure" | "false" => Ok(DeployStatus::Failure),
        "cancelled" => Ok(DeployStatus::Cancelled),
        "skipped" => Ok(DeployStatus::Skipped),
        _ => Err(bad(
            "deploy-status",
            format!(
                "{} is not a deploy result; use success, true, failure, false, cancelled or skipped (for example `${{{{ job.status }}}}` or `${{{{ needs.deploy.result }}}}`)",
                shown(value)
            ),
        )),
    }
}

/// ECR's tag grammar: 1 to 300 characters of `[A-Za-z0-9_.-]`.
pub fn parse_tag(tag: &str) -> Result<String, InputError> {
    if tag.starts_with("sha256:") {
        return Err(bad(
            "image-tag",
            format!(
                "{} is a digest; give the tag the image was pushed with",
                shown(tag)
            ),
        ));
    }
    let valid_chars = tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if tag.is_empty() || tag.len() > 300 || !valid_chars {
        return Err(bad(
            "image-tag",
            format!(
                "{} is not a valid ECR tag; a tag is 1 to 300 characters of letters, digits, `_`, `.` and `-`",
                shown(tag)
            ),
        ));
    }
    Ok(tag.to_string())
}

pub(crate) fn parse_region(name: &str, region: &str) -> Result<String, InputError> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.contains('-');
    if ok {
        Ok(region.to_string())
    } else {
        Err(bad(
            name,
            format!("{} is not an AWS region such as `eu-west-1`", shown(region)),
        ))
    }
}

pub(crate) fn parse_account(id: &str) -> Result<String, InputError> {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        Err(bad(
            "registry-id",
            format!("{} is not an AWS account ID (12 digits)", shown(id)),
        ))
    }
}

/// ECR's repository-name grammar, as the service model publishes it (2 to 256 characters):
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`. A separator
/// inside a segment is one `.`, one `_`, two `__` or any run of `-`.
pub fn valid_repository_name(name: &str) -> bool {
    fn separator(sep: &str) -> bool {
        matches!(sep, "." | "_" | "__") || (!sep.is_empty() && sep.chars().all(|c| c == '-'))
    }
    fn segment(s: &str) -> bool {
        let word = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let mut rest = s;
        loop {
            // Byte offsets: the characters before them are ASCII, or the name is refused.
            let run = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            if run == 0 {
                return false;
            }
            rest = &rest[run..];
            if rest.is_empty() {
                return true;
            }
            let sep = rest.find(word).unwrap_or(rest.len());
            if !separator(&rest[..sep]) {
                return false;
            }
            rest = &rest[sep..];
        }
    }
    (2..=256).contains(&name.len()) && name.split('/').all(segment)
}

pub fn parse_repositories(
    value: &str,
    default_region: Option<&str>,
    registry_id: &Option<String>,
) -> Result<Vec<Repository>, InputError> {
    let mut out: Vec<Repository> = Vec::new();
    for item in split_list(value) {
        let repo = parse_repository(item, default_region, registry_id)?;
        // Digests are keyed by repository name (`image_digests`, `expected-digest`): one name
        // in two registries would make them ambiguous.
        if out.iter().any(|r| r.name == repo.name) {
            return Err(bad(
                "ecr-repositories",
                format!(
                    "{} is listed twice (repositories are told apart by name, also across registries)",
                    shown(&repo.name)
                ),
            ));
        }
        out.push(repo);
    }
    if out.is_empty() {
        return Err(bad("ecr-repositories", "lists no repository"));
    }
    Ok(out)
}

pub(crate) fn parse_repository(
    item: &str,
    default_region: Option<&str>,
    registry_id: &Option<String>,
) -> Result<Repository, InputError> {
    let input = "ecr-repositories";
    let item = item.strip_prefix("https://").unwrap_or(item);
    if item.contains('@')
        || item
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(bad(
            input,
            format!(
                "{} includes a tag or digest; list the repository only and put the tag in `image-tag`",
                shown(item)
            ),
        ));
    }
    let (registry, name) = match item.split_once('/') {
        Some((host, rest)) if host.contains(".dkr.ecr.") => (Some(host), rest),
        _ => (None, item),
    };
    if !valid_repository_name(name) {
        return Err(bad(
            input,
            format!(
                "{} is not an ECR repository name; names are lower-case letters, digits and `._-/` (2 to 256 characters), or a full URI `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME`",
                shown(name)
            ),
        ));
    }
    match registry {
        Some(host) => {
            // ACCOUNT.dkr.ecr.REGION.amazonaws.com(.cn)
            let parts: Vec<&str> = host.split('.').collect();
            let well_formed = parts.len() >= 6
                && parts[1] == "dkr"
                && parts[2] == "ecr"
                && parts[4] == "amazonaws"
                && matches!(&parts[5..], ["com"] | ["com", "cn"]);
            if !well_formed {
                return Err(bad(
                    input,
                    format!(
                        "{} is not an ECR registry host; expected `ACCOUNT.dkr.ecr.REGION.amazonaws.com`",
                        shown(host)
                    ),
                ));
            }
            let account = parse_account(parts[0]).map_err(|_| {
                bad(
                    input,
                    format!("{} does not start with a 12-digit account ID", shown(host)),
                )
            })?;
            let region = parse_region(input, parts[3])?;
            Ok(Repository {
                name: name.to_string(),
                registry_id: Some(account),
                region,
            })
        }
        None => {
            let region = default_region.ok_or_else(|| {
                bad(
                    "aws-region",
                    format!(
                        "no region for repository {}; set `aws-region`, or AWS_REGION (aws-actions/configure-aws-credentials sets it), or give the full URI",
                        shown(name)
                    ),
                )
            })?;
            Ok(Repository {
                name: name.to_string(),
                registry_id: registry_id.clone(),
                region: region.to_string(),
            })
        }
    }
}
