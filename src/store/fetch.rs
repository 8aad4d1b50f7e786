//! Fetch accounts (outside IMAP accounts pulled by `crate::fetch`) and
//! their progress: the types and their records. The writes are in
//! `fetch_ops.rs`, the reads in `Reader` (`read.rs`).
//!
//! Three databases (see `schema.rs`, keys in `keys.rs`):
//! - `fetch_accounts`: fetch id → settings, the remote password among them
//!   (the store's files are owner-only: LMDB creates them 0600);
//! - `fetch_state`: fetch id → the last run's result, and fetch id ‖ folder
//!   index → that remote folder's UIDVALIDITY and the last UID taken;
//! - `fetch_seen`: fetch id ‖ folder index ‖ identity hash ‖ size → nothing:
//!   every message taken from that folder, 24 bytes each, consulted only
//!   after the folder's UIDVALIDITY changed so that a re-sync takes nothing
//!   twice.

use super::StoreError;
use super::records::{Reader, Writer};
use super::writer::Summarized;
use crate::secret::Secret;

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
    /// The message, summarized by the fetcher (see `Summarized`).
    pub delivery: Summarized,
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

/// `fetch_state` value of a folder: UIDVALIDITY ‖ last UID ‖ re-sync
/// bound ‖ messages ‖ bytes.
pub(super) fn encode_state(s: &FolderState) -> Vec<u8> {
    let mut w = Writer::with_capacity(28);
    w.u32(s.uidvalidity)
        .u32(s.last_uid)
        .u32(s.resync_below)
        .u64(s.messages)
        .u64(s.bytes);
    w.0
}

pub(super) fn decode_state(v: &[u8]) -> Result<FolderState, StoreError> {
    let mut r = Reader(v);
    Ok(FolderState {
        uidvalidity: r.u32()?,
        last_uid: r.u32()?,
        resync_below: r.u32()?,
        messages: r.u64()?,
        bytes: r.u64()?,
    })
}

/// `fetch_state` value of an account's last run: time ‖ ok ‖ text.
pub(super) fn encode_status(s: &FetchStatus) -> Result<Vec<u8>, StoreError> {
    let mut w = Writer::with_capacity(16 + s.text.len());
    w.i64(s.at).u8(s.ok as u8).text(&s.text)?;
    Ok(w.0)
}

pub(super) fn decode_status(v: &[u8]) -> Result<FetchStatus, StoreError> {
    let mut r = Reader(v);
    Ok(FetchStatus {
        at: r.i64()?,
        ok: r.u8()? != 0,
        text: r.text()?,
    })
}

/// `fetch_accounts` value: format ‖ local user ‖ host ‖ port ‖ STARTTLS ‖
/// user ‖ password ‖ folders (count, then remote ‖ local each) ‖ every ‖
/// idle ‖ CA PEM ‖ most per run ‖ created.
pub(super) fn encode_account(a: &FetchAccount) -> Result<Vec<u8>, StoreError> {
    let mut w = Writer::with_capacity(128 + a.ca_pem.len());
    let count = u32::try_from(a.folders.len())
        .map_err(|_| StoreError::Invalid("too many folders".into()))?;
    w.u8(ACCOUNT_FORMAT)
        .text(&a.local_user)?
        .text(&a.host)?
        .u32(a.port.into())
        .u8(a.starttls as u8)
        .text(&a.user)?
        .text(&a.password.0)?
        .u32(count);
    for f in &a.folders {
        w.text(&f.remote)?.text(&f.local)?;
    }
    w.u32(a.every)
        .u8(a.idle as u8)
        .field(&a.ca_pem)?
        .u32(a.max_per_run)
        .i64(a.created);
    Ok(w.0)
}

pub(super) fn decode_account(id: u64, v: &[u8]) -> Result<FetchAccount, StoreError> {
    let mut r = Reader(v);
    if r.u8()? != ACCOUNT_FORMAT {
        return Err(StoreError::Corrupt("unknown fetch account format".into()));
    }
    let local_user = r.text()?;
    let host = r.text()?;
    let port = u16::try_from(r.u32()?).unwrap_or(993);
    let starttls = r.u8()? != 0;
    let user = r.text()?;
    let password = Secret(r.text()?);
    let count = r.u32()? as usize;
    let mut folders = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        folders.push(FetchFolder {
            remote: r.text()?,
            local: r.text()?,
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
        ca_pem: r.field()?.to_vec(),
        max_per_run: r.u32()?,
        created: r.i64()?,
    })
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
        let encoded = encode_account(&a).unwrap();
        assert_eq!(decode_account(7, &encoded).unwrap(), a);
        assert!(decode_account(7, &encoded[..encoded.len() - 1]).is_err());
    }

    #[test]
    fn state_and_status_round_trip() {
        let s = FolderState {
            uidvalidity: 3,
            last_uid: 500,
            resync_below: 0,
            messages: 500,
            bytes: 1 << 33,
        };
        assert_eq!(decode_state(&encode_state(&s)).unwrap(), s);
        let status = FetchStatus {
            at: 1_700_000_000,
            ok: false,
            text: "imap.example.com: connection refused".into(),
        };
        let encoded = encode_status(&status).unwrap();
        assert_eq!(decode_status(&encoded).unwrap(), status);
        assert!(decode_status(&encoded[..encoded.len() - 1]).is_err());
    }
}
