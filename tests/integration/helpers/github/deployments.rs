//! Deployments and their statuses (the record of what runs where), and commits.
//!
//! As GitHub's description says: a deployment's `ref` must name a commit; `environment`
//! defaults to `production`, `production_environment` to whether it is `production`, `task` to
//! `deploy`; lists are newest first and paged (`per_page` up to 100, a `Link` header); a new
//! `success` status with `auto_inactive` (default true) adds an `inactive` status to every
//! earlier deployment of the same environment that is neither transient nor production and
//! whose latest status is `success`. Seeded deployments keep the statuses they are given.

use serde_json::{Value, json};

use super::{FakeGitHub, Page, Reply, Request, State, message, now, objects, query_map};

#[derive(Clone, Debug)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub environment: String,
    pub log_url: String,
    pub target_url: String,
    pub environment_url: String,
    pub created_at: u64,
}

#[derive(Clone, Debug)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub task: String,
    /// The environment now (a status may move it) and the one it was created for.
    pub environment: String,
    pub original_environment: String,
    pub payload: Value,
    pub description: Option<String>,
    pub transient_environment: bool,
    pub production_environment: bool,
    pub created_at: u64,
    pub updated_at: u64,
    /// In creation order.
    pub statuses: Vec<DeploymentStatus>,
}

impl Deployment {
    /// The newest status (by time, then id), if any.
    pub fn latest(&self) -> Option<&DeploymentStatus> {
        self.statuses.iter().max_by_key(|s| (s.created_at, s.id))
    }
}

/// What the token may do with deployments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// `deployments: write`.
    #[default]
    Write,
    /// `deployments: read`: creating a deployment or a status answers 403.
    Read,
    /// No `deployments` permission: every deployments endpoint answers 403.
    None,
    /// Every deployments endpoint answers this 5xx.
    Failing(u16),
}

const FIRST_ID: u64 = 2_000_000_001;
const FIRST_STATUS_ID: u64 = 5_000_000_001;

#[derive(Default)]
pub struct Store {
    /// In id order: `list[i].id == FIRST_ID + i`.
    pub list: Vec<Deployment>,
    pub access: Access,
    /// Commit status contexts that are failing: a deployment that does not exempt them (by
    /// `required_contexts`) is refused with 409, as GitHub does.
    pub failing_contexts: Vec<String>,
    next_status: u64,
    /// Indices newest first, while no deployment was added.
    order: Option<Vec<usize>>,
}

impl Store {
    fn get(&self, id: u64) -> Option<&Deployment> {
        let i = id.checked_sub(FIRST_ID)? as usize;
        self.list.get(i)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Deployment> {
        let i = id.checked_sub(FIRST_ID)? as usize;
        self.list.get_mut(i)
    }

    fn next_status_id(&mut self) -> u64 {
        self.next_status += 1;
        FIRST_STATUS_ID + self.next_status - 1
    }

    fn newest_first(&mut self) -> &[usize] {
        if self.order.is_none() {
            let mut order: Vec<usize> = (0..self.list.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse((self.list[i].created_at, self.list[i].id)));
            self.order = Some(order);
        }
        self.order.as_deref().unwrap()
    }

    fn push(&mut self, d: Deployment) {
        self.order = None;
        self.list.push(d);
    }

    fn next_id(&self) -> u64 {
        FIRST_ID + self.list.len() as u64
    }
}

/// A deployment for a test to seed: created at a given time, with the statuses given.
#[derive(Clone, Debug)]
pub struct Seed {
    pub environment: String,
    pub git_ref: String,
    pub sha: Option<String>,
    pub task: String,
    pub payload: Value,
    pub description: Option<String>,
    pub created_at: u64,
    pub transient_environment: bool,
    pub production_environment: Option<bool>,
    /// (state, time, log_url)
    pub statuses: Vec<(String, u64, String)>,
}

impl Seed {
    /// A deployment of `main` to `environment` created at `created_at` (seconds since the
    /// epoch), task `deploy:ecr-promote`, payload `{}`, no status.
    pub fn new(environment: &str, created_at: u64) -> Seed {
        Seed {
            environment: environment.into(),
            git_ref: "main".into(),
            sha: None,
            task: "deploy:ecr-promote".into(),
            payload: json!({}),
            description: Some(String::new()),
            created_at,
            transient_environment: false,
            production_environment: None,
            statuses: Vec::new(),
        }
    }

