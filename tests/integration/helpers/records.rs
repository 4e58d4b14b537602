//! Records in the GitHub stand-in, as ecr-promote writes them (task `deploy:ecr-promote`, the
//! version 2 payload), and the events a run is started by.

use serde_json::{Value, json};

use super::github::{FakeGitHub, Seed};

/// A record of `environment`: `tag` with `digests` (repository → digest), created at `at`,
/// with one status `state` a second later (none when `state` is empty).
pub struct Rec<'a> {
    pub environment: &'a str,
    pub at: u64,
    pub tag: &'a str,
    pub digests: &'a [(&'a str, &'a str)],
    pub state: &'a str,
    pub hold: bool,
    pub rollback_of: Option<u64>,
    pub promotion_id: &'a str,
    pub sha: Option<&'a str>,
}

impl<'a> Rec<'a> {
    pub fn new(
        environment: &'a str,
        at: u64,
        tag: &'a str,
        digests: &'a [(&'a str, &'a str)],
    ) -> Rec<'a> {
        Rec {
            environment,
            at,
            tag,
            digests,
            state: "success",
            hold: false,
            rollback_of: None,
            promotion_id: "ecrp-00000000000000aa",
            sha: None,
        }
    }
    pub fn state(mut self, state: &'a str) -> Self {
        self.state = state;
        self
    }
    pub fn hold(mut self, rollback_of: Option<u64>, promotion_id: &'a str) -> Self {
        self.hold = true;
        self.rollback_of = rollback_of;
        self.promotion_id = promotion_id;
        self
    }
    pub fn sha(mut self, sha: &'a str) -> Self {
        self.sha = Some(sha);
        self
    }

    pub fn payload(&self) -> Value {
        let digests: serde_json::Map<String, Value> = self
            .digests
            .iter()
            .map(|(r, d)| (r.to_string(), json!(d)))
            .collect();
        json!({
            "ecr_promote": 2,
            "image_tag": self.tag,
            "image_digests": digests,
            "chain": ["dev", "qa", "staging"],
            "from_environment": null,
            "promotion_id": self.promotion_id,
            "run_url": "https://github.example/acme/shop/actions/runs/1",
            "rollback_of": self.rollback_of,
            "hold": self.hold,
        })
    }

    /// Seed it; its deployment id.
    pub fn add(self, gh: &FakeGitHub) -> u64 {
        let mut seed = Seed::new(self.environment, self.at).payload(self.payload());
        if let Some(sha) = self.sha {
            seed = seed.sha(sha);
        }
        if !self.state.is_empty() {
            seed = seed.status(self.state, self.at + 1);
        }
        gh.add_deployment(seed)
    }
}

/// The event of a run that ecr-promote's dispatch started: its inputs carry the promotion id.
pub fn dispatched_event(environment: &str, tag: &str, promotion_id: &str) -> String {
    json!({
        "inputs": {"environment": environment, "image_tag": tag, "auto_promote": "true", "promotion_id": promotion_id},
        "ref": "refs/heads/main",
        "sender": {"login": "github-actions[bot]", "type": "Bot"},
    })
    .to_string()
}

/// The event of a person's "Run workflow".
pub fn manual_event(environment: &str, tag: &str) -> String {
    json!({
        "inputs": {"environment": environment, "image_tag": tag, "auto_promote": "true", "promotion_id": ""},
        "ref": "refs/heads/main",
        "sender": {"login": "octocat", "type": "User"},
    })
    .to_string()
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
