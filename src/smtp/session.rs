//! One SMTP session: the client's commands go through mailin's state machine; the message
//! itself is read here, within the size limit, and its pings are recorded before the reply.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use mailin::{Action as Next, Response, SessionBuilder};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::command::{self, NULL_SENDER};
use super::limits::Permit;
use super::recipient;
use crate::domain::check::Action;
use crate::http::Limits;
use crate::ingest::{Ingest, IngestError};
use crate::store::{PingInput, PingOutcome};

/// Longest line taken, command or message, in bytes. RFC 5321 allows 1000; some mailers
/// write longer lines, so this is generous and only bounds what one line can hold.
const LINE_LIMIT: usize = 64 * 1024;
/// Longest `ua` kept, in characters, as for HTTP pings.
const MAX_UA_CHARS: usize = 200;

/// What every session of a listener shares.
#[derive(Debug)]
pub struct Context {
    /// The ping email domain, lowercase; also the name the server greets with.
    pub domain: String,
    pub max_message_size: usize,
    pub command_timeout: Duration,
    pub session_timeout: Duration,
    pub ingest: Ingest,
    /// The rate limits: a recipient draws on its check's ping limit.
    pub limits: Limits,
    /// Cancelled at shutdown: waiting sessions say goodbye and close.
    pub cancel: CancellationToken,
}

/// The envelope mailin accepted, taken when DATA starts.
#[derive(Debug)]
struct Envelope {
    from: String,
    to: Vec<String>,
}

/// mailin's view of the listener's rules: which recipients are taken, and where the
/// envelope goes when DATA starts.
struct Rules {
    domain: String,
    limits: Limits,
    envelope: Arc<Mutex<Option<Envelope>>>,
}

impl Rules {
    /// Takes a ping from the recipient's check limit; true when none was left.
    fn over_limit(&self, to: &str) -> bool {
        recipient::limit_key(to).is_some_and(|key| !self.limits.take_ping_to(&key))
    }
}

impl mailin::Handler for Rules {
    fn rcpt(&mut self, to: &str) -> Response {
        match recipient::accept(to, &self.domain) {
            // Over its check's limit, a recipient is deferred: the sender's mail server
            // tries again later, so the ping arrives late rather than never.
            Ok(()) if self.over_limit(to) => {
                tracing::debug!(recipient = to, "recipient over its check's ping limit");
                crate::metrics::email_recipient_refused("rate_limited");
                Response::custom(
                    450,
                    "4.7.1 Too many pings to this check, try again later".to_owned(),
                )
            }
            Ok(()) => mailin::response::OK,
            Err(refusal) => {
                tracing::debug!(
                    recipient = to,
                    reason = refusal.label(),
                    "recipient refused"
                );
                crate::metrics::email_recipient_refused(refusal.label());
                Response::custom(550, refusal.reply().to_owned())
            }
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let from = if from == NULL_SENDER { "" } else { from };
        *self.envelope.lock().unwrap_or_else(PoisonError::into_inner) = Some(Envelope {
            from: from.to_owned(),
            to: to.to_vec(),
        });
        mailin::response::OK
    }
}

/// How reading a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Line,
    /// Longer than [`LINE_LIMIT`]; read to its end and dropped.
    TooLong,
    Closed,
    TimedOut,
    SessionOver,
    ShuttingDown,
}

/// The client's connection, every read and write bounded by the command timeout and the
/// session's deadline.
struct Connection {
    io: BufReader<TcpStream>,
    deadline: Instant,
    command_timeout: Duration,
    cancel: CancellationToken,
}

impl Connection {
    fn until(&self) -> Instant {
        self.deadline.min(Instant::now() + self.command_timeout)
    }

    async fn read_line(&mut self, line: &mut Vec<u8>) -> Read {
        let until = self.until();
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Read::ShuttingDown,
            read = tokio::time::timeout_at(until, read_line(&mut self.io, line)) => match read {
                Ok(Ok(read)) => read,
                Ok(Err(_)) => Read::Closed,
                Err(_) if until >= self.deadline => Read::SessionOver,
                Err(_) => Read::TimedOut,
            },
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        tokio::time::timeout_at(self.until(), self.io.get_mut().write_all(bytes))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
    }

