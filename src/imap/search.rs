//! SEARCH (RFC 3501 §6.4.4) evaluated against one message at a time.
//!
//! Flag, size, date, UID and MODSEQ keys read only the message record.
//! Header and text keys parse the message with mailparse, once per message
//! and only when a key needs it, and compare case-insensitively on the
//! decoded text (RFC 2047 words, transfer encodings), as users expect.

use mailparse::{MailHeaderMap, ParsedMail};

use super::parse::{Date, SearchKey};
use crate::store::{Flags, MessageView};

/// What a search key can look at.
pub struct Candidate<'a> {
    pub seq: u32,
    pub uid: u32,
    pub view: MessageView<'a>,
    pub recent: bool,
    pub raw: &'a [u8],
    /// `*` for sequence sets and UID sets.
    pub max_seq: u32,
    pub max_uid: u32,
}

/// The parsed message, made on first need.
#[derive(Default)]
pub struct Parsed<'a> {
    mail: Option<Option<ParsedMail<'a>>>,
}

impl<'a> Parsed<'a> {
    fn get(&mut self, raw: &'a [u8]) -> Option<&ParsedMail<'a>> {
        self.mail
            .get_or_insert_with(|| mailparse::parse_mail(raw).ok())
            .as_ref()
    }
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_lowercase()
}

fn contains(haystack: &str, needle: &[u8]) -> bool {
    haystack.to_lowercase().contains(&lower(needle))
}

/// Whether the decoded values of header `name` contain `needle`.
fn header_has<'a>(parsed: &mut Parsed<'a>, raw: &'a [u8], name: &str, needle: &[u8]) -> bool {
    let Some(mail) = parsed.get(raw) else {
        return false;
    };
    mail.headers
        .get_all_values(name)
        .iter()
        .any(|v| needle.is_empty() || contains(v, needle))
}

fn body_has(mail: &ParsedMail, needle: &str, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    if mail.subparts.is_empty() {
        return match mail.ctype.mimetype.starts_with("text/") || mail.ctype.mimetype.is_empty() {
            true => mail
                .get_body()
                .is_ok_and(|b| b.to_lowercase().contains(needle)),
            false => false,
        };
    }
    mail.subparts.iter().any(|p| body_has(p, needle, depth + 1))
}

/// The day (days since 1970) of the Date: header in its own time zone.
fn sent_day<'a>(parsed: &mut Parsed<'a>, raw: &'a [u8]) -> Option<i64> {
    let mail = parsed.get(raw)?;
    let value = mail.headers.get_first_value("Date")?;
    let utc = mailparse::dateparse(&value).ok()?;
    // RFC 3501: "disregarding time and timezone": use the zone written.
    let offset = value
        .split_whitespace()
        .find_map(|w| {
            let (sign, digits) = match w.as_bytes().first()? {
                b'+' => (1, &w[1..]),
                b'-' => (-1, &w[1..]),
                _ => return None,
            };
            (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| {
                let n: i64 = digits.parse().unwrap_or(0);
                sign * ((n / 100) * 3600 + (n % 100) * 60)
            })
        })
        .unwrap_or(0);
    Some((utc + offset).div_euclid(86_400))
}

/// Whether `c` matches `key`.
pub fn matches<'a>(key: &SearchKey, c: &Candidate<'a>, parsed: &mut Parsed<'a>) -> bool {
    let flags = c.view.flags;
    let day = |d: &Date| d.days_since_epoch();
    let internal_day = c.view.internal_date.div_euclid(86_400);
    match key {
        SearchKey::All => true,
        SearchKey::Answered => flags.contains(Flags::ANSWERED),
        SearchKey::Deleted => flags.contains(Flags::DELETED),
        SearchKey::Draft => flags.contains(Flags::DRAFT),
        SearchKey::Flagged => flags.contains(Flags::FLAGGED),
        SearchKey::Seen => flags.contains(Flags::SEEN),
        SearchKey::Unanswered => !flags.contains(Flags::ANSWERED),
        SearchKey::Undeleted => !flags.contains(Flags::DELETED),
        SearchKey::Undraft => !flags.contains(Flags::DRAFT),
        SearchKey::Unflagged => !flags.contains(Flags::FLAGGED),
        SearchKey::Unseen => !flags.contains(Flags::SEEN),
        SearchKey::Recent => c.recent,
        SearchKey::New => c.recent && !flags.contains(Flags::SEEN),
        SearchKey::Old => !c.recent,
        SearchKey::Keyword(k) => c
            .view
            .keywords()
            .any(|w| w.as_bytes().eq_ignore_ascii_case(k)),
        SearchKey::Unkeyword(k) => !c
            .view
            .keywords()
            .any(|w| w.as_bytes().eq_ignore_ascii_case(k)),
        SearchKey::Larger(n) => c.view.size > *n,
        SearchKey::Smaller(n) => c.view.size < *n,
        SearchKey::Before(d) => internal_day < day(d),
        SearchKey::On(d) => internal_day == day(d),
        SearchKey::Since(d) => internal_day >= day(d),
        SearchKey::SentBefore(d) => sent_day(parsed, c.raw).is_some_and(|s| s < day(d)),
        SearchKey::SentOn(d) => sent_day(parsed, c.raw).is_some_and(|s| s == day(d)),
        SearchKey::SentSince(d) => sent_day(parsed, c.raw).is_some_and(|s| s >= day(d)),
        SearchKey::Uid(set) => set.contains(c.uid, c.max_uid),
        SearchKey::SequenceSet(set) => set.contains(c.seq, c.max_seq),
        SearchKey::ModSeq(m) => c.view.modseq >= *m,
        SearchKey::From(s) => header_has(parsed, c.raw, "From", s),
        SearchKey::To(s) => header_has(parsed, c.raw, "To", s),
        SearchKey::Cc(s) => header_has(parsed, c.raw, "Cc", s),
        SearchKey::Bcc(s) => header_has(parsed, c.raw, "Bcc", s),
        SearchKey::Subject(s) => header_has(parsed, c.raw, "Subject", s),
        SearchKey::Header(name, s) => header_has(parsed, c.raw, &String::from_utf8_lossy(name), s),
        SearchKey::Body(s) => {
            let needle = lower(s);
            parsed.get(c.raw).is_some_and(|m| body_has(m, &needle, 0))
        }
        SearchKey::Text(s) => {
            let needle = lower(s);
            parsed.get(c.raw).is_some_and(|m| {
                m.headers
                    .iter()
                    .any(|h| h.get_value().to_lowercase().contains(&needle))
                    || body_has(m, &needle, 0)
            })
        }
        SearchKey::Not(k) => !matches(k, c, parsed),
        SearchKey::Or(a, b) => matches(a, c, parsed) || matches(b, c, parsed),
        SearchKey::And(keys) => keys.iter().all(|k| matches(k, c, parsed)),
    }
}

/// Whether the key reads MODSEQ (the SEARCH response then carries the
/// highest one, RFC 7162 §3.1.5).
pub fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        _ => false,
    }
}
