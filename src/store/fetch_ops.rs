//! Fetch accounts (outside IMAP accounts pulled by `crate::fetch`) and
//! their progress: the records, the writes the writer thread applies, and
//! the reads the fetcher and `smolmail fetch list` make.
//!
//! Three databases (see `schema.rs`):
//! - `fetch_accounts`: fetch id → settings, the remote password among them
//!   (the store's files are owner-only: LMDB creates them 0600);
//! - `fetch_state`: fetch id → the last run's result, and fetch id ‖ folder
//!   index → that remote folder's UIDVALIDITY and the last UID taken;
//! - `fetch_seen`: fetch id ‖ folder index ‖ identity hash ‖ size → nothing:
//!   every message taken from that folder, 24 bytes each, consulted only
//!   after the folder's UIDVALIDITY changed so that a re-sync takes nothing
//!   twice.
//!
//! A [`FetchBatch`] delivers its messages and moves the folder's last UID in
//! one nested transaction, so progress is on disk exactly when the messages
//! are: a crash re-fetches nothing stored and loses nothing. The batch also
//! skips any UID the state already covers, which makes two fetchers of one
//! account (the server and `smolmail fetch run`) harmless to each other.

use heed::RwTxn;

use super::ops;
use super::records::{Reader, Writer};
use super::schema::Dbs;
use super::writer::{Delivery, Outcome, WriteOp};
use super::{Store, StoreError};
use crate::secret::Secret;

/// `meta` key of the fetch id counter.
const NEXT_FETCH: &str = "next_fetch_id";

/// Record layout of `fetch_accounts` values written now.
const ACCOUNT_FORMAT: u8 = 1;

/// One remote folder and the local mailbox its messages go to.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchFolder {
    /// The remote name as the user wrote it (UTF-8; sent in modified
    /// UTF-7, RFC 3501 §5.1.3).
    pub remote: String,
    /// The local mailbox of the local user.
    pub local: String,
}

/// An outside IMAP account and how to pull from it.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchAccount {
    /// Assigned by the store when the account is added.
    pub id: u64,
    /// The local user the mail is for.
    pub local_user: String,
    pub host: String,
    pub port: u16,
    /// STARTTLS on a plain port instead of TLS from the first byte.
    pub starttls: bool,
    pub user: String,
    pub password: Secret,
    pub folders: Vec<FetchFolder>,
    /// Seconds between runs (and between full runs when idling).
    pub every: u32,
    /// Wait in IMAP IDLE on INBOX between runs (RFC 2177).
    pub idle: bool,
    /// Extra CA certificates (PEM) trusted for this server; empty for
    /// Mozilla's roots alone.
    pub ca_pem: Vec<u8>,
    /// Most messages taken in one run.
    pub max_per_run: u32,
    /// Unix seconds the account was added.
    pub created: i64,
}

/// Where one remote folder's sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FolderState {
    /// The remote UIDVALIDITY the UIDs below belong to.
    pub uidvalidity: u32,
    /// Every UID up to this one has been taken (or skipped for good).
    pub last_uid: u32,
    /// After a UIDVALIDITY change: UIDs below this one may be messages
    /// taken before under old UIDs, so they are checked against the
    /// identities seen. 0 when no re-sync is going on.
    pub resync_below: u32,
    /// Messages and bytes taken from this folder so far.
    pub messages: u64,
    pub bytes: u64,
}

/// What the last run of an account did, for `smolmail fetch list`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FetchStatus {
    /// Unix seconds the run ended.
    pub at: i64,
    pub ok: bool,
    /// The run's log line, or its error.
    pub text: String,
}

/// Everything stored about an account's progress.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountState {
    /// The last run; `None` before the first.
    pub status: Option<FetchStatus>,
    /// (folder index, state) of each folder fetched from so far.
    pub folders: Vec<(u32, FolderState)>,
}

