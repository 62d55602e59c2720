//! The one error type at the HTTP edge, mapped to responses in one place.
//!
//! API errors have healthchecks.io's shape, `{"error": "…"}`, with its messages. A server
//! error is answered with a bare 500; its cause rides along in an [`ErrorDetail`] extension
//! for the logging middleware, and never reaches the client.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// The cause of a 5xx answer, for the log; attached to the response, never sent.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 with a message (`json validation error: …`, `could not parse request body`).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401 `missing api key` / `wrong api key`.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403 with an empty body, as healthchecks.io (another project's check, check limit).
    #[error("forbidden")]
    Forbidden,
    /// 404 with Django's page, as healthchecks.io answers an unknown UUID.
    #[error("not found")]
    NotFound,
    /// 404 with an empty body: no check of the project has the `unique_key` asked for.
    #[error("no match")]
    NoMatch,
    /// 409 with a plain-text message (`check is not paused`).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Any other failure of ours (a blocking task that panicked, …): a bare 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let json = |status: StatusCode, message: &str| {
            (status, Json(serde_json::json!({ "error": message }))).into_response()
        };
        match self {
            AppError::BadRequest(message) => json(StatusCode::BAD_REQUEST, &message),
            AppError::Unauthorized(message) => json(StatusCode::UNAUTHORIZED, message),
            AppError::Forbidden => empty(StatusCode::FORBIDDEN),
            AppError::NotFound => not_found(),
            AppError::NoMatch => empty(StatusCode::NOT_FOUND),
            // healthchecks.io answers these with Django's default, text/html.
            AppError::Conflict(message) => (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                message,
            )
                .into_response(),
            AppError::Store(_) | AppError::Internal(_) => {
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response
                    .extensions_mut()
                    .insert(ErrorDetail(self.to_string()));
                response
            }
        }
    }
}

/// Django's default 404 page, which healthchecks.io answers unknown objects and paths with.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n\
         <body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n\
         </body>\n</html>\n",
    )
        .into_response()
}

/// An answer without a body, typed as Django types it (`HttpResponseForbidden()` and the like).
pub fn empty(status: StatusCode) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")]).into_response()
}
