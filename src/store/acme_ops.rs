//! What the ACME client (`crate::acme`, RFC 8555) keeps between runs: its
//! account key (RFC 8555 §7.3: losing it means a new account and new rate
//! limits) and the last certificate with its private key, so a restart
//! serves the certificate at once instead of ordering a new one.
//!
//! Both live in `meta` under an `acme:` prefix, one entry per name the
//! caller chooses (it folds the directory URL and the names into it, so
//! switching from a LAN CA to Let's Encrypt starts clean). Values are
//! small PEM texts; a bound keeps a bad caller from filling the map.

use heed::RwTxn;

use super::read::Reader;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{Store, StoreError, keys};

/// Largest value kept: a key plus a chain of a few certificates is a few
/// KiB; 64 KiB leaves room for long chains.
pub const MAX_VALUE: usize = 64 << 10;
/// Longest entry name (a directory URL and up to 100 certificate names;
/// the store key is its digest, `keys::acme`).
pub const MAX_NAME: usize = 64 << 10;

pub fn apply(txn: &mut RwTxn, dbs: &Dbs, name: &str, value: &[u8]) -> Result<Outcome, StoreError> {
    check(name, value)?;
    dbs.meta.put(txn, keys::acme(name).as_bytes(), value)?;
    Ok(Outcome::Done)
}

fn check(name: &str, value: &[u8]) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(StoreError::Invalid(format!(
            "an ACME entry name has 1 to {MAX_NAME} bytes"
        )));
    }
    if value.len() > MAX_VALUE {
        return Err(StoreError::Limit(format!(
            "an ACME entry holds at most {MAX_VALUE} bytes"
        )));
    }
    Ok(())
}

impl Store {
    /// Keeps `value` (an account key, or a key and certificate chain in
    /// PEM) under `name`; resolves once it is on disk.
    pub async fn set_acme(&self, name: &str, value: Vec<u8>) -> Result<(), StoreError> {
        check(name, &value)?;
        self.write(WriteOp::SetAcme {
            name: name.to_string(),
            value,
        })
        .await
        .map(drop)
    }
}

impl Reader {
    /// What [`Store::set_acme`] kept under `name`.
    pub fn acme(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .dbs
            .meta
            .get(&self.txn, keys::acme(name).as_bytes())?
            .map(<[u8]>::to_vec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acme_entries_round_trip_and_are_bounded() {
        let dir = std::env::temp_dir().join(format!("smolmail-acme-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Default::default()).unwrap();
        smol::block_on(async {
            assert_eq!(store.read().unwrap().acme("cert:x").unwrap(), None);
            store.set_acme("cert:x", b"pem".to_vec()).await.unwrap();
            store.set_acme("cert:x", b"pem2".to_vec()).await.unwrap();
            assert_eq!(
                store.read().unwrap().acme("cert:x").unwrap(),
                Some(b"pem2".to_vec())
            );
            let big = vec![b'a'; MAX_VALUE + 1];
            assert!(store.set_acme("cert:x", big).await.is_err());
            assert!(store.set_acme("", Vec::new()).await.is_err());
            // 100 names of 60 bytes and a long directory URL: far past
            // LMDB's 511-byte key limit, kept all the same.
            let long = format!(
                "cert https://acme-v02.api.letsencrypt.org/directory {}",
                vec!["autoconfig.a-rather-long-household-domain-name.example"; 100].join(",")
            );
            store.set_acme(&long, b"pem3".to_vec()).await.unwrap();
            assert_eq!(
                store.read().unwrap().acme(&long).unwrap(),
                Some(b"pem3".to_vec())
            );
        });
        store.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
