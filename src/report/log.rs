//! The step's log: lines, groups closed by a guard, and annotations, escaped the way the runner
//! reads workflow commands so that no value can inject one.

use crate::text::one_line;

/// `%`, CR and LF escaped as the runner decodes workflow-command data.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command properties additionally escape `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error title=…::message` (or `warning`, `notice`), escaped.
pub fn annotation(level: &str, title: &str, message: &str) -> String {
    format!(
        "::{level} title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// A warning annotation on stderr: something went wrong that does not change the result.
pub fn warn(title: &str, message: &str) {
    eprintln!("{}", annotation("warning", title, message));
}

/// A log group, closed when the guard is dropped: every early return closes it too.
#[must_use = "the group closes when this guard is dropped"]
pub struct Group(());

/// Open a log group (`::group::title`).
pub fn group(title: &str) -> Group {
    println!("::group::{}", escape_data(&one_line(title)));
    Group(())
}

impl Drop for Group {
    fn drop(&mut self) {
        println!("::endgroup::");
    }
}

/// A line of the log; the value is flattened to one line first.
pub fn line(text: &str) {
    println!("{}", one_line(text));
}

/// A check that passed.
pub fn ok(text: &str) {
    line(&format!("✔ {text}"));
}

/// A check that failed.
pub fn fail(text: &str) {
    line(&format!("✘ {text}"));
}

/// Something worth knowing that is neither.
pub fn note(text: &str) {
    line(&format!("⚠ {text}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(escape_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(
            annotation("error", "ecr-promote: x", "line1\nline2"),
            "::error title=ecr-promote%3A x::line1%0Aline2"
        );
    }
}
