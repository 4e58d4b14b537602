//! The entry rules: what may enter an environment, read from the inputs, the clock and the
//! record. Each answers with a refusal, or nothing.

use std::collections::BTreeMap;

use crate::config::{Inputs, RunContext, freeze::NEVER};
use crate::outcome::{Failure, ResultCode};
use crate::record::{History, Records};
use crate::text::{format_age, format_duration, iso8601, short_digest};

fn digests_text(digests: &BTreeMap<String, String>) -> String {
    let mut values: Vec<String> = digests.values().map(|d| short_digest(d)).collect();
    values.dedup();
    values.join(", ")
}

fn utc(secs: i64) -> String {
    iso8601(secs).replacen('T', " ", 1).replace('Z', " UTC")
}

/// `environment` is in a freeze window now.
pub fn frozen(inputs: &Inputs, environment: &str, now: i64) -> Option<Failure> {
    let block = inputs.rules.freeze.blocking(environment, now)?;
    let until = if block.ends_at == NEVER {
        "no end: the windows cover the whole week".to_string()
    } else {
        format!(
            "until {} ({}; in {})",
            block.ends_local,
            block.ends_utc,
            format_age(block.ends_at - now)
        )
    };
    Some(Failure::new(
        ResultCode::Frozen,
        format!(
            "`{environment}` is frozen {until} by the window `{}`",
            block.window
        ),
        if block.ends_at == NEVER {
            "change `freeze` so the windows leave time free".to_string()
        } else {
            format!(
                "promote after the window ends ({}), or change `freeze` if the window is wrong",
                block.ends_utc
            )
        },
    ))
}

/// `environment` is held after a rollback. Promotions into it stop; a run that an automation
/// started may enter only with the rollback's image; a person's run may enter (and lifts it).
pub fn held(
    history: Option<&History>,
    environment: &str,
    digests: Option<&BTreeMap<String, String>>,
    run: &RunContext,
) -> Option<Failure> {
    let hold = history?.held()?;
    if let Some(digests) = digests {
        if run.started_by_person() {
            return None;
        }
        if hold.same_image(digests) {
            return None;
        }
    }
    Some(Failure::new(
        ResultCode::Held,
        format!(
            "`{environment}` is held since its rollback to `{}` (deployment {}): automatic promotions into it stop until a person promotes by hand",
            hold.payload.image_tag, hold.id
        ),
        format!(
            "fix what the rollback was for, then promote `{environment}` by hand (Run workflow with the image you want); that run lifts the hold"
        ),
    ))
}

/// `require-upstream`: the image must have a successful record in the environment before
/// `environment` (the first environment is exempt).
pub fn upstream(
    inputs: &Inputs,
    environment: &str,
    digests: &BTreeMap<String, String>,
    records: &Records,
) -> Option<Failure> {
    if !inputs.rules.require_upstream {
        return None;
    }
    let previous = inputs.chain.previous(environment)?;
    let succeeded = records
        .of(previous)
        .is_some_and(|h| h.first_success_of(digests).is_some());
    if succeeded {
        return None;
    }
    Some(Failure::new(
        ResultCode::NotVerifiedUpstream,
        format!(
            "`{previous}` has no successful record of this image ({}): it must run there before it enters `{environment}`",
            digests_text(digests)
        ),
        format!(
            "promote the image to `{previous}` first (or take the image `{previous}` runs: `from-environment: {previous}`)"
        ),
    ))
}

