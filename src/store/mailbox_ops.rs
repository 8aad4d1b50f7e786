//! Mailbox-level writes for IMAP: DELETE, RENAME, SUBSCRIBE, COPY/MOVE and
//! \Recent hand-over, inside the writer's nested transaction (see `ops`).

use heed::RwTxn;

use super::message_ops::{
    NewMessage, append_message, remove_all_messages, remove_messages, retain_blob,
};
use super::ops::{create_mailbox, mailbox_by_id};
use super::read::MessageView;
use super::records;
use super::schema::Dbs;
use super::writer::{Copied, Outcome};
use super::{Flags, StoreError, keys};

pub fn delete(
    txn: &mut RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    let (key, _) = mailbox_by_id(txn, dbs, mailbox_id)?;
    remove_all_messages(txn, dbs, mailbox_id)?;
    dbs.mailboxes.delete(txn, &key)?;
    dbs.mailbox_ids.delete(txn, &keys::id(mailbox_id))?;
    touched.push(mailbox_id);
    Ok(Outcome::Done)
}

/// RFC 3501 §6.3.5: renames the mailbox and its inferiors; renaming INBOX
/// moves its messages into a new mailbox and leaves INBOX empty.
pub fn rename(
    txn: &mut RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
    new_name: &str,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    let (_, source) = mailbox_by_id(txn, dbs, mailbox_id)?;
    let account = source.account_id;
    if dbs
        .mailboxes
        .get(txn, &keys::mailbox(account, new_name))?
        .is_some()
    {
        return Err(StoreError::Exists(format!(
            "mailbox {new_name} exists already"
        )));
    }
    if source.name == "INBOX" {
        let target = create_mailbox(txn, dbs, account, new_name, super::SpecialUse::None)?;
        let mut uids = Vec::new();
        for entry in dbs
            .messages
            .prefix_iter(txn, &keys::messages_of(mailbox_id))?
        {
            uids.push(keys::message_uid(entry?.0).unwrap_or(0));
        }
        copy(txn, dbs, mailbox_id, &uids, target, true, touched)?;
        return Ok(Outcome::Created(target));
    }
    super::subscriptions::rename(txn, dbs, account, &source.name, new_name)?;
    // The mailbox and everything below it in the hierarchy move together.
    let prefix = format!("{}/", source.name);
    let mut moving = Vec::new();
    for entry in dbs
        .mailboxes
        .prefix_iter(txn, &keys::mailboxes_of(account))?
    {
        let (k, v) = entry?;
        let name = keys::mailbox_name(k).into_owned();
        if name == source.name || name.starts_with(&prefix) {
            moving.push((name, v.to_vec()));
        }
    }
    for (name, _) in &moving {
        let renamed = format!("{new_name}{}", &name[source.name.len()..]);
        if dbs
            .mailboxes
            .get(txn, &keys::mailbox(account, &renamed))?
            .is_some()
        {
            return Err(StoreError::Exists(format!(
                "mailbox {renamed} exists already"
            )));
        }
    }
    for (name, value) in moving {
        let renamed = format!("{new_name}{}", &name[source.name.len()..]);
        let record = records::decode_mailbox(account, &name, &value)?;
        dbs.mailboxes.delete(txn, &keys::mailbox(account, &name))?;
        dbs.mailboxes
            .put(txn, &keys::mailbox(account, &renamed), &value)?;
        dbs.mailbox_ids.put(
            txn,
            &keys::id(record.id),
            &records::encode_mailbox_index(account, &renamed),
        )?;
        touched.push(record.id);
    }
    Ok(Outcome::Done)
}

/// COPY: new messages in `to` sharing the bodies, with the flags and
/// keywords of the originals plus \Recent (RFC 3501 §6.4.7); MOVE also
/// removes the originals in the same commit (RFC 6851 §3.3). A MOVE
/// into the mailbox the messages are in is allowed (RFC 6851 §3.3 does
/// not forbid it; Dovecot gives new UIDs): the source record is read
/// again after the copies were added, so both steps count on one record.
pub fn copy(
    txn: &mut RwTxn,
    dbs: &Dbs,
    from: u64,
    uids: &[u32],
    to: u64,
    remove: bool,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    mailbox_by_id(txn, dbs, from)?;
    let (to_key, mut target) = mailbox_by_id(txn, dbs, to)?;
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut copied = Copied {
        uidvalidity: target.uidvalidity,
        ..Default::default()
    };
    for uid in sorted {
        let Some(value) = dbs.messages.get(txn, &keys::message(from, uid))? else {
            continue;
        };
        let m = MessageView::decode(uid, value)?;
        let (blob_id, keywords) = (m.blob_id, m.raw_keywords().to_vec());
        let copy = NewMessage {
            blob_id,
            size: m.size,
            internal_date: m.internal_date,
            flags: m.flags,
            keywords: &keywords,
        };
        let new_uid = append_message(txn, dbs, &mut target, &copy)?;
        retain_blob(txn, dbs, blob_id)?;
        copied.uids.push((uid, new_uid));
    }
    dbs.mailboxes
        .put(txn, &to_key, &records::encode_mailbox(&target))?;
    touched.push(to);
    if remove {
        let (from_key, mut source) = mailbox_by_id(txn, dbs, from)?;
        let originals: Vec<u32> = copied.uids.iter().map(|(u, _)| *u).collect();
        copied.removed = remove_messages(txn, dbs, &mut source, &originals)?;
        dbs.mailboxes
            .put(txn, &from_key, &records::encode_mailbox(&source))?;
        touched.push(from);
    }
    Ok(Outcome::Copied(copied))
}

/// Clears \Recent on every message of a mailbox that has it and returns
/// their UIDs: the selecting session now holds them (RFC 3501 §2.3.2).
/// \Recent is session state, not a stored flag change: no MODSEQ moves.
pub fn claim_recent(txn: &mut RwTxn, dbs: &Dbs, mailbox_id: u64) -> Result<Outcome, StoreError> {
    let (key, mut mailbox) = mailbox_by_id(txn, dbs, mailbox_id)?;
    if mailbox.recent == 0 {
        return Ok(Outcome::Claimed(Vec::new()));
    }
    let mut claimed = Vec::new();
    for entry in dbs
        .messages
        .prefix_iter(txn, &keys::messages_of(mailbox_id))?
    {
        let (k, v) = entry?;
        let uid = keys::message_uid(k).unwrap_or(0);
        let m = MessageView::decode(uid, v)?;
        if m.flags.contains(Flags::RECENT) {
            let record = records::encode_message(
                m.blob_id,
                m.size,
                m.internal_date,
                m.modseq,
                m.flags.without(Flags::RECENT),
                m.saved,
                m.raw_keywords(),
            );
            claimed.push((uid, record));
        }
    }
    for (uid, record) in &claimed {
        dbs.messages
            .put(txn, &keys::message(mailbox_id, *uid), record)?;
    }
    mailbox.recent = 0;
    dbs.mailboxes
        .put(txn, &key, &records::encode_mailbox(&mailbox))?;
    Ok(Outcome::Claimed(
        claimed.into_iter().map(|(u, _)| u).collect(),
    ))
}
