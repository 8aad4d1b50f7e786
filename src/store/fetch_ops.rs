//! Writes of fetch accounts and their progress, applied by the writer
//! thread (the records are in `fetch.rs`).
//!
//! A [`FetchBatch`] delivers its messages and moves the folder's last UID in
//! one nested transaction, so progress is on disk exactly when the messages
//! are: a crash re-fetches nothing stored and loses nothing. The batch also
//! skips any UID the state already covers, which makes two fetchers of one
//! account (the server and `smolmail fetch run`) harmless to each other.

use heed::RwTxn;

use super::fetch::{self, FetchAccount, FetchBatch, FetchStatus, FolderState};
use super::message_ops::deliver;
use super::ops::next_id;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{Store, StoreError, keys};

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

pub(super) fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    op: &FetchOp,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    match op {
        FetchOp::Add(account) => {
            let id = next_id(txn, dbs, keys::NEXT_FETCH)?;
            let account = FetchAccount {
                id,
                ..account.clone()
            };
            let value = fetch::encode_account(&account)?;
            dbs.fetch_accounts.put(txn, &keys::fetch(id), &value)?;
            Ok(Outcome::Created(id))
        }
        FetchOp::Del(id) => del(txn, dbs, *id),
        FetchOp::Batch(batch) => batch_apply(txn, dbs, batch, touched),
        FetchOp::Status(id, status) => {
            if dbs.fetch_accounts.get(txn, &keys::fetch(*id))?.is_none() {
                return Err(StoreError::NotFound(format!("no fetch account {id}")));
            }
            let value = fetch::encode_status(status)?;
            dbs.fetch_state.put(txn, &keys::fetch(*id), &value)?;
            Ok(Outcome::Done)
        }
    }
}

fn del(txn: &mut RwTxn, dbs: &Dbs, id: u64) -> Result<Outcome, StoreError> {
    let prefix = keys::fetch(id);
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
        let id = keys::read_id(key).ok_or_else(|| StoreError::Corrupt("fetch key".into()))?;
        if fetch::decode_account(id, value)?
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
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    // A batch for an account deleted meanwhile delivers nothing: the
    // operator asked for it to stop.
    if dbs
        .fetch_accounts
        .get(txn, &keys::fetch(b.fetch_id))?
        .is_none()
    {
        return Err(StoreError::NotFound(format!(
            "no fetch account {}",
            b.fetch_id
        )));
    }
    let key = keys::fetch_folder(b.fetch_id, b.folder);
    let mut state = match dbs.fetch_state.get(txn, &key)? {
        Some(v) => fetch::decode_state(v)?,
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
    for m in &b.messages {
        if m.uid <= state.last_uid {
            continue; // another fetcher stored it already
        }
        let seen = keys::fetch_seen(b.fetch_id, b.folder, m.identity, m.size);
        if m.uid < state.resync_below && dbs.fetch_seen.get(txn, &seen)?.is_some() {
            continue; // taken before the UIDVALIDITY change
        }
        deliver(txn, dbs, &m.delivery, touched)?;
        dbs.fetch_seen.put(txn, &seen, &[])?;
        state.messages += 1;
        state.bytes += m.delivery.message.len() as u64;
        delivered += 1;
    }
    state.last_uid = state.last_uid.max(b.through_uid);
    if state.resync_below != 0 && state.last_uid.saturating_add(1) >= state.resync_below {
        state.resync_below = 0; // the re-sync has passed every old message
    }
    dbs.fetch_state
        .put(txn, &key, &fetch::encode_state(&state))?;
    Ok(Outcome::Count(delivered))
}

impl Store {
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
    use super::super::fetch::{AccountState, FetchFolder, Fetched};
    use super::super::writer::{Delivery, Summarized};
    use super::*;
    use crate::secret::Secret;

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
                    delivery: Summarized::new(Delivery {
                        message: format!("Subject: {uid}\r\n\r\n").into_bytes(),
                        internal_date: 1_700_000_000,
                        flags: super::super::Flags::default(),
                        keywords: Vec::new(),
                        mailboxes: vec![inbox],
                        outbound: None,
                    }),
                })
                .collect(),
            through_uid: through,
        }
    }

    #[test]
    fn batches_move_the_state_and_skip_what_it_covers() {
        let (dir, store, id, inbox) = store("batches");
        let run = |b| smol::block_on(store.fetch_batch(b));
        let folder_state = || {
            let state = store.read().unwrap().fetch_folder_state(id, 0);
            state.unwrap().unwrap()
        };
        assert_eq!(run(batch(id, inbox, 9, &[1, 2, 3], 4)), Ok(3));
        let state = folder_state();
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
        let state = folder_state();
        assert_eq!(
            (state.uidvalidity, state.last_uid, state.resync_below),
            (10, 10, 0)
        );
        let r = store.read().unwrap();
        assert_eq!(r.mailbox_by_id(inbox).unwrap().unwrap().messages, 6);
        drop(r);
        // Deleting the account drops its state; its batches are refused.
        smol::block_on(store.fetch_del(id)).unwrap();
        assert_eq!(
            store.read().unwrap().fetch_state(id).unwrap(),
            AccountState::default()
        );
        assert!(store.read().unwrap().fetch_seen(id, 0, &[(7, 11)]).unwrap() == vec![false]);
        assert!(matches!(
            run(batch(id, inbox, 10, &[11], 11)),
            Err(StoreError::NotFound(_))
        ));
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }
}
