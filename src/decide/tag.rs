//! Promote by environment tag: may the tag move in every repository (its mutability, what it
//! names now), and what to say when ECR refuses. Nothing moves unless every repository agrees.

use std::collections::BTreeMap;

use crate::config::Inputs;
use crate::ecr::{RegistryError, TagMutability};
use crate::gather::TagFacts;
use crate::model::Repository;
use crate::outcome::{Failure, ResultCode};
use crate::text::{brief_list, short_digest};

use super::NAMED;

/// ECR allows at most this many exclusion filters a repository.
const MAX_FILTERS: usize = 5;

/// The IAM actions promote-by tag needs beyond verification's.
pub const TAG_ACTIONS: &str = "ecr:DescribeRepositories, ecr:BatchGetImage and ecr:PutImage";

/// One repository's part of a tag promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMove {
    pub repo: Repository,
    /// The verified digest the tag is to name.
    pub digest: String,
    /// What the tag names now; `None`: nothing.
    pub previous: Option<String>,
}

impl TagMove {
    /// False when the tag already names the verified image: nothing to put.
    pub fn needed(&self) -> bool {
        self.previous.as_deref() != Some(self.digest.as_str())
    }
}

/// The environment tag to put on the verified image in every repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPlan {
    /// The environment the tag is for.
    pub environment: String,
    /// The tag, `qa` say.
    pub tag: String,
    /// The image's tag, which it keeps: taking the environment tag off again never deletes it.
    pub image_tag: String,
    pub moves: Vec<TagMove>,
}

/// Read the first round's tag facts: the plan, or why the tag may not move (`tag-rejected`
/// before any PutImage anywhere).
pub fn plan(
    inputs: &Inputs,
    environment: &str,
    image_tag: &str,
    digests: &BTreeMap<String, String>,
    facts: &[TagFacts],
) -> Result<TagPlan, Failure> {
    let tag = inputs.dispatch.environment_tag.for_environment(environment);
    let repos = &inputs.image.repositories;
    let mut errors: Vec<(&Repository, &RegistryError)> = Vec::new();
    for (repo, f) in repos.iter().zip(facts) {
        for e in [f.mutability.as_ref().err(), f.current.as_ref().err()]
            .into_iter()
            .flatten()
        {
            errors.push((repo, e));
        }
    }
    if !errors.is_empty() {
        return Err(registry_failure(
            &format!("the `{tag}` tag could not be checked"),
            &errors,
            "no tag was moved",
        ));
    }
    let mut moves = Vec::new();
    let mut refused: Vec<(&Repository, &TagMutability, &str)> = Vec::new();
    for (repo, f) in repos.iter().zip(facts) {
        let (Some(digest), Ok(mutability), Ok(previous)) =
            (digests.get(&repo.name), &f.mutability, &f.current)
        else {
            return Err(Failure::new(
                ResultCode::Error,
                format!(
                    "internal error: no verified digest for {} to tag",
                    repo.display()
                ),
                "report this at the ecr-promote repository",
            ));
        };
        match previous {
            Some(other) if other != digest && mutability.is_immutable(&tag) => {
                refused.push((repo, mutability, other));
            }
            _ => moves.push(TagMove {
                repo: repo.clone(),
                digest: digest.clone(),
                previous: previous.clone(),
            }),
        }
    }
    if !refused.is_empty() {
        return Err(immutable(inputs, &tag, &refused));
    }
    Ok(TagPlan {
        environment: environment.to_string(),
        tag,
        image_tag: image_tag.to_string(),
        moves,
    })
}

