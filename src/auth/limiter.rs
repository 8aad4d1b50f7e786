//! Failed-login limiter, shared by SMTP AUTH, IMAP and POP3.
//!
//! Two counts, as Postfix's anvil and Dovecot's auth_penalty keep them:
//!
//! - per client address ([`ClientAddr::group`]: IPv4 per address, IPv6 per
//!   /64): every failure from it in a window makes the next failure's
//!   answer wait longer (250 ms doubling to 8 s), which slows a guesser
//!   down, whatever names it tries. The address is slowed, never refused:
//!   a correct password is answered at once, so another user at the same
//!   address (a household behind one NAT, a webmail) always gets in;
//! - per (address, user name): after [`Allowance::per_user`] failures the
//!   pair is refused (a temporary error) until it has been quiet for the
//!   window. This is the lockout: a LAN service retrying a stale password
//!   locks out only its own user at its own address, never another user
//!   there and never the same user elsewhere.
//!
//! A guesser rotating names gains nothing against a real account by it:
//! each account still gets at most [`Allowance::per_user`] guesses per
//! window from one address, each failure waits up to 8 s, and the
//! verifier line gives one address one hash at a time (`auth::queue`).
//! The trusted networks (`--trusted-network`) get their own, larger
//! allowance ([`TRUSTED`]): shorter waits, more failures.
//!
//! Every attempt is counted when it begins ([`FailureLimiter::begin`]),
//! so N attempts started together cannot all be checked before the first
//! fails. A success clears only its own (address, user) record and takes
//! back only its own count at the address: logging into one's own account
//! does not reset the failures others (or oneself) made against other
//! names. The waiting is done by the failing session's own task on a
//! timer, so it never blocks the executor and never slows another client;
//! a correct password is not delayed at all.
//!
//! The state lives in memory only and a restart forgets it, as anvil's
//! does: writing it would cost an SD-card write per failed guess (itself
//! a cost an attacker could run up), and a lockout is 15 minutes anyway.
//! Both tables are bounded ([`MAX_TRACKED`]); when full, expired entries
//! go first, then the least recently used.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::net::ClientAddr;

/// How much failing a client may do: one for the world, one for the
/// trusted networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Failures for one user name from one address that lock the pair out.
    pub per_user: u32,
    /// A pair is forgotten this long after its last failure; an address
    /// counts its failures (for the delay) in windows of this length.
    pub window: Duration,
    /// The wait before answering the first failure from an address; each
    /// further failure doubles it, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

/// The world: a pair locks after 10 failures for 15 minutes (Dovecot and
/// fail2ban's usual figure); past an address's fifth failure in the window
/// every failed answer waits 8 s.
pub const UNTRUSTED: Allowance = Allowance {
    per_user: 10,
    window: Duration::from_secs(15 * 60),
    first_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(8),
};

/// The trusted networks (this host and the LAN named by
/// `--trusted-network`): a webmail or a house of phones behind one address
/// gets twice the failures per user, shorter waits and a 5-minute lockout.
/// Still bounded: a compromised LAN device is not given unlimited guesses.
pub const TRUSTED: Allowance = Allowance {
    per_user: 20,
    window: Duration::from_secs(5 * 60),
    first_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(1),
};

// The trusted allowance is the larger one, whatever the figures become.
const _: () = assert!(
    TRUSTED.per_user > UNTRUSTED.per_user
        && TRUSTED.max_delay.as_millis() <= UNTRUSTED.max_delay.as_millis()
);

/// The world's per-user lockout (kept under this name for the verifier
/// queue's bound, which must stay below it).
pub const MAX_FAILURES: u32 = UNTRUSTED.per_user;
/// The world's window.
pub const FORGET_AFTER: Duration = UNTRUSTED.window;
/// Entries per table; beyond it expired entries go, then the stalest.
/// A pair entry is ~48 bytes (names are kept as a keyed hash), so both
/// tables stay under a megabyte.
pub const MAX_TRACKED: usize = 10_000;

impl Allowance {
    /// The allowance for a client, trusted or not.
    pub fn of(trusted: bool) -> &'static Allowance {
        if trusted { &TRUSTED } else { &UNTRUSTED }
    }

    /// The wait before answering the `n`th failure (from 1) of an address.
    pub fn delay(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(16);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// One address's failures in the current window.
#[derive(Debug, Clone, Copy)]
struct Address {
    failures: u32,
    since: Instant,
    window: Duration,
}

/// One (address, user name) pair: its failures.
#[derive(Debug, Clone, Copy)]
struct Pair {
    failures: u32,
    last: Instant,
    window: Duration,
}

impl Address {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.since) < self.window
    }
}

impl Pair {
    fn failing(&self, now: Instant) -> bool {
        self.failures > 0 && now.duration_since(self.last) < self.window
    }

    fn live(&self, now: Instant) -> bool {
        self.failing(now)
    }
}

/// What is refused: only ever one user name at one address (an address
/// as a whole is slowed down, never refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This user name from this address.
    User,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::User => "of this user from this address",
        })
    }
}

/// The client has failed too often; it may try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after: Duration,
    pub scope: Scope,
}

/// A login attempt counted by [`FailureLimiter::begin`]: hand it back to
/// [`FailureLimiter::success`] or [`FailureLimiter::cancel`], or wait out
/// `delay` before answering a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    group: IpAddr,
    name: u64,
    pub delay: Duration,
}

