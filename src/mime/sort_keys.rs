//! The keys SORT (RFC 5256 §3, RFC 5957) and THREAD (RFC 5256 §4) order
//! and link messages by, computed from the header once at delivery and
//! stored beside the summary, so that neither command reads a message.
//!
//! Text keys are kept already folded for comparison (Unicode upper case,
//! close to Dovecot's i;unicode-casemap titlecasing), after RFC 2047
//! decoding. Every field is bounded: a hostile header costs at most
//! [`MAX_TEXT`] bytes per key and [`MAX_REFERENCES`] message ids.

use mailparse::{MailAddr, MailHeader, MailHeaderMap};

use super::base_subject::base_subject;

/// Longest folded text key kept, in bytes (cut at a character boundary).
pub const MAX_TEXT: usize = 512;
/// Most References ids kept: the last ones, nearest the parent.
pub const MAX_REFERENCES: usize = 64;
/// Format version, the first byte of the encoding.
const VERSION: u8 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortKeys {
    /// The Date header in seconds since the epoch; `None` when absent or
    /// unparseable (RFC 5256 §2.2: INTERNALDATE then stands in).
    pub sent: Option<i64>,
    /// The base subject (§2.1), folded.
    pub subject: String,
    /// The subject marked a reply or forward (§2.1, used by §4 step 5).
    pub reply: bool,
    /// addr-mailbox of the first From, To and Cc address, folded (§3).
    pub from: String,
    pub to: String,
    pub cc: String,
    /// RFC 5957 §2: the first From and To address's display name, or
    /// else its addr-spec, folded.
    pub display_from: String,
    pub display_to: String,
    /// Message-ID without its angle brackets.
    pub message_id: Option<String>,
    /// The References ids in order, or failing those the first
    /// In-Reply-To id (§4 step 1).
    pub references: Vec<String>,
}

impl SortKeys {
    /// Computes the keys from a raw message; never fails.
    pub fn compute(raw: &[u8]) -> SortKeys {
        let header = &raw[..super::header_len(raw).min(raw.len())];
        let Ok((fields, _)) = mailparse::parse_headers(header) else {
            return SortKeys::default();
        };
        let text = |name: &str| fields.get_first_header(name);
        let mut keys = SortKeys::default();
        if let Some(h) = text("Subject") {
            let (base, reply) = base_subject(&h.get_value());
            keys.subject = fold(&base);
            keys.reply = reply;
        }
        keys.sent = text("Date").and_then(|h| sent_date(&h.get_value()));
        if let Some((mailbox, display)) = text("From").and_then(first_address) {
            (keys.from, keys.display_from) = (mailbox, display);
        }
        if let Some((mailbox, display)) = text("To").and_then(first_address) {
            (keys.to, keys.display_to) = (mailbox, display);
        }
        if let Some((mailbox, _)) = text("Cc").and_then(first_address) {
            keys.cc = mailbox;
        }
        keys.message_id = text("Message-ID").and_then(|h| msg_ids(h.get_value_raw()).next());
        let mut refs: Vec<String> = text("References")
            .map(|h| msg_ids(h.get_value_raw()).collect())
            .unwrap_or_default();
        if refs.is_empty()
            && let Some(first) = text("In-Reply-To").and_then(|h| msg_ids(h.get_value_raw()).next())
        {
            refs.push(first);
        }
        let skip = refs.len().saturating_sub(MAX_REFERENCES);
        keys.references = refs.split_off(skip);
        keys
    }

    /// The sent date, or `internal` when the message has none usable.
    pub fn sent_or(&self, internal: i64) -> i64 {
        self.sent.unwrap_or(internal)
    }

    /// Appends the stored form: a version byte, flags, the date, then
    /// each text as a u16 length and its bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(
            self.sent.is_some() as u8
                | (self.reply as u8) << 1
                | (self.message_id.is_some() as u8) << 2,
        );
        out.extend_from_slice(&self.sent.unwrap_or(0).to_be_bytes());
        for t in [
            &self.subject,
            &self.from,
            &self.to,
            &self.cc,
            &self.display_from,
            &self.display_to,
        ] {
            put(out, t);
        }
        put(out, self.message_id.as_deref().unwrap_or(""));
        out.push(self.references.len() as u8);
        for r in &self.references {
            put(out, r);
        }
    }

    /// Reads [`SortKeys::encode`]'s form; `None` if corrupt or of another
    /// version (the caller then recomputes from the message).
    pub fn decode(bytes: &[u8]) -> Option<SortKeys> {
        let k = SortKeysRef::decode(bytes)?;
        let texts = [k.subject, k.from, k.to, k.cc, k.display_from, k.display_to];
        let ids = k.message_id.into_iter().chain(k.references.iter());
        texts
            .into_iter()
            .chain(ids)
            .all(|t| std::str::from_utf8(t).is_ok())
            .then(|| k.to_owned())
    }

    /// These keys lent as a [`SortKeysRef`].
    pub fn as_ref(&self) -> SortKeysRef<'_> {
        SortKeysRef {
            sent: self.sent,
            subject: self.subject.as_bytes(),
            reply: self.reply,
            from: self.from.as_bytes(),
            to: self.to.as_bytes(),
            cc: self.cc.as_bytes(),
            display_from: self.display_from.as_bytes(),
            display_to: self.display_to.as_bytes(),
            message_id: self.message_id.as_deref().map(str::as_bytes),
            references: Refs::Owned(&self.references),
        }
    }
}

