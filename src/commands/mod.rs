//! The local commands: `status`, `history` and `metrics` read a repository's record and print
//! it, as an aligned table for people or `--json` for scripts. One file per command; here what
//! they share: their options, reaching GitHub, errors with their fix and exit code, and tables.

pub mod history;
pub mod metrics;
pub mod status;

use std::io::Write;

use crate::config::{DEFAULT_API_URL, check_member, parse_chain, parse_repository_slug};
use crate::github::retry::Policy;
use crate::github::{GhError, OctoGitHub};
use crate::model::{Chain, GitHubAccess, Secret};
use crate::text::shown;

/// Exit codes: the record was printed; it could not be read; the command line is wrong.
pub const OK: i32 = 0;
pub const ERROR: i32 = 1;
pub const USAGE: i32 = 2;

/// The options every command takes.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub repository: Option<String>,
    pub environments: Option<String>,
    pub json: bool,
    pub github_token: Option<Secret>,
    pub github_api_url: Option<String>,
}

/// A local command with its options.
#[derive(Debug, Clone)]
pub enum Request {
    Status {
        common: Common,
        freeze: Option<String>,
    },
    History {
        common: Common,
        environment: String,
        limit: usize,
    },
    Metrics {
        common: Common,
        environment: Option<String>,
        since: String,
    },
}

/// Why a command printed nothing: what happened, what to do, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub fix: Option<String>,
    pub code: i32,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            fix: None,
            code: USAGE,
        }
    }
}

/// What a command prints: the table or the JSON on stdout, notes on stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    pub text: String,
    pub notes: Vec<String>,
}

/// What every command knows once its options are checked.
#[derive(Debug, Clone)]
pub struct Context {
    pub repository: String,
    pub chain: Chain,
    pub json: bool,
    pub style: Style,
    /// Epoch seconds.
    pub now: i64,
}

/// Run a local command with the process's variables and terminal; its exit code.
pub fn main(request: Request, policy: Policy) -> i32 {
    use std::io::IsTerminal;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let style = Style {
        colour: use_colour(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report(Err(failure(
                format!("could not start the async runtime: {e}"),
                None,
            )));
        }
    };
    let now = crate::text::now_epoch();
    let printed = runtime.block_on(run(&request, &var, style, policy, now));
    runtime.shutdown_background();
    report(printed)
}

fn failure(message: String, fix: Option<String>) -> Failure {
    Failure {
        message,
        fix,
        code: ERROR,
    }
}

