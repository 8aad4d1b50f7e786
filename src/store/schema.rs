//! The databases of the environment, the schema version and its upgrades.
//!
//! A store written by a newer smolmail is refused rather than misread; an
//! older one is upgraded step by step at start, before anything else runs:
//! steps 2 and 3 in one write transaction, step 4 (which reads every
//! message) in batches of bounded size, each its own transaction, so a
//! store of 10⁵ messages does not grow one transaction (and its dirty
//! pages) to the size of the mailbox. Step 4 is idempotent, so a run cut
//! short resumes where it stopped. The versions:
//! 1. the first schema;
//! 2. queue records hold text with a u32 length, like every other record
//!    (format 3); formats 1 and 2 cut text at 64 KiB behind a u16 length.
//! 3. subscriptions are names in `subscriptions`, no longer a flag of the
//!    mailbox record (whose byte stays, unused), so that they outlive the
//!    mailbox (`subscriptions.rs`).
//! 4. message summaries of format 2 (`mime::Summary`): ENVELOPE and
//!    BODYSTRUCTURE as Dovecot answers them (line counts, charset default,
//!    delimiters, addresses); format-1 records are recomputed from the
//!    message, once, at the upgrade, and the `sort_keys` record of every
//!    message that lacks one is filled, so SORT and THREAD read no body.
//! 5. a message record may carry its save date (RFC 8514), marked by the
//!    top bit of its flag byte (`records::encode_message`). Nothing is
//!    rewritten: a record without one reads as saved at its internal
//!    date. The version still moves, because an older build would take
//!    the marked byte and the date for flags and keywords.

use heed::types::Bytes;
use heed::{Database, Env, RwTxn, WithoutTls};

use super::queue::{self, Outbound, OutboundRecipient, RecipientState};
use super::records::Reader;
use super::{StoreError, keys};
use crate::dsn;

/// The schema this build writes.
pub const VERSION: u32 = 5;
/// The last version whose upgrade runs in the one opening transaction.
const SINGLE_TXN: u32 = 3;
/// Messages recomputed per transaction in step 4.
const BATCH: usize = 256;
/// Message bytes read per transaction in step 4 (a batch ends at either).
const BATCH_BYTES: usize = 16 << 20;
/// Records looked at per transaction in step 4 when most need nothing.
const BATCH_SCAN: usize = 8192;
/// Room for the databases below and a few more.
pub const MAX_DBS: u32 = 24;

pub(super) type Db = Database<Bytes, Bytes>;

/// Handles on every database; plain copies of LMDB's integer handles.
#[derive(Clone, Copy)]
pub struct Dbs {
    /// name → value: schema version, id counters.
    pub meta: Db,
    /// lower-case domain → settings (empty for now).
    pub domains: Db,
    /// lower-case address → account record.
    pub accounts: Db,
    /// address or `@domain` → target addresses.
    pub aliases: Db,
    /// account id ‖ name → mailbox record.
    pub mailboxes: Db,
    /// mailbox id → account id ‖ name (find a mailbox by id).
    pub mailbox_ids: Db,
    /// mailbox id ‖ UID → message record.
    pub messages: Db,
    /// blob id → the message bytes as received.
    pub blobs: Db,
    /// blob id → number of messages pointing at it.
    pub blob_refs: Db,
    /// blob id → ENVELOPE/BODYSTRUCTURE summary (`mime::Summary`).
    pub summaries: Db,
    /// mailbox id ‖ UID → MODSEQ of the expunge (QRESYNC VANISHED).
    pub expunged: Db,
    /// due time ‖ entry id → outbound envelope and recipient states.
    pub queue: Db,
    /// fetch id → outside IMAP account (`fetch_ops.rs`).
    pub fetch_accounts: Db,
    /// fetch id → last run; fetch id ‖ folder index → UIDVALIDITY, last UID.
    pub fetch_state: Db,
    /// fetch id ‖ folder index ‖ identity hash ‖ size → (): messages taken.
    pub fetch_seen: Db,
    /// account id ‖ name → (): subscribed names (`subscriptions.rs`).
    pub subscriptions: Db,
    /// account id ‖ identity hash → mailbox id ‖ UID: messages imported
    /// (`import_ops.rs`), so a re-run of an import skips them.
    pub import_seen: Db,
    /// blob id → SORT/THREAD keys (`mime::SortKeys`). Step 4 of the
    /// upgrade fills it for messages stored before it existed; a record
    /// still missing or damaged is computed from the header when read
    /// (`Reader::sort_keys`).
    pub sort_keys: Db,
}

