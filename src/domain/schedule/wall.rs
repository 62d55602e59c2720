//! Wall-clock times in a zone with PEP 495 `fold` semantics, as Python's `zoneinfo` has them.
//!
//! healthchecks.io's schedule libraries (cronsim, oncalendar) do their arithmetic on Python
//! `datetime`s, so agreeing with them to the second means reproducing how Python maps a local
//! wall-clock time to an instant:
//! - in a repeated (fall-back) hour, `fold = 0` is the first occurrence and `fold = 1` the second;
//! - in a skipped (spring-forward) hour, `fold = 0` uses the offset from *before* the transition
//!   (so 02:30 in a 02:00→03:00 gap means 03:30 after it) and `fold = 1` the offset after it.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A local wall-clock time plus Python's `fold` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wall {
    pub naive: NaiveDateTime,
    pub fold: bool,
}

/// chrono-tz tabulates transitions up to this year.
const LAST_TABULATED_YEAR: i32 = 2099;

/// UTC offset in seconds in effect at the UTC instant `utc`.
fn offset_at(tz: Tz, utc: NaiveDateTime) -> i64 {
    let utc = if utc.year() > LAST_TABULATED_YEAR {
        same_calendar_tabulated(utc).unwrap_or(utc)
    } else {
        utc
    };
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// Later years follow each zone's current rules, as Python's zoneinfo extrapolates them from
/// the TZif footer. A tabulated year with the same calendar (leap year, weekday of 1 January)
/// has the same transitions on the same dates; any 28 years up to 2099 hold every calendar.
fn same_calendar_tabulated(t: NaiveDateTime) -> Option<NaiveDateTime> {
    let calendar = |year: i32| {
        let leap = NaiveDate::from_ymd_opt(year, 2, 29).is_some();
        (
            leap,
            NaiveDate::from_ymd_opt(year, 1, 1).map(|d| d.weekday()),
        )
    };
    let wanted = calendar(t.year());
    let year = (LAST_TABULATED_YEAR - 27..=LAST_TABULATED_YEAR).find(|y| calendar(*y) == wanted)?;
    t.with_year(year)
}

/// The UTC instant of a wall-clock time, as `datetime.astimezone(timezone.utc)` computes it.
///
/// Offsets a day before and after bracket the wall time; real zones never change offset twice
/// within two days, so at most one transition is involved.
pub(crate) fn to_utc(tz: Tz, naive: NaiveDateTime, fold: bool) -> Option<NaiveDateTime> {
    let day = Duration::days(1);
    let before = offset_at(tz, naive.checked_sub_signed(day)?);
    let after = offset_at(tz, naive.checked_add_signed(day)?);
    let candidate = |offset: i64| -> Option<NaiveDateTime> {
        let utc = naive.checked_sub_signed(Duration::seconds(offset))?;
        (offset_at(tz, utc) == offset).then_some(utc)
    };
    let shift = |offset: i64| naive.checked_sub_signed(Duration::seconds(offset));
    match (candidate(before), candidate(after)) {
        // Repeated hour: fold picks the earlier or the later instant.
        (Some(a), Some(b)) if a != b => Some(if fold { a.max(b) } else { a.min(b) }),
        (Some(a), _) => Some(a),
        (None, Some(b)) => Some(b),
        // Skipped hour: fold 0 keeps the pre-transition offset.
        (None, None) => shift(if fold { after } else { before }),
    }
}

/// The wall-clock time of a UTC instant, with `fold` set on the second occurrence of a
/// repeated time, as `datetime.astimezone(zone)` does.
pub(crate) fn from_utc(tz: Tz, utc: NaiveDateTime) -> Option<Wall> {
    let naive = utc.checked_add_signed(Duration::seconds(offset_at(tz, utc)))?;
    let fold = to_utc(tz, naive, false)? != utc;
    Some(Wall { naive, fold })
}

/// True when the wall-clock time does not exist in the zone (it falls in a skipped hour).
pub(crate) fn is_imaginary(tz: Tz, naive: NaiveDateTime) -> bool {
    to_utc(tz, naive, false)
        .and_then(|utc| from_utc(tz, utc))
        .is_none_or(|wall| wall.naive != naive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_opt(h, mi, 0))
            .expect("valid test date")
    }

    const RIGA: Tz = chrono_tz::Europe::Riga;

    #[test]
    fn repeated_hour_fold_selects_occurrence() {
        // Riga leaves summer time on 2021-10-31 at 04:00 EEST (01:00 UTC).
        let local = at(2021, 10, 31, 3, 30);
        assert_eq!(to_utc(RIGA, local, false), Some(at(2021, 10, 31, 0, 30)));
        assert_eq!(to_utc(RIGA, local, true), Some(at(2021, 10, 31, 1, 30)));
        assert_eq!(
            from_utc(RIGA, at(2021, 10, 31, 1, 30)),
            Some(Wall {
                naive: local,
                fold: true
            })
        );
        assert!(!is_imaginary(RIGA, local));
    }

    #[test]
    fn skipped_hour_fold_zero_uses_offset_before_transition() {
        // Riga enters summer time on 2021-03-28 at 03:00 EET (01:00 UTC).
        let local = at(2021, 3, 28, 3, 30);
        assert_eq!(to_utc(RIGA, local, false), Some(at(2021, 3, 28, 1, 30)));
        assert_eq!(to_utc(RIGA, local, true), Some(at(2021, 3, 28, 0, 30)));
        assert!(is_imaginary(RIGA, local));
    }

    #[test]
    fn years_after_the_table_follow_current_rules() {
        let london = chrono_tz::Europe::London;
        // 2100-08-25 is summer time (BST, +01:00) under the current rules.
        assert_eq!(offset_at(london, at(2100, 8, 25, 12, 0)), 3600);
        assert_eq!(offset_at(london, at(2150, 1, 15, 12, 0)), 0);
        // Sydney leaves summer time in April and starts it again in October.
        let sydney = chrono_tz::Australia::Sydney;
        assert_eq!(offset_at(sydney, at(2123, 6, 1, 0, 0)), 10 * 3600);
        assert_eq!(offset_at(sydney, at(2123, 12, 1, 0, 0)), 11 * 3600);
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // Lord Howe: 02:00 LHST (+10:30) jumps to 02:30 LHDT (+11) on 2021-10-03.
        let tz = chrono_tz::Australia::Lord_Howe;
        assert!(is_imaginary(tz, at(2021, 10, 3, 2, 15)));
        assert!(!is_imaginary(tz, at(2021, 10, 3, 2, 30)));
    }
}
