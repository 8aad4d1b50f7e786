//! Authentication: password hashing and verification for the async servers.
//!
//! The schemes themselves live in [`password`]; this module provides
//! [`Verifier`], the only way the async side should reach them, and
//! [`login`], the one check every protocol runs: limiter, account lookup,
//! password verification.

pub mod cache;
pub mod limiter;
pub mod password;
pub mod queue;
pub mod sasl;
#[cfg(test)]
mod tests;

pub use limiter::{Blocked, FailureLimiter, Scope};
pub use queue::Busy;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::net::ClientAddr;
use crate::secret::Secret;
use crate::store::{Account, Store, StoreError};
use cache::AuthCache;
use queue::Queue;

/// Runs password verification off the executor, a bounded number at a
/// time, fairly between client addresses, with a cache of recent successes.
///
/// Why: an argon2 verification costs tens of milliseconds of CPU and ~19 MiB
/// of memory. Run on smol's single executor thread it would stall every
/// other connection; run without a bound, a burst of logins (or a password
/// guesser) could exhaust a Raspberry Pi's memory. So each call waits for a
/// slot in [`queue`] (one per client group, round robin, bounded line),
/// then does the work on smol's blocking thread pool. A login that
/// [`cache`] has seen succeed recently skips all of it. Clones share one
/// line and one cache.
#[derive(Debug, Clone)]
pub struct Verifier {
    queue: Queue,
    cache: Arc<AuthCache>,
    /// Verifications started (cache misses included, hits not).
    runs: Arc<AtomicU64>,
}

/// What a successful verification should also do: replace the account's
/// imported hash with a fresh argon2id one.
struct Upgrade {
    store: Store,
    account_id: u64,
    address: String,
}

