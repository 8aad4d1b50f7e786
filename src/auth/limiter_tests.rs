//! Tests of the failed-login limiter: per-user lockout, the per-address
//! delay, the trusted allowance, what a success clears, memory.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `n` failed attempts of `user` from `ip` at `now` (each begun and never
/// taken back); the delays they were given.
fn fail(
    l: &FailureLimiter,
    ip: IpAddr,
    user: &str,
    allow: &Allowance,
    n: u32,
    now: Instant,
) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            l.begin_at(l.key(ip, user), allow, now)
                .unwrap_or_else(|b| panic!("attempt {i} of {user} refused: {b:?}"))
                .delay
        })
        .collect()
}

fn blocked(
    l: &FailureLimiter,
    ip: IpAddr,
    user: &str,
    allow: &Allowance,
    now: Instant,
) -> Option<Scope> {
    l.check_at(l.key(ip, user), allow, now)
        .err()
        .map(|b| b.scope)
}

#[test]
fn delays_grow_per_address_then_the_user_is_locked_then_forgotten() {
    let l = FailureLimiter::new();
    let a = ip("192.0.2.7");
    let t0 = Instant::now();
    let delays = fail(&l, a, "alice@x.test", &UNTRUSTED, MAX_FAILURES, t0);
    assert_eq!(delays[0], UNTRUSTED.first_delay);
    assert_eq!(delays[1], UNTRUSTED.first_delay * 2);
    assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*delays.last().unwrap(), UNTRUSTED.max_delay);
    assert_eq!(
        blocked(&l, a, "alice@x.test", &UNTRUSTED, t0),
        Some(Scope::User)
    );
    // The same name in another case is the same user.
    assert_eq!(
        blocked(&l, a, "Alice@X.test", &UNTRUSTED, t0),
        Some(Scope::User)
    );
    // Another client is unaffected.
    assert_eq!(
        blocked(&l, ip("192.0.2.8"), "alice@x.test", &UNTRUSTED, t0),
        None
    );
    assert_eq!(
        blocked(&l, a, "alice@x.test", &UNTRUSTED, t0 + FORGET_AFTER),
        None
    );
}

/// Issue 14: another user at a failing address logs in; only the failing
/// pair is locked. The address still slows its own failures down.
#[test]
fn another_user_at_a_locked_address_is_not_refused() {
    let l = FailureLimiter::new();
    let a = ip("192.0.2.9");
    let t0 = Instant::now();
    fail(&l, a, "alice@x.test", &UNTRUSTED, MAX_FAILURES, t0);
    assert_eq!(
        blocked(&l, a, "alice@x.test", &UNTRUSTED, t0),
        Some(Scope::User)
    );
    let bob = l.begin_at(l.key(a, "bob@x.test"), &UNTRUSTED, t0).unwrap();
    // Bob's own failure would wait as long as the address's failures say.
    assert_eq!(bob.delay, UNTRUSTED.max_delay);
    l.success_at(&bob, t0);
    assert_eq!(blocked(&l, a, "bob@x.test", &UNTRUSTED, t0), None);
    // Bob's success cleared nothing of alice's, nor the address's count.
    assert_eq!(
        blocked(&l, a, "alice@x.test", &UNTRUSTED, t0),
        Some(Scope::User)
    );
    assert_eq!(l.addresses.borrow()[&a].failures, MAX_FAILURES);
}

/// A guesser rotating names is slowed down at its address, never
/// refused there as a whole: any other user at that address (known there
/// or new) may still try, and a correct password is not delayed.
#[test]
fn rotating_names_slow_the_address_and_never_refuse_another_user() {
    let l = FailureLimiter::new();
    let a = ip("198.51.100.4");
    let t0 = Instant::now();
    for i in 0..1000 {
        fail(&l, a, &format!("guess{i}@x.test"), &UNTRUSTED, 1, t0);
    }
    assert_eq!(blocked(&l, a, "new@x.test", &UNTRUSTED, t0), None);
    let carol = l
        .begin_at(l.key(a, "carol@x.test"), &UNTRUSTED, t0)
        .unwrap();
    // Her attempt would wait the longest delay only if it failed.
    assert_eq!(carol.delay, UNTRUSTED.max_delay);
    l.success_at(&carol, t0);
    assert_eq!(blocked(&l, a, "carol@x.test", &UNTRUSTED, t0), None);
    // Carol failing from there is still counted and locked as a pair.
    fail(&l, a, "carol@x.test", &UNTRUSTED, MAX_FAILURES, t0);
    assert_eq!(
        blocked(&l, a, "carol@x.test", &UNTRUSTED, t0),
        Some(Scope::User)
    );
    assert_eq!(blocked(&l, a, "dave@x.test", &UNTRUSTED, t0), None);
}

