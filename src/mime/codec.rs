//! The store encoding of a [`Summary`]: compact, versioned, and decoded
//! without trusting a single byte of it.
//!
//! Format version 2, every integer an unsigned LEB128 varint. Version 1
//! had the same layout but was computed by the previous parser (lines
//! counted differently, no charset default, other delimiter and address
//! rules): its records decode as `None`, so readers recompute the summary
//! from the message, and answers never mix the two parsers' views.
//!
//!
//! ```text
//! summary   = version(=2) envelope part
//! envelope  = opt(date) opt(subject) opt(in_reply_to) opt(message_id)
//!             addrs(from) addrs(sender) addrs(reply_to) addrs(to) addrs(cc) addrs(bcc)
//! addrs     = count *address
//! address   = opt(name) opt(adl) opt(mailbox) opt(host)
//! part      = header_start (body_start - header_start) (end - body_start)
//!             bytes(type) bytes(subtype) params
//!             opt(id) opt(description) bytes(encoding) opt(md5) opt(location)
//!             (0 / 1 bytes(disposition) params) count *bytes(language)
//!             body_octets body_lines count *part (0 / 1 envelope part)
//! params    = count *(bytes(attribute) bytes(value))
//! bytes     = length *octet
//! opt       = 0 (absent) / length+1 *octet
//! ```
//!
//! `header_len` is not stored: it is `root.body_start`. Offsets are
//! stored as deltas so that most fit in one or two bytes.

use super::MAX_DEPTH;
use super::summary::{Address, Envelope, Param, Part, Summary};

/// Current format version, the first byte of every record.
const VERSION: u8 = 2;

/// Appends the encoding of `summary` to `out`.
pub(super) fn encode(summary: &Summary, out: &mut Vec<u8>) {
    out.push(VERSION);
    put_envelope(out, &summary.envelope);
    put_part(out, &summary.root);
}

/// Decodes a record; `None` if it is corrupt, truncated, has trailing
/// bytes, nests deeper than [`MAX_DEPTH`] or is of another version.
pub(super) fn decode(bytes: &[u8]) -> Option<Summary> {
    let mut r = Reader { buf: bytes };
    if r.byte()? != VERSION {
        return None;
    }
    let envelope = r.envelope()?;
    let root = r.part(0)?;
    if !r.buf.is_empty() {
        return None;
    }
    Some(Summary {
        envelope,
        header_len: root.body_start,
        root,
    })
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // Low seven bits with the continuation bit; the cast keeps them.
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_varint(out, n as u64);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_opt(out: &mut Vec<u8>, bytes: &Option<Vec<u8>>) {
    match bytes {
        None => out.push(0),
        Some(bytes) => {
            put_varint(out, bytes.len() as u64 + 1);
            out.extend_from_slice(bytes);
        }
    }
}

fn put_params(out: &mut Vec<u8>, params: &[Param]) {
    put_len(out, params.len());
    for (attribute, value) in params {
        put_bytes(out, attribute);
        put_bytes(out, value);
    }
}

fn put_envelope(out: &mut Vec<u8>, e: &Envelope) {
    for text in [&e.date, &e.subject, &e.in_reply_to, &e.message_id] {
        put_opt(out, text);
    }
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        put_len(out, list.len());
        for a in list {
            for field in [&a.name, &a.adl, &a.mailbox, &a.host] {
                put_opt(out, field);
            }
        }
    }
}

fn put_part(out: &mut Vec<u8>, p: &Part) {
    put_varint(out, p.header_start.into());
    // Deltas; a hand-built part with offsets out of order still encodes
    // (as zero deltas) rather than wrapping.
    put_varint(out, p.body_start.saturating_sub(p.header_start).into());
    put_varint(out, p.end.saturating_sub(p.body_start).into());
    put_bytes(out, &p.media_type);
    put_bytes(out, &p.media_subtype);
    put_params(out, &p.params);
    put_opt(out, &p.id);
    put_opt(out, &p.description);
    put_bytes(out, &p.encoding);
    put_opt(out, &p.md5);
    put_opt(out, &p.location);
    match &p.disposition {
        None => out.push(0),
        Some((kind, params)) => {
            out.push(1);
            put_bytes(out, kind);
            put_params(out, params);
        }
    }
    put_len(out, p.language.len());
    for tag in &p.language {
        put_bytes(out, tag);
    }
    put_varint(out, p.body_octets.into());
    put_varint(out, p.body_lines.into());
    put_len(out, p.children.len());
    for child in &p.children {
        put_part(out, child);
    }
    match &p.message {
        None => out.push(0),
        Some(message) => {
            out.push(1);
            put_envelope(out, &message.0);
            put_part(out, &message.1);
        }
    }
}

