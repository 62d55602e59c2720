//! Settings: one clap struct, each setting a flag with an environment variable.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

/// A value that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Secret<String> {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// An address or a network (`10.0.0.0/8`, `::1`) whose proxy headers are believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedNet {
    addr: IpAddr,
    prefix: u8,
}

impl TrustedNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for TrustedNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("not an IP address: {s}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix length in {s}"))?,
        };
        Ok(TrustedNet { addr, prefix })
    }
}

/// Every setting of `overdue`, from flags or environment variables.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database: `sqlite://overdue.db` (created on first start) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://overdue.db",
        global = true
    )]
    pub database_url: Secret<String>,

    /// Address and port to serve HTTP on.
    #[arg(
        long,
        env = "OVERDUE_LISTEN",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub listen: SocketAddr,

    /// Public base URL, used in links and ping URLs (default: http://<listen address>).
    #[arg(long, env = "OVERDUE_SITE_ROOT", global = true)]
    pub site_root: Option<String>,

    /// Bytes of a ping's body that are kept; the rest is dropped.
    #[arg(
        long,
        env = "OVERDUE_PING_BODY_LIMIT",
        default_value_t = 10_000,
        global = true
    )]
    pub ping_body_limit: usize,

    /// How many of each check's newest pings the API lists and serves bodies of.
    #[arg(
        long,
        env = "OVERDUE_PING_LOG_LIMIT",
        default_value_t = 100,
        global = true
    )]
    pub ping_log_limit: i64,

    /// Shortest allowed period and grace time, in seconds.
    #[arg(long, env = "OVERDUE_MIN_TIMEOUT", default_value_t = 60, global = true)]
    pub min_timeout: u64,

    /// How long a background-work lease lasts without renewal, in seconds.
    #[arg(long, env = "OVERDUE_LEASE_TTL", default_value_t = 10, global = true)]
    pub lease_ttl: u64,

    /// Key for `GET /api/v3/metrics/` (header `X-Metrics-Key`); unset, that endpoint is off.
    #[arg(long, env = "OVERDUE_METRICS_KEY", global = true)]
    pub metrics_key: Option<Secret<String>>,

    /// SMTP server for alert email: `smtp://host:port`, `smtps://user:pass@host`.
    #[arg(long, env = "OVERDUE_SMTP_URL", global = true)]
    pub smtp_url: Option<Secret<String>>,

    /// Sender address of alert email.
    #[arg(
        long,
        env = "OVERDUE_EMAIL_FROM",
        default_value = "overdue@localhost",
        global = true
    )]
    pub email_from: String,

    /// Allow webhooks to private and loopback addresses.
    #[arg(
        long,
        env = "OVERDUE_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        global = true
    )]
    pub webhook_allow_private: bool,

    /// Comma-separated proxy addresses or networks whose X-Forwarded-For and
    /// X-Forwarded-Proto headers are believed.
    #[arg(
        long,
        env = "OVERDUE_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<TrustedNet>,

    /// `off` turns every rate limit off (benchmarks, trusted networks).
    #[arg(
        long,
        env = "OVERDUE_RATE_LIMITS",
        default_value = "on",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set,
        global = true
    )]
    pub rate_limits: bool,

    /// Management API requests per API key (`N/s`, `N/min`, `N/hour`, `N/day` or `off`).
    #[arg(
        long,
        env = "OVERDUE_RATE_LIMIT_API",
        default_value = "100/min",
        global = true
    )]
    pub rate_limit_api: Rate,

    /// Pings per source address.
    #[arg(
        long,
        env = "OVERDUE_RATE_LIMIT_PING_SOURCE",
        default_value = "6000/min",
        global = true
    )]
    pub rate_limit_ping_source: Rate,

    /// Pings per check (per UUID, or per ping key and slug).
    #[arg(
        long,
        env = "OVERDUE_RATE_LIMIT_PING_CHECK",
        default_value = "60/min",
        global = true
    )]
    pub rate_limit_ping_check: Rate,

    /// Login and signup attempts per client address.
    #[arg(
        long,
        env = "OVERDUE_RATE_LIMIT_LOGIN",
        default_value = "20/hour",
        global = true
    )]
    pub rate_limit_login: Rate,

    /// Team invitations each user may send.
    #[arg(
        long,
        env = "OVERDUE_RATE_LIMIT_INVITE",
        default_value = "20/day",
        global = true
    )]
    pub rate_limit_invite: Rate,

    /// Whether anyone may sign up for an account on the dashboard.
    #[arg(
        long,
        env = "OVERDUE_REGISTRATION_OPEN",
        default_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set,
        global = true
    )]
    pub registration_open: bool,

    /// Address and port of the SMTP listener that turns incoming mail into pings
    /// (e.g. `0.0.0.0:25`); unset, no mail is taken.
    #[arg(long, env = "OVERDUE_SMTP_LISTEN", global = true)]
    pub smtp_listen: Option<SocketAddr>,

    /// Domain of ping email addresses, `<uuid>@<domain>` and `<ping key>+<slug>@<domain>`
    /// (default: the host of the site root).
    #[arg(long, env = "OVERDUE_PING_EMAIL_DOMAIN", global = true)]
    pub ping_email_domain: Option<String>,

    /// Largest email ping the SMTP listener takes, in bytes (announced as SIZE; larger
    /// messages are refused with 552). The whole message is the ping's body.
    #[arg(
        long,
        env = "OVERDUE_SMTP_MAX_MESSAGE_SIZE",
        default_value_t = 1_048_576,
        global = true
    )]
    pub smtp_max_message_size: usize,

    /// SMTP sessions open at once; a client beyond that is refused with 421.
    #[arg(
        long,
        env = "OVERDUE_SMTP_MAX_SESSIONS",
        default_value_t = 128,
        global = true
    )]
    pub smtp_max_sessions: usize,

    /// SMTP sessions open at once from one client address (for IPv6, one /64 network).
    #[arg(
        long,
        env = "OVERDUE_SMTP_MAX_SESSIONS_PER_ADDRESS",
        default_value_t = 32,
        global = true
    )]
    pub smtp_max_sessions_per_address: usize,

    /// Seconds an SMTP client may take to send each command or line of a message.
    #[arg(
        long,
        env = "OVERDUE_SMTP_COMMAND_TIMEOUT",
        default_value = "60",
        global = true
    )]
    pub smtp_command_timeout: Seconds,

    /// Seconds an SMTP session may last in all.
    #[arg(
        long,
        env = "OVERDUE_SMTP_SESSION_TIMEOUT",
        default_value = "300",
        global = true
    )]
    pub smtp_session_timeout: Seconds,
}

