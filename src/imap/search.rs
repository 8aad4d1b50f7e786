//! SEARCH (RFC 3501 §6.4.4) evaluated against one message at a time.
//!
//! Flag, size, date, UID and MODSEQ keys read only the message record.
//! Header and text keys parse the message with mailparse, once per message
//! and only when a key needs it, and compare case-insensitively on the
//! decoded text (RFC 2047 words, transfer encodings), as users expect. The
//! decoded, lower-cased text is kept for the message's other keys, so each
//! further key costs a substring search, not another decoding.

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

/// The parsed message, made on first need, and its text lower-cased for
/// the string keys, made once per message rather than once per key: a
/// SEARCH of many TEXT keys must not decode a big message for each.
#[derive(Default)]
pub struct Parsed<'a> {
    mail: Option<Option<ParsedMail<'a>>>,
    /// Header fields: name, and value decoded and lower-cased.
    headers: Option<Vec<(String, String)>>,
    /// The text parts' bodies, decoded and lower-cased.
    bodies: Option<Vec<String>>,
}

impl<'a> Parsed<'a> {
    fn get(&mut self, raw: &'a [u8]) -> Option<&ParsedMail<'a>> {
        self.mail
            .get_or_insert_with(|| mailparse::parse_mail(raw).ok())
            .as_ref()
    }

    fn headers(&mut self, raw: &'a [u8]) -> &[(String, String)] {
        if self.headers.is_none() {
            let headers = self.get(raw).map_or_else(Vec::new, |m| {
                m.headers
                    .iter()
                    .map(|h| (h.get_key(), h.get_value().to_lowercase()))
                    .collect()
            });
            self.headers = Some(headers);
        }
        self.headers.as_deref().unwrap_or_default()
    }

    fn bodies(&mut self, raw: &'a [u8]) -> &[String] {
        if self.bodies.is_none() {
            let mut bodies = Vec::new();
            if let Some(mail) = self.get(raw) {
                text_bodies(mail, 0, &mut bodies);
            }
            self.bodies = Some(bodies);
        }
        self.bodies.as_deref().unwrap_or_default()
    }
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_lowercase()
}

/// Whether the decoded values of header `name` contain `needle`.
fn header_has<'a>(parsed: &mut Parsed<'a>, raw: &'a [u8], name: &str, needle: &[u8]) -> bool {
    let needle = lower(needle);
    parsed
        .headers(raw)
        .iter()
        .any(|(key, value)| key.eq_ignore_ascii_case(name) && value.contains(&needle))
}

/// The bodies of the text parts (and of parts without a type), decoded and
/// lower-cased, nested no deeper than 16.
fn text_bodies(mail: &ParsedMail, depth: usize, out: &mut Vec<String>) {
    if depth > 16 {
        return;
    }
    if mail.subparts.is_empty() {
        if (mail.ctype.mimetype.starts_with("text/") || mail.ctype.mimetype.is_empty())
            && let Ok(body) = mail.get_body()
        {
            out.push(body.to_lowercase());
        }
        return;
    }
    for part in &mail.subparts {
        text_bodies(part, depth + 1, out);
    }
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
            parsed.bodies(c.raw).iter().any(|b| b.contains(&needle))
        }
        SearchKey::Text(s) => {
            let needle = lower(s);
            parsed
                .headers(c.raw)
                .iter()
                .any(|(_, v)| v.contains(&needle))
                || parsed.bodies(c.raw).iter().any(|b| b.contains(&needle))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::{self, CommandKind};

    /// A message record: blob 1, `size`, internal date, MODSEQ 1, no flags.
    fn record(size: u32) -> Vec<u8> {
        let mut r = 1u64.to_be_bytes().to_vec();
        r.extend_from_slice(&size.to_be_bytes());
        r.extend_from_slice(&1_700_000_000i64.to_be_bytes());
        r.extend_from_slice(&1u64.to_be_bytes());
        r.push(0);
        r
    }

    fn search(criteria: &str, raw: &'static [u8], parsed: &mut Parsed<'static>) -> bool {
        let command = format!("a SEARCH {criteria}");
        let Ok(parse::Command {
            kind: CommandKind::Search { key, .. },
            ..
        }) = parse::parse_command(command.as_bytes())
        else {
            panic!("{criteria}");
        };
        // The view borrows its record for as long as the message.
        let record = Box::leak(record(raw.len() as u32).into_boxed_slice());
        let c = Candidate {
            seq: 1,
            uid: 1,
            view: MessageView::decode(1, record).unwrap(),
            recent: false,
            raw,
            max_seq: 1,
            max_uid: 1,
        };
        matches(&key, &c, parsed)
    }

    const MSG: &[u8] =
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: Alice <alice@example.org>\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
SGVsbG8gV09STEQ=\r\n";

    #[test]
    fn string_keys_on_decoded_text() {
        for (criteria, want) in [
            ("SUBJECT gruesse", false),
            ("SUBJECT {4}\r\nGRÜ", true),
            ("FROM alice@EXAMPLE", true),
            ("HEADER content-type plain", true),
            ("HEADER x-missing \"\"", false),
            ("HEADER subject \"\"", true),
            ("BODY world", true),
            ("BODY SGVsbG8", false),
            ("TEXT {7}\r\ngrüße", true),
            ("TEXT hello", true),
            ("TEXT nowhere", false),
        ] {
            assert_eq!(
                search(criteria, MSG, &mut Parsed::default()),
                want,
                "{criteria}"
            );
        }
    }

    #[test]
    fn text_is_decoded_once_per_message() {
        // Found by fuzzing: thousands of TEXT keys decoded and lower-cased
        // a message once per key (seconds for a 40 kB message).
        let mut parsed = Parsed::default();
        assert!(search("TEXT hello", MSG, &mut parsed));
        let body = parsed.bodies.as_ref().unwrap()[0].as_ptr();
        let keys = vec!["TEXT world"; 3000].join(" ");
        assert!(search(&keys, MSG, &mut parsed));
        assert_eq!(parsed.bodies.as_ref().unwrap()[0].as_ptr(), body);
    }
}