pub fn open(env: &Env<WithoutTls>) -> Result<Dbs, StoreError> {
    let mut txn = env.write_txn()?;
    let mut db =
        |name: &str| -> Result<Db, StoreError> { Ok(env.create_database(&mut txn, Some(name))?) };
    let dbs = Dbs {
        meta: db("meta")?,
        domains: db("domains")?,
        accounts: db("accounts")?,
        aliases: db("aliases")?,
        mailboxes: db("mailboxes")?,
        mailbox_ids: db("mailbox_ids")?,
        messages: db("messages")?,
        blobs: db("blobs")?,
        blob_refs: db("blob_refs")?,
        summaries: db("summaries")?,
        queue: db("queue")?,
        expunged: db("expunged")?,
        // Added after schema 1 was released without a version change: a
        // missing database is created empty here, which is all an older
        // store needs.
        fetch_accounts: db("fetch_accounts")?,
        fetch_state: db("fetch_state")?,
        fetch_seen: db("fetch_seen")?,
        subscriptions: db("subscriptions")?,
        import_seen: db("import_seen")?,
        sort_keys: db("sort_keys")?,
    };
    let found = match dbs.meta.get(&txn, keys::SCHEMA_VERSION.as_bytes())? {
        None => None,
        Some(v) => {
            Some(u32::from_be_bytes(v.try_into().map_err(|_| {
                StoreError::Corrupt("schema version record".into())
            })?))
        }
    };
    match found {
        None => {
            dbs.meta.put(
                &mut txn,
                keys::SCHEMA_VERSION.as_bytes(),
                &VERSION.to_be_bytes(),
            )?;
        }
        Some(v) if v == VERSION => {}
        Some(v) if v > VERSION => {
            return Err(StoreError::Invalid(format!(
                "the store was written by a newer smolmail (schema {v}; this build knows {VERSION}); upgrade smolmail"
            )));
        }
        Some(v) => {
            upgrade(&mut txn, &dbs, v)?;
            let reached = v.max(SINGLE_TXN.min(VERSION));
            dbs.meta.put(
                &mut txn,
                keys::SCHEMA_VERSION.as_bytes(),
                &reached.to_be_bytes(),
            )?;
        }
    }
    txn.commit()?;
    if let Some(v) = found
        && v < VERSION
    {
        // Stores a previous build brought to 4 lack the sort keys of what
        // it recomputed: the walk fills only what is missing.
        if v < 5 {
            recompute_summaries(env, &dbs)?;
        }
        let mut txn = env.write_txn()?;
        dbs.meta.put(
            &mut txn,
            keys::SCHEMA_VERSION.as_bytes(),
            &VERSION.to_be_bytes(),
        )?;
        txn.commit()?;
        log::info!("store: upgraded schema {v} to {VERSION}");
    }
    Ok(dbs)
}

/// Brings a store of schema `from` up to [`SINGLE_TXN`], oldest step
/// first, in the opening transaction. Each such schema change adds
/// `if from < N { step_to_n(txn, dbs)?; }` here; step 4 follows in
/// batches ([`recompute_summaries`]).
fn upgrade(txn: &mut RwTxn, dbs: &Dbs, from: u32) -> Result<(), StoreError> {
    if from < 2 {
        queue_text_u32(txn, dbs)?;
    }
    if from < 3 {
        super::subscriptions::upgrade(txn, dbs)?;
    }
    // 5: nothing to rewrite (see the module comment).
    Ok(())
}

