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

use mailparse::MailHeaderMap;

use super::parse::{Date, Ranges, SearchKey};
pub use super::search_text::Parsed;
use super::search_text::{Field, Texts};
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
    /// Whether deciding a message may need its bytes (a string key or a
    /// sent date); without, the caller need not look the message up.
    reads_message: bool,
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
            reads_message: !strings.is_empty() || reads_sent_date(&root),
            root,
            slots: strings.len() + records,
            strings,
        };
        // Record keys' slots follow the string keys'.
        let first = query.strings.len();
        shift_records(&mut query.root, first);
        query
    }

    /// Whether deciding a message may read its bytes: when not, a
    /// caller may hand [`Candidate::raw`] empty and skip the lookup.
    pub fn reads_message(&self) -> bool {
        self.reads_message
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

/// Whether a record key of the tree reads the Date: field of the message.
fn reads_sent_date(node: &Node<'_>) -> bool {
    match node {
        Node::Record(key, _) => matches!(
            key,
            SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_)
        ),
        Node::Set(..) | Node::String(_) => false,
        Node::Not(k) => reads_sent_date(k),
        Node::Or(a, b) => reads_sent_date(a) || reads_sent_date(b),
        Node::And(keys) => keys.iter().any(reads_sent_date),
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
        // RFC 8514 §4.2: days in UTC, like the internal date's above.
        SearchKey::SavedBefore(d) => c.view.save_date().div_euclid(86_400) < day(d),
        SearchKey::SavedOn(d) => c.view.save_date().div_euclid(86_400) == day(d),
        SearchKey::SavedSince(d) => c.view.save_date().div_euclid(86_400) >= day(d),
        // Every mailbox keeps save dates (messages from before schema 5
        // answer their internal date).
        SearchKey::SaveDateSupported => true,
        SearchKey::SentBefore(d) => sent_day(parsed, c.raw).is_some_and(|s| s < day(d)),
        SearchKey::SentOn(d) => sent_day(parsed, c.raw).is_some_and(|s| s == day(d)),
        SearchKey::SentSince(d) => sent_day(parsed, c.raw).is_some_and(|s| s >= day(d)),
        SearchKey::Uid(set) => set.contains(c.uid, c.max_uid),
        SearchKey::SequenceSet(set) => set.contains(c.seq, c.max_seq),
        SearchKey::ModSeq(m) => c.view.modseq >= *m,
        SearchKey::EmailId(id) => super::objectid::parse_email_id(id) == Some(c.view.blob_id),
        // RFC 8474 §6: THREADID is NIL for every message, so none matches.
        SearchKey::ThreadId(_) => false,
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
#[path = "search_tests.rs"]
mod tests;