    pub fn git_ref(mut self, git_ref: &str) -> Seed {
        self.git_ref = git_ref.into();
        self
    }

    /// The commit; one the repository does not hold yet is added, dated `created_at`.
    pub fn sha(mut self, sha: &str) -> Seed {
        self.sha = Some(sha.into());
        self
    }

    pub fn task(mut self, task: &str) -> Seed {
        self.task = task.into();
        self
    }

    pub fn payload(mut self, payload: Value) -> Seed {
        self.payload = payload;
        self
    }

    pub fn description(mut self, description: Option<&str>) -> Seed {
        self.description = description.map(str::to_string);
        self
    }

    pub fn transient(mut self, transient: bool) -> Seed {
        self.transient_environment = transient;
        self
    }

    pub fn production(mut self, production: bool) -> Seed {
        self.production_environment = Some(production);
        self
    }

    /// A status at `at` (in the order given; the list shows them newest first).
    pub fn status(mut self, state: &str, at: u64) -> Seed {
        self.statuses.push((state.into(), at, String::new()));
        self
    }

    pub fn status_with_log(mut self, state: &str, at: u64, log_url: &str) -> Seed {
        self.statuses.push((state.into(), at, log_url.into()));
        self
    }
}

impl FakeGitHub {
    /// Add a deployment as if it had been created at `seed.created_at`; its id.
    pub fn add_deployment(&self, seed: Seed) -> u64 {
        let mut s = self.state.lock().unwrap();
        let sha = match &seed.sha {
            Some(sha) => {
                if !s.commits.contains_key(sha) {
                    s.commits.insert(
                        sha.clone(),
                        super::Commit {
                            sha: sha.clone(),
                            authored_at: seed.created_at,
                            committed_at: seed.created_at,
                            message: format!("Commit {}", &sha[..sha.len().min(7)]),
                        },
                    );
                }
                sha.clone()
            }
            None => match s.resolve(&seed.git_ref) {
                Some(c) => c.sha.clone(),
                None => s.ensure_branch(&seed.git_ref),
            },
        };
        let id = s.deployments.next_id();
        let mut statuses = Vec::new();
        for (state, at, log_url) in &seed.statuses {
            statuses.push(DeploymentStatus {
                id: s.deployments.next_status_id(),
                state: state.clone(),
                description: String::new(),
                environment: seed.environment.clone(),
                log_url: log_url.clone(),
                target_url: log_url.clone(),
                environment_url: String::new(),
                created_at: *at,
            });
        }
        let updated_at = statuses
            .iter()
            .map(|st| st.created_at)
            .max()
            .unwrap_or(seed.created_at)
            .max(seed.created_at);
        s.deployments.push(Deployment {
            id,
            sha,
            git_ref: seed.git_ref.clone(),
            task: seed.task.clone(),
            environment: seed.environment.clone(),
            original_environment: seed.environment.clone(),
            payload: seed.payload.clone(),
            description: seed.description.clone(),
            transient_environment: seed.transient_environment,
            production_environment: seed
                .production_environment
                .unwrap_or(seed.environment == "production"),
            created_at: seed.created_at,
            updated_at,
            statuses,
        });
        id
    }

    /// Every deployment, in creation (id) order.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.state.lock().unwrap().deployments.list.clone()
    }

    pub fn deployment(&self, id: u64) -> Option<Deployment> {
        self.state.lock().unwrap().deployments.get(id).cloned()
    }

    /// What the token may do with deployments from now on.
    pub fn deployments_access(&self, access: Access) {
        self.state.lock().unwrap().deployments.access = access;
    }