/// One batch of step 4: the messages to recompute, the last key looked
/// at, and whether the walk is over.
type StaleBatch = (Vec<Stale>, Option<Vec<u8>>, bool);

/// What one message needs in step 4.
struct Stale {
    key: Vec<u8>,
    summary: bool,
    sort_keys: bool,
}

/// Schema 4: every summary this build cannot decode (format 1, written by
/// the previous parser) is computed again from its message, and every
/// message without a readable `sort_keys` record gets one. In batches of
/// at most [`BATCH`] messages or [`BATCH_BYTES`] read, each committed on
/// its own; returns the number of transactions.
fn recompute_summaries(env: &Env<WithoutTls>, dbs: &Dbs) -> Result<usize, StoreError> {
    let (mut after, mut done, mut batches) = (None::<Vec<u8>>, 0usize, 0usize);
    loop {
        let mut txn = env.write_txn()?;
        let (stale, last, finished) = stale_batch(&txn, dbs, after.as_deref())?;
        for s in &stale {
            let Some(raw) = dbs.blobs.get(&txn, &s.key)? else {
                continue;
            };
            let (summary, sort_keys) = (
                s.summary.then(|| crate::mime::Summary::compute(raw)),
                s.sort_keys.then(|| crate::mime::SortKeys::compute(raw)),
            );
            let mut encoded = Vec::new();
            if let Some(summary) = summary {
                summary.encode(&mut encoded);
                dbs.summaries.put(&mut txn, &s.key, &encoded)?;
            }
            if let Some(keys) = sort_keys {
                encoded.clear();
                keys.encode(&mut encoded);
                dbs.sort_keys.put(&mut txn, &s.key, &encoded)?;
            }
        }
        txn.commit()?;
        batches += 1;
        done += stale.len();
        after = last;
        if finished {
            break;
        }
    }
    log::info!(
        "store: recomputed {done} message summaries and sort keys for summary format 2, in {batches} transactions"
    );
    Ok(batches)
}

/// The next messages after `after` (a `summaries` key) that step 4 must
/// recompute, up to the batch bounds; the last key looked at, and whether
/// the walk is over.
fn stale_batch(txn: &RwTxn, dbs: &Dbs, after: Option<&[u8]>) -> Result<StaleBatch, StoreError> {
    use std::ops::Bound;
    let start = match after {
        Some(k) => Bound::Excluded(k),
        None => Bound::Unbounded,
    };
    let range: (Bound<&[u8]>, Bound<&[u8]>) = (start, Bound::Unbounded);
    let (mut stale, mut last, mut bytes) = (Vec::new(), None, 0usize);
    for (scanned, item) in dbs.summaries.range(txn, &range)?.enumerate() {
        if scanned >= BATCH_SCAN || stale.len() >= BATCH || bytes >= BATCH_BYTES {
            return Ok((stale, last, false));
        }
        let (key, value) = item?;
        last = Some(key.to_vec());
        let summary = crate::mime::Summary::decode(value).is_none();
        let sort_keys = dbs
            .sort_keys
            .get(txn, key)?
            .and_then(crate::mime::SortKeys::decode)
            .is_none();
        if summary || sort_keys {
            bytes += dbs.blobs.get(txn, key)?.map_or(0, <[u8]>::len);
            stale.push(Stale {
                key: key.to_vec(),
                summary,
                sort_keys,
            });
        }
    }
    Ok((stale, last, true))
}

/// Schema 2: rewrites every queue record of format 1 or 2 as the current
/// format, whose text fields are the common u32-length ones.
fn queue_text_u32(txn: &mut RwTxn, dbs: &Dbs) -> Result<(), StoreError> {
    let mut rewritten = Vec::new();
    for item in dbs.queue.iter(txn)? {
        let (key, value) = item?;
        if value.first() == Some(&queue::FORMAT) {
            continue;
        }
        let (blob_id, outbound) = legacy_queue_record(value)?;
        rewritten.push((key.to_vec(), queue::encode(blob_id, &outbound)?));
    }
    for (key, value) in rewritten {
        dbs.queue.put(txn, &key, &value)?;
    }
    Ok(())
}

