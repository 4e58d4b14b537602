//! What this run writes in the record: the deployment (environment, commit, payload) and its
//! status, from the outcome and what the record already holds.

use std::collections::BTreeMap;

use crate::config::{Inputs, RunContext};
use crate::outcome::ResultCode;
use crate::record::{History, PAYLOAD_VERSION, Payload, Records, TASK};

/// A deployment to write, with its one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub environment: String,
    /// The commit the image was built from.
    pub sha: String,
    pub task: &'static str,
    pub payload: Payload,
    /// `success`, `failure`, `error` or `queued`.
    pub state: &'static str,
    pub description: String,
    pub environment_url: Option<String>,
    pub log_url: Option<String>,
}

/// The status a run's record gets: `success` when the deploy succeeded; `failure` when it
/// failed or a gate refused the image; `error` otherwise.
pub fn state_of(result: ResultCode, deploy_success: bool) -> &'static str {
    if deploy_success {
        return "success";
    }
    match result {
        ResultCode::DeployFailed
        | ResultCode::ImageChanged
        | ResultCode::ImageUnavailable
        | ResultCode::Vulnerable
        | ResultCode::Unhealthy => "failure",
        _ => "error",
    }
}

/// Whether the record of a run holds the environment: a run that ecr-promote's dispatch (or
/// another automation) started carries the hold forward; a person's run lifts it.
pub fn hold_for(run: &RunContext, history: Option<&History>) -> bool {
    !run.started_by_person() && history.and_then(History::held).is_some()
}

/// This run is the deploy a rollback dispatched: the environment's newest rollback carries
/// the promotion id that started it.
pub fn is_rollback_deploy(run: &RunContext, history: Option<&History>) -> bool {
    match (&run.promotion, history.and_then(History::newest_rollback)) {
        (Some(id), Some(rollback)) => rollback.payload.promotion_id == *id,
        _ => false,
    }
}

/// The commit to record: the `ref` of an earlier record of the same image, else this run's.
pub fn commit_for(
    records: &Records,
    digests: &BTreeMap<String, String>,
    run: &RunContext,
) -> Option<String> {
    records
        .source_of(digests)
        .map(str::to_string)
        .or_else(|| run.sha.clone())
}

/// What every record of a run says about `environment` and the image; the differences
/// between a promotion's and a rollback's come after.
fn entry(
    inputs: &Inputs,
    records: &Records,
    tag: &str,
    digests: &BTreeMap<String, String>,
    promotion_id: &str,
    state: &'static str,
    description: String,
) -> Option<Entry> {
    Some(Entry {
        environment: inputs.environment.clone(),
        sha: commit_for(records, digests, &inputs.run)?,
        task: TASK,
        payload: Payload {
            ecr_promote: PAYLOAD_VERSION,
            image_tag: tag.to_string(),
            image_digests: digests.clone(),
            chain: inputs.chain.names().to_vec(),
            from_environment: None,
            promotion_id: promotion_id.to_string(),
            run_url: inputs.run.run_url.clone().unwrap_or_default(),
            rollback_of: None,
            hold: false,
        },
        state,
        description,
        environment_url: inputs.record.environment_url.clone(),
        log_url: inputs.run.run_url.clone(),
    })
}

/// The record of a promote run: what `environment` got, and how it went.
pub fn promote_entry(
    inputs: &Inputs,
    records: &Records,
    tag: &str,
    digests: &BTreeMap<String, String>,
    state: &'static str,
    promotion_id: &str,
    description: String,
) -> Option<Entry> {
    let history = records.of(&inputs.environment);
    let mut e = entry(
        inputs,
        records,
        tag,
        digests,
        promotion_id,
        state,
        description,
    )?;
    // A promotion brings the image from the environment before; a rollback's deploy and a
    // person's run bring it from nowhere in the chain.
    if inputs.run.started_by_promotion() && !is_rollback_deploy(&inputs.run, history) {
        e.payload.from_environment = inputs.previous_environment().map(str::to_string);
    }
    e.payload.hold = hold_for(&inputs.run, history);
    Some(e)
}

/// The record of a rollback: `environment` goes back to `tag`, held; the run the dispatch
/// starts records the outcome.
pub fn rollback_entry(
    inputs: &Inputs,
    records: &Records,
    tag: &str,
    digests: &BTreeMap<String, String>,
    rollback_of: Option<u64>,
    promotion_id: &str,
    description: String,
) -> Option<Entry> {
    let mut e = entry(
        inputs,
        records,
        tag,
        digests,
        promotion_id,
        "queued",
        description,
    )?;
    e.payload.rollback_of = rollback_of;
    e.payload.hold = true;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{digests, record};

    #[test]
    fn statuses_follow_the_outcome() {
        assert_eq!(state_of(ResultCode::Promoted, true), "success");
        assert_eq!(
            state_of(ResultCode::Frozen, true),
            "success",
            "the deploy succeeded"
        );
        assert_eq!(state_of(ResultCode::DispatchRejected, true), "success");
        for code in [
            ResultCode::DeployFailed,
            ResultCode::ImageChanged,
            ResultCode::ImageUnavailable,
            ResultCode::Vulnerable,
            ResultCode::Unhealthy,
        ] {
            assert_eq!(state_of(code, false), "failure", "{}", code.as_str());
        }
        assert_eq!(state_of(ResultCode::ImageMissing, false), "error");
        assert_eq!(state_of(ResultCode::Error, false), "error");
    }

    #[test]
    fn a_hold_is_carried_by_automation_and_lifted_by_a_person() {
        let mut r = record(9, "qa", 900, "old", &[("queued", 901)]);
        r.payload.hold = true;
        r.payload.rollback_of = Some(8);
        r.payload.promotion_id = "ecrp-rb".into();
        let h = History::new("qa", vec![r]);
        let person = RunContext::default();
        let ours = RunContext {
            promotion: Some("ecrp-rb".into()),
            by_bot: true,
            ..RunContext::default()
        };
        let other = RunContext {
            promotion: Some("ecrp-other".into()),
            ..RunContext::default()
        };
        assert!(!hold_for(&person, Some(&h)));
        assert!(hold_for(&ours, Some(&h)));
        assert!(hold_for(&other, Some(&h)));
        assert!(!hold_for(&ours, None));
        assert!(is_rollback_deploy(&ours, Some(&h)));
        assert!(!is_rollback_deploy(&other, Some(&h)));
        assert!(!is_rollback_deploy(&person, Some(&h)));
    }

    #[test]
    fn the_commit_comes_from_an_earlier_record_of_the_image() {
        let mut records = Records::default();
        records.histories.insert(
            "dev".into(),
            History::new("dev", vec![record(3, "dev", 100, "a", &[])]),
        );
        let run = RunContext {
            sha: Some("f".repeat(40)),
            ..RunContext::default()
        };
        assert_eq!(
            commit_for(&records, &digests("a"), &run),
            Some(format!("{:040x}", 3))
        );
        assert_eq!(
            commit_for(&records, &digests("b"), &run),
            Some("f".repeat(40))
        );
        assert_eq!(
            commit_for(&records, &digests("b"), &RunContext::default()),
            None
        );
    }
}