    /// Commit status contexts that fail: creating a deployment without `required_contexts`
    /// (which means "all of them") is refused with 409 until they are exempted.
    pub fn failing_contexts(&self, contexts: &[&str]) {
        self.state.lock().unwrap().deployments.failing_contexts =
            contexts.iter().map(|c| c.to_string()).collect();
    }
}

fn forbidden() -> Reply {
    Reply::json(
        403,
        json!({"message": "Resource not accessible by integration",
               "documentation_url": "https://docs.github.com/rest/deployments/deployments",
               "status": "403"}),
    )
}

fn invalid(text: &str) -> Reply {
    message(422, &format!("Invalid request.\n\n{text}"))
}

pub(super) fn handle(req: &Request, s: &mut State, parts: &[&str]) -> Reply {
    let writing = req.method == "POST";
    match s.deployments.access {
        Access::Write => {}
        Access::Read if !writing => {}
        Access::Read | Access::None => return forbidden(),
        Access::Failing(status) => {
            return if status == 503 {
                Reply::json(
                    503,
                    json!({"code": "unavailable", "message": "Service unavailable",
                           "documentation_url": "https://docs.github.com/rest"}),
                )
            } else {
                message(status, "Server Error")
            };
        }
    }
    match (req.method.as_str(), parts) {
        ("POST", ["deployments"]) => create(req, s),
        ("GET", ["deployments"]) => list(req, s),
        ("GET", ["deployments", id]) => {
            match id.parse().ok().and_then(|id| s.deployments.get(id)) {
                Some(d) => Reply::json(200, objects::deployment(s, d)),
                None => message(404, "Not Found"),
            }
        }
        ("POST", ["deployments", id, "statuses"]) => create_status(req, s, id),
        ("GET", ["deployments", id, "statuses"]) => list_statuses(req, s, id),
        ("GET", ["deployments", id, "statuses", status]) => {
            let d = id.parse().ok().and_then(|id| s.deployments.get(id));
            let st = d.and_then(|d| {
                d.statuses
                    .iter()
                    .find(|st| st.id.to_string() == *status)
                    .map(|st| (d, st))
            });
            match st {
                Some((d, st)) => Reply::json(200, objects::deployment_status(s, d, st)),
                None => message(404, "Not Found"),
            }
        }
        _ => message(404, "Not Found"),
    }
}

/// Check `body[key]` against a JSON type; GitHub's words when it does not fit.
fn typed(body: &Value, key: &str, ok: fn(&Value) -> bool, what: &str) -> Result<(), Reply> {
    match body.get(key) {
        Some(v) if !ok(v) => Err(invalid(&format!(
            "For 'properties/{key}', {v} is not {what}."
        ))),
        _ => Ok(()),
    }
}

