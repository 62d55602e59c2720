//! Rate limits: per API key on the Management API, per source address and per check on
//! pings. A request over a limit gets 429 with `Retry-After` before any handler runs, so
//! it changes nothing. Each limit is a token bucket (tower_governor) held in this process.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorLayer;
use tower_governor::errors::GovernorError;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use super::ping::forwarded_for;
use crate::config::{Config, Rate};

/// Largest API request body read to find an `api_key` in it (axum's own default limit).
const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

type Limiter<K> = Arc<GovernorConfig<K, NoOpMiddleware>>;

/// The limiters the settings ask for; `None` where a limit is off.
#[derive(Clone)]
pub struct Limits {
    api: Option<Limiter<ApiCaller>>,
    ping_source: Option<Limiter<Source>>,
    ping_check: Option<Limiter<PingTarget>>,
    login: Option<Limiter<Source>>,
    /// Invitations by user id: each one may mail a stranger.
    invite: Option<Arc<governor::DefaultKeyedRateLimiter<i64>>>,
}

impl fmt::Debug for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limits")
            .field("api", &self.api.is_some())
            .field("ping_source", &self.ping_source.is_some())
            .field("ping_check", &self.ping_check.is_some())
            .field("login", &self.login.is_some())
            .field("invite", &self.invite.is_some())
            .finish()
    }
}

impl Limits {
    pub fn new(config: &Arc<Config>) -> Limits {
        let on = |rate: Rate| if config.rate_limits { rate } else { Rate::OFF };
        Limits {
            api: limiter(
                ApiCaller(Source(Arc::clone(config))),
                on(config.rate_limit_api),
            )
            .finish(),
            ping_source: limiter(
                Source(Arc::clone(config)),
                on(config.rate_limit_ping_source),
            )
            .finish(),
            ping_check: limiter(PingTarget, on(config.rate_limit_ping_check)).finish(),
            // Only attempts count: showing the form is free.
            login: limiter(Source(Arc::clone(config)), on(config.rate_limit_login))
                .methods(vec![Method::POST])
                .finish(),
            invite: on(config.rate_limit_invite)
                .quota()
                .and_then(|(burst, interval)| {
                    let quota = governor::Quota::with_period(interval)?
                        .allow_burst(NonZeroU32::new(burst)?);
                    Some(Arc::new(governor::RateLimiter::keyed(quota)))
                }),
        }
    }

    /// Forgets callers whose buckets are full again, so the maps do not grow without end.
    pub fn retain_recent(&self) {
        if let Some(l) = &self.api {
            l.limiter().retain_recent();
        }
        if let Some(l) = &self.ping_source {
            l.limiter().retain_recent();
        }
        if let Some(l) = &self.ping_check {
            l.limiter().retain_recent();
        }
        if let Some(l) = &self.login {
            l.limiter().retain_recent();
        }
        if let Some(l) = &self.invite {
            l.retain_recent();
        }
    }

    /// Takes one ping to `check` (a UUID, or `<ping key>/<slug>`) from the per-check limit,
    /// the bucket HTTP pings to the same check draw from; false when it is used up. For
    /// pings that do not come through the router (email).
    pub fn take_ping_to(&self, check: &str) -> bool {
        let Some(config) = &self.ping_check else {
            return true;
        };
        let allowed = config.limiter().check_key(&check.to_owned()).is_ok();
        if !allowed {
            metrics::counter!("overdue_rate_limited_total", "limit" => "ping_check").increment(1);
        }
        allowed
    }

    /// Takes one team invitation from `user`'s allowance; false when it is used up.
    pub fn take_invitation(&self, user: i64) -> bool {
        let allowed = self
            .invite
            .as_ref()
            .is_none_or(|limiter| limiter.check_key(&user).is_ok());
        if !allowed {
            metrics::counter!("overdue_rate_limited_total", "limit" => "invite").increment(1);
        }
        allowed
    }

    /// Limits Management API requests per API key: the `X-Api-Key` header, else the
    /// `api_key` of a POST's JSON body, else (no key given) the source address.
    pub fn api<S: Clone + Send + Sync + 'static>(&self, routes: Router<S>) -> Router<S> {
        let Some(config) = &self.api else {
            return routes;
        };
        let layer = GovernorLayer::new(Arc::clone(config))
            .error_handler(|err| too_many(err, "api", api_answer));
        routes
            .layer(layer)
            .layer(middleware::from_fn(api_key_from_body))
    }

    /// Limits login and signup attempts per client address.
    pub fn login<S: Clone + Send + Sync + 'static>(&self, routes: Router<S>) -> Router<S> {
        let Some(config) = &self.login else {
            return routes;
        };
        let layer = GovernorLayer::new(Arc::clone(config))
            .error_handler(|err| too_many(err, "login", login_answer));
        routes.layer(layer)
    }

    /// Limits pings per source address and per check.
    pub fn pings<S: Clone + Send + Sync + 'static>(&self, routes: Router<S>) -> Router<S> {
        let mut routes = routes;
        if let Some(config) = &self.ping_check {
            let layer = GovernorLayer::new(Arc::clone(config))
                .error_handler(|err| too_many(err, "ping_check", ping_answer));
            routes = routes.layer(layer);
        }
        if let Some(config) = &self.ping_source {
            let layer = GovernorLayer::new(Arc::clone(config))
                .error_handler(|err| too_many(err, "ping_source", ping_answer));
            routes = routes.layer(layer);
        }
        routes
    }
}

