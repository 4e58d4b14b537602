//! The whole pipeline with in-memory adapters: every result code reached without a process,
//! a network or a clock beyond tokio's paused one. The seams are traits; these are their
//! smallest honest implementations.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Adapters, run};
use crate::config::{MapSource, parse};
use crate::ecr::{
    Lookup, Manifest, Registry, RegistryError, Resolved, Scan, TagMutability, Tagged,
};
use crate::github::{
    Deployment, Dispatched, GhError, GitHub, NewDeployment, NewStatus, RunPoll, WorkflowMeta,
};
use crate::model::{Correlation, ImageInfo, Repository, RunInfo, WorkflowId};
use crate::outcome::{RESULT_CODES, Report, ResultCode};
use crate::record::{State, Status};
use crate::runtime::Progress;
use crate::web::{Web, WebAnswer, WebError};

const TAG: &str = "v2";
const OLD: &str = "v1";
const NOW_ISH: i64 = 1_800_000_000;

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// Tags of one repository ("app"): tag → (digest, status).
#[derive(Default)]
struct MemRegistry {
    tags: HashMap<String, (String, String)>,
    platforms: Option<Vec<String>>,
    scan: Option<Scan>,
    down: bool,
    /// The repository's tag mutability; `None`: MUTABLE.
    mutability: Option<TagMutability>,
}

impl MemRegistry {
    fn with(tags: &[(&str, u64)]) -> MemRegistry {
        MemRegistry {
            tags: tags
                .iter()
                .map(|(t, d)| (t.to_string(), (digest(*d), "ACTIVE".to_string())))
                .collect(),
            ..MemRegistry::default()
        }
    }
}

impl Registry for MemRegistry {
    async fn lookup(&self, _repo: &Repository, tag: &str) -> Result<Lookup, RegistryError> {
        if self.down {
            return Err(RegistryError::Unreachable("no route".into()));
        }
        Ok(match self.tags.get(tag) {
            Some((digest, status)) => Lookup::Found(ImageInfo {
                digest: digest.clone(),
                pushed_at: None,
                size_bytes: None,
                status: Some(status.clone()),
            }),
            None => Lookup::TagMissing {
                suggestions: Vec::new(),
            },
        })
    }
    async fn resolve_prefix(&self, _: &Repository, _: &str) -> Result<Resolved, RegistryError> {
        Ok(Resolved::NoMatch { pages: 1 })
    }
    async fn platforms(
        &self,
        _: &Repository,
        _: &str,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        Ok(self.platforms.clone())
    }
    async fn scan(&self, _: &Repository, _: &str, _: Duration) -> Result<Scan, RegistryError> {
        Ok(self.scan.clone().unwrap_or(Scan::Missing))
    }
    async fn mutability(&self, _: &Repository) -> Result<TagMutability, RegistryError> {
        Ok(self.mutability.clone().unwrap_or(TagMutability {
            setting: "MUTABLE".into(),
            exclusions: Vec::new(),
        }))
    }
    async fn tagged_digest(
        &self,
        _: &Repository,
        tag: &str,
    ) -> Result<Option<String>, RegistryError> {
        Ok(self.tags.get(tag).map(|(digest, _)| digest.clone()))
    }
    async fn manifest(&self, _: &Repository, digest: &str) -> Result<Manifest, RegistryError> {
        Ok(Manifest {
            digest: digest.to_string(),
            bytes: format!("{{\"of\":\"{digest}\"}}"),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        })
    }
    async fn put_tag(
        &self,
        _: &Repository,
        m: &Manifest,
        _: &str,
    ) -> Result<Tagged, RegistryError> {
        Ok(Tagged::Moved(m.digest.clone()))
    }
    async fn remove_tag(&self, _: &Repository, _: &str) -> Result<(), RegistryError> {
        Ok(())
    }
}

const WORKFLOW: &str = "on:\n  workflow_dispatch:\n    inputs:\n      environment: {type: choice, options: [dev, qa, staging]}\n      image_tag: {}\n      auto_promote: {type: boolean}\n      promotion_id: {}\n";

