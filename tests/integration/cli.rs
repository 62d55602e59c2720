//! The `overdue` binary's command line, run as a user would run it.

use std::process::{Command, Output};

fn overdue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_overdue"))
        .args(args)
        .output()
        .expect("overdue runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn schedule_next_prints_fire_times_in_utc_one_per_line() {
    let output = overdue(&[
        "schedule",
        "next",
        "30 3 * * *",
        "--tz",
        "Europe/Riga",
        "--after",
        "2021-03-27T12:00:00Z",
        "-n",
        "3",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "2021-03-28T01:00:00Z\n2021-03-29T00:30:00Z\n2021-03-30T00:30:00Z\n"
    );
}

#[test]
fn schedule_next_accepts_an_offset_in_after_and_oncalendar_lines() {
    let output = overdue(&[
        "schedule",
        "next",
        "Mon 09:00\nFri 17:00",
        "--after",
        "2024-09-02T12:00:00+02:00",
        "-n",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "2024-09-06T17:00:00Z\n2024-09-09T09:00:00Z\n"
    );
}

#[test]
fn schedule_next_prints_fewer_lines_when_the_schedule_ends() {
    let output = overdue(&[
        "schedule",
        "next",
        "2030-06-01 12:00",
        "--after",
        "2024-01-01T00:00:00Z",
        "-n",
        "4",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "2030-06-01T12:00:00Z\n");

    let output = overdue(&[
        "schedule",
        "next",
        "2019-01-01",
        "--after",
        "2024-01-01T00:00:00Z",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
}

#[test]
fn schedule_next_defaults_to_five_times_after_now() {
    let output = overdue(&["schedule", "next", "* * * * *"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let now = chrono::Utc::now();
    let times: Vec<chrono::DateTime<chrono::Utc>> = stdout(&output)
        .lines()
        .map(|line| line.parse().expect("RFC 3339 line"))
        .collect();
    assert_eq!(times.len(), 5);
    assert!(
        times[0] > now - chrono::Duration::minutes(1)
            && times[0] <= now + chrono::Duration::minutes(1)
    );
}

#[test]
fn schedule_next_rejects_an_invalid_expression_on_stderr() {
    let output = overdue(&["schedule", "next", "0 0 31 2 *"]);
    assert!(!output.status.success());
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("Bad day-of-month"),
        "{}",
        stderr(&output)
    );

    let output = overdue(&["schedule", "next", "*/15 * * * * *"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("Bad day-of-week"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn schedule_next_rejects_an_unknown_zone_and_a_bad_instant() {
    let output = overdue(&["schedule", "next", "0 0 * * *", "--tz", "Mars/Olympus"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("Mars/Olympus"),
        "{}",
        stderr(&output)
    );

    let output = overdue(&["schedule", "next", "0 0 * * *", "--after", "yesterday"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--after"), "{}", stderr(&output));
}
