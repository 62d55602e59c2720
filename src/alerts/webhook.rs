//! Webhook notifications: templates, Standard Webhooks signatures, and refusing private addresses.
//!
//! Configuration, placeholders and error wording follow healthchecks.io's webhook integration,
//! so stored channels and their templates behave the same here. Each request also carries
//! [Standard Webhooks](https://www.standardwebhooks.com/) headers so receivers can check it came
//! from us.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::{self, Write as _};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt as _;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Url, redirect};
use serde::de::{MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::Sha256;

use super::{Direction, Notice, Outcome};

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Longest URL, body, header name or header value a channel may hold (healthchecks.io's form).
const MAX_FIELD_CHARS: usize = 1000;

/// The HTTP method a webhook is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
}

impl Method {
    fn to_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        }
    }

    /// healthchecks.io sends the configured body with POST and PUT only.
    fn sends_body(self) -> bool {
        matches!(self, Method::Post | Method::Put)
    }
}

/// What to send when a check goes one way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookSpec {
    pub method: Method,
    /// A template; empty means nothing is sent for this direction.
    pub url: String,
    /// A template, sent for POST and PUT only.
    pub body: String,
    /// Names with value templates, in the order they were entered.
    pub headers: Vec<(String, String)>,
}

/// A webhook channel: one request for checks going down, another for coming back up.
///
/// (De)serializes as healthchecks.io stores the channel value:
/// `{"body_down", "body_up", "headers_down": {..}, "headers_up": {..}, "method_down",
/// "method_up", "url_down", "url_up"}`. Missing keys default to empty / GET, unknown keys
/// (such as a stored `name`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookConfig {
    pub down: WebhookSpec,
    pub up: WebhookSpec,
}

impl WebhookConfig {
    /// Checks the rules of healthchecks.io's WebhookForm; the first broken rule is reported as
    /// `field: message`. Methods are checked by [`Method`]'s deserialization.
    pub fn validate(&self) -> Result<(), String> {
        validate_spec(&self.down, "down")?;
        validate_spec(&self.up, "up")?;
        if self.down.url.is_empty() && self.up.url.is_empty() {
            return Err("url_down: Enter a valid URL.".to_owned());
        }
        Ok(())
    }

    /// The request to send for `direction`, or `None` when its URL is empty: a no-op that
    /// healthchecks.io neither sends nor records.
    pub fn spec(&self, direction: Direction) -> Option<&WebhookSpec> {
        let spec = match direction {
            Direction::Down => &self.down,
            Direction::Up => &self.up,
        };
        (!spec.url.is_empty()).then_some(spec)
    }
}

/// Checks one direction in the form's field order: body, headers, URL.
fn validate_spec(spec: &WebhookSpec, direction: &str) -> Result<(), String> {
    let in_field = |field: &str, checked: Result<(), String>| {
        checked.map_err(|message| format!("{field}_{direction}: {message}"))
    };
    in_field("body", check_length(&spec.body))?;
    in_field("headers", validate_headers(&spec.headers))?;
    in_field("url", validate_url(&spec.url))
}

/// Django's max_length counts characters, not bytes.
fn check_length(value: &str) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > MAX_FIELD_CHARS {
        return Err(format!(
            "Ensure this value has at most {MAX_FIELD_CHARS} characters (it has {chars})."
        ));
    }
    Ok(())
}

fn validate_headers(headers: &[(String, String)]) -> Result<(), String> {
    for (name, value) in headers {
        if name.trim().is_empty() || value.trim().is_empty() {
            return Err("Header names and values must not be empty.".to_owned());
        }
        if name.chars().count() > MAX_FIELD_CHARS || value.chars().count() > MAX_FIELD_CHARS {
            return Err(format!(
                "Header names and values must be at most {MAX_FIELD_CHARS} characters."
            ));
        }
        if !name.chars().all(is_latin1) {
            return Err("Header names must not contain special characters.".to_owned());
        }
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("{name:?} is not a valid header name."));
        }
        // healthchecks.io reads headers one per line, so a value can never hold a line break;
        // here one would end up injecting headers or failing every delivery.
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err("Header values must not contain control characters.".to_owned());
        }
    }
    Ok(())
}

fn validate_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    check_length(url)?;
    if !is_http_url(url) {
        return Err("Enter a valid URL.".to_owned());
    }
    Ok(())
}

/// An absolute http(s) URL with a host; hosts without a TLD (`http://backup-server/`) are fine.
/// Whitespace and control characters are refused although the URL parser would quietly drop
/// some of them: Django's validator refuses them too.
fn is_http_url(url: &str) -> bool {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    Url::parse(url).is_ok_and(|u| is_http_scheme(&u) && u.host().is_some())
}

