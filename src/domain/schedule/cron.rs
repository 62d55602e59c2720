//! Five-field cron expressions with the semantics of cronsim 2.7, the library healthchecks.io
//! uses: Debian/Vixie day matching, `L`, `LW`, `nL`, `d#n`, and Debian cron's DST behaviour.
//!
//! The parser and the iterator follow cronsim step by step, because its quirks are the
//! specification: `1-1/5` means `1/5`, a step over a set takes every n-th element of the sorted
//! set, and a search gives up after 50 years without a match.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use chrono_tz::Tz;

use super::wall::{from_utc, is_imaginary, to_utc};
use super::{ScheduleError, ascii_digits, days_in_month, python_split, step_budget_exhausted};

const SYMBOLIC_DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const SYMBOLIC_MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
/// Longest length of each month (February counts 29), indexed by month number.
const DAYS_IN_MONTH: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/// cronsim stops looking after this many years without a match.
const GIVE_UP_YEARS: i32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    Day,
    Month,
    Dow,
}

impl Field {
    fn error(self) -> ScheduleError {
        ScheduleError::Syntax(match self {
            Field::Minute => "Bad minute",
            Field::Hour => "Bad hour",
            Field::Day => "Bad day-of-month",
            Field::Month => "Bad month",
            Field::Dow => "Bad day-of-week",
        })
    }

    /// Inclusive bounds; day-of-week allows both 0 and 7 for Sunday.
    fn bounds(self) -> (u64, u64) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::Day => (1, 31),
            Field::Month => (1, 12),
            Field::Dow => (0, 7),
        }
    }
}

/// One element of a parsed field (cronsim keeps these in a Python set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Value(u32),
    /// Day-of-month `L`.
    Last,
    /// Day-of-month `LW`.
    LastWeekday,
    /// Day-of-week `nL`: the last such weekday of the month.
    DowLast(u32),
    /// Day-of-week `d#n`: the n-th such weekday of the month.
    DowNth(u32, u32),
}

fn digits(field: Field, s: &str) -> Result<u64, ScheduleError> {
    ascii_digits(s).ok_or(field.error())
}

/// A single value: a month or weekday name, or a number within the field's bounds.
fn value(field: Field, s: &str) -> Result<u32, ScheduleError> {
    let named = match field {
        Field::Month => SYMBOLIC_MONTHS
            .iter()
            .position(|name| *name == s)
            .map(|i| i + 1),
        Field::Dow => SYMBOLIC_DAYS.iter().position(|name| *name == s),
        _ => None,
    };
    if let Some(index) = named {
        return Ok(u32::try_from(index).unwrap_or(u32::MAX));
    }
    let v = digits(field, s)?;
    let (lo, hi) = field.bounds();
    if !(lo..=hi).contains(&v) {
        return Err(field.error());
    }
    u32::try_from(v).map_err(|_| field.error())
}

fn values(range: impl Iterator<Item = u64>) -> BTreeSet<Item> {
    range
        .filter_map(|v| u32::try_from(v).ok())
        .map(Item::Value)
        .collect()
}

/// Parses one term of a field, in cronsim's order of checks.
fn parse_field(field: Field, s: &str) -> Result<BTreeSet<Item>, ScheduleError> {
    let (lo, hi) = field.bounds();
    if s == "*" {
        return Ok(values(lo..=hi));
    }
    if s.contains(',') {
        let mut result = BTreeSet::new();
        for term in s.split(',') {
            result.extend(parse_field(field, term)?);
        }
        return Ok(result);
    }
    if field == Field::Dow && s.contains('L') {
        let mut chars = s.chars();
        chars.next_back();
        let head = chars.as_str();
        if head.is_empty() || !head.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field.error());
        }
        return Ok(BTreeSet::from([Item::DowLast(value(field, head)?)]));
    }
    if field == Field::Dow && s.contains('#') {
        let (term, nth) = s.split_once('#').unwrap_or((s, ""));
        let nth = digits(field, nth)?;
        if !(1..=5).contains(&nth) {
            return Err(field.error());
        }
        let nth = u32::try_from(nth).map_err(|_| field.error())?;
        return Ok(BTreeSet::from([Item::DowNth(value(field, term)?, nth)]));
    }
    if let Some((term, step)) = s.split_once('/') {
        let step = usize::try_from(digits(field, step)?).unwrap_or(usize::MAX);
        if step == 0 {
            return Err(field.error());
        }
        let items = parse_field(field, term)?;
        let mut sole = items.iter().copied();
        return Ok(match (sole.next(), sole.next()) {
            (Some(Item::Last | Item::LastWeekday), None) => items,
            // A single start value runs to the end of the field's range.
            (Some(Item::Value(start)), None) => values((u64::from(start)..=hi).step_by(step)),
            _ => items.into_iter().step_by(step).collect(),
        });
    }
    if let Some((start, end)) = s.split_once('-') {
        let start = value(field, start)?;
        let end = value(field, end)?;
        if end < start {
            return Err(field.error());
        }
        return Ok(values(u64::from(start)..=u64::from(end)));
    }
    if field == Field::Day && s == "LW" {
        return Ok(BTreeSet::from([Item::LastWeekday]));
    }
    if field == Field::Day && s == "L" {
        return Ok(BTreeSet::from([Item::Last]));
    }
    Ok(BTreeSet::from([Item::Value(value(field, s)?)]))
}

