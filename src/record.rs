//! The record of what runs where: GitHub deployments written by ecr-promote (task
//! `deploy:ecr-promote`), one per promote or rollback run, with its payload and statuses; and
//! what can be read from them. Pure: the GitHub adapter lists the records, this reads them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The task every record has; other deployments are not ours.
pub const TASK: &str = "deploy:ecr-promote";
/// The payload's version.
pub const PAYLOAD_VERSION: u32 = 2;

/// A record's payload. Its keys are public API, like the outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub ecr_promote: u32,
    pub image_tag: String,
    /// Repository name → digest.
    pub image_digests: BTreeMap<String, String>,
    pub chain: Vec<String>,
    /// The environment the image came from, when a promotion brought it.
    pub from_environment: Option<String>,
    pub promotion_id: String,
    pub run_url: String,
    /// The deployment id of the record a rollback replaced.
    pub rollback_of: Option<u64>,
    /// Automatic promotions into the environment stop while its newest record holds it.
    pub hold: bool,
}

/// A deployment status's state, as GitHub names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Success,
    Failure,
    Error,
    Inactive,
    Queued,
    Pending,
    InProgress,
    Other(String),
}

impl State {
    pub fn parse(s: &str) -> State {
        match s.to_ascii_lowercase().as_str() {
            "success" => State::Success,
            "failure" => State::Failure,
            "error" => State::Error,
            "inactive" => State::Inactive,
            "queued" => State::Queued,
            "pending" => State::Pending,
            "in_progress" => State::InProgress,
            other => State::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            State::Success => "success",
            State::Failure => "failure",
            State::Error => "error",
            State::Inactive => "inactive",
            State::Queued => "queued",
            State::Pending => "pending",
            State::InProgress => "in_progress",
            State::Other(s) => s,
        }
    }
}

/// One status of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    /// Epoch seconds.
    pub at: i64,
}

/// One deployment written by ecr-promote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    pub environment: String,
    /// The commit the image was built from.
    pub sha: String,
    /// Epoch seconds.
    pub created_at: i64,
    pub payload: Payload,
    /// Every status, when they were read; `None` when only the listing was.
    pub statuses: Option<Vec<Status>>,
}

impl Record {
    /// When it got its `success` status (the first one), if it did.
    pub fn succeeded_at(&self) -> Option<i64> {
        self.statuses
            .as_ref()?
            .iter()
            .filter(|s| s.state == State::Success)
            .map(|s| s.at)
            .min()
    }

    /// A successful record has a `success` status, even after GitHub made it `inactive`.
    pub fn is_success(&self) -> bool {
        self.succeeded_at().is_some()
    }

    /// Its outcome: the newest status that is not `inactive` (GitHub adds those on its own).
    pub fn outcome(&self) -> Option<&State> {
        self.statuses
            .as_ref()?
            .iter()
            .filter(|s| s.state != State::Inactive)
            .max_by_key(|s| s.at)
            .map(|s| &s.state)
    }

    pub fn is_rollback(&self) -> bool {
        self.payload.rollback_of.is_some()
    }

    pub fn same_image(&self, digests: &BTreeMap<String, String>) -> bool {
        !digests.is_empty() && &self.payload.image_digests == digests
    }
}

/// One environment's records, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub environment: String,
    pub records: Vec<Record>,
}

impl History {
    pub fn new(environment: &str, mut records: Vec<Record>) -> History {
        records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        History {
            environment: environment.to_string(),
            records,
        }
    }

    /// The newest record, whatever its status.
    pub fn newest(&self) -> Option<&Record> {
        self.records.first()
    }

    /// What the environment runs now: its newest successful record.
    pub fn current(&self) -> Option<&Record> {
        self.records.iter().find(|r| r.is_success())
    }

    /// What it ran before its current image: the newest successful record, older than the
    /// current one, of another image.
    pub fn before_current(&self) -> Option<&Record> {
        let current = self.current()?;
        self.records
            .iter()
            .filter(|r| r.created_at <= current.created_at && r.id != current.id)
            .find(|r| r.is_success() && r.payload.image_digests != current.payload.image_digests)
    }

