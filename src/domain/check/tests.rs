//! Status and ping rules, with the examples healthchecks.io's own tests pin.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|_| panic!("bad instant {s}"))
}

fn up_since(last_ping: &str) -> Check {
    Check {
        status: Status::Up,
        last_ping: Some(at(last_ping)),
        ..Check::default()
    }
}

fn scheduled(kind: CheckKind, schedule: &str, tz: &str, last_ping: &str) -> Check {
    Check {
        kind,
        schedule: schedule.to_owned(),
        tz: tz.to_owned(),
        ..up_since(last_ping)
    }
}

#[test]
fn simple_check_is_in_grace_after_its_period_and_down_after_grace() {
    let check = up_since("2024-01-01T00:00:00Z");
    let status = |now| check.display_status(at(now), false);
    assert_eq!(status("2024-01-01T23:59:59Z"), DisplayStatus::Up);
    assert_eq!(status("2024-01-02T00:30:00Z"), DisplayStatus::Grace); // 1 day 30 min later
    assert_eq!(status("2024-01-02T01:00:00Z"), DisplayStatus::Down);
    assert_eq!(check.going_down_after(), Some(at("2024-01-02T01:00:00Z")));
}

#[test]
fn cron_and_oncalendar_checks_expect_the_next_scheduled_time() {
    for (kind, schedule) in [
        (CheckKind::Cron, "0 0 * * *"),
        (CheckKind::OnCalendar, "00:00"),
    ] {
        let check = scheduled(kind, schedule, "UTC", "2000-01-01T00:00:00Z");
        let status = |now| check.display_status(at(now), false);
        assert_eq!(
            status("2000-01-01T23:59:00Z"),
            DisplayStatus::Up,
            "{schedule}"
        );
        assert_eq!(
            status("2000-01-02T00:00:00Z"),
            DisplayStatus::Grace,
            "{schedule}"
        );
        assert_eq!(
            status("2000-01-02T01:00:00Z"),
            DisplayStatus::Down,
            "{schedule}"
        );
        assert_eq!(check.grace_start(true), Some(at("2000-01-02T00:00:00Z")));
    }
}

#[test]
fn cron_check_runs_in_its_time_zone() {
    // 10:00 in Brisbane is 00:00 UTC.
    let check = scheduled(
        CheckKind::Cron,
        "0 10 * * *",
        "Australia/Brisbane",
        "2000-01-01T00:30:00Z",
    );
    assert_eq!(check.grace_start(true), Some(at("2000-01-02T00:00:00Z")));
    assert_eq!(
        check.display_status(at("2000-01-01T23:59:00Z"), false),
        DisplayStatus::Up
    );
    assert_eq!(
        check.display_status(at("2000-01-02T00:00:00Z"), false),
        DisplayStatus::Grace
    );
}

#[test]
fn oncalendar_check_with_no_more_times_stays_up() {
    let check = scheduled(
        CheckKind::OnCalendar,
        "2019-01-01",
        "UTC",
        "2020-01-01T00:00:00Z",
    );
    assert_eq!(check.grace_start(true), None);
    assert_eq!(check.going_down_after(), None);
    assert_eq!(
        check.display_status(at("2030-01-01T00:00:00Z"), false),
        DisplayStatus::Up
    );
}

#[test]
fn hourly_cron_check_in_the_repeated_dst_hour_is_up() {
    // healthchecks.io test: `15 * * * *` in Riga, pinged at 00:55 UTC on the autumn change,
    // grace 5 minutes; at 01:05 UTC the next run (01:15 UTC) is still ahead.
    let check = Check {
        grace: Duration::minutes(5),
        ..scheduled(
            CheckKind::Cron,
            "15 * * * *",
            "Europe/Riga",
            "2023-10-29T00:55:00Z",
        )
    };
    assert_eq!(
        check.display_status(at("2023-10-29T01:05:00Z"), false),
        DisplayStatus::Up
    );
    assert_eq!(check.grace_start(true), Some(at("2023-10-29T01:15:00Z")));
}

