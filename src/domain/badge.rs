//! Status badges as healthchecks.io draws and signs them (`hc/lib/badges.py`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};

use super::check::DisplayStatus;

/// What a badge shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeStatus {
    Up,
    /// In grace (3-state badges only).
    Late,
    Down,
}

impl BadgeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BadgeStatus::Up => "up",
            BadgeStatus::Late => "late",
            BadgeStatus::Down => "down",
        }
    }

    fn color(self) -> &'static str {
        match self {
            BadgeStatus::Up => "#4c1",
            BadgeStatus::Late => "#fe7d37",
            BadgeStatus::Down => "#e05d44",
        }
    }

    /// The colour name shields.io knows.
    pub fn shields_color(self) -> &'static str {
        match self {
            BadgeStatus::Up => "success",
            BadgeStatus::Late => "important",
            BadgeStatus::Down => "critical",
        }
    }
}

/// The counts behind a badge: all checks, those in grace, those down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub total: usize,
    pub grace: usize,
    pub down: usize,
}

impl Tally {
    /// Counts checks by their status (`get_status()`, running checks not reported apart).
    pub fn of(statuses: impl IntoIterator<Item = DisplayStatus>) -> Tally {
        statuses.into_iter().fold(Tally::default(), |mut t, s| {
            t.total += 1;
            match s {
                DisplayStatus::Down => t.down += 1,
                DisplayStatus::Grace => t.grace += 1,
                _ => {}
            }
            t
        })
    }

    /// Down if any check is down; late if any is in grace and the badge has three states;
    /// up otherwise (new and paused checks count as up).
    pub fn status(self, with_late: bool) -> BadgeStatus {
        if self.down > 0 {
            BadgeStatus::Down
        } else if with_late && self.grace > 0 {
            BadgeStatus::Late
        } else {
            BadgeStatus::Up
        }
    }
}

/// Text width in pixels, from healthchecks.io's per-character table (7 for others).
fn width(s: &str) -> u32 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 'I' => 3,
            'f' | 'r' | 'J' | '-' => 4,
            't' => 5,
            'c' | 'e' | 's' | 'x' | '1' | 'F' | 'L' | 'P' | '_' => 6,
            'w' | 'G' | 'O' | 'Q' => 9,
            'A' | 'C' | 'D' | 'H' | 'N' | 'U' | 'V' => 8,
            'm' | 'M' => 10,
            'W' => 11,
            _ => 7,
        })
        .sum()
}

/// Python's `str()` of `n / 2`: `21.0`, `21.5`.
fn half(n: u32) -> String {
    format!("{}.{}", n / 2, if n.is_multiple_of(2) { 0 } else { 5 })
}

/// What Django's template autoescaping does to a value.
/// The SVG badge for `label` showing `status` (healthchecks.io's `badge.svg`).
pub fn svg(label: &str, status: BadgeStatus) -> String {
    let w1 = width(label) + 10;
    let w2 = width(status.as_str()) + 10;
    let width = w1 + w2;
    let (tag_x, status_x) = (half(w1), half(2 * w1 + w2));
    let (label, text, color) = (super::escape_html(label), status.as_str(), status.color());
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" height="20">
  <linearGradient id="smooth" x2="0" y2="100%">
    <stop offset="0" stop-color="#bbb" stop-opacity=".1"/>
    <stop offset="1" stop-opacity=".1"/>
  </linearGradient>

  <mask id="round">
    <rect width="{width}" height="20" rx="3" fill="#fff"/>
  </mask>

  <g mask="url(#round)">
    <rect width="{w1}" height="20" fill="#555"/>
    <rect x="{w1}" width="{w2}" height="20" fill="{color}"/>
    <rect width="{width}" height="20" fill="url(#smooth)"/>
  </g>

  <g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="11">
    <text x="{tag_x}" y="15" fill="#010101" fill-opacity=".3">{label}</text>
    <text x="{tag_x}" y="14">{label}</text>
    <text x="{status_x}" y="15" fill="#010101" fill-opacity=".3">{text}</text>
    <text x="{status_x}" y="14">{text}</text>
  </g>
</svg>
"##
    )
}

/// The first 8 characters of Django's `base64_hmac(badge_key, tag, secret)`: HMAC-SHA1 of
/// the tag keyed by SHA-1 of `badge_key + secret`, URL-safe base64 without padding.
pub fn signature(badge_key: &str, tag: &str, secret: &str) -> String {
    let key = Sha1::digest(format!("{badge_key}{secret}").as_bytes());
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(tag.as_bytes());
    let mut sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    sig.truncate(8);
    sig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_worst_of_the_checks() {
        use DisplayStatus::{Down, Grace, New, Paused, Up};
        assert_eq!(Tally::of([Up, New, Paused]).status(true), BadgeStatus::Up);
        assert_eq!(Tally::of([Up, Grace]).status(true), BadgeStatus::Late);
        assert_eq!(Tally::of([Up, Grace]).status(false), BadgeStatus::Up);
        assert_eq!(Tally::of([Grace, Down]).status(true), BadgeStatus::Down);
        assert_eq!(Tally::of([]).status(true), BadgeStatus::Up);
        assert_eq!(
            Tally::of([Up, Grace, Down]),
            Tally {
                total: 3,
                grace: 1,
                down: 1
            }
        );
    }

    #[test]
    fn widths_and_centres_follow_healthchecks_io() {
        // "foo": f 4 + o 7 + o 7 = 18 (+10); "up": 7 + 7 = 14 (+10).
        let badge = svg("foo", BadgeStatus::Up);
        assert!(badge.contains(r#"width="52" height="20">"#), "{badge}");
        assert!(badge.contains(r##"<rect width="28" height="20" fill="#555"/>"##));
        assert!(badge.contains(r##"<rect x="28" width="24" height="20" fill="#4c1"/>"##));
        assert!(badge.contains(r#"<text x="14.0" y="14">foo</text>"#));
        assert!(badge.contains(r#"<text x="40.0" y="14">up</text>"#));
        let late = svg("db", BadgeStatus::Late);
        // "db" 14 + 10 = 24; "late" 3 + 7 + 5 + 6 = 21 + 10 = 31: centre 24 + 15.5.
        assert!(
            late.contains(r#"<text x="39.5" y="14">late</text>"#),
            "{late}"
        );
        assert!(svg("<b>", BadgeStatus::Down).contains(">&lt;b&gt;</text>"));
    }

    #[test]
    fn signatures_are_django_base64_hmac() {
        // Python: base64_hmac("key", "foo", "secret")[:8] with Django's signing helpers,
        // i.e. urlsafe_b64encode(hmac(sha1(b"keysecret").digest(), b"foo", sha1)).
        let sig = signature("key", "foo", "secret");
        assert_eq!(sig, "aJevA_bO");
        assert_ne!(sig, signature("key", "bar", "secret"));
        assert_ne!(sig, signature("key", "foo", "other"));
        assert!(
            sig.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
