//! The job summary as GitHub shows it: rendered by a GitHub-flavoured Markdown parser.

use ecr_promote::model::{ImageInfo, RunInfo};
use ecr_promote::outcome::{DispatchPlan, ImageRow, ImageState, Report, ResultCode};
use ecr_promote::report::summary;

use crate::at;
use crate::helpers::{REGION, seed, unique};

const TAG: &str = "5ee1a2b-20260301120000";
const TYPO: &str = "5ee1a2b-20260301120001";
const OLDER: &str = "5ee1a2b-20260228120000";

fn render(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.strikethrough = true;
    comrak::markdown_to_html(markdown, &options)
}

fn found(name: &str, digest: &str) -> ImageRow {
    ImageRow {
        name: name.into(),
        display: name.into(),
        state: ImageState::Found(ImageInfo {
            digest: digest.into(),
            pushed_at: Some("2026-01-29T12:56:07Z".into()),
            size_bytes: Some(1),
            status: Some("ACTIVE".into()),
        }),
        checks: Vec::new(),
    }
}

fn promoted() -> Report {
    let mut r = Report::new(
        ResultCode::Promoted,
        "`t1` verified; dispatched `deploy.yml` for `qa`",
    );
    r.deploy_success = true;
    r.promoted = true;
    r.environment = Some("dev".into());
    r.chain = vec!["dev".into(), "qa".into(), "staging".into()];
    r.next_environment = Some("qa".into());
    r.image_tag = Some("t1".into());
    r.images = vec![
        found("shop/backend", "sha256:aaaa"),
        found("shop/frontend", "sha256:bbbb"),
    ];
    r.dispatch = Some(DispatchPlan {
        repository: "acme/shop".into(),
        workflow: "deploy.yml".into(),
        workflow_path: Some(".github/workflows/deploy.yml".into()),
        git_ref: "main".into(),
        correlation: None,
        inputs: [
            ("environment".to_string(), "qa".to_string()),
            ("image_tag".to_string(), "t1".to_string()),
        ]
        .into(),
    });
    r.run = Some(RunInfo {
        id: 42,
        url: "https://github.com/acme/shop/actions/runs/42".into(),
    });
    r
}

