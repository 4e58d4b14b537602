//! The `freeze` input: windows in which nothing may enter an environment, and the one in force.
//!
//! `ENVIRONMENT: START - END [TIMEZONE]`, one window a line or separated by `;`. START and END
//! are both weekly (`Fri 16:00`) or both dates (`2026-12-23`, `2026-12-23T18:00`); START is
//! included, END is not. A `#` starts a comment that runs to the end of the line.
//!
//! Boundaries are wall-clock times in the window's zone. One rule turns such a time into an
//! instant: *the first moment the zone's clocks show that time or later*. A time shown twice
//! (the hour repeated when daylight saving ends) is its first showing; a time never shown (the
//! hour skipped when it starts) is the moment of the jump, so `Sun 02:30 Europe/Berlin` on
//! 2026-03-29 is 03:00 CEST. The rule is monotone: a window whose START is before its END
//! never turns inside out, and windows that touch on the wall clock touch as instants.
//!
//! Nothing here reads a clock or the environment: `now` comes in, epoch seconds go out, and
//! the time zone crate stays behind this interface.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

/// [`Block::ends_at`] when the windows leave no free time at all: after every dated window has
/// ended they still follow one another for over a year (weekly windows that cover the week).
pub const NEVER: i64 = i64::MAX;

/// How far past `now` and the last dated window the windows are followed before the freeze is
/// taken to have no end; far more than a week, so weekly windows in zones with different
/// daylight saving dates cannot be mistaken for a whole week.
const FOLLOW_LIMIT_SECS: i64 = 400 * 86_400;

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const EXAMPLE: &str = "`*: Fri 16:00 - Mon 08:00 Europe/Berlin`";

/// The parsed `freeze` input.
#[derive(Debug, Clone, Default)]
pub struct Freeze {
    windows: Vec<Window>,
}

/// One window of the `freeze` input that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeError {
    /// The window as written, trimmed.
    pub window: String,
    /// What is wrong and what is allowed.
    pub problem: String,
}

/// The freeze in force for an environment at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The window in force, as written (the one that lasts longest when several are).
    pub window: String,
    /// Epoch seconds at which the environment is free again, after every window that overlaps
    /// or touches the one in force (and the ones touching those); [`NEVER`] when there is none.
    pub ends_at: i64,
    /// `ends_at` on the clock of the window that ends last: `Mon 2026-12-07 08:00 Europe/Berlin`.
    pub ends_local: String,
    /// `ends_at` in UTC: `2026-12-07 07:00 UTC`.
    pub ends_utc: String,
}

#[derive(Debug, Clone)]
struct Window {
    text: String,
    /// `None` for `*`.
    environment: Option<String>,
    zone: TimeZone,
    zone_name: String,
    when: When,
}

#[derive(Debug, Clone)]
enum When {
    /// Starts every week on `start_day` at `start` and ends `days` later (0 to 7) at `end`.
    Weekly {
        start_day: Weekday,
        start: Time,
        days: i64,
        end: Time,
    },
    /// Epoch seconds, START included, END not.
    Dated { start: i64, end: i64 },
}

#[derive(Debug, Clone, Copy)]
enum Point {
    Weekly(Weekday, Time),
    Dated(DateTime),
}

