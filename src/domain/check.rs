//! A check's state and the rules that judge it: status, deadlines and what a ping changes.
//!
//! Everything here is pure: the current time is an argument. The rules follow healthchecks.io's
//! `Check` model (`get_grace_start`, `going_down_after`, `get_status`, `ping`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::schedule::{Cron, OnCalendar, parse_timezone};

/// The stored status of a check. Display adds `grace` and `started` ([`DisplayStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    New,
    Up,
    Down,
    Paused,
}

/// The status shown to users: the stored one, refined by the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayStatus {
    New,
    Up,
    Grace,
    Down,
    Paused,
    Started,
}

/// How a check's deadline is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// A period (`timeout`) after the last ping.
    Simple,
    /// The next time of a cron expression after the last ping.
    Cron,
    /// The next time of an OnCalendar expression after the last ping.
    OnCalendar,
}

macro_rules! string_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl FromStr for $ty {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, UnknownVariant> {
                match s { $($text => Ok($ty::$variant),)+ _ => Err(UnknownVariant(s.to_owned())) }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A stored value that names no variant (a corrupt row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownVariant(pub String);

string_enum!(Status { New => "new", Up => "up", Down => "down", Paused => "paused" });
string_enum!(DisplayStatus {
    New => "new", Up => "up", Grace => "grace", Down => "down", Paused => "paused", Started => "started",
});
string_enum!(CheckKind { Simple => "simple", Cron => "cron", OnCalendar => "oncalendar" });

/// What a ping means for its check, after URL, method and keyword rules are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Success,
    Start,
    Fail,
    Log,
    /// Ignored: recorded, changes nothing.
    Ign,
}

string_enum!(Action { Success => "success", Start => "start", Fail => "fail", Log => "log", Ign => "ign" });

impl Action {
    /// The `Ping.kind` column: NULL for success, else the action's name.
    pub fn ping_kind(self) -> Option<&'static str> {
        match self {
            Action::Success => None,
            other => Some(other.as_str()),
        }
    }
}

/// A status change, recorded when it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flip {
    pub created: DateTime<Utc>,
    pub old_status: Status,
    pub new_status: Status,
    /// `""`, `"timeout"` or `"fail"`.
    pub reason: &'static str,
}

/// Everything that decides when a check is late, and what a ping changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub kind: CheckKind,
    pub timeout: Duration,
    pub grace: Duration,
    pub schedule: String,
    pub tz: String,
    pub status: Status,
    pub last_ping: Option<DateTime<Utc>>,
    pub last_start: Option<DateTime<Utc>>,
    pub last_start_rid: Option<Uuid>,
    pub last_duration: Option<Duration>,
    pub n_pings: i64,
    pub methods: String,
    pub manual_resume: bool,
    pub filter_http_body: bool,
    pub filter_default_fail: bool,
    pub start_kw: String,
    pub success_kw: String,
    pub failure_kw: String,
    pub has_confirmation_link: bool,
}

impl Default for Check {
    /// healthchecks.io's defaults: simple, one day period, one hour grace, new.
    fn default() -> Self {
        Check {
            kind: CheckKind::Simple,
            timeout: Duration::days(1),
            grace: Duration::hours(1),
            schedule: "* * * * *".to_owned(),
            tz: "UTC".to_owned(),
            status: Status::New,
            last_ping: None,
            last_start: None,
            last_start_rid: None,
            last_duration: None,
            n_pings: 0,
            methods: String::new(),
            manual_resume: false,
            filter_http_body: false,
            filter_default_fail: false,
            start_kw: String::new(),
            success_kw: String::new(),
            failure_kw: String::new(),
            has_confirmation_link: false,
        }
    }
}

