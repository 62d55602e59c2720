//! Fuzz target for the schedule parsers and iterators.
//!
//! Input layout: `EXPR [0xFF SELECTOR]`.
//! - Everything before the LAST 0xFF byte is the expression (`String::from_utf8_lossy`). 0xFF
//!   never occurs in UTF-8, so plain-text seed files work unchanged: with no 0xFF the whole
//!   input is the expression and the defaults below are used.
//! - Up to 6 bytes after the last 0xFF select the evaluation (missing bytes count as 0):
//!   byte 0: zone = `ZONES[b % 8]`, n = 1 + (b / 8) % 10;
//!   bytes 1..6: little-endian u40, start = 1990-01-01T00:00:00Z + (v % SPAN) seconds, i.e.
//!   any second from 1990 through 2190.
//! - Defaults (no 0xFF): zone UTC, n = 10, start 2025-01-01T00:00:00Z.
//!
//! Checks: no parser, iterator or `parse_timezone` panics; `Schedule::parse` agrees with
//! `guess_kind` and the direct parser of that kind; every directly parsed schedule yields
//! strictly increasing whole-second instants (the FIRST result may precede the start instant,
//! so that is not checked).
#![no_main]

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use overdue::domain::schedule::{
    Cron, Kind, OnCalendar, Schedule, ScheduleError, guess_kind, parse_timezone,
};

const ZONES: [Tz; 8] = [
    Tz::UTC,
    Tz::Europe__Riga,
    Tz::America__New_York,
    Tz::Australia__Lord_Howe,
    Tz::America__Santiago,
    Tz::Pacific__Chatham,
    Tz::America__Havana,
    Tz::Europe__Dublin,
];

fn instant(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid date")
        .and_utc()
}

/// Start instant, zone and result count chosen by the selector bytes.
fn select(selector: Option<&[u8]>) -> (DateTime<Utc>, Tz, usize) {
    let Some(bytes) = selector else {
        return (instant(2025, 1, 1), Tz::UTC, 10);
    };
    let mut sel = [0u8; 6];
    for (dst, src) in sel.iter_mut().zip(bytes) {
        *dst = *src;
    }
    let tz = ZONES[usize::from(sel[0] % 8)];
    let n = 1 + usize::from(sel[0] / 8) % 10;
    let mut raw = [0u8; 8];
    raw[..5].copy_from_slice(&sel[1..6]);
    let v = u64::from_le_bytes(raw);
    let base = instant(1990, 1, 1);
    let span = (instant(2191, 1, 1) - base).num_seconds() as u64;
    let start = base + Duration::seconds((v % span) as i64);
    (start, tz, n)
}

fn check_iter(schedule: &Schedule, start: DateTime<Utc>, tz: Tz, n: usize, expr: &str) {
    let mut prev: Option<DateTime<Utc>> = None;
    for t in schedule.iter_after(start, tz).take(n) {
        assert_eq!(t.nanosecond(), 0, "sub-second result {t} for {expr:?}");
        if let Some(p) = prev {
            assert!(
                t > p,
                "not strictly increasing: {p} then {t} for {expr:?} after {start} in {tz}"
            );
        }
        prev = Some(t);
    }
}

fuzz_target!(|data: &[u8]| {
    let (expr_bytes, selector) = match data.iter().rposition(|&b| b == 0xFF) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let expr = String::from_utf8_lossy(expr_bytes);
    let (start, tz, n) = select(selector);

    let _ = parse_timezone(&expr);

    let cron = Cron::parse(&expr);
    let calendar = OnCalendar::parse(&expr);
    let parsed = Schedule::parse(&expr);

    // Schedule::parse = the direct parser of the guessed kind + an occurrence check.
    let kind = guess_kind(&expr);
    let direct = match kind {
        Kind::Cron => cron.clone().map(Schedule::Cron),
        Kind::OnCalendar => calendar.clone().map(Schedule::OnCalendar),
    };
    match (&parsed, &direct) {
        (Ok(s), Ok(d)) => {
            assert_eq!(s.kind(), kind);
            assert_eq!(s, d);
        }
        (Err(ScheduleError::Syntax(a)), Err(ScheduleError::Syntax(b))) => assert_eq!(a, b),
        (Err(ScheduleError::NoOccurrences), Ok(_)) => {}
        _ => panic!("Schedule::parse {parsed:?} disagrees with direct parse {direct:?} for {expr:?}"),
    }

    // Iterate everything either parser accepted (also schedules rejected for having no
    // occurrences after 2000, since the start instant may be earlier).
    if let Ok(c) = cron {
        check_iter(&Schedule::Cron(c), start, tz, n, &expr);
    }
    if let Ok(c) = calendar {
        check_iter(&Schedule::OnCalendar(c), start, tz, n, &expr);
    }
});