/// Parses the `freeze` input; every window that does not parse is reported.
pub fn parse(text: &str, chain: &[String]) -> Result<Freeze, Vec<FreezeError>> {
    let mut windows = Vec::new();
    let mut errors = Vec::new();
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        for piece in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match parse_window(piece, chain) {
                Ok(window) => windows.push(window),
                Err(problem) => errors.push(FreezeError {
                    window: piece.to_string(),
                    problem,
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(Freeze { windows })
    } else {
        Err(errors)
    }
}

impl Freeze {
    /// No window at all: the input was empty, blank or only comments.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The freeze in force for `environment` at `now` (epoch seconds), if any.
    pub fn blocking(&self, environment: &str, now: i64) -> Option<Block> {
        let relevant: Vec<&Window> = self
            .windows
            .iter()
            .filter(|w| w.environment.as_deref().is_none_or(|e| e == environment))
            .collect();
        let longest_covering = |at: i64| {
            relevant
                .iter()
                .filter_map(|w| Some((*w, w.covering(at)?.1)))
                // The first written wins a tie.
                .reduce(|best, next| if next.1 > best.1 { next } else { best })
        };
        let (in_force, mut end) = longest_covering(now)?;
        let mut last = in_force;
        let limit = relevant
            .iter()
            .filter_map(|w| match w.when {
                When::Dated { end, .. } => Some(end),
                When::Weekly { .. } => None,
            })
            .fold(now, i64::max)
            .saturating_add(FOLLOW_LIMIT_SECS);
        // A window covering `end` starts at or before it: it overlaps or touches.
        while end <= limit {
            // `covering` ends after the instant it is given; the filter keeps that promise local.
            match longest_covering(end).filter(|(_, next_end)| *next_end > end) {
                Some((window, next_end)) => (last, end) = (window, next_end),
                None => {
                    return Some(Block {
                        window: in_force.text.clone(),
                        ends_at: end,
                        ends_local: local_text(&last.zone, &last.zone_name, end),
                        ends_utc: utc_date_time(end).map_or_else(
                            || format!("{end} (epoch seconds)"),
                            |utc| format!("{} UTC", date_time_text(utc)),
                        ),
                    });
                }
            }
        }
        Some(Block {
            window: in_force.text.clone(),
            ends_at: NEVER,
            ends_local: "never".to_string(),
            ends_utc: "never".to_string(),
        })
    }
}

impl Window {
    /// The occurrence of this window that contains `at`, as (start, end) epoch seconds.
    fn covering(&self, at: i64) -> Option<(i64, i64)> {
        match self.when {
            When::Dated { start, end } => (start <= at && at < end).then_some((start, end)),
            When::Weekly {
                start_day,
                start,
                days,
                end,
            } => {
                let local = self.zone.to_datetime(Timestamp::from_second(at).ok()?);
                let since_start_day = (local.weekday().to_monday_zero_offset()
                    - start_day.to_monday_zero_offset())
                .rem_euclid(7);
                let latest = add_days(local.date(), -i64::from(since_start_day))?;
                // An occurrence lasts less than a week; a neighbour covers the edge cases that
                // offsets create near a week's boundary.
                [-7, 0, 7].into_iter().find_map(|shift| {
                    let day = add_days(latest, shift)?;
                    let s = resolve(&self.zone, day.to_datetime(start))?;
                    let e = resolve(&self.zone, add_days(day, days)?.to_datetime(end))?;
                    (s <= at && at < e).then_some((s, e))
                })
            }
        }
    }
}

fn parse_window(text: &str, chain: &[String]) -> Result<Window, String> {
    let Some((environment, rest)) = text.split_once(':') else {
        return Err(missing_environment(chain));
    };
    let environment = environment.trim();
    let environment = if environment == "*" {
        None
    } else if chain.iter().any(|e| e == environment) {
        Some(environment.to_string())
    } else if environment.is_empty()
        || environment.contains(char::is_whitespace)
        || parse_point(text, "START").is_ok()
    {
        return Err(missing_environment(chain));
    } else {
        return Err(not_in_chain(environment, chain));
    };

    let start_text = rest.trim_start();
    let (start, after_start) = parse_point(start_text, "START")?;
    let start_text = written(start_text, after_start);
    let after_dash = after_start
        .trim_start()
        .strip_prefix(['-', '–', '—'])
        .ok_or_else(|| {
            format!(
                "expected `-` after START `{start_text}`, found {}; a window is `ENVIRONMENT: START - END [TIMEZONE]`",
                found(after_start)
            )
        })?;
    let end_text = after_dash.trim_start();
    let (end, after_end) = parse_point(end_text, "END")?;
    let end_text = written(end_text, after_end);
    if !after_end.is_empty() && !after_end.starts_with(char::is_whitespace) {
        return Err(format!(
            "unexpected {} after END `{end_text}`",
            found(after_end)
        ));
    }
    let mut words = after_end.split_whitespace();
    let (zone, zone_name) = match words.next() {
        None => (TimeZone::UTC, "UTC".to_string()),
        Some(name) => {
            let zone = TimeZone::get(name).map_err(|_| {
                format!(
                    "`{name}` is not a time zone; use an IANA name such as `Europe/Berlin` or `America/New_York` (default `UTC`)"
                )
            })?;
            let canonical = zone.iana_name().unwrap_or(name).to_string();
            (zone, canonical)
        }
    };
    if let Some(extra) = words.next() {
        return Err(format!(
            "unexpected `{extra}` after the time zone `{zone_name}`; a window is `ENVIRONMENT: START - END [TIMEZONE]`"
        ));
    }

    let when = match (start, end) {
        (Point::Weekly(start_day, start), Point::Weekly(end_day, end)) => {
            let mut days = i64::from(
                (end_day.to_monday_zero_offset() - start_day.to_monday_zero_offset()).rem_euclid(7),
            );
            if days == 0 && end == start {
                return Err(format!(
                    "START and END are both `{start_text}`; a weekly window must end at another time (for a freeze with no end in sight, use dates)"
                ));
            }
            if days == 0 && end < start {
                // `Mon 10:00 - Mon 08:00`: round the week to the next Monday.
                days = 7;
            }
            When::Weekly {
                start_day,
                start,
                days,
                end,
            }
        }
        (Point::Dated(start), Point::Dated(end)) => {
            if end <= start {
                let relation = if end == start {
                    "the same as"
                } else {
                    "before"
                };
                return Err(format!(
                    "END `{end_text}` is {relation} START `{start_text}`; END is the first moment that is no longer frozen"
                ));
            }
            let out_of_range = || format!("`{text}` is outside the range of the time zone data");
            When::Dated {
                start: resolve(&zone, start).ok_or_else(out_of_range)?,
                end: resolve(&zone, end).ok_or_else(out_of_range)?,
            }
        }
        _ => {
            return Err(format!(
                "START `{start_text}` and END `{end_text}` must both be days of the week (`Fri 16:00 - Mon 08:00`) or both dates (`2026-12-23 - 2027-01-04`)"
            ));
        }
    };
    Ok(Window {
        text: text.to_string(),
        environment,
        zone,
        zone_name,
        when,
    })
}

/// A day and time (`Fri 16:00`) or a date with an optional time (`2026-12-23`,
/// `2026-12-23T18:00`, `2026-12-23 18:00`); returns it and the text after it.
fn parse_point<'a>(text: &'a str, what: &str) -> Result<(Point, &'a str), String> {
    let expected = || {
        format!(
            "expected {what}: a day and time (`Fri 16:00`) or a date (`2026-12-23`, `2026-12-23T18:00`), found {}",
            found(text)
        )
    };
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let (date, rest) = parse_date(text)?;
        let next_day = date.tomorrow().map_or(String::new(), |d| {
            format!("{:04}-{:02}-{:02}T00:00", d.year(), d.month(), d.day())
        });
        let (time, rest) = if let Some(time) = rest.strip_prefix(['T', 't']) {
            parse_time(time, &format!("`{}T`", written(text, rest)), &next_day)?
        } else if rest.trim_start().starts_with(|c: char| c.is_ascii_digit())
            && rest.starts_with(char::is_whitespace)
        {
            let after = format!("`{}`", written(text, rest));
            parse_time(rest.trim_start(), &after, &next_day)?
        } else {
            (Time::midnight(), rest)
        };
        return Ok((Point::Dated(date.to_datetime(time)), rest));
    }
    let word_len = text
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(word_len);
    if word.is_empty() {
        return Err(expected());
    }
    let day = weekday(word).ok_or_else(|| {
        format!("`{word}` is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun (or the full name)")
    })?;
    let needs_time = || format!("`{word}` needs a time after it, such as `{word} 16:00`");
    if !rest.starts_with(char::is_whitespace) || rest.trim_start().is_empty() {
        return Err(needs_time());
    }
    let time_text = rest.trim_start();
    if !time_text.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(needs_time());
    }
    let next_day = format!("{} 00:00", day_name(day.next()));
    let (time, rest) = parse_time(time_text, &format!("`{word}`"), &next_day)?;
    Ok((Point::Weekly(day, time), rest))
}