fn mask(items: &BTreeSet<Item>) -> u64 {
    items.iter().fold(0, |acc, item| match item {
        Item::Value(v) => acc | (1 << v),
        _ => acc,
    })
}

/// The date of the last Monday-to-Friday day of a month.
fn last_weekday(year: i32, month: u32) -> u32 {
    let last = days_in_month(year, month);
    let dow = NaiveDate::from_ymd_opt(year, month, last)
        .map_or(0, |d| d.weekday().num_days_from_monday());
    match dow {
        6 => last - 2,
        5 => last - 1,
        _ => last,
    }
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    day_last: bool,
    day_last_weekday: bool,
    months: u64,
    weekdays: u64,
    weekdays_last: u64,
    weekdays_nth: [u8; 8],
    /// Debian cron: day-of-month AND day-of-week when either field starts with `*`.
    day_and: bool,
    /// Both minute and hour are fixed: such jobs follow the wall clock across DST changes.
    fixed_time: bool,
}

impl Cron {
    /// Parses a 5-field expression; the error message is cronsim's.
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let upper = expr.to_uppercase();
        let parts = python_split(&upper);
        let [minute, hour, day, month, dow] = parts[..] else {
            return Err(ScheduleError::Syntax("Wrong number of fields"));
        };
        let minutes = parse_field(Field::Minute, minute)?;
        let hours = parse_field(Field::Hour, hour)?;
        let days = parse_field(Field::Day, day)?;
        let months = parse_field(Field::Month, month)?;
        let weekdays = parse_field(Field::Dow, dow)?;

        // Reject a day-of-month that no selected month has (`* * 30 2 *`).
        let min_day = days.iter().find_map(|item| match item {
            Item::Value(v) => Some(*v),
            _ => None,
        });
        let only_values = days.iter().all(|item| matches!(item, Item::Value(_)));
        if let (true, Some(min_day)) = (only_values, min_day) {
            let longest = months
                .iter()
                .filter_map(|item| match item {
                    Item::Value(m) => DAYS_IN_MONTH.get(*m as usize).copied(),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            if min_day > 29 && min_day > longest {
                return Err(Field::Day.error());
            }
        }

        let mut weekdays_last = 0;
        let mut weekdays_nth = [0u8; 8];
        for item in &weekdays {
            match *item {
                Item::DowLast(d) => weekdays_last |= 1 << d,
                Item::DowNth(d, n) => weekdays_nth[d as usize] |= 1 << n,
                _ => {}
            }
        }
        Ok(Cron {
            minutes: mask(&minutes),
            hours: mask(&hours),
            days: mask(&days),
            day_last: days.contains(&Item::Last),
            day_last_weekday: days.contains(&Item::LastWeekday),
            months: mask(&months),
            weekdays: mask(&weekdays),
            weekdays_last,
            weekdays_nth,
            day_and: day.starts_with('*') || dow.starts_with('*'),
            fixed_time: !minute.starts_with('*') && !hour.starts_with('*'),
        })
    }

    fn match_dom(&self, d: NaiveDate) -> bool {
        let day = d.day();
        self.days & (1 << day) != 0
            || (self.day_last_weekday && day >= 26 && day == last_weekday(d.year(), d.month()))
            || (self.day_last && day >= 28 && day == days_in_month(d.year(), d.month()))
    }

    fn match_dow(&self, d: NaiveDate) -> bool {
        let dow = d.weekday().number_from_monday(); // 1..=7, Sunday is 7
        let either = |bits: u64| bits & (1 << dow) != 0 || bits & (1 << (dow % 7)) != 0;
        if either(self.weekdays) {
            return true;
        }
        if either(self.weekdays_last) && d.day() + 7 > days_in_month(d.year(), d.month()) {
            return true;
        }
        let nth = d.day().div_ceil(7);
        let nth_bits = u64::from(self.weekdays_nth[dow as usize])
            | u64::from(self.weekdays_nth[(dow % 7) as usize]);
        nth_bits & (1 << nth) != 0
    }

    fn match_day(&self, d: NaiveDate) -> bool {
        if self.day_and {
            self.match_dom(d) && self.match_dow(d)
        } else {
            self.match_dom(d) || self.match_dow(d)
        }
    }

    /// Whether a wall-clock time matches every field.
    #[cfg(test)]
    pub(crate) fn matches(&self, t: NaiveDateTime) -> bool {
        t.second() == 0
            && self.minutes & (1 << t.minute()) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.months & (1 << t.month()) != 0
            && self.match_day(t.date())
    }

    /// Fire times strictly after `start` (a UTC instant), evaluated in `tz`.
    pub fn iter_after(&self, start: NaiveDateTime, tz: Tz) -> CronIter<'_> {
        let wall = from_utc(tz, start.with_nanosecond(0).unwrap_or(start));
        CronIter {
            cron: self,
            tz,
            dt: wall.map(|w| w.naive),
            fold: wall.is_some_and(|w| w.fold),
        }
    }
}

