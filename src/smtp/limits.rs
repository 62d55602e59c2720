//! Caps on SMTP sessions: so many at once in all, and so many from one client, so that one
//! client holding connections open cannot keep the others out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Why a session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The listener has its most sessions open.
    Sessions,
    /// This client has its most sessions open.
    Client,
}

impl Busy {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Busy::Sessions => "sessions",
            Busy::Client => "client",
        }
    }
}

/// Counts open sessions, in all and per client.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    inner: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_client: usize,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<Client, usize>,
}

/// Who a cap counts: an IPv4 address, or an IPv6 client's /64 network (one host is
/// usually given a whole /64, so counting single IPv6 addresses would cap nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(u32),
    V6(u64),
}

impl Client {
    fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Client::V4(u32::from(v4)),
            IpAddr::V6(v6) => Client::V6(network(v6)),
        }
    }
}

fn network(ip: Ipv6Addr) -> u64 {
    let bits = u128::from(ip) >> 64;
    u64::try_from(bits).unwrap_or(u64::MAX)
}

impl SessionLimits {
    pub fn new(max_total: usize, max_per_client: usize) -> SessionLimits {
        SessionLimits {
            inner: Arc::default(),
            max_total,
            max_per_client,
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a session from `ip`, held until the [`Permit`] is dropped.
    pub fn enter(&self, ip: IpAddr) -> Result<Permit, Busy> {
        let client = Client::of(ip);
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return Err(Busy::Sessions);
        }
        let open = counts.per_client.entry(client).or_insert(0);
        if *open >= self.max_per_client {
            return Err(Busy::Client);
        }
        *open += 1;
        counts.total += 1;
        Ok(Permit {
            limits: self.clone(),
            client,
        })
    }

    /// Sessions open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.counts().total
    }
}

/// One open session's place.
#[derive(Debug)]
pub struct Permit {
    limits: SessionLimits,
    client: Client,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.limits.counts();
        counts.total -= 1;
        if let Some(open) = counts.per_client.get_mut(&self.client) {
            *open -= 1;
            if *open == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_busy_client_does_not_take_the_places_of_others() {
        let limits = SessionLimits::new(3, 2);
        let first = limits.enter(ip("192.0.2.1")).expect("first");
        let _second = limits.enter(ip("192.0.2.1")).expect("second");
        assert_eq!(limits.enter(ip("192.0.2.1")).err(), Some(Busy::Client));
        let _other = limits.enter(ip("192.0.2.2")).expect("another client");
        assert_eq!(limits.enter(ip("192.0.2.3")).err(), Some(Busy::Sessions));
        drop(first);
        assert_eq!(limits.open(), 2);
        let _again = limits.enter(ip("192.0.2.3")).expect("a place was freed");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let limits = SessionLimits::new(10, 1);
        let _a = limits.enter(ip("2001:db8:1:2::1")).expect("first");
        assert_eq!(
            limits.enter(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Busy::Client)
        );
        let _b = limits.enter(ip("2001:db8:1:3::1")).expect("another /64");
        // An IPv4-mapped address is its IPv4 client.
        let _c = limits.enter(ip("192.0.2.1")).expect("v4");
        assert_eq!(
            limits.enter(ip("::ffff:192.0.2.1")).err(),
            Some(Busy::Client)
        );
    }

    #[test]
    fn dropping_every_permit_forgets_the_client() {
        let limits = SessionLimits::new(10, 1);
        drop(limits.enter(ip("192.0.2.1")).expect("enter"));
        assert_eq!(limits.open(), 0);
        assert!(limits.counts().per_client.is_empty());
    }
}