/// Reads a queue record of format 1 or 2 (schema 1), frozen here as it was
/// written: the fields of format 3, but text behind a u16 length (read as
/// lossy UTF-8, as it was then), and format 1 without Remote-MTA and the
/// delay-notice flag.
fn legacy_queue_record(value: &[u8]) -> Result<(u64, Outbound), StoreError> {
    fn text(r: &mut Reader) -> Result<String, StoreError> {
        let len = u16::from_be_bytes([r.u8()?, r.u8()?]) as usize;
        let rest = r.rest();
        let (text, rest) = rest
            .split_at_checked(len)
            .ok_or_else(|| StoreError::Corrupt("queue record string".into()))?;
        r.0 = rest;
        Ok(String::from_utf8_lossy(text).into_owned())
    }
    fn opt_text(r: &mut Reader) -> Result<Option<String>, StoreError> {
        match r.u8()? {
            0 => Ok(None),
            _ => text(r).map(Some),
        }
    }
    let mut r = Reader(value);
    let format = r.u8()?;
    if format != 1 && format != 2 {
        return Err(StoreError::Corrupt("unknown queue record format".into()));
    }
    let blob_id = r.u64()?;
    let mut o = Outbound {
        arrival: r.i64()?,
        attempts: r.u32()?,
        ret: dsn::Ret::from_u8(r.u8()?),
        queue_id: text(&mut r)?,
        sender: text(&mut r)?,
        envid: opt_text(&mut r)?,
        recipients: Vec::new(),
    };
    for _ in 0..r.u32()? {
        let mut rcpt = OutboundRecipient {
            address: text(&mut r)?,
            notify: r.u8()?,
            state: RecipientState::from_u8(r.u8()?),
            orcpt: opt_text(&mut r)?,
            last_error: text(&mut r)?,
            ..Default::default()
        };
        if format == 2 {
            rcpt.remote_mta = text(&mut r)?;
            rcpt.delay_notified = r.u8()? != 0;
        }
        o.recipients.push(rcpt);
    }
    Ok((blob_id, o))
}

/// Test support: writes a store at schema `version` in `dir` (fresh),
/// with `fill` putting the old records in, and closes it, so that a test
/// can open it with [`super::Store::open`] and check the upgrade.
#[cfg(test)]
pub fn old_store(dir: &std::path::Path, version: u32, fill: impl FnOnce(&mut heed::RwTxn, &Dbs)) {
    let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(64 << 20).max_dbs(MAX_DBS);
    // SAFETY: a fresh directory, opened once, closed below.
    let env = unsafe { options.open(dir) }.unwrap();
    let dbs = open(&env).unwrap();
    let mut txn = env.write_txn().unwrap();
    let key = keys::SCHEMA_VERSION.as_bytes();
    dbs.meta.put(&mut txn, key, &version.to_be_bytes()).unwrap();
    fill(&mut txn, &dbs);
    txn.commit().unwrap();
    env.prepare_for_closing().wait();
}

#[cfg(test)]
mod tests {
    use super::super::{Options, Store};
    use super::*;

    /// A queue record as schema 1 wrote it (format 1 or 2).
    fn old_record(format: u8) -> Vec<u8> {
        fn text(v: &mut Vec<u8>, s: &str) {
            v.extend_from_slice(&(s.len() as u16).to_be_bytes());
            v.extend_from_slice(s.as_bytes());
        }
        let mut v = vec![format];
        v.extend_from_slice(&42u64.to_be_bytes()); // blob id
        v.extend_from_slice(&1_700_000_000i64.to_be_bytes()); // arrival
        v.extend_from_slice(&3u32.to_be_bytes()); // attempts
        v.push(2); // RET=HDRS
        text(&mut v, "4F2A1B0000001");
        text(&mut v, "a@home.arpa");
        v.push(1);
        text(&mut v, "QQ314159"); // ENVID
        v.extend_from_slice(&1u32.to_be_bytes());
        text(&mut v, "x@example.org");
        v.push(dsn::notify::FAILURE);
        v.push(0); // pending
        v.push(1);
        text(&mut v, "rfc822;X@example.org");
        text(&mut v, "451 4.3.0 try later");
        if format == 2 {
            text(&mut v, "mx.example.org");
            v.push(1);
        }
        v
    }