struct MemGitHub {
    file: String,
    refuse_dispatch: Option<GhError>,
    run_states: Mutex<Vec<(&'static str, Option<&'static str>)>>,
    deployments: Mutex<Vec<(Deployment, Vec<Status>)>>,
    dispatched: Mutex<Vec<BTreeMap<String, String>>>,
}

impl MemGitHub {
    fn new() -> MemGitHub {
        MemGitHub {
            file: WORKFLOW.into(),
            refuse_dispatch: None,
            run_states: Mutex::new(Vec::new()),
            deployments: Mutex::new(Vec::new()),
            dispatched: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, env: &str, at: i64, tag: &str, d: u64, state: &str, hold: bool) -> u64 {
        let mut list = self.deployments.lock().unwrap();
        let id = list.len() as u64 + 1;
        let payload = json!({"ecr_promote": 2, "image_tag": tag, "image_digests": {"app": digest(d)},
            "chain": ["dev", "qa", "staging"], "from_environment": null, "promotion_id": format!("ecrp-{id}"),
            "run_url": "", "rollback_of": if hold { json!(id - 1) } else { Value::Null }, "hold": hold});
        let statuses = vec![Status {
            state: State::parse(state),
            at: at + 1,
        }];
        list.push((
            Deployment {
                id,
                environment: env.into(),
                sha: "f".repeat(40),
                created_at: at,
                payload,
                url: format!("mem://deployments/{id}"),
            },
            statuses,
        ));
        id
    }
}

impl GitHub for MemGitHub {
    async fn workflow(&self, w: &WorkflowId) -> Result<WorkflowMeta, GhError> {
        Ok(WorkflowMeta {
            id: 1,
            path: w.path().unwrap_or_default(),
            state: "active".into(),
            name: "deploy".into(),
        })
    }
    async fn file(&self, _: &str, _: &str) -> Result<String, GhError> {
        Ok(self.file.clone())
    }
    async fn run_status(&self, _: u64, _: Option<&str>) -> Result<RunPoll, GhError> {
        let mut states = self.run_states.lock().unwrap();
        let (status, conclusion) = if states.len() > 1 {
            states.remove(0)
        } else {
            states.first().copied().unwrap_or(("queued", None))
        };
        Ok(RunPoll::State {
            status: status.into(),
            conclusion: conclusion.map(str::to_string),
            url: "mem://runs/1".into(),
            etag: None,
        })
    }
    async fn dispatch(
        &self,
        _: &WorkflowId,
        _: &str,
        inputs: &BTreeMap<String, String>,
        _: Option<&Correlation>,
    ) -> Result<Dispatched, GhError> {
        if let Some(e) = &self.refuse_dispatch {
            return Err(e.clone());
        }
        self.dispatched.lock().unwrap().push(inputs.clone());
        Ok(Dispatched {
            run: Some(RunInfo {
                id: 1,
                url: "mem://runs/1".into(),
            }),
            since: 0,
        })
    }
    async fn find_run(
        &self,
        _: &WorkflowId,
        _: &str,
        _: u64,
        _: Option<&Correlation>,
    ) -> Option<RunInfo> {
        None
    }
    async fn deployments(&self, env: &str, _: u32, _: u32) -> Result<Vec<Deployment>, GhError> {
        let mut found: Vec<Deployment> = self
            .deployments
            .lock()
            .unwrap()
            .iter()
            .filter(|(d, _)| d.environment == env)
            .map(|(d, _)| d.clone())
            .collect();
        found.reverse();
        Ok(found)
    }
    async fn statuses(&self, id: u64) -> Result<Vec<Status>, GhError> {
        Ok(self
            .deployments
            .lock()
            .unwrap()
            .iter()
            .find(|(d, _)| d.id == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default())
    }
    async fn create_deployment(&self, new: &NewDeployment) -> Result<Deployment, GhError> {
        let mut list = self.deployments.lock().unwrap();
        let d = Deployment {
            id: list.len() as u64 + 1,
            environment: new.environment.clone(),
            sha: new.git_ref.clone(),
            created_at: NOW_ISH,
            payload: new.payload.clone(),
            url: String::new(),
        };
        list.push((d.clone(), Vec::new()));
        Ok(d)
    }
    async fn create_status(&self, id: u64, new: &NewStatus) -> Result<(), GhError> {
        let mut list = self.deployments.lock().unwrap();
        if let Some((_, statuses)) = list.iter_mut().find(|(d, _)| d.id == id) {
            statuses.push(Status {
                state: State::parse(&new.state),
                at: NOW_ISH,
            });
        }
        Ok(())
    }
    async fn commit_time(&self, _: &str) -> Result<i64, GhError> {
        Ok(0)
    }
}

/// A health URL that answers with one status, always.
struct MemWeb(u16);

impl Web for MemWeb {
    async fn get(
        &self,
        _: &str,
        _: &[(String, String)],
        _: bool,
        _: Duration,
    ) -> Result<WebAnswer, WebError> {
        Ok(WebAnswer {
            status: self.0,
            body: String::new(),
            location: None,
        })
    }
}

fn inputs(pairs: &[(&str, &str)]) -> crate::config::Inputs {
    let mut src = MapSource::default()
        .input("environment", "qa")
        .input("image-tag", TAG)
        .input("ecr-repositories", "app")
        .input("aws-region", "eu-west-1")
        .input("github-token", "t")
        .var("GITHUB_REPOSITORY", "acme/shop")
        .var(
            "GITHUB_WORKFLOW_REF",
            "acme/shop/.github/workflows/deploy.yml@refs/heads/main",
        )
        .var("GITHUB_REF", "refs/heads/main")
        .var("GITHUB_SHA", &"a".repeat(40));
    for (k, v) in pairs {
        src = src.input(k, v);
    }
    parse(&src).unwrap_or_else(|e| panic!("{e:?}"))
}

fn go(pairs: &[(&str, &str)], registry: &MemRegistry, github: &MemGitHub, web: &MemWeb) -> Report {
    let inputs = inputs(pairs);
    let io = Adapters {
        registry,
        github: Some(github),
        web,
        poll: Duration::from_millis(10),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(run(&inputs, &io, &Progress::default()))
}

#[test]
fn every_result_code_is_reached_without_a_process() {
    let mut seen: Vec<ResultCode> = Vec::new();
    let mut expect = |report: Report, code: ResultCode, exit: i32| {
        assert_eq!(report.result, code, "{}: {}", code.as_str(), report.message);
        assert_eq!(report.exit_code(), exit, "exit of {}", code.as_str());
        seen.push(code);
    };
    let tags = MemRegistry::with(&[(TAG, 2), (OLD, 1)]);
    let gh = MemGitHub::new;
    let ok = MemWeb(200);

    expect(go(&[], &tags, &gh(), &ok), ResultCode::Promoted, 0);
    expect(
        go(&[("environment", "staging")], &tags, &gh(), &ok),
        ResultCode::EndOfChain,
        0,
    );
    expect(
        go(&[("auto-promote", "false")], &tags, &gh(), &ok),
        ResultCode::AutoPromoteDisabled,
        0,
    );
    expect(
        go(&[("dry-run", "true")], &tags, &gh(), &ok),
        ResultCode::DryRun,
        0,
    );
    expect(
        go(&[("deploy-status", "failure")], &tags, &gh(), &ok),
        ResultCode::DeployFailed,
        1,
    );
    expect(
        go(&[("image-tag", "v9")], &tags, &gh(), &ok),
        ResultCode::ImageMissing,
        1,
    );
    let mut rejecting = gh();
    rejecting.refuse_dispatch = Some(GhError::Refused {
        status: 422,
        message: "Unexpected inputs provided".into(),
    });
    expect(
        go(&[], &tags, &rejecting, &ok),
        ResultCode::DispatchRejected,
        1,
    );
    let mut down = gh();
    down.refuse_dispatch = Some(GhError::Unavailable("502".into()));
    expect(go(&[], &tags, &down, &ok), ResultCode::DispatchFailed, 1);
    let unreachable = MemRegistry {
        down: true,
        ..MemRegistry::with(&[])
    };
    expect(go(&[], &unreachable, &gh(), &ok), ResultCode::Error, 1);
    expect(
        go(&[("expected-digest", &digest(9))], &tags, &gh(), &ok),
        ResultCode::ImageChanged,
        1,
    );
    let mut archived = MemRegistry::with(&[(TAG, 2)]);
    archived.tags.get_mut(TAG).unwrap().1 = "ARCHIVED".into();
    expect(
        go(&[], &archived, &gh(), &ok),
        ResultCode::ImageUnavailable,
        1,
    );
    let mut findings = MemRegistry::with(&[(TAG, 2)]);
    findings.scan = Some(Scan::Complete([("CRITICAL".to_string(), 1)].into()));
    expect(
        go(&[("fail-on-severity", "high")], &findings, &gh(), &ok),
        ResultCode::Vulnerable,
        1,
    );
    expect(
        go(
            &[
                ("health-url", "https://qa.example/health"),
                ("timeouts", "qa=30s"),
            ],
            &tags,
            &gh(),
            &MemWeb(503),
        ),
        ResultCode::Unhealthy,
        1,
    );
    let failing_run = gh();
    *failing_run.run_states.lock().unwrap() = vec![("completed", Some("failure"))];
    expect(
        go(&[("wait-for", "completed")], &tags, &failing_run, &ok),
        ResultCode::DownstreamFailed,
        1,
    );
    expect(
        go(
            &[("wait-for", "completed"), ("timeouts", "staging=1m")],
            &tags,
            &gh(),
            &ok,
        ),
        ResultCode::DownstreamTimeout,
        1,
    );
    expect(
        go(&[("mode", "resolve")], &tags, &gh(), &ok),
        ResultCode::Resolved,
        0,
    );
    expect(
        go(
            &[("mode", "resolve"), ("require-upstream", "true")],
            &tags,
            &gh(),
            &ok,
        ),
        ResultCode::NotVerifiedUpstream,
        1,
    );
    let soaked = gh();
    soaked.record(
        "dev",
        crate::text::now_epoch() - 60,
        TAG,
        2,
        "success",
        false,
    );
    expect(
        go(
            &[("mode", "resolve"), ("soak-time", "qa=1h")],
            &tags,
            &soaked,
            &ok,
        ),
        ResultCode::Soaking,
        1,
    );
    expect(
        go(&[("soak-time", "staging=1h")], &tags, &soaked, &ok),
        ResultCode::Soaking,
        0,
    );
    let frozen = [("freeze", "*: 2020-01-01 - 2100-01-01")];
    expect(
        go(&[frozen[0], ("mode", "resolve")], &tags, &gh(), &ok),
        ResultCode::Frozen,
        1,
    );
    expect(go(&frozen, &tags, &gh(), &ok), ResultCode::Frozen, 0);
    let held = gh();
    held.record("staging", 100, OLD, 1, "queued", true);
    expect(go(&[], &tags, &held, &ok), ResultCode::Held, 0);
    let history = gh();
    history.record("qa", 100, OLD, 1, "success", false);
    history.record("qa", 200, TAG, 2, "success", false);
    expect(
        go(&[("mode", "rollback")], &tags, &history, &ok),
        ResultCode::RolledBack,
        0,
    );
    expect(
        go(
            &[
                ("deploy-status", "failure"),
                ("rollback-on-failure", "true"),
            ],
            &tags,
            &history,
            &ok,
        ),
        ResultCode::RolledBack,
        1,
    );
    expect(
        go(&[("mode", "rollback")], &tags, &gh(), &ok),
        ResultCode::NoRollbackTarget,
        1,
    );
    expect(
        crate::decide::invalid_input(
            &[crate::config::InputError {
                input: "image-tag".into(),
                problem: "is bad".into(),
            }],
            &crate::config::Partial::default(),
            &|_| false,
        ),
        ResultCode::InvalidInput,
        1,
    );

    // promote-by tag: `staging` is immutable and names another image.
    let mut locked = MemRegistry::with(&[(TAG, 2), (OLD, 1), ("staging", 1)]);
    locked.mutability = Some(TagMutability {
        setting: "IMMUTABLE".into(),
        exclusions: Vec::new(),
    });
    expect(
        go(&[("promote-by", "tag")], &locked, &gh(), &ok),
        ResultCode::TagRejected,
        1,
    );

    let missing: Vec<&str> = RESULT_CODES
        .iter()
        .filter(|c| !seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "no scenario reaches {missing:?}");
}