/// `soak-time`: before entering `environment` the image must have run successfully in the
/// environment before it for at least that long (from its first success there).
pub fn soak(
    inputs: &Inputs,
    environment: &str,
    digests: &BTreeMap<String, String>,
    records: &Records,
    now: i64,
) -> Option<Failure> {
    let soak = inputs.rules.soak.before(environment)?;
    let previous = inputs.chain.previous(environment)?;
    let needed = soak.as_secs() as i64;
    let since = records
        .of(previous)
        .and_then(|h| h.first_success_of(digests));
    let (message, ends) = match since {
        Some(since) if now - since >= needed => return None,
        Some(since) => (
            format!(
                "the image has run in `{previous}` for {} of the {} it must before entering `{environment}`: the soak ends at {} (in {})",
                format_age(now - since),
                format_duration(soak),
                utc(since + needed),
                format_age(since + needed - now)
            ),
            Some(since + needed),
        ),
        None => (
            format!(
                "the image has not run successfully in `{previous}` yet; it must run there for {} before entering `{environment}`",
                format_duration(soak)
            ),
            None,
        ),
    };
    Some(Failure::new(
        ResultCode::Soaking,
        message,
        match ends {
            Some(at) => format!(
                "promote again after {} (a scheduled workflow can), or shorten `soak-time` knowingly",
                utc(at)
            ),
            None => format!("deploy the image to `{previous}` first, then let it soak"),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MapSource, parse};
    use crate::record::tests::{digests, record};

    fn inputs(extra: &[(&str, &str)]) -> Inputs {
        let mut src = MapSource::default()
            .input("mode", "resolve")
            .input("environment", "staging")
            .input("image-tag", "v1")
            .input("ecr-repositories", "app")
            .input("aws-region", "eu-west-1")
            .input("github-token", "t")
            .var("GITHUB_REPOSITORY", "acme/shop");
        for (k, v) in extra {
            src = src.input(k, v);
        }
        parse(&src).unwrap()
    }

    fn records(histories: Vec<History>) -> Records {
        Records {
            histories: histories
                .into_iter()
                .map(|h| (h.environment.clone(), h))
                .collect(),
        }
    }

    // 2026-12-04 (a Friday) 17:00 UTC.
    const FRIDAY_5PM: i64 = 1_796_403_600;

    #[test]
    fn a_freeze_says_when_it_ends() {
        let i = inputs(&[("freeze", "staging: Fri 16:00 - Mon 08:00 Europe/Berlin")]);
        let f = frozen(&i, "staging", FRIDAY_5PM).unwrap();
        assert_eq!(f.result, ResultCode::Frozen);
        assert!(
            f.message.contains("Mon 2026-12-07 08:00 Europe/Berlin"),
            "{}",
            f.message
        );
        assert!(f.message.contains("07:00 UTC"), "{}", f.message);
        assert!(frozen(&i, "qa", FRIDAY_5PM).is_none());
        // 15:00 UTC is 16:00 in Berlin (CET): START is included; a second before is free.
        assert!(frozen(&i, "staging", FRIDAY_5PM - 2 * 3600).is_some());
        assert!(frozen(&i, "staging", FRIDAY_5PM - 2 * 3600 - 1).is_none());
    }

    #[test]
    fn upstream_needs_a_success_in_the_previous_environment() {
        let i = inputs(&[("require-upstream", "true")]);
        let qa_failed = History::new("qa", vec![record(1, "qa", 100, "a", &[("failure", 110)])]);
        let f = upstream(&i, "staging", &digests("a"), &records(vec![qa_failed])).unwrap();
        assert_eq!(f.result, ResultCode::NotVerifiedUpstream);
        assert!(
            f.message.contains("`qa`") && f.message.contains("sha256:a"),
            "{}",
            f.message
        );
        let qa_ok = History::new(
            "qa",
            vec![record(
                1,
                "qa",
                100,
                "a",
                &[("success", 110), ("inactive", 200)],
            )],
        );
        assert!(upstream(&i, "staging", &digests("a"), &records(vec![qa_ok])).is_none());
        assert!(
            upstream(&i, "dev", &digests("a"), &Records::default()).is_none(),
            "the first is exempt"
        );
        let off = inputs(&[]);
        assert!(upstream(&off, "staging", &digests("a"), &Records::default()).is_none());
    }

    #[test]
    fn soak_counts_from_the_first_success_upstream() {
        let i = inputs(&[("soak-time", "staging=2h")]);
        let qa = History::new("qa", vec![record(1, "qa", 1000, "a", &[("success", 1000)])]);
        let r = records(vec![qa]);
        let f = soak(&i, "staging", &digests("a"), &r, 1000 + 1800).unwrap();
        assert_eq!(f.result, ResultCode::Soaking);
        assert!(f.message.contains("30m of the 2h"), "{}", f.message);
        assert!(f.message.contains("in 1h 30m"), "{}", f.message);
        assert!(
            soak(&i, "staging", &digests("a"), &r, 1000 + 7200).is_none(),
            "exactly 2h"
        );
        let never = soak(&i, "staging", &digests("b"), &r, 5000).unwrap();
        assert!(
            never.message.contains("not run successfully in `qa`"),
            "{}",
            never.message
        );
        assert!(
            soak(&i, "qa", &digests("a"), &r, 0).is_none(),
            "no soak before qa"
        );
    }

    #[test]
    fn a_hold_lets_only_a_person_or_the_rollbacks_image_through() {
        let mut rollback = record(9, "staging", 900, "old", &[("queued", 901)]);
        rollback.payload.hold = true;
        rollback.payload.rollback_of = Some(8);
        let h = History::new("staging", vec![rollback]);
        let by_promotion = RunContext {
            promotion: Some("ecrp-1".into()),
            by_bot: true,
            ..RunContext::default()
        };
        let by_bot = RunContext {
            by_bot: true,
            ..RunContext::default()
        };
        let by_person = RunContext::default();
        let f = held(Some(&h), "staging", Some(&digests("new")), &by_promotion).unwrap();
        assert_eq!(f.result, ResultCode::Held);
        assert!(
            held(Some(&h), "staging", Some(&digests("new")), &by_bot).is_some(),
            "a bot without the id is no person"
        );
        assert!(held(Some(&h), "staging", Some(&digests("new")), &by_person).is_none());
        assert!(
            held(Some(&h), "staging", Some(&digests("old")), &by_promotion).is_none(),
            "the rollback's own run"
        );
        assert!(
            held(Some(&h), "staging", None, &by_person).is_some(),
            "promote never dispatches into a held environment"
        );
        let free = History::new(
            "staging",
            vec![record(10, "staging", 1000, "new", &[("success", 1001)])],
        );
        assert!(held(Some(&free), "staging", None, &by_promotion).is_none());
        assert!(held(None, "staging", None, &by_promotion).is_none());
    }
}
