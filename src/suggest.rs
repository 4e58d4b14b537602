//! "Did you mean": the existing tags nearest to a tag that is not in the registry. Pure.

/// An existing tag and when it was pushed (seconds since the epoch; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub tag: String,
    pub pushed_at: i64,
}

/// The leading part of a tag, before the first `-`, `_` or `.`: the commit SHA of
/// `ea11a24-20260129125607`, the `v1` of `v1.2.3`.
fn leading(tag: &str) -> &str {
    tag.split(['-', '_', '.']).next().unwrap_or(tag)
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Levenshtein distance, bounded to keep a 300-character tag against thousands cheap.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Up to `limit` tags near `wanted`: first those with the same leading part (such as the commit
/// SHA), newest first; then those a few edits away, closest first. Unrelated tags are not offered.
pub fn nearest(wanted: &str, candidates: &[Candidate], limit: usize) -> Vec<String> {
    let lead = leading(wanted);
    let mut same_lead: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.tag != wanted && !lead.is_empty() && leading(&c.tag) == lead)
        .collect();
    same_lead.sort_by(|a, b| {
        b.pushed_at
            .cmp(&a.pushed_at)
            .then_with(|| b.tag.cmp(&a.tag))
    });

    let threshold = (wanted.chars().count() / 3).max(2);
    let mut close: Vec<(usize, usize, &Candidate)> = candidates
        .iter()
        .filter(|c| c.tag != wanted && leading(&c.tag) != lead)
        .filter(|c| c.tag.len().abs_diff(wanted.len()) <= threshold)
        .map(|c| (distance(wanted, &c.tag), common_prefix(wanted, &c.tag), c))
        .filter(|(d, _, _)| *d <= threshold)
        .collect();
    close.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.cmp(&a.1))
            .then(b.2.pushed_at.cmp(&a.2.pushed_at))
    });

    let mut out: Vec<String> = Vec::new();
    for c in same_lead
        .into_iter()
        .chain(close.into_iter().map(|(_, _, c)| c))
    {
        if out.len() == limit {
            break;
        }
        if !out.contains(&c.tag) {
            out.push(c.tag.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(tag: &str, pushed_at: i64) -> Candidate {
        Candidate {
            tag: tag.into(),
            pushed_at,
        }
    }

    #[test]
    fn the_field_report_typo() {
        let tags = [
            c("ea11a24-20260129125607", 20),
            c("ea11a24-20260128101010", 10),
            c("b0c0ffe-20260129130000", 30),
            c("latest", 40),
        ];
        let got = nearest("ea11a24-20260129125555", &tags, 5);
        assert_eq!(got, ["ea11a24-20260129125607", "ea11a24-20260128101010"]);
    }

    #[test]
    fn newest_first_and_limited() {
        let tags: Vec<Candidate> = (0..9).map(|i| c(&format!("abc-{i}"), i)).collect();
        let got = nearest("abc-x", &tags, 5);
        assert_eq!(got, ["abc-8", "abc-7", "abc-6", "abc-5", "abc-4"]);
    }

    #[test]
    fn near_misses_without_a_shared_lead() {
        let tags = [c("v1.2.3", 1), c("release", 2), c("x1.2.3", 3)];
        assert_eq!(nearest("v1.2.4", &tags, 5), ["v1.2.3", "x1.2.3"]);
        assert_eq!(nearest("relaese", &tags, 5), ["release"]);
        assert!(nearest("zzzzzzzzzz", &tags, 5).is_empty());
    }

    #[test]
    fn distance_basics() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("same", "same"), 0);
    }
}