    /// An environment is held when its newest record says so.
    pub fn held(&self) -> Option<&Record> {
        self.newest().filter(|r| r.payload.hold)
    }

    /// The newest rollback record, the one a hold comes from.
    pub fn newest_rollback(&self) -> Option<&Record> {
        self.records.iter().find(|r| r.is_rollback())
    }

    /// The records of this image.
    pub fn of_image<'a>(
        &'a self,
        digests: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.same_image(digests))
    }

    /// When this image first succeeded here, if it did.
    pub fn first_success_of(&self, digests: &BTreeMap<String, String>) -> Option<i64> {
        self.of_image(digests)
            .filter_map(Record::succeeded_at)
            .min()
    }

    /// The records whose statuses are needed to answer "what runs here, what ran before, did
    /// this image succeed": the newest few, and the records of `image`: all of them when there
    /// are at most `IMAGE_RECORDS`, else the newest and the oldest half of that (its first success,
    /// which a soak counts from, is most likely among the oldest), so that an image deployed
    /// again and again costs a bounded number of requests.
    pub fn wanting_statuses(
        &self,
        newest: usize,
        image: Option<&BTreeMap<String, String>>,
    ) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .records
            .iter()
            .filter(|r| r.statuses.is_none())
            .take(newest)
            .map(|r| r.id)
            .collect();
        if let Some(digests) = image {
            let unread: Vec<&Record> = self
                .of_image(digests)
                .filter(|r| r.statuses.is_none())
                .collect();
            let half = IMAGE_RECORDS / 2;
            let chosen: Vec<&Record> = if unread.len() <= IMAGE_RECORDS {
                unread
            } else {
                let oldest = &unread[unread.len() - half..];
                unread[..half].iter().chain(oldest).copied().collect()
            };
            for r in chosen {
                if !ids.contains(&r.id) {
                    ids.push(r.id);
                }
            }
        }
        ids
    }
}

/// The most records of one image whose statuses a run reads per environment.
pub const IMAGE_RECORDS: usize = 10;

/// The records of several environments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    pub histories: BTreeMap<String, History>,
}

impl Records {
    pub fn of(&self, environment: &str) -> Option<&History> {
        self.histories.get(environment)
    }

    /// The commit an image was built from: the `ref` of its oldest record anywhere.
    pub fn source_of(&self, digests: &BTreeMap<String, String>) -> Option<&str> {
        self.histories
            .values()
            .flat_map(|h| h.records.iter())
            .filter(|r| r.same_image(digests))
            .min_by_key(|r| (r.created_at, r.id))
            .map(|r| r.sha.as_str())
    }

    /// Put the statuses read for record `id` in place.
    pub fn set_statuses(&mut self, id: u64, statuses: Vec<Status>) {
        for h in self.histories.values_mut() {
            for r in h.records.iter_mut().filter(|r| r.id == id) {
                r.statuses = Some(statuses.clone());
            }
        }
    }
}