#[test]
fn fixed_time_check_pinged_in_second_pass_of_repeated_hour_expects_the_next_day() {
    // 03:20 EET, the second 03:20 of 2021-10-31 in Riga. healthchecks.io would expect the
    // first 03:30 (00:30 UTC), before the ping; Overdue expects the next day's 03:30.
    let check = scheduled(
        CheckKind::Cron,
        "30 3 * * *",
        "Europe/Riga",
        "2021-10-31T01:20:00Z",
    );
    assert_eq!(check.grace_start(true), Some(at("2021-11-01T01:30:00Z")));
}

#[test]
fn started_check_goes_down_when_its_grace_runs_out_whatever_its_status() {
    for status in [Status::New, Status::Paused, Status::Up] {
        let check = Check {
            status,
            last_start: Some(at("2024-01-01T00:00:00Z")),
            last_ping: Some(at("2024-01-01T00:00:00Z")),
            ..Check::default()
        };
        assert_eq!(
            check.display_status(at("2024-01-01T02:00:00Z"), false),
            DisplayStatus::Down
        );
        assert_eq!(
            check.display_status(at("2024-01-01T00:05:00Z"), true),
            DisplayStatus::Started
        );
    }
}

#[test]
fn running_up_check_reports_started_only_when_asked() {
    let check = Check {
        last_start: Some(at("2024-01-01T12:00:00Z")),
        ..up_since("2024-01-01T11:00:00Z")
    };
    let now = at("2024-01-01T12:05:00Z");
    assert_eq!(check.display_status(now, true), DisplayStatus::Started);
    assert_eq!(check.display_status(now, false), DisplayStatus::Up);
    // next_ping while running is the start, if earlier than the expected ping.
    assert_eq!(check.grace_start(true), Some(at("2024-01-01T12:00:00Z")));
    assert_eq!(check.grace_start(false), Some(at("2024-01-02T11:00:00Z")));
}

#[test]
fn going_down_after_follows_a_paused_checks_run_but_not_a_down_checks() {
    let paused = Check {
        status: Status::Paused,
        last_start: Some(at("2024-01-01T00:00:00Z")),
        ..Check::default()
    };
    assert_eq!(paused.going_down_after(), Some(at("2024-01-01T01:00:00Z")));
    let down = Check {
        status: Status::Down,
        ..paused
    };
    assert_eq!(down.going_down_after(), None);
}

#[test]
fn success_ping_on_a_new_check_makes_it_up_and_sets_its_deadline() {
    let mut check = Check::default();
    let now = at("2024-01-01T00:00:00Z");
    let (action, flip) = check.apply_ping(Action::Success, now, None, b"");
    assert_eq!(action, Action::Success);
    assert_eq!(
        flip,
        Some(Flip {
            created: now,
            old_status: Status::New,
            new_status: Status::Up,
            reason: ""
        })
    );
    assert_eq!(check.status, Status::Up);
    assert_eq!(check.n_pings, 1);
    assert_eq!(
        check.going_down_after(),
        Some(now + Duration::days(1) + Duration::hours(1))
    );
}

#[test]
fn fail_ping_makes_the_check_down_with_no_deadline() {
    let mut check = up_since("2024-01-01T00:00:00Z");
    let now = at("2024-01-01T06:00:00Z");
    let (_, flip) = check.apply_ping(Action::Fail, now, None, b"");
    assert_eq!(
        flip.map(|f| (f.old_status, f.new_status, f.reason)),
        Some((Status::Up, Status::Down, "fail"))
    );
    assert_eq!(check.going_down_after(), None);
    // A second failure changes nothing more.
    assert_eq!(check.apply_ping(Action::Fail, now, None, b"").1, None);
}

#[test]
fn log_ping_changes_only_the_counter() {
    let mut check = Check::default();
    let (_, flip) = check.apply_ping(Action::Log, at("2024-01-01T00:00:00Z"), None, b"");
    assert_eq!(flip, None);
    assert_eq!(check.status, Status::New);
    assert_eq!(check.last_ping, None);
    assert_eq!(check.going_down_after(), None);
    assert_eq!(check.n_pings, 1);
}

