//! The Version 2 inputs: the mode, where the image comes from, the entry rules an image must
//! pass to enter an environment (upstream, soak, freeze), the record, rollback, and how the
//! next environment gets the image (dispatch, environment tag).

use std::collections::BTreeMap;
use std::time::Duration;

use super::freeze::{self, Freeze};
use super::grammar::{InputError, Span, bad, parse_span, split_list};
use super::image::parse_tag;
use crate::model::{Chain, Mode};
use crate::text::shown;

pub(crate) fn parse_mode(value: &str) -> Result<Mode, InputError> {
    match value.to_ascii_lowercase().as_str() {
        "promote" => Ok(Mode::Promote),
        "resolve" => Ok(Mode::Resolve),
        "rollback" => Ok(Mode::Rollback),
        _ => Err(bad(
            "mode",
            format!("{} is not promote, resolve or rollback", shown(value)),
        )),
    }
}

/// How the next environment gets the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromoteBy {
    /// Dispatch the next environment's workflow.
    pub dispatch: bool,
    /// Put the next environment's tag on the image in ECR.
    pub tag: bool,
}

pub(crate) fn parse_promote_by(value: &str) -> Result<PromoteBy, InputError> {
    let mut by = PromoteBy {
        dispatch: false,
        tag: false,
    };
    for item in split_list(value) {
        match item.to_ascii_lowercase().as_str() {
            "dispatch" => by.dispatch = true,
            "tag" => by.tag = true,
            _ => {
                return Err(bad(
                    "promote-by",
                    format!(
                        "{} is not dispatch or tag; use `dispatch`, `tag` or `dispatch,tag`",
                        shown(item)
                    ),
                ));
            }
        }
    }
    if !by.dispatch && !by.tag {
        return Err(bad(
            "promote-by",
            "names no way; use `dispatch`, `tag` or `dispatch,tag`",
        ));
    }
    Ok(by)
}

/// The environment tag's pattern: `{environment}` is replaced by the environment's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentTag(String);

impl EnvironmentTag {
    /// `{environment}`: the table's default.
    pub fn default_pattern() -> EnvironmentTag {
        EnvironmentTag("{environment}".into())
    }

    /// The tag that names the image `environment` should run.
    pub fn for_environment(&self, environment: &str) -> String {
        self.0.replace("{environment}", environment)
    }
}

/// Every environment of the chain must get a valid ECR tag from the pattern.
pub(crate) fn parse_environment_tag(
    value: &str,
    chain: &Chain,
) -> Result<EnvironmentTag, InputError> {
    let rest = value.replace("{environment}", "");
    if rest.contains('{') || rest.contains('}') {
        return Err(bad(
            "environment-tag",
            format!(
                "{} has a placeholder other than `{{environment}}`",
                shown(value)
            ),
        ));
    }
    let pattern = EnvironmentTag(value.to_string());
    for env in chain.names() {
        let tag = pattern.for_environment(env);
        if parse_tag(&tag).is_err() {
            return Err(bad(
                "environment-tag",
                format!(
                    "{} gives {} for `{env}`, which is not a valid ECR tag (1 to 300 letters, digits, `_`, `.`, `-`)",
                    shown(value),
                    shown(&tag)
                ),
            ));
        }
    }
    Ok(pattern)
}

/// How long an image must have run in the environment before another, per environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoakTimes {
    pub times: BTreeMap<String, Duration>,
}

impl SoakTimes {
    /// The soak time before entering `environment`, if any.
    pub fn before(&self, environment: &str) -> Option<Duration> {
        self.times.get(environment).copied()
    }
}

/// `qa=30m, staging=2h`: each environment once, in the chain, not the first (nothing runs
/// before it). Durations take `s`, `m`, `h` and `d`, from 1 s to 90 days.
pub(crate) fn parse_soak(value: &str, chain: &Chain) -> Result<SoakTimes, InputError> {
    let mut times = BTreeMap::new();
    for item in split_list(value) {
        let Some((env, duration)) = item.split_once('=') else {
            return Err(bad(
                "soak-time",
                format!(
                    "{} is not `environment=duration`, such as `staging=2h`",
                    shown(item)
                ),
            ));
        };
        super::chain::check_member(chain, "soak-time", env)?;
        if chain.previous(env).is_none() {
            return Err(bad(
                "soak-time",
                format!(
                    "`{env}` is the first environment of the chain: nothing runs before it to soak"
                ),
            ));
        }
        let d = parse_long_duration("soak-time", duration)?;
        if times.insert(env.to_string(), d).is_some() {
            return Err(bad("soak-time", format!("`{env}` is listed twice")));
        }
    }
    Ok(SoakTimes { times })
}