/// Read a listed deployment's payload: ours when it parses as a version 2 payload.
pub fn payload_of(value: &serde_json::Value) -> Option<Payload> {
    let value = match value {
        serde_json::Value::String(text) => serde_json::from_str(text).ok()?,
        other => other.clone(),
    };
    let payload: Payload = serde_json::from_value(value).ok()?;
    (payload.ecr_promote >= PAYLOAD_VERSION).then_some(payload)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn digests(d: &str) -> BTreeMap<String, String> {
        [("app".to_string(), format!("sha256:{d}"))].into()
    }

    pub fn record(id: u64, env: &str, at: i64, image: &str, states: &[(&str, i64)]) -> Record {
        Record {
            id,
            environment: env.into(),
            sha: format!("{id:040x}"),
            created_at: at,
            payload: Payload {
                ecr_promote: 2,
                image_tag: format!("tag-{image}"),
                image_digests: digests(image),
                chain: vec!["dev".into(), "qa".into(), "staging".into()],
                from_environment: None,
                promotion_id: format!("ecrp-{id}"),
                run_url: String::new(),
                rollback_of: None,
                hold: false,
            },
            statuses: Some(
                states
                    .iter()
                    .map(|(s, t)| Status {
                        state: State::parse(s),
                        at: *t,
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn what_an_environment_runs_and_ran_before() {
        let h = History::new(
            "qa",
            vec![
                record(1, "qa", 100, "a", &[("success", 110), ("inactive", 210)]),
                record(2, "qa", 200, "b", &[("success", 220), ("inactive", 320)]),
                record(3, "qa", 300, "c", &[("failure", 310)]),
                record(4, "qa", 400, "c", &[("success", 420)]),
                record(5, "qa", 500, "d", &[("error", 510)]),
            ],
        );
        assert_eq!(h.newest().unwrap().id, 5);
        assert_eq!(h.current().unwrap().id, 4, "newest successful");
        assert_eq!(
            h.before_current().unwrap().id,
            2,
            "successful, another image"
        );
        assert_eq!(
            h.records[3].outcome(),
            Some(&State::Success),
            "inactive ignored"
        );
        assert_eq!(h.first_success_of(&digests("c")), Some(420));
        assert_eq!(h.first_success_of(&digests("d")), None);
        assert!(h.held().is_none());
    }

    #[test]
    fn a_hold_is_the_newest_records_whatever_its_status() {
        let mut held = record(9, "staging", 900, "a", &[("queued", 901)]);
        held.payload.hold = true;
        held.payload.rollback_of = Some(8);
        let h = History::new(
            "staging",
            vec![record(8, "staging", 800, "b", &[("failure", 810)]), held],
        );
        assert_eq!(h.held().unwrap().id, 9);
        assert_eq!(h.newest_rollback().unwrap().id, 9);
        assert!(h.current().is_none());
    }

    #[test]
    fn the_source_commit_is_the_oldest_record_of_the_image() {
        let mut records = Records::default();
        records.histories.insert(
            "dev".into(),
            History::new("dev", vec![record(1, "dev", 100, "a", &[])]),
        );
        records.histories.insert(
            "qa".into(),
            History::new("qa", vec![record(2, "qa", 200, "a", &[])]),
        );
        assert_eq!(
            records.source_of(&digests("a")),
            Some(format!("{:040x}", 1).as_str())
        );
        assert_eq!(records.source_of(&digests("z")), None);
    }

    #[test]
    fn payloads_are_read_as_objects_or_text_and_others_are_not_ours() {
        let p = record(1, "qa", 1, "a", &[]).payload;
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(payload_of(&v), Some(p.clone()));
        assert_eq!(
            payload_of(&serde_json::Value::String(v.to_string())),
            Some(p)
        );
        assert_eq!(payload_of(&serde_json::json!({"foo": 1})), None);
        assert_eq!(payload_of(&serde_json::json!({})), None);
    }

    #[test]
    fn statuses_are_wanted_for_the_newest_and_the_image() {
        let mut h = History::new(
            "qa",
            (1..=6)
                .map(|i| record(i, "qa", i as i64 * 10, if i == 1 { "x" } else { "y" }, &[]))
                .collect(),
        );
        for r in &mut h.records {
            r.statuses = None;
        }
        assert_eq!(h.wanting_statuses(2, Some(&digests("x"))), vec![6, 5, 1]);
    }

    #[test]
    fn an_image_deployed_again_and_again_costs_a_bounded_number_of_reads() {
        // 30 records of image x (ids 1..=30, newest first as GitHub lists them).
        let mut h = History::new(
            "qa",
            (1..=30)
                .rev()
                .map(|i| record(i, "qa", i as i64 * 10, "x", &[]))
                .collect(),
        );
        for r in &mut h.records {
            r.statuses = None;
        }
        let ids = h.wanting_statuses(3, Some(&digests("x")));
        assert_eq!(ids.len(), IMAGE_RECORDS);
        // The newest five (which include the newest three) and the oldest five.
        assert_eq!(ids, vec![30, 29, 28, 27, 26, 5, 4, 3, 2, 1]);
    }
}