/// Failure counts. Lives on the executor thread (one per server).
#[derive(Debug, Default)]
pub struct FailureLimiter {
    /// Keys the hash a user name is kept as (random per process, so a
    /// client cannot aim names at one bucket).
    names: RandomState,
    addresses: RefCell<HashMap<IpAddr, Address>>,
    pairs: RefCell<HashMap<(IpAddr, u64), Pair>>,
}

impl FailureLimiter {
    pub fn new() -> FailureLimiter {
        FailureLimiter::default()
    }

    /// The pair key: the address's group and the user name as the store
    /// would look it up (case-insensitive), hashed.
    fn key(&self, ip: impl Into<ClientAddr>, user: &str) -> (IpAddr, u64) {
        let name = crate::address::normalize(user).unwrap_or_else(|_| user.to_ascii_lowercase());
        (ip.into().group(), self.names.hash_one(name))
    }

    /// Whether `user` may try to log in from `ip` now.
    pub fn check(
        &self,
        ip: impl Into<ClientAddr>,
        user: &str,
        trusted: bool,
    ) -> Result<(), Blocked> {
        let key = self.key(ip, user);
        self.check_at(key, Allowance::of(trusted), Instant::now())
    }

    fn check_at(&self, key: (IpAddr, u64), allow: &Allowance, now: Instant) -> Result<(), Blocked> {
        if let Some(p) = self.pairs.borrow().get(&key)
            && p.failures >= allow.per_user
            && p.failing(now)
        {
            return Err(Blocked {
                retry_after: allow.window.saturating_sub(now.duration_since(p.last)),
                scope: Scope::User,
            });
        }
        Ok(())
    }

    /// Starts a login attempt of `user` from `ip`: refused if the pair is
    /// locked, else counted as a failure at once, before
    /// any verification runs. Counting at the start is what stops N
    /// attempts started together all being checked before the first of
    /// them fails; a success takes its count back ([`Self::success`]), and
    /// so does an attempt that verified nothing ([`Self::cancel`]). Check
    /// and count happen in one call on the executor thread, so no other
    /// attempt can slip in between.
    pub fn begin(
        &self,
        ip: impl Into<ClientAddr>,
        user: &str,
        trusted: bool,
    ) -> Result<Attempt, Blocked> {
        let key = self.key(ip, user);
        self.begin_at(key, Allowance::of(trusted), Instant::now())
    }

    fn begin_at(
        &self,
        key: (IpAddr, u64),
        allow: &Allowance,
        now: Instant,
    ) -> Result<Attempt, Blocked> {
        self.check_at(key, allow, now)?;
        let mut addresses = self.addresses.borrow_mut();
        make_room(&mut addresses, &key.0, |a| a.live(now), |a| a.since);
        let address = addresses.entry(key.0).or_insert(Address {
            failures: 0,
            since: now,
            window: allow.window,
        });
        if !address.live(now) {
            *address = Address {
                failures: 0,
                since: now,
                window: allow.window,
            };
        }
        address.failures = address.failures.saturating_add(1);
        let delay = allow.delay(address.failures);
        let mut pairs = self.pairs.borrow_mut();
        make_room(&mut pairs, &key, |p| p.live(now), |p| p.last);
        let pair = pairs.entry(key).or_insert(Pair {
            failures: 0,
            last: now,
            window: allow.window,
        });
        if !pair.failing(now) {
            pair.failures = 0;
        }
        pair.failures = pair.failures.saturating_add(1);
        pair.last = now;
        pair.window = allow.window;
        Ok(Attempt {
            group: key.0,
            name: key.1,
            delay,
        })
    }

    /// Takes back the count `attempt` made, at the address and the pair
    /// (each if still tracked).
    fn uncount(&self, attempt: &Attempt) {
        if let Some(address) = self.addresses.borrow_mut().get_mut(&attempt.group) {
            address.failures = address.failures.saturating_sub(1);
        }
        if let Some(pair) = self
            .pairs
            .borrow_mut()
            .get_mut(&(attempt.group, attempt.name))
        {
            pair.failures = pair.failures.saturating_sub(1);
        }
    }

    /// Gives back the count of an attempt that never reached a verdict
    /// (the verifier queue was full, the store could not be read), so a
    /// busy server does not lock its users out.
    pub fn cancel(&self, attempt: &Attempt) {
        self.uncount(attempt);
    }

    /// A successful login: takes back its own count at the address (and
    /// only that: other failures from there stand, and so do their
    /// delays) and clears the pair's failures.
    pub fn success(&self, attempt: &Attempt) {
        self.success_at(attempt, Instant::now());
    }

    fn success_at(&self, attempt: &Attempt, now: Instant) {
        self.uncount(attempt);
        if let Some(pair) = self
            .pairs
            .borrow_mut()
            .get_mut(&(attempt.group, attempt.name))
        {
            pair.failures = 0;
            pair.last = now;
        }
    }
}

/// Makes room for `key` in a table at [`MAX_TRACKED`]: drops the entries
/// no longer `live`, then, if it is still full, the one least recently
/// `touched`. Linear, but only when the table is full.
fn make_room<K: Eq + Hash + Copy, V>(
    table: &mut HashMap<K, V>,
    key: &K,
    live: impl Fn(&V) -> bool,
    touched: impl Fn(&V) -> Instant,
) {
    if table.len() < MAX_TRACKED || table.contains_key(key) {
        return;
    }
    table.retain(|_, v| live(v));
    if table.len() >= MAX_TRACKED
        && let Some(oldest) = table
            .iter()
            .min_by_key(|(_, v)| touched(v))
            .map(|(k, _)| *k)
    {
        table.remove(&oldest);
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