/// `YYYY-MM-DD` (month and day may have one digit).
fn parse_date(text: &str) -> Result<(Date, &str), String> {
    let len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    // `2026-12-23-2027-01-04` (no spaces around the dash) is a date, a dash and a date.
    let mut parts = text[..len].splitn(4, '-');
    let (year, month, day) = (parts.next(), parts.next(), parts.next());
    let date_len = [year, month, day]
        .iter()
        .map(|p| p.map_or(0, str::len))
        .sum::<usize>()
        + 2;
    let token = &text[..date_len.min(len)];
    let bad = || format!("`{token}` is not a date; write YYYY-MM-DD, such as `2026-12-23`");
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(bad());
    };
    let digits = |s: &str, lens: &[usize]| {
        (lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i16>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (
        digits(year, &[4]),
        digits(month, &[1, 2]),
        digits(day, &[1, 2]),
    ) else {
        return Err(bad());
    };
    let m = i8::try_from(m).map_err(|_| bad())?;
    let d = i8::try_from(d).map_err(|_| bad())?;
    let date = Date::new(y, m, d).map_err(|_| bad())?;
    Ok((date, &text[date_len..]))
}

/// `H:MM` or `HH:MM`, with optional `:SS`, from 00:00 to 23:59:59.
/// `next_day` is what `24:00` should be written as (`Mon 00:00`).
fn parse_time<'a>(text: &'a str, after: &str, next_day: &str) -> Result<(Time, &'a str), String> {
    let len = text
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(text.len());
    let (token, rest) = text.split_at(len);
    if token.is_empty() {
        return Err(format!(
            "expected a time (HH:MM) after {after}, found {}",
            found(text)
        ));
    }
    let bad = || {
        format!(
            "`{token}` is not a time; use HH:MM from 00:00 to 23:59 (seconds optional: HH:MM:SS)"
        )
    };
    let parts: Vec<&str> = token.split(':').collect();
    let number = |s: &str, lens: &[usize], max: i8| {
        (lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i8>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let (hour, minute, second) = match parts.as_slice() {
        [h, m] => (h, m, "0"),
        [h, m, s] => (h, m, *s),
        _ => return Err(bad()),
    };
    if number(hour, &[1, 2], 24) == Some(24) && parts[1..].iter().all(|p| *p == "00") {
        return Err(format!(
            "`{token}` is not a time; write the next day's 00:00: `{next_day}`"
        ));
    }
    let (Some(h), Some(m), Some(s)) = (
        number(hour, &[1, 2], 23),
        number(minute, &[2], 59),
        number(second, &[1, 2], 59),
    ) else {
        return Err(bad());
    };
    let time = Time::new(h, m, s, 0).map_err(|_| bad())?;
    Ok((time, rest))
}

/// `Fri`, `fri`, `FRIDAY`, `Thurs`: the first three or more letters of an English day name.
fn weekday(word: &str) -> Option<Weekday> {
    let word = word.to_ascii_lowercase();
    if word.len() < 3 {
        return None;
    }
    let index = DAYS.iter().position(|day| day.starts_with(&word))?;
    Weekday::from_monday_zero_offset(i8::try_from(index).ok()?).ok()
}

/// `Mon`, `Tue`, ...
fn day_name(day: Weekday) -> String {
    let name = DAYS[usize::from(day.to_monday_zero_offset().unsigned_abs())];
    name[..1].to_ascii_uppercase() + &name[1..3]
}

/// The first moment at which `zone`'s clocks show `local` or later (see the module comment).
fn resolve(zone: &TimeZone, local: DateTime) -> Option<i64> {
    let ambiguous = zone.to_ambiguous_timestamp(local);
    let instant = match ambiguous.offset() {
        AmbiguousOffset::Gap { before, .. } => {
            // Read with the offset before the jump, `local` lands inside the hour after it;
            // the jump is the transition at or just before that.
            let after_jump = before.to_timestamp(local).ok()?;
            let probe = after_jump.checked_add(SignedDuration::from_secs(1)).ok()?;
            zone.preceding(probe)
                .next()
                .map_or(after_jump, |t| t.timestamp())
        }
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()?
        }
    };
    Some(instant.as_second())
}

fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(Span::new().try_days(days).ok()?).ok()
}

fn utc_date_time(at: i64) -> Option<DateTime> {
    Some(TimeZone::UTC.to_datetime(Timestamp::from_second(at).ok()?))
}

/// `Mon 2026-12-07 08:00 Europe/Berlin`; a time the clocks show twice carries its offset
/// (`Sun 2026-10-25 02:30+01:00 Europe/Berlin`).
fn local_text(zone: &TimeZone, zone_name: &str, at: i64) -> String {
    let Ok(instant) = Timestamp::from_second(at) else {
        return format!("{at} (epoch seconds)");
    };
    let local = zone.to_datetime(instant);
    let day = day_name(local.weekday());
    let offset = if matches!(
        zone.to_ambiguous_timestamp(local).offset(),
        AmbiguousOffset::Fold { .. }
    ) {
        offset_text(zone.to_offset(instant))
    } else {
        String::new()
    };
    format!("{day} {}{offset} {zone_name}", date_time_text(local))
}