#[test]
fn start_then_success_with_the_same_rid_measures_the_run() {
    let rid = Some(Uuid::from_u128(1));
    let mut check = up_since("2024-01-01T00:00:00Z");
    check.apply_ping(Action::Start, at("2024-01-01T10:00:00Z"), rid, b"");
    assert_eq!(check.last_start, Some(at("2024-01-01T10:00:00Z")));
    assert_eq!(check.going_down_after(), Some(at("2024-01-01T11:00:00Z")));
    check.apply_ping(Action::Success, at("2024-01-01T10:02:30Z"), rid, b"");
    assert_eq!(check.last_start, None);
    assert_eq!(check.last_duration, Some(Duration::seconds(150)));
}

#[test]
fn success_with_another_rid_keeps_the_run_open_but_failure_or_no_rid_closes_it() {
    let run = Some(Uuid::from_u128(1));
    let other = Some(Uuid::from_u128(2));
    let start = at("2024-01-01T10:00:00Z");
    let finish = at("2024-01-01T10:01:00Z");

    let mut check = up_since("2024-01-01T00:00:00Z");
    check.apply_ping(Action::Start, start, run, b"");
    check.apply_ping(Action::Success, finish, other, b"");
    assert_eq!((check.last_start, check.last_duration), (Some(start), None));

    check.apply_ping(Action::Fail, finish, other, b"");
    assert_eq!(check.last_start, None);

    check.apply_ping(Action::Start, start, run, b"");
    check.apply_ping(Action::Success, finish, None, b"");
    assert_eq!((check.last_start, check.last_duration), (None, None));
}

#[test]
fn paused_check_with_manual_resume_ignores_pings() {
    let mut check = Check {
        status: Status::Paused,
        manual_resume: true,
        ..Check::default()
    };
    let (action, flip) = check.apply_ping(Action::Success, at("2024-01-01T00:00:00Z"), None, b"");
    assert_eq!((action, flip), (Action::Ign, None));
    assert_eq!(check.status, Status::Paused);
    assert_eq!(check.n_pings, 1);
}

#[test]
fn paused_check_without_manual_resume_comes_back_up() {
    let mut check = Check {
        status: Status::Paused,
        ..Check::default()
    };
    let (_, flip) = check.apply_ping(Action::Success, at("2024-01-01T00:00:00Z"), None, b"");
    assert_eq!(flip.map(|f| f.old_status), Some(Status::Paused));
    assert_eq!(check.status, Status::Up);
}

#[test]
fn confirmation_link_is_noticed_in_any_case() {
    let mut check = Check::default();
    check.apply_ping(
        Action::Log,
        at("2024-01-01T00:00:00Z"),
        None,
        b"Please CONFIRM your address",
    );
    assert!(check.has_confirmation_link);
    check.apply_ping(Action::Log, at("2024-01-01T00:00:00Z"), None, b"hello");
    assert!(!check.has_confirmation_link);
}

#[test]
fn nonzero_exit_status_is_a_failure_and_zero_a_success() {
    let check = Check::default();
    assert_eq!(
        check.classify_http_ping(Action::Success, Some(3), "GET", b""),
        Action::Fail
    );
    assert_eq!(
        check.classify_http_ping(Action::Success, Some(0), "GET", b""),
        Action::Success
    );
}

#[test]
fn post_only_check_ignores_other_methods() {
    let check = Check {
        methods: "POST".to_owned(),
        ..Check::default()
    };
    assert_eq!(
        check.classify_http_ping(Action::Success, None, "GET", b""),
        Action::Ign
    );
    assert_eq!(
        check.classify_http_ping(Action::Fail, None, "HEAD", b""),
        Action::Ign
    );
    assert_eq!(
        check.classify_http_ping(Action::Start, None, "POST", b""),
        Action::Start
    );
}

