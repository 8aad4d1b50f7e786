//! SEARCH (RFC 3501 §6.4.4) evaluated against one message at a time.
//!
//! Flag, size, date, UID and MODSEQ keys read only the message record.
//! Header and text keys compare case-insensitively on the decoded text
//! (RFC 2047 words, transfer encodings), as users expect. The cost of a
//! SEARCH is kept linear and interruptible:
//! - a [`Query`] is made once per command: its string needles lower-cased
//!   once and identical string keys merged, so `TEXT a` repeated 10 000
//!   times is one substring search per message;
//! - each message is parsed and decoded at most once, whatever the number
//!   of keys ([`Parsed`]), and only when a key needs it;
//! - keys are decided in two passes: first everything the record answers
//!   (a string key then left open), then the string keys still needed,
//!   on the decoded text alone. That text is owned, so the caller can
//!   close its read transaction and let other sessions run every
//!   [`YIELD_BYTES`] of text searched ([`Query::matches_yielding`]).

use std::collections::HashMap;

use mailparse::{MailHeaderMap, ParsedMail};

use super::parse::{Date, Ranges, SearchKey};
use crate::store::{Flags, MessageView};

/// Text searched between two yields to the executor: a SEARCH of many
/// string keys over a big message must not keep the one thread to itself.
pub const YIELD_BYTES: usize = 1 << 20;

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

/// The decoded, lower-cased text of one message, made on first need and
/// owned (it outlives the read transaction the message came from).
#[derive(Default)]
pub struct Texts {
    /// Header fields: name, and value decoded and lower-cased.
    headers: Option<Vec<(String, String)>>,
    /// The text parts' bodies, decoded and lower-cased.
    bodies: Option<Vec<String>>,
}

impl Texts {
    fn headers(&self) -> &[(String, String)] {
        self.headers.as_deref().unwrap_or_default()
    }

    fn bodies(&self) -> &[String] {
        self.bodies.as_deref().unwrap_or_default()
    }
}

/// One message's parse, made on first need, and its [`Texts`]: made once
/// per message rather than once per key, so a SEARCH of many keys does
/// not decode a big message for each.
#[derive(Default)]
pub struct Parsed<'a> {
    mail: Option<Option<ParsedMail<'a>>>,
    texts: Texts,
}

impl<'a> Parsed<'a> {
    fn get(&mut self, raw: &'a [u8]) -> Option<&ParsedMail<'a>> {
        self.mail
            .get_or_insert_with(|| mailparse::parse_mail(raw).ok())
            .as_ref()
    }

    /// Decodes what `field` searches, if not done yet.
    fn prepare(&mut self, raw: &'a [u8], field: &Field) {
        let headers = matches!(field, Field::Header(_) | Field::Text);
        let bodies = matches!(field, Field::Body | Field::Text);
        if headers && self.texts.headers.is_none() {
            let decoded = self.get(raw).map_or_else(Vec::new, |m| {
                m.headers
                    .iter()
                    .map(|h| (h.get_key(), h.get_value().to_lowercase()))
                    .collect()
            });
            self.texts.headers = Some(decoded);
        }
        if bodies && self.texts.bodies.is_none() {
            let mut decoded = Vec::new();
            if let Some(mail) = self.get(raw) {
                text_bodies(mail, 0, &mut decoded);
            }
            self.texts.bodies = Some(decoded);
        }
    }
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

/// Where a string key looks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Field {
    /// The values of the header fields of this name.
    Header(String),
    /// The text parts' bodies.
    Body,
    /// Every header value and the bodies.
    Text,
}

/// A string key: its field and lower-cased needle. Keys that are the same
/// share one, so each is searched once per message.
#[derive(Debug, PartialEq, Eq, Hash)]
struct StringKey {
    field: Field,
    needle: String,
}

impl StringKey {
    /// Whether the needle is in the field, and how many bytes of text that
    /// took.
    fn find(&self, texts: &Texts) -> (bool, usize) {
        let mut work = 0;
        let mut search = |text: &str| {
            work += text.len();
            text.contains(self.needle.as_str())
        };
        let found = match &self.field {
            Field::Header(name) => texts
                .headers()
                .iter()
                .any(|(key, value)| key.eq_ignore_ascii_case(name) && search(value)),
            Field::Body => texts.bodies().iter().any(|b| search(b)),
            Field::Text => {
                texts.headers().iter().any(|(_, v)| search(v))
                    || texts.bodies().iter().any(|b| search(b))
            }
        };
        (found, work)
    }
}

/// A key as evaluated: the record's keys as written, string keys by their
/// slot in [`Query::strings`]. Each leaf owns one answer slot.
enum Node<'k> {
    Record(&'k SearchKey<'k>, usize),
    /// A UID set (true) or sequence set, normalized once per command.
    Set(bool, Ranges, usize),
    String(usize),
    Not(Box<Node<'k>>),
    Or(Box<Node<'k>>, Box<Node<'k>>),
    And(Vec<Node<'k>>),
}

/// A SEARCH's keys made ready once per command.
pub struct Query<'k> {
    root: Node<'k>,
    strings: Vec<StringKey>,
    /// Answer slots: the string keys' first, then one per record key.
    slots: usize,
}

/// The answers known for one message: `None` not yet decided.
type Answers = Vec<Option<bool>>;

impl<'k> Query<'k> {
    /// The query for `key` in a mailbox whose highest sequence number and
    /// UID (the values of `*`) are `max_seq` and `max_uid`.
    pub fn new(key: &'k SearchKey<'k>, max_seq: u32, max_uid: u32) -> Query<'k> {
        let mut strings = HashMap::new();
        let mut builder = Builder {
            strings: &mut strings,
            records: 0,
            max_seq,
            max_uid,
        };
        let root = builder.build(key);
        let records = builder.records;
        let mut ordered: Vec<(StringKey, usize)> = strings.into_iter().collect();
        ordered.sort_unstable_by_key(|s| s.1);
        let strings: Vec<StringKey> = ordered.into_iter().map(|s| s.0).collect();
        let mut query = Query {
            root,
            slots: strings.len() + records,
            strings,
        };
        // Record keys' slots follow the string keys'.
        let first = query.strings.len();
        shift_records(&mut query.root, first);
        query
    }

