//! Every query of the store, in a short read transaction ([`Reader`],
//! from [`Store::read`](super::Store::read)), borrowing bytes from the map.

use heed::types::Bytes;
use heed::{RoPrefix, RoTxn, WithoutTls};

use super::fetch::{self, AccountState, FetchAccount, FolderState};
use super::queue::{self, QueueEntry};
use super::records::{self, Reader as Fields};
use super::schema::{Db, Dbs};
use super::{Account, Flags, Mailbox, StoreError, keys};
use crate::address;

/// A read transaction and the queries that run in it. Everything borrowed
/// from it (message bytes, keywords) lives as long as the `Reader`.
pub struct Reader {
    pub(super) txn: RoTxn<'static, WithoutTls>,
    pub(super) dbs: Dbs,
}

/// Where mail for an address goes after aliases, catch-alls and `+tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A local account (its INBOX).
    Local { account_id: u64, address: String },
    /// An address outside the local domains (an alias pointing away).
    Remote(String),
}

/// One message's record, read in place.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    pub uid: u32,
    pub blob_id: u64,
    pub size: u32,
    pub internal_date: i64,
    pub modseq: u64,
    pub flags: Flags,
    /// RFC 8514 save date, when the record has one (written at schema 5
    /// or later); see [`MessageView::save_date`].
    pub saved: Option<i64>,
    keywords: &'a [u8],
}

impl<'a> MessageView<'a> {
    pub fn decode(uid: u32, value: &'a [u8]) -> Result<MessageView<'a>, StoreError> {
        let mut r = Fields(value);
        let (blob_id, size, internal_date, modseq) = (r.u64()?, r.u32()?, r.i64()?, r.u64()?);
        let stored = r.u8()?;
        let saved = match stored & records::SAVE_DATE_MARK {
            0 => None,
            _ => Some(r.i64()?),
        };
        Ok(MessageView {
            uid,
            blob_id,
            size,
            internal_date,
            modseq,
            flags: Flags(stored & !records::SAVE_DATE_MARK),
            saved,
            keywords: r.rest(),
        })
    }

    /// When the message was saved in this mailbox (RFC 8514 §3). A message
    /// stored before save dates were kept answers its internal date, which
    /// for mail that arrived by SMTP or APPEND is when it was saved, and
    /// keeps SAVEDATE and SAVEDBEFORE/ON/SINCE meaningful for it.
    pub fn save_date(&self) -> i64 {
        self.saved.unwrap_or(self.internal_date)
    }

    pub fn keywords(&self) -> impl Iterator<Item = &'a str> {
        records::keywords(self.keywords)
    }

    /// The keywords as stored, to copy them unchanged.
    pub(super) fn raw_keywords(&self) -> &'a [u8] {
        self.keywords
    }

    /// The view apart from its read transaction: the fields copied, the
    /// keywords as stored appended to `keep`. With [`MessageView::attach`]
    /// a response can go on rendering after the transaction is gone.
    pub fn detach(&self, keep: &mut Vec<u8>) -> MessageView<'static> {
        keep.extend_from_slice(self.keywords);
        MessageView {
            keywords: &[],
            ..*self
        }
    }

    /// A detached view with its keywords back (what `detach` kept).
    pub fn attach<'k>(&self, keywords: &'k [u8]) -> MessageView<'k> {
        MessageView { keywords, ..*self }
    }
}

/// Alias chains longer than this are a loop or a mistake.
const MAX_ALIAS_DEPTH: usize = 8;

impl Reader {
    pub(super) fn new(txn: RoTxn<'static, WithoutTls>, dbs: Dbs) -> Reader {
        Reader { txn, dbs }
    }

