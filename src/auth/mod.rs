//! Authentication: password hashing and verification for the async servers.
//!
//! The schemes themselves live in [`password`]; this module provides
//! [`Verifier`], the only way the async side should reach them, and
//! [`login`], the one check every protocol runs: limiter, account lookup,
//! password verification.

pub mod limiter;
pub mod password;
pub mod sasl;

pub use limiter::{Blocked, FailureLimiter};

use smol::lock::Semaphore;
use std::net::IpAddr;
use std::sync::Arc;

use crate::secret::Secret;
use crate::store::{Account, Store, StoreError};

/// Runs password hashing and verification off the executor, a bounded
/// number at a time.
///
/// Why: an argon2 verification costs tens of milliseconds of CPU and ~19 MiB
/// of memory. Run on smol's single executor thread it would stall every
/// other connection; run without a bound, a burst of logins (or a password
/// guesser) could exhaust a Raspberry Pi's memory. So each call waits for a
/// permit, then does the work on smol's blocking thread pool. Clones share
/// one bound.
#[derive(Debug, Clone)]
pub struct Verifier {
    /// Permits for concurrent hash computations. Shared (`Arc`) so a permit
    /// can travel into the blocking task and outlive a cancelled caller.
    permits: Arc<Semaphore>,
}

impl Verifier {
    /// A verifier that runs at most `max_concurrent` hash computations at
    /// once (at least one; 2 suits a Raspberry Pi 3).
    #[must_use]
    pub fn new(max_concurrent: usize) -> Self {
        Verifier {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// Check `password` against the `stored` value (see [`password::verify`]).
    /// The password's bytes are overwritten once checked.
    pub async fn verify(&self, stored: String, password: String) -> bool {
        // Wrapped first, so the bytes are wiped even if this future is
        // dropped while still waiting for a permit.
        let password = Secret(password);
        let permit = self.permits.acquire_arc().await;
        smol::unblock(move || {
            // The permit moves in here rather than staying in this future:
            // if the client disconnects and the future is dropped, the
            // blocking work still runs to completion and must keep counting
            // against the bound until it does.
            let _permit = permit;
            password::verify(&stored, &password.0)
        })
        .await
    }

    /// Hash `password` for storage (see [`password::hash`]). The password's
    /// bytes are overwritten once hashed.
    pub async fn hash(&self, password: String) -> String {
        let password = Secret(password);
        let permit = self.permits.acquire_arc().await;
        smol::unblock(move || {
            let _permit = permit;
            password::hash(&password.0)
        })
        .await
    }
}

/// Makes the C allocator give argon2's 19 MiB work area back after each
/// hash. glibc raises its mmap threshold to the size of the last freed
/// large block, so after the first login the work areas come from the heap
/// and stay there: a burst of logins left hundreds of MiB resident. A fixed
/// threshold keeps them mmap'd and returned on free. musl (the board build)
/// always does this and needs nothing.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        /// glibc's M_MMAP_THRESHOLD.
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only sets an allocator tunable; called once at
        // start-up before other threads allocate.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        }
    }
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginResult {
    Ok(Account),
    /// Wrong user or password (the caller cannot tell which, nor can the
    /// client); the limiter's delay has already been waited out.
    Failed,
    /// Too many failures from this address: answer with a temporary error.
    Blocked(Blocked),
    /// The store could not be read: a temporary error.
    Unavailable(StoreError),
}

/// Longest user name a login may present. An address is at most 254
/// octets (RFC 5321 §4.5.3.1.3); longer names are refused before the store
/// is read.
pub const MAX_USERNAME: usize = 256;
/// Longest password a login may present, and that `user add`/`passwd`
/// accept. Checked before any hashing (DESIGN.md "Budgets"): SHA-crypt's
/// cost grows with the square of the password's length, so an imported
/// `{SHA512-CRYPT}` user and a 64 KiB password held a verifier slot for
/// seconds. Dovecot and Postfix users' passwords are far shorter.
pub const MAX_PASSWORD: usize = 1024;

/// Verified against when the user does not exist, so a missing user costs
/// the same time as a wrong password (no user enumeration by timing). Made
/// with argon2-cffi at our parameters; its password is not used anywhere.
const TIMING_DUMMY: &str = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$XqXxmPZUWFzkvF9OGrejpg$p3jcBBbkOXw/6YSUBr3hUUjygkUHSA08cSUyN2ndc0o";

/// The one login check every protocol runs: the failure limiter, the
/// account, the password (off the executor). A failure waits out the
/// limiter's delay on this task's timer before returning.
pub async fn login(
    store: &Store,
    verifier: &Verifier,
    limiter: &FailureLimiter,
    ip: IpAddr,
    username: &str,
    password: String,
) -> LoginResult {
    if let Err(blocked) = limiter.check(ip) {
        return LoginResult::Blocked(blocked);
    }
    if username.len() > MAX_USERNAME || password.len() > MAX_PASSWORD {
        // No account has such credentials: a failure, counted and slowed
        // like any other, that costs no lookup and no hash.
        log::info!(
            "auth: {ip}: credentials over the size limit ({} and {} bytes)",
            username.len(),
            password.len()
        );
        smol::Timer::after(limiter.failure(ip)).await;
        return LoginResult::Failed;
    }
    let account = match store.read().and_then(|r| r.account(username)) {
        Ok(account) => account,
        Err(e) => return LoginResult::Unavailable(e),
    };
    let stored = account
        .as_ref()
        .map_or(TIMING_DUMMY, |a| a.password_hash.as_str())
        .to_string();
    let verified = verifier.verify(stored, password).await;
    match account {
        Some(account) if verified => {
            limiter.success(ip);
            LoginResult::Ok(account)
        }
        _ => {
            smol::Timer::after(limiter.failure(ip)).await;
            LoginResult::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_of_one_still_completes_concurrent_verifications() {
        let stored = password::hash("right");
        let verifier = Verifier::new(1);
        let (good, bad) = smol::block_on(smol::future::zip(
            verifier.verify(stored.clone(), "right".to_owned()),
            verifier.verify(stored, "wrong".to_owned()),
        ));
        assert!(good);
        assert!(!bad);
    }

    #[test]
    fn hash_releases_its_permit_when_done() {
        let verifier = Verifier::new(1);
        smol::block_on(async {
            let hashing = smol::spawn({
                let verifier = verifier.clone();
                async move { verifier.hash("pw".to_owned()).await }
            });
            let stored = hashing.await;
            assert!(password::verify(&stored, "pw"));
        });
        // All work finished: the single permit is free again.
        assert!(verifier.permits.try_acquire().is_some());
    }

    #[test]
    fn zero_bound_is_raised_to_one() {
        let verifier = Verifier::new(0);
        assert!(smol::block_on(
            verifier.verify("{PLAIN}x".to_owned(), "x".to_owned())
        ));
    }
}
