//! The run this step is part of, as the runner describes it: its URL, its commit, and what
//! started it (read from the event at `GITHUB_EVENT_PATH`). A run that ecr-promote's own
//! dispatch started carries the promotion's id in its inputs; a person's run does not.

use serde_json::Value;

use super::Lookup;

/// What started this run, and where it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunContext {
    /// The promotion id ecr-promote's dispatch put in this run's correlation input, when its
    /// dispatch started this run.
    pub promotion: Option<String>,
    /// The run was started by an automation (a bot's event), not a person.
    pub by_bot: bool,
    /// `workflow_dispatch`, `push`, ... (`GITHUB_EVENT_NAME`).
    pub event_name: Option<String>,
    /// This run's page: `GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// The commit this run is for (`GITHUB_SHA`).
    pub sha: Option<String>,
    /// `GITHUB_SERVER_URL/GITHUB_REPOSITORY/commit/`, to link a commit.
    pub commit_base: Option<String>,
}

impl RunContext {
    /// ecr-promote's dispatch started this run.
    pub fn started_by_promotion(&self) -> bool {
        self.promotion.is_some()
    }

    /// A person started this run (Run workflow, a push): the one kind of run that lifts a hold.
    /// A bot's run without the correlation input is an automation that could not say so, never
    /// a person.
    pub fn started_by_person(&self) -> bool {
        !self.started_by_promotion() && !self.by_bot
    }
}

/// Read the run's context; `correlation_input` names the dispatch input carrying the id.
pub(crate) fn run_context(src: &Lookup, correlation_input: Option<&str>) -> RunContext {
    let event: Option<Value> = src
        .event()
        .and_then(|text| serde_json::from_str(&text).ok());
    let promotion = match (&event, correlation_input) {
        (Some(event), Some(name)) => event["inputs"][name]
            .as_str()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        _ => None,
    };
    let by_bot = event.as_ref().is_some_and(|e| {
        e["sender"]["type"].as_str() == Some("Bot")
            || e["sender"]["login"]
                .as_str()
                .is_some_and(|l| l.ends_with("[bot]"))
    });
    let server = src
        .var("GITHUB_SERVER_URL")
        .map(|s| s.trim_end_matches('/').to_string())
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"));
    let repository = src
        .given("repository")
        .or_else(|| src.var("GITHUB_REPOSITORY"));
    let run_url = match (
        &server,
        src.var("GITHUB_REPOSITORY"),
        src.var("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repo), Some(id)) => Some(format!("{server}/{repo}/actions/runs/{id}")),
        _ => None,
    };
    let commit_base = match (&server, repository) {
        (Some(server), Some(repo)) => Some(format!("{server}/{repo}/commit/")),
        _ => None,
    };
    RunContext {
        promotion,
        by_bot,
        event_name: src.var("GITHUB_EVENT_NAME"),
        run_url,
        sha: src
            .var("GITHUB_SHA")
            .filter(|s| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit())),
        commit_base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapSource;

    fn context(event: &str) -> RunContext {
        let src = MapSource::default()
            .event(event)
            .var("GITHUB_SERVER_URL", "https://github.com")
            .var("GITHUB_REPOSITORY", "acme/shop")
            .var("GITHUB_RUN_ID", "42")
            .var("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
        run_context(&Lookup::new(&src), Some("promotion_id"))
    }

    #[test]
    fn a_run_started_by_our_dispatch_carries_the_id() {
        let c = context(
            r#"{"inputs": {"environment": "qa", "promotion_id": "ecrp-00ff"}, "sender": {"login": "github-actions[bot]", "type": "Bot"}}"#,
        );
        assert_eq!(c.promotion.as_deref(), Some("ecrp-00ff"));
        assert!(c.started_by_promotion() && !c.started_by_person());
        assert_eq!(
            c.run_url.as_deref(),
            Some("https://github.com/acme/shop/actions/runs/42")
        );
    }

    #[test]
    fn a_person_and_a_bot_without_the_id_are_told_apart() {
        let person = context(
            r#"{"inputs": {"environment": "qa", "promotion_id": ""}, "sender": {"login": "octocat", "type": "User"}}"#,
        );
        assert!(person.started_by_person());
        let bot = context(
            r#"{"inputs": {"environment": "qa"}, "sender": {"login": "renovate[bot]", "type": "Bot"}}"#,
        );
        assert!(!bot.started_by_person() && !bot.started_by_promotion());
        let push = context(
            r#"{"ref": "refs/heads/main", "sender": {"login": "octocat", "type": "User"}}"#,
        );
        assert!(push.started_by_person());
        assert!(context("not json").started_by_person());
    }
}
