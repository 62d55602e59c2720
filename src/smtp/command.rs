//! Client lines as mailin can take them. mailin's parser knows no ESMTP parameter but
//! `BODY=`, no null sender and no space after the colon; since the listener announces SIZE,
//! clients may send `SIZE=`, which is checked here and then dropped.

use std::borrow::Cow;

use mailin::Response;

/// mailin cannot parse the null reverse path `<>` (bounces); it is handed over as this,
/// which no real address is, and read back as the empty sender.
pub const NULL_SENDER: &str = "@";

/// The reply to a `SIZE=` above the limit, and to a message that turns out larger.
pub fn too_large() -> Response {
    Response::custom(
        552,
        "5.3.4 Message size exceeds fixed maximum message size".to_owned(),
    )
}

/// Whether the line is an `EHLO` command.
pub fn is_ehlo(line: &[u8]) -> bool {
    starts_with_ignore_case(line, b"EHLO ")
}

/// The line to give mailin: `MAIL FROM` and `RCPT TO` rewritten to the plain form it
/// parses, anything else as it came. `Err` is the reply to a `MAIL FROM` whose `SIZE=`
/// exceeds `max_size`.
pub fn prepare(line: &[u8], max_size: usize) -> Result<Cow<'_, [u8]>, Response> {
    let text = line.strip_suffix(b"\r\n").unwrap_or(line);
    if let Some(rest) = strip_prefix_ignore_case(text, b"MAIL FROM:") {
        let Some((path, params)) = split_path(rest) else {
            return Ok(Cow::Borrowed(line));
        };
        let path = if path.is_empty() { NULL_SENDER } else { path };
        let mut eight_bit = false;
        for param in params.split_ascii_whitespace() {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            if key.eq_ignore_ascii_case("SIZE") {
                // RFC 1870: a client that knows the size says so, and is refused at once.
                let declared = value.parse::<u64>().unwrap_or(0);
                if declared > u64::try_from(max_size).unwrap_or(u64::MAX) {
                    return Err(too_large());
                }
            } else if key.eq_ignore_ascii_case("BODY") {
                eight_bit = value.eq_ignore_ascii_case("8BITMIME");
            }
        }
        let body = if eight_bit { " BODY=8BITMIME" } else { "" };
        return Ok(Cow::Owned(
            format!("MAIL FROM:<{path}>{body}\r\n").into_bytes(),
        ));
    }
    if let Some(rest) = strip_prefix_ignore_case(text, b"RCPT TO:") {
        return Ok(match split_path(rest) {
            Some((path, _)) if !path.is_empty() => {
                Cow::Owned(format!("RCPT TO:<{path}>\r\n").into_bytes())
            }
            _ => Cow::Borrowed(line),
        });
    }
    Ok(Cow::Borrowed(line))
}

/// The address and the parameters after `FROM:` or `TO:`: `<path> params`, or a bare
/// address as lenient servers take it. A source route (`<@relay:user@host>`) is dropped,
/// as RFC 5321 asks. `None` when the address is not one mailin could take.
fn split_path(rest: &[u8]) -> Option<(&str, &str)> {
    let rest = std::str::from_utf8(rest).ok()?.trim_start();
    let (path, params) = match rest.strip_prefix('<') {
        Some(inside) => inside.split_once('>')?,
        None => rest.split_once(' ').unwrap_or((rest, "")),
    };
    let path = match path.split_once(':') {
        Some((route, address)) if route.starts_with('@') => address,
        _ => path,
    };
    if path.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
        return None;
    }
    Some((path, params))
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn strip_prefix_ignore_case<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    starts_with_ignore_case(line, prefix).then(|| &line[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(line: &str) -> String {
        let out = prepare(line.as_bytes(), 1000).expect("not refused");
        String::from_utf8(out.into_owned()).expect("text")
    }

    #[test]
    fn mail_and_rcpt_lose_their_parameters() {
        assert_eq!(
            prepared("MAIL FROM:<a@b.org> SIZE=10 SMTPUTF8\r\n"),
            "MAIL FROM:<a@b.org>\r\n"
        );
        assert_eq!(
            prepared("mail from: <a@b.org> body=8bitmime\r\n"),
            "MAIL FROM:<a@b.org> BODY=8BITMIME\r\n"
        );
        assert_eq!(
            prepared("RCPT TO:<x@y.org> NOTIFY=NEVER\r\n"),
            "RCPT TO:<x@y.org>\r\n"
        );
        assert_eq!(prepared("rcpt to:x@y.org\r\n"), "RCPT TO:<x@y.org>\r\n");
        assert_eq!(
            prepared("RCPT TO:<@relay.org:x@y.org>\r\n"),
            "RCPT TO:<x@y.org>\r\n"
        );
    }

    #[test]
    fn the_null_sender_gets_a_placeholder() {
        assert_eq!(prepared("MAIL FROM:<>\r\n"), "MAIL FROM:<@>\r\n");
    }

    #[test]
    fn a_declared_size_above_the_limit_is_refused() {
        let refused = prepare(b"MAIL FROM:<a@b.org> SIZE=1001\r\n", 1000).expect_err("too big");
        assert_eq!(
            refused.buffer().expect("text"),
            b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"
        );
        assert!(prepare(b"MAIL FROM:<a@b.org> SIZE=1000\r\n", 1000).is_ok());
    }

    #[test]
    fn other_lines_pass_unchanged() {
        assert_eq!(prepared("EHLO client\r\n"), "EHLO client\r\n");
        assert_eq!(prepared("RCPT TO:<>\r\n"), "RCPT TO:<>\r\n");
        assert_eq!(prepared("MAIL FROM:<a b@c>\r\n"), "MAIL FROM:<a b@c>\r\n");
        assert!(is_ehlo(b"ehlo x\r\n"));
        assert!(!is_ehlo(b"HELO x\r\n"));
    }
}