fn is_http_scheme(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

fn is_latin1(c: char) -> bool {
    u32::from(c) <= 0xFF
}

impl Serialize for WebhookConfig {
    /// healthchecks.io writes the value with `json.dumps(..., sort_keys=True)`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("WebhookConfig", 8)?;
        s.serialize_field("body_down", &self.down.body)?;
        s.serialize_field("body_up", &self.up.body)?;
        s.serialize_field("headers_down", &HeaderObject(&self.down.headers))?;
        s.serialize_field("headers_up", &HeaderObject(&self.up.headers))?;
        s.serialize_field("method_down", &self.down.method)?;
        s.serialize_field("method_up", &self.up.method)?;
        s.serialize_field("url_down", &self.down.url)?;
        s.serialize_field("url_up", &self.up.url)?;
        s.end()
    }
}

/// Headers written as a JSON object, in their order.
struct HeaderObject<'a>(&'a [(String, String)]);

impl Serialize for HeaderObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The stored shape, flat as healthchecks.io keeps it.
#[derive(Default, Deserialize)]
#[serde(default)]
struct StoredConfig {
    method_down: Method,
    url_down: String,
    body_down: String,
    #[serde(deserialize_with = "header_object")]
    headers_down: Vec<(String, String)>,
    method_up: Method,
    url_up: String,
    body_up: String,
    #[serde(deserialize_with = "header_object")]
    headers_up: Vec<(String, String)>,
}

impl<'de> Deserialize<'de> for WebhookConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredConfig::deserialize(deserializer)?;
        Ok(WebhookConfig {
            down: WebhookSpec {
                method: stored.method_down,
                url: stored.url_down,
                body: stored.body_down,
                headers: stored.headers_down,
            },
            up: WebhookSpec {
                method: stored.method_up,
                url: stored.url_up,
                body: stored.body_up,
                headers: stored.headers_up,
            },
        })
    }
}

/// Reads a JSON object of header names to string values, keeping their order.
fn header_object<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    struct HeaderVisitor;

    impl<'de> Visitor<'de> for HeaderVisitor {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of header names to string values")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut headers: Vec<(String, String)> = Vec::new();
            while let Some((name, value)) = map.next_entry::<String, String>()? {
                // A repeated name keeps its first place and its last value, as a Python dict.
                match headers.iter_mut().find(|(n, _)| *n == name) {
                    Some(entry) => entry.1 = value,
                    None => headers.push((name, value)),
                }
            }
            Ok(headers)
        }
    }

    deserializer.deserialize_map(HeaderVisitor)
}

// ---------------------------------------------------------------------------------------------
// Placeholders
// ---------------------------------------------------------------------------------------------

/// Where a template is rendered: each place escapes values its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Values are percent-encoded, except `$CODE`, `$SLUG`, `$STATUS` and `$EXITSTATUS`.
    Url,
    /// The result is latin-1; other characters become `&#NNN;`.
    Header,
    /// Values go in as they are; only here do `$BODY` and `$BODY_JSON` exist.
    Body,
}

/// The values of one notice's placeholders, before any escaping.
#[derive(Debug, Clone)]
pub struct Placeholders {
    code: String,
    status: &'static str,
    now: String,
    name: String,
    name_json: String,
    slug: String,
    tags: String,
    tag_list: Vec<String>,
    json: String,
    body: String,
    body_json: String,
    exit_status: String,
}

impl Placeholders {
    /// Everything a template can refer to, taken from the notice once per send.
    pub fn from_notice(notice: &Notice) -> Self {
        let check = &notice.check;
        let last_ping = notice.last_ping.as_ref();
        let body = last_ping
            .and_then(|ping| ping.body.as_deref())
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        Placeholders {
            code: check.code.hyphenated().to_string(),
            status: notice.direction.as_str(),
            now: notice
                .changed_at
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            name: check.name.clone(),
            name_json: python_json_string(&check.name),
            slug: check.slug.clone(),
            tags: check.tags.clone(),
            tag_list: check.tags_list().map(str::to_owned).collect(),
            json: python_json(&notice.check_json),
            body_json: python_json_string(&body),
            body,
            exit_status: last_ping
                .and_then(|ping| ping.exit_status)
                .map_or_else(|| "-1".to_owned(), |status| status.to_string()),
        }
    }

