//! The `environments` input: the ordered chain, and membership of `environment` in it.

use super::grammar::{InputError, bad, split_list};
use crate::model::Chain;
use crate::text::shown;

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Parse the `environments` input: names separated by commas, spaces or newlines.
pub fn parse_chain(value: &str) -> Result<Chain, InputError> {
    let mut envs: Vec<String> = Vec::new();
    for name in split_list(value) {
        if !valid_name(name) {
            return Err(bad(
                "environments",
                format!(
                    "{} is not an environment name; names are 1 to 64 letters, digits, `_`, `.` or `-`",
                    shown(name)
                ),
            ));
        }
        if envs.iter().any(|e| e == name) {
            return Err(bad(
                "environments",
                format!("`{name}` appears twice; each environment may appear once in the chain"),
            ));
        }
        envs.push(name.to_string());
    }
    if envs.is_empty() {
        return Err(bad("environments", "lists no environment"));
    }
    Ok(Chain::new(envs))
}

/// `env` must be a member of `chain`; the error names `input`, lists the chain and offers a
/// case-insensitive near miss.
pub fn check_member(chain: &Chain, input: &str, env: &str) -> Result<(), InputError> {
    if chain.position(env).is_some() {
        return Ok(());
    }
    let hint = chain
        .names()
        .iter()
        .find(|e| e.eq_ignore_ascii_case(env))
        .map(|e| format!(" (did you mean `{e}`?)"))
        .unwrap_or_default();
    Err(bad(
        input,
        format!(
            "{} is not in the chain {}{hint}; set `{input}` to one of them or add it to `environments`",
            shown(env),
            chain.names().join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chain_steps() {
        let c = parse_chain("dev,qa,staging").unwrap();
        assert_eq!(c.next("dev"), Some("qa"));
        assert_eq!(c.next("qa"), Some("staging"));
        assert_eq!(c.next("staging"), None);
    }

    #[test]
    fn separators_and_single_environment() {
        let c = parse_chain(" dev \n qa,  prod.eu-1\n").unwrap();
        assert_eq!(c.names(), ["dev", "qa", "prod.eu-1"]);
        assert_eq!(parse_chain("prod").unwrap().next("prod"), None);
    }

    #[test]
    fn invalid_chains() {
        assert!(parse_chain("").is_err());
        assert!(parse_chain(" , ").is_err());
        assert!(
            parse_chain("dev,qa,dev")
                .unwrap_err()
                .problem
                .contains("twice")
        );
        assert!(parse_chain("dev,q/a").is_err());
        assert!(parse_chain(&"x".repeat(65)).is_err());
        assert!(parse_chain(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn membership_hint() {
        let c = parse_chain("dev,qa").unwrap();
        let e = check_member(&c, "environment", "QA").unwrap_err();
        assert_eq!(e.input, "environment");
        assert!(e.problem.contains("did you mean `qa`"), "{e}");
    }
}