/// Repositories whose `tag` is immutable and names another image: nothing moves anywhere.
fn immutable(
    inputs: &Inputs,
    tag: &str,
    refused: &[(&Repository, &TagMutability, &str)],
) -> Failure {
    let names: Vec<String> = refused.iter().map(|(r, _, _)| r.display()).collect();
    let details: Vec<String> = refused
        .iter()
        .map(|(repo, m, other)| {
            format!(
                "{}: tags are {}{}, and `{tag}` names another image ({})",
                repo.display(),
                m.setting,
                if m.exclusions.is_empty() {
                    String::new()
                } else {
                    format!(" (exclusions: {})", m.exclusions.join(", "))
                },
                short_digest(other)
            )
        })
        .collect();
    let commands: Vec<String> = refused
        .iter()
        .map(|(repo, m, _)| mutability_fix(inputs, repo, m))
        .collect();
    let message = match details.as_slice() {
        [one] => {
            format!("the `{tag}` tag cannot move in {one}; no tag was moved in any repository")
        }
        _ => format!(
            "the `{tag}` tag is immutable and names another image in {}; no tag was moved in any repository",
            brief_list(&names, NAMED)
        ),
    };
    Failure::new(
        ResultCode::TagRejected,
        message,
        format!(
            "let environment tags move while other tags stay immutable: {}",
            commands.join("; ")
        ),
    )
    .with_details(if details.len() > 1 {
        details
    } else {
        Vec::new()
    })
}

