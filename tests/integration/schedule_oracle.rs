//! Differential test of the schedule engine against healthchecks.io's own libraries.
//!
//! `tests/oracle/schedule_oracle.py` generates cases (valid and invalid cron and OnCalendar
//! expressions, DST zones, start instants near DST changes, month ends and leap days) and
//! answers each with PyPI `cronsim==2.7` and `oncalendar==1.1`. Every answer must match ours.
//!
//! Without Python or those packages the test is skipped, unless `OVERDUE_REQUIRE_ORACLE=1`
//! (CI sets it), in which case it fails. `OVERDUE_ORACLE_SEED` and `OVERDUE_ORACLE_COUNT`
//! choose other cases.

use std::process::Command;

use chrono::{DateTime, SecondsFormat, Utc};
use overdue::domain::schedule::{Schedule, guess_kind, parse_timezone};
use serde_json::Value;

const ORACLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/oracle/schedule_oracle.py"
);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Runs the oracle, or returns `None` when it cannot run here and is not required.
fn oracle_cases(seed: &str, count: &str) -> Option<Vec<Value>> {
    let required = std::env::var("OVERDUE_REQUIRE_ORACLE").is_ok_and(|v| v == "1");
    let output = Command::new("python3")
        .args([ORACLE, "--seed", seed, "--count", count])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        other => {
            let why = match other {
                Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                Err(err) => err.to_string(),
            };
            assert!(!required, "schedule oracle could not run: {why}");
            eprintln!(
                "skipping: schedule oracle unavailable (pip install cronsim==2.7 oncalendar==1.1): {why}"
            );
            return None;
        }
    };
    let stdout = String::from_utf8(output.stdout).expect("oracle prints UTF-8");
    Some(
        stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("oracle prints JSON lines"))
            .collect(),
    )
}

/// Our answer in the oracle's terms: `{"ok": [...]}` or `{"error": "..."}`.
fn answer(expr: &str, tz: &str, after: &str, n: usize) -> Value {
    let tz = parse_timezone(tz).unwrap_or_else(|| panic!("oracle zone {tz} unknown"));
    let after: DateTime<Utc> = after.parse().expect("oracle instants are RFC 3339");
    match Schedule::parse(expr) {
        Ok(schedule) => {
            let times: Vec<String> = schedule
                .iter_after(after, tz)
                .take(n)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .collect();
            serde_json::json!({ "ok": times })
        }
        Err(err) => serde_json::json!({ "error": err.to_string() }),
    }
}

#[test]
fn schedules_agree_with_cronsim_and_oncalendar() {
    let seed = env_or("OVERDUE_ORACLE_SEED", "1");
    let count = env_or("OVERDUE_ORACLE_COUNT", "6000");
    let Some(cases) = oracle_cases(&seed, &count) else {
        return;
    };
    assert!(cases.len() >= 5000 || count.parse::<usize>().is_ok_and(|c| c < 5000));

    let mut disagreements = Vec::new();
    let mut unanswered_by_reference = 0;
    for case in &cases {
        let text = |key: &str| case[key].as_str().expect("string field");
        let (expr, tz, after) = (text("expr"), text("tz"), text("after"));
        let n = usize::try_from(case["n"].as_u64().expect("n")).expect("small n");
        let expected = &case["result"];
        let ours = answer(expr, tz, after, n);
        if guess_kind(expr).as_str() != text("kind") {
            disagreements.push(format!("kind of {expr:?}: ours {}", guess_kind(expr)));
        }
        // Where the reference hangs or crashes, it is enough that we answered.
        if expected.get("timeout").is_some() || expected.get("exception").is_some() {
            unanswered_by_reference += 1;
            continue;
        }
        if &ours != expected {
            disagreements.push(format!(
                "case {}: {expr:?} tz={tz} after={after} n={n}\n  reference: {expected}\n  ours:      {ours}",
                case["id"]
            ));
        }
    }
    eprintln!(
        "schedule oracle: {} cases (seed {seed}), {} disagreements, {unanswered_by_reference} unanswered by the reference",
        cases.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with the reference, first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