impl Check {
    /// The next scheduled time after `last_ping`, for cron and OnCalendar checks.
    ///
    /// Overdue difference: healthchecks.io takes the schedule's first time even when it is not
    /// after the ping (a fixed-time job pinged in the second pass of a repeated DST hour),
    /// which makes a healthy check late at once. Overdue takes the first time after the ping.
    fn next_scheduled(&self, last_ping: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = parse_timezone(&self.tz)?;
        let after = |t: &DateTime<Utc>| *t > last_ping;
        let next = match self.kind {
            CheckKind::Simple => return None,
            CheckKind::Cron => {
                let cron = Cron::parse(&self.schedule).ok()?;
                cron.iter_after(last_ping.naive_utc(), tz)
                    .map(|t| t.and_utc())
                    .take(10_000)
                    .find(after)
            }
            CheckKind::OnCalendar => {
                let calendar = OnCalendar::parse(&self.schedule).ok()?;
                calendar
                    .iter_after(last_ping.naive_utc(), tz)
                    .map(|t| t.and_utc())
                    .take(10_000)
                    .find(after)
            }
        };
        // healthchecks.io's "never" sentinel is the year 3000.
        next.filter(|t| t.timestamp() < NEVER_SECONDS)
    }

    /// When the grace period starts (healthchecks.io `get_grace_start`): the expected ping
    /// time of an up check, or the start of a running one if that is earlier. `None` for new,
    /// paused and down checks that are not running.
    pub fn grace_start(&self, with_started: bool) -> Option<DateTime<Utc>> {
        let expected = match (self.status, self.last_ping) {
            (Status::Up, Some(last_ping)) => match self.kind {
                CheckKind::Simple => last_ping.checked_add_signed(self.timeout),
                CheckKind::Cron | CheckKind::OnCalendar => self.next_scheduled(last_ping),
            },
            _ => None,
        };
        let started = self
            .last_start
            .filter(|_| with_started && self.status != Status::Down);
        match (expected, started) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the check goes down unless pinged (`alert_after`); `None` if it cannot.
    pub fn going_down_after(&self) -> Option<DateTime<Utc>> {
        self.grace_start(true)?.checked_add_signed(self.grace)
    }

    /// The status to show at `now`. `with_started` reports running checks as `started`
    /// (API v1 and the dashboard).
    pub fn display_status(&self, now: DateTime<Utc>, with_started: bool) -> DisplayStatus {
        if let Some(last_start) = self.last_start {
            if now >= last_start + self.grace {
                return DisplayStatus::Down;
            }
            if with_started {
                return DisplayStatus::Started;
            }
        }
        match self.status {
            Status::New => return DisplayStatus::New,
            Status::Paused => return DisplayStatus::Paused,
            Status::Down => return DisplayStatus::Down,
            Status::Up => {}
        }
        let Some(grace_start) = self.grace_start(false) else {
            return DisplayStatus::Up;
        };
        if now >= grace_start + self.grace {
            DisplayStatus::Down
        } else if now >= grace_start {
            DisplayStatus::Grace
        } else {
            DisplayStatus::Up
        }
    }

    /// Pauses the check (healthchecks.io `pause`): no deadline, no run in progress. Returns
    /// the flip, or `None` if it was paused already. The flip is not announced.
    pub fn pause(&mut self, now: DateTime<Utc>) -> Option<Flip> {
        if self.status == Status::Paused {
            return None;
        }
        let flip = Flip {
            created: now,
            old_status: self.status,
            new_status: Status::Paused,
            reason: "",
        };
        self.status = Status::Paused;
        self.last_start = None;
        Some(flip)
    }

    /// Resumes a paused check as new, forgetting its last ping (healthchecks.io `resume`).
    /// `None` if it is not paused.
    pub fn resume(&mut self, now: DateTime<Utc>) -> Option<Flip> {
        if self.status != Status::Paused {
            return None;
        }
        self.status = Status::New;
        self.last_start = None;
        self.last_ping = None;
        Some(Flip {
            created: now,
            old_status: Status::Paused,
            new_status: Status::New,
            reason: "",
        })
    }

    /// The deadline loop's judgement of a check whose `alert_after` has passed
    /// (healthchecks.io `handle_going_down`): if it is down at `now` (running checks included),
    /// marks it down and returns the flip, timestamped at the deadline rather than at `now`.
    /// Otherwise (still in grace, say) changes nothing; its deadline is `going_down_after`.
    pub fn judge_deadline(&mut self, now: DateTime<Utc>) -> Option<Flip> {
        if self.status == Status::Down || self.display_status(now, false) != DisplayStatus::Down {
            return None;
        }
        let flip = Flip {
            created: self.going_down_after().unwrap_or(now),
            old_status: self.status,
            new_status: Status::Down,
            reason: "timeout",
        };
        self.status = Status::Down;
        Some(flip)
    }

    /// Applies a ping received at `now` (healthchecks.io `Check.ping`) and returns the
    /// action as applied and the status change, if any. The caller records the ping itself.
    pub fn apply_ping(
        &mut self,
        action: Action,
        now: DateTime<Utc>,
        rid: Option<Uuid>,
        body: &[u8],
    ) -> (Action, Option<Flip>) {
        // A paused check with manual resume ignores pings until resumed.
        let action = if self.status == Status::Paused && self.manual_resume {
            Action::Ign
        } else {
            action
        };
        let mut flip = None;
        match action {
            Action::Start => {
                self.last_start = Some(now);
                self.last_start_rid = rid;
            }
            Action::Success | Action::Fail => {
                self.last_ping = Some(now);
                self.last_duration = None;
                if let Some(last_start) = self.last_start {
                    if self.last_start_rid == rid {
                        self.last_duration = Some(now - last_start);
                        self.last_start = None;
                    } else if action == Action::Fail || rid.is_none() {
                        // A success with another run's rid leaves that run open.
                        self.last_start = None;
                    }
                }
                let new_status = if action == Action::Fail {
                    Status::Down
                } else {
                    Status::Up
                };
                if new_status != self.status {
                    flip = Some(Flip {
                        created: now,
                        old_status: self.status,
                        new_status,
                        reason: if action == Action::Fail { "fail" } else { "" },
                    });
                    self.status = new_status;
                }
            }
            Action::Log | Action::Ign => {}
        }
        self.n_pings += 1;
        self.has_confirmation_link = String::from_utf8_lossy(body)
            .to_lowercase()
            .contains("confirm");
        (action, flip)
    }

    /// What a ping means: the URL's action, then exit status, the POST-only rule and the
    /// HTTP body keyword filters, in healthchecks.io's order.
    pub fn classify_http_ping(
        &self,
        url_action: Action,
        exit_status: Option<u8>,
        method: &str,
        body: &[u8],
    ) -> Action {
        let mut action = url_action;
        if exit_status.is_some_and(|code| code > 0) {
            action = Action::Fail;
        }
        if self.methods == "POST" && method != "POST" {
            action = Action::Ign;
        }
        if action != Action::Ign && self.filter_http_body {
            // A body that is not UTF-8 matches no keyword.
            let text = std::str::from_utf8(body).unwrap_or("");
            action = self.classify_text(text);
        }
        action
    }

    /// Keyword classification: failure keywords first, then success, then start.
    pub fn classify_text(&self, text: &str) -> Action {
        if matches_keywords(text, &self.failure_kw) {
            Action::Fail
        } else if matches_keywords(text, &self.success_kw) {
            Action::Success
        } else if matches_keywords(text, &self.start_kw) {
            Action::Start
        } else if self.filter_default_fail {
            Action::Fail
        } else {
            Action::Ign
        }
    }
}

/// healthchecks.io's sentinel "never" instant, 3000-01-01T00:00:00Z, in seconds.
const NEVER_SECONDS: i64 = 32_503_680_000;

/// True when `text` contains any of the comma-separated keywords (case-sensitive).
fn matches_keywords(text: &str, keywords: &str) -> bool {
    keywords
        .split(',')
        .map(str::trim)
        .any(|kw| !kw.is_empty() && text.contains(kw))
}

#[cfg(test)]
mod tests;
