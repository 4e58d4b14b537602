//! The binary: build the real adapters, run, and write what the step leaves behind on every
//! path (bad input, panic, SIGINT/SIGTERM and the time budget included); pick the exit code.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::FutureExt;

use ecr_promote::cli::{self, Invocation};
use ecr_promote::commands;
use ecr_promote::config::{self, Inputs, Source};
use ecr_promote::decide;
use ecr_promote::ecr::AwsRegistry;
use ecr_promote::github::OctoGitHub;
use ecr_promote::github::retry::Policy;
use ecr_promote::outcome::{Report, ResultCode};
use ecr_promote::pipeline::{self, Adapters};
use ecr_promote::report::{self, Destinations, OutputWriter, log};
use ecr_promote::runtime::{self, Progress};
use ecr_promote::text::one_line;
use ecr_promote::web::HttpWeb;

fn main() -> ExitCode {
    // One TLS crypto provider for every client: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `status`, `history`, `metrics`: local commands that read the record and print it; they
    // are no part of the action and leave no outputs or summary behind.
    if cli::names_local_command(std::env::args_os()) {
        init_logging();
        return match cli::parse_local() {
            cli::Local::Run(request) => exit(commands::main(request, retry_policy())),
            cli::Local::Clap(e) => {
                let _ = e.print();
                exit(e.exit_code())
            }
        };
    }
    let var = |name: &str| std::env::var_os(name).filter(|p| !p.is_empty());
    let to = Destinations {
        outputs: OutputWriter::new(var("GITHUB_OUTPUT").map(PathBuf::from)),
        summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
    };
    // First thing: the honest defaults. Whatever happens next, the runner sees `false`; and if
    // they cannot be written, later steps could read nothing, so nothing is done at all.
    if let Err(e) = to.outputs.write_initial() {
        let report = Report::new(
            ResultCode::Error,
            format!(
                "cannot write GITHUB_OUTPUT ({}): {e}; nothing was verified or dispatched",
                var("GITHUB_OUTPUT")
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        );
        report::finish(&to, &report);
        return ExitCode::FAILURE;
    }
    init_logging();

    let source = match cli::parse() {
        Invocation::Action(source) => source,
        Invocation::Printed => return ExitCode::SUCCESS,
        Invocation::Invalid { summary, full } => {
            let mut report = Report::new(
                ResultCode::InvalidInput,
                format!("invalid command line: {}", one_line(&summary)),
            );
            report.details = vec![one_line(&full)];
            report.fix = Some("run `ecr-promote --help` for the flags".into());
            return exit(report::finish(&to, &report));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let report = Report::new(
                ResultCode::Error,
                format!("could not start the async runtime: {e}"),
            );
            return exit(report::finish(&to, &report));
        }
    };
    let report = runtime.block_on(async {
        // `action` reports a panic in the promotion with what it knows; this catches one
        // anywhere else (reading the inputs, say), so every path still writes the outputs.
        match AssertUnwindSafe(action(&source)).catch_unwind().await {
            Ok(report) => report,
            Err(panic) => {
                let mut report = Report::new(
                    ResultCode::Error,
                    format!(
                        "internal error (panic: {}) before the promotion started; this is a bug in ecr-promote",
                        runtime::panic_message(panic.as_ref())
                    ),
                );
                report.fail_on_error = config::partial(&source).fail_on_error;
                report
            }
        }
    });
    // Do not wait for background work (a DNS lookup, an idle connection) once the result is known.
    runtime.shutdown_background();
    exit(report::finish(&to, &report))
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Our own warnings on stderr, and nothing from the libraries unless `ECR_PROMOTE_LOG` asks
/// (`error`, `warn`, `info`, `debug` or `trace`).
fn init_logging() {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let asked = match std::env::var("ECR_PROMOTE_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => Some(LevelFilter::ERROR),
        "warn" => Some(LevelFilter::WARN),
        "info" => Some(LevelFilter::INFO),
        "debug" => Some(LevelFilter::DEBUG),
        "trace" => Some(LevelFilter::TRACE),
        _ => None,
    };
    let filter = match asked {
        Some(level) => Targets::new().with_default(level),
        None => Targets::new()
            .with_target("ecr_promote", LevelFilter::WARN)
            .with_default(LevelFilter::OFF),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

/// The retry policy: GitHub's advice (base 1 s, a minute for secondary rate limits). Builds with
/// the `test-hooks` feature let tests shorten every wait.
fn retry_policy() -> Policy {
    #[cfg(feature = "test-hooks")]
    if let Some(ms) = std::env::var("ECR_PROMOTE_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Policy::with_base(Duration::from_millis(ms.clamp(1, 60_000)));
    }
    Policy::with_base(Duration::from_secs(1))
}

/// The action: read the inputs, run the promotion within its budget, and turn a timeout, a
/// signal or a panic into an honest report.
async fn action(source: &dyn Source) -> Report {
    let inputs = {
        let _group = log::group("Inputs");
        match config::parse(source) {
            Ok(inputs) => {
                print_inputs(&inputs);
                inputs
            }
            Err(errors) => {
                for e in &errors {
                    log::fail(&e.to_string());
                }
                // Named as a flag: given as one, or missing when the run is on the command line.
                return decide::invalid_input(&errors, &config::partial(source), &|name| {
                    source.given_by_flag(name)
                        || (source.on_command_line() && source.input(name).is_none())
                });
            }
        }
    };
    let progress = Progress::default();
    let policy = retry_policy();
    let work = async {
        let poll = policy.base * 5;
        let registry = AwsRegistry::new(&inputs.image.repositories, poll).await;
        let web = HttpWeb::new();
        // Test builds only: lets the tests reach the panic path, which nothing else can.
        #[cfg(feature = "test-hooks")]
        if std::env::var_os("ECR_PROMOTE_TEST_PANIC").is_some() {
            panic!("test panic requested by ECR_PROMOTE_TEST_PANIC");
        }
        let github = match &inputs.github {
            Some(access) => match OctoGitHub::new(access, policy) {
                Ok(g) => Some(g),
                Err(e) => {
                    let mut r = decide::base_report(&inputs);
                    r.message = format!("{e:#}");
                    r.fix = Some("check `github-api-url` and the CA certificates".into());
                    return r;
                }
            },
            None => None,
        };
        let io = Adapters {
            registry: &registry,
            github: github.as_ref(),
            web: &web,
            poll,
        };
        pipeline::run(&inputs, &io, &progress).await
    };
    match runtime::guard(decide::budget(&inputs), work, runtime::signalled()).await {
        Ok(report) => report,
        Err(why) => decide::interrupted(&inputs, progress.standing(), why),
    }
}

fn print_inputs(inputs: &Inputs) {
    log::line(&format!(
        "mode: {}; environment: {} (chain {})",
        inputs.mode.as_str(),
        inputs.environment,
        inputs.chain.arrows()
    ));
    log::line(&format!(
        "next environment: {}",
        inputs.next_environment().unwrap_or("(end of chain)")
    ));
    match (&inputs.image.tag, &inputs.rules.from_environment) {
        (Some(tag), _) => log::line(&format!("image tag: {tag}")),
        (None, Some(from)) => log::line(&format!("image: what `{from}` runs now")),
        (None, None) => log::line("image: from the record"),
    }
    for repo in &inputs.image.repositories {
        log::line(&format!("repository: {} ({})", repo.display(), repo.region));
    }
    log::line(&format!(
        "deploy status: {}; auto-promote: {}; dry-run: {}; fail-on-error: {}",
        inputs.deploy_status.as_str(),
        inputs.auto_promote,
        inputs.dry_run,
        inputs.fail_on_error
    ));
    if let Some(t) = &inputs.dispatch.target {
        log::line(&format!(
            "dispatch: {} in {} on {}",
            t.workflow, t.repository, t.git_ref
        ));
    }
    if let Some(g) = &inputs.github {
        log::line(&format!(
            "GitHub: {} via {}; record: {}",
            g.repository, g.api_url, inputs.record.enabled
        ));
    }
}
