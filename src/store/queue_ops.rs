//! Writes to the outbound queue for the delivery runner and the
//! `smolmail queue` commands: the result of an attempt (new recipient
//! states and due time, or removal), flush and delete. (The due-order scan
//! is a read: `Reader::queue_due`.)
//!
//! An entry holds one reference on its message body (see `queue.rs`);
//! removing the entry drops that reference with the same refcount logic as
//! an expunge, so the body goes when its last user does. Notices (bounces,
//! delay notices) are stored in the same commit as the attempt's result, so
//! a crash can neither lose a bounce nor send it twice.

use heed::RwTxn;

use super::message_ops::{deliver, release_blob};
use super::queue::{self, Outbound};
use super::schema::Dbs;
use super::writer::{Outcome, Summarized, WriteOp};
use super::{Store, StoreError, keys};

/// A queue change, applied by the writer thread.
#[derive(Debug)]
pub enum QueueOp {
    Update(QueueUpdate),
    /// Makes every entry due now (`smolmail queue flush`).
    Flush,
    /// Removes the entries with this queue id, or every entry (`None`).
    Delete(Option<String>),
}

/// The result of one delivery attempt of one entry.
#[derive(Debug)]
pub struct QueueUpdate {
    pub entry_id: u64,
    /// The due time the entry had when the attempt took it; the entry is
    /// looked up by id if a flush moved it meanwhile.
    pub due: i64,
    /// The entry's new due time and state, or `None`: every recipient is
    /// done, remove the entry and release its body.
    pub next: Option<(i64, Outbound)>,
    /// Bounces and delay notices to store in the same commit, summarized
    /// by the caller like every delivery.
    pub notices: Vec<Summarized>,
}

pub(super) fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    op: &QueueOp,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    match op {
        QueueOp::Update(update) => self::update(txn, dbs, update, touched),
        QueueOp::Flush => flush(txn, dbs),
        QueueOp::Delete(which) => delete(txn, dbs, which.as_deref()),
    }
}

/// Finds an entry's key: at `due` normally, by a scan when it moved.
fn locate(
    txn: &RwTxn,
    dbs: &Dbs,
    entry_id: u64,
    due: i64,
) -> Result<Option<([u8; 16], u64)>, StoreError> {
    let key = keys::queue(due, entry_id);
    if let Some(value) = dbs.queue.get(txn, &key)? {
        return Ok(Some((key, queue::decode(&key, value)?.blob_id)));
    }
    for item in dbs.queue.iter(txn)? {
        let (k, v) = item?;
        if keys::queue_parts(k).is_some_and(|(_, id)| id == entry_id) {
            let entry = queue::decode(k, v)?;
            return Ok(Some((keys::queue(entry.due, entry_id), entry.blob_id)));
        }
    }
    Ok(None)
}

fn update(
    txn: &mut RwTxn,
    dbs: &Dbs,
    u: &QueueUpdate,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    // Gone: an operator deleted it (`queue delete`) during the attempt.
    // Its notices go with it: the operator chose to drop the message.
    let Some((key, blob_id)) = locate(txn, dbs, u.entry_id, u.due)? else {
        return Ok(Outcome::Done);
    };
    dbs.queue.delete(txn, &key)?;
    match &u.next {
        Some((due, outbound)) => {
            let value = queue::encode(blob_id, outbound)?;
            dbs.queue.put(txn, &keys::queue(*due, u.entry_id), &value)?;
        }
        None => release_blob(txn, dbs, blob_id)?,
    }
    for notice in &u.notices {
        deliver(txn, dbs, notice, touched)?;
    }
    Ok(Outcome::Done)
}

fn flush(txn: &mut RwTxn, dbs: &Dbs) -> Result<Outcome, StoreError> {
    let now = crate::time::now();
    let mut later = Vec::new();
    for item in dbs.queue.iter(txn)? {
        let (k, v) = item?;
        let entry = queue::decode(k, v)?;
        if entry.due > now {
            later.push((k.to_vec(), entry.entry_id, v.to_vec()));
        }
    }
    for (key, entry_id, value) in &later {
        dbs.queue.delete(txn, key)?;
        dbs.queue.put(txn, &keys::queue(now, *entry_id), value)?;
    }
    Ok(Outcome::Count(later.len() as u64))
}

fn delete(txn: &mut RwTxn, dbs: &Dbs, queue_id: Option<&str>) -> Result<Outcome, StoreError> {
    let mut doomed = Vec::new();
    for item in dbs.queue.iter(txn)? {
        let (k, v) = item?;
        let entry = queue::decode(k, v)?;
        if queue_id.is_none_or(|id| entry.outbound.queue_id.eq_ignore_ascii_case(id)) {
            doomed.push((k.to_vec(), entry.blob_id));
        }
    }
    if let (Some(id), true) = (queue_id, doomed.is_empty()) {
        return Err(StoreError::NotFound(format!("no queue entry {id}")));
    }
    for (key, blob_id) in &doomed {
        dbs.queue.delete(txn, key)?;
        release_blob(txn, dbs, *blob_id)?;
    }
    Ok(Outcome::Count(doomed.len() as u64))
}

impl Store {
    /// Stores the result of a delivery attempt (and its notices).
    pub async fn queue_update(&self, update: QueueUpdate) -> Result<(), StoreError> {
        self.write(WriteOp::Queue(QueueOp::Update(update)))
            .await
            .map(drop)
    }

    /// Makes every entry due now; returns how many were waiting.
    pub async fn queue_flush(&self) -> Result<u64, StoreError> {
        count(self.write(WriteOp::Queue(QueueOp::Flush)).await?)
    }

    /// Deletes the entry with `queue_id` (every entry for `None`) and
    /// releases the bodies; returns how many went.
    pub async fn queue_delete(&self, queue_id: Option<&str>) -> Result<u64, StoreError> {
        let op = QueueOp::Delete(queue_id.map(str::to_string));
        count(self.write(WriteOp::Queue(op)).await?)
    }
}

fn count(outcome: Outcome) -> Result<u64, StoreError> {
    match outcome {
        Outcome::Count(n) => Ok(n),
        other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
    }
}
