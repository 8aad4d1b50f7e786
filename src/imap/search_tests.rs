//! Tests of SEARCH: key preparation, record-first decisions, linear costs.

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

const MSG: &[u8] = b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: Alice <alice@example.org>\r\n\
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

/// A forwarded message (message/rfc822) and a digest whose parts are
/// messages by default (RFC 2046 §5.1.5).
const ATTACHED: &[u8] = b"From: a@example.org\r\n\
To: <user (work)@ (home) example.net>, Bob (the boss) <bob@example.net>\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner subject\r\n\r\nforwarded needle\r\n\
--b\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n\
--d\r\n\r\nSubject: in digest\r\n\r\ndigest needle\r\n--d--\r\n\
--b--\r\n";

/// RFC 3501 §6.4.4: BODY and TEXT search the body of the message, and an
/// attached message (its header and its text) is part of that body.
#[test]
fn rfc3501_6_4_4_body_and_text_include_attached_messages() {
    for (criteria, want) in [
        ("BODY \"forwarded needle\"", true),
        ("BODY \"digest needle\"", true),
        ("TEXT \"inner subject\"", true),
        ("BODY \"in digest\"", true),
        ("SUBJECT \"inner subject\"", false),
    ] {
        assert_eq!(
            search(criteria, ATTACHED, &mut Parsed::default()),
            want,
            "{criteria}"
        );
    }
}

/// RFC 5322 §3.4 / §3.2.2: comments and white space are not part of an
/// address, so TO finds `user@example.net` in `<user (work)@ (home)
/// example.net>`; the comments still match as text.
#[test]
fn rfc5322_3_4_address_keys_see_addresses_without_comments() {
    for (criteria, want) in [
        ("TO user@example.net", true),
        ("TO bob@example.net", true),
        ("TO \"the boss\"", true),
        ("TO work", true),
        ("TO nobody@example.net", false),
    ] {
        assert_eq!(
            search(criteria, ATTACHED, &mut Parsed::default()),
            want,
            "{criteria}"
        );
    }
}
