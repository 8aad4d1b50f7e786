//! Key layout of every LMDB database. Only `store` knows it (DESIGN.md).
//!
//! Integers are fixed-width big-endian so that LMDB's byte order is numeric
//! order: a range scan over `mailbox id ‖ uid` walks one mailbox's messages
//! by UID, and `account id ‖ name` walks one account's mailboxes.

/// `messages`: mailbox id ‖ UID.
pub fn message(mailbox_id: u64, uid: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&mailbox_id.to_be_bytes());
    k[8..].copy_from_slice(&uid.to_be_bytes());
    k
}

/// The UID in a `messages` key.
pub fn message_uid(key: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(key.get(8..12)?.try_into().ok()?))
}

/// `mailboxes`: account id ‖ UTF-8 name.
pub fn mailbox(account_id: u64, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + name.len());
    k.extend_from_slice(&account_id.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// `blobs`, `blob_refs`, `summaries`, `mailbox_ids`: one id.
pub fn id(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Reads a big-endian u64 at the start of `bytes`.
pub fn read_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// `meta` keys.
pub const SCHEMA_VERSION: &str = "schema_version";
pub const NEXT_ACCOUNT: &str = "next_account_id";
pub const NEXT_MAILBOX: &str = "next_mailbox_id";
pub const NEXT_BLOB: &str = "next_blob_id";
pub const NEXT_QUEUE: &str = "next_queue_id";
pub const LAST_UIDVALIDITY: &str = "last_uidvalidity";
