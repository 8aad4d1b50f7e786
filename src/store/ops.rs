//! How each [`WriteOp`] changes the databases, inside the writer's nested
//! transaction. An error leaves nothing behind: the writer aborts the nested
//! transaction, so a half-applied request is impossible.

use heed::RwTxn;

use super::mailbox_ops;
use super::read::MessageView;
use super::records::{self, Reader};
use super::schema::Dbs;
use super::writer::{Delivered, Delivery, FlagChange, FlagOp, FlagsResult, Outcome, WriteOp};
use super::{DEFAULT_MAILBOXES, Flags, Mailbox, SpecialUse, StoreError, keys};
use crate::address;

/// Work done before the transaction opens (see `writer::run`).
pub enum Prepared {
    None,
    /// The encoded `mime::Summary` of a delivery.
    Summary(Vec<u8>),
    /// One summary per message of a fetch batch.
    Summaries(Vec<Vec<u8>>),
}

pub fn prepare(op: &WriteOp) -> Prepared {
    match op {
        WriteOp::Deliver(d) => {
            let mut encoded = Vec::new();
            crate::mime::Summary::compute(&d.message).encode(&mut encoded);
            Prepared::Summary(encoded)
        }
        WriteOp::Fetch(op) => Prepared::Summaries(super::fetch_ops::prepare(op)),
        _ => Prepared::None,
    }
}

