//! MTA-STS policies of other domains (RFC 8461 §5.1: senders cache a
//! policy for its max_age, so a later attacker who strips the DNS record
//! or the HTTPS answer cannot turn enforcement off). Each lives in `meta`
//! under `mta-sts:` ‖ the lower-case domain; the value is opaque here
//! (`delivery::mta_sts` writes and reads it). No schema change: a new
//! key prefix in an existing table.

use heed::RwTxn;

use super::read::Reader;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{Store, StoreError, keys};

/// Largest cached entry: a policy body is at most 64 KiB
/// (`net::https_get::MAX_BODY`) plus a line of bookkeeping.
pub const MAX_VALUE: usize = (64 << 10) + 256;

pub fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    domain: &str,
    value: &[u8],
) -> Result<Outcome, StoreError> {
    check(domain, value)?;
    dbs.meta.put(txn, keys::mta_sts(domain).as_bytes(), value)?;
    Ok(Outcome::Done)
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
    /// Keeps `value` as `domain`'s cached policy; resolves once on disk.
    pub async fn set_mta_sts(&self, domain: &str, value: Vec<u8>) -> Result<(), StoreError> {
        check(domain, &value)?;
        self.write(WriteOp::SetMtaSts {
            domain: domain.to_ascii_lowercase(),
            value,
        })
        .await
        .map(drop)
    }
}

impl Reader {
    /// What [`Store::set_mta_sts`] kept for `domain`.
    pub fn mta_sts(&self, domain: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = keys::mta_sts(&domain.to_ascii_lowercase());
        Ok(self
            .dbs
            .meta
            .get(&self.txn, key.as_bytes())?
            .map(<[u8]>::to_vec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mta_sts_cache_round_trips_and_is_bounded() {
        let dir = std::env::temp_dir().join(format!("smolmail-mta-sts-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Default::default()).unwrap();
        smol::block_on(async {
            assert_eq!(store.read().unwrap().mta_sts("example.org").unwrap(), None);
            store
                .set_mta_sts("Example.org", b"one".to_vec())
                .await
                .unwrap();
            store
                .set_mta_sts("example.org", b"two".to_vec())
                .await
                .unwrap();
            assert_eq!(
                store.read().unwrap().mta_sts("EXAMPLE.org").unwrap(),
                Some(b"two".to_vec())
            );
            assert!(
                store
                    .set_mta_sts("example.org", vec![0; MAX_VALUE + 1])
                    .await
                    .is_err()
            );
            assert!(store.set_mta_sts("", Vec::new()).await.is_err());
        });
        store.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
