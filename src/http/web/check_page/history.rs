//! The check page's history: run durations and pings of the last days as charts, and the
//! downtime of the last months.

use chrono::{DateTime, Duration, Utc};

use super::super::charts::{self, Run, Window};
use super::super::downtime::{self, total_text};
use crate::http::api::pings::duration;
use crate::store::{CheckRecord, FlipRecord, PingRecord};

/// How many days the charts show.
const CHART_DAYS: i64 = 7;
/// How many months the downtime summary covers, this one included.
const DOWNTIME_MONTHS: u32 = 3;
/// healthchecks.io does not show runs this long: the start most likely belongs to another run.
const LONGEST_RUN: Duration = Duration::hours(72);

/// One month of the downtime summary.
#[derive(Debug)]
pub(super) struct MonthRow {
    /// "March 2024".
    pub month: String,
    pub count: u32,
    pub total: String,
    /// The check did not exist yet.
    pub no_data: bool,
}

#[derive(Debug)]
pub(super) struct History {
    pub days: i64,
    /// SVG markup, made from numbers and fixed words only; `None` when there is nothing to draw.
    pub durations: Option<String>,
    pub pings: Option<String>,
    pub downtimes: Vec<MonthRow>,
}

/// The history of `check` at `now`; `pings` and `flips` are its own, newest first.
pub(super) fn history(
    check: &CheckRecord,
    pings: &[PingRecord],
    flips: &[FlipRecord],
    now: DateTime<Utc>,
) -> History {
    let window = Window {
        from: now - Duration::days(CHART_DAYS),
        to: now,
    };
    let runs: Vec<Run> = pings
        .iter()
        .enumerate()
        .filter(|(_, p)| p.created >= window.from)
        .filter_map(|(i, p)| {
            let took = duration(p, &pings[i + 1..]).filter(|d| *d < LONGEST_RUN)?;
            Some(Run {
                at: p.created,
                took,
                failed: p.kind.as_deref() == Some("fail"),
            })
        })
        .collect();
    let times: Vec<(DateTime<Utc>, &str)> = pings
        .iter()
        .map(|p| (p.created, p.kind.as_deref().unwrap_or("success")))
        .collect();
    let downtimes = downtime::monthly(
        flips,
        check.state.status,
        check.created,
        now,
        DOWNTIME_MONTHS,
    )
    .into_iter()
    .map(|m| MonthRow {
        month: m.start.format("%B %Y").to_string(),
        count: m.count,
        total: total_text(m.total),
        no_data: m.no_data,
    })
    .collect();
    History {
        days: CHART_DAYS,
        durations: charts::durations(&runs, window),
        pings: charts::pings(&times, window),
        downtimes,
    }
}