pub fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    op: &WriteOp,
    prep: &Prepared,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    match op {
        WriteOp::AddDomain(domain) => {
            let domain = address::normalize_domain(domain).map_err(StoreError::Invalid)?;
            if dbs.domains.get(txn, domain.as_bytes())?.is_some() {
                return Err(StoreError::Exists(format!(
                    "domain {domain} exists already"
                )));
            }
            dbs.domains.put(txn, domain.as_bytes(), &[])?;
            Ok(Outcome::Done)
        }
        WriteOp::DelDomain(domain) => del_domain(txn, dbs, domain),
        WriteOp::AddAccount {
            address,
            password_hash,
        } => add_account(txn, dbs, address, password_hash),
        WriteOp::DelAccount(address) => del_account(txn, dbs, address, touched),
        WriteOp::SetPassword {
            address,
            password_hash,
        } => {
            let address = address::normalize(address).map_err(StoreError::Invalid)?;
            let account = account(txn, dbs, &address)?;
            let value =
                records::encode_account(account.id, account.flags, account.quota, password_hash);
            dbs.accounts.put(txn, address.as_bytes(), &value)?;
            Ok(Outcome::Done)
        }
        WriteOp::AddAlias { source, targets } => add_alias(txn, dbs, source, targets),
        WriteOp::DelAlias(source) => {
            let source = alias_source(source)?;
            if !dbs.aliases.delete(txn, source.as_bytes())? {
                return Err(StoreError::NotFound(format!("no alias {source}")));
            }
            Ok(Outcome::Done)
        }
        WriteOp::CreateMailbox {
            account_id,
            name,
            special_use,
        } => create_mailbox(txn, dbs, *account_id, name, *special_use).map(Outcome::Created),
        WriteOp::Deliver(delivery) => {
            let summary = match prep {
                Prepared::Summary(s) => s.as_slice(),
                _ => &[],
            };
            deliver(txn, dbs, delivery, summary, touched).map(Outcome::Delivered)
        }
        WriteOp::SetFlags(change) => set_flags(txn, dbs, change, touched).map(Outcome::FlagsSet),
        WriteOp::Expunge { mailbox_id, uids } => {
            expunge(txn, dbs, *mailbox_id, uids, touched).map(Outcome::Expunged)
        }
        WriteOp::Queue(op) => super::queue_ops::apply(txn, dbs, op, touched),
        WriteOp::Fetch(op) => {
            let summaries = match prep {
                Prepared::Summaries(s) => s.as_slice(),
                _ => &[],
            };
            super::fetch_ops::apply(txn, dbs, op, summaries, touched)
        }
        WriteOp::DeleteMailbox { mailbox_id } => {
            mailbox_ops::delete(txn, dbs, *mailbox_id, touched)
        }
        WriteOp::RenameMailbox {
            mailbox_id,
            new_name,
        } => mailbox_ops::rename(txn, dbs, *mailbox_id, new_name, touched),
        WriteOp::SetSubscribed {
            mailbox_id,
            subscribed,
        } => mailbox_ops::subscribe(txn, dbs, *mailbox_id, *subscribed),
        WriteOp::Copy {
            from,
            uids,
            to,
            remove,
        } => mailbox_ops::copy(txn, dbs, *from, uids, *to, *remove, touched),
        WriteOp::ClaimRecent { mailbox_id } => mailbox_ops::claim_recent(txn, dbs, *mailbox_id),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn meta_u64(txn: &RwTxn, dbs: &Dbs, key: &str) -> Result<u64, StoreError> {
    Ok(dbs
        .meta
        .get(txn, key.as_bytes())?
        .and_then(keys::read_id)
        .unwrap_or(0))
}

/// Allocates the next id from a counter in `meta` (ids start at 1).
pub(super) fn next_id(txn: &mut RwTxn, dbs: &Dbs, key: &str) -> Result<u64, StoreError> {
    let id = meta_u64(txn, dbs, key)? + 1;
    dbs.meta.put(txn, key.as_bytes(), &id.to_be_bytes())?;
    Ok(id)
}

fn account(txn: &RwTxn, dbs: &Dbs, address: &str) -> Result<super::Account, StoreError> {
    let value = dbs
        .accounts
        .get(txn, address.as_bytes())?
        .ok_or_else(|| StoreError::NotFound(format!("no user {address}")))?;
    records::decode_account(address, value)
}

fn add_account(
    txn: &mut RwTxn,
    dbs: &Dbs,
    address: &str,
    hash: &str,
) -> Result<Outcome, StoreError> {
    let address = address::normalize(address).map_err(StoreError::Invalid)?;
    if dbs.accounts.get(txn, address.as_bytes())?.is_some() {
        return Err(StoreError::Exists(format!("user {address} exists already")));
    }
    // "adding a user for a new domain adds the domain"
    let domain = address::domain_of(&address);
    if dbs.domains.get(txn, domain.as_bytes())?.is_none() {
        dbs.domains.put(txn, domain.as_bytes(), &[])?;
    }
    let id = next_id(txn, dbs, keys::NEXT_ACCOUNT)?;
    dbs.accounts.put(
        txn,
        address.as_bytes(),
        &records::encode_account(id, 0, 0, hash),
    )?;
    for (name, special_use) in DEFAULT_MAILBOXES {
        create_mailbox(txn, dbs, id, name, special_use)?;
    }
    Ok(Outcome::Created(id))
}

fn del_account(
    txn: &mut RwTxn,
    dbs: &Dbs,
    address: &str,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    let address = address::normalize(address).map_err(StoreError::Invalid)?;
    let account = account(txn, dbs, &address)?;
    let prefix = account.id.to_be_bytes();
    let mut mailboxes = Vec::new();
    for entry in dbs.mailboxes.prefix_iter(txn, &prefix)? {
        let (key, value) = entry?;
        mailboxes.push((key.to_vec(), Reader(value).u64()?));
    }
    for (key, mailbox_id) in mailboxes {
        remove_all_messages(txn, dbs, mailbox_id)?;
        dbs.mailboxes.delete(txn, &key)?;
        dbs.mailbox_ids.delete(txn, &keys::id(mailbox_id))?;
        touched.push(mailbox_id);
    }
    dbs.accounts.delete(txn, address.as_bytes())?;
    super::fetch_ops::delete_for_user(txn, dbs, &address)?;
    Ok(Outcome::Done)
}

fn del_domain(txn: &mut RwTxn, dbs: &Dbs, domain: &str) -> Result<Outcome, StoreError> {
    let domain = address::normalize_domain(domain).map_err(StoreError::Invalid)?;
    if dbs.domains.get(txn, domain.as_bytes())?.is_none() {
        return Err(StoreError::NotFound(format!("no domain {domain}")));
    }
    let in_domain =
        |key: &[u8]| std::str::from_utf8(key).is_ok_and(|k| address::domain_of(k) == domain);
    let mut users = 0;
    for entry in dbs.accounts.iter(txn)? {
        users += in_domain(entry?.0) as usize;
    }
    let mut aliases = 0;
    for entry in dbs.aliases.iter(txn)? {
        aliases += in_domain(entry?.0) as usize;
    }
    if users + aliases > 0 {
        return Err(StoreError::Invalid(format!(
            "domain {domain} still has {users} user(s) and {aliases} alias(es); delete them first"
        )));
    }
    dbs.domains.delete(txn, domain.as_bytes())?;
    Ok(Outcome::Done)
}

/// `@domain` (catch-all) or an address, normalized.
fn alias_source(source: &str) -> Result<String, StoreError> {
    match source.trim().strip_prefix('@') {
        Some(domain) => Ok(format!(
            "@{}",
            address::normalize_domain(domain).map_err(StoreError::Invalid)?
        )),
        None => address::normalize(source).map_err(StoreError::Invalid),
    }
}

fn add_alias(
    txn: &mut RwTxn,
    dbs: &Dbs,
    source: &str,
    targets: &[String],
) -> Result<Outcome, StoreError> {
    let source = alias_source(source)?;
    if targets.is_empty() {
        return Err(StoreError::Invalid(
            "an alias needs at least one target address".into(),
        ));
    }
    let mut normalized = Vec::with_capacity(targets.len());
    for t in targets {
        let t = address::normalize(t).map_err(StoreError::Invalid)?;
        if !normalized.contains(&t) {
            normalized.push(t);
        }
    }
    let domain = address::domain_of(&source);
    if dbs.domains.get(txn, domain.as_bytes())?.is_none() {
        dbs.domains.put(txn, domain.as_bytes(), &[])?;
    }
    dbs.aliases.put(
        txn,
        source.as_bytes(),
        &records::encode_targets(&normalized),
    )?;
    Ok(Outcome::Done)
}

/// Creates a mailbox with a fresh UIDVALIDITY (RFC 3501 §2.3.1.1: it must
/// never repeat for a name, so it is the creation time, kept increasing).
pub(super) fn create_mailbox(
    txn: &mut RwTxn,
    dbs: &Dbs,
    account_id: u64,
    name: &str,
    special_use: SpecialUse,
) -> Result<u64, StoreError> {
    if name.is_empty() || name.len() > 1024 {
        return Err(StoreError::Invalid(
            "a mailbox name must be 1 to 1024 bytes".into(),
        ));
    }
    let key = keys::mailbox(account_id, name);
    if dbs.mailboxes.get(txn, &key)?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {name} exists already")));
    }
    let id = next_id(txn, dbs, keys::NEXT_MAILBOX)?;
    let last = meta_u64(txn, dbs, keys::LAST_UIDVALIDITY)?;
    let uidvalidity = (now().clamp(1, u32::MAX as i64) as u64)
        .max(last + 1)
        .min(u32::MAX as u64);
    dbs.meta.put(
        txn,
        keys::LAST_UIDVALIDITY.as_bytes(),
        &uidvalidity.to_be_bytes(),
    )?;
    let mailbox = Mailbox {
        id,
        account_id,
        name: name.to_string(),
        uidvalidity: uidvalidity as u32,
        uidnext: 1,
        highest_modseq: 1,
        special_use,
        subscribed: true,
        messages: 0,
        unseen: 0,
        recent: 0,
        bytes: 0,
    };
    dbs.mailboxes
        .put(txn, &key, &records::encode_mailbox(&mailbox))?;
    dbs.mailbox_ids.put(
        txn,
        &keys::id(id),
        &records::encode_mailbox_index(account_id, name),
    )?;
    Ok(id)
}

