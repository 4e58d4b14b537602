//! GitHub's objects as its REST API writes them, with every field its OpenAPI description
//! requires: users, repositories, workflows, files, runs, commits, deployments and statuses.

use base64::Engine;
use serde_json::{Value, json};

use super::{Commit, Deployment, DeploymentStatus, Reply, Run, State, Workflow, iso, workflows};

/// `node_id`s are opaque base64 strings at GitHub.
fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// The user a `GITHUB_TOKEN` acts as.
pub fn bot(s: &State) -> Value {
    let api = &s.api_url;
    let login = "github-actions[bot]";
    let web = s.web_repo_url();
    let host = web.rsplitn(3, '/').last().unwrap_or_default().to_string();
    json!({
        "login": login,
        "id": 41_898_282,
        "node_id": "MDM6Qm90NDE4OTgyODI=",
        "avatar_url": "https://avatars.githubusercontent.example/in/15368?v=4",
        "gravatar_id": "",
        "url": format!("{api}/users/github-actions%5Bbot%5D"),
        "html_url": format!("{host}/apps/github-actions"),
        "followers_url": format!("{api}/users/github-actions%5Bbot%5D/followers"),
        "following_url": format!("{api}/users/github-actions%5Bbot%5D/following{{/other_user}}"),
        "gists_url": format!("{api}/users/github-actions%5Bbot%5D/gists{{/gist_id}}"),
        "starred_url": format!("{api}/users/github-actions%5Bbot%5D/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/users/github-actions%5Bbot%5D/subscriptions"),
        "organizations_url": format!("{api}/users/github-actions%5Bbot%5D/orgs"),
        "repos_url": format!("{api}/users/github-actions%5Bbot%5D/repos"),
        "events_url": format!("{api}/users/github-actions%5Bbot%5D/events{{/privacy}}"),
        "received_events_url": format!("{api}/users/github-actions%5Bbot%5D/received_events"),
        "type": "Bot",
        "user_view_type": "public",
        "site_admin": false
    })
}

/// The organization that owns the repository.
fn owner(s: &State) -> Value {
    let api = &s.api_url;
    let login = s.repository.split('/').next().unwrap_or_default();
    let web = s.web_repo_url();
    let host = web.rsplitn(3, '/').last().unwrap_or_default().to_string();
    json!({
        "login": login,
        "id": 9_919,
        "node_id": node_id("Organization", 9_919),
        "avatar_url": "https://avatars.githubusercontent.example/u/9919?v=4",
        "gravatar_id": "",
        "url": format!("{api}/users/{login}"),
        "html_url": format!("{host}/{login}"),
        "followers_url": format!("{api}/users/{login}/followers"),
        "following_url": format!("{api}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{api}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/users/{login}/subscriptions"),
        "organizations_url": format!("{api}/users/{login}/orgs"),
        "repos_url": format!("{api}/users/{login}/repos"),
        "events_url": format!("{api}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{api}/users/{login}/received_events"),
        "type": "Organization",
        "user_view_type": "public",
        "site_admin": false
    })
}

/// The repository as a `minimal-repository`.
pub fn repository(s: &State) -> Value {
    let r = s.api_repo_url();
    let name = s.repository.split('/').nth(1).unwrap_or_default();
    let mut repo = json!({
        "id": super::REPOSITORY_ID,
        "node_id": node_id("Repository", super::REPOSITORY_ID),
        "name": name,
        "full_name": s.repository,
        "owner": owner(s),
        "private": true,
        "html_url": s.web_repo_url(),
        "description": null,
        "fork": false,
        "url": r,
    });
    // The URL templates every repository object carries.
    let urls = [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ];
    for (key, tail) in urls {
        repo[key] = json!(format!("{r}{tail}"));
    }
    repo
}

pub fn workflow(s: &State, w: &Workflow) -> Value {
    let name = workflows::workflow_name(w);
    let web = s.web_repo_url();
    json!({
        "id": w.id,
        "node_id": node_id("Workflow", w.id),
        "name": name,
        "path": w.path,
        "state": w.state,
        "created_at": iso(w.created_at),
        "updated_at": iso(w.created_at),
        "url": format!("{}/actions/workflows/{}", s.api_repo_url(), w.id),
        "html_url": format!("{web}/blob/main/{}", w.path),
        "badge_url": format!("{web}/workflows/{}/badge.svg", super::encode(&name)),
    })
}

