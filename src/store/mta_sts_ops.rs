//! MTA-STS policies of other domains (RFC 8461 §5.1: senders cache a
//! policy for its max_age, so a later attacker who strips the DNS record
//! or the HTTPS answer cannot turn enforcement off). Each lives in `meta`
//! under `mta-sts:` ‖ the lower-case domain as its expiry (Unix seconds,
//! 8 bytes big-endian) ‖ a compact value, opaque here (`delivery::mta_sts`
//! writes the parsed policy, not the fetched body). No schema change: a
//! new key prefix in an existing table.
//!
//! Outsiders choose the domains we send to (bounces, auto-replies,
//! forwarding), so the cache is bounded: every write drops the expired
//! entries and, past [`MAX_DOMAINS`], the ones soonest to expire.

use heed::RwTxn;

use super::read::Reader;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{Store, StoreError, keys};

/// Largest cached value: a compact policy of at most 64 mx patterns of
/// at most 253 bytes (`wire::mta_sts::MAX_MX`), its id and a few lines.
pub const MAX_VALUE: usize = 64 * 256 + 512;
/// Domains cached at most (a few MB at the very worst, usually KBs);
/// small under test so the bound can be exercised.
pub const MAX_DOMAINS: usize = if cfg!(test) { 8 } else { 4096 };

const PREFIX: &str = "mta-sts:";

pub fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    domain: &str,
    expires: i64,
    value: &[u8],
) -> Result<Outcome, StoreError> {
    check(domain, value)?;
    let key = keys::mta_sts(domain);
    let mut stored = expires.to_be_bytes().to_vec();
    stored.extend_from_slice(value);
    dbs.meta.put(txn, key.as_bytes(), &stored)?;
    sweep(txn, dbs, key.as_bytes(), crate::time::now())?;
    Ok(Outcome::Done)
}

/// Drops expired entries, then the soonest to expire beyond
/// [`MAX_DOMAINS`]; `keep` (the entry just written) stays.
fn sweep(txn: &mut RwTxn, dbs: &Dbs, keep: &[u8], now: i64) -> Result<(), StoreError> {
    let mut live: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut dead: Vec<Vec<u8>> = Vec::new();
    for entry in dbs.meta.prefix_iter(txn, PREFIX.as_bytes())? {
        let (k, v) = entry?;
        if k == keep {
            continue;
        }
        match expiry(v) {
            Some(at) if at > now => live.push((at, k.to_vec())),
            _ => dead.push(k.to_vec()),
        }
    }
    if live.len() >= MAX_DOMAINS {
        live.sort_unstable();
        let over = live.len() + 1 - MAX_DOMAINS;
        dead.extend(live.drain(..over).map(|(_, k)| k));
    }
    for k in dead {
        dbs.meta.delete(txn, &k)?;
    }
    Ok(())
}

fn expiry(stored: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(stored.get(..8)?.try_into().ok()?))
}

fn check(domain: &str, value: &[u8]) -> Result<(), StoreError> {
    // RFC 1035 §2.3.4: a name has at most 253 characters as text.
    if domain.is_empty() || domain.len() > 253 {
        return Err(StoreError::Invalid(
            "an MTA-STS domain has 1 to 253 bytes".into(),
        ));
    }
    if value.len() > MAX_VALUE {
        return Err(StoreError::Limit(format!(
            "an MTA-STS cache entry holds at most {MAX_VALUE} bytes"
        )));
    }
    Ok(())
}

impl Store {
    /// Keeps `value` as `domain`'s cached policy until `expires` (Unix
    /// seconds); resolves once on disk.
    pub async fn set_mta_sts(
        &self,
        domain: &str,
        expires: i64,
        value: Vec<u8>,
    ) -> Result<(), StoreError> {
        check(domain, &value)?;
        self.write(WriteOp::SetMtaSts {
            domain: domain.to_ascii_lowercase(),
            expires,
            value,
        })
        .await
        .map(drop)
    }
}

impl Reader {
    /// What [`Store::set_mta_sts`] kept for `domain`: expiry and value.
    pub fn mta_sts(&self, domain: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let key = keys::mta_sts(&domain.to_ascii_lowercase());
        Ok(self
            .dbs
            .meta
            .get(&self.txn, key.as_bytes())?
            .and_then(|v| Some((expiry(v)?, v[8..].to_vec()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAR: i64 = 4_000_000_000;

    #[test]
    fn mta_sts_cache_round_trips_and_is_bounded() {
        let dir = std::env::temp_dir().join(format!("smolmail-mta-sts-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Default::default()).unwrap();
        smol::block_on(async {
            assert_eq!(store.read().unwrap().mta_sts("example.org").unwrap(), None);
            store
                .set_mta_sts("Example.org", FAR, b"one".to_vec())
                .await
                .unwrap();
            store
                .set_mta_sts("example.org", FAR, b"two".to_vec())
                .await
                .unwrap();
            assert_eq!(
                store.read().unwrap().mta_sts("EXAMPLE.org").unwrap(),
                Some((FAR, b"two".to_vec()))
            );
            assert!(
                store
                    .set_mta_sts("example.org", FAR, vec![0; MAX_VALUE + 1])
                    .await
                    .is_err()
            );
            assert!(store.set_mta_sts("", FAR, Vec::new()).await.is_err());
        });
        store.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// RFC 8461 §5.1 caching, bounded: expired entries go at the next
    /// write, and past MAX_DOMAINS the soonest to expire make room.
    #[test]
    fn rfc8461_5_1_policy_cache_is_capped_and_swept() {
        let dir = std::env::temp_dir().join(format!("smolmail-mta-sts-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Default::default()).unwrap();
        let now = crate::time::now();
        smol::block_on(async {
            store
                .set_mta_sts("gone.test", now - 1, b"x".to_vec())
                .await
                .unwrap();
            for i in 0..MAX_DOMAINS + 3 {
                let domain = format!("d{i}.test");
                store
                    .set_mta_sts(&domain, now + 1000 + i as i64, b"p".to_vec())
                    .await
                    .unwrap();
            }
            let r = store.read().unwrap();
            assert_eq!(r.mta_sts("gone.test").unwrap(), None, "expired: swept");
            let kept = (0..MAX_DOMAINS + 3)
                .filter(|i| r.mta_sts(&format!("d{i}.test")).unwrap().is_some())
                .count();
            assert_eq!(kept, MAX_DOMAINS);
            for i in 0..3 {
                assert_eq!(
                    r.mta_sts(&format!("d{i}.test")).unwrap(),
                    None,
                    "soonest out"
                );
            }
            assert!(
                r.mta_sts(&format!("d{}.test", MAX_DOMAINS + 2))
                    .unwrap()
                    .is_some()
            );
        });
        store.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