    /// The placeholders (without their `$`) in the order healthchecks.io tries them. The first
    /// that starts a chunk wins, so `NAME_JSON` must come before `NAME`, and `TAGS` before `TAG1`.
    fn table(&self, place: Place) -> Vec<(Cow<'static, str>, Cow<'_, str>)> {
        let escape = |value| escape_value(place, value);
        let mut table = vec![
            ("CODE".into(), Cow::Borrowed(self.code.as_str())),
            ("STATUS".into(), Cow::Borrowed(self.status)),
            ("NOW".into(), escape(&self.now)),
            ("NAME_JSON".into(), escape(&self.name_json)),
            ("NAME".into(), escape(&self.name)),
            ("SLUG".into(), Cow::Borrowed(self.slug.as_str())),
            ("TAGS".into(), escape(&self.tags)),
            ("JSON".into(), escape(&self.json)),
        ];
        if place == Place::Body {
            table.push(("BODY_JSON".into(), Cow::Borrowed(self.body_json.as_str())));
            table.push(("BODY".into(), Cow::Borrowed(self.body.as_str())));
        }
        table.push((
            "EXITSTATUS".into(),
            Cow::Borrowed(self.exit_status.as_str()),
        ));
        for (i, tag) in self.tag_list.iter().enumerate() {
            table.push((format!("TAG{}", i + 1).into(), escape(tag)));
        }
        table
    }
}

/// Values other than `$CODE`, `$SLUG`, `$STATUS` and `$EXITSTATUS` are quoted in URLs.
fn escape_value(place: Place, value: &str) -> Cow<'_, str> {
    match place {
        Place::Url => Cow::Owned(url_quote(value)),
        Place::Header | Place::Body => Cow::Borrowed(value),
    }
}

/// Replaces placeholders as healthchecks.io's `hc.lib.string.replace` does: the template is
/// split on `$`, and each chunk has at most one placeholder replaced, at its start. Values are
/// never scanned again, so a check named `$TAG1` stays `$TAG1`.
pub fn render(template: &str, ctx: &Placeholders, place: Place) -> String {
    let table = ctx.table(place);
    let mut chunks = template.split('$');
    let mut out = String::from(chunks.next().unwrap_or_default());
    for chunk in chunks {
        match table
            .iter()
            .find(|(key, _)| chunk.starts_with(key.as_ref()))
        {
            Some((key, value)) => {
                out.push_str(value);
                out.push_str(&chunk[key.len()..]);
            }
            None => {
                out.push('$');
                out.push_str(chunk);
            }
        }
    }
    match place {
        Place::Header => latin1_with_char_refs(&out),
        Place::Url | Place::Body => out,
    }
}

/// Python's `urllib.parse.quote(value, safe="/")`.
fn url_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Python's `value.encode("latin-1", "xmlcharrefreplace").decode("latin-1")`.
fn latin1_with_char_refs(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if is_latin1(c) {
            out.push(c);
        } else {
            let _ = write!(out, "&#{};", u32::from(c));
        }
    }
    out
}

/// Python's `json.dumps(value)`: `", "` and `": "` separators and every non-ASCII character
/// escaped, so templates produce byte-for-byte what healthchecks.io sends.
fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn python_json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    write_python_string(value, &mut out);
    out
}

fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(key, out);
                out.push_str(": ");
                write_python_json(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string with Python's `ensure_ascii` escaping: anything outside printable ASCII
/// becomes `\uXXXX` (lowercase hex, surrogate pairs beyond the BMP).
fn write_python_string(value: &str, out: &mut String) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks signatures
// ---------------------------------------------------------------------------------------------

const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret in Standard Webhooks form: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill(&mut key);
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

/// The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `{msg_id}.{timestamp}.{body}`
/// keyed by the secret's decoded bytes.
///
/// Secrets come from [`new_secret`]. One that is not base64 (a damaged row) is used as raw
/// bytes: receivers then reject the signature, which is better than not alerting at all.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = BASE64.decode(encoded).unwrap_or_else(|_| {
        tracing::warn!("webhook signing secret is not base64; signatures will not verify");
        encoded.as_bytes().to_vec()
    });
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Private addresses
// ---------------------------------------------------------------------------------------------

const PRIVATE_REFUSED: &str = "Connections to private IP addresses are not allowed";