/// One message taken from a remote folder.
#[derive(Debug)]
pub struct Fetched {
    pub uid: u32,
    /// Hash of the Message-ID (or Date/From/Subject without one).
    pub identity: u64,
    /// RFC822.SIZE as the server reported it.
    pub size: u32,
    pub delivery: Delivery,
}

/// Messages of one folder and the progress they make, in one commit.
#[derive(Debug)]
pub struct FetchBatch {
    pub fetch_id: u64,
    /// Index of the folder in the account's list.
    pub folder: u32,
    /// The UIDVALIDITY the UIDs belong to.
    pub uidvalidity: u32,
    /// `Some(resync_below)` when the fetcher found the UIDVALIDITY changed:
    /// a state with another UIDVALIDITY is reset rather than refused.
    pub resync: Option<u32>,
    pub messages: Vec<Fetched>,
    /// The folder's last UID after this batch: the highest UID asked for,
    /// including messages skipped (too large, already seen, gone).
    pub through_uid: u32,
}

/// A change to fetch accounts, applied by the writer thread.
#[derive(Debug)]
pub enum FetchOp {
    /// Adds an account (its `id` is assigned): `Outcome::Created(id)`.
    Add(FetchAccount),
    /// Removes an account, its state and its seen set.
    Del(u64),
    /// Stores a batch: `Outcome::Count(messages delivered)`.
    Batch(FetchBatch),
    /// Records how a run ended.
    Status(u64, FetchStatus),
}

/// The summaries of a batch's messages, computed before the transaction
/// opens (see `ops::prepare`).
pub(super) fn prepare(op: &FetchOp) -> Vec<Vec<u8>> {
    let FetchOp::Batch(batch) = op else {
        return Vec::new();
    };
    batch
        .messages
        .iter()
        .map(|m| {
            let mut encoded = Vec::new();
            crate::mime::Summary::compute(&m.delivery.message).encode(&mut encoded);
            encoded
        })
        .collect()
}

pub(super) fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    op: &FetchOp,
    summaries: &[Vec<u8>],
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    match op {
        FetchOp::Add(account) => {
            let id = ops::next_id(txn, dbs, NEXT_FETCH)?;
            let account = FetchAccount {
                id,
                ..account.clone()
            };
            dbs.fetch_accounts
                .put(txn, &id.to_be_bytes(), &encode_account(&account))?;
            Ok(Outcome::Created(id))
        }
        FetchOp::Del(id) => del(txn, dbs, *id),
        FetchOp::Batch(batch) => batch_apply(txn, dbs, batch, summaries, touched),
        FetchOp::Status(id, status) => {
            if dbs.fetch_accounts.get(txn, &id.to_be_bytes())?.is_none() {
                return Err(StoreError::NotFound(format!("no fetch account {id}")));
            }
            let mut w = Writer::with_capacity(16 + status.text.len());
            w.i64(status.at).u8(status.ok as u8);
            string(&mut w, &status.text);
            dbs.fetch_state.put(txn, &id.to_be_bytes(), &w.0)?;
            Ok(Outcome::Done)
        }
    }
}

fn del(txn: &mut RwTxn, dbs: &Dbs, id: u64) -> Result<Outcome, StoreError> {
    let prefix = id.to_be_bytes();
    if !dbs.fetch_accounts.delete(txn, &prefix)? {
        return Err(StoreError::NotFound(format!("no fetch account {id}")));
    }
    for db in [dbs.fetch_state, dbs.fetch_seen] {
        let mut keys = Vec::new();
        for entry in db.prefix_iter(txn, &prefix)? {
            keys.push(entry?.0.to_vec());
        }
        for key in keys {
            db.delete(txn, &key)?;
        }
    }
    Ok(Outcome::Done)
}

