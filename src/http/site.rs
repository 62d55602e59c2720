//! Pages outside the API that links in email lead to, and the service metrics.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use uuid::Uuid;

use super::AppState;
use crate::error::AppError;
use crate::keys::hash_secret;

/// `GET /integrations/<uuid>/verify/<token>/`: the link of an email channel's verification
/// mail. Only the newest link mailed works, once.
pub async fn verify_email(
    State(state): State<AppState>,
    Path((code, token)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Ok(code) = Uuid::parse_str(&code) else {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            "This verification link is not valid.",
        ));
    };
    if state
        .store
        .verify_channel(code, &hash_secret(&token))
        .await?
    {
        Ok(page(
            StatusCode::OK,
            "Email address verified",
            "Thank you. This address will now receive the alerts it was set up for.",
        ))
    } else {
        Ok(page(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            "This verification link is not valid, or it has been used already.",
        ))
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Overdue</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; \
         padding: 0 1rem\"><h1>{title}</h1><p>{text}</p></body></html>"
    );
    (status, Html(body)).into_response()
}

/// `GET /metrics`: the service's metrics in Prometheus's text format.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let stats = state.store.outbox_stats().await?;
    let now = state.clock.now().timestamp_millis();
    let oldest = stats
        .oldest_pending
        .map(|created| chrono::Duration::milliseconds((now - created).max(0)));
    let text = crate::metrics::render(stats.pending, stats.dead, oldest);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