/// Loads a mailbox by id, with the key to write it back under.
pub(super) fn mailbox_by_id(
    txn: &RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
) -> Result<(Vec<u8>, Mailbox), StoreError> {
    let index = dbs
        .mailbox_ids
        .get(txn, &keys::id(mailbox_id))?
        .ok_or_else(|| {
            StoreError::NotFound(format!("mailbox {mailbox_id} does not exist (deleted?)"))
        })?;
    let (account_id, name) = records::decode_mailbox_index(index)?;
    let key = keys::mailbox(account_id, &name);
    let value = dbs
        .mailboxes
        .get(txn, &key)?
        .ok_or_else(|| StoreError::Corrupt(format!("mailbox index {mailbox_id} points nowhere")))?;
    let mailbox = records::decode_mailbox(account_id, &name, value)?;
    Ok((key, mailbox))
}

pub(super) fn deliver(
    txn: &mut RwTxn,
    dbs: &Dbs,
    d: &Delivery,
    summary: &[u8],
    touched: &mut Vec<u64>,
) -> Result<Delivered, StoreError> {
    let size = u32::try_from(d.message.len())
        .map_err(|_| StoreError::Invalid("message larger than 4 GiB".into()))?;
    let mut targets: Vec<u64> = Vec::with_capacity(d.mailboxes.len());
    for id in &d.mailboxes {
        if !targets.contains(id) {
            targets.push(*id);
        }
    }
    let outbound = d.outbound.as_ref().filter(|o| !o.recipients.is_empty());
    if targets.is_empty() && outbound.is_none() {
        return Err(StoreError::Invalid(
            "a delivery needs at least one recipient".into(),
        ));
    }
    let blob_id = next_id(txn, dbs, keys::NEXT_BLOB)?;
    dbs.blobs.put(txn, &keys::id(blob_id), &d.message)?;
    dbs.summaries.put(txn, &keys::id(blob_id), summary)?;
    let refs = targets.len() as u32 + outbound.is_some() as u32;
    dbs.blob_refs
        .put(txn, &keys::id(blob_id), &refs.to_be_bytes())?;
    let queued = match outbound {
        Some(o) => {
            let entry_id = next_id(txn, dbs, keys::NEXT_QUEUE)?;
            let due = crate::time::now();
            let record = super::queue::encode(blob_id, o);
            dbs.queue
                .put(txn, &super::queue::key(due, entry_id), &record)?;
            Some(entry_id)
        }
        None => None,
    };
    let flags = d.flags.union(Flags::RECENT);
    let keywords = records::encode_keywords(d.keywords.iter().map(String::as_str));
    let mut placed = Vec::with_capacity(targets.len());
    for mailbox_id in targets {
        let (key, mut mailbox) = mailbox_by_id(txn, dbs, mailbox_id)?;
        if mailbox.uidnext == u32::MAX {
            return Err(StoreError::Invalid(format!(
                "mailbox {} has used every UID",
                mailbox.name
            )));
        }
        let uid = mailbox.uidnext;
        mailbox.uidnext += 1;
        mailbox.highest_modseq += 1;
        mailbox.messages += 1;
        mailbox.unseen += !flags.contains(Flags::SEEN) as u32;
        mailbox.recent += 1;
        mailbox.bytes += size as u64;
        let record = records::encode_message(
            blob_id,
            size,
            d.internal_date,
            mailbox.highest_modseq,
            flags,
            &keywords,
        );
        dbs.messages
            .put(txn, &keys::message(mailbox_id, uid), &record)?;
        dbs.mailboxes
            .put(txn, &key, &records::encode_mailbox(&mailbox))?;
        touched.push(mailbox_id);
        placed.push((mailbox_id, uid));
    }
    Ok(Delivered {
        blob_id,
        queued,
        placed,
    })
}

