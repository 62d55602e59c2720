//! Check schedules: cron and OnCalendar expressions evaluated in a time zone, exactly as
//! healthchecks.io evaluates them (cronsim 2.7 and oncalendar 1.1).
//!
//! [`Schedule::parse`] detects the kind and validates like healthchecks.io's API;
//! [`Schedule::iter_after`] yields fire times as UTC instants.

mod cron;
mod oncalendar;
mod wall;

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

pub use cron::Cron;
pub use oncalendar::OnCalendar;

/// Why an expression is not a valid schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression does not parse; the message is the reference library's
    /// (`Bad minute`, `Wrong number of fields`, …).
    #[error("{0}")]
    Syntax(&'static str),
    /// It parses but never fires after 2000-01-01 (healthchecks.io rejects these too).
    #[error("no occurrences")]
    NoOccurrences,
}

/// The two expression kinds of a scheduled check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cron,
    OnCalendar,
}

impl Kind {
    /// The name healthchecks.io stores in `Check.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cron => "cron",
            Kind::OnCalendar => "oncalendar",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated cron or OnCalendar schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron(Cron),
    OnCalendar(OnCalendar),
}

/// healthchecks.io: a single line of exactly five fields is cron, anything else OnCalendar.
pub fn guess_kind(expr: &str) -> Kind {
    if !python_strip(expr).contains('\n') && python_split(expr).len() == 5 {
        Kind::Cron
    } else {
        Kind::OnCalendar
    }
}

impl Schedule {
    /// Parses and validates an expression as healthchecks.io's API does: the expression must
    /// parse and must fire at least once after 2000-01-01 00:00 UTC.
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let schedule = match guess_kind(expr) {
            Kind::Cron => Schedule::Cron(Cron::parse(expr)?),
            Kind::OnCalendar => Schedule::OnCalendar(OnCalendar::parse(expr)?),
        };
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        match epoch.and_then(|t| schedule.next_after(t, Tz::UTC)) {
            Some(_) => Ok(schedule),
            None => Err(ScheduleError::NoOccurrences),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Schedule::Cron(_) => Kind::Cron,
            Schedule::OnCalendar(_) => Kind::OnCalendar,
        }
    }

    /// Fire times strictly after `after` (sub-second precision is dropped first), evaluated on
    /// the wall clock of `tz`. The iterator ends when the reference would stop: after 50 years
    /// without a cron match, or at the year 2200 for OnCalendar.
    ///
    /// Like healthchecks.io, a fixed-time cron job started from the second occurrence of a
    /// repeated hour can yield a time earlier than `after`; callers that need a deadline
    /// after the last ping must skip such results.
    pub fn iter_after(&self, after: DateTime<Utc>, tz: Tz) -> ScheduleIter<'_> {
        let start = after.naive_utc();
        ScheduleIter(match self {
            Schedule::Cron(cron) => Inner::Cron(cron.iter_after(start, tz)),
            Schedule::OnCalendar(calendar) => Inner::OnCalendar(calendar.iter_after(start, tz)),
        })
    }

    /// The first fire time after `after`, if there is one.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.iter_after(after, tz).next()
    }
}

/// Iterator over a schedule's fire times, as UTC instants.
#[derive(Debug)]
pub struct ScheduleIter<'a>(Inner<'a>);

#[derive(Debug)]
enum Inner<'a> {
    Cron(cron::CronIter<'a>),
    OnCalendar(oncalendar::OnCalendarIter<'a>),
}

impl Iterator for ScheduleIter<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let next = match &mut self.0 {
            Inner::Cron(it) => it.next(),
            Inner::OnCalendar(it) => it.next(),
        };
        next.map(|t| t.and_utc())
    }
}

/// Legacy zone names that healthchecks.io maps to their current names.
const LEGACY_ZONES: [(&str, &str); 3] = [
    ("Europe/Kiev", "Europe/Kyiv"),
    ("UCT", "Etc/UTC"),
    ("CET", "Europe/Brussels"),
];

/// An IANA time zone by name (case-sensitive), with healthchecks.io's legacy aliases.
pub fn parse_timezone(name: &str) -> Option<Tz> {
    let name = LEGACY_ZONES
        .iter()
        .find(|(legacy, _)| *legacy == name)
        .map_or(name, |(_, current)| current);
    name.parse().ok()
}

/// Python's `str.isspace()`: Unicode white space plus the ASCII separators U+001C–U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no arguments.
pub(crate) fn python_split(s: &str) -> Vec<&str> {
    s.split(is_python_space).filter(|p| !p.is_empty()).collect()
}

/// Python's `str.strip()` with no arguments.
pub(crate) fn python_strip(s: &str) -> &str {
    s.trim_matches(is_python_space)
}

/// A run of ASCII digits as a number (saturating: such values are out of range for every
/// field, and as a step they select a single element either way); `None` unless the string
/// is non-empty and digits only, as the reference libraries' `_int`.
fn ascii_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        s.bytes()
            .try_fold(0u64, |acc, b| {
                acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            })
            .unwrap_or(u64::MAX),
    )
}

/// Number of days in a month of the proleptic Gregorian calendar.
fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(31, |d| d.day())
}

/// Upper bound on search steps for one fire time. The reference searches are bounded by
/// years, not steps; this makes every search finish even on expressions where they would not.
fn step_budget_exhausted(steps: u64) -> bool {
    steps > 5_000_000
}

#[cfg(test)]
mod tests;
