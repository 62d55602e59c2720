//! The HTTP surface: every route in one place, with the layers around them.

pub mod api;
pub mod badges;
mod limits;
mod ping;
mod prometheus;
mod site;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ErrorDetail;
use crate::ingest::Ingest;
use crate::store::Store;
pub use limits::Limits;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub ingest: Ingest,
    /// `config.site_root()`, computed once.
    pub site_root: Arc<str>,
    /// The domain of ping email addresses when the site takes mail (`OVERDUE_SMTP_LISTEN`).
    pub ping_email_domain: Option<Arc<str>>,
    /// The site's secret (badge signatures), shared by every process through the database.
    pub secret: Arc<str>,
    /// The rate limiters, shared by every route.
    pub limits: Limits,
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let pings = Router::new()
        .route("/ping/{*rest}", any(ping::ping))
        .route("/ping/", any(ping::ping));
    let mut router = state
        .limits
        .pings(pings)
        .route(
            "/integrations/{code}/verify/{token}/",
            get(site::verify_email),
        )
        .route("/metrics", get(site::metrics))
        .route(
            "/projects/{code}/metrics/{key}",
            get(prometheus::metrics_with_key),
        )
        .route(
            "/projects/{code}/checks/metrics/{key}",
            get(prometheus::metrics_with_key),
        )
        .route(
            "/projects/{code}/metrics/",
            get(prometheus::metrics_with_header),
        );
    let badges = Router::new()
        .route("/badge/{key}/{sig}/{file}", get(badges::tag_badge))
        .route("/badge/{key}/{file}", get(badges::all_badge))
        .route("/b/{states}/{file}", get(badges::check_badge))
        .layer(middleware::from_fn(api::cors));
    router = router.merge(badges);
    router = router.merge(web::routes(&state.limits));
    for version in 1..=3 {
        router = router.merge(api::routes(version, &state.limits));
    }
    router
        .fallback(|| async { crate::error::not_found() })
        .layer(middleware::from_fn(api::known_paths))
        .layer(middleware::from_fn(log_server_errors))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// Logs the cause of each 5xx answer once, here rather than where it was made.
async fn log_server_errors(request: Request, next: Next) -> Response {
    // Cheap clones: no allocation for standard methods, and the URI shares its bytes.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    if response.status().is_server_error() {
        let detail = response
            .extensions()
            .get::<ErrorDetail>()
            .map(|d| d.0.as_str());
        tracing::error!(%method, path = uri.path(), status = %response.status(), error = detail.unwrap_or("-"), "server error");
    }
    response
}
