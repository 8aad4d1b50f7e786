//! Value encodings of the store's records: compact fixed layouts, read in
//! place from the LMDB map (no copy for the hot message-list walk).

use super::{Account, Flags, Mailbox, SpecialUse, StoreError};

/// Appends fixed-width big-endian fields to a value being built.
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn with_capacity(n: usize) -> Writer {
        Writer(Vec::with_capacity(n))
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
}

/// Reads the fields back; any short read is a corrupt record, never a panic.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(StoreError::Corrupt("record shorter than its layout".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    pub fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    pub fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    pub fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

fn utf8(bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| StoreError::Corrupt("text field is not UTF-8".into()))
}

/// `accounts` value: id ‖ flags ‖ quota ‖ password hash.
pub fn encode_account(id: u64, flags: u32, quota: u64, hash: &str) -> Vec<u8> {
    let mut w = Writer::with_capacity(20 + hash.len());
    w.u64(id).u32(flags).u64(quota).bytes(hash.as_bytes());
    w.0
}

pub fn decode_account(address: &str, value: &[u8]) -> Result<Account, StoreError> {
    let mut r = Reader(value);
    Ok(Account {
        id: r.u64()?,
        flags: r.u32()?,
        quota: r.u64()?,
        password_hash: utf8(r.rest())?,
        address: address.to_string(),
    })
}

/// `mailboxes` value: the mailbox's counters and settings.
pub fn encode_mailbox(m: &Mailbox) -> Vec<u8> {
    let mut w = Writer::with_capacity(48);
    w.u64(m.id)
        .u32(m.uidvalidity)
        .u32(m.uidnext)
        .u64(m.highest_modseq)
        .u8(m.special_use as u8)
        .u8(m.subscribed as u8)
        .u32(m.messages)
        .u32(m.unseen)
        .u32(m.recent)
        .u64(m.bytes);
    w.0
}

pub fn decode_mailbox(account_id: u64, name: &str, value: &[u8]) -> Result<Mailbox, StoreError> {
    let mut r = Reader(value);
    Ok(Mailbox {
        id: r.u64()?,
        account_id,
        name: name.to_string(),
        uidvalidity: r.u32()?,
        uidnext: r.u32()?,
        highest_modseq: r.u64()?,
        special_use: SpecialUse::from_u8(r.u8()?),
        subscribed: r.u8()? != 0,
        messages: r.u32()?,
        unseen: r.u32()?,
        recent: r.u32()?,
        bytes: r.u64()?,
    })
}

/// `messages` value: blob id ‖ size ‖ internal date ‖ modseq ‖ flags ‖
/// keywords (each a length byte and the keyword).
pub fn encode_message(
    blob_id: u64,
    size: u32,
    internal_date: i64,
    modseq: u64,
    flags: Flags,
    keywords: &[u8],
) -> Vec<u8> {
    let mut w = Writer::with_capacity(MESSAGE_FIXED + keywords.len());
    w.u64(blob_id)
        .u32(size)
        .i64(internal_date)
        .u64(modseq)
        .u8(flags.0)
        .bytes(keywords);
    w.0
}

/// Size of the fixed part of a `messages` value.
pub const MESSAGE_FIXED: usize = 8 + 4 + 8 + 8 + 1;

/// Keywords as stored: a length byte, then the keyword, repeated.
pub fn encode_keywords<'k>(keywords: impl IntoIterator<Item = &'k str>) -> Vec<u8> {
    let mut out = Vec::new();
    for k in keywords {
        // IMAP atoms are short; a keyword longer than 255 bytes is cut
        // rather than corrupting the record.
        let k = &k.as_bytes()[..k.len().min(255)];
        out.push(k.len() as u8);
        out.extend_from_slice(k);
    }
    out
}

/// Walks stored keywords without allocating.
pub fn keywords(mut raw: &[u8]) -> impl Iterator<Item = &str> {
    std::iter::from_fn(move || {
        let (&len, rest) = raw.split_first()?;
        let len = (len as usize).min(rest.len());
        let (k, rest) = rest.split_at(len);
        raw = rest;
        Some(std::str::from_utf8(k).unwrap_or(""))
    })
}

/// `mailbox_ids` value: account id ‖ name.
pub fn encode_mailbox_index(account_id: u64, name: &str) -> Vec<u8> {
    let mut w = Writer::with_capacity(8 + name.len());
    w.u64(account_id).bytes(name.as_bytes());
    w.0
}

pub fn decode_mailbox_index(value: &[u8]) -> Result<(u64, String), StoreError> {
    let mut r = Reader(value);
    Ok((r.u64()?, utf8(r.rest())?))
}

/// `aliases` value: target addresses, one per line.
pub fn encode_targets(targets: &[String]) -> Vec<u8> {
    targets.join("\n").into_bytes()
}

pub fn decode_targets(value: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(value)
        .split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
