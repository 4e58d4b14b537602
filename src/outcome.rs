//! What a run decided: the result code, a failure with its fix, and the report every output,
//! the summary and the exit code are made from. Imports only the domain types.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{Correlation, ImageInfo, Mode, RunInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Promoted,
    EndOfChain,
    AutoPromoteDisabled,
    DryRun,
    DeployFailed,
    ImageMissing,
    DispatchRejected,
    DispatchFailed,
    InvalidInput,
    Error,
    ImageChanged,
    ImageUnavailable,
    Vulnerable,
    Unhealthy,
    DownstreamFailed,
    DownstreamTimeout,
    Resolved,
    NotVerifiedUpstream,
    Soaking,
    Frozen,
    Held,
    RolledBack,
    NoRollbackTarget,
    TagRejected,
}

pub const RESULT_CODES: &[ResultCode] = &[
    ResultCode::Promoted,
    ResultCode::EndOfChain,
    ResultCode::AutoPromoteDisabled,
    ResultCode::DryRun,
    ResultCode::DeployFailed,
    ResultCode::ImageMissing,
    ResultCode::DispatchRejected,
    ResultCode::DispatchFailed,
    ResultCode::InvalidInput,
    ResultCode::Error,
    ResultCode::ImageChanged,
    ResultCode::ImageUnavailable,
    ResultCode::Vulnerable,
    ResultCode::Unhealthy,
    ResultCode::DownstreamFailed,
    ResultCode::DownstreamTimeout,
    ResultCode::Resolved,
    ResultCode::NotVerifiedUpstream,
    ResultCode::Soaking,
    ResultCode::Frozen,
    ResultCode::Held,
    ResultCode::RolledBack,
    ResultCode::NoRollbackTarget,
    ResultCode::TagRejected,
];

impl ResultCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Promoted => "promoted",
            ResultCode::EndOfChain => "end-of-chain",
            ResultCode::AutoPromoteDisabled => "auto-promote-disabled",
            ResultCode::DryRun => "dry-run",
            ResultCode::DeployFailed => "deploy-failed",
            ResultCode::ImageMissing => "image-missing",
            ResultCode::DispatchRejected => "dispatch-rejected",
            ResultCode::DispatchFailed => "dispatch-failed",
            ResultCode::InvalidInput => "invalid-input",
            ResultCode::Error => "error",
            ResultCode::ImageChanged => "image-changed",
            ResultCode::ImageUnavailable => "image-unavailable",
            ResultCode::Vulnerable => "vulnerable",
            ResultCode::Unhealthy => "unhealthy",
            ResultCode::DownstreamFailed => "downstream-failed",
            ResultCode::DownstreamTimeout => "downstream-timeout",
            ResultCode::Resolved => "resolved",
            ResultCode::NotVerifiedUpstream => "not-verified-upstream",
            ResultCode::Soaking => "soaking",
            ResultCode::Frozen => "frozen",
            ResultCode::Held => "held",
            ResultCode::RolledBack => "rolled-back",
            ResultCode::NoRollbackTarget => "no-rollback-target",
            ResultCode::TagRejected => "tag-rejected",
        }
    }

    /// Whether the result is a failure when nothing says otherwise. `soaking`, `frozen`,
    /// `held` and `rolled-back` depend on the mode: the report that carries them says.
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            ResultCode::Promoted
                | ResultCode::EndOfChain
                | ResultCode::AutoPromoteDisabled
                | ResultCode::DryRun
                | ResultCode::Resolved
                | ResultCode::RolledBack
        )
    }

    /// 1 for a failure, unless `fail-on-error` is off; `invalid-input` always exits 1.
    pub fn exit_code(self, fail_on_error: bool) -> i32 {
        match self {
            ResultCode::InvalidInput => 1,
            code if code.is_failure() && fail_on_error => 1,
            _ => 0,
        }
    }
}

/// Where a run is, for a report when it is interrupted (time budget, signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Registry,
    /// The health and Argo CD gates, which have their own limits.
    Gates,
    Preflight,
    Dispatch,
    /// Moving an environment tag in ECR (promote-by tag).
    Tag,
}

/// Why a run stopped short: the result, what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub result: ResultCode,
    /// One line: what happened, naming every failing item briefly.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// Each failing item at length, for the log and the summary.
    pub details: Vec<String>,
}

