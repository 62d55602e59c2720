//! systemd OnCalendar expressions with the semantics of the `oncalendar` 1.1 library that
//! healthchecks.io uses: `[weekdays] [date] [time] [zone]`, one expression per line.
//!
//! Iteration runs on the wall clock of the expression's zone: a time in a skipped hour is
//! skipped, a time in a repeated hour fires once (its first occurrence), and the search stops
//! at the year 2200 as systemd's does.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use chrono_tz::Tz;

use super::wall::{from_utc, is_imaginary, to_utc};
use super::{
    ScheduleError, ascii_digits, days_in_month, python_split, python_strip, step_budget_exhausted,
};

/// systemd stops generating times at this year.
const MAX_YEAR: i32 = 2200;
const MIN_YEAR: i32 = 1970;
const DAY_NAMES: [&str; 7] = [
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
const SPECIALS: [(&str, &str); 9] = [
    ("minutely", "*-*-* *:*:00"),
    ("hourly", "*-*-* *:00:00"),
    ("daily", "*-*-* 00:00:00"),
    ("monthly", "*-*-01 00:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("yearly", "*-01-01 00:00:00"),
    ("annually", "*-01-01 00:00:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semiannually", "*-01,07-01 00:00:00"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Dow,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Field {
    fn error(self) -> ScheduleError {
        ScheduleError::Syntax(match self {
            Field::Dow => "Bad day-of-week",
            Field::Year => "Bad year",
            Field::Month => "Bad month",
            Field::Day => "Bad day-of-month",
            Field::Hour => "Bad hour",
            Field::Minute => "Bad minute",
            Field::Second => "Bad second",
        })
    }

    /// Inclusive bounds of the field's values.
    fn bounds(self) -> (i64, i64) {
        match self {
            Field::Dow => (0, 6),
            Field::Year => (i64::from(MIN_YEAR), i64::from(MAX_YEAR) - 1),
            Field::Month => (1, 12),
            Field::Day => (1, 31),
            Field::Hour => (0, 23),
            Field::Minute | Field::Second => (0, 59),
        }
    }

    fn digits(self, s: &str) -> Result<i64, ScheduleError> {
        let v = ascii_digits(s).ok_or(self.error())?;
        Ok(i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// One value: a weekday name (Monday is 0), a year (two digits mean 2000–2069 or
    /// 1970–1999), or a number within the field's bounds.
    fn value(self, s: &str) -> Result<i64, ScheduleError> {
        if self == Field::Dow {
            let upper = s.to_uppercase();
            return DAY_NAMES
                .iter()
                .position(|name| *name == upper || name[..3] == upper)
                .map(|i| i64::try_from(i).unwrap_or(0))
                .ok_or(self.error());
        }
        let mut v = self.digits(s)?;
        if self == Field::Year && v < 70 {
            v += 2000;
        }
        if self == Field::Year && v < 100 {
            v += 1900;
        }
        let (lo, hi) = self.bounds();
        if !(lo..=hi).contains(&v) {
            return Err(self.error());
        }
        Ok(v)
    }

    /// Parses a component: `*`, values, `a..b`, `a/step`, `a..b/step`, lists of these, and
    /// `~` (days counted from the end of the month) in the day field.
    fn parse(self, s: &str, reverse: bool) -> Result<BTreeSet<i64>, ScheduleError> {
        if self == Field::Day
            && let Some(rest) = s.strip_prefix('~')
        {
            return self.parse(rest, true);
        }
        let (lo, hi) = self.bounds();
        if self != Field::Dow && s == "*" {
            return Ok((lo..=hi).collect());
        }
        // systemd allows `*` only on its own.
        if s.contains('*') {
            return Err(self.error());
        }
        if self == Field::Dow {
            if let Some(rest) = s.strip_suffix(',') {
                return self.parse(rest, false);
            }
            if s.contains('-') {
                return self.parse(&s.replace('-', ".."), false);
            }
        }
        if s.contains(',') {
            let mut result = BTreeSet::new();
            for term in s.split(',') {
                result.extend(self.parse(term, reverse)?);
            }
            return Ok(result);
        }
        if self != Field::Dow
            && let Some((term, step)) = s.split_once('/')
        {
            let step = usize::try_from(self.digits(step)?).unwrap_or(usize::MAX);
            if step == 0 {
                return Err(self.error());
            }
            let items = self.parse(term, reverse)?;
            if let [start] = items.iter().copied().collect::<Vec<_>>()[..] {
                let end = if reverse { 0 } else { hi };
                return Ok((start..=end).step_by(step).collect());
            }
            return Ok(items.into_iter().step_by(step).collect());
        }
        if let Some((start, end)) = s.split_once("..") {
            let (start, end) = (self.value(start)?, self.value(end)?);
            if end < start {
                return Err(self.error());
            }
            return Ok(if reverse {
                (-end..=-start).collect()
            } else {
                (start..=end).collect()
            });
        }
        let v = self.value(s)?;
        if reverse {
            // `<month>~<day>` counts at most 28 days back.
            if v > 28 {
                return Err(self.error());
            }
            return Ok(BTreeSet::from([-v]));
        }
        Ok(BTreeSet::from([v]))
    }
}

fn mask(values: &BTreeSet<i64>, offset: i64) -> u64 {
    values
        .iter()
        .filter_map(|v| u32::try_from(v - offset).ok())
        .filter(|bit| *bit < 64)
        .fold(0, |acc, bit| acc | (1 << bit))
}

/// One line of an OnCalendar schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Calendar {
    /// Monday is bit 0.
    weekdays: u64,
    /// Bit `year - 1970`, in four words.
    years: [u64; 4],
    months: u64,
    days: u64,
    /// Bit k: the k-th day counted back from the end of the month (`~k`).
    days_from_end: u64,
    hours: u64,
    minutes: u64,
    seconds: u64,
    /// The zone named at the end of the line, if any.
    tz: Option<Tz>,
}

impl Calendar {
    fn parse(line: &str) -> Result<Self, ScheduleError> {
        let line = python_strip(line);
        let mut tz = None;
        let mut expr = line;
        if line.contains(' ') {
            let parts = python_split(line);
            if let Some(last) = parts.last()
                && let Some(zone) = parse_zone(last)
            {
                tz = Some(zone);
                expr = python_strip(&line[..line.len() - last.len()]);
            }
        }
        Calendar::parse_without_zone(expr).map(|c| Calendar { tz, ..c })
    }

    fn parse_without_zone(expr: &str) -> Result<Self, ScheduleError> {
        let lower = expr.to_lowercase();
        let expr = SPECIALS
            .iter()
            .find(|(name, _)| *name == lower)
            .map_or(expr, |(_, expansion)| expansion);
        let replaced = expr.replace('~', "-~");
        let mut parts = python_split(&replaced);
        if parts.is_empty() {
            return Err(ScheduleError::Syntax("Wrong number of fields"));
        }

        let mut time = (
            BTreeSet::from([0]),
            BTreeSet::from([0]),
            BTreeSet::from([0]),
        );
        if parts.last().is_some_and(|p| p.contains(':')) {
            let text = parts.pop().unwrap_or_default();
            let pieces: Vec<&str> = text.split(':').collect();
            let (h, m, s) = match pieces[..] {
                [h, m] => (h, m, "0"),
                [h, m, s] => (h, m, s),
                _ => return Err(ScheduleError::Syntax("Bad time")),
            };
            time = (
                Field::Hour.parse(h, false)?,
                Field::Minute.parse(m, false)?,
                Field::Second.parse(s, false)?,
            );
        }

        let full = |field: Field| {
            let (lo, hi) = field.bounds();
            (lo..=hi).collect::<BTreeSet<i64>>()
        };
        let mut date = (full(Field::Year), full(Field::Month), full(Field::Day));
        let looks_like_date =
            |p: &str| p.contains('-') && p.starts_with(|c: char| c.is_ascii_digit() || c == '*');
        if parts.last().is_some_and(|p| looks_like_date(p)) {
            let text = parts.pop().unwrap_or_default();
            let pieces: Vec<&str> = text.split('-').collect();
            let (y, m, d) = match pieces[..] {
                [m, d] => ("*", m, d),
                [y, m, d] => (y, m, d),
                _ => return Err(ScheduleError::Syntax("Bad date")),
            };
            date = (
                Field::Year.parse(y, false)?,
                Field::Month.parse(m, false)?,
                Field::Day.parse(d, false)?,
            );
        }

        let weekdays = if parts.is_empty() {
            full(Field::Dow)
        } else {
            Field::Dow.parse(parts.remove(0), false)?
        };
        if !parts.is_empty() {
            return Err(ScheduleError::Syntax("Wrong number of fields"));
        }

        let (years, months, days) = date;
        let mut year_bits = [0u64; 4];
        for year in &years {
            let bit = usize::try_from(year - i64::from(MIN_YEAR)).unwrap_or(usize::MAX);
            if let Some(word) = year_bits.get_mut(bit / 64) {
                *word |= 1 << (bit % 64);
            }
        }
        let days_from_end = days
            .iter()
            .filter(|d| **d < 0)
            .fold(0u64, |acc, d| acc | (1 << (-d)));
        let (hours, minutes, seconds) = time;
        Ok(Calendar {
            weekdays: mask(&weekdays, 0),
            years: year_bits,
            months: mask(&months, 0),
            days: mask(&days, 0),
            days_from_end,
            hours: mask(&hours, 0),
            minutes: mask(&minutes, 0),
            seconds: mask(&seconds, 0),
            tz: None,
        })
    }

    fn has_year(&self, year: i32) -> bool {
        let Ok(bit) = usize::try_from(year - MIN_YEAR) else {
            return false;
        };
        self.years
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    fn match_day(&self, d: NaiveDate) -> bool {
        let weekday = d.weekday().num_days_from_monday();
        if self.weekdays & (1 << weekday) == 0 {
            return false;
        }
        let day = d.day();
        self.days & (1 << day) != 0
            || self.days_from_end & (1 << (days_in_month(d.year(), d.month()) + 1 - day)) != 0
    }
}

/// A zone named inside an expression, as Python's `ZoneInfo` would accept it.
fn parse_zone(name: &str) -> Option<Tz> {
    if name.starts_with(|c: char| c.is_ascii_digit() || c == '*') {
        return None;
    }
    name.parse().ok()
}

/// A parsed OnCalendar schedule: one or more expressions, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCalendar {
    lines: Vec<Calendar>,
}

impl OnCalendar {
    /// Parses the schedule; the error message is the `oncalendar` library's.
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let lines = python_strip(expr)
            .split('\n')
            .map(Calendar::parse)
            .collect::<Result<_, _>>()?;
        Ok(OnCalendar { lines })
    }

    /// Whether a wall-clock time matches any line (lines naming a zone are not told apart).
    #[cfg(test)]
    pub(crate) fn matches(&self, t: NaiveDateTime) -> bool {
        self.lines.iter().any(|c| {
            c.has_year(t.year())
                && c.months & (1 << t.month()) != 0
                && c.match_day(t.date())
                && c.hours & (1 << t.hour()) != 0
                && c.minutes & (1 << t.minute()) != 0
                && c.seconds & (1 << t.second()) != 0
        })
    }

    /// Fire times strictly after `start` (a UTC instant), with `tz` for lines naming no zone.
    pub fn iter_after(&self, start: NaiveDateTime, tz: Tz) -> OnCalendarIter<'_> {
        let start = start.with_nanosecond(0).unwrap_or(start);
        let local = from_utc(tz, start).map(|w| w.naive);
        let lines = self
            .lines
            .iter()
            .filter_map(|calendar| {
                let zone = calendar.tz.unwrap_or(tz);
                let cursor = LineCursor {
                    calendar,
                    tz: zone,
                    dt: from_utc(zone, start)?.naive,
                };
                Some((cursor, local?, start))
            })
            .collect();
        OnCalendarIter {
            lines,
            tz,
            current: local,
        }
    }
}

/// Iterates a schedule's lines together. Like the reference, it orders the lines' next times
/// by their wall-clock time in the schedule's zone.
#[derive(Debug)]
pub struct OnCalendarIter<'a> {
    /// Each line's cursor, its last time as local wall clock, and as UTC.
    lines: Vec<(LineCursor<'a>, NaiveDateTime, NaiveDateTime)>,
    tz: Tz,
    current: Option<NaiveDateTime>,
}

impl Iterator for OnCalendarIter<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let current = self.current?;
        let tz = self.tz;
        self.lines.retain_mut(|(cursor, local, utc)| {
            if *local > current {
                return true;
            }
            match cursor
                .next()
                .and_then(|t| Some((from_utc(tz, t)?.naive, t)))
            {
                Some((next_local, next_utc)) => {
                    (*local, *utc) = (next_local, next_utc);
                    true
                }
                None => false,
            }
        });
        // The first line with the earliest wall-clock time wins.
        let (_, local, utc) = self
            .lines
            .iter()
            .reduce(|best, line| if line.1 < best.1 { line } else { best })?;
        self.current = Some(*local);
        Some(*utc)
    }
}

/// Searches one line's next time on the wall clock of its zone.
#[derive(Debug)]
struct LineCursor<'a> {
    calendar: &'a Calendar,
    tz: Tz,
    dt: NaiveDateTime,
}