    /// The entries of `db` whose keys start with `prefix`, in key order.
    pub(super) fn prefix(
        &self,
        db: Db,
        prefix: &[u8],
    ) -> Result<RoPrefix<'_, Bytes, Bytes>, StoreError> {
        Ok(db.prefix_iter(&self.txn, prefix)?)
    }

    pub fn account(&self, address: &str) -> Result<Option<Account>, StoreError> {
        let Ok(address) = address::normalize(address) else {
            return Ok(None);
        };
        match self.dbs.accounts.get(&self.txn, address.as_bytes())? {
            Some(v) => Ok(Some(records::decode_account(&address, v)?)),
            None => Ok(None),
        }
    }

    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dbs.accounts.iter(&self.txn)? {
            let (k, v) = entry?;
            out.push(records::decode_account(&String::from_utf8_lossy(k), v)?);
        }
        Ok(out)
    }

    pub fn domains(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dbs.domains.iter(&self.txn)? {
            out.push(String::from_utf8_lossy(entry?.0).into_owned());
        }
        Ok(out)
    }

    pub fn is_local_domain(&self, domain: &str) -> Result<bool, StoreError> {
        let domain = domain.trim_end_matches('.').to_lowercase();
        Ok(self
            .dbs
            .domains
            .get(&self.txn, domain.as_bytes())?
            .is_some())
    }

    /// Every alias: source (address or `@domain`) and its targets.
    pub fn aliases(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dbs.aliases.iter(&self.txn)? {
            let (k, v) = entry?;
            out.push((
                String::from_utf8_lossy(k).into_owned(),
                records::decode_targets(v),
            ));
        }
        Ok(out)
    }

    pub(super) fn alias(&self, source: &str) -> Result<Option<Vec<String>>, StoreError> {
        Ok(self
            .dbs
            .aliases
            .get(&self.txn, source.as_bytes())?
            .map(records::decode_targets))
    }

    /// Where mail for `address` goes; empty when nobody takes it. Order as
    /// Postfix's virtual maps: an exact alias first, then the account, then
    /// the address without its `+tag`, then the domain's catch-all, then
    /// (for `postmaster` only) the oldest account (`super::postmaster`).
    pub fn resolve(&self, address: &str) -> Result<Vec<Recipient>, StoreError> {
        let mut out = Vec::new();
        if let Ok(address) = address::normalize(address) {
            self.expand(&address, 0, &mut out)?;
        }
        Ok(out)
    }

    fn expand(
        &self,
        address: &str,
        depth: usize,
        out: &mut Vec<Recipient>,
    ) -> Result<(), StoreError> {
        if depth > MAX_ALIAS_DEPTH {
            log::warn!("store: alias chain for {address} is deeper than {MAX_ALIAS_DEPTH}; loop?");
            return Ok(());
        }
        let push = |out: &mut Vec<Recipient>, r: Recipient| {
            if !out.contains(&r) {
                out.push(r);
            }
        };
        if let Some(targets) = self.alias(address)? {
            for target in targets {
                if target == address {
                    // `a@x -> a@x, b@y` keeps a copy for a@x itself.
                    if let Some(account) = self.account(&target)? {
                        push(
                            out,
                            Recipient::Local {
                                account_id: account.id,
                                address: target,
                            },
                        );
                    }
                } else {
                    self.expand(&target, depth + 1, out)?;
                }
            }
            return Ok(());
        }
        if let Some(account) = self.account(address)? {
            push(
                out,
                Recipient::Local {
                    account_id: account.id,
                    address: address.to_string(),
                },
            );
            return Ok(());
        }
        if let Some(base) = address::without_tag(address) {
            let before = out.len();
            self.expand(&base, depth + 1, out)?;
            if out.len() > before {
                return Ok(());
            }
        }
        let domain = address::domain_of(address);
        if !self.is_local_domain(domain)? {
            push(out, Recipient::Remote(address.to_string()));
            return Ok(());
        }
        if let Some(targets) = self.alias(&format!("@{domain}"))? {
            for target in targets {
                self.expand(&target, depth + 1, out)?;
            }
            return Ok(());
        }
        // RFC 5321 §4.5.1: postmaster takes mail even when nothing names it.
        if let Some(recipient) = self.implicit_postmaster(address)? {
            push(out, recipient);
        }
        Ok(())
    }

    /// An account's mailboxes, ordered by name.
    pub fn mailboxes(&self, account_id: u64) -> Result<Vec<Mailbox>, StoreError> {
        let mut out = Vec::new();
        for entry in self.prefix(self.dbs.mailboxes, &keys::mailboxes_of(account_id))? {
            let (k, v) = entry?;
            let name = keys::mailbox_name(k);
            out.push(records::decode_mailbox(account_id, &name, v)?);
        }
        Ok(out)
    }

    pub fn mailbox(&self, account_id: u64, name: &str) -> Result<Option<Mailbox>, StoreError> {
        match self
            .dbs
            .mailboxes
            .get(&self.txn, &keys::mailbox(account_id, name))?
        {
            Some(v) => Ok(Some(records::decode_mailbox(account_id, name, v)?)),
            None => Ok(None),
        }
    }

    pub fn mailbox_by_id(&self, mailbox_id: u64) -> Result<Option<Mailbox>, StoreError> {
        let Some(index) = self.dbs.mailbox_ids.get(&self.txn, &keys::id(mailbox_id))? else {
            return Ok(None);
        };
        let (account_id, name) = records::decode_mailbox_index(index)?;
        self.mailbox(account_id, &name)
    }

    /// A mailbox's messages in UID order, read in place.
    pub fn messages(
        &self,
        mailbox_id: u64,
    ) -> Result<impl Iterator<Item = Result<MessageView<'_>, StoreError>>, StoreError> {
        let iter = self.prefix(self.dbs.messages, &keys::messages_of(mailbox_id))?;
        Ok(iter.map(|entry| {
            let (k, v) = entry?;
            let uid =
                keys::message_uid(k).ok_or_else(|| StoreError::Corrupt("message key".into()))?;
            MessageView::decode(uid, v)
        }))
    }

    /// The messages of `mailbox_id` with a UID above `after`, in UID
    /// order: a long walk can go a chunk at a time, each chunk under its
    /// own short transaction, resuming after the last UID it saw.
    pub fn messages_after(
        &self,
        mailbox_id: u64,
        after: u32,
    ) -> Result<impl Iterator<Item = Result<MessageView<'_>, StoreError>>, StoreError> {
        use std::ops::Bound;
        let (start, end) = (
            keys::message(mailbox_id, after),
            keys::message(mailbox_id, u32::MAX),
        );
        let range = (Bound::Excluded(&start[..]), Bound::Included(&end[..]));
        let iter = self.dbs.messages.range(&self.txn, &range)?;
        Ok(iter.map(|entry| {
            let (k, v) = entry?;
            let uid =
                keys::message_uid(k).ok_or_else(|| StoreError::Corrupt("message key".into()))?;
            MessageView::decode(uid, v)
        }))
    }

    pub fn message(
        &self,
        mailbox_id: u64,
        uid: u32,
    ) -> Result<Option<MessageView<'_>>, StoreError> {
        match self
            .dbs
            .messages
            .get(&self.txn, &keys::message(mailbox_id, uid))?
        {
            Some(v) => Ok(Some(MessageView::decode(uid, v)?)),
            None => Ok(None),
        }
    }

    /// The message bytes, straight from the map.
    pub fn blob(&self, blob_id: u64) -> Result<Option<&[u8]>, StoreError> {
        Ok(self.dbs.blobs.get(&self.txn, &keys::id(blob_id))?)
    }

    /// The summary computed at delivery.
    pub fn summary(&self, blob_id: u64) -> Result<Option<crate::mime::Summary>, StoreError> {
        match self.dbs.summaries.get(&self.txn, &keys::id(blob_id))? {
            Some(v) => crate::mime::Summary::decode(v)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("summary of blob {blob_id}"))),
            None => Ok(None),
        }
    }

    /// The SORT and THREAD keys of a message body: as stored at delivery,
    /// or computed from its header for a message stored before they were
    /// (or whose record does not decode).
    pub fn sort_keys(&self, blob_id: u64) -> Result<crate::mime::SortKeys, StoreError> {
        self.with_sort_keys(blob_id, |k| k.to_owned())
    }

    /// [`Reader::sort_keys`] lent to `f` in place, read from the record
    /// without copying its texts.
    pub fn with_sort_keys<T>(
        &self,
        blob_id: u64,
        f: impl FnOnce(crate::mime::SortKeysRef<'_>) -> T,
    ) -> Result<T, StoreError> {
        let key = keys::id(blob_id);
        if let Some(keys) = self
            .dbs
            .sort_keys
            .get(&self.txn, &key)?
            .and_then(crate::mime::SortKeysRef::decode)
        {
            return Ok(f(keys));
        }
        let raw = self.dbs.blobs.get(&self.txn, &key)?.unwrap_or_default();
        Ok(f(crate::mime::SortKeys::compute(raw).as_ref()))
    }

    /// [`Reader::with_sort_keys`] for many bodies: `f(i, keys)` once for
    /// each `(blob_id, i)` of `bodies` (which this sorts by blob id), with
    /// `None` for keys the store failed to give. Bodies delivered one
    /// after another have neighbouring ids, and one cursor walk over their
    /// records costs much less than a B-tree lookup each; scattered ids
    /// are looked up one by one.
    pub fn each_sort_keys(
        &self,
        bodies: &mut [(u64, usize)],
        mut f: impl FnMut(usize, Option<crate::mime::SortKeysRef<'_>>),
    ) {
        use std::ops::Bound;
        bodies.sort_unstable();
        let one = |f: &mut dyn FnMut(usize, Option<crate::mime::SortKeysRef<'_>>), id, i| {
            if let Err(e) = self.with_sort_keys(id, |k| f(i, Some(k))) {
                log::debug!("store: sort keys of blob {id}: {e}");
                f(i, None);
            }
        };
        let (Some(&(first, _)), Some(&(last, _))) = (bodies.first(), bodies.last()) else {
            return;
        };
        let (start, end) = (keys::id(first), keys::id(last));
        let range = (Bound::Included(&start[..]), Bound::Included(&end[..]));
        let walk = match last - first < 4 * bodies.len() as u64 {
            true => self.dbs.sort_keys.range(&self.txn, &range).ok(),
            false => None,
        };
        let Some(walk) = walk else {
            return bodies.iter().for_each(|&(id, i)| one(&mut f, id, i));
        };
        let mut walk = walk.peekable();
        let key_id = |k: &[u8]| k.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX);
        for &(id, i) in bodies.iter() {
            while walk
                .next_if(|e| e.as_ref().is_ok_and(|(k, _)| key_id(k) < id))
                .is_some()
            {}
            let here = match walk.peek() {
                Some(Ok((k, v))) if key_id(k) == id => crate::mime::SortKeysRef::decode(v),
                _ => None,
            };
            match here {
                Some(keys) => f(i, Some(keys)),
                // No record, a damaged one, or a failed walk: alone.
                None => one(&mut f, id, i),
            }
        }
    }

    /// UIDs expunged from a mailbox after `modseq` (RFC 7162 §3.2.5.2).
    pub fn expunged_since(&self, mailbox_id: u64, modseq: u64) -> Result<Vec<u32>, StoreError> {
        let mut out = Vec::new();
        for entry in self.prefix(self.dbs.expunged, &keys::messages_of(mailbox_id))? {
            let (k, v) = entry?;
            if Fields(v).u64()? > modseq {
                out.push(
                    keys::message_uid(k)
                        .ok_or_else(|| StoreError::Corrupt("expunged key".into()))?,
                );
            }
        }
        Ok(out)
    }

    /// How many messages share a body (0 once it is freed).
    pub fn blob_refs(&self, blob_id: u64) -> Result<u32, StoreError> {
        match self.dbs.blob_refs.get(&self.txn, &keys::id(blob_id))? {
            Some(v) => records::decode_refs(v),
            None => Ok(0),
        }
    }
}

