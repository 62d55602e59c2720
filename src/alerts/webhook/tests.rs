use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::json;
use tokio::net::TcpListener;

use super::*;
use crate::alerts::{Direction, Notice, Outcome};
use crate::store::{CheckRecord, PingRecord};

const CHECK_CODE: &str = "6e1b0c27-6b0c-4a47-9a5c-0e3e1b2f8a10";
const NOTICE_ID: &str = "0b7bd1b0-4a7c-4b53-8f6e-a0e7c1d3f2a4";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn ping(body: Option<&[u8]>, exit_status: Option<i64>) -> PingRecord {
    PingRecord {
        n: 7,
        created: at("2024-01-01T09:59:00Z"),
        kind: Some("fail".to_owned()),
        scheme: "https".to_owned(),
        remote_addr: None,
        method: "POST".to_owned(),
        ua: "curl".to_owned(),
        body: body.map(<[u8]>::to_vec),
        exit_status,
        rid: None,
    }
}

fn notice() -> Notice {
    let changed_at = at("2024-01-01T10:00:00Z");
    let mut check = CheckRecord::new(1, changed_at);
    check.code = CHECK_CODE.parse().unwrap();
    check.name = "db backup".to_owned();
    check.slug = "db-backup".to_owned();
    check.tags = "prod  nightly".to_owned();
    Notice {
        id: NOTICE_ID.parse().unwrap(),
        direction: Direction::Down,
        reason: "timeout".to_owned(),
        changed_at,
        downtime: None,
        is_test: false,
        check,
        check_json: json!({"name": "db backup", "tags": "prod  nightly", "grace": 3600}),
        project_name: "Ops".to_owned(),
        last_ping: Some(ping(Some(b"line 1\nline \"2\" \xff"), Some(3))),
        check_url: "https://overdue.example/checks/x/details/".to_owned(),
    }
}

fn notice_with(name: &str, tags: &str) -> Notice {
    let mut notice = notice();
    notice.check.name = name.to_owned();
    notice.check.tags = tags.to_owned();
    notice
}

// --- configuration ------------------------------------------------------------------------

const STORED: &str = r#"{"body_down": "", "body_up": "$NAME is up", "headers_down": {}, "headers_up": {"X-B": "2", "Content-Type": "text/plain", "A": "1"}, "method_down": "GET", "method_up": "POST", "name": "", "url_down": "https://example.org/down", "url_up": "http://example.org/up"}"#;

#[test]
fn stored_healthchecks_value_deserializes() {
    let config: WebhookConfig = serde_json::from_str(STORED).unwrap();

    assert_eq!(config.down.method, Method::Get);
    assert_eq!(config.down.url, "https://example.org/down");
    assert_eq!(config.up.method, Method::Post);
    assert_eq!(config.up.body, "$NAME is up");
    assert_eq!(
        config.up.headers,
        [
            ("X-B".to_owned(), "2".to_owned()),
            ("Content-Type".to_owned(), "text/plain".to_owned()),
            ("A".to_owned(), "1".to_owned()),
        ]
    );
}

#[test]
fn config_serializes_with_sorted_keys_and_headers_in_order() {
    let config: WebhookConfig = serde_json::from_str(STORED).unwrap();

    let written = serde_json::to_string(&config).unwrap();

    assert_eq!(
        written,
        r#"{"body_down":"","body_up":"$NAME is up","headers_down":{},"headers_up":{"X-B":"2","Content-Type":"text/plain","A":"1"},"method_down":"GET","method_up":"POST","url_down":"https://example.org/down","url_up":"http://example.org/up"}"#
    );
    assert_eq!(
        serde_json::from_str::<WebhookConfig>(&written).unwrap(),
        config
    );
}

