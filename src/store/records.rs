//! Value encodings of the store's records: compact fixed layouts, read in
//! place from the LMDB map (no copy for the hot message-list walk).
//!
//! [`Writer`] and [`Reader`] are the one field encoding of every record,
//! the queue's and the fetcher's included: fixed-width big-endian numbers,
//! and text or bytes as a u32 length and the bytes. A field that does not
//! fit its length is refused with [`StoreError::Invalid`], never cut; one
//! that does not read back is [`StoreError::Corrupt`]. The records that
//! end in one text field (account hash, mailbox index) store it as the rest
//! of the value, and a message's keyword list, walked in place for every
//! FETCH, keeps one length byte per keyword (a longer keyword is refused).

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
    /// A length-prefixed field: u32 length, then the bytes.
    pub fn field(&mut self, v: &[u8]) -> Result<&mut Self, StoreError> {
        let len = u32::try_from(v.len())
            .map_err(|_| StoreError::Invalid("a record field of 4 GiB or more".into()))?;
        Ok(self.u32(len).bytes(v))
    }
    pub fn text(&mut self, v: &str) -> Result<&mut Self, StoreError> {
        self.field(v.as_bytes())
    }
    /// A presence byte (0 or 1), then the text if present.
    pub fn opt_text(&mut self, v: Option<&str>) -> Result<&mut Self, StoreError> {
        match v {
            Some(v) => self.u8(1).text(v),
            None => Ok(self.u8(0)),
        }
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
    /// A field written by [`Writer::field`].
    pub fn field(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    pub fn text(&mut self) -> Result<String, StoreError> {
        utf8(self.field()?)
    }
    pub fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        match self.u8()? {
            0 => Ok(None),
            _ => self.text().map(Some),
        }
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
        // Schema 2's subscribed flag; subscriptions are names now.
        .u8(0)
        .u32(m.messages)
        .u32(m.unseen)
        .u32(m.recent)
        .u64(m.bytes);
    w.0
}

pub fn decode_mailbox(account_id: u64, name: &str, value: &[u8]) -> Result<Mailbox, StoreError> {
    let mut r = Reader(value);
    let (id, uidvalidity, uidnext, highest_modseq) = (r.u64()?, r.u32()?, r.u32()?, r.u64()?);
    let special_use = SpecialUse::from_u8(r.u8()?);
    r.u8()?; // schema 2's subscribed flag
    Ok(Mailbox {
        id,
        account_id,
        name: name.to_string(),
        uidvalidity,
        uidnext,
        highest_modseq,
        special_use,
        messages: r.u32()?,
        unseen: r.u32()?,
        recent: r.u32()?,
        bytes: r.u64()?,
    })
}

/// The subscribed flag of a `mailboxes` value as schema 2 wrote it, for
/// the upgrade to schema 3.
pub fn legacy_subscribed(value: &[u8]) -> Result<bool, StoreError> {
    const OFFSET: usize = 8 + 4 + 4 + 8 + 1;
    Ok(Reader(value.get(OFFSET..).unwrap_or_default()).u8()? != 0)
}

/// The byte total of a `mailboxes` value, read without decoding the rest
/// (quota usage sums it over an account's mailboxes).
pub fn mailbox_bytes(value: &[u8]) -> Result<u64, StoreError> {
    // id, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, special use, subscribed,
    // messages, unseen, recent: see `encode_mailbox`.
    const OFFSET: usize = 8 + 4 + 4 + 8 + 1 + 1 + 4 + 4 + 4;
    Reader(value.get(OFFSET..).unwrap_or_default()).u64()
}

/// `messages` value: blob id ‖ size ‖ internal date ‖ modseq ‖ flags ‖
/// [save date] ‖ keywords (each a length byte and the keyword).
///
/// The save date (RFC 8514, schema 5) is there when the flag byte has
/// [`SAVE_DATE_MARK`]; records written before schema 5 have none, and
/// adding it needs no rewrite of every message at the upgrade.
pub fn encode_message(
    blob_id: u64,
    size: u32,
    internal_date: i64,
    modseq: u64,
    flags: Flags,
    save_date: Option<i64>,
    keywords: &[u8],
) -> Vec<u8> {
    let mut w = Writer::with_capacity(MESSAGE_FIXED + 8 + keywords.len());
    w.u64(blob_id).u32(size).i64(internal_date).u64(modseq);
    match save_date {
        Some(saved) => w.u8(flags.0 | SAVE_DATE_MARK).i64(saved),
        None => w.u8(flags.0),
    };
    w.bytes(keywords);
    w.0
}

/// Size of the fixed part of a `messages` value.
pub const MESSAGE_FIXED: usize = 8 + 4 + 8 + 8 + 1;

/// Bit of the stored flag byte saying a save date follows it; never a
/// flag (the six flags use the low bits).
pub const SAVE_DATE_MARK: u8 = 0x80;

/// Keywords as stored: a length byte, then the keyword, repeated. IMAP
/// keywords are short atoms; one longer than 255 bytes is refused.
pub fn encode_keywords<'k>(
    keywords: impl IntoIterator<Item = &'k str>,
) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for k in keywords {
        let len = u8::try_from(k.len())
            .map_err(|_| StoreError::Invalid("a keyword longer than 255 bytes".into()))?;
        out.push(len);
        out.extend_from_slice(k.as_bytes());
    }
    Ok(out)
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