impl LineCursor<'_> {
    fn set_date(&mut self, date: NaiveDate) {
        self.dt = date.and_time(NaiveTime::MIN);
    }

    fn add(&mut self, seconds: i64) -> Option<()> {
        self.dt = self.dt.checked_add_signed(Duration::seconds(seconds))?;
        Some(())
    }

    fn advance_year(&mut self) -> Option<()> {
        if self.calendar.has_year(self.dt.year()) {
            return Some(());
        }
        let mut needle = self.dt.date();
        while !self.calendar.has_year(needle.year()) && needle.year() < MAX_YEAR {
            needle = NaiveDate::from_ymd_opt(needle.year() + 1, 1, 1)?;
        }
        self.set_date(needle);
        Some(())
    }

    fn advance_month(&mut self) -> Option<bool> {
        let months = self.calendar.months;
        if months & (1 << self.dt.month()) != 0 {
            return Some(false);
        }
        let mut needle = self.dt.date();
        while months & (1 << needle.month()) == 0 {
            needle = needle
                .with_day(1)?
                .checked_add_signed(Duration::days(32))?
                .with_day(1)?;
        }
        self.set_date(needle);
        Some(true)
    }

    fn advance_day(&mut self) -> Option<bool> {
        let mut needle = self.dt.date();
        if self.calendar.match_day(needle) {
            return Some(false);
        }
        while !self.calendar.match_day(needle) {
            needle = needle.succ_opt()?;
            if needle.day() == 1 {
                break; // re-check the year and month
            }
        }
        self.set_date(needle);
        Some(true)
    }

    fn advance_hour(&mut self) -> Option<bool> {
        let hours = self.calendar.hours;
        if hours & (1 << self.dt.hour()) != 0 {
            return Some(false);
        }
        self.dt = self.dt.with_minute(0)?.with_second(0)?;
        while hours & (1 << self.dt.hour()) == 0 {
            self.add(3600)?;
            if self.dt.hour() == 0 {
                break;
            }
        }
        Some(true)
    }

    fn advance_minute(&mut self) -> Option<bool> {
        let minutes = self.calendar.minutes;
        if minutes & (1 << self.dt.minute()) != 0 {
            return Some(false);
        }
        self.dt = self.dt.with_second(0)?;
        while minutes & (1 << self.dt.minute()) == 0 {
            self.add(60)?;
            if self.dt.minute() == 0 {
                break;
            }
        }
        Some(true)
    }

    fn advance_second(&mut self) -> Option<bool> {
        let seconds = self.calendar.seconds;
        if seconds & (1 << self.dt.second()) != 0 {
            return Some(false);
        }
        if seconds.count_ones() == 1 {
            let target = seconds.trailing_zeros();
            self.add(i64::from((target + 60 - self.dt.second()) % 60))?;
        }
        while seconds & (1 << self.dt.second()) == 0 {
            self.add(1)?;
            if self.dt.second() == 0 {
                break;
            }
        }
        Some(true)
    }
}

impl Iterator for LineCursor<'_> {
    type Item = NaiveDateTime;

    /// The next matching wall-clock time, as a UTC instant.
    fn next(&mut self) -> Option<NaiveDateTime> {
        self.add(1)?;
        let mut steps = 0u64;
        loop {
            steps += 1;
            if step_budget_exhausted(steps) {
                return None;
            }
            self.advance_year()?;
            if self.dt.year() >= MAX_YEAR {
                return None;
            }
            if self.advance_month()?
                || self.advance_day()?
                || self.advance_hour()?
                || self.advance_minute()?
                || self.advance_second()?
            {
                continue;
            }
            if is_imaginary(self.tz, self.dt) {
                // Skipped by a DST change: look for the next match.
                self.add(1)?;
                continue;
            }
            return to_utc(self.tz, self.dt, false);
        }
    }
}
