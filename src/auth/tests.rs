//! Tests of the verifier and the login check against a real store: the
//! cache, the upgrade of imported hashes, failures counted at the start.

use super::*;
use crate::store::Options;
use std::future::Future;
use std::pin::pin;
use std::time::Instant;

const PW: &str = "correct horse battery staple";
/// Dovecot 2.3 `doveadm pw -s SHA512-CRYPT -p 'correct horse battery staple'`.
const SHA512_CRYPT: &str = "{SHA512-CRYPT}$6$jiVccoCSmk2brNrH$6InIRp3nb.s6OioleBsGYcPsvy3/Qg7TKiBUXp5ynciYvugi34NpP9u8pHrsv3bPaFRsra5c4sX8atskzOCtp.";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A store in a fresh directory holding `user@x.test` with `stored`.
fn store_with(name: &str, stored: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("smolmail-auth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
    smol::block_on(store.add_account("user@x.test", stored)).unwrap();
    store
}

fn stored_hash(store: &Store) -> String {
    let reader = store.read().unwrap();
    reader
        .account("user@x.test")
        .unwrap()
        .unwrap()
        .password_hash
}

/// Polls a future once: its output if it finished at once.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let waker = std::task::Waker::noop();
    match f.poll(&mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn bound_of_one_still_completes_concurrent_verifications() {
    let stored = password::hash("right");
    let verifier = Verifier::new(1, Duration::ZERO);
    // Two groups, so the second waits for the one slot rather than for
    // its group's running hash; both complete.
    let (good, bad) = smol::block_on(smol::future::zip(
        verifier.verify(ip("192.0.2.1"), stored.clone(), "right".to_owned()),
        verifier.verify(ip("192.0.2.2"), stored, "wrong".to_owned()),
    ));
    assert_eq!((good, bad), (Ok(true), Ok(false)));
    // The slots are freed on the blocking threads just after the answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while verifier.queue.load() != (0, 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(verifier.queue.load(), (0, 0));
}

#[test]
fn zero_bound_is_raised_to_one() {
    let verifier = Verifier::new(0, Duration::ZERO);
    let ok = verifier.verify(ip("192.0.2.1"), "{PLAIN}x".to_owned(), "x".to_owned());
    assert_eq!(smol::block_on(ok), Ok(true));
}

#[test]
fn cache_answers_a_repeated_login_and_nothing_else() {
    let store = store_with("cache", &password::hash(PW));
    let verifier = Verifier::new(2, Duration::from_secs(3600));
    let limiter = FailureLimiter::new();
    let client = ip("192.0.2.20");
    let login = |pw: &str| {
        smol::block_on(login(
            &store,
            &verifier,
            &limiter,
            client,
            false,
            "user@x.test",
            pw.to_owned(),
        ))
    };
    let t0 = Instant::now();
    assert!(matches!(login(PW), LoginResult::Ok(_)));
    let first = t0.elapsed();
    assert_eq!(verifier.verifications(), 1);
    let t1 = Instant::now();
    assert!(matches!(login(PW), LoginResult::Ok(_)));
    let second = t1.elapsed();
    assert_eq!(verifier.verifications(), 1, "answered from the cache");
    assert!(second < first, "cached {second:?} vs full {first:?}");
    // A wrong password is verified in full and fails; it is not cached.
    assert!(matches!(login("wrong"), LoginResult::Failed));
    assert_eq!(verifier.verifications(), 2);
    assert!(matches!(login("wrong"), LoginResult::Failed));
    assert_eq!(verifier.verifications(), 3);
    // A changed password: the old one no longer passes, from the cache
    // or otherwise, and the new one is verified in full.
    smol::block_on(store.set_password("user@x.test", &password::hash("new one"))).unwrap();
    assert!(matches!(login(PW), LoginResult::Failed));
    assert_eq!(verifier.verifications(), 4);
    assert!(matches!(login("new one"), LoginResult::Ok(_)));
    assert_eq!(verifier.verifications(), 5);
    // A deleted account is not let in from the cache.
    smol::block_on(store.del_account("user@x.test")).unwrap();
    assert!(matches!(login("new one"), LoginResult::Failed));
}

#[test]
fn cache_off_verifies_every_login() {
    let store = store_with("nocache", "{PLAIN}pw");
    let verifier = Verifier::new(2, Duration::ZERO);
    let limiter = FailureLimiter::new();
    for _ in 0..3 {
        let result = smol::block_on(login(
            &store,
            &verifier,
            &limiter,
            ip("192.0.2.21"),
            false,
            "user@x.test",
            "pw".to_owned(),
        ));
        assert!(matches!(result, LoginResult::Ok(_)));
    }
    assert_eq!(verifier.verifications(), 3);
}

#[test]
fn login_upgrades_an_imported_hash_to_argon2id() {
    let store = store_with("upgrade", SHA512_CRYPT);
    let verifier = Verifier::new(2, Duration::from_secs(3600));
    let limiter = FailureLimiter::new();
    let login = |pw: &str| {
        smol::block_on(login(
            &store,
            &verifier,
            &limiter,
            ip("192.0.2.22"),
            false,
            "user@x.test",
            pw.to_owned(),
        ))
    };
    // A wrong password upgrades nothing.
    assert!(matches!(login("wrong"), LoginResult::Failed));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stored_hash(&store), SHA512_CRYPT);
    assert!(matches!(login(PW), LoginResult::Ok(_)));
    // The upgrade runs after the answer: wait for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored_hash(&store) == SHA512_CRYPT && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let upgraded = stored_hash(&store);
    assert!(upgraded.starts_with("{ARGON2ID}$argon2id$"), "{upgraded}");
    assert!(password::verify(&upgraded, PW));
    // The upgraded hash went into the cache: no further verification.
    let runs = verifier.verifications();
    assert!(matches!(login(PW), LoginResult::Ok(_)));
    assert_eq!(verifier.verifications(), runs);
}

#[test]
fn upgrade_does_not_undo_a_password_changed_meanwhile() {
    let store = store_with("upgrade-race", "{PLAIN}old");
    let newer = password::hash("newer");
    smol::block_on(store.set_password("user@x.test", &newer)).unwrap();
    let result = smol::block_on(store.replace_password("user@x.test", "{PLAIN}old", "{PLAIN}x"));
    assert!(matches!(result, Err(StoreError::Invalid(_))));
    assert_eq!(stored_hash(&store), newer);
}

#[test]
fn parallel_failures_count_when_they_start() {
    let store = store_with("parallel", &password::hash(PW));
    let verifier = Verifier::new(2, Duration::ZERO);
    let limiter = FailureLimiter::new();
    let client = ip("192.0.2.23");
    // Two failures short of the limit, then as many attempts at once as
    // the verifier line takes from one address. Each is counted as it
    // starts, so all but two are refused before any verification, though
    // no failure has been reported yet.
    for _ in 0..limiter::MAX_FAILURES - 2 {
        limiter.begin(client, "user@x.test", false).unwrap();
    }
    let attempts: Vec<_> = (0..=queue::MAX_WAITING_PER_GROUP)
        .map(|_| {
            Box::pin(login(
                &store,
                &verifier,
                &limiter,
                client,
                false,
                "user@x.test",
                "guess".to_owned(),
            ))
        })
        .collect();
    let mut blocked = 0;
    let mut pending = Vec::new();
    for mut attempt in attempts {
        match poll_once(attempt.as_mut()) {
            Some(LoginResult::Blocked(_)) => blocked += 1,
            Some(other) => panic!("finished at once: {other:?}"),
            None => pending.push(attempt),
        }
    }
    assert_eq!(
        (pending.len(), blocked),
        (2, queue::MAX_WAITING_PER_GROUP - 1)
    );
    // Leaving does not give the count back.
    drop(pending);
    assert_eq!(verifier.queue.load().1, 0, "the dropped ones left the line");
    assert!(limiter.check(client, "user@x.test", false).is_err());
}

#[test]
fn a_full_line_is_busy_and_not_a_failure() {
    let store = store_with("busy", &password::hash(PW));
    let verifier = Verifier::new(1, Duration::ZERO);
    let limiter = FailureLimiter::new();
    let client = ip("192.0.2.24");
    let mut attempts: Vec<_> = (0..queue::MAX_WAITING_PER_GROUP + 1)
        .map(|_| {
            Box::pin(login(
                &store,
                &verifier,
                &limiter,
                client,
                false,
                "user@x.test",
                "guess".to_owned(),
            ))
        })
        .collect();
    for attempt in &mut attempts {
        assert!(poll_once(attempt.as_mut()).is_none());
    }
    let mut extra = pin!(login(
        &store,
        &verifier,
        &limiter,
        client,
        false,
        "user@x.test",
        PW.to_owned()
    ));
    assert!(matches!(poll_once(extra.as_mut()), Some(LoginResult::Busy)));
    // The refused attempt gave its count back: 5 counted, not 6.
    drop(attempts);
    for _ in 0..limiter::MAX_FAILURES - queue::MAX_WAITING_PER_GROUP as u32 - 1 {
        assert!(limiter.begin(client, "user@x.test", false).is_ok());
    }
    assert!(limiter.begin(client, "user@x.test", false).is_err());
}

/// A PLAIN authzid naming another user is refused without a hash and
/// counted as one more failure of the user who logged in: at the trusted
/// allowance's last try, the next login of that user is locked out.
#[test]
fn proxy_authorization_is_a_counted_failure() {
    let store = store_with("proxy", &password::hash(PW));
    let verifier = Verifier::new(2, Duration::ZERO);
    let limiter = FailureLimiter::new();
    let client = ip("192.0.2.25");
    for _ in 0..limiter::TRUSTED.per_user - 1 {
        limiter.begin(client, "user@x.test", true).unwrap();
    }
    let proxy = sasl::Credentials {
        username: "user@x.test".into(),
        password: PW.into(),
        authzid: Some("other@x.test".into()),
    };
    let result = smol::block_on(login_sasl(&store, &verifier, &limiter, client, true, proxy));
    assert!(matches!(result, LoginResult::Failed), "{result:?}");
    assert_eq!(verifier.verifications(), 0, "nothing was hashed");
    let own = sasl::Credentials {
        username: "user@x.test".into(),
        password: PW.into(),
        authzid: None,
    };
    let result = smol::block_on(login_sasl(&store, &verifier, &limiter, client, true, own));
    assert!(matches!(result, LoginResult::Blocked(_)), "{result:?}");
}