impl Verifier {
    /// A verifier that runs at most `max_concurrent` verifications at once
    /// (at least one; 2 suits a Raspberry Pi 3) and remembers successes for
    /// `cache_ttl` (zero: not at all).
    #[must_use]
    pub fn new(max_concurrent: usize, cache_ttl: Duration) -> Self {
        Verifier {
            queue: Queue::new(max_concurrent),
            cache: Arc::new(AuthCache::new(cache_ttl)),
            runs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Verifications run so far (not answered from the cache).
    #[must_use]
    pub fn verifications(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Check `password` against the `stored` value (see [`password::verify`])
    /// for a client at `ip`, without the cache. The password's bytes are
    /// overwritten once checked.
    pub async fn verify(
        &self,
        ip: impl Into<ClientAddr>,
        stored: String,
        password: String,
    ) -> Result<bool, Busy> {
        self.run(ip.into(), stored, Secret(password), None).await
    }

    /// Check `password` for `account`: from the cache when it verified
    /// recently, else in full; an imported hash is upgraded to argon2id
    /// after a success, without holding up the answer.
    async fn check_account(
        &self,
        ip: ClientAddr,
        store: &Store,
        account: &Account,
        password: Secret,
    ) -> Result<bool, Busy> {
        let stored = &account.password_hash;
        let tag = self
            .cache
            .enabled()
            .then(|| self.cache.tag(account.id, stored, &password.0));
        if let Some(tag) = &tag
            && self.cache.hit(&account.address, tag)
        {
            return Ok(true);
        }
        let upgrade = password::needs_rehash(stored).then(|| Upgrade {
            store: store.clone(),
            account_id: account.id,
            address: account.address.clone(),
        });
        let upgrading = upgrade.is_some();
        let verified = self.run(ip, stored.clone(), password, upgrade).await?;
        if verified && !upgrading {
            // An upgraded account is cached under its new hash instead.
            if let Some(tag) = tag {
                self.cache.insert(&account.address, tag);
            }
        }
        Ok(verified)
    }

    /// Waits for a slot, then verifies on the blocking pool; the answer
    /// comes back as soon as it is known, while an upgrade carries on
    /// there. If the caller leaves before the work starts it is skipped;
    /// once started it runs to the end holding its slot (a hash cannot be
    /// interrupted), so it still counts against the bound.
    async fn run(
        &self,
        ip: ClientAddr,
        stored: String,
        password: Secret,
        upgrade: Option<Upgrade>,
    ) -> Result<bool, Busy> {
        // The password is wrapped before this first await, so its bytes
        // are wiped even if the caller leaves while waiting in line.
        let slot = self.queue.acquire(ip).await?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        let (answer, verdict) = smol::channel::bounded(1);
        let cache = Arc::clone(&self.cache);
        smol::unblock(move || {
            if answer.is_closed() {
                return; // The client left before its turn came.
            }
            let verified =
                crate::metrics::AUTH_VERIFY_SECONDS.time(|| password::verify(&stored, &password.0));
            let _ = answer.try_send(verified);
            drop(answer);
            match upgrade {
                Some(upgrade) if verified => {
                    let new = password::hash(&password.0);
                    let tag = cache.tag(upgrade.account_id, &new, &password.0);
                    drop((slot, password));
                    upgrade.store_hash(&stored, &new, &cache, tag);
                }
                _ => drop(slot),
            }
        })
        .detach();
        Ok(verdict.recv().await.unwrap_or(false))
    }
}

impl Upgrade {
    /// Writes the new hash through the store's writer (as `user passwd`
    /// does), unless the password changed meanwhile. A failure costs only
    /// the upgrade, tried again at the next login, so it is logged.
    fn store_hash(self, old: &str, new: &str, cache: &AuthCache, tag: cache::Tag) {
        let scheme = password::scheme_for_log(old);
        match smol::block_on(self.store.replace_password(&self.address, old, new)) {
            Ok(()) => {
                log::info!(
                    "auth: {}: password hash upgraded from {scheme} to ARGON2ID",
                    self.address
                );
                cache.insert(&self.address, tag);
            }
            Err(e) => log::warn!(
                "auth: {}: could not store the upgraded password hash: {e}",
                self.address
            ),
        }
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
    /// Too many failures of this user from this address, or of every name
    /// from it ([`Blocked::scope`]): answer with a temporary error.
    Blocked(Blocked),
    /// The store could not be read: a temporary error.
    Unavailable(StoreError),
    /// Too many logins are waiting for the verifier: a temporary error.
    Busy,
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
/// account, the password (cache, then the verifier off the executor).
/// `trusted` says the client is in the trusted networks, which have their
/// own allowance ([`limiter::TRUSTED`]). The attempt counts as a failure
/// of `username` from `ip` from the moment it starts; a success takes
/// that back. A failure waits out the limiter's delay on this task's
/// timer before returning.
pub async fn login(
    store: &Store,
    verifier: &Verifier,
    limiter: &FailureLimiter,
    ip: IpAddr,
    trusted: bool,
    username: &str,
    password: String,
) -> LoginResult {
    let password = Secret(password);
    let attempt = match limiter.begin(ip, username, trusted) {
        Ok(attempt) => attempt,
        Err(blocked) => return LoginResult::Blocked(blocked),
    };
    if username.len() > MAX_USERNAME || password.0.len() > MAX_PASSWORD {
        // No account has such credentials: a failure, counted and slowed
        // like any other, that costs no lookup and no hash.
        log::info!(
            "auth: {ip}: credentials over the size limit ({} and {} bytes)",
            username.len(),
            password.0.len()
        );
        smol::Timer::after(attempt.delay).await;
        return LoginResult::Failed;
    }
    let account = match store.read().and_then(|r| r.account(username)) {
        Ok(account) => account,
        Err(e) => {
            limiter.cancel(&attempt);
            return LoginResult::Unavailable(e);
        }
    };
    let verified = match &account {
        Some(account) => {
            verifier
                .check_account(ip.into(), store, account, password)
                .await
        }
        None => {
            verifier
                .run(ip.into(), TIMING_DUMMY.to_owned(), password, None)
                .await
        }
    };
    match (account, verified) {
        (_, Err(Busy)) => {
            log::info!("auth: {ip}: login refused, too many waiting for verification");
            limiter.cancel(&attempt);
            LoginResult::Busy
        }
        (Some(account), Ok(true)) => {
            limiter.success(&attempt);
            LoginResult::Ok(account)
        }
        _ => {
            smol::Timer::after(attempt.delay).await;
            LoginResult::Failed
        }
    }
}

/// The login check for SASL credentials: PLAIN's authorization identity,
/// when it names another user, asks to act as that user (RFC 4616 §2), a
/// proxy login that is not offered. It is refused as a failed login of
/// `username` (counted and slowed by the limiter like a wrong password,
/// since it is one more try at that user from that address), without
/// reading the store or hashing. Anything else goes to [`login`].
pub async fn login_sasl(
    store: &Store,
    verifier: &Verifier,
    limiter: &FailureLimiter,
    ip: IpAddr,
    trusted: bool,
    credentials: sasl::Credentials,
) -> LoginResult {
    let sasl::Credentials {
        username,
        password,
        authzid,
    } = credentials;
    let Some(authzid) = authzid else {
        return login(store, verifier, limiter, ip, trusted, &username, password).await;
    };
    drop(Secret(password));
    let attempt = match limiter.begin(ip, &username, trusted) {
        Ok(attempt) => attempt,
        Err(blocked) => return LoginResult::Blocked(blocked),
    };
    log::info!(
        "auth: {ip}: {username:?} asked to act as {authzid:?}: proxy authorization is not offered"
    );
    smol::Timer::after(attempt.delay).await;
    LoginResult::Failed
}
