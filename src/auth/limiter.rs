//! Failed-login limiter, shared by SMTP AUTH, IMAP and POP3.
//!
//! Each failure from a client address makes the next answer to that address
//! wait longer (250 ms doubling to 8 s), and after [`MAX_FAILURES`] within
//! [`FORGET_AFTER`] the address is refused outright until the window passes
//! — Dovecot's auth_failure_delay plus fail2ban, in one place. The waiting
//! is done by the failing session's own task on a timer, so it never blocks
//! the executor and never slows another client. Clients are counted as
//! [`ClientAddr::group`] says: IPv4 (mapped or not) per address, IPv6 per
//! /64, since one host usually owns a whole /64.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::net::ClientAddr;

/// Failures that close the door for the rest of the window.
pub const MAX_FAILURES: u32 = 10;
/// A failure is forgotten this long after the last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at once; beyond it the oldest entries go first.
const MAX_TRACKED: usize = 10_000;

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// Per-client failure counts. Lives on the executor thread (one per server).
#[derive(Debug, Default)]
pub struct FailureLimiter {
    entries: RefCell<HashMap<IpAddr, Entry>>,
}

/// The client has failed too often; it may try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after: Duration,
}

/// The key a client is counted under.
fn key(ip: impl Into<ClientAddr>) -> IpAddr {
    ip.into().group()
}

impl FailureLimiter {
    pub fn new() -> FailureLimiter {
        FailureLimiter::default()
    }

    /// Whether `ip` may try to log in now.
    pub fn check(&self, ip: impl Into<ClientAddr>) -> Result<(), Blocked> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: impl Into<ClientAddr>, now: Instant) -> Result<(), Blocked> {
        let entries = self.entries.borrow();
        match entries.get(&key(ip)) {
            Some(e) if e.failures >= MAX_FAILURES && now.duration_since(e.last) < FORGET_AFTER => {
                Err(Blocked {
                    retry_after: FORGET_AFTER - now.duration_since(e.last),
                })
            }
            _ => Ok(()),
        }
    }

    /// Records a failure; returns how long the session should wait before
    /// it answers.
    pub fn failure(&self, ip: impl Into<ClientAddr>) -> Duration {
        self.failure_at(ip, Instant::now())
    }

    fn failure_at(&self, ip: impl Into<ClientAddr>, now: Instant) -> Duration {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_TRACKED {
            entries.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER);
            if entries.len() >= MAX_TRACKED {
                // Still full of live entries: drop the stalest.
                if let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| *k) {
                    entries.remove(&oldest);
                }
            }
        }
        let entry = entries.entry(key(ip)).or_insert(Entry {
            failures: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        let doublings = (entry.failures - 1).min(16);
        FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
    }

    /// Starts a login attempt: refused if `ip` is blocked, else counted as
    /// a failure at once, before any verification runs, and the delay a
    /// failure must wait is returned. Counting at the start is what stops
    /// N attempts started together from one address all being checked
    /// before the first of them fails; a success clears the count again
    /// ([`Self::success`]) and an attempt that verified nothing gives its
    /// count back ([`Self::cancel`]). Check and count happen in one call
    /// on the executor thread, so no other attempt can slip in between.
    pub fn begin(&self, ip: impl Into<ClientAddr>) -> Result<Duration, Blocked> {
        let ip = key(ip);
        let now = Instant::now();
        self.check_at(ip, now)?;
        Ok(self.failure_at(ip, now))
    }

    /// Gives back the count of an attempt [`Self::begin`] made that never
    /// reached a verdict (the verifier queue was full, the store could not
    /// be read), so a busy server does not lock its users out.
    pub fn cancel(&self, ip: impl Into<ClientAddr>) {
        if let Some(entry) = self.entries.borrow_mut().get_mut(&key(ip)) {
            entry.failures = entry.failures.saturating_sub(1);
        }
    }

    /// A successful login clears the address's record.
    pub fn success(&self, ip: impl Into<ClientAddr>) {
        self.entries.borrow_mut().remove(&key(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_block_then_forget() {
        let l = FailureLimiter::new();
        let ip: IpAddr = "192.0.2.7".parse::<IpAddr>().unwrap();
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..MAX_FAILURES).map(|_| l.failure_at(ip, t0)).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(delays[1], FIRST_DELAY * 2);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*delays.last().unwrap(), MAX_DELAY);
        assert!(l.check_at(ip, t0).is_err());
        // Another client is unaffected.
        assert!(
            l.check_at("192.0.2.8".parse::<IpAddr>().unwrap(), t0)
                .is_ok()
        );
        assert!(l.check_at(ip, t0 + FORGET_AFTER).is_ok());
    }

    #[test]
    fn success_clears_and_ipv6_counts_per_64() {
        let l = FailureLimiter::new();
        for i in 0..MAX_FAILURES {
            l.failure(format!("2001:db8::{i:x}").parse::<IpAddr>().unwrap());
        }
        assert!(
            l.check("2001:db8::ffff".parse::<IpAddr>().unwrap())
                .is_err()
        );
        assert!(
            l.check("2001:db8:0:1::1".parse::<IpAddr>().unwrap())
                .is_ok()
        );
        l.success("2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(l.check("2001:db8::ffff".parse::<IpAddr>().unwrap()).is_ok());
    }

    #[test]
    fn attempts_count_when_they_begin() {
        let l = FailureLimiter::new();
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        // Attempts started together, none finished: each is counted as it
        // begins, so the one past the limit is refused before it runs.
        for _ in 0..MAX_FAILURES {
            assert!(l.begin(ip).is_ok());
        }
        assert!(l.begin(ip).is_err());
        // One that never reached a verdict gives its count back.
        l.cancel(ip);
        assert!(l.begin(ip).is_ok());
        assert!(l.begin(ip).is_err());
        l.success(ip);
        assert_eq!(l.begin(ip), Ok(FIRST_DELAY));
    }

    #[test]
    fn ipv4_mapped_counts_as_ipv4() {
        let l = FailureLimiter::new();
        for _ in 0..MAX_FAILURES {
            l.failure("::ffff:192.0.2.9".parse::<IpAddr>().unwrap());
        }
        assert!(l.check("192.0.2.9".parse::<IpAddr>().unwrap()).is_err());
        l.success("192.0.2.9".parse::<IpAddr>().unwrap());
        assert!(
            l.check("::ffff:192.0.2.9".parse::<IpAddr>().unwrap())
                .is_ok()
        );
    }
}