    /// Whether `c` matches, deciding everything at once.
    pub fn matches<'a>(&self, c: &Candidate<'a>, parsed: &mut Parsed<'a>) -> bool {
        let (mut answers, pending) = self.first_pass(c, parsed);
        for i in pending {
            answers[i] = Some(self.strings[i].find(&parsed.texts).0);
        }
        self.decide(&answers)
    }

    /// Finishes what [`Query::begin`] started: searches the string keys
    /// still needed, yielding to the executor every [`YIELD_BYTES`] of
    /// text. `work` carries the bytes searched since the last yield from
    /// one message to the next.
    pub async fn matches_yielding(&self, first: FirstPass, work: &mut usize) -> bool {
        let FirstPass {
            mut answers,
            pending,
            texts,
        } = first;
        for i in pending {
            if answers[i].is_some() {
                continue;
            }
            let (found, cost) = self.strings[i].find(&texts);
            answers[i] = Some(found);
            *work += cost;
            if *work >= YIELD_BYTES {
                *work = 0;
                smol::future::yield_now().await;
            }
        }
        self.decide(&answers)
    }

    /// Everything the message record (and the message's Date: field)
    /// answers, with the message's text decoded for the string keys still
    /// needed; owned, so the caller may drop its read transaction next.
    pub fn begin<'a>(&self, c: &Candidate<'a>) -> FirstPass {
        let mut parsed = Parsed::default();
        let (answers, pending) = self.first_pass(c, &mut parsed);
        FirstPass {
            answers,
            pending,
            texts: parsed.texts,
        }
    }

    /// Evaluates with the string keys left open; returns the answers and
    /// the string keys still needed (their text decoded in `parsed`).
    fn first_pass<'a>(&self, c: &Candidate<'a>, parsed: &mut Parsed<'a>) -> (Answers, Vec<usize>) {
        let mut answers = vec![None; self.slots];
        let mut pending = Vec::new();
        let decided = eval(
            &self.root,
            &mut answers,
            &mut Some((c, &mut *parsed)),
            &mut pending,
        );
        if decided.is_some() {
            pending.clear();
        }
        for &i in &pending {
            parsed.prepare(c.raw, &self.strings[i].field);
        }
        (answers, pending)
    }

    /// The answer once the string keys a first pass left open are known.
    fn decide(&self, answers: &Answers) -> bool {
        let mut answers = answers.clone();
        let decided = eval(&self.root, &mut answers, &mut None, &mut Vec::new());
        // The first pass visited every leaf an undecided key needs.
        debug_assert!(decided.is_some());
        decided.unwrap_or(false)
    }
}

/// What [`Query::begin`] learned of one message.
pub struct FirstPass {
    answers: Answers,
    pending: Vec<usize>,
    texts: Texts,
}

