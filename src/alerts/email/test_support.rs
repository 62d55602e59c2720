//! Notices and a small MIME reader for the email tests.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::alerts::{Direction, Notice};
use crate::store::{CheckRecord, PingRecord};

pub(super) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// A down notice for a named, pinged check with a success ping on record.
pub(super) fn down_notice() -> Notice {
    let created = at(2026, 3, 7, 9, 0);
    let mut check = CheckRecord::new(1, created);
    check.name = "Nightly backup".to_owned();
    check.tags = "prod  db".to_owned();
    check.desc = "Dumps the main database.".to_owned();
    check.state.n_pings = 42;
    let code = check.code;
    Notice {
        id: Uuid::new_v4(),
        direction: Direction::Down,
        reason: "timeout".to_owned(),
        changed_at: at(2026, 11, 5, 13, 0),
        downtime: None,
        is_test: false,
        check,
        check_json: serde_json::json!({}),
        project_name: "Backups".to_owned(),
        last_ping: Some(ping(None, at(2026, 11, 4, 11, 58))),
        check_url: format!("https://overdue.example.org/checks/{code}/details/"),
    }
}

/// An up notice after `downtime`, otherwise like [`down_notice`].
pub(super) fn up_notice(downtime: Duration) -> Notice {
    Notice {
        direction: Direction::Up,
        reason: String::new(),
        downtime: Some(downtime),
        ..down_notice()
    }
}

pub(super) fn ping(kind: Option<&str>, created: DateTime<Utc>) -> PingRecord {
    PingRecord {
        n: 42,
        created,
        kind: kind.map(str::to_owned),
        scheme: "https".to_owned(),
        remote_addr: Some("203.0.113.7".to_owned()),
        method: "POST".to_owned(),
        ua: "curl/8.5.0".to_owned(),
        body: None,
        exit_status: None,
        rid: None,
    }
}

/// One part of a parsed message: its headers (unfolded) and decoded body.
#[derive(Debug)]
pub(super) struct Part {
    pub headers: String,
    pub body: String,
}

impl Part {
    /// The value of the first header called `name`, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }
}

/// A parsed message: top-level headers and its text and HTML parts.
#[derive(Debug)]
pub(super) struct Parsed {
    pub headers: String,
    pub parts: Vec<Part>,
}

impl Parsed {
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    /// The decoded body of the part whose content type starts with `content_type`.
    pub fn part(&self, content_type: &str) -> &str {
        self.parts
            .iter()
            .find(|p| {
                p.header("Content-Type")
                    .is_some_and(|t| t.starts_with(content_type))
            })
            .map(|p| p.body.as_str())
            .unwrap_or_else(|| panic!("no {content_type} part in {self:#?}"))
    }
}

/// Reads a multipart/alternative message as lettre writes it (and as a Maildir stores it:
/// possibly with bare LF line ends).
pub(super) fn parse(raw: &[u8]) -> Parsed {
    let raw = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let (headers, body) = raw.split_once("\n\n").expect("headers end");
    let content_type = header(headers, "Content-Type").expect("Content-Type");
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("multipart boundary")
        .trim_matches('"')
        .to_owned();
    let delimiter = format!("--{boundary}");
    let parts = body
        .split(&delimiter)
        .skip(1)
        .filter(|chunk| !chunk.starts_with("--"))
        .map(|chunk| {
            let chunk = chunk.trim_start_matches('\n');
            let (headers, encoded) = chunk.split_once("\n\n").expect("part headers end");
            let encoding = header(headers, "Content-Transfer-Encoding").unwrap_or_default();
            Part {
                headers: headers.to_owned(),
                // The line break before a delimiter belongs to the delimiter (RFC 2046).
                body: decode(encoded.strip_suffix('\n').unwrap_or(encoded), &encoding),
            }
        })
        .collect();
    Parsed {
        headers: headers.to_owned(),
        parts,
    }
}

fn header(headers: &str, name: &str) -> Option<String> {
    let unfolded = headers.replace("\n ", " ").replace("\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

fn decode(body: &str, encoding: &str) -> String {
    use base64::Engine as _;
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 body");
            String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_owned(),
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let bytes = body.replace("=\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex digits");
            out.push(u8::from_str_radix(hex, 16).expect("quoted-printable escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}