/// What [`Reader::queue_due`] found.
#[derive(Debug, Default)]
pub struct DueScan {
    /// Entries due now, in due order.
    pub due: Vec<QueueEntry>,
    /// The earliest due time after now of an entry not skipped.
    pub next_due: Option<i64>,
    /// The scan stopped at `limit` with more entries due.
    pub more: bool,
}

/// The outbound queue.
impl Reader {
    /// The whole queue in due order.
    pub fn queue(&self) -> Result<Vec<QueueEntry>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dbs.queue.iter(&self.txn)? {
            let (k, v) = entry?;
            out.push(queue::decode(k, v)?);
        }
        Ok(out)
    }

    /// The entries due at `now`, at most `limit`, leaving out those `skip`
    /// names (attempts in progress). Keys are read first and values decoded
    /// only for entries taken, so a scan past many entries in flight stays
    /// cheap.
    pub fn queue_due(
        &self,
        now: i64,
        skip: impl Fn(u64) -> bool,
        limit: usize,
    ) -> Result<DueScan, StoreError> {
        let mut scan = DueScan::default();
        for item in self.dbs.queue.iter(&self.txn)? {
            let (k, v) = item?;
            let (due, id) =
                keys::queue_parts(k).ok_or_else(|| StoreError::Corrupt("queue key".into()))?;
            if skip(id) {
                continue;
            }
            if due > now {
                scan.next_due = Some(due);
                break;
            }
            if scan.due.len() >= limit {
                scan.more = true;
                break;
            }
            scan.due.push(queue::decode(k, v)?);
        }
        Ok(scan)
    }

    /// How many entries the queue holds (LMDB keeps the count: O(1)).
    pub fn queue_len(&self) -> Result<u64, StoreError> {
        Ok(self.dbs.queue.len(&self.txn)?)
    }
}

