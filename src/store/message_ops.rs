//! Message-level writes inside the writer's nested transaction (see `ops`):
//! delivery, appending a message record to a mailbox (the one place that
//! allocates a UID), flag changes, expunges, and the reference counts that
//! let one body serve every copy of a message.

use heed::RwTxn;

use super::ops::{mailbox_by_id, next_id};
use super::read::MessageView;
use super::records;
use super::schema::Dbs;
use super::writer::{Delivered, FlagChange, FlagOp, FlagsResult, Summarized};
use super::{Flags, Mailbox, StoreError, keys, keyword_limits};

/// What every copy of a message shares: the body and the fields the
/// message record repeats.
pub(super) struct NewMessage<'a> {
    pub blob_id: u64,
    pub size: u32,
    pub internal_date: i64,
    pub flags: Flags,
    /// As stored (`records::encode_keywords`).
    pub keywords: &'a [u8],
}

/// Appends a message record to a mailbox being updated: the next UID, a
/// new MODSEQ, the counters. The copy is \Recent (RFC 3501 §2.3.2). The
/// caller writes the mailbox record back and holds the body's reference.
pub(super) fn append_message(
    txn: &mut RwTxn,
    dbs: &Dbs,
    mailbox: &mut Mailbox,
    m: &NewMessage,
) -> Result<u32, StoreError> {
    if mailbox.uidnext == u32::MAX {
        return Err(StoreError::Invalid(format!(
            "mailbox {} has used every UID",
            mailbox.name
        )));
    }
    let flags = m.flags.union(Flags::RECENT);
    let uid = mailbox.uidnext;
    mailbox.uidnext += 1;
    mailbox.highest_modseq += 1;
    mailbox.messages += 1;
    mailbox.unseen += !flags.contains(Flags::SEEN) as u32;
    mailbox.recent += 1;
    mailbox.bytes += m.size as u64;
    let record = records::encode_message(
        m.blob_id,
        m.size,
        m.internal_date,
        mailbox.highest_modseq,
        flags,
        // RFC 8514 §3: saved in this mailbox now, whatever its internal
        // date (a COPY or MOVE keeps that, not this).
        Some(crate::time::now()),
        m.keywords,
    );
    dbs.messages
        .put(txn, &keys::message(mailbox.id, uid), &record)?;
    Ok(uid)
}

/// Stores a message once, with its summary, in every target mailbox and,
/// for remote recipients, in the outbound queue: one reference on the body
/// per mailbox copy and one for the queue entry.
pub(super) fn deliver(
    txn: &mut RwTxn,
    dbs: &Dbs,
    s: &Summarized,
    touched: &mut Vec<u64>,
) -> Result<Delivered, StoreError> {
    let d = &s.delivery;
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
    let mut wanted: Vec<&str> = d.keywords.iter().map(String::as_str).collect();
    keyword_limits::dedup(&mut wanted);
    keyword_limits::check_message(wanted.len())?;
    let lookup = keyword_limits::Lookup::new(wanted.iter().copied());
    for &id in &targets {
        keyword_limits::check_mailbox(txn, dbs, id, &lookup)?;
    }
    let keywords = records::encode_keywords(wanted)?;
    let blob_id = next_id(txn, dbs, keys::NEXT_BLOB)?;
    dbs.blobs.put(txn, &keys::id(blob_id), &d.message)?;
    dbs.summaries.put(txn, &keys::id(blob_id), &s.summary)?;
    if !s.sort_keys.is_empty() {
        dbs.sort_keys.put(txn, &keys::id(blob_id), &s.sort_keys)?;
    }
    let refs = targets.len() as u32 + outbound.is_some() as u32;
    dbs.blob_refs
        .put(txn, &keys::id(blob_id), &records::encode_refs(refs))?;
    let queued = match outbound {
        Some(o) => {
            let entry_id = next_id(txn, dbs, keys::NEXT_QUEUE)?;
            let due = crate::time::now();
            let record = super::queue::encode(blob_id, o)?;
            dbs.queue.put(txn, &keys::queue(due, entry_id), &record)?;
            Some(entry_id)
        }
        None => None,
    };
    let message = NewMessage {
        blob_id,
        size,
        internal_date: d.internal_date,
        flags: d.flags,
        keywords: &keywords,
    };
    let mut placed = Vec::with_capacity(targets.len());
    for mailbox_id in targets {
        let (key, mut mailbox) = mailbox_by_id(txn, dbs, mailbox_id)?;
        let uid = append_message(txn, dbs, &mut mailbox, &message)?;
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

pub(super) fn set_flags(
    txn: &mut RwTxn,
    dbs: &Dbs,
    c: &FlagChange,
    touched: &mut Vec<u64>,
) -> Result<FlagsResult, StoreError> {
    let (key, mut mailbox) = mailbox_by_id(txn, dbs, c.mailbox_id)?;
    let mut result = FlagsResult::default();
    // \Recent is not a client's to set or clear (RFC 3501 §6.4.6).
    let requested = c.flags.without(Flags::RECENT);
    // The keywords once, deduplicated by sorting: each message then costs
    // O(m log k) lookups, not the product of both lists.
    let mut wanted: Vec<&str> = c.keywords.iter().map(String::as_str).collect();
    keyword_limits::dedup(&mut wanted);
    let lookup = keyword_limits::Lookup::new(wanted.iter().copied());
    if c.op != FlagOp::Remove {
        keyword_limits::check_message(wanted.len())?;
        keyword_limits::check_mailbox(txn, dbs, c.mailbox_id, &lookup)?;
    }
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
                let (have, before) = (keyword_limits::Lookup::new(words.clone()), words.len());
                words.extend(wanted.iter().filter(|k| have.find(k).is_none()));
                // A message over the cap from before it existed may still
                // be given flags; only growing past it is refused.
                if words.len() > before {
                    keyword_limits::check_message(words.len())?;
                }
            }
            FlagOp::Remove => words.retain(|w| lookup.find(w).is_none()),
            FlagOp::Replace => words.clone_from(&wanted),
        }
        let new_keywords = records::encode_keywords(words)?;
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
            m.saved,
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

pub(super) fn expunge(
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
    let prefix = keys::messages_of(mailbox_id);
    let mut found = Vec::new();
    for entry in dbs.messages.prefix_iter(txn, &prefix)? {
        let (key, value) = entry?;
        found.push((key.to_vec(), MessageView::decode(0, value)?.blob_id));
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
    let refs = blob_refs(txn, dbs, blob_id)?;
    if refs <= 1 {
        dbs.blob_refs.delete(txn, &key)?;
        dbs.blobs.delete(txn, &key)?;
        dbs.summaries.delete(txn, &key)?;
        dbs.sort_keys.delete(txn, &key)?;
    } else {
        dbs.blob_refs
            .put(txn, &key, &records::encode_refs(refs - 1))?;
    }
    Ok(())
}

/// Takes one more reference to a message body (a copy of the message).
pub(super) fn retain_blob(txn: &mut RwTxn, dbs: &Dbs, blob_id: u64) -> Result<(), StoreError> {
    let refs = blob_refs(txn, dbs, blob_id)?;
    dbs.blob_refs
        .put(txn, &keys::id(blob_id), &records::encode_refs(refs + 1))?;
    Ok(())
}

fn blob_refs(txn: &RwTxn, dbs: &Dbs, blob_id: u64) -> Result<u32, StoreError> {
    match dbs.blob_refs.get(txn, &keys::id(blob_id))? {
        Some(v) => records::decode_refs(v),
        None => Err(StoreError::Corrupt(format!(
            "blob {blob_id} has no reference count"
        ))),
    }
}
