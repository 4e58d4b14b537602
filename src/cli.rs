//! The command line: every input is also a flag (`--image-tag X`), generated from the one input
//! table; a flag wins over the `INPUT_*` variable. The local commands (`status`, `history`,
//! `metrics`) are subcommands with flags of their own.

use std::collections::HashMap;
use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::commands::{Common, Request};
use crate::config::{INPUTS, ProcessSource};
use crate::model::Secret;

/// The subcommands: they read the record and print it, and are no part of the action.
pub const LOCAL_COMMANDS: &[&str] = &["status", "history", "metrics"];

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
        )
        .args_conflicts_with_subcommands(true)
        .subcommands(local_commands());
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

/// The flags every local command takes.
fn common(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("repository")
            .long("repository")
            .value_name("OWNER/NAME")
            .help("The repository whose record is read [default: GITHUB_REPOSITORY]"),
    )
    .arg(
        Arg::new("environments")
            .long("environments")
            .value_name("LIST")
            .help("The chain, in order, separated by commas, spaces or newlines [default: dev,qa,staging]"),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .help("Print JSON for scripts instead of a table"),
    )
    .arg(
        Arg::new("github-token")
            .long("github-token")
            .value_name("TOKEN")
            .help("A token that may read deployments [default: GITHUB_TOKEN, then GH_TOKEN]"),
    )
    .arg(
        Arg::new("github-api-url")
            .long("github-api-url")
            .value_name("URL")
            .help("GitHub's REST API [default: GITHUB_API_URL, then https://api.github.com]"),
    )
    .after_help(
        "Exit status: 0 when the record was read and printed; 1 when it could not be (no token, \
         no access, GitHub unreachable); 2 when the command line is wrong.",
    )
}

fn local_commands() -> [Command; 3] {
    [
        common(
            Command::new("status")
                .about("What each environment of the chain runs now: tag, digest, commit, age, held or frozen")
                .arg(
                    Arg::new("freeze")
                        .long("freeze")
                        .value_name("WINDOWS")
                        .help("Freeze windows, as the `freeze` input takes them, to show which environments are frozen now"),
                ),
        ),
        common(
            Command::new("history")
                .about("One environment's records, newest first")
                .arg(
                    Arg::new("environment")
                        .long("environment")
                        .value_name("NAME")
                        .required(true)
                        .help("The environment"),
                )
                .arg(
                    Arg::new("limit")
                        .long("limit")
                        .value_name("N")
                        .default_value("100")
                        .value_parser(clap::value_parser!(u32).range(1..=10_000))
                        .help("How many records, newest first (one page of GitHub's listing by default)"),
                ),
        ),
        common(
            Command::new("metrics")
                .about("Delivery metrics per environment: deployment frequency, lead time for changes, change failure rate, time to restore")
                .arg(
                    Arg::new("environment")
                        .long("environment")
                        .value_name("NAME")
                        .help("Only this environment [default: every environment of the chain]"),
                )
                .arg(
                    Arg::new("since")
                        .long("since")
                        .value_name("DURATION")
                        .default_value("30d")
                        .help("The window: records created this long ago or since (`30d`, `2w`, `12h`)"),
                ),
        ),
    ]
}

/// What a local command's command line asks for.
pub enum Local {
    Run(Request),
    /// Help, version or a wrong command line, as clap tells it (and its exit code).
    Clap(clap::Error),
}

/// Whether the command line names a local command (its first argument): the action itself
/// takes no positional argument, so nothing else starts that way.
pub fn names_local_command(args: impl IntoIterator<Item = OsString>) -> bool {
    args.into_iter()
        .nth(1)
        .is_some_and(|first| LOCAL_COMMANDS.iter().any(|c| first == *c))
}

/// Read a local command's command line.
pub fn parse_local() -> Local {
    local_from(command().try_get_matches())
}

fn local_from(matches: Result<ArgMatches, clap::Error>) -> Local {
    let matches = match matches {
        Ok(m) => m,
        Err(e) => return Local::Clap(e),
    };
    let Some((name, sub)) = matches.subcommand() else {
        return Local::Clap(command().error(
            clap::error::ErrorKind::MissingSubcommand,
            "name a command: status, history or metrics",
        ));
    };
    let text = |id: &str| sub.get_one::<String>(id).cloned();
    let common = Common {
        repository: text("repository"),
        environments: text("environments"),
        json: sub.get_flag("json"),
        github_token: text("github-token").map(Secret::new),
        github_api_url: text("github-api-url"),
    };
    Local::Run(match name {
        "status" => Request::Status {
            common,
            freeze: text("freeze"),
        },
        "history" => Request::History {
            common,
            environment: text("environment").unwrap_or_default(),
            limit: sub.get_one::<u32>("limit").copied().unwrap_or(20) as usize,
        },
        _ => Request::Metrics {
            common,
            environment: text("environment"),
            since: text("since").unwrap_or_else(|| "30d".into()),
        },
    })
}