/// Print what a command produced; its exit code. A closed stdout (`| head`) is not an error.
fn report(printed: Result<Printed, Failure>) -> i32 {
    match printed {
        Ok(printed) => {
            let mut err = std::io::stderr().lock();
            for note in &printed.notes {
                let _ = writeln!(err, "note: {note}");
            }
            let _ = std::io::stdout().lock().write_all(printed.text.as_bytes());
            OK
        }
        Err(f) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {}", f.message);
            if let Some(fix) = &f.fix {
                let _ = writeln!(err, "  fix: {fix}");
            }
            f.code
        }
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything but empty
/// (no-color.org).
pub fn use_colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Check the options, reach GitHub and run the command. Usage errors (exit 2) come before
/// anything else, then the token (exit 1), then GitHub.
pub async fn run(
    request: &Request,
    var: &dyn Fn(&str) -> Option<String>,
    style: Style,
    policy: Policy,
    now: i64,
) -> Result<Printed, Failure> {
    let common = match request {
        Request::Status { common, .. }
        | Request::History { common, .. }
        | Request::Metrics { common, .. } => common,
    };
    let repository = common
        .repository
        .clone()
        .or_else(|| var("GITHUB_REPOSITORY"))
        .ok_or_else(|| {
            Failure::usage("no repository: pass --repository OWNER/NAME (or set GITHUB_REPOSITORY)")
        })?;
    let repository = parse_repository_slug(repository.trim())
        .map_err(|e| Failure::usage(format!("--repository: {}", e.problem)))?;
    let chain = parse_chain(
        common
            .environments
            .as_deref()
            .unwrap_or(crate::config::default_of("environments")),
    )
    .map_err(|e| Failure::usage(format!("--environments: {}", e.problem)))?;
    let api_url = common
        .github_api_url
        .clone()
        .or_else(|| var("GITHUB_API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    let api_url = api_url.trim().trim_end_matches('/').to_string();
    if !(api_url.starts_with("https://") || api_url.starts_with("http://"))
        || api_url.parse::<http::Uri>().is_err()
    {
        return Err(Failure::usage(format!(
            "--github-api-url: {} is not an http(s) URL; leave it unset for github.com, or use https://HOST/api/v3 for GitHub Enterprise Server",
            shown(&api_url)
        )));
    }
    let ctx = Context {
        repository: repository.clone(),
        chain,
        json: common.json,
        style,
        now,
    };
    // The command's own options, before the token is looked for.
    let checked = match request {
        Request::Status { freeze, .. } => Checked::Status(status::check(&ctx, freeze.as_deref())?),
        Request::History {
            environment, limit, ..
        } => Checked::History(history::check(&ctx, environment, *limit)?),
        Request::Metrics {
            environment, since, ..
        } => Checked::Metrics(metrics::check(&ctx, environment.as_deref(), since)?),
    };
    let token = common
        .github_token
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| var("GITHUB_TOKEN").map(Secret::new))
        .or_else(|| var("GH_TOKEN").map(Secret::new))
        .ok_or_else(|| {
            failure(
                "no GitHub token".into(),
                Some(
                    "set GITHUB_TOKEN or GH_TOKEN (`export GH_TOKEN=$(gh auth token)`), or pass --github-token; it needs `deployments: read` on the repository (`repo` for a classic token)"
                        .into(),
                ),
            )
        })?;
    let access = GitHubAccess {
        repository,
        token,
        api_url,
    };
    let github = OctoGitHub::new(&access, policy).map_err(|e| {
        failure(
            format!("{e:#}"),
            Some("check --github-api-url and the CA certificates".into()),
        )
    })?;
    match checked {
        Checked::Status(freeze) => status::run(&ctx, &github, &freeze).await,
        Checked::History(args) => history::run(&ctx, &github, &args).await,
        Checked::Metrics(args) => metrics::run(&ctx, &github, &args).await,
    }
}

/// A command's options, checked.
enum Checked {
    Status(crate::config::Freeze),
    History(history::Args),
    Metrics(metrics::Args),
}

/// An environment name given on the command line: the chain's grammar; a near miss of the
/// chain is pointed out.
pub fn environment_arg(chain: &Chain, env: &str) -> Result<String, Failure> {
    let env = env.trim();
    let single =
        parse_chain(env).map_err(|e| Failure::usage(format!("--environment: {}", e.problem)))?;
    if single.names().len() != 1 {
        return Err(Failure::usage(format!(
            "--environment: {} names more than one environment",
            shown(env)
        )));
    }
    if let Err(e) = check_member(chain, "environment", env)
        && chain.names().iter().any(|c| c.eq_ignore_ascii_case(env))
    {
        return Err(Failure::usage(format!("--environment: {}", e.problem)));
    }
    Ok(env.to_string())
}

/// GitHub's refusal to let the record be read, as an error with its fix.
pub fn unreadable(repository: &str, e: GhError) -> Failure {
    let (message, fix) = match &e {
        GhError::NotFound(_) => (
            format!("{repository} was not found, or the token cannot see it (404)"),
            format!(
                "check --repository (OWNER/NAME; now `{repository}`) and that the token can read it: `deployments: read` for a fine-grained or workflow token, `repo` for a classic one"
            ),
        ),
        GhError::Refused { status: 401, message } => (
            format!("GitHub does not accept the token (401: {message})"),
            "set GITHUB_TOKEN or GH_TOKEN to a valid token (`gh auth token` prints yours)".into(),
        ),
        GhError::Refused { status: 403, message } => (
            format!("GitHub refused to let the token read the deployments of {repository} (403: {message})"),
            format!(
                "give the token `deployments: read` on {repository} (in a workflow: `permissions: deployments: read`; a fine-grained token: Repository permissions → Deployments → Read-only; a classic token: `repo`)"
            ),
        ),
        GhError::Refused { status, message } => (
            format!("GitHub refused to list the deployments of {repository} ({status}: {message})"),
            "check --repository and the token".into(),
        ),
        GhError::Unavailable(why) => (
            format!("GitHub could not be reached: {why}"),
            "check the network, and --github-api-url or GITHUB_API_URL (https://HOST/api/v3 for GitHub Enterprise Server)".into(),
        ),
    };
    failure(message, Some(fix))
}

/// Terminal colours, when on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

/// A cell's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Plain,
    Good,
    Bad,
    Notice,
    Dim,
}

impl Style {
    fn paint(&self, text: &str, paint: Paint) -> String {
        let code = match paint {
            Paint::Plain => return text.to_string(),
            Paint::Good => "32",
            Paint::Bad => "31",
            Paint::Notice => "33",
            Paint::Dim => "2",
        };
        if self.colour && !text.is_empty() {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        if self.colour {
            format!("\u{1b}[1m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

/// An aligned table: columns padded to their widest cell, two spaces apart, no trailing
/// spaces; colour added after padding, so it never shifts a column.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Paint)>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<(String, Paint)>) {
        self.rows.push(cells);
    }

    pub fn render(&self, style: Style) -> String {
        // Values come from the record, which anyone who can write deployments writes: no
        // control character reaches the terminal.
        let clean = |s: &str| crate::text::one_line(s).replace('\u{1b}', " ");
        let rows: Vec<Vec<(String, Paint)>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|(t, p)| (clean(t), *p)).collect())
            .collect();
        let width = |i: usize| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|(t, _)| t.chars().count())
                .chain([self.header[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let line = |cells: Vec<(String, Paint)>, bold: bool| {
            let last = cells.len().saturating_sub(1);
            let mut out = String::new();
            for (i, (text, paint)) in cells.into_iter().enumerate() {
                let pad = if i == last {
                    0
                } else {
                    widths[i].saturating_sub(text.chars().count()) + 2
                };
                let shown = if bold {
                    style.bold(&text)
                } else {
                    style.paint(&text, paint)
                };
                out.push_str(&shown);
                out.push_str(&" ".repeat(pad));
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(
            self.header
                .iter()
                .map(|h| (h.to_string(), Paint::Plain))
                .collect(),
            true,
        );
        for row in rows {
            out.push_str(&line(row, false));
        }
        out
    }
}

/// A cell without colour.
pub fn plain(text: impl Into<String>) -> (String, Paint) {
    (text.into(), Paint::Plain)
}

/// `—` for nothing.
pub fn or_dash(text: Option<String>) -> String {
    text.filter(|t| !t.is_empty())
        .unwrap_or_else(|| "—".to_string())
}

/// The digest every repository holds, when they hold the same one.
pub fn common_digest(digests: &std::collections::BTreeMap<String, String>) -> Option<String> {
    let mut values = digests.values();
    let first = values.next()?;
    values.all(|d| d == first).then(|| first.clone())
}

/// A record's digests for a table: the short digest, with how many others when they differ.
pub fn digest_cell(digests: &std::collections::BTreeMap<String, String>) -> String {
    match (common_digest(digests), digests.values().next()) {
        (Some(d), _) => crate::text::short_digest(&d),
        (None, Some(first)) => format!(
            "{} +{}",
            crate::text::short_digest(first),
            digests.len() - 1
        ),
        (None, None) => "—".into(),
    }
}

/// `2026-01-29 12:56` (UTC) for a table.
pub fn minute(at: i64) -> String {
    let iso = crate::text::iso8601(at);
    format!("{} {}", &iso[..10], &iso[11..16])
}

/// JSON for scripts, pretty and ending in a newline.
pub fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(use_colour(true, None));
        assert!(!use_colour(false, None));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
    }

    #[test]
    fn tables_align_by_characters_and_colour_does_not_shift_them() {
        let mut t = Table::new(&["ENV", "TAG", "NOTE"]);
        t.row(vec![plain("dev"), ("v1".into(), Paint::Good), plain("")]);
        t.row(vec![
            plain("staging"),
            plain("—"),
            ("held".into(), Paint::Notice),
        ]);
        let text = t.render(Style { colour: false });
        assert_eq!(
            text,
            "ENV      TAG  NOTE\ndev      v1\nstaging  —    held\n"
        );
        let coloured = t.render(Style { colour: true });
        assert!(
            coloured.contains("staging  —    \u{1b}[33mheld\u{1b}[0m\n"),
            "{coloured:?}"
        );
        assert_eq!(
            coloured
                .replace("\u{1b}[1m", "")
                .replace("\u{1b}[32m", "")
                .replace("\u{1b}[33m", "")
                .replace("\u{1b}[0m", ""),
            text
        );
        let mut hostile = Table::new(&["A"]);
        hostile.row(vec![plain("x\u{1b}[31my\nz")]);
        assert!(!hostile.render(Style::default()).contains('\u{1b}'));
    }

    #[test]
    fn digests_for_a_table() {
        let one: std::collections::BTreeMap<String, String> =
            [("a".to_string(), format!("sha256:{}", "1".repeat(64)))].into();
        assert_eq!(digest_cell(&one), "sha256:111111111111");
        let mut two = one.clone();
        two.insert("b".into(), format!("sha256:{}", "2".repeat(64)));
        assert_eq!(digest_cell(&two), "sha256:111111111111 +1");
        assert_eq!(digest_cell(&Default::default()), "—");
    }

    #[test]
    fn environment_arguments() {
        let chain = parse_chain("dev,qa,staging").unwrap();
        assert_eq!(environment_arg(&chain, "qa").unwrap(), "qa");
        // Outside the chain is allowed (another chain's environment), a case slip is not.
        assert_eq!(environment_arg(&chain, "prod").unwrap(), "prod");
        assert_eq!(environment_arg(&chain, "QA").unwrap_err().code, USAGE);
        assert_eq!(environment_arg(&chain, "q a").unwrap_err().code, USAGE);
        assert_eq!(environment_arg(&chain, "a/b").unwrap_err().code, USAGE);
    }
}