/// cronsim's iterator. Fixed-time jobs step the naive wall clock (moving a match in a skipped
/// hour forward and firing a repeated time once); other jobs step real time in the zone.
#[derive(Debug)]
pub struct CronIter<'a> {
    cron: &'a Cron,
    tz: Tz,
    /// Current wall-clock position; `None` once the search has ended.
    dt: Option<NaiveDateTime>,
    fold: bool,
}

/// The search position during one `next()` call.
struct Cursor<'a> {
    cron: &'a Cron,
    tz: Tz,
    dt: NaiveDateTime,
    fold: bool,
    steps: u64,
}

impl Cursor<'_> {
    fn set_date(&mut self, date: NaiveDate) {
        self.dt = date.and_time(chrono::NaiveTime::MIN);
        self.fold = false;
    }

    /// Moves forward by `seconds` of real time (wall time for fixed-time jobs).
    fn tick(&mut self, seconds: i64) -> Option<()> {
        self.steps += 1;
        if step_budget_exhausted(self.steps) {
            return None;
        }
        if self.cron.fixed_time {
            self.dt = self.dt.checked_add_signed(Duration::seconds(seconds))?;
            self.fold = false;
        } else {
            let utc = to_utc(self.tz, self.dt, self.fold)?;
            let wall = from_utc(self.tz, utc.checked_add_signed(Duration::seconds(seconds))?)?;
            self.dt = wall.naive;
            self.fold = wall.fold;
        }
        Some(())
    }

    fn advance_second(&mut self) -> Option<bool> {
        // Five-field expressions always fire at second 0.
        if self.dt.second() == 0 {
            return Some(false);
        }
        self.tick(i64::from(60 - self.dt.second()))?;
        while self.dt.second() != 0 {
            self.tick(1)?;
        }
        Some(true)
    }

    fn advance_minute(&mut self) -> Option<bool> {
        let minutes = self.cron.minutes;
        if minutes & (1 << self.dt.minute()) != 0 {
            return Some(false);
        }
        self.dt = self.dt.with_second(0)?;
        if minutes.count_ones() == 1 {
            let target = minutes.trailing_zeros();
            let delta = (target + 60 - self.dt.minute()) % 60;
            self.tick(i64::from(delta) * 60)?;
        }
        while minutes & (1 << self.dt.minute()) == 0 {
            self.tick(60)?;
            if self.dt.minute() == 0 {
                break;
            }
        }
        Some(true)
    }

    fn advance_hour(&mut self) -> Option<bool> {
        let hours = self.cron.hours;
        if hours & (1 << self.dt.hour()) != 0 {
            return Some(false);
        }
        self.dt = self.dt.with_minute(0)?.with_second(0)?;
        while hours & (1 << self.dt.hour()) == 0 {
            self.tick(3600)?;
            if self.dt.hour() == 0 {
                break;
            }
        }
        Some(true)
    }

    fn advance_day(&mut self) -> Option<bool> {
        let mut needle = self.dt.date();
        if self.cron.match_day(needle) {
            return Some(false);
        }
        while !self.cron.match_day(needle) {
            needle = needle.succ_opt()?;
            if needle.day() == 1 {
                break; // re-check the month
            }
        }
        self.set_date(needle);
        Some(true)
    }

    fn advance_month(&mut self) -> Option<()> {
        if self.cron.months & (1 << self.dt.month()) != 0 {
            return Some(());
        }
        let mut needle = self.dt.date().with_day(1)?;
        while self.cron.months & (1 << needle.month()) == 0 {
            needle = needle.checked_add_signed(Duration::days(32))?.with_day(1)?;
        }
        self.set_date(needle);
        Some(())
    }

    fn advance(&mut self) -> Option<()> {
        let start_year = self.dt.year();
        loop {
            self.advance_month()?;
            if self.dt.year() > start_year + GIVE_UP_YEARS || self.dt.year() > 9999 {
                return None;
            }
            if self.advance_day()? || self.advance_hour()? || self.advance_minute()? {
                continue;
            }
            if self.advance_second()? {
                continue;
            }
            return Some(());
        }
    }
}

impl Iterator for CronIter<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let mut cursor = Cursor {
            cron: self.cron,
            tz: self.tz,
            dt: self.dt?,
            fold: self.fold,
            steps: 0,
        };
        let found = cursor.tick(1).and_then(|()| cursor.advance());
        if found.is_none() {
            self.dt = None;
            return None;
        }
        let mut fold = cursor.fold;
        if self.cron.fixed_time {
            // Debian cron runs a job whose time was skipped at the first minute that exists.
            while is_imaginary(self.tz, cursor.dt) {
                cursor.dt = cursor.dt.checked_add_signed(Duration::minutes(1))?;
            }
            fold = false;
        }
        self.dt = Some(cursor.dt);
        self.fold = cursor.fold;
        let utc = to_utc(self.tz, cursor.dt, fold);
        if utc.is_none() {
            self.dt = None;
        }
        utc
    }
}