#[test]
fn body_keywords_override_the_url_action() {
    let check = Check {
        filter_http_body: true,
        start_kw: "begin".to_owned(),
        success_kw: "done, ok ".to_owned(),
        failure_kw: "ERROR".to_owned(),
        ..Check::default()
    };
    let classify = |url, body: &[u8]| check.classify_http_ping(url, None, "POST", body);
    assert_eq!(classify(Action::Start, b"all ok"), Action::Success);
    assert_eq!(classify(Action::Success, b"ERROR: ok"), Action::Fail);
    assert_eq!(classify(Action::Fail, b"begin"), Action::Start);
    assert_eq!(classify(Action::Success, b"error"), Action::Ign); // case-sensitive
    assert_eq!(classify(Action::Success, b"\xff\xfe ok"), Action::Ign); // not UTF-8
    let default_fail = Check {
        filter_default_fail: true,
        ..check.clone()
    };
    assert_eq!(
        default_fail.classify_http_ping(Action::Success, None, "POST", b"?"),
        Action::Fail
    );
}

#[test]
fn deadline_in_grace_changes_nothing() {
    let mut check = up_since("2024-01-01T00:00:00Z");
    let before = check.clone();
    // Period one day, grace one hour: at 00:30 on the next day it is late but in grace.
    assert_eq!(check.judge_deadline(at("2024-01-02T00:30:00Z")), None);
    assert_eq!(check, before);
}

#[test]
fn deadline_past_grace_flips_down_at_the_deadline_not_at_now() {
    let mut check = up_since("2024-01-01T00:00:00Z");
    let flip = check.judge_deadline(at("2024-01-02T05:00:00Z")).unwrap();
    assert_eq!(flip.created, at("2024-01-02T01:00:00Z"));
    assert_eq!(
        (flip.old_status, flip.new_status),
        (Status::Up, Status::Down)
    );
    assert_eq!(flip.reason, "timeout");
    assert_eq!(check.status, Status::Down);
    assert_eq!(check.going_down_after(), None);
    // Already down: nothing more.
    assert_eq!(check.judge_deadline(at("2024-01-03T00:00:00Z")), None);
}

#[test]
fn deadline_of_a_run_that_never_ended_flips_new_and_paused_checks_down() {
    for status in [Status::New, Status::Paused, Status::Up] {
        let mut check = Check {
            status,
            last_start: Some(at("2024-01-01T00:00:00Z")),
            ..Check::default()
        };
        assert_eq!(check.judge_deadline(at("2024-01-01T00:59:59Z")), None);
        let flip = check.judge_deadline(at("2024-01-01T01:00:00Z")).unwrap();
        assert_eq!(flip.old_status, status);
        assert_eq!(flip.created, at("2024-01-01T01:00:00Z"));
        assert_eq!(check.status, Status::Down);
    }
}

#[test]
fn deadline_of_new_and_paused_checks_without_a_run_never_comes() {
    for status in [Status::New, Status::Paused] {
        let mut check = Check {
            status,
            ..Check::default()
        };
        assert_eq!(check.going_down_after(), None);
        assert_eq!(check.judge_deadline(at("2030-01-01T00:00:00Z")), None);
    }
}

#[test]
fn pause_stops_the_clock_and_resume_starts_over() {
    let mut check = Check {
        last_start: Some(at("2024-01-01T12:00:00Z")),
        ..up_since("2024-01-01T00:00:00Z")
    };
    let flip = check.pause(at("2024-01-01T13:00:00Z")).unwrap();
    assert_eq!(
        (flip.old_status, flip.new_status),
        (Status::Up, Status::Paused)
    );
    assert_eq!((check.status, check.last_start), (Status::Paused, None));
    assert_eq!(check.going_down_after(), None);
    assert_eq!(
        check.pause(at("2024-01-01T14:00:00Z")),
        None,
        "already paused"
    );
    let flip = check.resume(at("2024-01-01T15:00:00Z")).unwrap();
    assert_eq!(
        (flip.old_status, flip.new_status),
        (Status::Paused, Status::New)
    );
    assert_eq!((check.status, check.last_ping), (Status::New, None));
    assert_eq!(check.resume(at("2024-01-01T16:00:00Z")), None, "not paused");
}