/// The exclusion filters that cover the environment tags: one wildcard for a pattern with a
/// fixed part (`env-{environment}` → `env-*`), else each environment's tag.
fn environment_filters(inputs: &Inputs) -> Vec<String> {
    let pattern = &inputs.dispatch.environment_tag;
    let wildcard = pattern.for_environment("*");
    if wildcard != "*" {
        return vec![wildcard];
    }
    let mut tags: Vec<String> = Vec::new();
    for env in inputs.chain.names() {
        let tag = pattern.for_environment(env);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The AWS CLI command that lets the environment tags move in `repo` and keeps every other
/// tag as it is.
pub fn mutability_fix(inputs: &Inputs, repo: &Repository, m: &TagMutability) -> String {
    let wanted = environment_filters(inputs);
    let (setting, filters) = if m.setting == "MUTABLE_WITH_EXCLUSION" {
        // Tags are mutable but for the filters: stop excluding the environment tags.
        let keep: Vec<String> = m
            .exclusions
            .iter()
            .filter(|f| {
                !inputs.chain.names().iter().any(|env| {
                    crate::ecr::wildcard(f, &inputs.dispatch.environment_tag.for_environment(env))
                })
            })
            .cloned()
            .collect();
        if keep.is_empty() {
            ("MUTABLE", keep)
        } else {
            ("MUTABLE_WITH_EXCLUSION", keep)
        }
    } else {
        // IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION whose filters miss the tag: add filters.
        let mut filters = m.exclusions.clone();
        for f in &wanted {
            if !filters.contains(f) {
                filters.push(f.clone());
            }
        }
        if filters.len() > MAX_FILTERS {
            // ECR's limit: the tags this chain needs, in place of the existing ones that fit.
            filters = wanted.clone();
            filters.truncate(MAX_FILTERS);
        }
        ("IMMUTABLE_WITH_EXCLUSION", filters)
    };
    let mut command = format!(
        "aws ecr put-image-tag-mutability --repository-name {} --image-tag-mutability {setting}",
        repo.name
    );
    if !filters.is_empty() {
        command.push_str(" --image-tag-mutability-exclusion-filters");
        for f in &filters {
            command.push_str(&format!(" filterType=WILDCARD,filter={f}"));
        }
    }
    if let Some(id) = &repo.registry_id {
        command.push_str(&format!(" --registry-id {id}"));
    }
    command.push_str(&format!(" --region {}", repo.region));
    command
}

/// ECR could not answer, or refused: `tag-rejected` when access was denied (with the IAM fix)
/// or a tag was immutable after all, `error` otherwise. `then` says what became of the tags.
pub fn registry_failure(
    what: &str,
    errors: &[(&Repository, &RegistryError)],
    then: &str,
) -> Failure {
    let names: Vec<String> = errors.iter().map(|(r, _)| r.display()).collect();
    let details: Vec<String> = errors
        .iter()
        .map(|(r, e)| format!("{}: {e}", r.display()))
        .collect();
    let denied = errors
        .iter()
        .any(|(_, e)| matches!(e, RegistryError::AccessDenied { .. }));
    let immutable = errors
        .iter()
        .any(|(_, e)| matches!(e, RegistryError::TagImmutable(_)));
    let (result, fix) = if denied {
        (
            ResultCode::TagRejected,
            format!(
                "grant the role {TAG_ACTIONS} on {} (promote-by: tag; the README's \"Promote by environment tag\" shows the policy)",
                brief_list(&names, NAMED)
            ),
        )
    } else if immutable {
        (
            ResultCode::TagRejected,
            "the repository's tags became immutable after they were checked: set IMMUTABLE_WITH_EXCLUSION with an exclusion filter for the environment tags (the README's \"Promote by environment tag\"), then re-run".to_string(),
        )
    } else {
        (ResultCode::Error, errors[0].1.fix())
    };
    let first = details.first().cloned().unwrap_or_default();
    let message = if details.len() == 1 {
        format!("{what}: {first}; {then}")
    } else {
        format!("{what} in {}: {first}; {then}", brief_list(&names, NAMED))
    };
    Failure::new(result, message, fix).with_details(if details.len() > 1 {
        details
    } else {
        Vec::new()
    })
}

/// The tag moved (or already named the image) in every repository.
pub fn moved_message(plan: &TagPlan, dry_run: bool) -> String {
    let needed = plan.moves.iter().filter(|m| m.needed()).count();
    let mut digests: Vec<String> = plan.moves.iter().map(|m| short_digest(&m.digest)).collect();
    digests.dedup();
    let repos = plan.moves.len();
    let already = repos - needed;
    let verb = if dry_run { "would name" } else { "names" };
    let mut text = format!(
        "`{}` {verb} `{}` ({}) in {}",
        plan.tag,
        plan.image_tag,
        digests.join(", "),
        if repos == 1 {
            plan.moves[0].repo.display()
        } else {
            format!("all {repos} repositories")
        }
    );
    if already > 0 {
        text.push_str(&format!(
            " ({} already did)",
            if already == repos {
                "every one".to_string()
            } else {
                already.to_string()
            }
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MapSource, parse};

    fn inputs(extra: &[(&str, &str)]) -> Inputs {
        let mut src = MapSource::default()
            .input("environment", "dev")
            .input("image-tag", "v1")
            .input("ecr-repositories", "shop/backend, shop/frontend")
            .input("aws-region", "eu-west-1")
            .input("promote-by", "tag");
        for (k, v) in extra {
            src = src.input(k, v);
        }
        parse(&src).unwrap()
    }

    fn m(setting: &str, exclusions: &[&str]) -> TagMutability {
        TagMutability {
            setting: setting.into(),
            exclusions: exclusions.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn facts(mutability: TagMutability, current: Option<&str>) -> TagFacts {
        TagFacts {
            mutability: Ok(mutability),
            current: Ok(current.map(str::to_string)),
        }
    }

    fn digests(backend: &str, frontend: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("shop/backend".to_string(), backend.to_string()),
            ("shop/frontend".to_string(), frontend.to_string()),
        ])
    }

    #[test]
    fn a_tag_that_names_nothing_or_the_image_or_a_mutable_one_moves() {
        let i = inputs(&[]);
        let plan = plan(
            &i,
            "qa",
            "v1",
            &digests("sha256:a", "sha256:a"),
            &[
                facts(m("IMMUTABLE", &[]), None),
                facts(m("MUTABLE", &[]), Some("sha256:old")),
            ],
        )
        .unwrap();
        assert_eq!(plan.tag, "qa");
        assert_eq!(plan.moves[0].previous, None);
        assert!(plan.moves[0].needed());
        assert_eq!(plan.moves[1].previous.as_deref(), Some("sha256:old"));
        // Immutable, but the tag already names the image: nothing to do, no refusal.
        let plan = super::plan(
            &i,
            "qa",
            "v1",
            &digests("sha256:a", "sha256:b"),
            &[
                facts(m("IMMUTABLE", &[]), Some("sha256:a")),
                facts(m("IMMUTABLE_WITH_EXCLUSION", &["q*"]), Some("sha256:x")),
            ],
        )
        .unwrap();
        assert!(!plan.moves[0].needed());
        assert!(plan.moves[1].needed());
        assert_eq!(
            moved_message(&plan, false),
            "`qa` names `v1` (sha256:a, sha256:b) in all 2 repositories (1 already did)"
        );
    }

    #[test]
    fn an_immutable_tag_on_another_image_refuses_before_anything_moves() {
        let i = inputs(&[]);
        let f = plan(
            &i,
            "qa",
            "v1",
            &digests("sha256:a", "sha256:a"),
            &[
                facts(m("MUTABLE", &[]), Some("sha256:old")),
                facts(m("IMMUTABLE", &[]), Some("sha256:old")),
            ],
        )
        .unwrap_err();
        assert_eq!(f.result, ResultCode::TagRejected);
        assert!(f.message.contains("shop/frontend"), "{}", f.message);
        assert!(!f.message.contains("shop/backend"), "{}", f.message);
        assert!(f.message.contains("no tag was moved in any repository"));
        assert!(
            f.fix.contains(
                "aws ecr put-image-tag-mutability --repository-name shop/frontend --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=dev filterType=WILDCARD,filter=qa filterType=WILDCARD,filter=staging --region eu-west-1"
            ),
            "{}",
            f.fix
        );
        // IMMUTABLE_WITH_EXCLUSION whose filters miss the tag; MUTABLE_WITH_EXCLUSION whose
        // filter matches it: both refuse, and both repositories are named.
        let f = plan(
            &i,
            "qa",
            "v1",
            &digests("sha256:a", "sha256:a"),
            &[
                facts(m("IMMUTABLE_WITH_EXCLUSION", &["dev"]), Some("sha256:old")),
                facts(
                    m("MUTABLE_WITH_EXCLUSION", &["v*", "q*"]),
                    Some("sha256:old"),
                ),
            ],
        )
        .unwrap_err();
        assert_eq!(f.details.len(), 2);
        assert!(f.message.contains("shop/backend, shop/frontend"));
        assert!(
            f.fix.contains("--image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=dev filterType=WILDCARD,filter=qa filterType=WILDCARD,filter=staging --region"),
            "existing filters kept, once: {}",
            f.fix
        );
        assert!(
            f.fix.contains("--repository-name shop/frontend --image-tag-mutability MUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=v* --region"),
            "{}",
            f.fix
        );
    }

    #[test]
    fn the_fix_covers_a_patterned_tag_with_one_wildcard_and_names_the_registry() {
        let i = inputs(&[
            ("environment-tag", "env-{environment}"),
            (
                "ecr-repositories",
                "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/api",
            ),
        ]);
        let repo = &i.image.repositories[0];
        assert_eq!(
            mutability_fix(&i, repo, &m("IMMUTABLE", &[])),
            "aws ecr put-image-tag-mutability --repository-name shop/api --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=env-* --registry-id 111122223333 --region us-east-1"
        );
        assert_eq!(
            mutability_fix(&i, repo, &m("MUTABLE_WITH_EXCLUSION", &["env-*"])),
            "aws ecr put-image-tag-mutability --repository-name shop/api --image-tag-mutability MUTABLE --registry-id 111122223333 --region us-east-1"
        );
        // Over ECR's five filters: the chain's own in place of the existing ones.
        let full = m("IMMUTABLE_WITH_EXCLUSION", &["a", "b", "c", "d", "e"]);
        assert!(
            mutability_fix(&i, repo, &full).ends_with(
                "--image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=env-* --registry-id 111122223333 --region us-east-1"
            )
        );
    }

    #[test]
    fn denied_access_is_tag_rejected_with_the_iam_fix_and_other_errors_are_errors() {
        let i = inputs(&[]);
        let mut denied = facts(m("MUTABLE", &[]), None);
        denied.mutability = Err(RegistryError::AccessDenied {
            message: "no".into(),
            action: "ecr:DescribeRepositories",
        });
        let f = plan(
            &i,
            "qa",
            "v1",
            &digests("sha256:a", "sha256:a"),
            &[denied, facts(m("MUTABLE", &[]), None)],
        )
        .unwrap_err();
        assert_eq!(f.result, ResultCode::TagRejected);
        assert!(f.fix.contains(
            "ecr:DescribeRepositories, ecr:BatchGetImage and ecr:PutImage on shop/backend"
        ));
        assert!(f.message.contains("no tag was moved"));
        let mut down = facts(m("MUTABLE", &[]), None);
        down.current = Err(RegistryError::Unreachable("timeout".into()));
        let f = plan(
            &i,
            "qa",
            "v1",
            &digests("sha256:a", "sha256:a"),
            &[facts(m("MUTABLE", &[]), None), down],
        )
        .unwrap_err();
        assert_eq!(f.result, ResultCode::Error);
    }
}
