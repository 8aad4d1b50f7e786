//! DKIM signing keys (RFC 6376; `crate::dkim`): one entry per selector in
//! `meta` under `dkim:DOMAIN/SELECTOR` (`keys::dkim`), so one prefix scan
//! lists a domain's keys and another lists them all; no new database and
//! no schema change. A value is the key's algorithm, whether it signs
//! (active) or only stays published while a rotation settles, its creation
//! time and its PKCS#8 private key.
//!
//! Bounds: domain names of 253 bytes and selectors of 63 (one DNS label:
//! the key lives at `SELECTOR._domainkey.DOMAIN`), so a key is at most 322
//! bytes (LMDB allows 511); a PKCS#8 key of at most 8 KiB (RSA-4096 is
//! ~2.4 KiB); at most [`MAX_KEYS_PER_DOMAIN`] keys per domain (rotations
//! pile up until `dkim del`).

use heed::RwTxn;

use super::read::Reader;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{Store, StoreError, keys};
use crate::dkim::Algorithm;

pub const MAX_KEYS_PER_DOMAIN: usize = 32;
const MAX_PKCS8: usize = 8 << 10;
const MAX_SELECTOR: usize = 63;

/// One stored DKIM key.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimKey {
    /// Lower-case domain (`d=`).
    pub domain: String,
    /// `s=`: one DNS label.
    pub selector: String,
    pub algorithm: Algorithm,
    /// Signs outbound mail; a retired key stays only to be listed (its
    /// record stays published until mail signed with it has arrived).
    pub active: bool,
    /// Unix seconds.
    pub created: i64,
    /// The private key, PKCS#8 DER.
    pub pkcs8: Vec<u8>,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key in a log or a panic message.
        write!(
            f,
            "DkimKey({}/{} {} active={})",
            self.domain,
            self.selector,
            self.algorithm.name(),
            self.active
        )
    }
}

/// DKIM key changes.
#[derive(Debug)]
pub enum DkimOp {
    /// New keys (all of one domain; none may exist yet). `retire_others`
    /// makes the domain's other keys inactive in the same commit
    /// (`dkim rotate`).
    Add {
        keys: Vec<DkimKey>,
        retire_others: bool,
    },
    /// Deletes one selector's key, or all of the domain's.
    Del {
        domain: String,
        selector: Option<String>,
    },
}

fn encode(k: &DkimKey) -> Vec<u8> {
    let mut v = Vec::with_capacity(11 + k.pkcs8.len());
    v.push(1); // record format
    v.push(match k.algorithm {
        Algorithm::Ed25519Sha256 => 1,
        Algorithm::RsaSha256 => 2,
    });
    v.push(u8::from(k.active));
    v.extend_from_slice(&k.created.to_be_bytes());
    v.extend_from_slice(&k.pkcs8);
    v
}

fn decode(key: &[u8], v: &[u8]) -> Result<DkimKey, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("DKIM key {}", String::from_utf8_lossy(key)));
    let (domain, selector) = keys::dkim_parts(key).ok_or_else(corrupt)?;
    let (&[1, alg, active], rest) = v.split_first_chunk::<3>().ok_or_else(corrupt)? else {
        return Err(corrupt());
    };
    let algorithm = match alg {
        1 => Algorithm::Ed25519Sha256,
        2 => Algorithm::RsaSha256,
        _ => return Err(corrupt()),
    };
    let (created, pkcs8) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
    Ok(DkimKey {
        domain: domain.to_string(),
        selector: selector.to_string(),
        algorithm,
        active: active == 1,
        created: i64::from_be_bytes(*created),
        pkcs8: pkcs8.to_vec(),
    })
}

fn check(k: &DkimKey) -> Result<(), StoreError> {
    crate::address::normalize_domain(&k.domain).map_err(StoreError::Invalid)?;
    let label_ok = !k.selector.is_empty()
        && k.selector.len() <= MAX_SELECTOR
        && k.selector
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !label_ok || k.domain != k.domain.to_ascii_lowercase() {
        return Err(StoreError::Invalid(format!(
            "a DKIM selector is one lower-case DNS label of 1 to {MAX_SELECTOR} letters, digits, '-'"
        )));
    }
    if k.pkcs8.is_empty() || k.pkcs8.len() > MAX_PKCS8 {
        return Err(StoreError::Limit(format!(
            "a DKIM key has at most {MAX_PKCS8} bytes"
        )));
    }
    Ok(())
}

fn domain_keys(txn: &RwTxn, dbs: &Dbs, domain: &str) -> Result<Vec<DkimKey>, StoreError> {
    let prefix = keys::dkim_prefix(Some(domain));
    let mut out = Vec::new();
    for entry in dbs.meta.prefix_iter(txn, prefix.as_bytes())? {
        let (k, v) = entry?;
        out.push(decode(k, v)?);
    }
    Ok(out)
}

