//! Everything the step leaves behind, written in one place: outputs (GITHUB_OUTPUT), the job
//! summary, annotations and log lines, each escaped so no value can forge an output, inject a
//! command or break the page.

pub mod log;
pub mod outputs;
pub mod summary;

use std::path::PathBuf;

pub use outputs::{OUTPUTS, OutputWriter, encode_output, initial_pairs, output_pairs};
pub use summary::{md, md_text, summary};

use crate::outcome::Report;
use crate::text::one_line;

/// Where the step's results go: GITHUB_OUTPUT (none in local use: the outputs are printed) and
/// GITHUB_STEP_SUMMARY.
pub struct Destinations {
    pub outputs: OutputWriter,
    pub summary: Option<PathBuf>,
}

/// Write the outputs, the summary and the closing annotation of `report`; return its exit code.
pub fn finish(to: &Destinations, report: &Report) -> i32 {
    let title = format!("ecr-promote: {}", report.result.as_str());
    if report.failed {
        let mut text = report.message.clone();
        for d in report.listed_details() {
            text.push_str(&format!("\n{d}"));
        }
        if let Some(fix) = &report.fix {
            text.push_str(&format!("\nFix: {fix}"));
        }
        println!("{}", log::annotation("error", &title, &text));
    } else {
        println!("{}", log::annotation("notice", &title, &report.message));
    }
    let pairs = output_pairs(report);
    let mut exit = report.exit_code();
    if let Err(e) = to.outputs.write(&pairs) {
        // Later steps cannot see a result that was not written: never call that a success.
        eprintln!(
            "{}",
            log::annotation(
                "error",
                "ecr-promote",
                &format!("could not write GITHUB_OUTPUT: {e}")
            )
        );
        exit = 1;
    }
    if to.outputs.is_local() {
        let _group = log::group("Outputs");
        for (name, value) in &pairs {
            println!("{name}={}", one_line(value));
        }
    }
    if let Some(path) = &to.summary
        && let Err(e) = summary::append(path, &summary(report))
    {
        log::warn(
            "ecr-promote",
            &format!("could not write the job summary: {e}"),
        );
    }
    exit
}