    async fn reply(&mut self, response: &Response) -> io::Result<()> {
        self.send(&response.buffer()?).await
    }

    /// Says why the session ends, when the client is there to hear it.
    async fn close(mut self, read: Read, domain: &str) {
        let reason = match read {
            Read::TimedOut => "4.4.2 Timeout waiting for the client",
            Read::SessionOver => "4.4.2 Session time limit reached",
            Read::ShuttingDown => "4.3.2 Service shutting down",
            Read::Line | Read::TooLong | Read::Closed => return,
        };
        if matches!(read, Read::TimedOut | Read::SessionOver) {
            crate::metrics::smtp_session_refused(match read {
                Read::TimedOut => "timeout",
                _ => "session_limit",
            });
        }
        let _ = self
            .send(format!("421 {reason}, closing connection ({domain})\r\n").as_bytes())
            .await;
    }
}

/// Reads one line, LF included. A line longer than [`LINE_LIMIT`] is read to its end but
/// not kept, so the session stays in step with the client.
async fn read_line<R: AsyncBufRead + Unpin>(io: &mut R, line: &mut Vec<u8>) -> io::Result<Read> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = io.fill_buf().await?;
        if available.is_empty() {
            return Ok(Read::Closed);
        }
        let (len, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if too_long || line.len() + len > LINE_LIMIT {
            too_long = true;
            line.clear();
        } else {
            line.extend_from_slice(&available[..len]);
        }
        io.consume(len);
        if ends {
            return Ok(if too_long { Read::TooLong } else { Read::Line });
        }
    }
}

/// How reading a message ended.
enum Data {
    Message(Vec<u8>),
    TooLarge,
    LineTooLong,
    Ended(Read),
}