impl Failure {
    pub fn new(result: ResultCode, message: impl Into<String>, fix: impl Into<String>) -> Failure {
        Failure {
            result,
            message: message.into(),
            fix: fix.into(),
            details: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Failure {
        self.details = details;
        self
    }
}

/// One repository's row: the image found, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// The repository name, without the registry host: the key of `image_digests`.
    pub name: String,
    /// How the user named it (URI or name), for messages.
    pub display: String,
    pub state: ImageState,
    /// What the gates found, for the summary (status, platforms, findings).
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageState {
    Found(ImageInfo),
    TagMissing {
        suggestions: Vec<String>,
    },
    RepositoryMissing,
    /// The registry could not answer: what happened and what to do.
    Unknown {
        error: String,
        fix: String,
    },
}

/// The dispatch that was (or would have been) sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchPlan {
    pub repository: String,
    pub workflow: String,
    pub workflow_path: Option<String>,
    pub git_ref: String,
    pub inputs: BTreeMap<String, String>,
    /// This promotion's unique id, when one is sent (in the target's correlation input).
    pub correlation: Option<Correlation>,
}

/// What a gate (or the wait for the dispatched run) found, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateReport {
    pub name: String,
    pub passed: bool,
    pub took: Duration,
    /// One line: why it passed or what it was waiting for when it gave up.
    pub summary: String,
    /// The last answers, newest last.
    pub last: Vec<String>,
}

/// The end of a run: everything the outputs, the summary and the exit code are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub result: ResultCode,
    /// The run failed: exit 1 unless `fail-on-error` is off. Set with the result (a refusal
    /// by `resolve` fails; the same code from `promote` stops without failing).
    pub failed: bool,
    pub mode: Mode,
    pub deploy_success: bool,
    pub promoted: bool,
    /// One line for people: what happened.
    pub message: String,
    /// On failure, what to do about it.
    pub fix: Option<String>,
    /// Further lines for the log and the summary (each input error, say).
    pub details: Vec<String>,
    pub environment: Option<String>,
    pub chain: Vec<String>,
    /// `Some("")` at the end of the chain; `None` when the inputs could not be read.
    pub next_environment: Option<String>,
    pub image_tag: Option<String>,
    pub images: Vec<ImageRow>,
    pub dispatch: Option<DispatchPlan>,
    pub run: Option<RunInfo>,
    pub fail_on_error: bool,
    /// Scan findings by severity, summed over repositories, when the vulnerability gate ran.
    pub vulnerabilities: Option<BTreeMap<String, u64>>,
    /// The health and Argo CD gates and the wait for the dispatched run, as they went.
    pub gates: Vec<GateReport>,
    /// The dispatched run's conclusion, when `wait-for` saw it complete.
    pub run_conclusion: Option<String>,
    /// This run's record, when it was written.
    pub record: Option<RecordRef>,
    /// What the environment ran before this run: its tag and digest(s).
    pub previous: Option<(String, String)>,
    /// The tag a rollback dispatched.
    pub rolled_back_to: Option<String>,
    /// What runs where, for the summary.
    pub environments: Vec<EnvironmentRow>,
    /// Things that went wrong without changing the result (a record not written, say).
    pub warnings: Vec<String>,
    /// One line of delivery figures for the summary (the end of the chain).
    pub metrics: Option<String>,
    /// A Mermaid chart for the summary.
    pub chart: Option<String>,
    /// What was checked and passed, for the summary (a resolve run's admission, say).
    pub checks: Vec<String>,
    /// `https://github.com/OWNER/NAME/commit/`, to link commits.
    pub commit_base: Option<String>,
    /// When the report was made (epoch seconds), for ages.
    pub generated_at: i64,
}

/// A deployment this run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    pub id: u64,
    pub url: String,
}

/// One environment of the chain as the record has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRow {
    pub name: String,
    /// The image it runs now, when the record knows.
    pub tag: Option<String>,
    pub digests: BTreeMap<String, String>,
    /// The commit the image was built from.
    pub sha: Option<String>,
    /// Epoch seconds of its success.
    pub since: Option<i64>,
    pub held: bool,
    /// When a freeze holds it: until when (a sentence).
    pub frozen: Option<String>,
    /// This run's environment.
    pub this_run: bool,
}

impl Report {
    pub fn new(result: ResultCode, message: impl Into<String>) -> Report {
        Report {
            result,
            failed: result.is_failure(),
            mode: Mode::Promote,
            deploy_success: false,
            promoted: false,
            message: message.into(),
            fix: None,
            details: Vec::new(),
            environment: None,
            chain: Vec::new(),
            next_environment: None,
            image_tag: None,
            images: Vec::new(),
            dispatch: None,
            run: None,
            fail_on_error: true,
            vulnerabilities: None,
            gates: Vec::new(),
            run_conclusion: None,
            record: None,
            previous: None,
            rolled_back_to: None,
            environments: Vec::new(),
            warnings: Vec::new(),
            metrics: None,
            chart: None,
            checks: Vec::new(),
            commit_base: None,
            generated_at: 0,
        }
    }

    /// Take a failure's result, message, fix and details: the run failed.
    pub fn fail(&mut self, failure: Failure) {
        self.result = failure.result;
        self.message = failure.message;
        self.fix = Some(failure.fix);
        self.details = failure.details;
        self.failed = true;
    }

    /// Take a refusal that stops the run without failing it (`promote` into a frozen, held or
    /// soaking environment): nothing more is done, and the step succeeds.
    pub fn stop(&mut self, refusal: Failure) {
        self.fail(refusal);
        self.failed = false;
    }