/// An attacker logging into their own account takes back only that
/// attempt's count: the address's failures, and so its delays, stand.
#[test]
fn own_success_does_not_reset_the_address() {
    let l = FailureLimiter::new();
    let a = ip("203.0.113.5");
    let t0 = Instant::now();
    for i in 0..20 {
        fail(&l, a, &format!("guess{i}@x.test"), &UNTRUSTED, 1, t0);
    }
    let own = l
        .begin_at(l.key(a, "mallory@x.test"), &UNTRUSTED, t0)
        .unwrap();
    l.success_at(&own, t0);
    let delays = fail(&l, a, "victim@x.test", &UNTRUSTED, 1, t0);
    assert_eq!(delays, vec![UNTRUSTED.max_delay]);
}

#[test]
fn trusted_networks_get_a_larger_allowance() {
    let l = FailureLimiter::new();
    let a = ip("127.0.0.1");
    let t0 = Instant::now();
    let delays = fail(&l, a, "alice@x.test", &TRUSTED, MAX_FAILURES, t0);
    assert!(delays.iter().all(|d| *d <= TRUSTED.max_delay), "{delays:?}");
    // Past the world's lockout: still open.
    assert_eq!(blocked(&l, a, "alice@x.test", &TRUSTED, t0), None);
    fail(
        &l,
        a,
        "alice@x.test",
        &TRUSTED,
        TRUSTED.per_user - MAX_FAILURES,
        t0,
    );
    assert_eq!(
        blocked(&l, a, "alice@x.test", &TRUSTED, t0),
        Some(Scope::User)
    );
    assert_eq!(
        blocked(&l, a, "alice@x.test", &TRUSTED, t0 + TRUSTED.window),
        None
    );
}

#[test]
fn attempts_count_when_they_begin() {
    let l = FailureLimiter::new();
    let a = ip("192.0.2.10");
    let user = "u@x.test";
    // Attempts started together, none finished: each is counted as it
    // begins, so the one past the limit is refused before it runs.
    let mut attempts: Vec<Attempt> = (0..MAX_FAILURES)
        .map(|_| l.begin(a, user, false).unwrap())
        .collect();
    assert!(l.begin(a, user, false).is_err());
    // One that never reached a verdict gives its count back.
    l.cancel(&attempts.pop().unwrap());
    assert!(l.begin(a, user, false).is_ok());
    assert!(l.begin(a, user, false).is_err());
    l.success(&attempts[0]);
    assert!(l.begin(a, user, false).is_ok());
}

#[test]
fn ipv6_counts_per_64_and_ipv4_mapped_as_ipv4() {
    let l = FailureLimiter::new();
    for i in 0..MAX_FAILURES {
        l.begin(ip(&format!("2001:db8::{i:x}")), "u@x.test", false)
            .unwrap();
    }
    assert!(l.check(ip("2001:db8::ffff"), "u@x.test", false).is_err());
    assert!(l.check(ip("2001:db8:0:1::1"), "u@x.test", false).is_ok());
    for _ in 0..MAX_FAILURES {
        l.begin(ip("::ffff:192.0.2.9"), "u@x.test", false).unwrap();
    }
    assert!(l.check(ip("192.0.2.9"), "u@x.test", false).is_err());
}

#[test]
fn tables_are_bounded() {
    let l = FailureLimiter::new();
    let t0 = Instant::now();
    for i in 0..MAX_TRACKED as u32 + 50 {
        let a = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        fail(&l, a, "u@x.test", &UNTRUSTED, 1, t0);
    }
    assert!(l.addresses.borrow().len() <= MAX_TRACKED);
    assert!(l.pairs.borrow().len() <= MAX_TRACKED);
}
