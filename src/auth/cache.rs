//! Cache of recent successful password verifications (Dovecot's
//! `auth_cache`): a phone that reconnects every few minutes pays argon2
//! (tens of ms on x86, a few hundred on a Raspberry Pi, and a verifier
//! slot) once per TTL instead of at every connection.
//!
//! What is kept per account address is a keyed digest (HMAC-SHA256 under a
//! random key made at start-up, never written anywhere) of the account id,
//! the stored hash string and the password, with its expiry. Never the
//! cleartext, and nothing that can be checked offline without the key.
//! Because the stored hash and id are inside the digest, a changed password
//! (`user passwd`, a rehash), a deleted account, or an account deleted and
//! made again no longer matches: the login falls back to a full
//! verification. Only a verified password is ever inserted, so a wrong one
//! can never be answered from here.

use ring::hmac;
use ring::rand::SystemRandom;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Accounts remembered at once. A home server has a few dozen; beyond it
/// the entry closest to expiry goes, so memory stays bounded (~100 bytes
/// each) whatever logins come.
pub const MAX_ENTRIES: usize = 1024;

/// A digest standing for one (account, stored hash, password).
#[derive(Clone, Copy)]
pub struct Tag([u8; 32]);

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tag(..)")
    }
}

struct Entry {
    tag: Tag,
    expires: Instant,
}

/// See the module documentation. `ttl` zero disables it.
pub struct AuthCache {
    ttl: Duration,
    key: hmac::Key,
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AuthCache {
    /// # Panics
    /// Only if the operating system's random number generator fails.
    #[must_use]
    pub fn new(ttl: Duration) -> AuthCache {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the operating system's random number generator failed");
        AuthCache {
            ttl,
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The digest of `password` for account `id` whose stored hash is
    /// `stored`. Lengths go in first so no two inputs run together.
    #[must_use]
    pub fn tag(&self, id: u64, stored: &str, password: &str) -> Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&id.to_le_bytes());
        ctx.update(&(stored.len() as u64).to_le_bytes());
        ctx.update(stored.as_bytes());
        ctx.update(password.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        Tag(out)
    }

    /// Whether `address` verified with exactly this tag within the TTL.
    #[must_use]
    pub fn hit(&self, address: &str, tag: &Tag) -> bool {
        self.hit_at(address, tag, Instant::now())
    }

    fn hit_at(&self, address: &str, tag: &Tag, now: Instant) -> bool {
        if !self.enabled() {
            return false;
        }
        let entries = self.lock();
        entries
            .get(address)
            .is_some_and(|e| now < e.expires && same(&e.tag, tag))
    }

    /// Remembers a verified login.
    pub fn insert(&self, address: &str, tag: Tag) {
        self.insert_at(address, tag, Instant::now());
    }

    fn insert_at(&self, address: &str, tag: Tag, now: Instant) {
        if !self.enabled() {
            return;
        }
        let expires = now + self.ttl;
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(address) {
            *entry = Entry { tag, expires };
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now < e.expires);
            if entries.len() >= MAX_ENTRIES
                && let Some(first) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&first);
            }
        }
        entries.insert(address.to_owned(), Entry { tag, expires });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Compares two tags in time independent of where they differ.
fn same(a: &Tag, b: &Tag) -> bool {
    let diff =
        a.0.iter()
            .zip(b.0.iter())
            .fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_account_hash_and_password_within_ttl() {
        let cache = AuthCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let good = cache.tag(1, "{X}h", "pw");
        cache.insert_at("a@x", good, t0);
        assert!(cache.hit_at("a@x", &cache.tag(1, "{X}h", "pw"), t0));
        assert!(!cache.hit_at("a@x", &cache.tag(1, "{X}h", "pX"), t0));
        assert!(!cache.hit_at("a@x", &cache.tag(1, "{X}new", "pw"), t0));
        assert!(!cache.hit_at("a@x", &cache.tag(2, "{X}h", "pw"), t0));
        assert!(!cache.hit_at("b@x", &good, t0));
        assert!(!cache.hit_at("a@x", &good, t0 + Duration::from_secs(60)));
        // Lengths keep (hash, password) pairs apart.
        assert!(!same(
            &cache.tag(1, "{X}h", "pw"),
            &cache.tag(1, "{X}hp", "w")
        ));
    }

    #[test]
    fn zero_ttl_disables() {
        let cache = AuthCache::new(Duration::ZERO);
        let tag = cache.tag(1, "{X}h", "pw");
        cache.insert("a@x", tag);
        assert!(!cache.hit("a@x", &tag));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn size_is_bounded() {
        let cache = AuthCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..MAX_ENTRIES + 10 {
            let at = t0 + Duration::from_millis(i as u64);
            cache.insert_at(&format!("u{i}@x"), cache.tag(1, "h", "p"), at);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        // The oldest went first.
        let tag = cache.tag(1, "h", "p");
        assert!(!cache.hit_at("u0@x", &tag, t0));
        assert!(cache.hit_at(&format!("u{}@x", MAX_ENTRIES + 9), &tag, t0));
    }
}
