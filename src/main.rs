//! The binary: build the real adapters, call `run`, write the outputs on every path (bad input,
//! panic, SIGINT/SIGTERM included) and pick the exit code.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Arg, ArgAction, Command};
use futures_util::FutureExt;

use ecr_promote::ecr::AwsRegistry;
use ecr_promote::gates::ReqwestWeb;
use ecr_promote::github::OctoGitHub;
use ecr_promote::inputs::{self, INPUTS, Inputs, ProcessSource, Source};
use ecr_promote::outcome::{Report, ResultCode};
use ecr_promote::report::{
    self, OutputWriter, annotation, endgroup, group, one_line, output_pairs,
};
use ecr_promote::retry::Policy;
use ecr_promote::{Phase, Progress, base_report, invalid_input, run};

fn command() -> Command {
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

fn main() -> ExitCode {
    // One TLS crypto provider for every client (reqwest needs a process default): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let writer = OutputWriter::new(
        std::env::var_os("GITHUB_OUTPUT")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
    );
    // First thing: the honest defaults. Whatever happens next, the runner sees `false`.
    if let Err(e) = writer.write_initial() {
        eprintln!(
            "{}",
            annotation(
                "warning",
                "ecr-promote",
                &format!("could not write GITHUB_OUTPUT: {e}")
            )
        );
    }
    init_logging();

    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let mut report = Report::new(
                ResultCode::InvalidInput,
                format!("invalid command line: {}", one_line(&e.kind().to_string())),
            );
            report.details = vec![one_line(&e.to_string())];
            report.fix = Some("run `ecr-promote --help` for the flags".into());
            return finish(&writer, &report);
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
    let source = ProcessSource { flags };

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
            return finish(&writer, &report);
        }
    };
    let report = runtime.block_on(async {
        // promote() reports a panic in the promotion itself with what it knows; this catches one
        // anywhere else (reading the inputs, say), so every path still goes through finish().
        match AssertUnwindSafe(promote(&source)).catch_unwind().await {
            Ok(report) => report,
            Err(_) => {
                let mut report = Report::new(
                    ResultCode::Error,
                    "internal error (panic) before the promotion started; this is a bug in ecr-promote",
                );
                report.fail_on_error = inputs::partial(&source).fail_on_error;
                report
            }
        }
    });
    // Do not wait for background work (a DNS lookup, an idle connection) once the result is known.
    runtime.shutdown_background();
    finish(&writer, &report)
}