fn create(req: &Request, s: &mut State) -> Reply {
    let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
        return message(400, "Problems parsing JSON");
    };
    let checks = [
        typed(&body, "ref", Value::is_string, "a string"),
        typed(&body, "task", Value::is_string, "a string"),
        typed(&body, "auto_merge", Value::is_boolean, "a boolean"),
        typed(
            &body,
            "required_contexts",
            |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "an array of strings",
        ),
        typed(
            &body,
            "payload",
            |v| v.is_object() || v.is_string(),
            "an object or a string",
        ),
        typed(&body, "environment", Value::is_string, "a string"),
        typed(
            &body,
            "description",
            |v| v.is_string() || v.is_null(),
            "a string or null",
        ),
        typed(
            &body,
            "transient_environment",
            Value::is_boolean,
            "a boolean",
        ),
        typed(
            &body,
            "production_environment",
            Value::is_boolean,
            "a boolean",
        ),
    ];
    for check in checks {
        if let Err(reply) = check {
            return reply;
        }
    }
    let Some(git_ref) = body["ref"].as_str() else {
        return invalid("\"ref\" wasn't supplied.");
    };
    let Some(sha) = s.resolve(git_ref).map(|c| c.sha.clone()) else {
        return message(422, &format!("No ref found for: {git_ref}"));
    };
    let exempt: Option<Vec<&str>> = body["required_contexts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let failing: Vec<&String> = s
        .deployments
        .failing_contexts
        .iter()
        .filter(|c| exempt.as_ref().is_none_or(|e| e.contains(&c.as_str())))
        .collect();
    if !failing.is_empty() {
        let contexts: Vec<Value> = failing
            .iter()
            .map(|c| json!({"context": c, "state": "failure"}))
            .collect();
        return Reply::json(
            409,
            json!({"message": format!("Conflict: Commit status checks failed for {git_ref}."),
                   "errors": [{"contexts": contexts, "resource": "Deployment",
                               "field": "required_contexts", "code": "invalid"}],
                   "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
                   "status": "409"}),
        );
    }
    let environment = body["environment"]
        .as_str()
        .unwrap_or("production")
        .to_string();
    let created_at = now();
    let id = s.deployments.next_id();
    let d = Deployment {
        id,
        sha,
        git_ref: git_ref.to_string(),
        task: body["task"].as_str().unwrap_or("deploy").to_string(),
        original_environment: environment.clone(),
        production_environment: body["production_environment"]
            .as_bool()
            .unwrap_or(environment == "production"),
        environment,
        payload: match &body["payload"] {
            Value::Null => json!({}),
            // A JSON text is stored as what it says.
            Value::String(t) => serde_json::from_str::<Value>(t)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!(t)),
            v => v.clone(),
        },
        description: match body.get("description") {
            None => Some(String::new()),
            Some(Value::Null) => None,
            Some(v) => v.as_str().map(str::to_string),
        },
        transient_environment: body["transient_environment"].as_bool().unwrap_or(false),
        created_at,
        updated_at: created_at,
        statuses: Vec::new(),
    };
    let answer = objects::deployment(s, &d);
    s.deployments.push(d);
    Reply::json(201, answer)
}

fn list(req: &Request, s: &mut State) -> Reply {
    let q = query_map(&req.query);
    let filter = |key: &str| q.get(key).filter(|v| !v.is_empty()).cloned();
    let (environment, task, git_ref, sha) = (
        filter("environment"),
        filter("task"),
        filter("ref"),
        filter("sha"),
    );
    let page = Page::from_query(&q);
    let store = &mut s.deployments;
    let order = store.newest_first().to_vec();
    let matching: Vec<usize> = order
        .into_iter()
        .filter(|&i| {
            let d = &store.list[i];
            environment.as_ref().is_none_or(|e| *e == d.environment)
                && task.as_ref().is_none_or(|t| *t == d.task)
                && git_ref.as_ref().is_none_or(|r| *r == d.git_ref)
                && sha.as_ref().is_none_or(|h| *h == d.sha)
        })
        .collect();
    let items: Vec<Value> = matching[page.range(matching.len())]
        .iter()
        .map(|&i| objects::deployment(s, &s.deployments.list[i]))
        .collect();
    let mut reply = Reply::json(200, Value::Array(items));
    let base = format!(
        "{}/repositories/{}/deployments",
        s.api_url,
        super::REPOSITORY_ID
    );
    if let Some(link) = page.link(matching.len(), &base, &q) {
        reply = reply.header("link", &link);
    }
    reply
}