impl FirstPass {
    /// Whether the record alone decided the message, so no text is needed.
    pub fn decided(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Makes the tree: string keys merged through `strings`, record keys
/// numbered from 0 in `records` (shifted past the string keys later).
struct Builder<'s> {
    strings: &'s mut HashMap<StringKey, usize>,
    records: usize,
    max_seq: u32,
    max_uid: u32,
}

impl Builder<'_> {
    fn build<'k>(&mut self, key: &'k SearchKey<'k>) -> Node<'k> {
        let header = |name: &str| Field::Header(name.to_string());
        match key {
            SearchKey::From(s) => self.text(header("From"), s),
            SearchKey::To(s) => self.text(header("To"), s),
            SearchKey::Cc(s) => self.text(header("Cc"), s),
            SearchKey::Bcc(s) => self.text(header("Bcc"), s),
            SearchKey::Subject(s) => self.text(header("Subject"), s),
            SearchKey::Header(name, s) => self.text(header(&String::from_utf8_lossy(name)), s),
            SearchKey::Body(s) => self.text(Field::Body, s),
            SearchKey::Text(s) => self.text(Field::Text, s),
            SearchKey::Not(k) => Node::Not(Box::new(self.build(k))),
            SearchKey::Or(a, b) => Node::Or(Box::new(self.build(a)), Box::new(self.build(b))),
            SearchKey::And(keys) => Node::And(keys.iter().map(|k| self.build(k)).collect()),
            SearchKey::Uid(set) => Node::Set(true, set.resolve(self.max_uid), self.record()),
            SearchKey::SequenceSet(set) => {
                Node::Set(false, set.resolve(self.max_seq), self.record())
            }
            _ => Node::Record(key, self.record()),
        }
    }

    fn text<'k>(&mut self, field: Field, needle: &[u8]) -> Node<'k> {
        let key = StringKey {
            field,
            needle: String::from_utf8_lossy(needle).to_lowercase(),
        };
        let next = self.strings.len();
        Node::String(*self.strings.entry(key).or_insert(next))
    }

    fn record(&mut self) -> usize {
        self.records += 1;
        self.records - 1
    }
}

fn shift_records(node: &mut Node<'_>, by: usize) {
    match node {
        Node::Record(_, slot) | Node::Set(_, _, slot) => *slot += by,
        Node::String(_) => {}
        Node::Not(k) => shift_records(k, by),
        Node::Or(a, b) => {
            shift_records(a, by);
            shift_records(b, by);
        }
        Node::And(keys) => keys.iter_mut().for_each(|k| shift_records(k, by)),
    }
}