/// `blob_refs` value: how many messages (and queue entries) use a body.
pub fn encode_refs(refs: u32) -> [u8; 4] {
    refs.to_be_bytes()
}

pub fn decode_refs(value: &[u8]) -> Result<u32, StoreError> {
    Reader(value).u32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_refuse_short_records() {
        let mut w = Writer::with_capacity(0);
        w.text("größe").unwrap().opt_text(None).unwrap();
        w.opt_text(Some("x"))
            .unwrap()
            .field(b"\0\xff")
            .unwrap()
            .u8(7);
        let mut r = Reader(&w.0);
        assert_eq!(r.text().unwrap(), "größe");
        assert_eq!(r.opt_text().unwrap(), None);
        assert_eq!(r.opt_text().unwrap().as_deref(), Some("x"));
        assert_eq!(r.field().unwrap(), b"\0\xff");
        assert_eq!(r.u8().unwrap(), 7);
        assert!(r.rest().is_empty());
        // A length past the end is a damaged record, not a short read.
        for cut in 0..w.0.len() - 1 {
            let mut r = Reader(&w.0[..cut]);
            let read = (|| {
                r.text()?;
                r.opt_text()?;
                r.opt_text()?;
                r.field()?;
                r.u8()
            })();
            assert!(matches!(read, Err(StoreError::Corrupt(_))), "cut at {cut}");
        }
        let mut bad = Writer::with_capacity(0);
        bad.field(b"\xff\xfe").unwrap();
        assert!(matches!(Reader(&bad.0).text(), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn save_date_rides_between_flags_and_keywords() {
        let kw = encode_keywords(["a"]).unwrap();
        let with = encode_message(1, 2, 3, 4, Flags(1), Some(99), &kw);
        let without = encode_message(1, 2, 3, 4, Flags(1), None, &kw);
        assert_eq!(with.len(), without.len() + 8);
        assert_eq!(with[MESSAGE_FIXED - 1], 1 | SAVE_DATE_MARK);
        assert_eq!(without[MESSAGE_FIXED - 1], 1);
    }

    #[test]
    fn long_keywords_are_refused_not_cut() {
        let ok = encode_keywords(["$Forwarded", "x"]).unwrap();
        assert_eq!(keywords(&ok).collect::<Vec<_>>(), ["$Forwarded", "x"]);
        let long = "k".repeat(256);
        assert!(matches!(
            encode_keywords([long.as_str()]),
            Err(StoreError::Invalid(_))
        ));
        assert!(encode_keywords([&long[..255]]).is_ok());
    }
}