const STATES: &[&str] = &[
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

fn create_status(req: &Request, s: &mut State, id: &str) -> Reply {
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| s.deployments.get(*id).is_some())
    else {
        return message(404, "Not Found");
    };
    let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
        return message(400, "Problems parsing JSON");
    };
    for key in [
        "state",
        "target_url",
        "log_url",
        "description",
        "environment",
        "environment_url",
    ] {
        if let Err(reply) = typed(&body, key, Value::is_string, "a string") {
            return reply;
        }
    }
    if let Err(reply) = typed(&body, "auto_inactive", Value::is_boolean, "a boolean") {
        return reply;
    }
    let Some(state) = body["state"].as_str() else {
        return invalid("\"state\" wasn't supplied.");
    };
    if !STATES.contains(&state) {
        return invalid(&format!(
            "For 'properties/state', \"{state}\" is not a member of [{}].",
            STATES.join(", ")
        ));
    }
    let description = body["description"].as_str().unwrap_or_default().to_string();
    if description.chars().count() > 140 {
        return Reply::json(
            422,
            json!({"message": "Validation Failed",
                   "errors": [{"resource": "DeploymentStatus", "code": "custom", "field": "description",
                               "message": "description is too long (maximum is 140 characters)"}],
                   "documentation_url": "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status",
                   "status": "422"}),
        );
    }
    let at = now();
    let status_id = s.deployments.next_status_id();
    let d = s.deployments.get_mut(id).unwrap();
    let environment = body["environment"]
        .as_str()
        .map(str::to_string)
        .or_else(|| d.latest().map(|l| l.environment.clone()))
        .unwrap_or_else(|| d.environment.clone());
    d.environment = environment.clone();
    let log_url = body["log_url"].as_str().unwrap_or_default().to_string();
    let target_url = if log_url.is_empty() {
        body["target_url"].as_str().unwrap_or_default().to_string()
    } else {
        log_url.clone()
    };
    let status = DeploymentStatus {
        id: status_id,
        state: state.to_string(),
        description,
        environment: environment.clone(),
        log_url,
        target_url,
        environment_url: body["environment_url"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        created_at: at,
    };
    d.statuses.push(status.clone());
    d.updated_at = at;
    if state == "success" && body["auto_inactive"].as_bool().unwrap_or(true) {
        inactivate_prior(s, id, &environment, at);
    }
    let d = s.deployments.get(id).unwrap();
    let location = format!(
        "{}/deployments/{id}/statuses/{}",
        s.api_repo_url(),
        status.id
    );
    Reply::json(201, objects::deployment_status(s, d, &status)).header("location", &location)
}

/// GitHub's `auto_inactive`: every earlier deployment of `environment` that is neither
/// transient nor production and whose latest status is `success` gets an `inactive` one.
fn inactivate_prior(s: &mut State, id: u64, environment: &str, at: u64) {
    let prior: Vec<usize> = s
        .deployments
        .list
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.id < id
                && d.environment == environment
                && !d.transient_environment
                && !d.production_environment
                && d.latest().is_some_and(|l| l.state == "success")
        })
        .map(|(i, _)| i)
        .collect();
    for i in prior {
        let status_id = s.deployments.next_status_id();
        let d = &mut s.deployments.list[i];
        d.statuses.push(DeploymentStatus {
            id: status_id,
            state: "inactive".into(),
            description: String::new(),
            environment: environment.to_string(),
            log_url: String::new(),
            target_url: String::new(),
            environment_url: String::new(),
            created_at: at,
        });
        d.updated_at = at;
    }
}

fn list_statuses(req: &Request, s: &State, id: &str) -> Reply {
    let Some(d) = id.parse::<u64>().ok().and_then(|id| s.deployments.get(id)) else {
        return message(404, "Not Found");
    };
    let q = query_map(&req.query);
    let page = Page::from_query(&q);
    let mut statuses: Vec<&DeploymentStatus> = d.statuses.iter().collect();
    statuses.sort_by_key(|st| std::cmp::Reverse((st.created_at, st.id)));
    let items: Vec<Value> = statuses[page.range(statuses.len())]
        .iter()
        .map(|st| objects::deployment_status(s, d, st))
        .collect();
    let mut reply = Reply::json(200, Value::Array(items));
    let base = format!(
        "{}/repositories/{}/deployments/{}/statuses",
        s.api_url,
        super::REPOSITORY_ID,
        d.id
    );
    if let Some(link) = page.link(statuses.len(), &base, &q) {
        reply = reply.header("link", &link);
    }
    reply
}

/// `GET /repos/{o}/{r}/commits/{ref}`.
pub(super) fn commit(s: &State, git_ref: &str) -> Reply {
    match s.resolve(git_ref) {
        Some(c) => Reply::json(200, objects::commit(s, c)),
        None => message(422, &format!("No commit found for SHA: {git_ref}")),
    }
}
