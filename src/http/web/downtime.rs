//! A check's downtime per calendar month (UTC), summed from its flips as healthchecks.io's
//! details page sums it (`Check.downtimes`): the time between a flip to down and the next flip,
//! split at month boundaries, with a down period still going counted up to now.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};

use crate::domain::check::Status;
use crate::store::FlipRecord;

/// One month's downtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthDowntime {
    /// The month's first instant (UTC).
    pub start: DateTime<Utc>,
    /// Down periods within the month; one that spans a month boundary counts in each month.
    pub count: u32,
    /// Time spent down within the month.
    pub total: Duration,
    /// The check did not exist yet in this month.
    pub no_data: bool,
}

/// The downtime of the last `months` calendar months, this one included, newest first.
/// `flips` may come in any order; `status` is the check's stored status now.
pub fn monthly(
    flips: &[FlipRecord],
    status: Status,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    months: u32,
) -> Vec<MonthDowntime> {
    let this_month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let Some(this_month) = this_month else {
        return Vec::new();
    };
    let mut records: Vec<MonthDowntime> = (0..months)
        .filter_map(|i| this_month.checked_sub_months(Months::new(i)))
        .map(|start| MonthDowntime {
            start,
            count: 0,
            total: Duration::zero(),
            no_data: start
                .checked_add_months(Months::new(1))
                .is_some_and(|end| end <= created),
        })
        .collect();
    let Some(oldest) = records.last().map(|r| r.start) else {
        return records;
    };
    // Walking back from now, each flip tells the status before it; month starts cut the
    // periods so each month gets its share.
    let mut events: Vec<(DateTime<Utc>, Option<Status>)> = records
        .iter()
        .map(|r| (r.start, None))
        .chain(
            flips
                .iter()
                .filter(|f| f.created > oldest && f.created <= now)
                .map(|f| (f.created, Some(f.old_status))),
        )
        .collect();
    events.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let (mut end, mut current) = (now, status);
    for (at, before) in events {
        if current == Status::Down
            && end > at
            && let Some(month) = records.iter_mut().find(|r| r.start <= at)
        {
            month.count += 1;
            month.total += end - at;
        }
        end = at;
        if let Some(before) = before {
            current = before;
        }
    }
    records
}

/// "3 days 4 h", "1 h 5 min", "45 min", "30 s": a month's total downtime.
pub fn total_text(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_owned(),
        (1, h, _) => format!("1 day {h} h"),
        (days, 0, _) => format!("{days} days"),
        (days, h, _) => format!("{days} days {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn flip(created: &str, old_status: Status, new_status: Status) -> FlipRecord {
        FlipRecord {
            created: at(created),
            old_status,
            new_status,
            reason: String::new(),
        }
    }

    /// `(count, total minutes)` of each month, newest first.
    fn summary(records: &[MonthDowntime]) -> Vec<(u32, i64)> {
        records
            .iter()
            .map(|r| (r.count, r.total.num_minutes()))
            .collect()
    }

    const CREATED: &str = "2023-12-01T00:00:00Z";

    #[test]
    fn totals_read_naturally() {
        assert_eq!(total_text(Duration::seconds(30)), "30 s");
        assert_eq!(total_text(Duration::minutes(45)), "45 min");
        assert_eq!(total_text(Duration::minutes(65)), "1 h 5 min");
        assert_eq!(total_text(Duration::hours(2)), "2 h");
        assert_eq!(total_text(Duration::hours(28)), "1 day 4 h");
        assert_eq!(total_text(Duration::days(31)), "31 days");
    }

    #[test]
    fn the_last_three_months_start_on_their_first_day() {
        let records = monthly(&[], Status::Up, at(CREATED), at("2024-03-15T10:00:00Z"), 3);
        let starts: Vec<DateTime<Utc>> = records.iter().map(|r| r.start).collect();
        assert_eq!(
            starts,
            [
                at("2024-03-01T00:00:00Z"),
                at("2024-02-01T00:00:00Z"),
                at("2024-01-01T00:00:00Z")
            ]
        );
        assert_eq!(summary(&records), [(0, 0), (0, 0), (0, 0)]);
        assert!(records.iter().all(|r| !r.no_data));
    }

    #[test]
    fn down_periods_are_counted_in_their_month() {
        let flips = [
            flip("2024-02-10T10:00:00Z", Status::Up, Status::Down),
            flip("2024-02-10T10:30:00Z", Status::Down, Status::Up),
            flip("2024-03-02T08:00:00Z", Status::Up, Status::Down),
            flip("2024-03-02T09:00:00Z", Status::Down, Status::Up),
            flip("2024-03-05T08:00:00Z", Status::Up, Status::Down),
            flip("2024-03-05T08:05:00Z", Status::Down, Status::Up),
        ];
        let now = at("2024-03-15T10:00:00Z");
        let records = monthly(&flips, Status::Up, at(CREATED), now, 3);
        assert_eq!(summary(&records), [(2, 65), (1, 30), (0, 0)]);
    }

    #[test]
    fn a_down_period_across_a_month_boundary_is_split() {
        let flips = [
            flip("2024-02-29T23:00:00Z", Status::Up, Status::Down),
            flip("2024-03-01T02:00:00Z", Status::Down, Status::Up),
        ];
        let now = at("2024-03-15T10:00:00Z");
        let records = monthly(&flips, Status::Up, at(CREATED), now, 3);
        assert_eq!(summary(&records), [(1, 120), (1, 60), (0, 0)]);
    }

    #[test]
    fn an_ongoing_down_period_counts_up_to_now() {
        let flips = [
            flip("2024-01-01T00:00:00Z", Status::New, Status::Up),
            flip("2024-03-15T09:00:00Z", Status::Up, Status::Down),
        ];
        let now = at("2024-03-15T10:00:00Z");
        let records = monthly(&flips, Status::Down, at(CREATED), now, 3);
        assert_eq!(summary(&records), [(1, 60), (0, 0), (0, 0)]);
    }

    #[test]
    fn down_since_before_the_window_fills_whole_months() {
        // Down since December: January and February are down throughout.
        let flips = [flip("2023-12-20T00:00:00Z", Status::Up, Status::Down)];
        let now = at("2024-03-01T06:00:00Z");
        let records = monthly(&flips, Status::Down, at(CREATED), now, 3);
        assert_eq!(
            summary(&records),
            [(1, 6 * 60), (1, 29 * 24 * 60), (1, 31 * 24 * 60)]
        );
    }

    #[test]
    fn paused_time_is_not_downtime_and_months_before_the_check_have_no_data() {
        let flips = [
            flip("2024-03-02T00:00:00Z", Status::New, Status::Down),
            flip("2024-03-02T01:00:00Z", Status::Down, Status::Paused),
        ];
        let now = at("2024-03-15T10:00:00Z");
        let created = at("2024-02-20T00:00:00Z");
        let records = monthly(&flips, Status::Paused, created, now, 3);
        assert_eq!(summary(&records), [(1, 60), (0, 0), (0, 0)]);
        let no_data: Vec<bool> = records.iter().map(|r| r.no_data).collect();
        assert_eq!(no_data, [false, false, true]);
    }
}