/// Deletes the fetch accounts that pull mail for `local_user`: deleting a
/// user stops the fetching for them instead of leaving it to fail hourly.
pub(super) fn delete_for_user(
    txn: &mut RwTxn,
    dbs: &Dbs,
    local_user: &str,
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    for entry in dbs.fetch_accounts.iter(txn)? {
        let (key, value) = entry?;
        let id = fetch_id(key)?;
        if decode_account(id, value)?
            .local_user
            .eq_ignore_ascii_case(local_user)
        {
            ids.push(id);
        }
    }
    for id in ids {
        del(txn, dbs, id)?;
    }
    Ok(())
}

fn batch_apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    b: &FetchBatch,
    summaries: &[Vec<u8>],
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    // A batch for an account deleted meanwhile delivers nothing: the
    // operator asked for it to stop.
    if dbs
        .fetch_accounts
        .get(txn, &b.fetch_id.to_be_bytes())?
        .is_none()
    {
        return Err(StoreError::NotFound(format!(
            "no fetch account {}",
            b.fetch_id
        )));
    }
    let key = state_key(b.fetch_id, b.folder);
    let mut state = match dbs.fetch_state.get(txn, &key)? {
        Some(v) => decode_state(v)?,
        None => FolderState {
            uidvalidity: b.uidvalidity,
            ..FolderState::default()
        },
    };
    if state.uidvalidity != b.uidvalidity {
        let Some(resync_below) = b.resync else {
            return Err(StoreError::Invalid(format!(
                "fetch account {}: folder UIDVALIDITY is now {}, the batch is for {}",
                b.fetch_id, state.uidvalidity, b.uidvalidity
            )));
        };
        // RFC 3501 §2.3.1.1: the old UIDs mean nothing any more.
        state.uidvalidity = b.uidvalidity;
        state.last_uid = 0;
        state.resync_below = resync_below;
    }
    let mut delivered = 0u64;
    for (i, m) in b.messages.iter().enumerate() {
        if m.uid <= state.last_uid {
            continue; // another fetcher stored it already
        }
        let seen = seen_key(b.fetch_id, b.folder, m.identity, m.size);
        if m.uid < state.resync_below && dbs.fetch_seen.get(txn, &seen)?.is_some() {
            continue; // taken before the UIDVALIDITY change
        }
        let summary = summaries.get(i).map_or(&[][..], Vec::as_slice);
        ops::deliver(txn, dbs, &m.delivery, summary, touched)?;
        dbs.fetch_seen.put(txn, &seen, &[])?;
        state.messages += 1;
        state.bytes += m.delivery.message.len() as u64;
        delivered += 1;
    }
    state.last_uid = state.last_uid.max(b.through_uid);
    if state.resync_below != 0 && state.last_uid.saturating_add(1) >= state.resync_below {
        state.resync_below = 0; // the re-sync has passed every old message
    }
    dbs.fetch_state.put(txn, &key, &encode_state(&state))?;
    Ok(Outcome::Count(delivered))
}

/// `fetch_state` key of one folder: fetch id ‖ folder index.
fn state_key(fetch_id: u64, folder: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&fetch_id.to_be_bytes());
    k[8..].copy_from_slice(&folder.to_be_bytes());
    k
}

/// `fetch_seen` key: fetch id ‖ folder index ‖ identity ‖ size.
fn seen_key(fetch_id: u64, folder: u32, identity: u64, size: u32) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&fetch_id.to_be_bytes());
    k[8..12].copy_from_slice(&folder.to_be_bytes());
    k[12..20].copy_from_slice(&identity.to_be_bytes());
    k[20..].copy_from_slice(&size.to_be_bytes());
    k
}

fn encode_state(s: &FolderState) -> Vec<u8> {
    let mut w = Writer::with_capacity(28);
    w.u32(s.uidvalidity)
        .u32(s.last_uid)
        .u32(s.resync_below)
        .u64(s.messages)
        .u64(s.bytes);
    w.0
}

fn decode_state(v: &[u8]) -> Result<FolderState, StoreError> {
    let mut r = Reader(v);
    Ok(FolderState {
        uidvalidity: r.u32()?,
        last_uid: r.u32()?,
        resync_below: r.u32()?,
        messages: r.u64()?,
        bytes: r.u64()?,
    })
}