/// A limiter for `rate`, to be finished; `finish` gives `None` when the limit is off.
fn limiter<K: KeyExtractor>(extractor: K, rate: Rate) -> LimiterBuilder<K> {
    LimiterBuilder {
        extractor,
        rate,
        methods: None,
    }
}

struct LimiterBuilder<K> {
    extractor: K,
    rate: Rate,
    methods: Option<Vec<Method>>,
}

impl<K: KeyExtractor> LimiterBuilder<K> {
    /// Counts only requests with these methods.
    fn methods(mut self, methods: Vec<Method>) -> Self {
        self.methods = Some(methods);
        self
    }

    fn finish(self) -> Option<Limiter<K>> {
        let (burst, interval) = self.rate.quota()?;
        let mut builder = GovernorConfigBuilder::default().key_extractor(self.extractor);
        builder.period(interval).burst_size(burst);
        if let Some(methods) = self.methods {
            builder.methods(methods);
        }
        builder.finish().map(Arc::new)
    }
}

/// The answer to a refused request; `Retry-After` rounds the wait up to whole seconds.
fn too_many(err: GovernorError, limit: &'static str, answer: fn() -> Response) -> Response {
    match err {
        GovernorError::TooManyRequests { wait_time, .. } => {
            metrics::counter!("overdue_rate_limited_total", "limit" => limit).increment(1);
            let mut response = answer();
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_time + 1));
            response
        }
        other => Response::from(other),
    }
}

fn login_answer() -> Response {
    axum::response::Html(
        "<!doctype html><title>Too many attempts</title>\
         <p>Too many attempts, please try later.</p>",
    )
    .into_response()
}

fn api_answer() -> Response {
    axum::Json(serde_json::json!({ "error": "rate limit exceeded" })).into_response()
}

fn ping_answer() -> Response {
    "rate limit exceeded".into_response()
}

/// The client's address: the peer, or the first `X-Forwarded-For` address when the peer
/// is a trusted proxy.
#[derive(Clone)]
struct Source(Arc<Config>);

impl KeyExtractor for Source {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_canonical());
        let forwarded = peer
            .filter(|ip| self.0.is_trusted_proxy(*ip))
            .and_then(|_| forwarded_for(request.headers()))
            .and_then(|addr| addr.parse::<IpAddr>().ok());
        Ok(forwarded
            .or(peer)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
}

/// Who makes an API request: its API key, or its address when it gives none.
#[derive(Clone)]
struct ApiCaller(Source);

/// The `api_key` a POST's JSON body carries, found before the limiter runs.
#[derive(Clone)]
struct BodyApiKey(String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Caller {
    Key(String),
    Address(IpAddr),
}

impl KeyExtractor for ApiCaller {
    type Key = Caller;

    fn extract<T>(&self, request: &Request<T>) -> Result<Caller, GovernorError> {
        let header = request
            .headers()
            .get("x-api-key")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let key = header.or_else(|| {
            request
                .extensions()
                .get::<BodyApiKey>()
                .map(|k| k.0.clone())
        });
        match key.filter(|k| !k.is_empty()) {
            Some(key) => Ok(Caller::Key(key)),
            None => self.0.extract(request).map(Caller::Address),
        }
    }
}

/// Finds the `api_key` of a POST without an `X-Api-Key` header (healthchecks.io accepts
/// either) so the API limiter can count it against that key.
async fn api_key_from_body(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.headers().contains_key("x-api-key") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, API_BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
    };
    let key = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) => match map.remove("api_key") {
            Some(serde_json::Value::String(key)) => Some(key),
            Some(other) => Some(other.to_string()),
            None => None,
        },
        _ => None,
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    if let Some(key) = key {
        request.extensions_mut().insert(BodyApiKey(key));
    }
    next.run(request).await
}

/// The check a ping is for: its UUID, or its ping key and slug.
#[derive(Debug, Clone)]
struct PingTarget;

/// Longest target kept as a key; longer paths cannot name a check anyway.
const MAX_TARGET_LEN: usize = 200;

impl KeyExtractor for PingTarget {
    type Key = String;

    fn extract<T>(&self, request: &Request<T>) -> Result<String, GovernorError> {
        let path = request.uri().path();
        let rest = path.strip_prefix("/ping/").unwrap_or(path);
        let mut segments = rest.split('/');
        let first = segments.next().unwrap_or_default();
        let mut target = if uuid::Uuid::try_parse(first).is_ok() {
            first.to_ascii_lowercase()
        } else {
            format!("{first}/{}", segments.next().unwrap_or_default())
        };
        target.truncate(target.floor_char_boundary(MAX_TARGET_LEN));
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> String {
        let request = Request::builder().uri(path).body(()).expect("request");
        PingTarget.extract(&request).expect("key")
    }

    #[test]
    fn pings_of_one_check_share_a_bucket_whatever_their_kind() {
        let code = "5c2a7c1e-4b1a-4f8e-9d3c-0a1b2c3d4e5f";
        assert_eq!(target(&format!("/ping/{code}")), code);
        assert_eq!(target(&format!("/ping/{code}/start")), code);
        assert_eq!(target(&format!("/ping/{}/fail", code.to_uppercase())), code);
        assert_eq!(
            target("/ping/abcdefghijklmnopqrstuv/backup"),
            "abcdefghijklmnopqrstuv/backup"
        );
        assert_eq!(
            target("/ping/abcdefghijklmnopqrstuv/backup/0"),
            "abcdefghijklmnopqrstuv/backup"
        );
        assert_ne!(target("/ping/key/a"), target("/ping/key/b"));
    }
}
