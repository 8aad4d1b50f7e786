//! Key layout of every LMDB database, and the meta keys. Only `store`
//! knows it (DESIGN.md), and within `store` only this file builds or takes
//! apart a key.
//!
//! Integers are fixed-width big-endian so that LMDB's byte order is numeric
//! order: a range scan over `mailbox id ‖ uid` walks one mailbox's messages
//! by UID, `account id ‖ name` walks one account's mailboxes, and
//! `due time ‖ entry id` walks the queue in due order.

/// `messages` and `expunged`: mailbox id ‖ UID.
pub fn message(mailbox_id: u64, uid: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&mailbox_id.to_be_bytes());
    k[8..].copy_from_slice(&uid.to_be_bytes());
    k
}

/// The prefix of one mailbox's keys in `messages` and `expunged`.
pub fn messages_of(mailbox_id: u64) -> [u8; 8] {
    mailbox_id.to_be_bytes()
}

/// The UID in a `messages` or `expunged` key.
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

/// The prefix of one account's keys in `mailboxes`.
pub fn mailboxes_of(account_id: u64) -> [u8; 8] {
    account_id.to_be_bytes()
}

/// The name in a `mailboxes` key.
pub fn mailbox_name(key: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(key.get(8..).unwrap_or_default())
}

/// `blobs`, `blob_refs`, `summaries`, `sort_keys`, `mailbox_ids`: one id.
pub fn id(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Reads a big-endian u64 at the start of `bytes`.
pub fn read_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// `queue`: due time ‖ entry id, so a scan walks entries by due time.
pub fn queue(due: i64, entry_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&due.to_be_bytes());
    k[8..].copy_from_slice(&entry_id.to_be_bytes());
    k
}

/// The due time and entry id of a `queue` key.
pub fn queue_parts(key: &[u8]) -> Option<(i64, u64)> {
    let due = i64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let entry_id = u64::from_be_bytes(key.get(8..16)?.try_into().ok()?);
    Some((due, entry_id))
}

/// `fetch_accounts` and the account's run status in `fetch_state`: fetch
/// id. Also the prefix of every key of the account in `fetch_state` and
/// `fetch_seen`.
pub fn fetch(fetch_id: u64) -> [u8; 8] {
    fetch_id.to_be_bytes()
}

/// `fetch_state` of one remote folder: fetch id ‖ folder index.
pub fn fetch_folder(fetch_id: u64, folder: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&fetch_id.to_be_bytes());
    k[8..].copy_from_slice(&folder.to_be_bytes());
    k
}

/// The folder index of a `fetch_state` key; `None` for the account's run
/// status (the key that is the fetch id alone).
pub fn fetch_folder_index(key: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(key.get(8..12)?.try_into().ok()?))
}

/// `fetch_seen`: fetch id ‖ folder index ‖ identity hash ‖ size.
pub fn fetch_seen(fetch_id: u64, folder: u32, identity: u64, size: u32) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..12].copy_from_slice(&fetch_folder(fetch_id, folder));
    k[12..20].copy_from_slice(&identity.to_be_bytes());
    k[20..].copy_from_slice(&size.to_be_bytes());
    k
}

/// `import_seen`: account id ‖ 16 bytes of the identity's hash. Also, the
/// account id alone, the prefix of every key of the account.
pub fn import_seen(account_id: u64, identity: &[u8; 16]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&account_id.to_be_bytes());
    k[8..].copy_from_slice(identity);
    k
}

/// `meta` keys.
pub const SCHEMA_VERSION: &str = "schema_version";
pub const NEXT_ACCOUNT: &str = "next_account_id";
pub const NEXT_MAILBOX: &str = "next_mailbox_id";
pub const NEXT_BLOB: &str = "next_blob_id";
pub const NEXT_QUEUE: &str = "next_queue_id";
pub const NEXT_FETCH: &str = "next_fetch_id";
pub const LAST_UIDVALIDITY: &str = "last_uidvalidity";
/// The web admin password's argon2id hash (`store::admin_ops`).
pub const ADMIN_PASSWORD: &str = "admin_password";

/// `meta` key of an ACME entry (`store::acme_ops`): `acme:` ‖ the hex
/// SHA-256 of its name. The name carries a directory URL and every
/// certificate name, which can pass LMDB's 511-byte key limit; a digest
/// keeps the key at 69 bytes whatever the name.
pub fn acme(name: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    let mut key = String::with_capacity(5 + 64);
    key.push_str("acme:");
    for b in digest.as_ref() {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// `meta` key of a DKIM key (`store::dkim_ops`): `dkim:` ‖ domain ‖ `/`
/// ‖ selector. Neither holds a `/`, so the domain's prefix matches no
/// other domain.
pub fn dkim(domain: &str, selector: &str) -> String {
    format!("dkim:{domain}/{selector}")
}

/// The prefix of one domain's DKIM keys in `meta`, or of all of them.
pub fn dkim_prefix(domain: Option<&str>) -> String {
    match domain {
        Some(d) => format!("dkim:{d}/"),
        None => "dkim:".to_string(),
    }
}

/// The domain and selector of a DKIM key's `meta` key.
pub fn dkim_parts(key: &[u8]) -> Option<(&str, &str)> {
    let rest = std::str::from_utf8(key).ok()?.strip_prefix("dkim:")?;
    rest.split_once('/')
}

/// `meta` key of a cached MTA-STS policy (`store::mta_sts_ops`):
/// `mta-sts:` ‖ the lower-case domain (at most 253 bytes: well inside
/// LMDB's key limit).
pub fn mta_sts(domain: &str) -> String {
    format!("mta-sts:{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_numerically_and_come_apart() {
        assert!(message(1, 2) < message(1, 256));
        assert!(message(1, u32::MAX) < message(2, 0));
        assert_eq!(&message(7, 9)[..8], &messages_of(7));
        assert_eq!(message_uid(&message(7, 9)), Some(9));
        assert_eq!(mailbox_name(&mailbox(3, "Sent")), "Sent");
        assert_eq!(&mailbox(3, "Sent")[..8], &mailboxes_of(3));
        assert!(queue(5, 9) < queue(6, 1));
        assert_eq!(
            queue_parts(&queue(1_700_000_000, 42)),
            Some((1_700_000_000, 42))
        );
        assert_eq!(queue_parts(b"short"), None);
        assert!(fetch_folder(1, 0) < fetch_folder(1, 1));
        assert!(fetch_folder(1, u32::MAX) < fetch_folder(2, 0));
        assert_eq!(&fetch_seen(1, 2, 3, 4)[..12], &fetch_folder(1, 2));
        assert_eq!(&fetch_folder(1, 2)[..8], &fetch(1));
        assert_eq!(fetch_folder_index(&fetch_folder(1, 2)), Some(2));
        assert_eq!(fetch_folder_index(&fetch(1)), None);
    }
}
