//! The ping endpoints, every URL form and answer of healthchecks.io's:
//! `/ping/<uuid>[/start|/fail|/log|/<exit status>]` and the same after `/ping/<ping_key>/<slug>`.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use uuid::Uuid;

use super::AppState;
use crate::domain::check::Action;
use crate::store::{PingInput, PingOutcome, PingRejection, PingTarget};

/// Longest User-Agent kept, in characters.
const MAX_UA_CHARS: usize = 200;

/// What the path names.
#[derive(Debug, PartialEq, Eq)]
struct Route<'a> {
    target: Target<'a>,
    action: Action,
    /// Digits after the check, when the URL carries an exit status.
    exit_status: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Code(Uuid),
    Slug { ping_key: &'a str, slug: &'a str },
}

/// Django's UUID path converter: lowercase canonical form only.
fn parse_code(s: &str) -> Option<Uuid> {
    let canonical = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    canonical.then(|| Uuid::parse_str(s).ok()).flatten()
}

/// Django's slug path converter: `[-a-zA-Z0-9_]+`.
fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The action or exit status a URL ends with.
fn suffix(s: &str) -> Option<(Action, Option<&str>)> {
    match s {
        "start" => Some((Action::Start, None)),
        "fail" => Some((Action::Fail, None)),
        "log" => Some((Action::Log, None)),
        _ if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some((Action::Success, Some(s)))
        }
        _ => None,
    }
}

/// Routes a path below `/ping/` as healthchecks.io's URL patterns do: UUID forms first,
/// then slug forms. `None` means no route (404).
fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.split('/').collect();
    let code = segments.first().and_then(|s| parse_code(s));
    if let Some(code) = code {
        let found = match segments[1..] {
            [] | [""] => Some((Action::Success, None)),
            [last] => suffix(last),
            _ => None,
        };
        if let Some((action, exit_status)) = found {
            return Some(Route {
                target: Target::Code(code),
                action,
                exit_status,
            });
        }
    }
    let (ping_key, slug, rest) = match segments[..] {
        [key, slug] => (key, slug, None),
        [key, slug, last] => (key, slug, Some(last)),
        _ => return None,
    };
    if !is_slug(ping_key) || !is_slug(slug) {
        return None;
    }
    let (action, exit_status) = match rest {
        None => (Action::Success, None),
        Some(last) => suffix(last)?,
    };
    Some(Route {
        target: Target::Slug { ping_key, slug },
        action,
        exit_status,
    })
}

/// A `text/plain` answer with healthchecks.io's never-cache headers.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    headers.insert(
        header::EXPIRES,
        HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
    );
    response
}

/// The client's address and scheme; proxy headers count only from trusted proxies.
fn client(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> (Option<String>, String) {
    let trusted = peer.is_some_and(|ip| state.config.is_trusted_proxy(ip));
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|_| trusted)
    };
    let forwarded = forwarded_for(headers).filter(|_| trusted);
    let remote_addr = forwarded.or_else(|| peer.map(|ip| ip.to_canonical().to_string()));
    // Only a web scheme: `email` marks pings taken by the SMTP listener, which the writer
    // classifies by subject and body instead of HTTP body.
    let scheme = match header("x-forwarded-proto") {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
    .to_owned();
    (remote_addr, scheme)
}

/// The first address of `X-Forwarded-For`, as healthchecks.io reads it: "a.b.c.d:port"
/// (Azure) loses its port. Believe it only from a trusted proxy.
pub(super) fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let first = headers
        .get("x-forwarded-for")?
        .to_str()
        .ok()?
        .split(',')
        .next()?
        .trim();
    if first.is_empty() {
        return None;
    }
    Some(
        first
            .parse::<SocketAddrV4>()
            .map_or_else(|_| first.to_owned(), |with_port| with_port.ip().to_string()),
    )
}