pub fn apply(txn: &mut RwTxn, dbs: &Dbs, op: &DkimOp) -> Result<Outcome, StoreError> {
    match op {
        DkimOp::Add {
            keys: new,
            retire_others,
        } => {
            let Some(domain) = new.first().map(|k| k.domain.clone()) else {
                return Ok(Outcome::Done);
            };
            let old = domain_keys(txn, dbs, &domain)?;
            if old.len() + new.len() > MAX_KEYS_PER_DOMAIN {
                return Err(StoreError::Limit(format!(
                    "{domain} has {} DKIM keys; at most {MAX_KEYS_PER_DOMAIN} (dkim del the retired ones)",
                    old.len()
                )));
            }
            for k in new {
                check(k)?;
                if k.domain != domain {
                    return Err(StoreError::Invalid("DKIM keys of two domains".into()));
                }
                if old
                    .iter()
                    .chain(new.iter())
                    .filter(|o| o.selector == k.selector)
                    .count()
                    > 1
                    || old.iter().any(|o| o.selector == k.selector)
                {
                    return Err(StoreError::Exists(format!(
                        "DKIM selector {} of {domain}",
                        k.selector
                    )));
                }
            }
            if *retire_others {
                for mut k in old.into_iter().filter(|k| k.active) {
                    k.active = false;
                    dbs.meta.put(
                        txn,
                        keys::dkim(&k.domain, &k.selector).as_bytes(),
                        &encode(&k),
                    )?;
                }
            }
            for k in new {
                dbs.meta.put(
                    txn,
                    keys::dkim(&k.domain, &k.selector).as_bytes(),
                    &encode(k),
                )?;
            }
            Ok(Outcome::Done)
        }
        DkimOp::Del { domain, selector } => {
            let doomed: Vec<DkimKey> = domain_keys(txn, dbs, domain)?
                .into_iter()
                .filter(|k| selector.as_ref().is_none_or(|s| *s == k.selector))
                .collect();
            if doomed.is_empty() {
                return Err(StoreError::NotFound(match selector {
                    Some(s) => format!("no DKIM selector {s} for {domain}"),
                    None => format!("no DKIM keys for {domain}"),
                }));
            }
            for k in doomed {
                dbs.meta
                    .delete(txn, keys::dkim(&k.domain, &k.selector).as_bytes())?;
            }
            Ok(Outcome::Done)
        }
    }
}

impl Store {
    /// Applies a DKIM key change; resolves once it is on disk.
    pub async fn dkim(&self, op: DkimOp) -> Result<(), StoreError> {
        if let DkimOp::Add { keys, .. } = &op {
            keys.iter().try_for_each(check)?;
        }
        self.write(WriteOp::Dkim(op)).await.map(drop)
    }
}

impl Reader {
    /// The DKIM keys of `domain` (lower-case), or of every domain, in
    /// domain and selector order.
    pub fn dkim_keys(&self, domain: Option<&str>) -> Result<Vec<DkimKey>, StoreError> {
        let prefix = keys::dkim_prefix(domain);
        let mut out = Vec::new();
        for entry in self.dbs.meta.prefix_iter(&self.txn, prefix.as_bytes())? {
            let (k, v) = entry?;
            out.push(decode(k, v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(domain: &str, selector: &str) -> DkimKey {
        DkimKey {
            domain: domain.into(),
            selector: selector.into(),
            algorithm: Algorithm::Ed25519Sha256,
            active: true,
            created: 1_700_000_000,
            pkcs8: vec![1, 2, 3],
        }
    }

    #[test]
    fn dkim_keys_add_rotate_list_delete() {
        let dir = std::env::temp_dir().join(format!("smolmail-dkim-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Default::default()).unwrap();
        smol::block_on(async {
            let add = |keys, retire_others| DkimOp::Add {
                keys,
                retire_others,
            };
            store
                .dkim(add(vec![key("a.org", "s1"), key("a.org", "s1r")], false))
                .await
                .unwrap();
            // "a.org/" must not match "a.organic": the prefix ends at '/'.
            store
                .dkim(add(vec![key("a.organic", "s1")], false))
                .await
                .unwrap();
            let r = store.read().unwrap();
            assert_eq!(r.dkim_keys(Some("a.org")).unwrap().len(), 2);
            assert_eq!(r.dkim_keys(None).unwrap().len(), 3);
            drop(r);
            assert!(matches!(
                store.dkim(add(vec![key("a.org", "s1")], false)).await,
                Err(StoreError::Exists(_))
            ));
            assert!(
                store
                    .dkim(add(vec![key("a.org", "Bad_Label")], false))
                    .await
                    .is_err()
            );
            store
                .dkim(add(vec![key("a.org", "s2")], true))
                .await
                .unwrap();
            let keys = store.read().unwrap().dkim_keys(Some("a.org")).unwrap();
            let active: Vec<_> = keys
                .iter()
                .filter(|k| k.active)
                .map(|k| &k.selector[..])
                .collect();
            assert_eq!(active, ["s2"]);
            assert_eq!(keys[0].pkcs8, vec![1, 2, 3]);
            let del = |selector: Option<&str>| DkimOp::Del {
                domain: "a.org".into(),
                selector: selector.map(String::from),
            };
            store.dkim(del(Some("s1"))).await.unwrap();
            assert!(matches!(
                store.dkim(del(Some("s1"))).await,
                Err(StoreError::NotFound(_))
            ));
            store.dkim(del(None)).await.unwrap();
            assert_eq!(
                store.read().unwrap().dkim_keys(Some("a.org")).unwrap(),
                vec![]
            );
            assert_eq!(store.read().unwrap().dkim_keys(None).unwrap().len(), 1);
        });
        store.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
