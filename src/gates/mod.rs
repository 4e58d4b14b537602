//! Every gate in one shape. A gate is a check the image or the deploy must pass before
//! `deploy_success` is true; each says what it found in a `Verdict`. To add one: a variant of
//! `Gate`, its file here, its line in `configured` and its arm in `check`.

mod argocd;
mod health;
mod image;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

pub use argocd::{AppState, Expected, app_state};

use crate::config::Inputs;
use crate::ecr::Registry;
use crate::outcome::{Failure, GateReport, ImageRow, ImageState, Report};
use crate::text::one_line;
use crate::web::Web;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every image is ACTIVE (an archived image cannot be pulled).
    Status,
    /// The tag still points at the digest the previous stage verified (`expected-digest`).
    ExpectedDigest,
    /// Every image index lists the `required-platforms`.
    Platforms,
    /// No scan findings at or above `fail-on-severity`.
    Scan,
    /// `health-url` answers healthy.
    Health,
    /// The Argo CD application is Synced, Healthy and runs the image.
    ArgoCd,
}

impl Gate {
    /// Deploy gates poll the environment within its limit and have a log group of their own;
    /// image gates read the registry within the image checks.
    pub fn log_group(self) -> Option<&'static str> {
        match self {
            Gate::Health => Some("Health gate"),
            Gate::ArgoCd => Some("Argo CD gate"),
            _ => None,
        }
    }
}

/// The gates the inputs configure, in the order they run: the image's, cheapest first, then
/// the deploy's.
pub fn configured(inputs: &Inputs) -> Vec<Gate> {
    let mut gates = vec![Gate::Status];
    if inputs.image.expected_digest.is_some() {
        gates.push(Gate::ExpectedDigest);
    }
    if !inputs.image.required_platforms.is_empty() {
        gates.push(Gate::Platforms);
    }
    if inputs.image.fail_on_severity.is_some() {
        gates.push(Gate::Scan);
    }
    if inputs.gates.health.is_some() {
        gates.push(Gate::Health);
    }
    if inputs.gates.argocd.is_some() {
        gates.push(Gate::ArgoCd);
    }
    gates
}

/// What a gate needs: the inputs, the seams, and the verified image.
pub struct Context<'a, R, W> {
    pub inputs: &'a Inputs,
    pub registry: &'a R,
    pub web: &'a W,
    /// Paces polling (5 s in production).
    pub poll: Duration,
    /// The verified tag.
    pub tag: &'a str,
    /// One row per repository, in the order of `inputs.image.repositories`.
    pub images: &'a [ImageRow],
}

impl<R, W> Context<'_, R, W> {
    /// The environment's limit for gates and waits.
    fn limit(&self) -> Duration {
        self.inputs.gates.timeouts.of(&self.inputs.environment)
    }

    /// The repositories whose image was found, with the row index and the digest.
    fn found(&self) -> Vec<(usize, &crate::model::Repository, &str)> {
        self.images
            .iter()
            .enumerate()
            .filter_map(|(i, row)| match &row.state {
                ImageState::Found(info) => {
                    Some((i, &self.inputs.image.repositories[i], info.digest.as_str()))
                }
                _ => None,
            })
            .collect()
    }
}

/// What one gate found.
#[derive(Debug, Default)]
pub struct Verdict {
    pub failure: Option<Failure>,
    /// Notes for the Checks column of the Images table, by row.
    pub notes: Vec<(usize, String)>,
    /// A row for the Gates table (deploy gates).
    pub report: Option<GateReport>,
    /// Scan findings by severity, summed over repositories.
    pub vulnerabilities: Option<BTreeMap<String, u64>>,
}

impl Verdict {
    fn failed(failure: Failure) -> Verdict {
        Verdict {
            failure: Some(failure),
            ..Verdict::default()
        }
    }

    /// Keep what the gate found in the report; its failure, if it failed.
    pub fn apply(self, report: &mut Report) -> Result<(), Failure> {
        for (i, note) in self.notes {
            if let Some(row) = report.images.get_mut(i) {
                row.checks.push(note);
            }
        }
        if let Some(gate) = self.report {
            report.gates.push(gate);
        }
        if self.vulnerabilities.is_some() {
            report.vulnerabilities = self.vulnerabilities;
        }
        self.failure.map_or(Ok(()), Err)
    }
}

/// Run one gate.
pub async fn check<R: Registry, W: Web>(gate: Gate, ctx: &Context<'_, R, W>) -> Verdict {
    match gate {
        Gate::Status => image::status(ctx),
        Gate::ExpectedDigest => image::expected_digest(ctx),
        Gate::Platforms => image::platforms(ctx).await,
        Gate::Scan => image::scan(ctx).await,
        Gate::Health => health::check(ctx).await,
        Gate::ArgoCd => argocd::check(ctx).await,
    }
}

/// At most this many answers are kept to show in the summary.
const KEPT_ANSWERS: usize = 5;

/// Keep `line` among the last answers shown in the summary.
pub(crate) fn keep(last: &mut VecDeque<String>, line: String) {
    if last.len() == KEPT_ANSWERS {
        last.pop_front();
    }
    last.push_back(one_line(&line));
}

fn snippet(body: &str) -> String {
    let s: String = one_line(body).chars().take(80).collect();
    if s.is_empty() {
        "(empty body)".into()
    } else {
        s
    }
}
