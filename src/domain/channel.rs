//! Which status changes a channel is told about.

use serde_json::Value;

use super::check::{Flip, Status};

/// The kinds of channel Overdue delivers to.
pub const KINDS: [&str; 2] = ["email", "webhook"];

/// Whether a flip is announced at all: only to up or down, and never the first ping of a
/// new check nor the end of a pause (healthchecks.io `Flip.select_channels`).
pub fn flip_notifies(flip: &Flip) -> bool {
    match flip.new_status {
        Status::Down => true,
        Status::Up => !matches!(flip.old_status, Status::New | Status::Paused),
        Status::New | Status::Paused => false,
    }
}

/// Whether a channel wants to hear that a check went `up` (else down): an email channel
/// when its address is verified and its flag for that direction is on, a webhook channel
/// when it has a URL for that direction. `value` is the channel's stored JSON.
pub fn channel_wants(kind: &str, value: &str, email_verified: bool, up: bool) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(value) else {
        return false;
    };
    let direction = if up { "up" } else { "down" };
    match kind {
        "email" => email_verified && value[direction].as_bool().unwrap_or(false),
        "webhook" => value[format!("url_{direction}")]
            .as_str()
            .is_some_and(|url| !url.is_empty()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn flip(old_status: Status, new_status: Status) -> Flip {
        Flip {
            created: Utc::now(),
            old_status,
            new_status,
            reason: "",
        }
    }

    #[test]
    fn first_ping_and_resume_are_silent() {
        assert!(!flip_notifies(&flip(Status::New, Status::Up)));
        assert!(!flip_notifies(&flip(Status::Paused, Status::Up)));
        assert!(flip_notifies(&flip(Status::Down, Status::Up)));
        assert!(flip_notifies(&flip(Status::Up, Status::Down)));
        assert!(flip_notifies(&flip(Status::New, Status::Down)));
        assert!(flip_notifies(&flip(Status::Paused, Status::Down)));
        assert!(!flip_notifies(&flip(Status::Up, Status::Paused)));
    }

    #[test]
    fn email_channels_need_verification_and_the_direction_flag() {
        let value = r#"{"value": "a@example.org", "up": false, "down": true}"#;
        assert!(channel_wants("email", value, true, false));
        assert!(!channel_wants("email", value, true, true));
        assert!(!channel_wants("email", value, false, false));
    }

    #[test]
    fn webhook_channels_need_a_url_for_the_direction() {
        let value = r#"{"url_down": "https://example.org/down", "url_up": ""}"#;
        assert!(channel_wants("webhook", value, false, false));
        assert!(!channel_wants("webhook", value, false, true));
        assert!(!channel_wants("webhook", "not json", false, false));
        assert!(!channel_wants("sms", value, false, false));
    }
}
