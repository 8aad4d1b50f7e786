//! Fuzzes a message's way from delivery to FETCH and SEARCH: the MIME
//! summary (`mime::Summary::compute`), its store encoding, BODY[section]
//! extraction, ENVELOPE and BODYSTRUCTURE rendering, and SEARCH matching.
//!
//! Checks:
//! - the summary's invariants: offsets nest inside their parent and inside
//!   the message, `header_len` is the root's body start, body sizes agree
//!   with offsets, a multipart has parts, limits are kept;
//! - the store encoding round-trips: decode(encode(s)) == s;
//! - every part the tree holds is found again by its IMAP part number and
//!   its sections are the right slices; HEADER + TEXT is the message;
//! - ENVELOPE and BODYSTRUCTURE read back (strict RFC 3501 §9 syntax) as
//!   the summary's own values, and the fetcher's response reader frames and
//!   parses the FETCH response they form;
//! - SEARCH: NOT k matches exactly when k does not, and OR k NOT k always;
//! - the SORT/THREAD keys (`SortKeys::compute`, which runs `base_subject`
//!   on the Subject) never panic and decode again, and
//!   `base_subject` on the message as text does not panic either.
//!
//! Input: a SEARCH criteria line, LF, then the message (without an LF the
//! whole input is the message).

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::imap::parse::{self, CommandKind, SearchKey};
use smolmail::imap::search::{Candidate, Parsed, matches};
use smolmail::mime::{self, Part, SortKeys, Summary};
use smolmail::store::MessageView;
use smolmail_fuzz::render_check;

fuzz_target!(|data: &[u8]| {
    let (criteria, raw) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let summary = Summary::compute(raw);
    assert_eq!(summary.root.header_start, 0);
    assert_eq!(summary.root.end as usize, raw.len());
    assert_eq!(summary.header_len, summary.root.body_start);
    let mut parts = 0;
    check_part(&summary.root, 0, &mut parts);
    assert!(parts <= mime::MAX_PARTS, "{parts} parts");

    let mut encoded = Vec::new();
    summary.encode(&mut encoded);
    assert_eq!(Summary::decode(&encoded).as_ref(), Some(&summary));

    render_check::check_sections(raw, &summary, true, usize::MAX);
    render_check::check_render(&summary);
    search(criteria, raw);
    sort_keys(raw);
});

fn sort_keys(raw: &[u8]) {
    let keys = SortKeys::compute(raw);
    let mut encoded = Vec::new();
    keys.encode(&mut encoded);
    assert!(SortKeys::decode(&encoded).is_some(), "keys decode");
    let (base, _) = mime::base_subject(&String::from_utf8_lossy(raw));
    assert!(base.len() <= raw.len() * 3);
}

fn check_part(p: &Part, depth: usize, parts: &mut usize) {
    *parts += 1;
    assert!(depth <= mime::MAX_DEPTH, "too deep");
    assert!(
        p.header_start <= p.body_start && p.body_start <= p.end,
        "{p:?}"
    );
    assert_eq!(p.body_octets, p.end - p.body_start);
    assert!(p.params.len() <= mime::MAX_PARAMS);
    assert_eq!(p.is_multipart(), !p.children.is_empty(), "{p:?}");
    let mut floor = p.body_start;
    for child in &p.children {
        assert!(child.header_start >= floor, "parts overlap");
        assert!(child.end <= p.end, "a part overruns its parent");
        floor = child.end;
        check_part(child, depth + 1, parts);
    }
    if let Some(message) = &p.message {
        assert_eq!(message.1.header_start, p.body_start);
        assert_eq!(message.1.end, p.end);
        check_part(&message.1, depth + 1, parts);
    }
}

/// A record for the candidate: blob 1, the message's size, an internal
/// date of 2023-11-14, MODSEQ 9, \Seen \Flagged, two keywords.
fn record(size: usize) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&1u64.to_be_bytes());
    r.extend_from_slice(&(size as u32).to_be_bytes());
    r.extend_from_slice(&1_700_000_000i64.to_be_bytes());
    r.extend_from_slice(&9u64.to_be_bytes());
    r.push(1 | 4);
    for keyword in [&b"$Forwarded"[..], b"work"] {
        r.push(keyword.len() as u8);
        r.extend_from_slice(keyword);
    }
    r
}

fn search(criteria: &[u8], raw: &[u8]) {
    let command = [&b"a SEARCH "[..], criteria].concat();
    let Ok(parse::Command {
        kind: CommandKind::Search { key, .. },
        ..
    }) = parse::parse_command(&command)
    else {
        return;
    };
    let record = record(raw.len());
    let view = MessageView::decode(5, &record).expect("a valid record");
    let candidate = Candidate {
        seq: 3,
        uid: 5,
        view,
        recent: true,
        raw,
        max_seq: 4,
        max_uid: 8,
    };
    let mut parsed = Parsed::default();
    let matched = matches(&key, &candidate, &mut parsed);
    let not = SearchKey::Not(Box::new(key.clone()));
    assert_eq!(matches(&not, &candidate, &mut parsed), !matched, "NOT");
    let either = SearchKey::Or(Box::new(key), Box::new(not));
    assert!(matches(&either, &candidate, &mut parsed), "OR k NOT k");
}
