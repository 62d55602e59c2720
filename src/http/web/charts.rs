//! Small charts drawn on the server as inline SVG: a check's run durations and its pings over
//! the last days. Horizontal positions are percentages, so a chart fills its card at any
//! width while its text keeps the page's size (a scaled `viewBox` would shrink the labels to
//! nothing on a phone). Labels sit just above their grid lines, so no fixed gutter is needed.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::domain::escape_html;

/// The span of time a chart shows.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A finished run: when it ended, how long it took, and whether it failed.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub at: DateTime<Utc>,
    pub took: Duration,
    pub failed: bool,
}

/// The lanes of the pings chart: a ping's kind (`success`, `fail`, …) and its name.
const LANES: [(&str, &str); 5] = [
    ("success", "Success"),
    ("fail", "Failure"),
    ("start", "Start"),
    ("log", "Log"),
    ("ign", "Ignored"),
];

/// Room above the plot for the top label, and below it for the dates.
const TOP: f64 = 18.0;
const BOTTOM: f64 = 26.0;
/// Height of the durations plot area.
const PLOT_HEIGHT: f64 = 120.0;
/// Distance between the pings chart's lanes.
const LANE_HEIGHT: f64 = 26.0;
/// The dots stay this far (percent of the width) from the left and right edges.
const EDGE: f64 = 2.0;
/// Steps of the durations axis: the first that needs at most four gets used.
const STEPS: [i64; 22] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 259_200, 604_800, 2_592_000,
];

/// Where `t` falls in the window, from 0 (its start) to 1 (its end); outside is clamped.
pub fn x_fraction(t: DateTime<Utc>, window: Window) -> f64 {
    let span = (window.to - window.from).num_milliseconds();
    if span <= 0 {
        return 1.0;
    }
    let offset = (t - window.from).num_milliseconds();
    let fraction = offset as f64 / span as f64;
    fraction.clamp(0.0, 1.0)
}

/// The horizontal position of `t`, as an SVG percentage.
fn x_percent(t: DateTime<Utc>, window: Window) -> String {
    format!(
        "{:.2}%",
        EDGE + x_fraction(t, window) * (100.0 - 2.0 * EDGE)
    )
}

/// A tick step and the axis top for durations up to `longest`: at most four steps, each a
/// round number of seconds, minutes, hours or days.
pub fn duration_axis(longest: Duration) -> (i64, i64) {
    let longest = (longest.num_milliseconds() + 999) / 1000;
    let longest = longest.max(1);
    // Both are positive: the quotient rounded up.
    let steps = |step: i64| (longest + step - 1) / step;
    let step = STEPS
        .iter()
        .copied()
        .find(|step| steps(*step) <= 4)
        .unwrap_or_else(|| (longest + 3) / 4);
    (step, step * steps(step))
}

/// The vertical position of `value` on an axis from 0 (bottom) to `top`.
pub fn y_of(value: f64, top: f64) -> f64 {
    let fraction = if top > 0.0 {
        (value / top).clamp(0.0, 1.0)
    } else {
        0.0
    };
    TOP + PLOT_HEIGHT * (1.0 - fraction)
}

