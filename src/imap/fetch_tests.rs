//! Tests of FETCH: planning, rendering and the bounded output.

use super::*;
use std::borrow::Cow;

fn section(part: &[u32], text: Option<SectionText<'static>>) -> Section<'static> {
    Section {
        part: part.to_vec(),
        text,
    }
}

fn body(peek: bool, s: Section<'static>) -> FetchItem<'static> {
    FetchItem::BodySection {
        peek,
        section: s,
        partial: None,
    }
}

#[test]
fn plans() {
    let p = Plan::new(false, vec![FetchItem::Flags], None, false);
    assert!(!p.blob && !p.summary && !p.modseq && !p.sets_seen);
    assert_eq!(p.items, vec![FetchItem::Flags]);

    // UID FETCH gets UID first; CHANGEDSINCE gets MODSEQ last.
    let p = Plan::new(true, vec![FetchItem::Flags], Some(5), false);
    assert_eq!(
        p.items,
        vec![FetchItem::Uid, FetchItem::Flags, FetchItem::ModSeq]
    );
    assert!(p.modseq);
    let p = Plan::new(
        true,
        vec![FetchItem::ModSeq, FetchItem::Uid],
        Some(5),
        false,
    );
    assert_eq!(p.items, vec![FetchItem::ModSeq, FetchItem::Uid]);

    // BODY[] needs the bytes only; BODY[1] and ENVELOPE the summary.
    let p = Plan::new(false, vec![body(true, section(&[], None))], None, false);
    assert!(p.blob && !p.summary && !p.sets_seen);
    let p = Plan::new(false, vec![body(true, section(&[1], None))], None, false);
    assert!(p.blob && p.summary);
    let p = Plan::new(false, vec![FetchItem::Envelope], None, false);
    assert!(!p.blob && p.summary);
}

#[test]
fn which_items_set_seen() {
    let reads = [
        FetchItem::Rfc822,
        FetchItem::Rfc822Text,
        body(false, section(&[], Some(SectionText::Text))),
    ];
    for item in reads {
        assert!(Plan::new(false, vec![item.clone()], None, false).sets_seen);
        // Not in a mailbox opened with EXAMINE.
        assert!(!Plan::new(false, vec![item], None, true).sets_seen);
    }
    let peeks = [
        FetchItem::Rfc822Header,
        FetchItem::Rfc822Size,
        body(true, section(&[], None)),
    ];
    for item in peeks {
        assert!(!Plan::new(false, vec![item], None, false).sets_seen);
    }
}

#[test]
fn section_names() {
    let name = |s: Section<'_>| {
        let mut out = Vec::new();
        section_name(&mut out, &s);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(name(section(&[], None)), "");
    assert_eq!(name(section(&[1, 2], None)), "1.2");
    assert_eq!(name(section(&[], Some(SectionText::Header))), "HEADER");
    assert_eq!(name(section(&[3], Some(SectionText::Mime))), "3.MIME");
    let fields = vec![Cow::Borrowed(&b"Subject"[..]), Cow::Borrowed(&b"from"[..])];
    assert_eq!(
        name(section(&[2], Some(SectionText::HeaderFieldsNot(fields)))),
        "2.HEADER.FIELDS.NOT (SUBJECT FROM)"
    );
}

#[test]
fn partials() {
    let cut = |partial| {
        let mut out = Vec::new();
        let bytes = partial_bytes(&mut out, b"0123456789", partial);
        (String::from_utf8(out).unwrap(), bytes.to_vec())
    };
    assert_eq!(cut(None), (" ".into(), b"0123456789".to_vec()));
    let p = |origin, count| Some(Partial { origin, count });
    assert_eq!(cut(p(2, 3)), ("<2> ".into(), b"234".to_vec()));
    assert_eq!(cut(p(8, 10)), ("<8> ".into(), b"89".to_vec()));
    assert_eq!(cut(p(20, 1)), ("<20> ".into(), Vec::new()));
}
