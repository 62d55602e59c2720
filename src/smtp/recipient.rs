//! Recipient addresses: which ones the listener takes (healthchecks.io smtpd's `handle_RCPT`)
//! and which check each one names.

use uuid::Uuid;

use crate::store::PingTarget;

/// Why a recipient is refused at `RCPT TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not at the ping email domain: `550 5.1.1 Recipient rejected`.
    OtherDomain,
    /// At the domain, but neither `<uuid>` nor `<ping key>+<slug>`: `550 5.1.1 Invalid mailbox`.
    BadMailbox,
}

impl Refusal {
    /// The reply text after the code, as healthchecks.io words it.
    pub fn reply(self) -> &'static str {
        match self {
            Refusal::OtherDomain => "5.1.1 Recipient rejected",
            Refusal::BadMailbox => "5.1.1 Invalid mailbox",
        }
    }

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::OtherDomain => "domain",
            Refusal::BadMailbox => "mailbox",
        }
    }
}

/// Checks a `RCPT TO` address against the ping email domain (lowercase).
pub fn accept(address: &str, domain: &str) -> Result<(), Refusal> {
    let (mailbox, at) = address.split_once('@').ok_or(Refusal::OtherDomain)?;
    // healthchecks.io compares the domain exactly; domains are case-insensitive (RFC 5321).
    if !at.eq_ignore_ascii_case(domain) {
        return Err(Refusal::OtherDomain);
    }
    if is_uuid_mailbox(mailbox) || slug_mailbox(mailbox).is_some() {
        Ok(())
    } else {
        Err(Refusal::BadMailbox)
    }
}

/// The key of the check's ping rate limit, as HTTP pings to it use: its UUID, or
/// `<ping key>/<slug>`.
pub fn limit_key(address: &str) -> Option<String> {
    Some(match target(address)? {
        PingTarget::Code(code) => code.to_string(),
        PingTarget::Slug { ping_key, slug, .. } => format!("{ping_key}/{slug}"),
    })
}

/// The check an accepted address names; `None` when it names none (the UUID pattern admits
/// a `|`, as healthchecks.io's does, which is no UUID).
pub fn target(address: &str) -> Option<PingTarget> {
    let (mailbox, _) = address.split_once('@')?;
    if let Some((ping_key, slug)) = slug_mailbox(mailbox) {
        return Some(PingTarget::Slug {
            ping_key: ping_key.to_owned(),
            slug: slug.to_owned(),
            create: false,
        });
    }
    is_uuid_mailbox(mailbox)
        .then(|| Uuid::parse_str(mailbox).ok())
        .flatten()
        .map(PingTarget::Code)
}

/// healthchecks.io's `RE_UUID`: a version 4 UUID in either case,
/// `^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-4[a-fA-F0-9]{3}-[8|9|aA|bB][a-fA-F0-9]{3}-[a-fA-F0-9]{12}$`.
fn is_uuid_mailbox(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            14 => b == b'4',
            19 => b"89aAbB|".contains(&b),
            _ => b.is_ascii_hexdigit(),
        })
}

/// healthchecks.io's `RE_PING_KEY_SLUG`, `^[a-zA-Z0-9_-]{22}\+[a-z0-9-_]+$`: the ping key and
/// the slug.
fn slug_mailbox(s: &str) -> Option<(&str, &str)> {
    let (ping_key, slug) = s.split_once('+')?;
    let key_ok = ping_key.len() == 22
        && ping_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let slug_ok = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    (key_ok && slug_ok).then_some((ping_key, slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "3f1c7a2e-5b6d-4e8f-9a0b-1c2d3e4f5a6b";
    const KEY: &str = "abcdefghij0123456789xy";

    #[test]
    fn uuid_and_slug_mailboxes_at_the_domain_are_accepted() {
        assert_eq!(
            accept(&format!("{CODE}@hc.example.org"), "hc.example.org"),
            Ok(())
        );
        assert_eq!(
            accept(
                &format!("{}@HC.Example.org", CODE.to_uppercase()),
                "hc.example.org"
            ),
            Ok(())
        );
        assert_eq!(
            accept(
                &format!("{KEY}+db-backup_2@hc.example.org"),
                "hc.example.org"
            ),
            Ok(())
        );
    }

    #[test]
    fn other_domains_are_rejected_before_the_mailbox_is_looked_at() {
        for address in [
            format!("{CODE}@example.org"),
            format!("{CODE}@hc.example.org.evil"),
            "no-at-sign".to_owned(),
            format!("{CODE}@hc.example.org@x"),
            "junk@example.org".to_owned(),
        ] {
            assert_eq!(
                accept(&address, "hc.example.org"),
                Err(Refusal::OtherDomain),
                "{address}"
            );
        }
    }

    #[test]
    fn mailboxes_that_name_no_check_are_invalid() {
        for mailbox in [
            "postmaster".to_owned(),
            CODE.replace('-', ""),
            // Not version 4.
            CODE.replacen("4e8f", "1e8f", 1),
            // A ping key one character short, an uppercase slug, an empty slug.
            format!("{}+slug", &KEY[1..]),
            format!("{KEY}+Slug"),
            format!("{KEY}+"),
            format!("{KEY}+a+b"),
        ] {
            assert_eq!(
                accept(&format!("{mailbox}@hc.example.org"), "hc.example.org"),
                Err(Refusal::BadMailbox),
                "{mailbox}"
            );
        }
    }

    #[test]
    fn targets_name_the_check_by_code_or_by_slug() {
        let code = Uuid::parse_str(CODE).expect("uuid");
        assert_eq!(
            target(&format!("{}@d", CODE.to_uppercase())),
            Some(PingTarget::Code(code))
        );
        assert_eq!(
            target(&format!("{KEY}+nightly@d")),
            Some(PingTarget::Slug {
                ping_key: KEY.to_owned(),
                slug: "nightly".to_owned(),
                create: false,
            })
        );
        // The pattern's `|` passes RCPT but names no check.
        let piped = format!("{}|{}", &CODE[..19], &CODE[20..]);
        assert_eq!(accept(&format!("{piped}@d"), "d"), Ok(()));
        assert_eq!(target(&format!("{piped}@d")), None);
    }
}