/// `30m`, `2h`, `1d12h`: from 1 s to 90 days.
pub fn parse_long_duration(input: &str, value: &str) -> Result<Duration, InputError> {
    let units = [('s', 1), ('m', 60), ('h', 3600), ('d', 86_400)];
    parse_span(value, &units, 1..=90 * 86_400)
        .map(Duration::from_secs)
        .map_err(|e| {
            bad(
                input,
                match e {
                    Span::Invalid => format!(
                        "{} is not a duration; write a number with a unit, such as `30m`, `2h` or `1d`",
                        shown(value)
                    ),
                    Span::OutOfRange => {
                        format!("{} is out of range; use between 1s and 90d", shown(value))
                    }
                },
            )
        })
}

/// The freeze windows, every bad window reported by itself.
pub(crate) fn parse_freeze(value: &str, chain: &Chain) -> Result<Freeze, Vec<InputError>> {
    freeze::parse(value, chain.names()).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                bad(
                    "freeze",
                    format!("window {}: {}", shown(&e.window), e.problem),
                )
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_chain;

    fn chain() -> Chain {
        parse_chain("dev,qa,staging").unwrap()
    }

    #[test]
    fn modes_and_ways_to_promote() {
        assert_eq!(parse_mode("Resolve").unwrap(), Mode::Resolve);
        assert_eq!(parse_mode("promote").unwrap(), Mode::Promote);
        assert_eq!(parse_mode("rollback").unwrap(), Mode::Rollback);
        assert_eq!(parse_mode("deploy").unwrap_err().input, "mode");
        let by = parse_promote_by("dispatch, tag").unwrap();
        assert!(by.dispatch && by.tag);
        let by = parse_promote_by("tag").unwrap();
        assert!(!by.dispatch && by.tag);
        assert!(parse_promote_by("push").is_err());
        assert!(parse_promote_by(",").is_err());
    }

    #[test]
    fn environment_tags_must_be_valid_for_every_environment() {
        let t = parse_environment_tag("{environment}", &chain()).unwrap();
        assert_eq!(t.for_environment("qa"), "qa");
        let t = parse_environment_tag("env-{environment}-current", &chain()).unwrap();
        assert_eq!(t.for_environment("staging"), "env-staging-current");
        let e = parse_environment_tag("{environment}:x", &chain()).unwrap_err();
        assert_eq!(e.input, "environment-tag");
        assert!(e.problem.contains("`dev`"), "{e}");
        assert!(parse_environment_tag("{env}", &chain()).is_err());
        let long = format!("{}{{environment}}", "a".repeat(296));
        let e = parse_environment_tag(&long, &chain()).unwrap_err();
        assert!(e.problem.contains("staging"), "{e}");
    }

    #[test]
    fn soak_times_per_environment() {
        let s = parse_soak("qa=30m, staging=1d2h", &chain()).unwrap();
        assert_eq!(s.before("qa"), Some(Duration::from_secs(1800)));
        assert_eq!(s.before("staging"), Some(Duration::from_secs(26 * 3600)));
        assert_eq!(s.before("dev"), None);
        assert!(
            parse_soak("dev=1h", &chain())
                .unwrap_err()
                .problem
                .contains("first")
        );
        assert!(
            parse_soak("prod=1h", &chain())
                .unwrap_err()
                .problem
                .contains("chain")
        );
        assert!(parse_soak("qa=1h qa=2h", &chain()).is_err());
        assert!(parse_soak("qa", &chain()).is_err());
        assert!(parse_soak("qa=91d", &chain()).is_err());
        assert!(parse_soak("qa=5x", &chain()).is_err());
        assert_eq!(parse_soak("", &chain()).unwrap(), SoakTimes::default());
    }

    #[test]
    fn a_bad_freeze_window_names_itself() {
        let e = parse_freeze("qa: Fry 16:00 - Mon 08:00", &chain()).unwrap_err();
        assert_eq!(e[0].input, "freeze");
        assert!(e[0].problem.contains("Fry"), "{}", e[0]);
        assert!(parse_freeze("*: Fri 16:00 - Mon 08:00", &chain()).is_ok());
    }
}