/// Read the process's command line.
pub fn parse() -> Invocation {
    let args: Vec<String> = std::env::args().collect();
    if let Some(invalid) = boolean_with_a_separate_value(&args) {
        return invalid;
    }
    from(command().try_get_matches_from(args))
}

/// `--dry-run false`: clap would read `false` as a subcommand ("cannot be used with"); a boolean
/// flag takes its value after `=`, and saying so is the fix.
fn boolean_with_a_separate_value(args: &[String]) -> Option<Invocation> {
    args.windows(2).find_map(|pair| {
        let name = pair[0].strip_prefix("--")?;
        let value = pair[1].as_str();
        let boolean = INPUTS.iter().any(|spec| spec.boolean && spec.name == name);
        (boolean && matches!(value, "true" | "false")).then(|| Invocation::Invalid {
            summary: format!("`--{name} {value}`: a true/false flag takes its value after `=`: `--{name}={value}`"),
            full: format!("write `--{name}={value}` (or `--{name}` alone for true)"),
        })
    })
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
            // clap's own first line names what was wrong ("unexpected argument '--x' found").
            let full = e.to_string();
            let summary = full
                .lines()
                .next()
                .map(|l| l.trim_start_matches("error: ").to_string())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| e.kind().to_string());
            return Invocation::Invalid { summary, full };
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

    #[test]
    fn a_boolean_flag_with_a_separate_value_says_to_use_equals() {
        let args: Vec<String> = ["ecr-promote", "--dry-run", "false", "--environment", "dev"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match boolean_with_a_separate_value(&args) {
            Some(Invocation::Invalid { summary, .. }) => {
                assert!(summary.contains("`--dry-run=false`"), "{summary}")
            }
            _ => panic!("not refused"),
        }
        // A string flag's value, and `=`, are fine.
        let fine: Vec<String> = ["ecr-promote", "--dry-run=false", "--image-tag", "true"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(boolean_with_a_separate_value(&fine).is_none());
    }

    #[test]
    fn a_command_line_error_names_what_was_wrong() {
        match parse_args(&["ecr-promote", "--no-such-flag", "x"]) {
            Invocation::Invalid { summary, .. } => {
                assert!(summary.contains("--no-such-flag"), "{summary}")
            }
            _ => panic!("not refused"),
        }
    }

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

    fn local(args: &[&str]) -> Local {
        local_from(command().try_get_matches_from(args))
    }

    #[test]
    fn local_commands_are_told_apart_from_the_action() {
        let os = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(names_local_command(os(&["ecr-promote", "status"])));
        assert!(names_local_command(os(&[
            "ecr-promote",
            "metrics",
            "--json"
        ])));
        assert!(!names_local_command(os(&["ecr-promote"])));
        assert!(!names_local_command(os(&[
            "ecr-promote",
            "--image-tag",
            "status"
        ])));
        // The action's flags and a subcommand do not mix.
        assert!(matches!(
            parse_args(&["ecr-promote", "--dry-run", "status"]),
            Invocation::Invalid { .. }
        ));
    }

    #[test]
    fn local_commands_read_their_flags() {
        let Local::Run(Request::History {
            common,
            environment,
            limit,
        }) = local(&["ecr-promote", "history", "--environment", "qa", "--json"])
        else {
            panic!("not history");
        };
        assert_eq!((environment.as_str(), limit), ("qa", 100));
        assert!(common.json);
        assert_eq!(common.repository, None);
        let Local::Run(Request::Metrics {
            since, environment, ..
        }) = local(&[
            "ecr-promote",
            "metrics",
            "--since",
            "2w",
            "--repository",
            "a/b",
        ])
        else {
            panic!("not metrics");
        };
        assert_eq!((since.as_str(), environment), ("2w", None));
        for wrong in [
            &["ecr-promote", "history"][..],
            &[
                "ecr-promote",
                "history",
                "--environment",
                "qa",
                "--limit",
                "0",
            ],
            &["ecr-promote", "status", "--image-tag", "x"],
        ] {
            let Local::Clap(e) = local(wrong) else {
                panic!("{wrong:?} was accepted");
            };
            assert_eq!(e.exit_code(), 2, "{wrong:?}");
        }
    }

    #[test]
    fn an_unknown_flag_is_invalid() {
        assert!(matches!(
            parse_args(&["ecr-promote", "--imagetag", "v1"]),
            Invocation::Invalid { .. }
        ));
    }
}
