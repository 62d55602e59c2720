//! Email pings: an SMTP listener that turns mail to `<uuid>@<ping email domain>` and
//! `<ping key>+<slug>@<ping email domain>` into pings, as healthchecks.io's `smtpd` does.
//!
//! mailin runs the SMTP conversation; the listener adds what a public port needs: caps on
//! sessions (in all and per client), a timeout per command, a time limit per session, and
//! limits on message size and line length. A message is recorded through the same ping
//! writers as HTTP pings, and `250` is sent only once its pings are committed.

pub mod classify;
mod command;
mod limits;
mod recipient;
mod session;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::http::AppState;
use limits::SessionLimits;
use session::Context;

/// The `scheme` of email pings. It also tells the ping writers to classify a ping by the
/// email keyword filters; HTTP pings are `http` or `https`.
pub const SCHEME: &str = "email";

/// The refusal sent to a client over a session cap, before the connection is closed.
const BUSY: &[u8] = b"421 4.7.0 Too many connections, try again later\r\n";

/// Takes mail on `listener` until `cancel` is cancelled; then sessions waiting for the
/// client are told `421` and closed, and a message being recorded is finished and answered.
/// Returns once every session has ended.
pub async fn serve(listener: TcpListener, state: AppState, cancel: CancellationToken) {
    let config = &state.config;
    let context = Arc::new(Context {
        domain: config.ping_email_domain(),
        max_message_size: config.smtp_max_message_size,
        command_timeout: config.smtp_command_timeout.duration(),
        session_timeout: config.smtp_session_timeout.duration(),
        ingest: state.ingest.clone(),
        limits: state.limits.clone(),
        cancel: cancel.clone(),
    });
    let limits = SessionLimits::new(
        config.smtp_max_sessions,
        config.smtp_max_sessions_per_address,
    );
    let sessions = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %err, "cannot accept an SMTP connection");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        match limits.enter(peer.ip()) {
            Ok(permit) => {
                let _ = stream.set_nodelay(true);
                let span = tracing::debug_span!("smtp", peer = %peer);
                sessions.spawn(
                    session::run(stream, peer, Arc::clone(&context), permit).instrument(span),
                );
            }
            Err(busy) => {
                tracing::debug!(peer = %peer, reason = busy.label(), "SMTP session refused");
                crate::metrics::smtp_session_refused(busy.label());
                // A fresh socket's send buffer is empty: this never waits, so a flood of
                // connections cannot stall the accept loop.
                let _ = stream.try_write(BUSY);
            }
        }
    }
    drop(listener);
    sessions.close();
    sessions.wait().await;
}