#[test]
fn missing_keys_default_to_get_and_empty() {
    let config: WebhookConfig = serde_json::from_str(r#"{"url_down": "http://x"}"#).unwrap();

    assert_eq!(config.down.method, Method::Get);
    assert_eq!(config.up, WebhookSpec::default());
}

#[test]
fn repeated_header_name_keeps_first_place_and_last_value() {
    let config: WebhookConfig =
        serde_json::from_str(r#"{"headers_down": {"A": "1", "B": "2", "A": "3"}}"#).unwrap();

    assert_eq!(
        config.down.headers,
        [
            ("A".to_owned(), "3".to_owned()),
            ("B".to_owned(), "2".to_owned())
        ]
    );
}

#[test]
fn unknown_methods_and_non_string_headers_are_refused() {
    assert!(serde_json::from_str::<WebhookConfig>(r#"{"method_down": "DELETE"}"#).is_err());
    assert!(serde_json::from_str::<WebhookConfig>(r#"{"method_down": "post"}"#).is_err());
    assert!(serde_json::from_str::<WebhookConfig>(r#"{"headers_up": {"A": 1}}"#).is_err());
}

fn config(down_url: &str) -> WebhookConfig {
    WebhookConfig {
        down: WebhookSpec {
            url: down_url.to_owned(),
            ..WebhookSpec::default()
        },
        up: WebhookSpec::default(),
    }
}

#[test]
fn validation_follows_the_webhook_form() {
    let long = "x".repeat(1001);
    let header = |name: &str, value: &str| {
        let mut c = config("http://example.org");
        c.down.headers = vec![(name.to_owned(), value.to_owned())];
        c
    };
    let cases: Vec<(WebhookConfig, Result<(), &str>)> = vec![
        (config("http://example.org/$NAME?s=$STATUS"), Ok(())),
        (config("http://backup-server:8080/"), Ok(())),
        (config("https://[2001:db8::1]/"), Ok(())),
        (config(""), Err("url_down: Enter a valid URL.")),
        (
            config("ftp://example.org/"),
            Err("url_down: Enter a valid URL."),
        ),
        (
            config("example.org/path"),
            Err("url_down: Enter a valid URL."),
        ),
        (config("http://"), Err("url_down: Enter a valid URL.")),
        (
            config("http://exa mple.org/"),
            Err("url_down: Enter a valid URL."),
        ),
        (
            config("http://example.org/\n"),
            Err("url_down: Enter a valid URL."),
        ),
        (
            config(&format!("http://example.org/{long}")),
            Err("url_down: Ensure this value has at most 1000 characters (it has 1020)."),
        ),
        (
            WebhookConfig {
                down: WebhookSpec {
                    url: "http://example.org".to_owned(),
                    body: "é".repeat(1001),
                    ..WebhookSpec::default()
                },
                up: WebhookSpec::default(),
            },
            Err("body_down: Ensure this value has at most 1000 characters (it has 1001)."),
        ),
        (header("X-Token", "a\u{0101}"), Ok(())),
        (
            header("", "v"),
            Err("headers_down: Header names and values must not be empty."),
        ),
        (
            header("X-A", " "),
            Err("headers_down: Header names and values must not be empty."),
        ),
        (
            header("X-A", &long),
            Err("headers_down: Header names and values must be at most 1000 characters."),
        ),
        (
            header("X-Ā", "v"),
            Err("headers_down: Header names must not contain special characters."),
        ),
        (
            header("X A", "v"),
            Err("headers_down: \"X A\" is not a valid header name."),
        ),
        (
            header("X-A", "a\r\nX-Evil: 1"),
            Err("headers_down: Header values must not contain control characters."),
        ),
    ];

    for (config, expected) in cases {
        assert_eq!(
            config.validate(),
            expected.map_err(str::to_owned),
            "{config:?}"
        );
    }
}

#[test]
fn validation_reports_up_fields_and_accepts_an_up_only_channel() {
    let mut c = config("");
    c.up.url = "https://example.org/up".to_owned();
    assert_eq!(c.validate(), Ok(()));

    c.up.url = "mailto:a@example.org".to_owned();
    assert_eq!(c.validate(), Err("url_up: Enter a valid URL.".to_owned()));
}

#[test]
fn a_direction_without_url_is_a_no_op() {
    let c = config("http://example.org/down");

    assert_eq!(c.spec(Direction::Down), Some(&c.down));
    assert_eq!(c.spec(Direction::Up), None);
}

// --- placeholders -------------------------------------------------------------------------

#[test]
fn placeholders_render_as_healthchecks_does() {
    let n = notice();
    let cases: Vec<(Notice, &str, Place, String)> = vec![
        // Upstream test_webhooks_support_variables.
        (
            notice_with("Hello World", "foo bar"),
            "http://host/$CODE/$SLUG/$STATUS/$TAG1/$TAG2/?name=$NAME",
            Place::Url,
            format!("http://host/{CHECK_CODE}/db-backup/down/foo/bar/?name=Hello%20World"),
        ),
        // Upstream test_webhooks_handle_variable_variables: `$$NAMETAG1` with an empty name.
        (
            notice_with("", "foo bar"),
            "http://host/$$NAMETAG1",
            Place::Url,
            "http://host/$TAG1".to_owned(),
        ),
        // Upstream test_webhooks_dollarsign_escaping: a name that looks like a placeholder.
        (
            notice_with("$TAG1", "foo"),
            "http://host/$NAME",
            Place::Url,
            "http://host/%24TAG1".to_owned(),
        ),
        // The same name through `$$NAMETAG1`: one replacement per chunk, values never rescanned.
        (
            notice_with("$TAG1", "foo"),
            "http://host/$$NAMETAG1",
            Place::Url,
            "http://host/$%24TAG1TAG1".to_owned(),
        ),
        (
            n.clone(),
            "http://host/?t=$NOW&tags=$TAGS&e=$EXITSTATUS",
            Place::Url,
            "http://host/?t=2024-01-01T10%3A00%3A00%2B00%3A00&tags=prod%20%20nightly&e=3"
                .to_owned(),
        ),
        (
            notice_with("a/b \"c\" é", ""),
            "http://host/$NAME_JSON",
            Place::Url,
            "http://host/%22a/b%20%5C%22c%5C%22%20%5Cu00e9%22".to_owned(),
        ),
        // $BODY exists in bodies only; an unknown placeholder stays as it was.
        (
            n.clone(),
            "http://host/$BODY/$BODY_JSON/$UNKNOWN/$",
            Place::Url,
            "http://host/$BODY/$BODY_JSON/$UNKNOWN/$".to_owned(),
        ),
        (n.clone(), "$BODY", Place::Header, "$BODY".to_owned()),
        (
            n.clone(),
            "$BODY|$BODY_JSON|$EXITSTATUS",
            Place::Body,
            "line 1\nline \"2\" \u{fffd}|\"line 1\\nline \\\"2\\\" \\ufffd\"|3".to_owned(),
        ),
        (
            n.clone(),
            "The Time Is $NOW, $NAME is $STATUS",
            Place::Body,
            "The Time Is 2024-01-01T10:00:00+00:00, db backup is down".to_owned(),
        ),
        // `$TAGS` is tried before `$TAG1`, `$TAG1` before `$TAG10`.
        (
            n.clone(),
            "$TAGS|$TAG1|$TAG2|$TAG3|$TAG10",
            Place::Body,
            "prod  nightly|prod|nightly|$TAG3|prod0".to_owned(),
        ),
        (
            n.clone(),
            "$JSON",
            Place::Body,
            r#"{"name": "db backup", "tags": "prod  nightly", "grace": 3600}"#.to_owned(),
        ),
        (
            n.clone(),
            "$NAME_JSON",
            Place::Body,
            "\"db backup\"".to_owned(),
        ),
        // Upstream test_webhooks_handle_non_ascii_in_headers and _latin1_in_headers.
        (n, "b\u{0101}r ½", Place::Header, "b&#257;r ½".to_owned()),
        (
            notice_with("Zürich ☃", ""),
            "$NAME is $STATUS",
            Place::Header,
            "Zürich &#9731; is down".to_owned(),
        ),
    ];

    for (notice, template, place, expected) in cases {
        let ctx = Placeholders::from_notice(&notice);
        assert_eq!(
            render(template, &ctx, place),
            expected,
            "{template:?} in {place:?}"
        );
    }
}

#[test]
fn missing_ping_gives_empty_body_and_exit_status_minus_one() {
    let mut n = notice();
    n.last_ping = None;
    let ctx = Placeholders::from_notice(&n);
    assert_eq!(
        render("[$BODY][$BODY_JSON][$EXITSTATUS]", &ctx, Place::Body),
        "[][\"\"][-1]"
    );

    n.last_ping = Some(ping(None, None));
    let ctx = Placeholders::from_notice(&n);
    assert_eq!(render("[$BODY][$EXITSTATUS]", &ctx, Place::Body), "[][-1]");
}

#[test]
fn code_slug_and_status_are_not_quoted_in_urls() {
    let mut n = notice();
    n.check.slug = "a b".to_owned();
    n.direction = Direction::Up;
    let ctx = Placeholders::from_notice(&n);

    assert_eq!(
        render("http://h/$SLUG/$STATUS", &ctx, Place::Url),
        "http://h/a b/up"
    );
}

#[test]
fn python_json_matches_json_dumps() {
    let value = json!({
        "s": "caf\u{e9} \u{1F600} \"q\" \\ \n\t\u{1}\u{7f}/",
        "list": [1, -2, 1.5, true, false, null, {}, []],
        "nested": {"a": {"b": "c"}}
    });

    assert_eq!(
        python_json(&value),
        r#"{"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t\u0001\u007f/", "list": [1, -2, 1.5, true, false, null, {}, []], "nested": {"a": {"b": "c"}}}"#
    );
}

#[test]
fn url_quote_matches_python_quote() {
    assert_eq!(url_quote("az AZ09_.-~/"), "az%20AZ09_.-~/");
    assert_eq!(url_quote("?&=#%+:$é"), "%3F%26%3D%23%25%2B%3A%24%C3%A9");
}

// --- signatures ---------------------------------------------------------------------------

#[test]
fn new_secrets_are_random_24_byte_keys() {
    let a = new_secret();
    let b = new_secret();

    assert_ne!(a, b);
    let key = a.strip_prefix("whsec_").unwrap();
    assert_eq!(BASE64.decode(key).unwrap().len(), 24);
}

#[test]
fn signature_is_verified_by_the_reference_implementation() {
    let secret = new_secret();
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let now = Utc::now().timestamp();
    let body = br#"{"check": "db backup", "status": "down"}"#;

    let signature = sign(&secret, id, now, body);

    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", id.parse().unwrap());
    headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    let reference = standardwebhooks::Webhook::new(&secret).unwrap();
    reference.verify(body, &headers).unwrap();
    assert!(reference.verify(b"tampered", &headers).is_err());
}

#[test]
fn signature_matches_the_specification_example() {
    // The example in the Standard Webhooks specification.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"test": 2432232314}"#;

    assert_eq!(
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

// --- private addresses --------------------------------------------------------------------

#[test]
fn only_public_addresses_are_public() {
    let not_public = [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.8.9.10",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "3fff:abc::1",
    ];
    let public = [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.255",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
    ];

    for ip in not_public {
        assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
    for ip in public {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
}

#[tokio::test]
async fn resolver_drops_private_addresses_unless_allowed() {
    let refused = resolve_host("localhost", false).await;
    assert!(
        matches!(refused, Err(ResolveError::OnlyPrivate { .. })),
        "{refused:?}"
    );

    let allowed = resolve_host("localhost", true).await.unwrap();
    assert!(
        allowed.iter().all(|addr| addr.ip().is_loopback()),
        "{allowed:?}"
    );
}

#[test]
fn literal_ip_hosts_are_recognised_in_every_spelling() {
    let ip = |url: &str| literal_ip(&Url::parse(url).unwrap());

    assert_eq!(
        ip("http://127.0.0.1:8080/"),
        Some("127.0.0.1".parse().unwrap())
    );
    assert_eq!(ip("http://2130706433/"), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(ip("http://0x7f.1/"), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(ip("http://[::1]/"), Some("::1".parse().unwrap()));
    assert_eq!(ip("http://localhost/"), None);
}

// --- sending ------------------------------------------------------------------------------

/// One request as the receiver saw it.
#[derive(Debug)]
struct Received {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A real HTTP server on 127.0.0.1 that records requests and answers `status` after `delay`.
struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(status: StatusCode, delay: Duration) -> Receiver {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let app = Router::new().fallback(move |request: Request| {
            let log = Arc::clone(&log);
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                log.lock().unwrap().push(Received {
                    method: parts.method.to_string(),
                    path_and_query: parts.uri.to_string(),
                    headers: parts.headers,
                    body: body.to_vec(),
                });
                tokio::time::sleep(delay).await;
                (status, [(header::LOCATION, "/moved")])
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, requests }
    }

    async fn ok() -> Receiver {
        Receiver::start(StatusCode::OK, Duration::ZERO).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn spec(method: Method, url: String, body: &str, headers: &[(&str, &str)]) -> WebhookSpec {
    WebhookSpec {
        method,
        url,
        body: body.to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

fn failed(error: &str, permanent: bool) -> Outcome {
    Outcome::failed(error, permanent)
}

#[tokio::test]
async fn post_arrives_rendered_signed_and_with_configured_headers() {
    let receiver = Receiver::ok().await;
    let sender = WebhookSender::new(true);
    let secret = new_secret();
    let spec = spec(
        Method::Post,
        receiver.url("/hook/$CODE?name=$NAME&status=$STATUS"),
        r#"{"name": $NAME_JSON, "body": $BODY_JSON, "exit": $EXITSTATUS}"#,
        &[("Content-Type", "application/json"), ("X-Check", "$NAME ☃")],
    );

    let outcome = sender.send(&spec, &notice(), &secret, Utc::now()).await;

    assert_eq!(outcome, Outcome::Delivered { status: Some(200) });
    let [request] = receiver.take().try_into().unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path_and_query,
        format!("/hook/{CHECK_CODE}?name=db%20backup&status=down")
    );
    assert_eq!(
        request.body,
        br#"{"name": "db backup", "body": "line 1\nline \"2\" \ufffd", "exit": 3}"#
    );
    assert_eq!(
        header_str(&request.headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(
        header_str(&request.headers, "x-check"),
        Some("db backup &#9731;")
    );
    assert_eq!(header_str(&request.headers, "user-agent"), Some("Overdue"));
    assert_eq!(header_str(&request.headers, "webhook-id"), Some(NOTICE_ID));
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&request.body, &request.headers)
        .unwrap();
}

#[tokio::test]
async fn get_sends_no_body_and_signs_an_empty_one() {
    let receiver = Receiver::ok().await;
    let sender = WebhookSender::new(true);
    let secret = new_secret();
    let now = Utc::now();
    let spec = spec(Method::Get, receiver.url("/ping"), "ignored $NAME", &[]);

    let outcome = sender.send(&spec, &notice(), &secret, now).await;

    assert_eq!(outcome, Outcome::Delivered { status: Some(200) });
    let [request] = receiver.take().try_into().unwrap();
    assert_eq!(request.method, "GET");
    assert!(request.body.is_empty());
    assert_eq!(
        header_str(&request.headers, "webhook-timestamp"),
        Some(now.timestamp().to_string().as_str())
    );
    assert_eq!(
        header_str(&request.headers, "webhook-signature"),
        Some(sign(&secret, NOTICE_ID, now.timestamp(), b"").as_str())
    );
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(b"", &request.headers)
        .unwrap();
}

#[tokio::test]
async fn configured_user_agent_replaces_the_default() {
    let receiver = Receiver::ok().await;
    let sender = WebhookSender::new(true);
    let spec = spec(
        Method::Put,
        receiver.url("/"),
        "",
        &[("User-Agent", "My-Agent")],
    );

    sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    let [request] = receiver.take().try_into().unwrap();
    assert_eq!(request.method, "PUT");
    assert!(request.body.is_empty());
    let agents: Vec<_> = request.headers.get_all("user-agent").iter().collect();
    assert_eq!(agents, ["My-Agent"]);
}

#[tokio::test]
async fn other_2xx_statuses_count_as_delivered() {
    let receiver = Receiver::start(StatusCode::NO_CONTENT, Duration::ZERO).await;
    let sender = WebhookSender::new(true);
    let spec = spec(Method::Get, receiver.url("/"), "", &[]);

    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(outcome, Outcome::Delivered { status: Some(204) });
}

#[tokio::test]
async fn server_error_is_a_transient_failure() {
    let receiver = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let sender = WebhookSender::new(true);
    let spec = spec(Method::Get, receiver.url("/"), "", &[]);

    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(
        outcome,
        Outcome::Failed {
            error: "Received status code 500".to_owned(),
            status: Some(500),
            permanent: false,
        }
    );
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let receiver = Receiver::start(StatusCode::FOUND, Duration::ZERO).await;
    let sender = WebhookSender::new(true);
    let spec = spec(Method::Get, receiver.url("/start"), "", &[]);

    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(
        outcome,
        Outcome::Failed {
            error: "Received status code 302".to_owned(),
            status: Some(302),
            permanent: false,
        }
    );
    let requests = receiver.take();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path_and_query, "/start");
}

#[tokio::test]
async fn slow_receiver_times_out() {
    let receiver = Receiver::start(StatusCode::OK, Duration::from_secs(30)).await;
    let sender = WebhookSender::with_timeout(true, Duration::from_millis(300));
    let spec = spec(Method::Get, receiver.url("/"), "", &[]);

    let started = std::time::Instant::now();
    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(outcome, failed("Connection timed out", false));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn private_targets_are_refused_before_connecting() {
    let receiver = Receiver::ok().await;
    let sender = WebhookSender::new(false);
    let port = receiver.addr.port();

    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://[::1]:{port}/"),
    ] {
        let spec = spec(Method::Post, url.clone(), "hello", &[]);
        let outcome = sender
            .send(&spec, &notice(), &new_secret(), Utc::now())
            .await;
        assert_eq!(
            outcome,
            failed("Connections to private IP addresses are not allowed", true),
            "{url}"
        );
    }
    assert!(receiver.take().is_empty());
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_the_handshake() {
    let receiver = Receiver::ok().await;
    let sender = WebhookSender::new(true);
    let spec = spec(Method::Get, format!("https://{}/", receiver.addr), "", &[]);

    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(outcome, failed("TLS handshake failed", false));
}

#[tokio::test]
async fn closed_port_fails_to_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let sender = WebhookSender::new(true);
    let spec = spec(Method::Get, format!("http://{addr}/"), "", &[]);

    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(outcome, failed("Connection failed", false));
}

#[tokio::test]
async fn unresolvable_host_is_reported() {
    // `.invalid` never resolves (RFC 6761); resolvers answer it locally.
    let sender = WebhookSender::new(false);
    let spec = spec(Method::Get, "http://overdue.invalid/".to_owned(), "", &[]);

    let outcome = sender
        .send(&spec, &notice(), &new_secret(), Utc::now())
        .await;

    assert_eq!(outcome, failed("Could not resolve host", false));
}

#[tokio::test]
async fn url_that_renders_invalid_fails_permanently() {
    let sender = WebhookSender::new(true);
    let mut n = notice();
    n.check.slug = "bad host".to_owned();
    let spec = spec(Method::Get, "http://$SLUG/".to_owned(), "", &[]);

    let outcome = sender.send(&spec, &n, &new_secret(), Utc::now()).await;

    assert_eq!(outcome, failed("Invalid URL", true));
}

#[tokio::test]
async fn header_value_that_renders_unsendable_fails_permanently() {
    let sender = WebhookSender::new(true);
    let n = notice_with("line\nbreak", "");
    let spec = spec(
        Method::Get,
        "http://example.invalid/".to_owned(),
        "",
        &[("X-Name", "$NAME")],
    );

    let outcome = sender.send(&spec, &n, &new_secret(), Utc::now()).await;

    assert_eq!(outcome, failed("Invalid value for header X-Name", true));
}
