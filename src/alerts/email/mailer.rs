//! Delivering messages to one SMTP relay, and judging failures: does retrying make sense?

use std::error::Error as _;
use std::time::Duration;

use lettre::transport::smtp::{self, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::alerts::Outcome;

/// How long lettre waits for the TCP connection to the relay.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one whole delivery may take. lettre's async transport bounds only the connect
/// step, so a relay that stalls mid-conversation is cut off here; a healthy exchange is a few
/// round trips of [`COMMAND_TIMEOUT`] at most.
pub(crate) const SEND_DEADLINE: Duration = Duration::from_secs(30);

/// SMTP client for alert and verification email, configured by one URL
/// (`smtp://host:port`, `smtps://user:pass@host`, `smtp://host?tls=required`).
#[derive(Debug)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    deadline: Duration,
}

impl Mailer {
    /// Builds a mailer for `smtp_url`; nothing is connected until the first send.
    ///
    /// Must run inside a Tokio runtime: lettre starts its pool's housekeeping task here.
    pub fn new(smtp_url: &str) -> Result<Mailer, String> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("The SMTP mailer needs a Tokio runtime".to_owned());
        }
        // The URL may carry a password: the error names the problem, never the URL.
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("Invalid SMTP URL: {e}"))?;
        let transport = builder
            .timeout(Some(COMMAND_TIMEOUT))
            // No connection reuse: a send cut off by the deadline would hand the pool a
            // connection whose replies are out of step with its commands.
            .pool_config(PoolConfig::new().min_idle(0).max_size(0))
            .build();
        Ok(Mailer {
            transport,
            deadline: SEND_DEADLINE,
        })
    }

    /// Delivers `message` to the relay. A failure is permanent only when the relay refused
    /// the message for good (a 5xx reply), and not when it refused our credentials.
    pub async fn send(&self, message: Message) -> Outcome {
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Ok(Ok(_)) => Outcome::Delivered { status: None },
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "SMTP delivery failed");
                outcome_from_error(&err)
            }
            Err(_) => {
                tracing::warn!(deadline = ?self.deadline, "SMTP delivery timed out");
                Outcome::failed("SMTP timed out", false)
            }
        }
    }
}

/// Maps a lettre error to what the dispatcher records and whether it should retry.
fn outcome_from_error(err: &smtp::Error) -> Outcome {
    if let Some(code) = err.status() {
        let text = err.source().map(ToString::to_string).unwrap_or_default();
        let error = format!("SMTP error: {code} {text}");
        return Outcome::failed(error.trim_end(), is_permanent_reply(u16::from(code)));
    }
    if err.is_timeout() {
        return Outcome::failed("SMTP timed out", false);
    }
    if err.is_tls() {
        return Outcome::failed(format!("SMTP TLS error: {}", cause(err)), false);
    }
    if err.is_response() {
        return Outcome::failed("Invalid response from SMTP server", false);
    }
    if err.is_client() {
        return Outcome::failed(format!("SMTP client error: {}", cause(err)), false);
    }
    Outcome::failed("Could not connect to SMTP server", false)
}

/// Whether a negative SMTP reply means this message can never be delivered. 5xx replies do,
/// except the authentication ones (RFC 4954: 530, 534, 535, 538): those say the relay
/// configuration is wrong, which an operator can fix, and nothing about the recipient.
fn is_permanent_reply(code: u16) -> bool {
    (500..600).contains(&code) && !matches!(code, 530 | 534 | 535 | 538)
}

/// The innermost message of an error chain, which names the actual problem.
fn cause(err: &smtp::Error) -> String {
    let mut current: &dyn std::error::Error = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use lettre::message::Mailbox;

    use super::*;
    use crate::alerts::email::alert_message;
    use crate::alerts::email::test_support::down_notice;

    fn sender() -> Mailbox {
        "Overdue <alerts@mail.example.org>".parse().unwrap()
    }

    fn alert() -> Message {
        alert_message(&down_notice(), &sender(), "alice@example.org", "Overdue").unwrap()
    }

    /// A one-connection SMTP server that answers RCPT with `rcpt_reply` and accepts the rest.
    fn scripted_server(rcpt_reply: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            writer.write_all(b"220 scripted ESMTP\r\n").unwrap();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let reply = match verb.as_str() {
                    "EHLO" | "HELO" => "250 scripted\r\n",
                    "RCPT" => rcpt_reply,
                    "QUIT" => "221 bye\r\n",
                    _ => "250 OK\r\n",
                };
                if writer.write_all(reply.as_bytes()).is_err() || verb == "QUIT" {
                    break;
                }
            }
        });
        port
    }

    fn mailer_for(port: u16) -> Mailer {
        Mailer::new(&format!("smtp://127.0.0.1:{port}")).unwrap()
    }

    #[tokio::test]
    async fn rejected_recipient_is_a_permanent_failure() {
        let port = scripted_server("550 5.1.1 No such user here\r\n");
        let outcome = mailer_for(port).send(alert()).await;
        assert_eq!(
            outcome,
            Outcome::failed("SMTP error: 550 5.1.1 No such user here", true)
        );
    }

    #[tokio::test]
    async fn deferred_recipient_is_a_transient_failure() {
        let port = scripted_server("451 4.3.0 Try again later\r\n");
        let outcome = mailer_for(port).send(alert()).await;
        assert_eq!(
            outcome,
            Outcome::failed("SMTP error: 451 4.3.0 Try again later", false)
        );
    }

    #[tokio::test]
    async fn refused_connection_is_a_transient_failure() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let outcome = mailer_for(port).send(alert()).await;
        assert_eq!(
            outcome,
            Outcome::failed("Could not connect to SMTP server", false)
        );
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        // The kernel completes the handshake for a listening socket nobody accepts on, so
        // the client connects and then waits for a greeting that never comes.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mailer = Mailer {
            deadline: Duration::from_millis(300),
            ..mailer_for(port)
        };
        let outcome = mailer.send(alert()).await;
        assert_eq!(outcome, Outcome::failed("SMTP timed out", false));
        drop(listener);
    }

    #[test]
    fn authentication_refusals_are_not_permanent() {
        assert!(is_permanent_reply(550));
        assert!(is_permanent_reply(554));
        assert!(!is_permanent_reply(535));
        assert!(!is_permanent_reply(530));
        assert!(!is_permanent_reply(421));
    }

    #[tokio::test]
    async fn invalid_url_is_reported_without_echoing_it() {
        let err = Mailer::new("ftp://user:secret@example.org").unwrap_err();
        assert!(err.starts_with("Invalid SMTP URL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn mailer_outside_a_runtime_is_an_error() {
        let err = Mailer::new("smtp://127.0.0.1:2525").unwrap_err();
        assert_eq!(err, "The SMTP mailer needs a Tokio runtime");
    }
}
