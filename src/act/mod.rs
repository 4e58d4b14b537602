//! What a run does once it has decided: dispatch (at most once), write the record, move tags.

pub mod record;
pub mod tag;

use crate::decide::dispatch_error;
use crate::github::GitHub;
use crate::model::{CORRELATION_PREFIX, DispatchTarget, RunInfo};
use crate::outcome::{DispatchPlan, Failure};
use crate::runtime::Progress;

/// A value unique to one promotion, sent in the correlation input: `ecrp-` and 16 hex digits.
pub fn correlation_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    format!(
        "{CORRELATION_PREFIX}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Send the dispatch. `Ok` means GitHub accepted it; the run it started, when GitHub said or
/// the run could be found.
pub async fn dispatch<G: GitHub>(
    github: &G,
    target: &DispatchTarget,
    plan: &DispatchPlan,
    progress: &Progress,
) -> Result<Option<RunInfo>, Failure> {
    let correlation = plan.correlation.as_ref();
    let accepted = github
        .dispatch(&target.workflow, &target.git_ref, &plan.inputs, correlation)
        .await
        .map_err(|e| dispatch_error(&e, plan))?;
    // Known accepted from here on, whatever interrupts the rest.
    progress.dispatched();
    let run = match accepted.run {
        Some(run) => Some(run),
        None => {
            github
                .find_run(
                    &target.workflow,
                    &target.git_ref,
                    accepted.since,
                    correlation,
                )
                .await
        }
    };
    progress.run(run.clone());
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_unique_and_marked() {
        let a = correlation_id();
        let b = correlation_id();
        assert_ne!(a, b);
        assert!(a.starts_with(CORRELATION_PREFIX));
        assert_eq!(a.len(), CORRELATION_PREFIX.len() + 16);
    }
}
