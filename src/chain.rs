//! The ordered chain of environments and the step from one to the next. Pure.

use crate::inputs::{InputError, shown, split_list};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    envs: Vec<String>,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Chain {
    /// Parse the `environments` input: names separated by commas, spaces or newlines.
    pub fn parse(value: &str) -> Result<Chain, InputError> {
        let err = |problem: String| InputError {
            input: "environments".into(),
            problem,
        };
        let mut envs: Vec<String> = Vec::new();
        for name in split_list(value) {
            if !valid_name(name) {
                return Err(err(format!(
                    "{} is not an environment name; names are 1 to 64 letters, digits, `_`, `.` or `-`",
                    shown(name)
                )));
            }
            if envs.iter().any(|e| e == name) {
                return Err(err(format!(
                    "`{name}` appears twice; each environment may appear once in the chain"
                )));
            }
            envs.push(name.to_string());
        }
        if envs.is_empty() {
            return Err(err("lists no environment".into()));
        }
        Ok(Chain { envs })
    }

    pub fn names(&self) -> &[String] {
        &self.envs
    }

    pub fn position(&self, env: &str) -> Option<usize> {
        self.envs.iter().position(|e| e == env)
    }

    /// The environment after `env`, `None` at the end of the chain (or when `env` is not in it).
    pub fn next(&self, env: &str) -> Option<&str> {
        let i = self.position(env)?;
        self.envs.get(i + 1).map(String::as_str)
    }

    /// `env` must be a member; the error lists the chain and a case-insensitive near miss.
    pub fn check_member(&self, env: &str) -> Result<(), InputError> {
        if self.position(env).is_some() {
            return Ok(());
        }
        let hint = self
            .envs
            .iter()
            .find(|e| e.eq_ignore_ascii_case(env))
            .map(|e| format!(" (did you mean `{e}`?)"))
            .unwrap_or_default();
        Err(InputError {
            input: "environment".into(),
            problem: format!(
                "{} is not in the chain {}{hint}; set `environment` to one of them or add it to `environments`",
                shown(env),
                self.envs.join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chain_steps() {
        let c = Chain::parse("dev,qa,staging").unwrap();
        assert_eq!(c.next("dev"), Some("qa"));
        assert_eq!(c.next("qa"), Some("staging"));
        assert_eq!(c.next("staging"), None);
        assert_eq!(c.next("prod"), None);
    }

    #[test]
    fn separators_and_single_environment() {
        let c = Chain::parse(" dev \n qa,  prod.eu-1\n").unwrap();
        assert_eq!(c.names(), ["dev", "qa", "prod.eu-1"]);
        let one = Chain::parse("prod").unwrap();
        assert_eq!(one.next("prod"), None);
    }

    #[test]
    fn invalid_chains() {
        assert!(Chain::parse("").is_err());
        assert!(Chain::parse(" , ").is_err());
        assert!(
            Chain::parse("dev,qa,dev")
                .unwrap_err()
                .problem
                .contains("twice")
        );
        assert!(Chain::parse("dev,q/a").is_err());
        assert!(Chain::parse(&"x".repeat(65)).is_err());
        assert!(Chain::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn membership_hint() {
        let c = Chain::parse("dev,qa").unwrap();
        let e = c.check_member("QA").unwrap_err();
        assert!(e.problem.contains("did you mean `qa`"), "{e}");
    }
}