    /// End the run with a success.
    pub fn succeed(&mut self, result: ResultCode, message: impl Into<String>) {
        self.result = result;
        self.message = message.into();
        self.fix = None;
        self.details = Vec::new();
        self.failed = false;
    }

    /// `environment` is held from now on (a rollback was dispatched).
    pub fn mark_held(&mut self, environment: &str) {
        for row in self
            .environments
            .iter_mut()
            .filter(|r| r.name == environment)
        {
            row.held = true;
        }
    }

    /// 1 for a failure, unless `fail-on-error` is off; `invalid-input` always exits 1.
    pub fn exit_code(&self) -> i32 {
        match self.result {
            ResultCode::InvalidInput => 1,
            _ if self.failed && self.fail_on_error => 1,
            _ => 0,
        }
    }

    /// The details to show after the message: a single one restates the message (it names the
    /// one failing item), so only two or more are listed.
    pub fn listed_details(&self) -> &[String] {
        if self.details.len() > 1 {
            &self.details
        } else {
            &[]
        }
    }

    /// The `message` output: what happened and, when something was refused, what to do.
    pub fn message_line(&self) -> String {
        match &self.fix {
            Some(fix) if !fix.is_empty() => {
                format!("{}. Fix: {fix}", self.message.trim_end_matches('.'))
            }
            _ => self.message.clone(),
        }
    }

    /// The verified digests by repository name, when every repository was found.
    pub fn digests(&self) -> Option<BTreeMap<String, String>> {
        if self.images.is_empty() {
            return None;
        }
        self.images
            .iter()
            .map(|row| match &row.state {
                ImageState::Found(info) => Some((row.name.clone(), info.digest.clone())),
                _ => None,
            })
            .collect()
    }

    /// The digest every repository holds, when they all hold the same one.
    pub fn common_digest(&self) -> Option<String> {
        let digests = self.digests()?;
        let mut values = digests.values();
        let first = values.next()?;
        values.all(|d| d == first).then(|| first.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        for code in RESULT_CODES {
            let expected_strict = i32::from(code.is_failure());
            assert_eq!(code.exit_code(true), expected_strict, "{}", code.as_str());
            let expected_lenient = i32::from(*code == ResultCode::InvalidInput);
            assert_eq!(code.exit_code(false), expected_lenient, "{}", code.as_str());
        }
        assert_eq!(
            RESULT_CODES.iter().filter(|c| !c.is_failure()).count(),
            6,
            "promoted, end-of-chain, auto-promote-disabled, dry-run, resolved, rolled-back"
        );
    }

    #[test]
    fn the_message_output_carries_the_fix_of_a_failure() {
        let mut r = Report::new(ResultCode::Promoted, "all good");
        assert_eq!(r.message_line(), "all good");
        r.fail(Failure::new(
            ResultCode::ImageMissing,
            "tag `x` is missing.",
            "push it",
        ));
        assert_eq!(r.message_line(), "tag `x` is missing. Fix: push it");
    }

    #[test]
    fn a_refusal_fails_in_resolve_and_stops_in_promote() {
        let refusal = || Failure::new(ResultCode::Frozen, "qa is frozen", "wait");
        let mut resolve = Report::new(ResultCode::Error, "");
        resolve.fail(refusal());
        assert_eq!(resolve.exit_code(), 1);
        let mut promote = Report::new(ResultCode::Error, "");
        promote.stop(refusal());
        assert_eq!(promote.exit_code(), 0);
        assert_eq!(promote.result, ResultCode::Frozen);
        assert_eq!(promote.message_line(), "qa is frozen. Fix: wait");
        promote.fail_on_error = false;
        resolve.fail_on_error = false;
        assert_eq!(resolve.exit_code(), 0, "fail-on-error: false");
        let mut invalid = Report::new(ResultCode::InvalidInput, "x");
        invalid.fail_on_error = false;
        assert_eq!(invalid.exit_code(), 1);
    }

    #[test]
    fn digests_need_every_repository() {
        let found = |name: &str, digest: &str| ImageRow {
            name: name.into(),
            display: name.into(),
            state: ImageState::Found(ImageInfo {
                digest: digest.into(),
                pushed_at: None,
                size_bytes: None,
                status: None,
            }),
            checks: Vec::new(),
        };
        let mut r = Report::new(ResultCode::Promoted, "");
        r.images = vec![found("a", "sha256:1"), found("b", "sha256:1")];
        assert_eq!(r.common_digest().as_deref(), Some("sha256:1"));
        r.images.push(found("c", "sha256:2"));
        assert_eq!(r.common_digest(), None);
        assert_eq!(r.digests().unwrap().len(), 3);
        r.images.push(ImageRow {
            name: "d".into(),
            display: "d".into(),
            state: ImageState::RepositoryMissing,
            checks: Vec::new(),
        });
        assert_eq!(r.digests(), None);
    }
}