/// Three-valued evaluation: `None` while an answer depends on a string key
/// not yet searched (those are added to `pending`). Record keys are
/// answered from `message` when given, else from their slot.
fn eval<'a>(
    node: &Node<'_>,
    answers: &mut Answers,
    message: &mut Option<(&Candidate<'a>, &mut Parsed<'a>)>,
    pending: &mut Vec<usize>,
) -> Option<bool> {
    match node {
        Node::Record(key, slot) => {
            if answers[*slot].is_none()
                && let Some((c, parsed)) = message
            {
                answers[*slot] = Some(record_key(key, c, parsed));
            }
            answers[*slot]
        }
        Node::Set(uid, ranges, slot) => {
            if answers[*slot].is_none()
                && let Some((c, _)) = message
            {
                let n = if *uid { c.uid } else { c.seq };
                answers[*slot] = Some(ranges.contains(n));
            }
            answers[*slot]
        }
        Node::String(i) => {
            if answers[*i].is_none() {
                pending.push(*i);
            }
            answers[*i]
        }
        Node::Not(k) => eval(k, answers, message, pending).map(|b| !b),
        Node::Or(a, b) => match eval(a, answers, message, pending) {
            Some(true) => Some(true),
            first => match (first, eval(b, answers, message, pending)) {
                (_, Some(true)) => Some(true),
                (Some(false), second) => second,
                _ => None,
            },
        },
        Node::And(keys) => {
            let mut all = Some(true);
            for k in keys {
                match eval(k, answers, message, pending) {
                    Some(false) => return Some(false),
                    None => all = None,
                    Some(true) => {}
                }
            }
            all
        }
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

/// Whether `c` matches `key` (the whole search at once; sessions make a
/// [`Query`] once per command instead).
pub fn matches<'a>(key: &SearchKey, c: &Candidate<'a>, parsed: &mut Parsed<'a>) -> bool {
    Query::new(key, c.max_seq, c.max_uid).matches(c, parsed)
}

/// A key answered by the message record (and its Date: field).
fn record_key<'a>(key: &SearchKey, c: &Candidate<'a>, parsed: &mut Parsed<'a>) -> bool {
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
        // The tree holds these as string or inner nodes, never here.
        SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Cc(_)
        | SearchKey::Bcc(_)
        | SearchKey::Subject(_)
        | SearchKey::Header(..)
        | SearchKey::Body(_)
        | SearchKey::Text(_)
        | SearchKey::Not(_)
        | SearchKey::Or(..)
        | SearchKey::And(_) => false,
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
        let body = parsed.texts.bodies.as_ref().unwrap()[0].as_ptr();
        let keys = vec!["TEXT world"; 3000].join(" ");
        assert!(search(&keys, MSG, &mut parsed));
        assert_eq!(parsed.texts.bodies.as_ref().unwrap()[0].as_ptr(), body);
    }

    fn parse_key(command: &[u8]) -> SearchKey<'_> {
        match parse::parse_command(command) {
            Ok(parse::Command {
                kind: CommandKind::Search { key, .. },
                ..
            }) => key,
            other => panic!("{other:?}"),
        }
    }

    fn candidate<'a>(seq: u32, record: &'a [u8], raw: &'a [u8], max: u32) -> Candidate<'a> {
        Candidate {
            seq,
            uid: seq,
            view: MessageView::decode(seq, record).unwrap(),
            recent: false,
            raw,
            max_seq: max,
            max_uid: max,
        }
    }

    #[test]
    fn identical_string_keys_are_searched_once_per_message() {
        let command = format!("a SEARCH {}", vec!["TEXT world"; 3000].join(" "));
        let key = parse_key(command.as_bytes());
        let query = Query::new(&key, 1, 1);
        assert_eq!(query.strings.len(), 1);
        let record = record(MSG.len() as u32);
        let first = query.begin(&candidate(1, &record, MSG, 1));
        assert!(!first.decided());
        let mut work = 0;
        assert!(smol::block_on(query.matches_yielding(first, &mut work)));
        // One search of the decoded text, not 3000.
        assert!(work < 1000, "{work} bytes searched");
    }

    #[test]
    fn record_keys_decide_without_decoding_the_text() {
        // An unseen message fails SEEN: its text is never decoded.
        let key = parse_key(b"a SEARCH SEEN TEXT world");
        let query = Query::new(&key, 1, 1);
        let record = record(MSG.len() as u32);
        let first = query.begin(&candidate(1, &record, MSG, 1));
        assert!(first.decided());
        assert!(first.texts.bodies.is_none() && first.texts.headers.is_none());
        assert!(!smol::block_on(query.matches_yielding(first, &mut 0)));
        // OR and NOT around an open string key still decide correctly.
        for (criteria, want) in [
            ("OR SEEN TEXT world", true),
            ("OR TEXT nowhere UNSEEN", true),
            ("NOT (UNSEEN TEXT world)", false),
            ("NOT TEXT nowhere", true),
            ("UNSEEN NOT OR TEXT nowhere BODY world", false),
        ] {
            assert_eq!(
                search(criteria, MSG, &mut Parsed::default()),
                want,
                "{criteria}"
            );
        }
    }

    /// Counts how often a future gave the executor back before it was done.
    struct Yields<F>(std::pin::Pin<Box<F>>, usize);

    impl<F: std::future::Future> std::future::Future for Yields<F> {
        type Output = (F::Output, usize);
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            match self.0.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => std::task::Poll::Ready((v, self.1)),
                std::task::Poll::Pending => {
                    self.1 += 1;
                    std::task::Poll::Pending
                }
            }
        }
    }

    #[test]
    fn searching_a_big_text_yields_every_few_bytes() {
        let mut raw = b"Subject: big\r\n\r\n".to_vec();
        raw.extend(b"lorem ipsum ".repeat(100_000));
        // 40 keys, none found: each of them is searched.
        let keys: Vec<String> = (0..40).map(|i| format!("NOT BODY absent{i}")).collect();
        let command = format!("a SEARCH {}", keys.join(" "));
        let key = parse_key(command.as_bytes());
        let query = Query::new(&key, 1, 1);
        let record = record(raw.len() as u32);
        let first = query.begin(&candidate(1, &record, &raw, 1));
        let mut work = 0;
        let (found, yields) = smol::block_on(Yields(
            Box::pin(query.matches_yielding(first, &mut work)),
            0,
        ));
        assert!(found);
        // Each key searches 1.2 MB, more than YIELD_BYTES: a yield after each.
        assert!(raw.len() > YIELD_BYTES);
        assert_eq!(yields, 40);
    }

    #[test]
    fn big_sequence_set_is_checked_in_log_time_per_message() {
        // 100 000 ranges against 100 000 messages: a linear scan of the
        // ranges per message would be 10¹⁰ steps.
        let n = 100_000u32;
        let set: Vec<String> = (1..=n).map(|i| (i * 2).to_string()).collect();
        let command = format!("a UID SEARCH UID {}", set.join(","));
        let key = parse_key(command.as_bytes());
        let max = 2 * n;
        let query = Query::new(&key, max, max);
        let record = record(0);
        let mut hits = 0;
        for seq in 1..=max {
            if query.matches(&candidate(seq, &record, b"", max), &mut Parsed::default()) {
                hits += 1;
            }
        }
        assert_eq!(hits, n);
    }
}
