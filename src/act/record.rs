//! Write a record: the deployment, then its status. A record that cannot be written is a
//! warning with the fix, never a failure of the run.

use crate::decide::record::Entry;
use crate::github::{Deployment, GhError, GitHub, NewDeployment, NewStatus};
use crate::outcome::RecordRef;

/// Create the deployment of `entry` (its status comes after, with `finish`).
pub async fn create<G: GitHub>(github: &G, entry: &Entry) -> Result<Deployment, String> {
    github
        .create_deployment(&NewDeployment {
            environment: entry.environment.clone(),
            git_ref: entry.sha.clone(),
            task: entry.task.to_string(),
            payload: serde_json::to_value(&entry.payload).unwrap_or_default(),
            description: entry.description.clone(),
        })
        .await
        .map_err(|e| not_written(&entry.environment, &e))
}

/// Give the deployment its one status.
pub async fn finish<G: GitHub>(
    github: &G,
    deployment: &Deployment,
    entry: &Entry,
) -> Result<RecordRef, String> {
    github
        .create_status(
            deployment.id,
            &NewStatus {
                state: entry.state.to_string(),
                log_url: entry.log_url.clone(),
                environment_url: entry.environment_url.clone(),
                description: entry.description.clone(),
            },
        )
        .await
        .map_err(|e| {
            format!(
                "deployment {} of `{}` was created but its status was not: {}",
                deployment.id,
                entry.environment,
                not_written(&entry.environment, &e)
            )
        })?;
    Ok(RecordRef {
        id: deployment.id,
        url: deployment.url.clone(),
    })
}

/// Both steps.
pub async fn write<G: GitHub>(github: &G, entry: &Entry) -> Result<RecordRef, String> {
    let deployment = create(github, entry).await?;
    finish(github, &deployment, entry).await
}

/// Why a record was not written, and the fix.
pub fn not_written(environment: &str, e: &GhError) -> String {
    let fix = match e {
        GhError::Refused { status: 403, .. } | GhError::NotFound(_) => {
            "give the job `permissions: deployments: write` (a token for another repository needs it there)"
        }
        GhError::Refused { status: 422, .. } => {
            "the commit must exist in the repository: check `GITHUB_SHA` and the records' refs"
        }
        _ => {
            "re-run the job once GitHub answers (with `permissions: deployments: write`); the promotion itself is not affected"
        }
    };
    format!("the record of `{environment}` was not written ({e}); {fix}")
}
