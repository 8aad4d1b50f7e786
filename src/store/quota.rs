//! Account quotas: what an account's messages occupy, against its limit.
//!
//! Usage counts every message copy's size in every mailbox of the account,
//! as Dovecot's quota STORAGE does (RFC 9208 §5.1): a body shared by two
//! copies counts twice, because deleting one copy frees nothing for the
//! user. It is not kept as a counter of its own: each mailbox record
//! already carries the byte total of its messages, kept by every writer op
//! that adds or removes one (delivery, APPEND, COPY/MOVE, expunge, mailbox
//! delete) in the same transaction, so the account's usage is the sum over
//! its mailboxes: one short range scan of the `mailboxes` database, never
//! a walk over messages, cheap enough for every RCPT and APPEND. A store
//! needs no upgrade for it.
//!
//! The check is made by the protocol before it writes, in a read
//! transaction: two writes racing for the last bytes can both pass, so an
//! account can end over its limit by what was in flight at that moment
//! (Dovecot's count backend behaves the same way). The next check then
//! refuses until mail is expunged.

use super::read::Reader;
use super::{StoreError, keys, records};

/// An account's limit and usage, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bytes allowed; 0 is unlimited.
    pub limit: u64,
    /// Bytes the account's messages occupy.
    pub used: u64,
}

impl Quota {
    pub fn unlimited(&self) -> bool {
        self.limit == 0
    }
    /// The account holds its limit or more: nothing more goes in.
    pub fn is_full(&self) -> bool {
        !self.unlimited() && self.used >= self.limit
    }
    /// `size` more bytes stay within the limit.
    pub fn fits(&self, size: u64) -> bool {
        self.unlimited() || self.used.saturating_add(size) <= self.limit
    }
    /// A message of `size` bytes could never be stored, however much is
    /// expunged: retrying is pointless (SMTP 552 5.2.2, not 452 4.2.2).
    pub fn never_fits(&self, size: u64) -> bool {
        !self.unlimited() && size > self.limit
    }
}

impl Reader {
    /// Bytes the messages of `account_id` occupy: the sum of its
    /// mailboxes' byte counters.
    pub fn usage(&self, account_id: u64) -> Result<u64, StoreError> {
        let mut used = 0u64;
        for entry in self.prefix(self.dbs.mailboxes, &keys::mailboxes_of(account_id))? {
            used = used.saturating_add(records::mailbox_bytes(entry?.1)?);
        }
        Ok(used)
    }

    /// The bytes the messages `uids` of a mailbox occupy (what copying
    /// them adds); UIDs that are gone count nothing.
    pub fn size_of(&self, mailbox_id: u64, uids: &[u32]) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for &uid in uids {
            if let Some(m) = self.message(mailbox_id, uid)? {
                total = total.saturating_add(u64::from(m.size));
            }
        }
        Ok(total)
    }

    /// The quota of the account `address` (normalized here); `None` when
    /// there is no such account.
    pub fn quota(&self, address: &str) -> Result<Option<Quota>, StoreError> {
        let Some(account) = self.account(address)? else {
            return Ok(None);
        };
        Ok(Some(Quota {
            limit: account.quota,
            used: self.usage(account.id)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Delivery, Options, Reader, SpecialUse, Store};
    use super::Quota;

    /// What usage must be: every message record's size, walked.
    fn walked(r: &Reader, account_id: u64) -> u64 {
        let mut total = 0;
        for mailbox in r.mailboxes(account_id).unwrap() {
            for m in r.messages(mailbox.id).unwrap() {
                total += u64::from(m.unwrap().size);
            }
        }
        total
    }

    /// Usage from the mailbox counters equals the sum over the messages
    /// after every write that adds or removes messages: delivery to two
    /// mailboxes, COPY, MOVE, expunge, renaming INBOX, deleting a
    /// mailbox; the quota comes from the account record.
    #[test]
    fn usage_follows_every_write() {
        let dir = std::env::temp_dir().join(format!("smolmail-quota-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        smol::block_on(async {
            let id = store.add_account("q@home.arpa", "x").await.unwrap();
            store.set_quota("Q@home.arpa", 5000).await.unwrap();
            let other = store.add_account("o@home.arpa", "x").await.unwrap();
            let r = store.read().unwrap();
            let inbox = r.mailbox(id, "INBOX").unwrap().unwrap().id;
            let archive = r.mailbox(id, "Archive").unwrap().unwrap().id;
            let elsewhere = r.mailbox(other, "INBOX").unwrap().unwrap().id;
            drop(r);
            let check = |want: u64| {
                let r = store.read().unwrap();
                assert_eq!(r.usage(id).unwrap(), want);
                assert_eq!(walked(&r, id), want);
                let q = r.quota("q@home.arpa").unwrap().unwrap();
                assert_eq!((q.limit, q.used), (5000, want));
            };
            check(0);
            for size in [100, 200, 300] {
                let d = Delivery::new(vec![b'x'; size], 0, vec![inbox, archive, elsewhere], None);
                store.deliver(d).await.unwrap();
            }
            check(1200);
            assert_eq!(
                store.read().unwrap().size_of(inbox, &[1, 3, 9]).unwrap(),
                400
            );
            store.copy(inbox, vec![1, 2], archive, false).await.unwrap();
            check(1500);
            store.copy(archive, vec![1], inbox, true).await.unwrap();
            check(1500);
            store.expunge(inbox, vec![2]).await.unwrap();
            check(1300);
            let made = store
                .create_mailbox(id, "Lists", SpecialUse::None)
                .await
                .unwrap();
            store.copy(inbox, vec![1], made, false).await.unwrap();
            check(1400);
            store.rename_mailbox(inbox, "Old").await.unwrap();
            check(1400);
            store.delete_mailbox(archive).await.unwrap();
            check(1400 - 100 - 200 - 300 - 100 - 200 + 100);
            // The other account's copies were never counted here.
            assert_eq!(store.read().unwrap().usage(other).unwrap(), 600);
        });
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn limits() {
        let q = Quota {
            limit: 100,
            used: 60,
        };
        assert!(q.fits(40) && !q.fits(41) && !q.is_full());
        assert!(!q.never_fits(100) && q.never_fits(101));
        let full = Quota {
            limit: 100,
            used: 100,
        };
        assert!(full.is_full() && !full.fits(1) && full.fits(0));
        let none = Quota {
            limit: 0,
            used: u64::MAX,
        };
        assert!(none.fits(u64::MAX) && !none.is_full() && !none.never_fits(u64::MAX));
    }
}