/// `2026-12-07 08:00`, with `:SS` only when the seconds are not zero.
fn date_time_text(dt: DateTime) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    );
    if dt.second() != 0 {
        text.push_str(&format!(":{:02}", dt.second()));
    }
    text
}

fn offset_text(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The part of `text` before `rest`, which is a suffix of it.
fn written<'a>(text: &'a str, rest: &str) -> &'a str {
    text[..text.len() - rest.len()].trim_end()
}

fn found(text: &str) -> String {
    match text.split_whitespace().next() {
        Some(word) => format!("`{word}`"),
        None => "nothing".to_string(),
    }
}

fn chain_list(chain: &[String]) -> String {
    chain.join(", ")
}

fn missing_environment(chain: &[String]) -> String {
    format!(
        "a window starts with the environment it freezes, one of the chain ({}) or `*` for all, and a colon: {EXAMPLE}",
        chain_list(chain)
    )
}

fn not_in_chain(environment: &str, chain: &[String]) -> String {
    let hint = chain
        .iter()
        .find(|e| e.eq_ignore_ascii_case(environment))
        .map(|e| format!(" (did you mean `{e}`?)"))
        .unwrap_or_default();
    format!(
        "`{environment}` is not an environment of the chain ({}){hint}; use one of them or `*` for all",
        chain_list(chain)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    /// Epoch seconds of a UTC wall-clock time, by Howard Hinnant's `days_from_civil`: written
    /// out here so that no expected instant comes from the time zone crate under test.
    fn utc(y: i64, m: i64, d: i64, h: i64, min: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + h * HOUR + min * 60
    }

    /// A wall-clock time at a known UTC offset in hours (`+1` CET, `+2` CEST, `-5` EST, `-4` EDT).
    fn at(y: i64, m: i64, d: i64, h: i64, min: i64, offset_hours: i64) -> i64 {
        utc(y, m, d, h, min) - offset_hours * HOUR
    }

    fn chain() -> Vec<String> {
        ["dev", "qa", "staging"].map(String::from).to_vec()
    }

    fn freeze(text: &str) -> Freeze {
        parse(text, &chain()).unwrap_or_else(|e| panic!("{text:?} should parse: {e:#?}"))
    }

    fn errors(text: &str) -> Vec<FreezeError> {
        match parse(text, &chain()) {
            Ok(f) => panic!("{text:?} should not parse: {f:#?}"),
            Err(e) => e,
        }
    }

    /// The one error of a one-window input; it must name that window.
    fn problem(text: &str) -> String {
        let errors = errors(text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].window, text.trim());
        errors[0].problem.clone()
    }

    fn ends(f: &Freeze, env: &str, now: i64) -> Option<i64> {
        f.blocking(env, now).map(|b| b.ends_at)
    }

    /// Asserts the window is in force over [start, end) and not just outside it.
    fn assert_frozen_exactly(f: &Freeze, env: &str, start: i64, end: i64) {
        assert_eq!(ends(f, env, start - 1), None, "free a second before START");
        assert_eq!(ends(f, env, start), Some(end), "frozen at START");
        assert_eq!(
            ends(f, env, end - 1),
            Some(end),
            "frozen a second before END"
        );
        assert_eq!(ends(f, env, end), None, "free at END");
    }

    #[test]
    fn the_reference_clock_is_right() {
        assert_eq!(utc(1970, 1, 1, 0, 0), 0);
        assert_eq!(utc(2026, 1, 1, 0, 0), 1_767_225_600);
        assert_eq!(utc(2000, 3, 1, 0, 0), 951_868_800);
    }

    // ---- grammar ----

    #[test]
    fn empty_input_and_blank_lines_are_no_freeze() {
        assert!(freeze("").is_empty());
        assert!(freeze("  \n\n ; ;\r\n\t").is_empty());
        assert!(freeze("# only a comment\n").is_empty());
        assert!(!freeze("*: Fri 16:00 - Mon 08:00").is_empty());
    }

    #[test]
    fn every_form_parses() {
        let f = freeze(
            "*: Fri 16:00 - Mon 08:00
             qa: Fri 16:00 - Mon 08:00 Europe/Berlin
             staging: 2026-12-23 - 2027-01-04
             dev: 2026-12-23T18:00 - 2026-12-27T08:00 America/New_York
             dev: 2026-12-23 18:00:30 - 2026-12-27 8:00
             qa: 2026-1-2t09:00 - 2026-01-03",
        );
        assert_eq!(f.windows.len(), 6);
        assert_eq!(f.windows[0].environment, None);
        assert_eq!(f.windows[0].zone_name, "UTC");
        assert_eq!(f.windows[1].environment.as_deref(), Some("qa"));
        assert_eq!(f.windows[1].zone_name, "Europe/Berlin");
        assert_eq!(f.windows[1].text, "qa: Fri 16:00 - Mon 08:00 Europe/Berlin");
        let dated = |i: usize| match f.windows[i].when {
            When::Dated { start, end } => (start, end),
            When::Weekly { .. } => panic!("window {i} should be dated"),
        };
        assert_eq!(dated(2), (utc(2026, 12, 23, 0, 0), utc(2027, 1, 4, 0, 0)));
        assert_eq!(
            dated(3),
            (at(2026, 12, 23, 18, 0, -5), at(2026, 12, 27, 8, 0, -5))
        );
        assert_eq!(
            dated(4),
            (utc(2026, 12, 23, 18, 0) + 30, utc(2026, 12, 27, 8, 0))
        );
        assert_eq!(dated(5), (utc(2026, 1, 2, 9, 0), utc(2026, 1, 3, 0, 0)));
    }

    #[test]
    fn separators_semicolons_comments_and_spacing() {
        let f = freeze(
            "  *: Fri 16:00 - Mon 08:00 ; qa: Sat 00:00-Sun 00:00;\r\n\
             \n\
             # the holidays\n\
             staging:2026-12-23-2027-01-04   # no spaces needed\n\
             dev :  Wed 1:00  –  Wed 02:00   Europe/Berlin",
        );
        let texts: Vec<&str> = f.windows.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "*: Fri 16:00 - Mon 08:00",
                "qa: Sat 00:00-Sun 00:00",
                "staging:2026-12-23-2027-01-04",
                "dev :  Wed 1:00  –  Wed 02:00   Europe/Berlin",
            ]
        );
        assert!(matches!(
            f.windows[2].when,
            When::Dated { start, end } if start == utc(2026, 12, 23, 0, 0) && end == utc(2027, 1, 4, 0, 0)
        ));
    }

    #[test]
    fn day_names_are_case_insensitive_and_may_be_full_or_longer_abbreviations() {
        for (word, day) in [
            ("mon", Weekday::Monday),
            ("TUE", Weekday::Tuesday),
            ("Tues", Weekday::Tuesday),
            ("Wednesday", Weekday::Wednesday),
            ("thurs", Weekday::Thursday),
            ("FRIDAY", Weekday::Friday),
            ("Sat", Weekday::Saturday),
            ("sunday", Weekday::Sunday),
        ] {
            assert_eq!(weekday(word), Some(day), "{word}");
        }
        for word in ["Fry", "Mo", "Su", "Mondays", "Tuesd4y", ""] {
            assert_eq!(weekday(word), None, "{word}");
        }
        let f = freeze("qa: friday 16:00 - MONDAY 08:00");
        assert!(matches!(
            f.windows[0].when,
            When::Weekly {
                start_day: Weekday::Friday,
                days: 3,
                ..
            }
        ));
    }

    #[test]
    fn zone_names_are_canonicalised() {
        let f = freeze("qa: Fri 16:00 - Mon 08:00 europe/berlin");
        assert_eq!(f.windows[0].zone_name, "Europe/Berlin");
    }

    #[test]
    fn every_bad_window_is_reported_by_name() {
        let input = "*: Fri 16:00 - Mon 08:00\n\
                     qa: Fry 16:00 - Mon 08:00\n\
                     dev: 2026-12-23 - 2027-01-04; prod: Fri 16:00 - Mon 08:00\n\
                     staging: Fri 25:00 - Mon 08:00 Mars/Olympus";
        let errors = errors(input);
        let windows: Vec<&str> = errors.iter().map(|e| e.window.as_str()).collect();
        assert_eq!(
            windows,
            [
                "qa: Fry 16:00 - Mon 08:00",
                "prod: Fri 16:00 - Mon 08:00",
                "staging: Fri 25:00 - Mon 08:00 Mars/Olympus",
            ]
        );
        assert!(
            errors[0].problem.contains("`Fry` is not a day"),
            "{errors:#?}"
        );
        assert!(errors[1].problem.contains("`prod`"), "{errors:#?}");
        assert!(
            errors[2].problem.contains("`25:00` is not a time"),
            "{errors:#?}"
        );
    }

    #[test]
    fn an_environment_outside_the_chain_is_an_error_naming_the_chain() {
        let p = problem("prod: Fri 16:00 - Mon 08:00");
        assert!(
            p.contains("`prod` is not an environment of the chain (dev, qa, staging)"),
            "{p}"
        );
        assert!(p.contains("`*`"), "{p}");
        let p = problem("QA: Fri 16:00 - Mon 08:00");
        assert!(p.contains("did you mean `qa`?"), "{p}");
    }

    #[test]
    fn a_window_without_an_environment_says_how_to_write_one() {
        for text in [
            "Fri 16:00 - Mon 08:00",
            "2026-12-23T18:00 - 2026-12-27T08:00",
            "2026-12-23 - 2027-01-04",
            ": Fri 16:00 - Mon 08:00",
            "all staff: Fri 16:00 - Mon 08:00",
        ] {
            let p = problem(text);
            assert!(
                p.contains("starts with the environment") && p.contains("(dev, qa, staging)"),
                "{text}: {p}"
            );
        }
    }

    #[test]
    fn malformed_times_dates_and_zones_are_errors() {
        for (text, expected) in [
            ("qa: Fri 25:00 - Mon 08:00", "`25:00` is not a time"),
            ("qa: Fri 16:60 - Mon 08:00", "`16:60` is not a time"),
            ("qa: Fri 16:00:60 - Mon 08:00", "`16:00:60` is not a time"),
            ("qa: Fri 16 - Mon 08:00", "`16` is not a time"),
            ("qa: Fri 16:0 - Mon 08:00", "`16:0` is not a time"),
            (
                "qa: Fri 16:00 - Sun 24:00",
                "`24:00` is not a time; write the next day's 00:00: `Mon 00:00`",
            ),
            ("qa: 2026-12-31T24:00 - 2027-01-04", "`2027-01-01T00:00`"),
            ("qa: Fri - Mon 08:00", "`Fri` needs a time"),
            ("qa: Fri 16:00 - Mon", "`Mon` needs a time"),
            (
                "qa: Fry 16:00 - Mon 08:00",
                "`Fry` is not a day; use Mon, Tue",
            ),
            (
                "qa: Fri 16:00 Mon 08:00",
                "expected `-` after START `Fri 16:00`",
            ),
            ("qa: Fri 16:00 -", "expected END"),
            ("qa:", "expected START"),
            ("qa: soon - later", "`soon` is not a day"),
            ("qa: 2026-02-30 - 2026-03-02", "`2026-02-30` is not a date"),
            ("qa: 26-12-23 - 2027-01-04", "`26-12-23` is not a date"),
            (
                "qa: 2026-12-23T - 2027-01-04",
                "expected a time (HH:MM) after `2026-12-23T`",
            ),
            (
                "qa: 2026-12-23T18:00Z - 2027-01-04",
                "expected `-` after START `2026-12-23T18:00`",
            ),
            (
                "qa: Fri 16:00 - Mon 08:00 Berlin",
                "`Berlin` is not a time zone; use an IANA name",
            ),
            (
                "qa: Fri 16:00 - Mon 08:00 +01:00",
                "`+01:00` is not a time zone",
            ),
            (
                "qa: Fri 16:00 - Mon 08:00 UTC please",
                "unexpected `please` after the time zone `UTC`",
            ),
            (
                "qa: Fri 16:00 - Mon 08:00x",
                "unexpected `x` after END `Mon 08:00`",
            ),
        ] {
            let p = problem(text);
            assert!(p.contains(expected), "{text}: {p}");
        }
    }

    #[test]
    fn start_equal_to_end_reversed_dates_and_mixed_kinds_are_errors() {
        for (text, expected) in [
            (
                "qa: Fri 16:00 - Fri 16:00",
                "START and END are both `Fri 16:00`",
            ),
            ("qa: fri 16:00 - Friday 16:00:00", "START and END are both"),
            ("qa: 2026-12-23 - 2026-12-23T00:00", "is the same as START"),
            (
                "qa: 2027-01-04 - 2026-12-23",
                "END `2026-12-23` is before START `2027-01-04`",
            ),
            ("qa: 2026-12-23T18:00 - 2026-12-23T17:59", "is before START"),
            (
                "qa: Fri 16:00 - 2026-12-23",
                "must both be days of the week",
            ),
            (
                "qa: 2026-12-23 - Mon 08:00",
                "must both be days of the week",
            ),
        ] {
            let p = problem(text);
            assert!(p.contains(expected), "{text}: {p}");
        }
    }

    // ---- window arithmetic ----

    #[test]
    fn start_is_included_and_end_is_not() {
        let f = freeze("qa: 2026-12-23T18:00 - 2026-12-27T08:00");
        assert_frozen_exactly(&f, "qa", utc(2026, 12, 23, 18, 0), utc(2026, 12, 27, 8, 0));
        let f = freeze("qa: Wed 10:00 - Wed 12:00");
        // 2026-12-09 is a Wednesday.
        assert_frozen_exactly(&f, "qa", utc(2026, 12, 9, 10, 0), utc(2026, 12, 9, 12, 0));
    }

    #[test]
    fn weekly_windows_cross_midnight_and_the_end_of_the_week() {
        // 2026-12-06 is a Sunday, 2026-12-07 a Monday.
        let f = freeze("qa: Sun 22:00 - Mon 02:00");
        assert_frozen_exactly(&f, "qa", utc(2026, 12, 6, 22, 0), utc(2026, 12, 7, 2, 0));
        assert_eq!(
            ends(&f, "qa", utc(2026, 12, 7, 1, 0)),
            Some(utc(2026, 12, 7, 2, 0))
        );
        assert_eq!(ends(&f, "qa", utc(2026, 12, 6, 12, 0)), None);
        assert_eq!(ends(&f, "qa", utc(2026, 12, 7, 12, 0)), None);
        // And the next week the same.
        assert_frozen_exactly(&f, "qa", utc(2026, 12, 13, 22, 0), utc(2026, 12, 14, 2, 0));

        let f = freeze("qa: Fri 16:00 - Mon 08:00");
        assert_frozen_exactly(&f, "qa", utc(2026, 12, 4, 16, 0), utc(2026, 12, 7, 8, 0));
        assert_eq!(
            ends(&f, "qa", utc(2026, 12, 5, 12, 0)),
            Some(utc(2026, 12, 7, 8, 0))
        );
        assert_eq!(ends(&f, "qa", utc(2026, 12, 9, 12, 0)), None);
    }

    #[test]
    fn a_weekly_window_that_ends_before_it_starts_on_the_same_day_wraps_the_week() {
        let f = freeze("qa: Mon 10:00 - Mon 08:00");
        // Frozen from Monday 10:00 to the next Monday 08:00, free 08:00 to 10:00.
        assert_frozen_exactly(&f, "qa", utc(2026, 12, 7, 10, 0), utc(2026, 12, 14, 8, 0));
        assert_eq!(
            ends(&f, "qa", utc(2026, 12, 11, 0, 0)),
            Some(utc(2026, 12, 14, 8, 0))
        );
        assert_eq!(ends(&f, "qa", utc(2026, 12, 14, 9, 0)), None);
    }

    #[test]
    fn berlin_spring_forward_inside_a_weekly_and_a_dated_window() {
        // 2026-03-29, last Sunday of March: 02:00 CET (+1) jumps to 03:00 CEST (+2).
        let f = freeze("qa: Sat 20:00 - Mon 08:00 Europe/Berlin");
        let (start, end) = (at(2026, 3, 28, 20, 0, 1), at(2026, 3, 30, 8, 0, 2));
        assert_eq!(
            end - start,
            35 * HOUR,
            "the window is an hour shorter that week"
        );
        assert_frozen_exactly(&f, "qa", start, end);
        // The week before, both ends in CET.
        assert_frozen_exactly(
            &f,
            "qa",
            at(2026, 3, 21, 20, 0, 1),
            at(2026, 3, 23, 8, 0, 1),
        );

        let f = freeze("qa: 2026-03-28T12:00 - 2026-03-30 Europe/Berlin");
        assert_frozen_exactly(
            &f,
            "qa",
            at(2026, 3, 28, 12, 0, 1),
            at(2026, 3, 30, 0, 0, 2),
        );
    }

    #[test]
    fn berlin_fall_back_inside_a_weekly_and_a_dated_window() {
        // 2026-10-25, last Sunday of October: 03:00 CEST (+2) falls back to 02:00 CET (+1).
        let f = freeze("qa: Fri 16:00 - Mon 08:00 Europe/Berlin");
        let (start, end) = (at(2026, 10, 23, 16, 0, 2), at(2026, 10, 26, 8, 0, 1));
        assert_eq!(
            end - start,
            65 * HOUR,
            "the window is an hour longer that week"
        );
        assert_frozen_exactly(&f, "qa", start, end);
        let block = f.blocking("qa", utc(2026, 10, 25, 12, 0)).unwrap();
        assert_eq!(block.ends_local, "Mon 2026-10-26 08:00 Europe/Berlin");
        assert_eq!(block.ends_utc, "2026-10-26 07:00 UTC");

        let f = freeze("qa: 2026-10-24T12:00 - 2026-10-26T12:00 Europe/Berlin");
        assert_frozen_exactly(
            &f,
            "qa",
            at(2026, 10, 24, 12, 0, 2),
            at(2026, 10, 26, 12, 0, 1),
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        // 2026-03-08, second Sunday of March: 02:00 EST (-5) jumps to 03:00 EDT (-4).
        let f = freeze("staging: Sat 18:00 - Sun 18:00 America/New_York");
        assert_frozen_exactly(
            &f,
            "staging",
            at(2026, 3, 7, 18, 0, -5),
            at(2026, 3, 8, 18, 0, -4),
        );
        // 2026-11-01, first Sunday of November: 02:00 EDT (-4) falls back to 01:00 EST (-5).
        assert_frozen_exactly(
            &f,
            "staging",
            at(2026, 10, 31, 18, 0, -4),
            at(2026, 11, 1, 18, 0, -5),
        );
        let block = f.blocking("staging", at(2026, 11, 1, 9, 0, -5)).unwrap();
        assert_eq!(block.ends_local, "Sun 2026-11-01 18:00 America/New_York");
        assert_eq!(block.ends_utc, "2026-11-01 23:00 UTC");

        let f = freeze("staging: 2026-10-31 - 2026-11-02 America/New_York");
        assert_frozen_exactly(
            &f,
            "staging",
            at(2026, 10, 31, 0, 0, -4),
            at(2026, 11, 2, 0, 0, -5),
        );
        let f = freeze("staging: 2026-03-07 - 2026-03-09 America/New_York");
        assert_frozen_exactly(
            &f,
            "staging",
            at(2026, 3, 7, 0, 0, -5),
            at(2026, 3, 9, 0, 0, -4),
        );
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_is_the_moment_of_the_jump() {
        // Berlin, 2026-03-29: 02:30 does not exist; the clocks jump at 01:00 UTC (02:00 CET).
        let f = freeze("qa: Sun 02:30 - Sun 04:00 Europe/Berlin");
        assert_frozen_exactly(&f, "qa", utc(2026, 3, 29, 1, 0), at(2026, 3, 29, 4, 0, 2));
        assert_eq!(
            f.blocking("qa", utc(2026, 3, 29, 1, 0)).unwrap().ends_local,
            "Sun 2026-03-29 04:00 Europe/Berlin"
        );
        // An ordinary Sunday: 02:30 CET.
        assert_frozen_exactly(
            &f,
            "qa",
            at(2026, 3, 22, 2, 30, 1),
            at(2026, 3, 22, 4, 0, 1),
        );

        // A window that ends in the gap ends at the jump too; the dated form agrees.
        let f = freeze("qa: 2026-03-29T01:00 - 2026-03-29T02:30 Europe/Berlin");
        assert_frozen_exactly(&f, "qa", at(2026, 3, 29, 1, 0, 1), utc(2026, 3, 29, 1, 0));
        let block = f.blocking("qa", at(2026, 3, 29, 1, 0, 1)).unwrap();
        assert_eq!(block.ends_local, "Sun 2026-03-29 03:00 Europe/Berlin");
        assert_eq!(block.ends_utc, "2026-03-29 01:00 UTC");

        // New York, 2026-03-08: 02:30 does not exist; the jump is at 07:00 UTC (02:00 EST).
        let f = freeze("dev: Sun 02:30 - Sun 05:00 America/New_York");
        assert_frozen_exactly(&f, "dev", utc(2026, 3, 8, 7, 0), at(2026, 3, 8, 5, 0, -4));
    }

    #[test]
    fn a_time_shown_twice_is_its_first_showing() {
        // Berlin, 2026-10-25: 02:30 comes first at +02:00 (00:30 UTC), again at +01:00.
        let f = freeze("qa: Sun 02:30 - Sun 04:00 Europe/Berlin");
        assert_frozen_exactly(
            &f,
            "qa",
            at(2026, 10, 25, 2, 30, 2),
            at(2026, 10, 25, 4, 0, 1),
        );
        // A window ending at 02:30 ends at its first showing and stays over for the second.
        let f = freeze("qa: Sun 00:00 - Sun 02:30 Europe/Berlin");
        assert_frozen_exactly(
            &f,
            "qa",
            at(2026, 10, 25, 0, 0, 2),
            at(2026, 10, 25, 2, 30, 2),
        );
        assert_eq!(ends(&f, "qa", at(2026, 10, 25, 2, 15, 1)), None);
        let block = f.blocking("qa", at(2026, 10, 25, 1, 0, 2)).unwrap();
        assert_eq!(block.ends_local, "Sun 2026-10-25 02:30+02:00 Europe/Berlin");
        assert_eq!(block.ends_utc, "2026-10-25 00:30 UTC");
        // New York, 2026-11-01: 01:30 comes first at -04:00.
        let f = freeze("dev: 2026-11-01T01:30 - 2026-11-01T03:00 America/New_York");
        assert_frozen_exactly(
            &f,
            "dev",
            at(2026, 11, 1, 1, 30, -4),
            at(2026, 11, 1, 3, 0, -5),
        );
    }

    #[test]
    fn star_freezes_every_environment_and_a_named_window_only_its_own() {
        let f = freeze("*: Fri 16:00 - Mon 08:00\nqa: Wed 10:00 - Wed 12:00");
        for env in ["dev", "qa", "staging", "anything"] {
            assert_eq!(
                ends(&f, env, utc(2026, 12, 5, 12, 0)),
                Some(utc(2026, 12, 7, 8, 0)),
                "{env}"
            );
        }
        assert_eq!(
            ends(&f, "qa", utc(2026, 12, 9, 11, 0)),
            Some(utc(2026, 12, 9, 12, 0))
        );
        assert_eq!(ends(&f, "dev", utc(2026, 12, 9, 11, 0)), None);
        assert_eq!(ends(&f, "staging", utc(2026, 12, 9, 11, 0)), None);
    }

    #[test]
    fn touching_windows_are_followed_to_the_last_end() {
        let f = freeze(
            "*: Fri 16:00 - Mon 08:00 Europe/Berlin\nqa: Mon 08:00 - Mon 10:00 Europe/Berlin",
        );
        let saturday = utc(2026, 12, 5, 12, 0);
        let qa = f.blocking("qa", saturday).unwrap();
        assert_eq!(qa.window, "*: Fri 16:00 - Mon 08:00 Europe/Berlin");
        assert_eq!(qa.ends_at, at(2026, 12, 7, 10, 0, 1));
        assert_eq!(qa.ends_local, "Mon 2026-12-07 10:00 Europe/Berlin");
        assert_eq!(qa.ends_utc, "2026-12-07 09:00 UTC");
        let dev = f.blocking("dev", saturday).unwrap();
        assert_eq!(dev.ends_at, at(2026, 12, 7, 8, 0, 1));
        assert_eq!(dev.ends_local, "Mon 2026-12-07 08:00 Europe/Berlin");
        assert_eq!(dev.ends_utc, "2026-12-07 07:00 UTC");
    }

    #[test]
    fn overlapping_windows_in_other_zones_and_kinds_are_followed() {
        // Berlin's Monday 08:00 is 07:00 UTC in winter: the UTC window touches it; the dated
        // one overlaps that and takes the freeze into Tuesday.
        let f = freeze(
            "*: Fri 16:00 - Mon 08:00 Europe/Berlin
             staging: Mon 07:00 - Mon 09:00
             staging: 2026-12-07T03:30 - 2026-12-08T00:00 America/New_York",
        );
        let block = f.blocking("staging", utc(2026, 12, 5, 12, 0)).unwrap();
        assert_eq!(block.ends_at, at(2026, 12, 8, 0, 0, -5));
        assert_eq!(block.ends_local, "Tue 2026-12-08 00:00 America/New_York");
        assert_eq!(block.ends_utc, "2026-12-08 05:00 UTC");
        // The one in force is the one that lasts longest now.
        let block = f.blocking("staging", utc(2026, 12, 7, 14, 0)).unwrap();
        assert_eq!(
            block.window,
            "staging: 2026-12-07T03:30 - 2026-12-08T00:00 America/New_York"
        );

        // Windows with a gap between them are not followed.
        let f = freeze("*: 2026-12-23 - 2027-01-04; qa: 2027-01-04T00:01 - 2027-01-10");
        assert_eq!(
            ends(&f, "qa", utc(2026, 12, 24, 0, 0)),
            Some(utc(2027, 1, 4, 0, 0))
        );
        let f = freeze("*: 2026-12-23 - 2027-01-04; qa: 2027-01-02 - 2027-01-10");
        assert_eq!(
            ends(&f, "qa", utc(2026, 12, 24, 0, 0)),
            Some(utc(2027, 1, 10, 0, 0))
        );
        assert_eq!(
            ends(&f, "dev", utc(2026, 12, 24, 0, 0)),
            Some(utc(2027, 1, 4, 0, 0))
        );
    }

    #[test]
    fn weekly_windows_that_cover_the_whole_week_never_end() {
        let f = freeze("*: Mon 00:00 - Thu 00:00; qa: Thu 00:00 - Mon 00:00");
        let block = f.blocking("qa", utc(2026, 12, 9, 12, 0)).unwrap();
        assert_eq!(block.ends_at, NEVER);
        assert_eq!(block.ends_local, "never");
        assert_eq!(
            ends(&f, "dev", utc(2026, 12, 9, 12, 0)),
            Some(utc(2026, 12, 10, 0, 0))
        );
        // A long dated freeze is not mistaken for one without an end.
        let f = freeze("qa: 2026-01-01 - 2029-01-01");
        assert_eq!(
            ends(&f, "qa", utc(2026, 6, 1, 0, 0)),
            Some(utc(2029, 1, 1, 0, 0))
        );
    }

    #[test]
    fn seconds_are_shown_only_when_there_are_some() {
        let f = freeze("qa: 2026-12-23 - 2026-12-23T18:00:30 Europe/Berlin");
        let block = f.blocking("qa", utc(2026, 12, 23, 12, 0)).unwrap();
        assert_eq!(block.ends_at, at(2026, 12, 23, 18, 0, 1) + 30);
        assert_eq!(block.ends_local, "Wed 2026-12-23 18:00:30 Europe/Berlin");
        assert_eq!(block.ends_utc, "2026-12-23 17:00:30 UTC");
    }

    #[test]
    fn instants_outside_the_calendar_are_not_frozen() {
        let f = freeze("*: Fri 16:00 - Mon 08:00");
        assert_eq!(f.blocking("qa", i64::MIN), None);
        assert_eq!(f.blocking("qa", i64::MAX), None);
    }
}