/// Reads the message after `354`, up to the lone dot, undoing dot-stuffing. Beyond the size
/// limit, the rest is read and dropped so the reply comes in step.
async fn receive(conn: &mut Connection, max_size: usize) -> Data {
    let mut message = Vec::new();
    let mut line = Vec::new();
    let mut too_large = false;
    let mut line_too_long = false;
    loop {
        match conn.read_line(&mut line).await {
            Read::Line => {}
            Read::TooLong => {
                line_too_long = true;
                continue;
            }
            other => return Data::Ended(other),
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if too_large || line_too_long {
            continue;
        }
        if message.len() + content.len() > max_size {
            too_large = true;
            message = Vec::new();
        } else {
            message.extend_from_slice(content);
        }
    }
    if too_large {
        Data::TooLarge
    } else if line_too_long {
        Data::LineTooLong
    } else {
        Data::Message(message)
    }
}

/// Serves one client until it quits, a limit ends the session, or the server shuts down.
/// `_permit` holds the session's place under the session caps.
pub async fn run(stream: TcpStream, peer: SocketAddr, context: Arc<Context>, _permit: Permit) {
    let mut conn = Connection {
        io: BufReader::new(stream),
        deadline: Instant::now() + context.session_timeout,
        command_timeout: context.command_timeout,
        cancel: context.cancel.clone(),
    };
    let envelope = Arc::new(Mutex::new(None));
    let rules = Rules {
        domain: context.domain.clone(),
        limits: context.limits.clone(),
        envelope: Arc::clone(&envelope),
    };
    let mut smtp = SessionBuilder::new(context.domain.as_str()).build(peer.ip(), rules);
    if conn.reply(&smtp.greeting()).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        match conn.read_line(&mut line).await {
            Read::Line => {}
            Read::TooLong => {
                if conn.send(b"500 5.5.2 Line too long\r\n").await.is_err() {
                    return;
                }
                continue;
            }
            ended => return conn.close(ended, &context.domain).await,
        }
        let prepared = match command::prepare(&line, context.max_message_size) {
            Ok(prepared) => prepared,
            Err(refusal) => {
                if conn.reply(&refusal).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let response = smtp.process(&prepared);
        let sent = if command::is_ehlo(&line) && response.code == 250 {
            // mailin's EHLO answer cannot announce SIZE.
            let ehlo = format!(
                "250-{}\r\n250-8BITMIME\r\n250 SIZE {}\r\n",
                context.domain, context.max_message_size
            );
            conn.send(ehlo.as_bytes()).await
        } else if response.code == 354 {
            if conn.reply(&response).await.is_err() {
                return;
            }
            let data = receive(&mut conn, context.max_message_size).await;
            // Back to mailin's state after a message; its own reply is not the one sent.
            smtp.process(b".\r\n");
            let taken = envelope
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let reply = match data {
                Data::Ended(ended) => return conn.close(ended, &context.domain).await,
                data => answer(&context, peer, data, taken).await,
            };
            conn.reply(&reply).await
        } else if response.action == Next::NoReply {
            Ok(())
        } else {
            conn.reply(&response).await
        };
        if sent.is_err() || response.action == Next::Close {
            return;
        }
    }
}

/// The reply to a message read to its end: refused for its size or its lines, or recorded
/// as a ping of every recipient's check (`250` once all are committed; recipients naming no
/// check are skipped) or not (`451`, so the sender tries again).
async fn answer(
    context: &Context,
    peer: SocketAddr,
    data: Data,
    envelope: Option<Envelope>,
) -> Response {
    let (message, envelope) = match (data, envelope) {
        (Data::TooLarge, _) => {
            crate::metrics::email_message("too_large");
            return command::too_large();
        }
        (Data::LineTooLong, _) => {
            crate::metrics::email_message("line_too_long");
            return Response::custom(500, "5.5.2 Line too long".to_owned());
        }
        (Data::Message(message), Some(envelope)) => (Bytes::from(message), envelope),
        // mailin starts DATA only with an envelope; nothing else can end a message.
        (Data::Message(_) | Data::Ended(_), _) => return mailin::response::INTERNAL_ERROR,
    };
    match record(context, peer, &envelope, message).await {
        Ok(()) => {
            crate::metrics::email_message("accepted");
            mailin::response::OK
        }
        Err(err) => {
            tracing::error!(error = %err, "email ping not recorded");
            crate::metrics::email_message("failed");
            Response::custom(
                451,
                "4.3.0 Local error in processing, try again later".to_owned(),
            )
        }
    }
}

async fn record(
    context: &Context,
    peer: SocketAddr,
    envelope: &Envelope,
    message: Bytes,
) -> Result<(), IngestError> {
    let ua: String = format!("Email from {}", envelope.from)
        .chars()
        .take(MAX_UA_CHARS)
        .collect();
    let remote_addr = peer.ip().to_canonical().to_string();
    for address in &envelope.to {
        let Some(target) = recipient::target(address) else {
            tracing::debug!(recipient = %address, "check not found");
            crate::metrics::email_recipient_skipped("not_found");
            continue;
        };
        let input = PingInput {
            target,
            url_action: Action::Success,
            exit_status: None,
            rid: None,
            reject: None,
            remote_addr: Some(remote_addr.clone()),
            scheme: super::SCHEME.to_owned(),
            method: String::new(),
            ua: ua.clone(),
            // The whole message, as healthchecks.io keeps it: `OVERDUE_PING_BODY_LIMIT` is for
            // HTTP bodies, and the message size limit already bounds this one.
            body: message.clone(),
        };
        match context.ingest.record(input).await? {
            PingOutcome::Recorded { .. } => {}
            PingOutcome::NotFound | PingOutcome::Rejected(_) => {
                tracing::debug!(recipient = %address, "check not found");
                crate::metrics::email_recipient_skipped("not_found");
            }
            PingOutcome::AmbiguousSlug => {
                tracing::debug!(recipient = %address, "ambiguous slug");
                crate::metrics::email_recipient_skipped("ambiguous");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<(Read, String)> {
        let mut io = input;
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let read = read_line(&mut io, &mut line).await.expect("read");
            if read == Read::Closed {
                return out;
            }
            out.push((read, String::from_utf8_lossy(&line).into_owned()));
        }
    }

    #[tokio::test]
    async fn lines_over_the_limit_are_dropped_whole() {
        let mut input = b"HELO a\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', LINE_LIMIT + 10));
        input.extend(b"\r\n.\r\nQUIT\r\npartial");
        assert_eq!(
            lines(&input).await,
            vec![
                (Read::Line, "HELO a\r\n".to_owned()),
                (Read::TooLong, String::new()),
                (Read::Line, ".\r\n".to_owned()),
                (Read::Line, "QUIT\r\n".to_owned()),
            ]
        );
    }
}