fn set_flags(
    txn: &mut RwTxn,
    dbs: &Dbs,
    c: &FlagChange,
    touched: &mut Vec<u64>,
) -> Result<FlagsResult, StoreError> {
    let (key, mut mailbox) = mailbox_by_id(txn, dbs, c.mailbox_id)?;
    let mut result = FlagsResult::default();
    // \Recent is not a client's to set or clear (RFC 3501 §6.4.6).
    let requested = c.flags.without(Flags::RECENT);
    for &uid in &c.uids {
        let mkey = keys::message(c.mailbox_id, uid);
        let Some(value) = dbs.messages.get(txn, &mkey)? else {
            continue;
        };
        let m = MessageView::decode(uid, value)?;
        // RFC 7162 §3.1.3: UNCHANGEDSINCE fails a message changed after it.
        if c.unchanged_since.is_some_and(|since| m.modseq > since) {
            result.modified.push(uid);
            continue;
        }
        let old = m.flags;
        let recent = old.0 & Flags::RECENT.0;
        let new = match c.op {
            FlagOp::Add => old.union(requested),
            FlagOp::Remove => old.without(requested),
            FlagOp::Replace => Flags(requested.0 | recent),
        };
        let mut words: Vec<&str> = m.keywords().collect();
        match c.op {
            FlagOp::Add => {
                for k in &c.keywords {
                    if !words.iter().any(|w| w.eq_ignore_ascii_case(k)) {
                        words.push(k);
                    }
                }
            }
            FlagOp::Remove => {
                words.retain(|w| !c.keywords.iter().any(|k| k.eq_ignore_ascii_case(w)))
            }
            FlagOp::Replace => words = c.keywords.iter().map(String::as_str).collect(),
        }
        let new_keywords = records::encode_keywords(words);
        if new == old && new_keywords == m.raw_keywords() {
            continue;
        }
        mailbox.highest_modseq += 1;
        let was_unseen = !old.contains(Flags::SEEN) as u32;
        let is_unseen = !new.contains(Flags::SEEN) as u32;
        mailbox.unseen = mailbox.unseen + is_unseen - was_unseen;
        let record = records::encode_message(
            m.blob_id,
            m.size,
            m.internal_date,
            mailbox.highest_modseq,
            new,
            &new_keywords,
        );
        dbs.messages.put(txn, &mkey, &record)?;
        result.changed.push((uid, new, mailbox.highest_modseq));
    }
    if !result.changed.is_empty() {
        dbs.mailboxes
            .put(txn, &key, &records::encode_mailbox(&mailbox))?;
        touched.push(c.mailbox_id);
    }
    Ok(result)
}