/// Whether a webhook may connect to `ip`: anything that could reach our own host, its network
/// or a provider's internal services (loopback, private and link-local ranges, CGNAT, …) is not
/// public. IPv4 addresses embedded in IPv6 (mapped, compatible, NAT64) are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", including 0.0.0.0
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_loopback()
        || ip.is_link_local()
        || (a == 100 && (b & 0xC0) == 64) // shared address space (CGNAT) 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || ip.is_documentation()
        || (a == 198 && (b & 0xFE) == 18) // benchmarking 198.18/15
        || ip.is_multicast()
        || a >= 240; // reserved 240/4, including broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4() {
        // ::ffff:a.b.c.d and ::a.b.c.d; `::` and `::1` land in 0/8 and are refused too.
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96): the gateway connects to the embedded IPv4 address.
        return is_public_v4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_unique_local() // fc00::/7
        || ip.is_unicast_link_local() // fe80::/10
        || (s[0] & 0xFFC0) == 0xFEC0 // deprecated site-local fec0::/10
        || ip.is_multicast()
        || (s[0] == 0x2001 && s[1] == 0x0DB8) // documentation 2001:db8::/32
        || (s[0] == 0x3FFF && s[1] < 0x1000); // documentation 3fff::/20
    !special
}

/// Why our resolver gave no addresses; found again in reqwest's error chain to classify the
/// failure.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error("could not resolve {host}: {source}")]
    Lookup { host: String, source: io::Error },
    #[error("{host} has no addresses")]
    NoAddresses { host: String },
    #[error("{host} resolves only to non-public addresses")]
    OnlyPrivate { host: String },
}