fn string(w: &mut Writer, s: &str) {
    bytes(w, s.as_bytes());
}

fn bytes(w: &mut Writer, b: &[u8]) {
    w.u32(b.len() as u32).bytes(b);
}

fn read_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], StoreError> {
    let len = r.u32()? as usize;
    let rest = r.rest();
    if rest.len() < len {
        return Err(StoreError::Corrupt("fetch record field".into()));
    }
    r.0 = &rest[len..];
    Ok(&rest[..len])
}

fn read_string(r: &mut Reader) -> Result<String, StoreError> {
    String::from_utf8(read_bytes(r)?.to_vec())
        .map_err(|_| StoreError::Corrupt("fetch record text is not UTF-8".into()))
}

fn encode_account(a: &FetchAccount) -> Vec<u8> {
    let mut w = Writer::with_capacity(128 + a.ca_pem.len());
    w.u8(ACCOUNT_FORMAT);
    string(&mut w, &a.local_user);
    string(&mut w, &a.host);
    w.u32(a.port.into()).u8(a.starttls as u8);
    string(&mut w, &a.user);
    string(&mut w, &a.password.0);
    w.u32(a.folders.len() as u32);
    for f in &a.folders {
        string(&mut w, &f.remote);
        string(&mut w, &f.local);
    }
    w.u32(a.every).u8(a.idle as u8);
    bytes(&mut w, &a.ca_pem);
    w.u32(a.max_per_run).i64(a.created);
    w.0
}

fn decode_account(id: u64, v: &[u8]) -> Result<FetchAccount, StoreError> {
    let mut r = Reader(v);
    if r.u8()? != ACCOUNT_FORMAT {
        return Err(StoreError::Corrupt("unknown fetch account format".into()));
    }
    let local_user = read_string(&mut r)?;
    let host = read_string(&mut r)?;
    let port = u16::try_from(r.u32()?).unwrap_or(993);
    let starttls = r.u8()? != 0;
    let user = read_string(&mut r)?;
    let password = Secret(read_string(&mut r)?);
    let count = r.u32()? as usize;
    let mut folders = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        folders.push(FetchFolder {
            remote: read_string(&mut r)?,
            local: read_string(&mut r)?,
        });
    }
    Ok(FetchAccount {
        id,
        local_user,
        host,
        port,
        starttls,
        user,
        password,
        folders,
        every: r.u32()?,
        idle: r.u8()? != 0,
        ca_pem: read_bytes(&mut r)?.to_vec(),
        max_per_run: r.u32()?,
        created: r.i64()?,
    })
}

fn fetch_id(key: &[u8]) -> Result<u64, StoreError> {
    super::keys::read_id(key).ok_or_else(|| StoreError::Corrupt("fetch key".into()))
}

impl Store {
    /// Every fetch account, by id.
    pub fn fetch_accounts(&self) -> Result<Vec<FetchAccount>, StoreError> {
        let txn = self.shared.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.shared.dbs.fetch_accounts.iter(&txn)? {
            let (k, v) = entry?;
            out.push(decode_account(fetch_id(k)?, v)?);
        }
        Ok(out)
    }

    pub fn fetch_account(&self, id: u64) -> Result<Option<FetchAccount>, StoreError> {
        let txn = self.shared.env.read_txn()?;
        match self
            .shared
            .dbs
            .fetch_accounts
            .get(&txn, &id.to_be_bytes())?
        {
            Some(v) => Ok(Some(decode_account(id, v)?)),
            None => Ok(None),
        }
    }