/// [`SortKeys`] read in place from a stored record (or lent from owned
/// keys): SORT and THREAD read every message's record and keep one or
/// two of its texts, so nothing is allocated or checked for the rest.
/// The texts are the stored UTF-8 bytes, unchecked: SORT compares bytes,
/// and a reader that needs `str` converts the few it keeps (lossily, so a
/// damaged record costs a replacement character, never a panic).
#[derive(Clone, Copy, Debug)]
pub struct SortKeysRef<'a> {
    pub sent: Option<i64>,
    pub subject: &'a [u8],
    pub reply: bool,
    pub from: &'a [u8],
    pub to: &'a [u8],
    pub cc: &'a [u8],
    pub display_from: &'a [u8],
    pub display_to: &'a [u8],
    pub message_id: Option<&'a [u8]>,
    pub references: Refs<'a>,
}

/// The References ids of a [`SortKeysRef`].
#[derive(Clone, Copy, Debug)]
pub enum Refs<'a> {
    /// The record's tail: a count, then each id as a u16 length and its
    /// bytes, already checked by [`SortKeysRef::decode`].
    Stored(u8, &'a [u8]),
    Owned(&'a [String]),
}

impl<'a> Refs<'a> {
    pub fn len(&self) -> usize {
        match self {
            Refs::Stored(count, _) => *count as usize,
            Refs::Owned(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + Clone + 'a {
        let (mut count, mut rest, list) = match *self {
            Refs::Stored(count, rest) => (count as usize, rest, &[][..]),
            Refs::Owned(list) => (0, &[][..], list),
        };
        let stored = std::iter::from_fn(move || {
            count = count.checked_sub(1)?;
            take_text(&mut rest)
        });
        stored.chain(list.iter().map(String::as_bytes))
    }
}

impl<'a> SortKeysRef<'a> {
    /// Reads [`SortKeys::encode`]'s form in place; `None` if corrupt or
    /// of another version.
    pub fn decode(bytes: &'a [u8]) -> Option<SortKeysRef<'a>> {
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION {
            return None;
        }
        let (&flags, mut rest) = rest.split_first()?;
        let sent = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        rest = &rest[8..];
        let mut text = || take_text(&mut rest);
        let (subject, from, to, cc) = (text()?, text()?, text()?, text()?);
        let (display_from, display_to, id) = (text()?, text()?, text()?);
        let (&count, tail) = rest.split_first()?;
        // Checked once here, so `Refs::iter` meets no surprise.
        let mut check = tail;
        for _ in 0..count {
            take_text(&mut check)?;
        }
        Some(SortKeysRef {
            sent: (flags & 1 != 0).then_some(sent),
            subject,
            reply: flags & 2 != 0,
            from,
            to,
            cc,
            display_from,
            display_to,
            message_id: (flags & 4 != 0).then_some(id),
            references: Refs::Stored(count, tail),
        })
    }

    /// The sent date, or `internal` when the message has none usable.
    pub fn sent_or(&self, internal: i64) -> i64 {
        self.sent.unwrap_or(internal)
    }

    pub fn to_owned(&self) -> SortKeys {
        SortKeys {
            sent: self.sent,
            subject: text(self.subject),
            reply: self.reply,
            from: text(self.from),
            to: text(self.to),
            cc: text(self.cc),
            display_from: text(self.display_from),
            display_to: text(self.display_to),
            message_id: self.message_id.map(text),
            references: self.references.iter().map(text).collect(),
        }
    }
}

/// A stored text as a `String` (damaged bytes replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One u16-length-prefixed text off the front of `rest`.
fn take_text<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?) as usize;
    let t = rest.get(2..2 + len)?;
    *rest = &rest[2 + len..];
    Some(t)
}

fn put(out: &mut Vec<u8>, text: &str) {
    let text = cut(text, MAX_TEXT);
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A Date field's time, if it has at least a day, a month and a year:
/// mailparse's parser takes text without any ("not a date") as the
/// epoch, where RFC 5256 §2.2 wants INTERNALDATE used instead.
fn sent_date(value: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let tokens: Vec<&str> = value.split([' ', ':']).filter(|t| !t.is_empty()).collect();
    let dated = tokens.windows(3).any(|w| {
        w[0].parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
            && MONTHS
                .iter()
                // Bytes, not `str` slicing: a token like "xxé" has no char
                // boundary at 3, and a panic here aborts the server.
                .any(|m| {
                    w[1].as_bytes()
                        .get(..3)
                        .is_some_and(|b| b.eq_ignore_ascii_case(m.as_bytes()))
                })
            && w[2].parse::<u32>().is_ok()
    });
    dated.then(|| mailparse::dateparse(value).ok()).flatten()
}

/// Folds text for comparison: Unicode upper case, bounded.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    for c in text.chars().flat_map(char::to_uppercase) {
        if out.len() + c.len_utf8() > MAX_TEXT {
            break;
        }
        out.push(c);
    }
    out
}

/// The first address of an address field: its folded addr-mailbox, and
/// its folded display name or, without one, its addr-spec (RFC 5957 §2).
fn first_address(h: &MailHeader<'_>) -> Option<(String, String)> {
    let list = mailparse::addrparse_header(h).ok()?;
    let single = list.iter().find_map(|a| match a {
        MailAddr::Single(s) => Some(s.clone()),
        MailAddr::Group(g) => g.addrs.first().cloned(),
    })?;
    let mailbox = single
        .addr
        .rsplit_once('@')
        .map_or(single.addr.as_str(), |(local, _)| local);
    let display = match single.display_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => single.addr.clone(),
    };
    Some((fold(mailbox), fold(&display)))
}

