//! Imported messages (`smolmail import ...`, `crate::migrate`): each is
//! delivered with its flags, keywords and INTERNALDATE, and its identity
//! is recorded in `import_seen` in the same nested transaction, so an
//! import that is interrupted and run again stores nothing twice.
//!
//! The identity is whatever names the message in its source (a Maildir
//! file's unique name, an IMAP folder's UIDVALIDITY and UID, an mbox
//! message's content hash), chosen by the importer; the store keeps a
//! 16-byte SHA-256 prefix of it per account (collisions need 2^64
//! messages). The same idea as the fetcher's `fetch_seen`, kept apart
//! because an import belongs to an account, not to a fetch account.

use heed::RwTxn;

use super::message_ops::deliver;
use super::schema::Dbs;
use super::writer::{Outcome, Summarized, WriteOp};
use super::{Reader, Store, StoreError, keys};

/// One message to import: its delivery (one target mailbox, flags,
/// keywords and INTERNALDATE set) and the hash of its identity.
#[derive(Debug)]
pub struct Imported {
    pub account_id: u64,
    pub identity: [u8; 16],
    pub delivery: Summarized,
}

/// The hash under which an identity is recorded.
pub fn identity_hash(identity: &[u8]) -> [u8; 16] {
    let digest = ring::digest::digest(&ring::digest::SHA256, identity);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

/// `Outcome::Count(1)` when stored, `Count(0)` when the identity was
/// imported before (by an earlier run, or a parallel one).
pub(super) fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    m: &Imported,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    let key = keys::import_seen(m.account_id, &m.identity);
    if dbs.import_seen.get(txn, &key)?.is_some() {
        return Ok(Outcome::Count(0));
    }
    if m.delivery.mailboxes.len() != 1 || m.delivery.outbound.is_some() {
        return Err(StoreError::Invalid(
            "an imported message goes to exactly one mailbox".into(),
        ));
    }
    let delivered = deliver(txn, dbs, &m.delivery, touched)?;
    let (mailbox_id, uid) = delivered.placed[0];
    let mut value = [0u8; 12];
    value.copy_from_slice(&keys::message(mailbox_id, uid));
    dbs.import_seen.put(txn, &key, &value)?;
    Ok(Outcome::Count(1))
}

/// Forgets an account's imports when the account is deleted.
pub(super) fn forget_account(
    txn: &mut RwTxn,
    dbs: &Dbs,
    account_id: u64,
) -> Result<(), StoreError> {
    let mut doomed = Vec::new();
    for entry in dbs
        .import_seen
        .prefix_iter(txn, &keys::mailboxes_of(account_id))?
    {
        doomed.push(entry?.0.to_vec());
    }
    for key in doomed {
        dbs.import_seen.delete(txn, &key)?;
    }
    Ok(())
}

impl Reader {
    /// Whether a message of this identity was imported into the account.
    pub fn import_seen(&self, account_id: u64, identity: &[u8; 16]) -> Result<bool, StoreError> {
        let key = keys::import_seen(account_id, identity);
        Ok(self.dbs.import_seen.get(&self.txn, &key)?.is_some())
    }
}

impl Store {
    /// Hands one imported message to the writer without waiting for its
    /// commit (see [`Store::enqueue`]); the answer is `Outcome::Count(1)`
    /// when stored, `Count(0)` when it was there already.
    pub async fn import(&self, m: Imported) -> Result<super::Pending, StoreError> {
        self.enqueue(WriteOp::Import(m)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::Delivery;
    use super::super::{Flags, Options};
    use super::*;

    #[test]
    fn an_identity_is_stored_once_and_forgotten_with_its_account() {
        let dir = std::env::temp_dir().join(format!("smolmail-import-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        let account = smol::block_on(store.add_account("me@home.arpa", "x")).unwrap();
        let inbox = store
            .read()
            .unwrap()
            .mailbox(account, "INBOX")
            .unwrap()
            .unwrap();
        let put = |id: &[u8]| {
            let m = Imported {
                account_id: account,
                identity: identity_hash(id),
                delivery: Summarized::new(Delivery {
                    message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
                    internal_date: 1_600_000_000,
                    flags: Flags::SEEN,
                    keywords: vec!["$Forwarded".into()],
                    mailboxes: vec![inbox.id],
                    outbound: None,
                }),
            };
            smol::block_on(async { store.import(m).await?.wait().await })
        };
        assert_eq!(put(b"a"), Ok(Outcome::Count(1)));
        assert_eq!(put(b"a"), Ok(Outcome::Count(0)));
        assert_eq!(put(b"b"), Ok(Outcome::Count(1)));
        let r = store.read().unwrap();
        assert!(r.import_seen(account, &identity_hash(b"a")).unwrap());
        let m = r.message(inbox.id, 1).unwrap().unwrap();
        assert_eq!(m.internal_date, 1_600_000_000);
        assert!(m.flags.contains(Flags::SEEN));
        assert_eq!(m.keywords().collect::<Vec<_>>(), ["$Forwarded"]);
        drop(r);
        smol::block_on(store.del_account("me@home.arpa")).unwrap();
        assert!(
            !store
                .read()
                .unwrap()
                .import_seen(account, &identity_hash(b"a"))
                .unwrap()
        );
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }
}
