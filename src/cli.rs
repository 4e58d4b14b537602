//! The command line: every input is also a flag (`--image-tag X`), generated from the one input
//! table; a flag wins over the `INPUT_*` variable.

use std::collections::HashMap;

use clap::{Arg, ArgAction, Command};

use crate::config::{INPUTS, ProcessSource};

/// What the command line asks for.
pub enum Invocation {
    /// Run the action with these flags (and the `INPUT_*` variables).
    Action(ProcessSource),
    /// `--help` or `--version` was printed.
    Printed,
    /// The command line itself is wrong: what clap said, on one line and in full.
    Invalid { summary: String, full: String },
}

pub fn command() -> Command {
    let mut cmd = Command::new("ecr-promote")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Verify an image tag in Amazon ECR and dispatch the next environment's workflow")
        .long_about(
            "Verify an image tag in Amazon ECR and dispatch the next environment's workflow.\n\n\
             With no arguments it runs as a GitHub Action and reads its inputs from INPUT_* variables \
             (INPUT_IMAGE-TAG for image-tag). Every input is also a flag, and a flag wins over the variable. \
             Outputs go to GITHUB_OUTPUT and the summary to GITHUB_STEP_SUMMARY when they are set; \
             otherwise the outputs are printed.",
        )
        .after_help(
            "Exit status: 0 when the result is promoted, end-of-chain, auto-promote-disabled or dry-run \
             (or any result but invalid-input with --fail-on-error=false); 1 otherwise.",
        );
    for spec in INPUTS {
        let mut arg = Arg::new(spec.name)
            .long(spec.name)
            .help(if spec.required {
                format!("{} (required)", spec.help)
            } else if !spec.default.is_empty() && !spec.help.contains("[default") {
                format!("{} [default: {}]", spec.help, spec.default)
            } else {
                spec.help.to_string()
            })
            .action(ArgAction::Set);
        if spec.boolean {
            arg = arg
                .value_name("BOOL")
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true");
        } else {
            arg = arg.value_name("VALUE").num_args(1);
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Read the process's command line.
pub fn parse() -> Invocation {
    from(command().try_get_matches())
}

fn from(matches: Result<clap::ArgMatches, clap::Error>) -> Invocation {
    let matches = match matches {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return Invocation::Printed;
        }
        Err(e) => {
            return Invocation::Invalid {
                summary: e.kind().to_string(),
                full: e.to_string(),
            };
        }
    };
    let flags: HashMap<String, String> = INPUTS
        .iter()
        .filter_map(|spec| {
            matches
                .get_one::<String>(spec.name)
                .map(|v| (spec.name.to_string(), v.clone()))
        })
        .collect();
    Invocation::Action(ProcessSource { flags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;

    fn parse_args(args: &[&str]) -> Invocation {
        from(command().try_get_matches_from(args))
    }

    #[test]
    fn flags_become_inputs_and_are_known_as_flags() {
        let Invocation::Action(src) =
            parse_args(&["ecr-promote", "--image-tag", "v1", "--dry-run"])
        else {
            panic!("not an action");
        };
        assert_eq!(src.input("image-tag").as_deref(), Some("v1"));
        assert_eq!(src.input("dry-run").as_deref(), Some("true"));
        assert!(src.given_by_flag("image-tag"));
        assert!(!src.given_by_flag("environment"));
    }

    #[test]
    fn an_unknown_flag_is_invalid() {
        assert!(matches!(
            parse_args(&["ecr-promote", "--imagetag", "v1"]),
            Invocation::Invalid { .. }
        ));
    }
}