/// The `<...>` message ids of a field, brackets and whitespace removed.
fn msg_ids(raw: &[u8]) -> impl Iterator<Item = String> + '_ {
    let mut rest = raw;
    std::iter::from_fn(move || {
        loop {
            let open = rest.iter().position(|&b| b == b'<')?;
            let after = &rest[open + 1..];
            let close = after.iter().position(|&b| b == b'>' || b == b'<')?;
            rest = &after[close..];
            if after[close] == b'<' {
                continue;
            }
            let id: Vec<u8> = after[..close]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            if !id.is_empty() && id.len() <= MAX_TEXT {
                return Some(String::from_utf8_lossy(&id).into_owned());
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_header_and_round_trip() {
        let raw = b"From: \"Zo\xc3\xab\" <bob@Example.org>\r\nTo: a@b, c@d\r\nCc: grp: x@y;\r\n\
Subject: Re: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
Message-ID: <m1@x>\r\nIn-Reply-To: <p@x> <q@x>\r\n\r\nbody\r\n";
        let k = SortKeys::compute(raw);
        assert_eq!(k.subject, "GRÜSSE");
        assert!(k.reply);
        assert_eq!(k.sent, Some(1057049557));
        assert_eq!((k.from.as_str(), k.display_from.as_str()), ("BOB", "ZOË"));
        assert_eq!((k.to.as_str(), k.display_to.as_str()), ("A", "A@B"));
        assert_eq!(k.cc, "X");
        assert_eq!(k.message_id.as_deref(), Some("m1@x"));
        // §4 step 1: no References, so the first In-Reply-To id.
        assert_eq!(k.references, ["p@x"]);
        let mut out = Vec::new();
        k.encode(&mut out);
        assert_eq!(
            SortKeysRef::decode(&out).map(|r| r.references.len()),
            Some(1)
        );
        assert_eq!(k.as_ref().to_owned(), k);
        assert_eq!(SortKeys::decode(&out), Some(k));
        for cut in 0..out.len() {
            assert!(SortKeys::decode(&out[..cut]).is_none(), "cut {cut}");
        }
        // Bytes that are not UTF-8: the record is refused whole (it is
        // then recomputed), and read in place they come out replaced.
        let at = out.len() - 2;
        out[at] = 0xff;
        assert!(SortKeys::decode(&out).is_none());
        let refs = SortKeysRef::decode(&out).unwrap().to_owned().references;
        assert_eq!(refs, ["p\u{fffd}x"]);
    }

    #[test]
    fn missing_and_hostile_fields_are_bounded() {
        let k = SortKeys::compute(b"Date: not a date at all\r\n\r\n");
        assert_eq!(k.sent, None);
        let k = SortKeys::compute(b"no header at all");
        assert_eq!(k.sent, None);
        assert_eq!(k.message_id, None);
        let mut raw = b"References:".to_vec();
        for i in 0..1000 {
            raw.extend_from_slice(format!(" <{i}@x>").as_bytes());
        }
        raw.extend_from_slice(b"\r\nSubject: ");
        raw.extend_from_slice(&b"x".repeat(100_000));
        raw.extend_from_slice(b"\r\n\r\n");
        let k = SortKeys::compute(&raw);
        assert_eq!(k.references.len(), MAX_REFERENCES);
        assert_eq!(k.references.last().map(String::as_str), Some("999@x"));
        assert_eq!(k.subject.len(), MAX_TEXT);
    }

    #[test]
    fn date_month_token_split_inside_a_utf8_char_does_not_panic() {
        // "xxé": byte 3 falls inside "é"; slicing the str there panicked.
        let k = SortKeys::compute("Date: 1 xx\u{e9} 2024\r\n\r\n".as_bytes());
        assert_eq!(k.sent, None);
        let k = SortKeys::compute("Date: 1 \u{e9}\u{e9} 2024\r\n\r\n".as_bytes());
        assert_eq!(k.sent, None);
    }
}