/// A rate limit: up to `count` requests at once, refilled evenly over `per`; `off` is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(Option<(u32, Duration)>);

impl Rate {
    pub const OFF: Rate = Rate(None);

    /// The burst size and the time one request's allowance takes to come back.
    pub fn quota(self) -> Option<(u32, Duration)> {
        self.0.map(|(count, per)| (count, per / count))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "off" {
            return Ok(Rate(None));
        }
        let bad = || format!("expected N/s, N/min, N/hour, N/day or off, not {s:?}");
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(bad)?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        Ok(Rate(Some((count, Duration::from_secs(seconds)))))
    }
}

/// A positive number of seconds, fractions allowed (`0.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(Duration);

impl Seconds {
    pub fn duration(self) -> Duration {
        self.0
    }
}

impl FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| *n > 0.0)
            .and_then(|n| Duration::try_from_secs_f64(n).ok())
            .map(Seconds)
            .ok_or_else(|| format!("expected a positive number of seconds, not {s:?}"))
    }
}

/// Parses settings alone, as `overdue [FLAGS]` would.
#[derive(Debug, clap::Parser)]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Settings from flags (and the environment), e.g. for tests:
    /// `Config::from_flags(["--database-url", "sqlite://x.db"])`.
    pub fn from_flags<I, T>(flags: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let args = std::iter::once(std::ffi::OsString::from("overdue"))
            .chain(flags.into_iter().map(Into::into));
        Ok(ConfigOnly::try_parse_from(args)?.config)
    }

    /// The site root without a trailing slash.
    pub fn site_root(&self) -> String {
        match &self.site_root {
            Some(root) => root.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Base of ping URLs, ending in `/ping/`.
    pub fn ping_endpoint(&self) -> String {
        format!("{}/ping/", self.site_root())
    }

    /// The domain ping email is addressed to, lowercase: the setting, or the site root's host.
    pub fn ping_email_domain(&self) -> String {
        let domain = match &self.ping_email_domain {
            Some(domain) => domain.trim().to_owned(),
            None => {
                let root = self.site_root();
                let host = root
                    .split_once("://")
                    .map_or(root.as_str(), |(_, rest)| rest);
                let host = host.split(['/', '?', '#']).next().unwrap_or_default();
                let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                // Without the port; a bracketed IPv6 address keeps its brackets.
                match host.rsplit_once(':') {
                    Some((name, port))
                        if !name.is_empty()
                            && port.bytes().all(|b| b.is_ascii_digit())
                            && (!name.contains(':') || name.ends_with(']')) =>
                    {
                        name.to_owned()
                    }
                    _ => host.to_owned(),
                }
            }
        };
        domain.to_ascii_lowercase()
    }

    /// Whether a peer may set the client address and scheme through proxy headers.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ping_email_domain_defaults_to_the_site_roots_host() {
        let domain = |flags: &[&str]| {
            Config::from_flags(flags)
                .expect("flags")
                .ping_email_domain()
        };
        assert_eq!(
            domain(&["--site-root", "https://HC.example.org/"]),
            "hc.example.org"
        );
        assert_eq!(
            domain(&["--site-root", "http://example.org:8000/x"]),
            "example.org"
        );
        assert_eq!(domain(&["--site-root", "http://[::1]:8000"]), "[::1]");
        assert_eq!(domain(&["--listen", "127.0.0.1:9000"]), "127.0.0.1");
        assert_eq!(
            domain(&[
                "--site-root",
                "https://a.org",
                "--ping-email-domain",
                "Mail.Example.org"
            ]),
            "mail.example.org"
        );
    }

    #[test]
    fn seconds_take_fractions_and_refuse_zero() {
        let parse = |s: &str| s.parse::<Seconds>().map(Seconds::duration);
        assert_eq!(parse("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse("0").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("soon").is_err());
        assert!(parse("inf").is_err());
    }

    #[test]
    fn trusted_networks_match_addresses_inside_them() {
        let net: TrustedNet = "10.1.0.0/16".parse().expect("valid");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.1.0.9".parse().expect("ip")));
        let single: TrustedNet = "::1".parse().expect("valid");
        assert!(single.contains("::1".parse().expect("ip")));
        assert!(!single.contains("::2".parse().expect("ip")));
        let all: TrustedNet = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains("203.0.113.9".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<TrustedNet>().is_err());
        assert!("proxy.local".parse::<TrustedNet>().is_err());
    }

    #[test]
    fn rates_parse_into_burst_and_refill_interval() {
        let rate: Rate = "100/min".parse().expect("valid");
        assert_eq!(rate.quota(), Some((100, Duration::from_millis(600))));
        let rate: Rate = "20/hour".parse().expect("valid");
        assert_eq!(rate.quota(), Some((20, Duration::from_secs(180))));
        let rate: Rate = "20/day".parse().expect("valid");
        assert_eq!(rate.quota(), Some((20, Duration::from_secs(4320))));
        assert_eq!("off".parse::<Rate>().expect("valid").quota(), None);
        for bad in ["0/min", "100", "100/week", "x/s", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let secret: Secret<String> = "postgres://u:hunter2@db/overdue"
            .parse()
            .expect("infallible");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert!(secret.expose().contains("hunter2"));
    }
}