/// Fetch accounts and their progress.
impl Reader {
    /// Every fetch account, by id.
    pub fn fetch_accounts(&self) -> Result<Vec<FetchAccount>, StoreError> {
        let mut out = Vec::new();
        for entry in self.dbs.fetch_accounts.iter(&self.txn)? {
            let (k, v) = entry?;
            let id = keys::read_id(k).ok_or_else(|| StoreError::Corrupt("fetch key".into()))?;
            out.push(fetch::decode_account(id, v)?);
        }
        Ok(out)
    }

    pub fn fetch_account(&self, id: u64) -> Result<Option<FetchAccount>, StoreError> {
        match self.dbs.fetch_accounts.get(&self.txn, &keys::fetch(id))? {
            Some(v) => Ok(Some(fetch::decode_account(id, v)?)),
            None => Ok(None),
        }
    }

    /// The last run's result and each folder's state (by folder index).
    pub fn fetch_state(&self, id: u64) -> Result<AccountState, StoreError> {
        let mut state = AccountState::default();
        for entry in self.prefix(self.dbs.fetch_state, &keys::fetch(id))? {
            let (k, v) = entry?;
            match keys::fetch_folder_index(k) {
                None => state.status = Some(fetch::decode_status(v)?),
                Some(index) => state.folders.push((index, fetch::decode_state(v)?)),
            }
        }
        Ok(state)
    }

    /// One folder's state; `None` before its first batch.
    pub fn fetch_folder_state(
        &self,
        id: u64,
        folder: u32,
    ) -> Result<Option<FolderState>, StoreError> {
        let key = keys::fetch_folder(id, folder);
        match self.dbs.fetch_state.get(&self.txn, &key)? {
            Some(v) => Ok(Some(fetch::decode_state(v)?)),
            None => Ok(None),
        }
    }

    /// Which of `(identity, size)` pairs were taken from the folder before:
    /// one bool per pair, in order.
    pub fn fetch_seen(
        &self,
        id: u64,
        folder: u32,
        pairs: &[(u64, u32)],
    ) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(pairs.len());
        for &(identity, size) in pairs {
            let key = keys::fetch_seen(id, folder, identity, size);
            out.push(self.dbs.fetch_seen.get(&self.txn, &key)?.is_some());
        }
        Ok(out)
    }
}