/// "90 s", "5 min", "2 h", "1 d": an axis label for a whole number of seconds.
fn short(seconds: i64) -> String {
    match seconds {
        0 => "0".to_owned(),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// "2 min 5 s", "1 h 3 min", "250 ms": a run's duration, to the second above a minute.
pub fn spoken(d: Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 60_000 {
        let seconds = ms as f64 / 1000.0;
        return format!("{seconds:.1} s").replace(".0 s", " s");
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The opening of a chart: its size, role and accessible name.
fn open(svg: &mut String, id: &str, height: f64, label: &str) {
    let label = escape_html(label);
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="100%" height="{height:.0}" role="img" aria-label="{label}" data-chart="{id}"><title>{label}</title>"#
    );
}

/// A vertical line and a date label for each midnight (UTC) inside the window.
fn day_ticks(svg: &mut String, window: Window, bottom: f64) {
    let Some(midnight) = window.from.date_naive().succ_opt() else {
        return;
    };
    let days = (window.to - window.from).num_days() + 1;
    // On long windows every other day is labelled; of those, every other one is `minor`, for
    // the style sheet to hide where the chart is too narrow for all of them (a phone).
    let every = if days > 8 { 2 } else { 1 };
    for (i, day) in midnight
        .iter_days()
        .take_while(|d| {
            d.and_hms_opt(0, 0, 0)
                .is_some_and(|t| t.and_utc() < window.to)
        })
        .enumerate()
    {
        let Some(at) = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()) else {
            continue;
        };
        let x = x_percent(at, window);
        let _ = write!(
            svg,
            r#"<line class="tick" x1="{x}" x2="{x}" y1="{TOP:.0}" y2="{bottom:.1}"/>"#
        );
        if i % every == 0 {
            let fraction = x_fraction(at, window);
            let anchor = if fraction < 0.06 {
                "start"
            } else if fraction > 0.94 {
                "end"
            } else {
                "middle"
            };
            let minor = if (i / every) % 2 == 1 {
                r#" class="minor""#
            } else {
                ""
            };
            let _ = write!(
                svg,
                r#"<text{minor} x="{x}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                bottom + 17.0,
                day.format("%a %-d")
            );
        }
    }
}

/// The run durations chart; `None` when no run ended inside the window.
pub fn durations(runs: &[Run], window: Window) -> Option<String> {
    let runs: Vec<&Run> = runs
        .iter()
        .filter(|r| r.at >= window.from && r.at <= window.to)
        .collect();
    let longest = runs.iter().map(|r| r.took).max()?;
    let (step, top) = duration_axis(longest);
    let failed = runs.iter().filter(|r| r.failed).count();
    let label = format!(
        "Run durations over the last {} days: {} runs ({} failed), the longest {}",
        (window.to - window.from).num_days(),
        runs.len(),
        failed,
        spoken(longest)
    );
    let bottom = TOP + PLOT_HEIGHT;
    let mut svg = String::new();
    open(&mut svg, "durations", bottom + BOTTOM, &label);
    svg.push_str(r#"<g class="grid">"#);
    for tick in (0..=top).step_by(usize::try_from(step).unwrap_or(1)) {
        let y = y_of(tick as f64, top as f64);
        let _ = write!(
            svg,
            r#"<line x1="0" x2="100%" y1="{y:.1}" y2="{y:.1}"/><text x="0" y="{:.1}">{}</text>"#,
            y - 4.0,
            short(tick)
        );
    }
    day_ticks(&mut svg, window, bottom);
    svg.push_str("</g>");
    for run in runs {
        let y = y_of(run.took.num_milliseconds() as f64 / 1000.0, top as f64);
        let (class, what) = if run.failed {
            ("dot-fail", "failed")
        } else {
            ("dot-success", "succeeded")
        };
        let _ = write!(
            svg,
            r#"<circle class="dot {class}" cx="{}" cy="{y:.1}" r="4"><title>{}: {what} after {}</title></circle>"#,
            x_percent(run.at, window),
            run.at.format("%Y-%m-%d %H:%M UTC"),
            spoken(run.took)
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// The pings chart: a dot per ping on a time axis, a lane per kind; `None` when no ping
/// came inside the window. `pings` are times and kinds (`success`, `fail`, …).
pub fn pings(pings: &[(DateTime<Utc>, &str)], window: Window) -> Option<String> {
    let pings: Vec<&(DateTime<Utc>, &str)> = pings
        .iter()
        .filter(|(at, _)| *at >= window.from && *at <= window.to)
        .collect();
    if pings.is_empty() {
        return None;
    }
    let counts: Vec<String> = LANES
        .iter()
        .filter_map(|(kind, name)| {
            let n = pings.iter().filter(|(_, k)| k == kind).count();
            (n > 0).then(|| format!("{n} {}", name.to_lowercase()))
        })
        .collect();
    let label = format!(
        "Pings over the last {} days: {}",
        (window.to - window.from).num_days(),
        counts.join(", ")
    );
    let lane_y = |lane: usize| {
        let lane = lane as f64;
        TOP + LANE_HEIGHT * (lane + 0.5)
    };
    let bottom = TOP + LANE_HEIGHT * LANES.len() as f64;
    let mut svg = String::new();
    open(&mut svg, "pings", bottom + BOTTOM, &label);
    svg.push_str(r#"<g class="grid">"#);
    for (lane, (_, name)) in LANES.iter().enumerate() {
        let y = lane_y(lane);
        let _ = write!(
            svg,
            r#"<line x1="0" x2="100%" y1="{y:.1}" y2="{y:.1}"/><text x="0" y="{:.1}">{name}</text>"#,
            y - 7.0
        );
    }
    day_ticks(&mut svg, window, bottom);
    svg.push_str("</g>");
    for (at, kind) in pings {
        let Some(lane) = LANES.iter().position(|(k, _)| k == kind) else {
            continue;
        };
        let _ = write!(
            svg,
            r#"<circle class="dot dot-{kind}" cx="{}" cy="{:.1}" r="4"><title>{}: {}</title></circle>"#,
            x_percent(*at, window),
            lane_y(lane),
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            LANES[lane].1
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        let to: DateTime<Utc> = "2024-03-08T12:00:00Z".parse().expect("time");
        Window {
            from: to - Duration::days(7),
            to,
        }
    }

    /// The `cx` and `cy` of every dot, in order.
    fn dots(svg: &str) -> Vec<(String, f64)> {
        svg.split("<circle ")
            .skip(1)
            .map(|c| {
                let attr = |name: &str| {
                    let start = c.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
                    c[start..].split('"').next().expect("value").to_owned()
                };
                (attr("cx"), attr("cy").parse().expect("number"))
            })
            .collect()
    }

    #[test]
    fn times_scale_across_the_window_and_clamp_outside_it() {
        let w = window();
        assert!((x_fraction(w.from, w) - 0.0).abs() < 1e-9);
        assert!((x_fraction(w.to, w) - 1.0).abs() < 1e-9);
        assert!((x_fraction(w.from + Duration::hours(84), w) - 0.5).abs() < 1e-9);
        assert!((x_fraction(w.from - Duration::days(1), w)).abs() < 1e-9);
        assert!((x_fraction(w.to + Duration::days(1), w) - 1.0).abs() < 1e-9);
        assert_eq!(x_percent(w.from + Duration::hours(84), w), "50.00%");
        assert_eq!(x_percent(w.from, w), "2.00%");
        assert_eq!(x_percent(w.to, w), "98.00%");
    }

    #[test]
    fn the_duration_axis_is_round_and_holds_the_longest_run() {
        assert_eq!(duration_axis(Duration::milliseconds(300)), (1, 1));
        assert_eq!(duration_axis(Duration::seconds(3)), (1, 3));
        assert_eq!(duration_axis(Duration::seconds(95)), (30, 120));
        assert_eq!(duration_axis(Duration::seconds(3600)), (900, 3600));
        assert_eq!(duration_axis(Duration::hours(50)), (86_400, 259_200));
        assert_eq!(duration_axis(Duration::zero()), (1, 1));
        for secs in [1, 7, 59, 61, 599, 3601, 86_399, 200_000] {
            let (step, top) = duration_axis(Duration::seconds(secs));
            assert!(top >= secs && top / step <= 4, "{secs}: {step} {top}");
        }
    }

    #[test]
    fn values_scale_from_the_bottom_to_the_top() {
        assert!((y_of(0.0, 120.0) - (TOP + PLOT_HEIGHT)).abs() < 1e-9);
        assert!((y_of(120.0, 120.0) - TOP).abs() < 1e-9);
        assert!((y_of(60.0, 120.0) - (TOP + PLOT_HEIGHT / 2.0)).abs() < 1e-9);
        assert!((y_of(500.0, 120.0) - TOP).abs() < 1e-9);
        assert!((y_of(5.0, 0.0) - (TOP + PLOT_HEIGHT)).abs() < 1e-9);
    }

    #[test]
    fn empty_input_draws_no_chart() {
        let w = window();
        assert!(durations(&[], w).is_none());
        assert!(pings(&[], w).is_none());
        // Outside the window counts as nothing.
        let old = w.from - Duration::days(1);
        let run = Run {
            at: old,
            took: Duration::seconds(5),
            failed: false,
        };
        assert!(durations(&[run], w).is_none());
        assert!(pings(&[(old, "success")], w).is_none());
    }

    #[test]
    fn runs_are_dots_at_their_end_and_height() {
        let w = window();
        let runs = [
            Run {
                at: w.from + Duration::hours(84),
                took: Duration::seconds(60),
                failed: false,
            },
            Run {
                at: w.to,
                took: Duration::seconds(120),
                failed: true,
            },
        ];
        let svg = durations(&runs, w).expect("a chart");
        assert_eq!(
            dots(&svg),
            [
                ("50.00%".to_owned(), TOP + PLOT_HEIGHT / 2.0),
                ("98.00%".to_owned(), TOP)
            ]
        );
        assert!(svg.contains(r#"class="dot dot-fail""#));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("2 runs (1 failed), the longest 2 min"));
        // Grid lines at 0, 30 s, 1 min, 90 s and 2 min.
        assert!(svg.contains(">90 s</text>") && svg.contains(">2 min</text>"));
        // Seven midnights inside the window, each labelled.
        assert_eq!(svg.matches(r#"<line class="tick""#).count(), 7);
        assert!(svg.contains(">Sat 2</text>"));
        assert_eq!(svg.matches(r#"<text class="minor""#).count(), 3);
    }

    #[test]
    fn pings_are_dots_in_the_lane_of_their_kind() {
        let w = window();
        let at = w.from + Duration::hours(84);
        let svg = pings(&[(at, "success"), (at, "fail"), (at, "ign")], w).expect("a chart");
        let found = dots(&svg);
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|(x, _)| x == "50.00%"));
        let ys: Vec<f64> = found.iter().map(|(_, y)| *y).collect();
        assert!(ys[0] < ys[1] && ys[1] < ys[2], "{ys:?}");
        assert!(svg.contains("1 success, 1 failure, 1 ignored"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(spoken(Duration::milliseconds(250)), "250 ms");
        assert_eq!(spoken(Duration::milliseconds(2500)), "2.5 s");
        assert_eq!(spoken(Duration::seconds(3)), "3 s");
        assert_eq!(spoken(Duration::seconds(125)), "2 min 5 s");
        assert_eq!(spoken(Duration::seconds(3780)), "1 h 3 min");
        assert_eq!(short(90), "90 s");
        assert_eq!(short(7200), "2 h");
    }
}