#[test]
fn a_promotion_reads_as_tables_and_a_link() {
    let html = render(&summary(&promoted()));
    assert_eq!(html.matches("<table>").count(), 3, "{html}");
    // Images table: a header and two rows of four cells.
    let images = html.split("<table>").nth(2).unwrap();
    assert_eq!(images.matches("<tr>").count(), 3, "{images}");
    assert_eq!(images.matches("<td>").count(), 10, "{images}");
    assert!(images.contains("<code>sha256:aaaa</code>"));
    assert!(
        html.contains(r#"<a href="https://github.com/acme/shop/actions/runs/42">42</a>"#),
        "{html}"
    );
    // The chain marks current and next.
    assert!(
        html.contains("<strong><code>dev</code></strong> (deployed)"),
        "{html}"
    );
    assert!(
        html.contains("<strong><code>qa</code></strong> (dispatched)"),
        "{html}"
    );
    assert!(!html.contains("What went wrong"));
}

#[test]
fn a_failure_shows_the_reason_and_the_fix() {
    let mut r = promoted();
    r.result = ResultCode::ImageMissing;
    r.failed = true;
    r.promoted = false;
    r.deploy_success = false;
    r.run = None;
    r.dispatch = None;
    r.message = "image `t1` is missing from 1 of 2 repositories".into();
    r.fix = Some("push the image first".into());
    r.images[1].state = ImageState::TagMissing {
        suggestions: vec!["t0".into()],
    };
    let html = render(&summary(&r));
    assert!(html.contains("<h3>What went wrong</h3>"), "{html}");
    assert!(
        html.contains("<strong>Fix:</strong> push the image first"),
        "{html}"
    );
    assert!(html.contains("nearest: <code>t0</code>"), "{html}");
    assert!(html.contains("(next)"));
}

#[test]
fn hostile_values_render_as_text() {
    let mut r = promoted();
    r.result = ResultCode::DispatchRejected;
    r.failed = true;
    r.message = "GitHub said: <img src=x onerror=alert(1)> | [click](javascript:alert(1)) **bold**\n## heading".into();
    r.images[0].display = "evil|<script>x</script>".into();
    r.dispatch
        .as_mut()
        .unwrap()
        .inputs
        .insert("note".into(), "a|b\n<b>c</b>".into());
    r.run = Some(RunInfo {
        id: 1,
        url: "javascript:alert(1)".into(),
    });
    let html = render(&summary(&r));
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>c"), "{html}");
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(!html.contains("raw HTML omitted"), "{html}");
    assert!(!html.contains("<strong>bold"), "{html}");
    assert_eq!(
        html.matches("<h2>").count(),
        1,
        "no heading injected: {html}"
    );
    // Every table keeps its shape despite the `|` in values.
    let images = html.split("<table>").nth(2).unwrap();
    assert_eq!(images.matches("<td>").count(), 10, "{images}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

#[test]
fn gates_and_findings_render_as_tables() {
    let mut r = promoted();
    r.vulnerabilities = Some([("CRITICAL".to_string(), 0), ("HIGH".to_string(), 2)].into());
    r.gates = vec![ecr_promote::outcome::GateReport {
        name: "health".into(),
        passed: false,
        took: std::time::Duration::from_secs(65),
        summary: "https://qa.example/health was not healthy | <b>x</b>".into(),
        last: vec![
            "503 (expected 200): starting".into(),
            "TLS failed: bad cert".into(),
        ],
    }];
    let html = render(&summary(&r));
    let gates = html
        .split("<h3>Gates</h3>")
        .nth(1)
        .expect("a Gates section");
    let table = gates.split("</table>").next().unwrap();
    assert_eq!(table.matches("<td>").count(), 4, "{table}");
    assert!(
        table.contains("1m5s") && table.contains("503 (expected 200): starting · TLS failed"),
        "{table}"
    );
    assert!(!table.contains("<b>"), "{table}");
    let vulns = html
        .split("<h3>Vulnerabilities (all repositories)</h3>")
        .nth(1)
        .expect("findings");
    assert!(vulns.contains("<td>HIGH</td>\n<td>2</td>"), "{vulns}");
}

/// Every table of the rendered summary: its rows (the header first), each a list of cells.
fn tables(html: &str) -> Vec<Vec<Vec<String>>> {
    html.split("<table>")
        .skip(1)
        .map(|table| {
            let table = table.split("</table>").next().unwrap();
            table
                .split("<tr>")
                .skip(1)
                .map(|row| {
                    row.split("<t")
                        .skip(1)
                        .filter_map(|cell| {
                            let cell = cell.strip_prefix("d>").or(cell.strip_prefix("h>"))?;
                            Some(cell.split("</t").next().unwrap().to_string())
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The table whose header row starts with `first`.
fn table(html: &str, first: &str) -> Vec<Vec<String>> {
    tables(html)
        .into_iter()
        .find(|t| {
            t.first()
                .and_then(|h| h.first())
                .is_some_and(|c| c == first)
        })
        .unwrap_or_else(|| panic!("no table headed {first}: {html}"))
}

#[test]
fn the_end_of_the_chain_reads_as_a_success() {
    let repo = unique("summary/app");
    seed(REGION, &repo, &[TAG]);
    let ran = at("staging", TAG, &repo).run();
    assert_eq!(ran.out("result"), "end-of-chain", "{}", ran.context());
    assert_eq!(ran.out("promoted"), "false");
    let html = render(&ran.summary);
    let outcome = table(&html, "deploy_success");
    let promoted = outcome[0]
        .iter()
        .position(|c| c == "promoted")
        .unwrap_or_else(|| panic!("no promoted column: {html}"));
    assert!(
        !ran.summary.contains('❌'),
        "nothing failed: {}",
        ran.summary
    );
    assert!(
        outcome[1][promoted].contains("<code>false</code>"),
        "{outcome:?}"
    );
    assert!(!html.contains("What went wrong"), "{html}");
}

#[test]
fn a_failure_is_stated_once_with_the_nearest_tags_among_the_checks() {
    let (found, missing) = (unique("summary/found"), unique("summary/missing"));
    seed(REGION, &found, &[TAG, TYPO]);
    seed(REGION, &missing, &[OLDER, TAG]);
    let ran = at("dev", TYPO, &format!("{found}, {missing}")).run();
    assert_eq!(ran.out("result"), "image-missing", "{}", ran.context());
    let html = render(&ran.summary);

    // Stated once, under its heading: not in the title, not again as a detail or a list.
    let message = ran.out("message");
    let what = message.split(". Fix: ").next().unwrap();
    assert_eq!(
        html.matches("<h3>What went wrong</h3>").count(),
        1,
        "{html}"
    );
    let (title, rest) = html.split_once("<h3>What went wrong</h3>").unwrap();
    assert!(!title.contains(&missing), "the title restates it: {title}");
    assert_eq!(
        ran.summary.matches("nearest existing").count(),
        1,
        "{what} is stated more than once:\n{}",
        ran.summary
    );
    assert!(rest.contains("<strong>Fix:</strong>"), "{html}");

    // The images table: the nearest tags sit among the checks, the digest column holds
    // digests only, 12 hex digits of them (the outputs keep the full digest).
    let rows = table(&html, "Repository");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let by_repo = |name: &str| {
        rows.iter()
            .find(|r| r.first().is_some_and(|c| c.contains(name)))
            .unwrap_or_else(|| panic!("no row for {name}: {rows:?}"))
            .clone()
    };
    let ok = by_repo(&found);
    let digest = ok[2]
        .trim_start_matches("<code>")
        .trim_end_matches("</code>");
    let hex = digest.strip_prefix("sha256:").expect("a digest");
    assert_eq!(hex.len(), 12, "{digest}");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{digest}");
    let lacking = by_repo(&missing);
    assert!(
        !lacking[2].contains(TAG),
        "a suggestion in the digest column: {lacking:?}"
    );
    assert!(
        lacking[4].contains(&format!("<code>{TAG}</code>")),
        "{lacking:?}"
    );
}

#[test]
fn digests_are_short_in_tables_and_full_in_outputs() {
    let repo = unique("summary/app");
    seed(REGION, &repo, &[TAG]);
    let ran = at("staging", TAG, &repo).run();
    let full = ran.out("image_digest");
    assert_eq!(full.len(), "sha256:".len() + 64, "{full}");
    let short = &full[.."sha256:".len() + 12];
    assert!(
        ran.summary.contains(&format!("`{short}`")),
        "{}",
        ran.summary
    );
    assert!(!ran.summary.contains(full), "{}", ran.summary);
}
