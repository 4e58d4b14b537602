//! The dispatch inputs: which repository, workflow and ref to dispatch, with what token and API
//! URL, and the extra inputs sent along.

use std::collections::BTreeMap;

use super::Lookup;
use super::grammar::{InputError, RESERVED_DISPATCH_INPUTS, bad, scalar_text, valid_input_name};
use crate::model::{DispatchTarget, GitHubAccess, Secret, WorkflowId};
use crate::text::shown;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The `inputs` mapping: YAML or JSON, values strings, numbers or booleans, sent as strings.
pub fn parse_extra_inputs(value: &str) -> Result<BTreeMap<String, String>, InputError> {
    let input = "inputs";
    // JSON first: it allows characters (DEL, say) that YAML does not, and YAML would read
    // `{"a": 1}` the same anyway.
    if value.trim_start().starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(value)
    {
        let yaml = map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => serde_yaml::Value::String(s),
                    serde_json::Value::Bool(b) => serde_yaml::Value::Bool(b),
                    serde_json::Value::Number(n) => serde_yaml::from_str(&n.to_string())
                        .unwrap_or(serde_yaml::Value::String(n.to_string())),
                    _ => serde_yaml::Value::Null,
                };
                (serde_yaml::Value::String(k), v)
            })
            .collect();
        return extra_inputs_from(yaml);
    }
    let parsed: serde_yaml::Value = serde_yaml::from_str(value).map_err(|e| {
        bad(
            input,
            format!(
                "is not a YAML or JSON mapping ({e}); write `key: value` lines or a JSON object"
            ),
        )
    })?;
    let map = match parsed {
        serde_yaml::Value::Mapping(map) => map,
        serde_yaml::Value::Null => return Ok(BTreeMap::new()),
        _ => {
            return Err(bad(
                input,
                "must be a mapping of input names to values, such as `region: eu-west-1`",
            ));
        }
    };
    extra_inputs_from(map)
}

fn extra_inputs_from(map: serde_yaml::Mapping) -> Result<BTreeMap<String, String>, InputError> {
    let input = "inputs";
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let key = match key {
            serde_yaml::Value::String(k) => k,
            other => {
                return Err(bad(
                    input,
                    format!(
                        "key {} is not a string",
                        shown(&scalar_text(&other).unwrap_or_default())
                    ),
                ));
            }
        };
        if !valid_input_name(&key) {
            return Err(bad(
                input,
                format!(
                    "key {} is not a workflow input name; names start with a letter or `_` and contain letters, digits, `_` and `-`",
                    shown(&key)
                ),
            ));
        }
        if RESERVED_DISPATCH_INPUTS.contains(&key.as_str()) {
            return Err(bad(
                input,
                format!(
                    "key `{key}` is set by the action itself; remove it (the action sends environment, image_tag and auto_promote)"
                ),
            ));
        }
        let text = scalar_text(&value).ok_or_else(|| {
            bad(
                input,
                format!("value of `{key}` must be a string, number or boolean, not a list, mapping or null"),
            )
        })?;
        out.insert(key, text);
    }
    Ok(out)
}

