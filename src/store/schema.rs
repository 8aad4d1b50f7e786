//! The databases of the environment, the schema version and its upgrades.
//!
//! Version 1 is the first schema. A store written by a newer smolmail is
//! refused rather than misread; an older one is upgraded step by step at
//! start, in one write transaction, before anything else runs.

use heed::types::Bytes;
use heed::{Database, Env, RwTxn, WithoutTls};

use super::{StoreError, keys};

/// The schema this build writes.
pub const VERSION: u32 = 1;
pub const MAX_DBS: u32 = 16;

type Db = Database<Bytes, Bytes>;

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
            dbs.meta.put(
                &mut txn,
                keys::SCHEMA_VERSION.as_bytes(),
                &VERSION.to_be_bytes(),
            )?;
            log::info!("store: upgraded schema {v} to {VERSION}");
        }
    }
    txn.commit()?;
    Ok(dbs)
}

/// Brings a store of schema `from` up to [`VERSION`], oldest step first.
/// Schema 1 is the first, so no step exists yet; each schema change adds
/// `if from < N { step_to_n(txn, dbs)?; }` here and returns `Ok(())`.
fn upgrade(_txn: &mut RwTxn, _dbs: &Dbs, from: u32) -> Result<(), StoreError> {
    Err(StoreError::Corrupt(format!(
        "no upgrade path from schema {from}"
    )))
}