fn init_logging() {
    let level = match std::env::var("ECR_PROMOTE_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        "info" => tracing::Level::INFO,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::WARN,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .try_init();
}

fn retry_policy() -> Policy {
    // Tests shorten every wait; production keeps GitHub's advice (base 1 s, a minute for
    // secondary rate limits).
    let base_ms = std::env::var("ECR_PROMOTE_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1000)
        .clamp(1, 60_000);
    Policy::with_base(Duration::from_millis(base_ms))
}

async fn promote(source: &dyn Source) -> Report {
    let partial = inputs::partial(source);
    group("Inputs");
    let parsed = inputs::parse(source);
    let inputs = match parsed {
        Ok(inputs) => {
            print_inputs(&inputs);
            endgroup();
            inputs
        }
        Err(errors) => {
            for e in &errors {
                println!("✘ {}", one_line(&e.to_string()));
            }
            endgroup();
            return invalid_input(&errors, &partial);
        }
    };

    let progress = Arc::new(Progress::default());
    let policy = retry_policy();
    let poll = policy.base * 5;
    let work = async {
        let registry = AwsRegistry::new(&inputs.repositories, poll).await;
        let web = ReqwestWeb::new();
        // Debug builds only: lets the tests reach the panic path, which nothing else can.
        #[cfg(debug_assertions)]
        if std::env::var_os("ECR_PROMOTE_TEST_PANIC").is_some() {
            panic!("test panic requested by ECR_PROMOTE_TEST_PANIC");
        }
        let github = match &inputs.target {
            Some(target) => match OctoGitHub::new(target, policy) {
                Ok(g) => Some(g),
                Err(e) => {
                    let mut r = Report::new(ResultCode::Error, format!("{e:#}"));
                    r.fail_on_error = inputs.fail_on_error;
                    return r;
                }
            },
            None => None,
        };
        run(&inputs, &registry, github.as_ref(), &web, poll, &progress).await
    };

    tokio::select! {
        _ = tokio::time::sleep(ecr_promote::budget(&inputs)) => timed_out(&inputs, &progress),
        outcome = AssertUnwindSafe(work).catch_unwind() => match outcome {
            Ok(report) => report,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                interrupted(&inputs, &progress, format!("internal error (panic: {}); this is a bug in ecr-promote", one_line(&what)),
                    "re-run the job; please report this at the ecr-promote repository with the log")
            }
        },
        signal = cancelled() => interrupted(
            &inputs,
            &progress,
            format!("cancelled by {signal} (the run was cancelled or reached timeout-minutes) before the promotion finished"),
            "re-run the job; if `promoted` is true the next environment was already dispatched",
        ),
    }
}

/// The report after a cancellation or a panic: never a success, `promoted` only when GitHub had
/// already accepted the dispatch.
fn interrupted(inputs: &Inputs, progress: &Progress, message: String, fix: &str) -> Report {
    let mut report = base_report(inputs);
    report.message = message;
    report.fix = Some(fix.into());
    report.promoted = progress.dispatched.load(Ordering::SeqCst);
    report.run = progress.run.lock().ok().and_then(|r| r.clone());
    report
}

/// The report when the `timeout` budget ran out, by the phase it ran out in.
fn timed_out(inputs: &Inputs, progress: &Progress) -> Report {
    let phase = progress.phase.lock().map(|p| *p).unwrap_or_default();
    let mut report = progress
        .verified
        .lock()
        .ok()
        .and_then(|v| v.clone())
        .unwrap_or_else(|| base_report(inputs));
    let budget = inputs::format_duration(inputs.timeout);
    report.promoted = progress.dispatched.load(Ordering::SeqCst);
    report.run = progress.run.lock().ok().and_then(|r| r.clone());
    let (result, message, fix) = match phase {
        _ if report.promoted => (
            ResultCode::Promoted,
            format!(
                "the next environment was dispatched; the time budget (`timeout: {budget}`) ran out afterwards"
            ),
            "nothing to do".to_string(),
        ),
        Phase::Registry => {
            report.deploy_success = false;
            (
                ResultCode::Error,
                format!("timed out after {budget} (`timeout`) verifying the image in ECR; nothing was dispatched"),
                "check that ECR answers (aws-region, the network, AWS_ENDPOINT_URL_ECR), or raise `timeout`".to_string(),
            )
        }
        Phase::Gates => {
            report.deploy_success = false;
            (
                ResultCode::Unhealthy,
                "the deploy gates did not pass within their limits; nothing was dispatched"
                    .to_string(),
                "raise this environment's limit in `timeouts`".to_string(),
            )
        }
        Phase::Preflight => (
            ResultCode::DispatchFailed,
            format!(
                "timed out after {budget} (`timeout`) reading the target workflow from GitHub; nothing was dispatched"
            ),
            "re-run the job (https://www.githubstatus.com), or raise `timeout`".to_string(),
        ),
        Phase::Dispatch => (
            ResultCode::DispatchFailed,
            format!(
                "timed out after {budget} (`timeout`) dispatching: GitHub may or may not have started the run"
            ),
            "check the Actions tab for a new run of the target workflow before re-running"
                .to_string(),
        ),
    };
    report.result = result;
    report.message = message;
    report.fix = Some(fix);
    report
}

#[cfg(unix)]
async fn cancelled() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn cancelled() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}

fn print_inputs(inputs: &Inputs) {
    println!(
        "environment: {} (chain {})",
        inputs.environment,
        inputs.chain.names().join(" → ")
    );
    println!(
        "next environment: {}",
        inputs.next_environment().unwrap_or("(end of chain)")
    );
    println!("image tag: {}", inputs.image_tag);
    for repo in &inputs.repositories {
        println!(
            "repository: {} ({})",
            one_line(&repo.display()),
            repo.region
        );
    }
    println!(
        "deploy status: {}; auto-promote: {}; dry-run: {}; fail-on-error: {}",
        inputs.deploy_status.as_str(),
        inputs.auto_promote,
        inputs.dry_run,
        inputs.fail_on_error
    );
    if let Some(t) = &inputs.target {
        println!(
            "dispatch: {} in {} on {} via {}",
            t.workflow,
            t.repository,
            t.git_ref,
            one_line(&t.api_url)
        );
    }
}

/// Write the outputs, summary and annotations for `report` and pick the exit code.
fn finish(writer: &OutputWriter, report: &Report) -> ExitCode {
    let title = format!("ecr-promote: {}", report.result.as_str());
    if report.result.is_failure() {
        let mut text = report.message.clone();
        for d in &report.details {
            text.push_str(&format!("\n{d}"));
        }
        if let Some(fix) = &report.fix {
            text.push_str(&format!("\nFix: {fix}"));
        }
        println!("{}", annotation("error", &title, &text));
    } else {
        println!("{}", annotation("notice", &title, &report.message));
    }
    let pairs = output_pairs(report);
    if let Err(e) = writer.write(&pairs) {
        eprintln!(
            "{}",
            annotation(
                "error",
                "ecr-promote",
                &format!("could not write GITHUB_OUTPUT: {e}")
            )
        );
    }
    if writer.is_local() {
        group("Outputs");
        for (name, value) in &pairs {
            println!("{name}={}", one_line(value));
        }
        endgroup();
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
        && let Err(e) = report::append_summary(&PathBuf::from(path), &report::summary(report))
    {
        eprintln!(
            "{}",
            annotation(
                "warning",
                "ecr-promote",
                &format!("could not write the job summary: {e}")
            )
        );
    }
    ExitCode::from(report.exit_code() as u8)
}