fn expunge(
    txn: &mut RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
    uids: &[u32],
    touched: &mut Vec<u64>,
) -> Result<Vec<u32>, StoreError> {
    let (key, mut mailbox) = mailbox_by_id(txn, dbs, mailbox_id)?;
    let removed = remove_messages(txn, dbs, &mut mailbox, uids)?;
    if !removed.is_empty() {
        dbs.mailboxes
            .put(txn, &key, &records::encode_mailbox(&mailbox))?;
        touched.push(mailbox_id);
    }
    Ok(removed)
}

/// Removes messages from a mailbox record being updated: their bodies are
/// released, the counters follow, and each UID is remembered as expunged
/// at the new HIGHESTMODSEQ (RFC 7162 §3.2.10, for QRESYNC's VANISHED).
pub(super) fn remove_messages(
    txn: &mut RwTxn,
    dbs: &Dbs,
    mailbox: &mut Mailbox,
    uids: &[u32],
) -> Result<Vec<u32>, StoreError> {
    let mut removed = Vec::new();
    let modseq = mailbox.highest_modseq + 1;
    for &uid in uids {
        let mkey = keys::message(mailbox.id, uid);
        let Some(value) = dbs.messages.get(txn, &mkey)? else {
            continue;
        };
        let m = MessageView::decode(uid, value)?;
        let (blob_id, size, flags) = (m.blob_id, m.size, m.flags);
        dbs.messages.delete(txn, &mkey)?;
        dbs.expunged.put(txn, &mkey, &modseq.to_be_bytes())?;
        release_blob(txn, dbs, blob_id)?;
        mailbox.messages = mailbox.messages.saturating_sub(1);
        mailbox.unseen = mailbox
            .unseen
            .saturating_sub(!flags.contains(Flags::SEEN) as u32);
        mailbox.recent = mailbox
            .recent
            .saturating_sub(flags.contains(Flags::RECENT) as u32);
        mailbox.bytes = mailbox.bytes.saturating_sub(size as u64);
        removed.push(uid);
    }
    if !removed.is_empty() {
        mailbox.highest_modseq = modseq;
    }
    Ok(removed)
}

pub(super) fn remove_all_messages(
    txn: &mut RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
) -> Result<(), StoreError> {
    let prefix = mailbox_id.to_be_bytes();
    let mut found = Vec::new();
    for entry in dbs.messages.prefix_iter(txn, &prefix)? {
        let (key, value) = entry?;
        found.push((key.to_vec(), Reader(value).u64()?));
    }
    for (key, blob_id) in found {
        dbs.messages.delete(txn, &key)?;
        release_blob(txn, dbs, blob_id)?;
    }
    // The mailbox id is never reused, so its expunge history can go too.
    let mut gone = Vec::new();
    for entry in dbs.expunged.prefix_iter(txn, &prefix)? {
        gone.push(entry?.0.to_vec());
    }
    for key in gone {
        dbs.expunged.delete(txn, &key)?;
    }
    Ok(())
}

/// Drops one reference to a message body; the last one frees it.
pub(super) fn release_blob(txn: &mut RwTxn, dbs: &Dbs, blob_id: u64) -> Result<(), StoreError> {
    let key = keys::id(blob_id);
    let refs = match dbs.blob_refs.get(txn, &key)? {
        Some(v) => Reader(v).u32()?,
        None => {
            return Err(StoreError::Corrupt(format!(
                "blob {blob_id} has no reference count"
            )));
        }
    };
    if refs <= 1 {
        dbs.blob_refs.delete(txn, &key)?;
        dbs.blobs.delete(txn, &key)?;
        dbs.summaries.delete(txn, &key)?;
    } else {
        dbs.blob_refs.put(txn, &key, &(refs - 1).to_be_bytes())?;
    }
    Ok(())
}