    fn expected(format: u8) -> Outbound {
        Outbound {
            queue_id: "4F2A1B0000001".into(),
            sender: "a@home.arpa".into(),
            recipients: vec![OutboundRecipient {
                address: "x@example.org".into(),
                notify: dsn::notify::FAILURE,
                orcpt: Some("rfc822;X@example.org".into()),
                state: RecipientState::Pending,
                last_error: "451 4.3.0 try later".into(),
                remote_mta: if format == 2 { "mx.example.org" } else { "" }.into(),
                delay_notified: format == 2,
            }],
            ret: dsn::Ret::Headers,
            envid: Some("QQ314159".into()),
            arrival: 1_700_000_000,
            attempts: 3,
        }
    }

    /// A schema-1 store with queue records of both old formats opens
    /// upgraded: the records read back whole and the version is current.
    #[test]
    fn schema_one_queue_records_are_upgraded() {
        let dir = std::env::temp_dir().join(format!("smolmail-schema-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        old_store(&dir, 1, |txn, dbs| {
            for (due, format) in [(100, 1), (200, 2)] {
                let key = keys::queue(due, format.into());
                dbs.queue.put(txn, &key, &old_record(format)).unwrap();
            }
        });
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        let queue = store.read().unwrap().queue().unwrap();
        assert_eq!(queue.len(), 2);
        for (entry, format) in queue.iter().zip([1, 2]) {
            assert_eq!(entry.blob_id, 42);
            assert_eq!(entry.outbound, expected(format));
        }
        let txn = store.shared.env.read_txn().unwrap();
        let version = store.shared.dbs.meta.get(&txn, b"schema_version").unwrap();
        assert_eq!(version, Some(&VERSION.to_be_bytes()[..]));
        drop(txn);
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A schema-2 store whose summaries are format 1 (the previous
    /// parser's) opens with them recomputed from the messages.
    #[test]
    fn schema_two_summaries_are_recomputed() {
        let dir = std::env::temp_dir().join(format!("smolmail-schema3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let raw = b"Subject: old\r\nContent-Type: text/plain\r\n\r\none line\r\n";
        let key = keys::id(7);
        old_store(&dir, 2, |txn, dbs| {
            dbs.blobs.put(txn, &key, raw).unwrap();
            // A format-1 record: version byte 1, then anything.
            dbs.summaries.put(txn, &key, &[1, 0, 0]).unwrap();
        });
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        let summary = store.read().unwrap().summary(7).unwrap().unwrap();
        assert_eq!(summary, crate::mime::Summary::compute(raw));
        assert_eq!(summary.envelope.subject.as_deref(), Some(&b"old"[..]));
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A schema-3 store of 1000 messages with format-1 summaries and no
    /// `sort_keys` records: the upgrade runs in several bounded
    /// transactions, recomputes every summary, and fills `sort_keys`, so
    /// a SORT by subject reads the stored keys (no body) in the right
    /// order.
    #[test]
    fn schema_three_upgrade_is_batched_and_fills_sort_keys() {
        let dir = std::env::temp_dir().join(format!("smolmail-schema4-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let n = 1000u64;
        // Subjects in the reverse of id order.
        let raw = |i: u64| format!("Subject: Re: s{:04}\r\n\r\nbody {i}\r\n", n - i);
        old_store(&dir, 3, |txn, dbs| {
            for i in 0..n {
                let key = keys::id(i + 1);
                dbs.blobs.put(txn, &key, raw(i).as_bytes()).unwrap();
                dbs.summaries.put(txn, &key, &[1, 0, 0]).unwrap();
            }
        });
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        let reader = store.read().unwrap();
        let mut stored: Vec<(Vec<u8>, u64)> = (1..=n)
            .map(|id| {
                let txn = &reader.txn;
                let bytes = reader
                    .dbs
                    .sort_keys
                    .get(txn, &keys::id(id))
                    .unwrap()
                    .unwrap();
                let k = crate::mime::SortKeys::decode(bytes).unwrap();
                (k.subject.as_bytes().to_vec(), id)
            })
            .collect();
        stored.sort();
        let order: Vec<u64> = stored.iter().map(|s| s.1).collect();
        assert_eq!(order, (1..=n).rev().collect::<Vec<_>>());
        assert_eq!(stored[0].0, b"S0001");
        let summary = reader.summary(5).unwrap().unwrap();
        assert_eq!(summary, crate::mime::Summary::compute(raw(4).as_bytes()));
        let version = reader.dbs.meta.get(&reader.txn, b"schema_version").unwrap();
        assert_eq!(version, Some(&VERSION.to_be_bytes()[..]));
        assert_eq!(reader.dbs.sort_keys.len(&reader.txn).unwrap(), n);
        drop(reader);
        store.shutdown();
        let _ = std::fs::remove_dir_all(&dir);

        // The same records, step 4 run by hand: one transaction per
        // BATCH messages, then none left to do.
        let dir = dir.with_extension("by-hand");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        old_store(&dir, VERSION, |txn, dbs| {
            for i in 0..n {
                let key = keys::id(i + 1);
                dbs.blobs.put(txn, &key, raw(i).as_bytes()).unwrap();
                dbs.summaries.put(txn, &key, &[1, 0, 0]).unwrap();
            }
        });
        let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(64 << 20).max_dbs(MAX_DBS);
        // SAFETY: a fresh store, opened once here and closed below.
        let env = unsafe { options.open(&dir) }.unwrap();
        let dbs = open(&env).unwrap();
        let batches = recompute_summaries(&env, &dbs).unwrap();
        assert!(batches > n as usize / BATCH, "{batches} transactions");
        assert_eq!(recompute_summaries(&env, &dbs).unwrap(), 1);
        env.prepare_for_closing().wait();
        let _ = std::fs::remove_dir_all(dir);
    }

    /// RFC 8514 §3 on a schema-4 store: its message records, which have
    /// no save date, open untouched and read as saved at their internal
    /// date; the flag byte is the flags alone.
    #[test]
    fn schema_four_messages_read_as_saved_at_their_internal_date() {
        let dir = std::env::temp_dir().join(format!("smolmail-savedate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // blob 7, 3 bytes, internal date, MODSEQ 2, \Seen, keyword "k".
        let mut old = Vec::new();
        old.extend_from_slice(&7u64.to_be_bytes());
        old.extend_from_slice(&3u32.to_be_bytes());
        old.extend_from_slice(&1_600_000_000i64.to_be_bytes());
        old.extend_from_slice(&2u64.to_be_bytes());
        old.extend_from_slice(&[1, 1, b'k']);
        old_store(&dir, 4, |txn, dbs| {
            dbs.messages.put(txn, &keys::message(5, 9), &old).unwrap();
        });
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        let reader = store.read().unwrap();
        let m = reader.message(5, 9).unwrap().unwrap();
        assert_eq!((m.blob_id, m.size, m.modseq), (7, 3, 2));
        assert_eq!(m.flags, crate::store::Flags::SEEN);
        assert_eq!(m.saved, None);
        assert_eq!(m.save_date(), 1_600_000_000);
        assert_eq!(m.keywords().collect::<Vec<_>>(), ["k"]);
        drop(reader);
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_damaged_old_record_fails_the_upgrade() {
        let record = old_record(2);
        assert!(legacy_queue_record(&record).is_ok());
        assert!(legacy_queue_record(&record[..record.len() - 2]).is_err());
        assert!(legacy_queue_record(&[9]).is_err());
    }
}