/// A file of the contents API; above `inline_limit` bytes GitHub sends no content.
pub fn content_file(
    s: &State,
    path: &str,
    git_ref: &str,
    text: &str,
    inline_limit: usize,
) -> Value {
    let sha = super::fake_sha(&format!("blob {text}"));
    let (content, encoding) = if text.len() > inline_limit {
        (String::new(), "none")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        // GitHub wraps the base64 at 60 characters.
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(60)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        (lines.join("\n") + "\n", "base64")
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    let api = format!(
        "{}/contents/{path}?ref={}",
        s.api_repo_url(),
        super::encode(git_ref)
    );
    let git = format!("{}/git/blobs/{sha}", s.api_repo_url());
    let html = format!("{}/blob/{git_ref}/{path}", s.web_repo_url());
    json!({
        "type": "file",
        "encoding": encoding,
        "size": text.len(),
        "name": name,
        "path": path,
        "content": content,
        "sha": sha,
        "url": api,
        "git_url": git,
        "html_url": html,
        "download_url": format!("https://raw.githubusercontent.example/{}/{git_ref}/{path}", s.repository),
        "_links": {"self": api, "git": git, "html": html}
    })
}

fn git_person(at: u64) -> Value {
    json!({"name": "Dev Eloper", "email": "dev@ecr-promote.invalid", "date": iso(at)})
}

pub fn run(s: &State, r: &Run, status: &str, conclusion: Option<&str>) -> Value {
    let api = format!("{}/actions/runs/{}", s.api_repo_url(), r.id);
    let workflow = s.workflows.iter().find(|w| w.id == r.workflow_id);
    let name = workflow.map(workflows::workflow_name);
    let path = workflow.map(|w| w.path.clone()).unwrap_or_default();
    let commit = s.commits.get(&r.head_sha);
    let committed = commit.map(|c| c.committed_at).unwrap_or(r.created_at);
    let updated = if status == "completed" {
        r.created_at.max(super::now())
    } else {
        r.created_at
    };
    json!({
        "id": r.id,
        "name": name,
        "node_id": node_id("WorkflowRun", r.id),
        "check_suite_id": r.id + 1_000_000,
        "check_suite_node_id": node_id("CheckSuite", r.id + 1_000_000),
        "head_branch": r.branch,
        "head_sha": r.head_sha,
        "path": path,
        "display_title": r.display_title,
        "run_number": r.run_number,
        "event": "workflow_dispatch",
        "status": status,
        "conclusion": conclusion,
        "workflow_id": r.workflow_id,
        "url": api,
        "html_url": r.html_url,
        "pull_requests": [],
        "created_at": iso(r.created_at),
        "updated_at": iso(updated),
        "actor": bot(s),
        "triggering_actor": bot(s),
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": iso(r.created_at),
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/check-suites/{}", s.api_repo_url(), r.id + 1_000_000),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{}/actions/workflows/{}", s.api_repo_url(), r.workflow_id),
        "head_commit": {
            "id": r.head_sha,
            "tree_id": super::fake_sha(&format!("tree {}", r.head_sha)),
            "message": commit.map(|c| c.message.clone()).unwrap_or_default(),
            "timestamp": iso(committed),
            "author": {"name": "Dev Eloper", "email": "dev@ecr-promote.invalid"},
            "committer": {"name": "GitHub", "email": "noreply@github.example"}
        },
        "repository": repository(s),
        "head_repository": repository(s)
    })
}

pub fn commit(s: &State, c: &Commit) -> Value {
    let api = format!("{}/commits/{}", s.api_repo_url(), c.sha);
    let tree = super::fake_sha(&format!("tree {}", c.sha));
    json!({
        "url": api,
        "sha": c.sha,
        "node_id": node_id("Commit", u64::from_str_radix(&c.sha[..c.sha.len().min(12)], 16).unwrap_or(0)),
        "html_url": format!("{}/commit/{}", s.web_repo_url(), c.sha),
        "comments_url": format!("{api}/comments"),
        "commit": {
            "url": format!("{}/git/commits/{}", s.api_repo_url(), c.sha),
            "author": git_person(c.authored_at),
            "committer": git_person(c.committed_at),
            "message": c.message,
            "comment_count": 0,
            "tree": {"sha": tree, "url": format!("{}/git/trees/{tree}", s.api_repo_url())}
        },
        "author": null,
        "committer": null,
        "parents": [],
        "stats": {"total": 0, "additions": 0, "deletions": 0},
        "files": []
    })
}

pub fn deployment(s: &State, d: &Deployment) -> Value {
    let url = format!("{}/deployments/{}", s.api_repo_url(), d.id);
    json!({
        "url": url,
        "id": d.id,
        "node_id": node_id("Deployment", d.id),
        "sha": d.sha,
        "ref": d.git_ref,
        "task": d.task,
        "payload": d.payload,
        "original_environment": d.original_environment,
        "environment": d.environment,
        "description": d.description,
        "creator": bot(s),
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": s.api_repo_url(),
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment
    })
}

pub fn deployment_status(s: &State, d: &Deployment, st: &DeploymentStatus) -> Value {
    let deployment_url = format!("{}/deployments/{}", s.api_repo_url(), d.id);
    json!({
        "url": format!("{deployment_url}/statuses/{}", st.id),
        "id": st.id,
        "node_id": node_id("DeploymentStatus", st.id),
        "state": st.state,
        "creator": bot(s),
        "description": st.description,
        "environment": st.environment,
        "target_url": st.target_url,
        "created_at": iso(st.created_at),
        "updated_at": iso(st.created_at),
        "deployment_url": deployment_url,
        "repository_url": s.api_repo_url(),
        "environment_url": st.environment_url,
        "log_url": st.log_url
    })
}

/// `GET /meta`: GitHub Enterprise Server says which version it is.
pub fn meta(s: &State) -> Reply {
    let body = match &s.enterprise_version {
        Some(v) => json!({
            "verifiable_password_authentication": true,
            "installed_version": v,
        }),
        None => json!({
            "verifiable_password_authentication": false,
            "ssh_key_fingerprints": {"SHA256_ED25519": "not-a-real-fingerprint"},
            "ssh_keys": ["ssh-ed25519 not-a-real-key"],
            "hooks": ["192.0.2.0/24"],
            "web": ["192.0.2.0/24"],
            "api": ["192.0.2.0/24"],
            "git": ["192.0.2.0/24"],
            "actions": ["198.51.100.0/24"]
        }),
    };
    Reply::json(200, body)
}