    /// The last run's result and each folder's state (by folder index).
    pub fn fetch_state(&self, id: u64) -> Result<AccountState, StoreError> {
        let txn = self.shared.env.read_txn()?;
        let mut status = None;
        let mut folders = Vec::new();
        for entry in self
            .shared
            .dbs
            .fetch_state
            .prefix_iter(&txn, &id.to_be_bytes())?
        {
            let (k, v) = entry?;
            match k.get(8..12) {
                None => {
                    let mut r = Reader(v);
                    status = Some(FetchStatus {
                        at: r.i64()?,
                        ok: r.u8()? != 0,
                        text: read_string(&mut r)?,
                    });
                }
                Some(index) => folders.push((
                    u32::from_be_bytes(index.try_into().unwrap_or_default()),
                    decode_state(v)?,
                )),
            }
        }
        Ok(AccountState { status, folders })
    }

    /// One folder's state; `None` before its first batch.
    pub fn fetch_folder_state(
        &self,
        id: u64,
        folder: u32,
    ) -> Result<Option<FolderState>, StoreError> {
        let txn = self.shared.env.read_txn()?;
        match self
            .shared
            .dbs
            .fetch_state
            .get(&txn, &state_key(id, folder))?
        {
            Some(v) => Ok(Some(decode_state(v)?)),
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
        let txn = self.shared.env.read_txn()?;
        let mut out = Vec::with_capacity(pairs.len());
        for &(identity, size) in pairs {
            let key = seen_key(id, folder, identity, size);
            out.push(self.shared.dbs.fetch_seen.get(&txn, &key)?.is_some());
        }
        Ok(out)
    }

    /// Adds a fetch account; returns its id.
    pub async fn fetch_add(&self, account: FetchAccount) -> Result<u64, StoreError> {
        self.write(WriteOp::Fetch(FetchOp::Add(account)))
            .await?
            .id()
    }

    pub async fn fetch_del(&self, id: u64) -> Result<(), StoreError> {
        self.write(WriteOp::Fetch(FetchOp::Del(id))).await.map(drop)
    }

    /// Stores a batch; returns how many messages it delivered (those the
    /// state or the seen set already covered are left out).
    pub async fn fetch_batch(&self, batch: FetchBatch) -> Result<u64, StoreError> {
        match self.write(WriteOp::Fetch(FetchOp::Batch(batch))).await? {
            Outcome::Count(n) => Ok(n),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }

    pub async fn fetch_status(&self, id: u64, status: FetchStatus) -> Result<(), StoreError> {
        self.write(WriteOp::Fetch(FetchOp::Status(id, status)))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_round_trip() {
        let a = FetchAccount {
            id: 7,
            local_user: "you@home.arpa".into(),
            host: "imap.example.com".into(),
            port: 993,
            starttls: false,
            user: "you@example.com".into(),
            password: Secret("pä:ss\"word".into()),
            folders: vec![
                FetchFolder {
                    remote: "INBOX".into(),
                    local: "INBOX".into(),
                },
                FetchFolder {
                    remote: "Lists/Rust".into(),
                    local: "Lists".into(),
                },
            ],
            every: 300,
            idle: true,
            ca_pem: b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            max_per_run: 1000,
            created: 1_700_000_000,
        };
        let encoded = encode_account(&a);
        assert_eq!(decode_account(7, &encoded).unwrap(), a);
        assert!(decode_account(7, &encoded[..encoded.len() - 1]).is_err());
    }

    /// A store in a fresh directory with a local user and a fetch account.
    fn store(name: &str) -> (std::path::PathBuf, Store, u64, u64) {
        let dir =
            std::env::temp_dir().join(format!("smolmail-fetch-ops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &super::super::Options { map_size: 64 << 20 }).unwrap();
        smol::block_on(store.add_account("you@home.arpa", "x")).unwrap();
        let inbox = store
            .read()
            .unwrap()
            .mailbox(1, "INBOX")
            .unwrap()
            .unwrap()
            .id;
        let account = FetchAccount {
            id: 0,
            local_user: "you@home.arpa".into(),
            host: "imap.example.com".into(),
            port: 993,
            starttls: false,
            user: "you".into(),
            password: Secret("pw".into()),
            folders: vec![FetchFolder {
                remote: "INBOX".into(),
                local: "INBOX".into(),
            }],
            every: 300,
            idle: false,
            ca_pem: Vec::new(),
            max_per_run: 1000,
            created: 0,
        };
        let id = smol::block_on(store.fetch_add(account)).unwrap();
        (dir, store, id, inbox)
    }

    fn batch(id: u64, inbox: u64, uidvalidity: u32, uids: &[u32], through: u32) -> FetchBatch {
        FetchBatch {
            fetch_id: id,
            folder: 0,
            uidvalidity,
            resync: None,
            messages: uids
                .iter()
                .map(|&uid| Fetched {
                    uid,
                    identity: u64::from(uid) * 7,
                    size: 10 + uid,
                    delivery: Delivery {
                        message: format!("Subject: {uid}\r\n\r\n").into_bytes(),
                        internal_date: 1_700_000_000,
                        flags: super::super::Flags::default(),
                        keywords: Vec::new(),
                        mailboxes: vec![inbox],
                        outbound: None,
                    },
                })
                .collect(),
            through_uid: through,
        }
    }

    #[test]
    fn batches_move_the_state_and_skip_what_it_covers() {
        let (dir, store, id, inbox) = store("batches");
        let run = |b| smol::block_on(store.fetch_batch(b));
        assert_eq!(run(batch(id, inbox, 9, &[1, 2, 3], 4)), Ok(3));
        let state = store.fetch_folder_state(id, 0).unwrap().unwrap();
        assert_eq!(
            (state.uidvalidity, state.last_uid, state.messages),
            (9, 4, 3)
        );
        // A second fetcher's batch for the same UIDs stores nothing again.
        assert_eq!(run(batch(id, inbox, 9, &[2, 3, 5], 5)), Ok(1));
        // Another UIDVALIDITY without `resync` is refused, whole.
        assert!(matches!(
            run(batch(id, inbox, 10, &[1], 1)),
            Err(StoreError::Invalid(_))
        ));
        // A re-sync: the old messages under new UIDs are skipped, new ones
        // stored; UIDs at or above `resync_below` are never checked.
        let mut b = batch(id, inbox, 10, &[], 0);
        b.resync = Some(4);
        b.messages = batch(id, inbox, 10, &[1, 2, 3], 0).messages;
        b.messages[0].uid = 10; // was UID 1, now 10: not below 4
        b.messages[1].uid = 1; // was UID 2: skipped
        b.messages
            .push(batch(id, inbox, 10, &[6], 0).messages.remove(0));
        b.messages[3].uid = 2; // new message
        b.messages.sort_by_key(|m| m.uid);
        b.through_uid = 10;
        assert_eq!(run(b), Ok(2));
        let state = store.fetch_folder_state(id, 0).unwrap().unwrap();
        assert_eq!(
            (state.uidvalidity, state.last_uid, state.resync_below),
            (10, 10, 0)
        );
        let r = store.read().unwrap();
        assert_eq!(r.mailbox_by_id(inbox).unwrap().unwrap().messages, 6);
        drop(r);
        // Deleting the account drops its state; its batches are refused.
        smol::block_on(store.fetch_del(id)).unwrap();
        assert_eq!(store.fetch_state(id).unwrap(), AccountState::default());
        assert!(store.fetch_seen(id, 0, &[(7, 11)]).unwrap() == vec![false]);
        assert!(matches!(
            run(batch(id, inbox, 10, &[11], 11)),
            Err(StoreError::NotFound(_))
        ));
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn state_round_trip_and_keys_sort_by_folder() {
        let s = FolderState {
            uidvalidity: 3,
            last_uid: 500,
            resync_below: 0,
            messages: 500,
            bytes: 1 << 33,
        };
        assert_eq!(decode_state(&encode_state(&s)).unwrap(), s);
        assert!(state_key(1, 0) < state_key(1, 1));
        assert!(state_key(1, u32::MAX) < state_key(2, 0));
        assert_eq!(&seen_key(1, 2, 3, 4)[..12], &state_key(1, 2)[..]);
    }
}