/// Reads at most `limit` bytes of the body; the rest is never buffered.
async fn body_prefix(body: Body, limit: usize) -> Result<Bytes, axum::Error> {
    let mut body = body;
    let mut kept = Vec::new();
    while kept.len() < limit {
        let Some(frame) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame?.into_data() {
            let room = limit - kept.len();
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok(Bytes::from(kept))
}

/// The last value of a query parameter, as Django's `QueryDict.get`.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(key, _)| key == name)
        .last()
        .map(|(_, value)| value.into_owned())
}

/// healthchecks.io accepts any case for `rid` and stores the UUID.
fn parse_rid(s: &str) -> Option<Uuid> {
    let canonical = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    canonical.then(|| Uuid::parse_str(s).ok()).flatten()
}

/// Records a ping and answers once it is committed.
pub async fn ping(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().strip_prefix("/ping/").unwrap_or("");
    let Some(route) = route(path) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let target = match route.target {
        Target::Code(code) => PingTarget::Code(code),
        Target::Slug { slug, .. } if slug.bytes().any(|b| b.is_ascii_uppercase()) => {
            return plain(StatusCode::BAD_REQUEST, "invalid url format");
        }
        Target::Slug { ping_key, slug } => PingTarget::Slug {
            ping_key: ping_key.to_owned(),
            slug: slug.to_owned(),
            create: query_param(parts.uri.query(), "create").as_deref() == Some("1"),
        },
    };

    // Refusals the store applies only once it has found the check.
    let exit_status = route.exit_status.map(|digits| digits.parse::<u8>().ok());
    let rid = query_param(parts.uri.query(), "rid").map(|s| parse_rid(&s));
    let reject = match (exit_status, &rid) {
        (Some(None), _) => Some(PingRejection::BadExitStatus),
        (_, Some(None)) => Some(PingRejection::BadRid),
        _ => None,
    };

    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let (remote_addr, scheme) = client(&state, &parts.headers, peer);
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(MAX_UA_CHARS)
                .collect()
        })
        .unwrap_or_default();
    let Ok(body) = body_prefix(body, state.config.ping_body_limit).await else {
        return plain(StatusCode::BAD_REQUEST, "could not read request body");
    };

    let input = PingInput {
        target,
        url_action: route.action,
        exit_status: exit_status.flatten(),
        rid: rid.flatten(),
        reject,
        remote_addr,
        scheme,
        method: parts.method.as_str().to_owned(),
        ua,
        body,
    };
    let outcome = match state.ingest.record(input).await {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::error!(error = %err, "ping not recorded");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "service unavailable");
        }
    };
    let mut response = match outcome {
        PingOutcome::Recorded { created: false } => plain(StatusCode::OK, "OK"),
        PingOutcome::Recorded { created: true } => plain(StatusCode::CREATED, "Created"),
        PingOutcome::NotFound => return plain(StatusCode::NOT_FOUND, "not found"),
        PingOutcome::AmbiguousSlug => return plain(StatusCode::CONFLICT, "ambiguous slug"),
        PingOutcome::Rejected(PingRejection::BadExitStatus) => {
            return plain(StatusCode::BAD_REQUEST, "invalid url format");
        }
        PingOutcome::Rejected(PingRejection::BadRid) => {
            return plain(StatusCode::BAD_REQUEST, "invalid uuid format");
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        "ping-body-limit",
        HeaderValue::from(state.config.ping_body_limit),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "3f1c7a2e-5b6d-4e8f-9a0b-1c2d3e4f5a6b";

    fn r(path: &str) -> Option<(Target<'_>, Action, Option<&str>)> {
        route(path).map(|r| (r.target, r.action, r.exit_status))
    }

    fn code() -> Target<'static> {
        Target::Code(Uuid::parse_str(CODE).expect("uuid"))
    }

    #[test]
    fn uuid_forms_route_to_the_check() {
        assert_eq!(r(CODE), Some((code(), Action::Success, None)));
        assert_eq!(
            r(&format!("{CODE}/")),
            Some((code(), Action::Success, None))
        );
        assert_eq!(
            r(&format!("{CODE}/start")),
            Some((code(), Action::Start, None))
        );
        assert_eq!(
            r(&format!("{CODE}/fail")),
            Some((code(), Action::Fail, None))
        );
        assert_eq!(r(&format!("{CODE}/log")), Some((code(), Action::Log, None)));
        assert_eq!(
            r(&format!("{CODE}/0")),
            Some((code(), Action::Success, Some("0")))
        );
        assert_eq!(
            r(&format!("{CODE}/1000")),
            Some((code(), Action::Success, Some("1000")))
        );
    }

    #[test]
    fn paths_without_a_route_are_not_found() {
        assert_eq!(route(&CODE.to_uppercase()), None);
        assert_eq!(route(&CODE.replace('-', "")), None);
        assert_eq!(route("not-uuid/"), None);
        assert_eq!(route(&format!("{CODE}/start/")), None);
        assert_eq!(route("key/slug/"), None);
        assert_eq!(route("key/slug/-1"), None);
        assert_eq!(route("key/sl.ug"), None);
        assert_eq!(route(""), None);
    }

    #[test]
    fn slug_forms_route_by_ping_key_and_slug() {
        let slug = |key, slug| Target::Slug {
            ping_key: key,
            slug,
        };
        assert_eq!(
            r("abc/db-backup"),
            Some((slug("abc", "db-backup"), Action::Success, None))
        );
        assert_eq!(
            r("abc/db-backup/fail"),
            Some((slug("abc", "db-backup"), Action::Fail, None))
        );
        assert_eq!(
            r("abc/db-backup/7"),
            Some((slug("abc", "db-backup"), Action::Success, Some("7")))
        );
        // A UUID followed by something else is a ping key and a slug (and so not found).
        assert_eq!(
            r(&format!("{CODE}/foo")),
            Some((slug(CODE, "foo"), Action::Success, None))
        );
    }

    #[test]
    fn rid_must_be_a_uuid_in_any_case() {
        assert!(parse_rid(&CODE.to_uppercase()).is_some());
        assert!(parse_rid(CODE).is_some());
        assert!(parse_rid("").is_none());
        assert!(parse_rid(&CODE.replace('-', "")).is_none());
        assert!(parse_rid("{3f1c7a2e-5b6d-4e8f-9a0b-1c2d3e4f5a6b}").is_none());
    }
}