/// The system resolver, keeping only public addresses unless private targets are allowed.
///
/// Filtering here rather than before sending also defeats DNS rebinding: the addresses checked
/// are the ones connected to. URLs with literal IP addresses never reach a resolver and are
/// checked in [`WebhookSender::target_url`].
#[derive(Debug, Clone, Copy)]
struct PublicResolver {
    allow_private: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_host(&host, allow_private).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

async fn resolve_host(host: &str, allow_private: bool) -> Result<Vec<SocketAddr>, ResolveError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|source| ResolveError::Lookup {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if found.is_empty() {
        return Err(ResolveError::NoAddresses {
            host: host.to_owned(),
        });
    }
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|addr| allow_private || is_public(addr.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(ResolveError::OnlyPrivate {
            host: host.to_owned(),
        });
    }
    Ok(allowed)
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// healthchecks.io allows 30 s; a shorter limit keeps one slow receiver from holding up the
/// dispatcher, and retries come from the outbox.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const USER_AGENT: &str = "Overdue";

/// Sends webhook requests; cheap to clone, and one is meant to be shared.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookSender {
    /// A sender with a 10 s limit per attempt. Private addresses are refused unless
    /// `allow_private` (for self-hosting next to the services being alerted).
    pub fn new(allow_private: bool) -> Self {
        Self::with_timeout(allow_private, TIMEOUT)
    }

    /// As [`WebhookSender::new`], with another limit on each whole attempt.
    pub fn with_timeout(allow_private: bool, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            // A redirect could lead to a literal private address, which only `target_url`
            // checks; so a 3xx is reported as a failure (healthchecks.io follows up to 3).
            .redirect(redirect::Policy::none())
            // A proxy would resolve the target itself, around the private-address filter.
            .no_proxy()
            .user_agent(USER_AGENT)
            .dns_resolver(PublicResolver { allow_private })
            .build()
            // Fails only when the TLS backend cannot start, which no configuration can cause.
            .expect("the webhook HTTP client can be built");
        WebhookSender {
            client,
            allow_private,
        }
    }

    /// Sends one attempt of `spec` for `notice`, signed with `secret` as of `now`.
    ///
    /// Any 2xx is delivered. Every other status is a transient failure, 4xx included: a
    /// receiver's configuration can be fixed between attempts, retries are cheap, and
    /// healthchecks.io retries them too.
    pub async fn send(
        &self,
        spec: &WebhookSpec,
        notice: &Notice,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Outcome {
        let request = match self.prepare(spec, notice, secret, now) {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        let https = request.url().scheme() == "https";
        match self.client.execute(request).await {
            Ok(response) => outcome_for_status(response.status().as_u16()),
            Err(err) => outcome_for_error(&err, https),
        }
    }

    /// The rendered, signed request, or the permanent failure that stops it being sent.
    fn prepare(
        &self,
        spec: &WebhookSpec,
        notice: &Notice,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<reqwest::Request, Outcome> {
        let ctx = Placeholders::from_notice(notice);
        let url = self.target_url(&render(&spec.url, &ctx, Place::Url))?;
        let body = if spec.method.sends_body() && !spec.body.is_empty() {
            render(&spec.body, &ctx, Place::Body).into_bytes()
        } else {
            Vec::new()
        };
        let mut headers = configured_headers(&spec.headers, &ctx)?;
        add_signature_headers(&mut headers, notice, secret, now, &body);

        let mut request = reqwest::Request::new(spec.method.to_reqwest(), url);
        *request.headers_mut() = headers;
        if !body.is_empty() {
            *request.body_mut() = Some(body.into());
        }
        Ok(request)
    }

    /// Parses the rendered URL and refuses literal private addresses, which bypass the resolver.
    fn target_url(&self, rendered: &str) -> Result<Url, Outcome> {
        let url = Url::parse(rendered)
            .ok()
            .filter(|url| is_http_scheme(url) && url.host().is_some())
            .ok_or_else(|| Outcome::failed("Invalid URL", true))?;
        if !self.allow_private && is_literal_private(&url) {
            return Err(Outcome::failed(PRIVATE_REFUSED, true));
        }
        Ok(url)
    }
}

fn is_literal_private(url: &Url) -> bool {
    literal_ip(url).is_some_and(|ip| !is_public(ip))
}

/// The host as an IP address, if it is one. The parser has already normalised other IPv4
/// spellings (`http://2130706433/`) to dotted form; IPv6 hosts come in brackets.
fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// The channel's headers with their values rendered. A value that still cannot be sent (the
/// check's name can put anything in it) fails permanently: sending again renders it the same.
fn configured_headers(
    headers: &[(String, String)],
    ctx: &Placeholders,
) -> Result<HeaderMap, Outcome> {
    let mut map = HeaderMap::with_capacity(headers.len() + 3);
    for (name, template) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Outcome::failed(format!("Invalid header name: {name}"), true))?;
        let value = latin1_bytes(&render(template, ctx, Place::Header))
            .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
            .ok_or_else(|| Outcome::failed(format!("Invalid value for header {name}"), true))?;
        // A configured User-Agent replaces the client's default, as in healthchecks.io.
        map.append(header, value);
    }
    Ok(map)
}

/// Each character as one latin-1 byte; `None` if one is outside latin-1.
fn latin1_bytes(value: &str) -> Option<Vec<u8>> {
    value.chars().map(|c| u8::try_from(c).ok()).collect()
}

/// The Standard Webhooks headers. The id is the outbox row's, the same on every attempt, so
/// receivers can drop duplicates. They replace any configured headers of the same names.
fn add_signature_headers(
    headers: &mut HeaderMap,
    notice: &Notice,
    secret: &str,
    now: DateTime<Utc>,
    body: &[u8],
) {
    let id = notice.id.hyphenated().to_string();
    let timestamp = now.timestamp();
    let signature = sign(secret, &id, timestamp, body);
    for (name, value) in [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ] {
        // Hyphenated UUIDs, digits and base64 are always valid header values.
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

fn outcome_for_status(status: u16) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Delivered {
            status: Some(status),
        };
    }
    Outcome::Failed {
        error: format!("Received status code {status}"),
        status: Some(status),
        permanent: false,
    }
}

/// healthchecks.io's wording for curl's errors, found from reqwest's error and its sources.
fn outcome_for_error(err: &reqwest::Error, https: bool) -> Outcome {
    tracing::debug!(error = ?err, "webhook request failed");
    match find_source::<ResolveError>(err) {
        Some(ResolveError::OnlyPrivate { .. }) => return Outcome::failed(PRIVATE_REFUSED, true),
        Some(ResolveError::Lookup { .. } | ResolveError::NoAddresses { .. }) => {
            return Outcome::failed("Could not resolve host", false);
        }
        None => {}
    }
    if err.is_timeout() {
        Outcome::failed("Connection timed out", false)
    } else if err.is_connect() && https && is_tls_failure(err) {
        Outcome::failed("TLS handshake failed", false)
    } else if err.is_connect() {
        Outcome::failed("Connection failed", false)
    } else {
        Outcome::failed("HTTP request failed", false)
    }
}

/// `err` and its causes, stepping into the errors that `io::Error`s wrap: `io::Error::source`
/// skips its wrapped error and yields that error's own source, which would hide rustls' error
/// and our resolver's.
fn sources<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| match e.downcast_ref::<io::Error>() {
        Some(io_err) => match io_err.get_ref() {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        },
        None => e.source(),
    })
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    sources(err).find_map(|e| e.downcast_ref::<T>())
}

/// rustls reports handshake failures (bad certificates, a peer that does not speak TLS) as I/O
/// errors of these kinds; plain TCP failures have others (refused, reset, unreachable).
fn is_tls_failure(err: &reqwest::Error) -> bool {
    sources(err)
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            )
        })
}

#[cfg(test)]
mod tests;