/// A cursor over an untrusted record; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            // The tenth byte may only hold the top bit of a u64.
            if shift == 63 && b > 1 {
                return None;
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }

    /// A count of items that follow. Each item takes at least one byte, so
    /// a count larger than what is left is corrupt. Vectors are not sized
    /// from counts: a forged one must not reserve memory.
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        (n <= self.buf.len()).then_some(n)
    }

    fn take(&mut self, len: usize) -> Option<Vec<u8>> {
        let (bytes, rest) = self.buf.split_at_checked(len)?;
        self.buf = rest;
        Some(bytes.to_vec())
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.take(len)
    }

    fn opt(&mut self) -> Option<Option<Vec<u8>>> {
        match self.varint()? {
            0 => Some(None),
            n => self.take(usize::try_from(n - 1).ok()?).map(Some),
        }
    }

    /// A 0/1 presence flag.
    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn params(&mut self) -> Option<Vec<Param>> {
        let n = self.count()?;
        let mut params = Vec::new();
        for _ in 0..n {
            params.push((self.bytes()?, self.bytes()?));
        }
        Some(params)
    }

    fn addresses(&mut self) -> Option<Vec<Address>> {
        let n = self.count()?;
        let mut list = Vec::new();
        for _ in 0..n {
            list.push(Address {
                name: self.opt()?,
                adl: self.opt()?,
                mailbox: self.opt()?,
                host: self.opt()?,
            });
        }
        Some(list)
    }

    fn envelope(&mut self) -> Option<Envelope> {
        Some(Envelope {
            date: self.opt()?,
            subject: self.opt()?,
            in_reply_to: self.opt()?,
            message_id: self.opt()?,
            from: self.addresses()?,
            sender: self.addresses()?,
            reply_to: self.addresses()?,
            to: self.addresses()?,
            cc: self.addresses()?,
            bcc: self.addresses()?,
        })
    }

    /// A part nested `depth` levels deep; deeper than [`MAX_DEPTH`] is
    /// corrupt (compute never writes it), which bounds the recursion.
    fn part(&mut self, depth: usize) -> Option<Part> {
        if depth > MAX_DEPTH {
            return None;
        }
        let header_start = self.u32()?;
        let body_start = header_start.checked_add(self.u32()?)?;
        let end = body_start.checked_add(self.u32()?)?;
        let media_type = self.bytes()?;
        let media_subtype = self.bytes()?;
        let params = self.params()?;
        let id = self.opt()?;
        let description = self.opt()?;
        let encoding = self.bytes()?;
        let md5 = self.opt()?;
        let location = self.opt()?;
        let disposition = match self.flag()? {
            false => None,
            true => Some((self.bytes()?, self.params()?)),
        };
        let n = self.count()?;
        let mut language = Vec::new();
        for _ in 0..n {
            language.push(self.bytes()?);
        }
        let body_octets = self.u32()?;
        let body_lines = self.u32()?;
        let n = self.count()?;
        let mut children = Vec::new();
        for _ in 0..n {
            children.push(self.part(depth + 1)?);
        }
        let message = match self.flag()? {
            false => None,
            true => Some(Box::new((self.envelope()?, self.part(depth + 1)?))),
        };
        Some(Part {
            header_start,
            body_start,
            end,
            media_type,
            media_subtype,
            params,
            id,
            description,
            encoding,
            md5,
            location,
            disposition,
            language,
            body_octets,
            body_lines,
            children,
            message,
        })
    }
}