/// The repository, token and API URL: how to reach GitHub at all.
pub(crate) fn parse_access(src: &Lookup) -> Result<GitHubAccess, InputError> {
    let get = |name: &str| src.given(name);
    let repository = get("repository")
        .or_else(|| src.var("GITHUB_REPOSITORY"))
        .ok_or_else(|| {
            bad(
                "repository",
                "is not set and GITHUB_REPOSITORY is empty; set `repository: owner/name`",
            )
        })?;
    let repository = parse_repository_slug(&repository)?;
    let token = get("github-token")
        .or_else(|| src.var("GITHUB_TOKEN"))
        .or_else(|| src.var("GH_TOKEN"))
        .ok_or_else(|| {
            bad(
                "github-token",
                "is empty; pass `github-token: ${{ github.token }}` (the job needs `permissions: actions: write` to dispatch, `deployments: write` to record) or a PAT/App token for another repository",
            )
        })?;
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "github-token",
            "contains whitespace or control characters; check the secret it comes from",
        ));
    }
    let api_url = get("github-api-url")
        .or_else(|| src.var("GITHUB_API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    let api_url = api_url.trim().trim_end_matches('/').to_string();
    if !(api_url.starts_with("https://") || api_url.starts_with("http://"))
        || api_url.parse::<http::Uri>().is_err()
    {
        return Err(bad(
            "github-api-url",
            format!(
                "{} is not an http(s) URL; leave it unset for github.com (or GITHUB_API_URL), or use https://HOST/api/v3 for GitHub Enterprise Server",
                shown(&api_url)
            ),
        ));
    }
    Ok(GitHubAccess {
        repository,
        token: Secret::new(token),
        api_url,
    })
}

/// The workflow and ref to dispatch, in `repository`.
pub(crate) fn parse_target(src: &Lookup, repository: &str) -> Result<DispatchTarget, InputError> {
    let get = |name: &str| src.given(name);
    let workflow = match get("workflow") {
        Some(w) => parse_workflow(&w)?,
        None => {
            let workflow_ref = src.var("GITHUB_WORKFLOW_REF").ok_or_else(|| {
                bad(
                    "workflow",
                    "is not set and GITHUB_WORKFLOW_REF is empty; set `workflow: deploy.yml` (the file to dispatch)",
                )
            })?;
            workflow_from_ref(&workflow_ref)?
        }
    };
    let git_ref = match get("ref") {
        Some(r) => parse_ref("ref", &r)?,
        None => {
            let r = src.var("GITHUB_REF").ok_or_else(|| {
                bad(
                    "ref",
                    "is not set and GITHUB_REF is empty; set `ref: main` (the branch or tag to dispatch on)",
                )
            })?;
            parse_ref("ref", &r)?
        }
    };
    Ok(DispatchTarget {
        repository: repository.to_string(),
        workflow,
        git_ref,
    })
}

pub fn parse_repository_slug(value: &str) -> Result<String, InputError> {
    let ok = match value.split_once('/') {
        Some((owner, name)) => {
            !owner.is_empty()
                && !name.is_empty()
                && owner.len() <= 100
                && name.len() <= 100
                && owner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && name != "."
                && name != ".."
        }
        None => false,
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err(bad(
            "repository",
            format!("{} is not `owner/name`", shown(value)),
        ))
    }
}

/// `deploy.yml`, `.github/workflows/deploy.yml` or a numeric id.
pub fn parse_workflow(value: &str) -> Result<WorkflowId, InputError> {
    if let Ok(id) = value.parse::<u64>() {
        return Ok(WorkflowId::Id(id));
    }
    let file = match value.strip_prefix(".github/workflows/") {
        Some(rest) => rest,
        None if value.contains('/') => {
            return Err(bad(
                "workflow",
                format!(
                    "{} is not under .github/workflows/; give the file name (`deploy.yml`), its path (`.github/workflows/deploy.yml`) or its numeric id",
                    shown(value)
                ),
            ));
        }
        None => value,
    };
    let ok = (file.ends_with(".yml") || file.ends_with(".yaml"))
        && !file.contains('/')
        && file.len() > 4
        && !file
            .chars()
            .any(|c| c.is_control() || matches!(c, '?' | '#' | '%' | '\\'));
    if ok {
        Ok(WorkflowId::File(file.to_string()))
    } else {
        Err(bad(
            "workflow",
            format!(
                "{} is not a workflow file name ending in .yml or .yaml, a path under .github/workflows/, or a numeric id",
                shown(value)
            ),
        ))
    }
}

/// `owner/repo/.github/workflows/file.yml@refs/heads/main` → `file.yml`.
fn workflow_from_ref(value: &str) -> Result<WorkflowId, InputError> {
    let path = value.split_once('@').map(|(p, _)| p).unwrap_or(value);
    match path.split_once("/.github/workflows/") {
        Some((_, file)) => parse_workflow(file),
        None => Err(bad(
            "workflow",
            format!(
                "is not set and GITHUB_WORKFLOW_REF {} names no workflow file; set `workflow: deploy.yml`",
                shown(value)
            ),
        )),
    }
}

/// `refs/heads/x`, `refs/tags/x` or a bare name → the bare name GitHub's dispatch takes.
pub fn parse_ref(name: &str, value: &str) -> Result<String, InputError> {
    if value.starts_with("refs/pull/") {
        return Err(bad(
            name,
            format!(
                "{} is a pull request ref, which cannot be dispatched; set `ref: ${{{{ github.head_ref }}}}` or a branch such as `main`",
                shown(value)
            ),
        ));
    }
    let bare = value
        .strip_prefix("refs/heads/")
        .or_else(|| value.strip_prefix("refs/tags/"))
        .unwrap_or(value);
    let ok = !bare.is_empty()
        && bare.len() <= 255
        && !bare.starts_with('/')
        && !bare.ends_with('/')
        && !bare.ends_with(".lock")
        && !bare.contains("..")
        && !bare.contains("@{")
        && !bare.contains("//")
        && !bare.starts_with("refs/")
        && !bare.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        });
    if ok {
        Ok(bare.to_string())
    } else {
        Err(bad(
            name,
            format!(
                "{} is not a branch or tag; use `main`, `refs/heads/main` or `refs/tags/v1.2.3`",
                shown(value)
            ),
        ))
    }
}
