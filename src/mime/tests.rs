//! Tests of message summaries: structure, envelopes, offsets, limits,
//! hostile input and the store encoding.

use super::*;

/// The body bytes of a part.
fn body<'a>(raw: &'a [u8], part: &Part) -> &'a [u8] {
    &raw[part.body_start as usize..part.end as usize]
}

/// The header bytes of a part (`BODY[n.MIME]`).
fn header<'a>(raw: &'a [u8], part: &Part) -> &'a [u8] {
    &raw[part.header_start as usize..part.body_start as usize]
}

fn s(bytes: &str) -> Option<Vec<u8>> {
    Some(bytes.as_bytes().to_vec())
}

fn param(attribute: &str, value: &str) -> Param {
    (attribute.as_bytes().to_vec(), value.as_bytes().to_vec())
}

fn mailbox(name: Option<&str>, local: &str, domain: &str) -> Address {
    Address {
        name: name.and_then(s),
        adl: None,
        mailbox: s(local),
        host: s(domain),
    }
}

fn group_start(name: &str) -> Address {
    Address {
        mailbox: s(name),
        ..Address::default()
    }
}

fn group_end() -> Address {
    Address::default()
}

/// Computes a summary and checks everything that must hold for any input:
/// offsets nest and stay in bounds, the structural invariants hold, limits
/// are kept, and the store encoding round-trips.
fn summarize(raw: &[u8]) -> Summary {
    let summary = Summary::compute(raw);
    assert_eq!(summary.header_len, summary.root.body_start);
    assert_eq!(summary.root.header_start, 0);
    assert_eq!(summary.root.end as usize, raw.len());
    check_envelope(&summary.envelope);
    let mut parts = 0;
    check_part(&summary.root, 0, &mut parts);
    assert!(parts <= MAX_PARTS, "{parts} parts");
    let mut encoded = Vec::new();
    summary.encode(&mut encoded);
    assert_eq!(encoded[0], 2);
    assert_eq!(Summary::decode(&encoded).as_ref(), Some(&summary));
    summary
}

fn check_part(p: &Part, depth: usize, parts: &mut usize) {
    *parts += 1;
    assert!(depth <= MAX_DEPTH);
    assert!(
        p.header_start <= p.body_start && p.body_start <= p.end,
        "{p:?}"
    );
    assert_eq!(p.body_octets, p.end - p.body_start);
    assert!(!p.encoding.is_empty());
    assert!(p.params.len() <= MAX_PARAMS);
    assert_eq!(p.is_multipart(), !p.children.is_empty(), "{p:?}");
    let is_rfc822 = p.media_type == b"message" && p.media_subtype == b"rfc822";
    // An encapsulated message is always message/rfc822; message/rfc822
    // may be opaque (encoded, or past the limits).
    assert!(p.message.is_none() || is_rfc822);
    if p.media_type != b"text" && !is_rfc822 {
        assert_eq!(p.body_lines, 0);
    }
    let mut previous_end = p.body_start;
    for child in &p.children {
        assert!(child.header_start >= previous_end, "children overlap");
        assert!(child.end <= p.end, "child overruns its parent");
        previous_end = child.end;
        check_part(child, depth + 1, parts);
    }
    if let Some(message) = &p.message {
        assert_eq!(message.1.header_start, p.body_start);
        assert_eq!(message.1.end, p.end);
        check_envelope(&message.0);
        check_part(&message.1, depth + 1, parts);
    }
}

/// Group markers pair up, and a mailbox always has a host.
fn check_envelope(e: &Envelope) {
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        let mut in_group = false;
        for a in list {
            if a.is_group_marker() {
                // A start marker has the group name; an end marker nothing.
                assert_eq!(a.mailbox.is_some(), !in_group, "{list:?}");
                in_group = !in_group;
            }
        }
        assert!(!in_group, "unterminated group {list:?}");
    }
}

const SIMPLE: &[u8] = b"Return-Path: <alice@example.org>\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Alice Example <alice@example.org>\r\n\
Subject: afternoon\r\n\
\x20meeting\r\n\
To: bob@example.com, \"Carol, C.\" <carol@example.net>\r\n\
Cc: =?utf-8?q?D=C3=A9sir=C3=A9e?= <desiree@example.com>\r\n\
Message-ID: <B27397-0100000@example.org>\r\n\
In-Reply-To: <prev@example.com>\r\n\
\r\n\
Hello Bob,\r\n\
see you at three.\r\n";

#[test]
fn simple_text_message() {
    let summary = summarize(SIMPLE);
    let e = &summary.envelope;
    assert_eq!(e.date, s("Mon, 7 Feb 1994 21:52:25 -0800 (PST)"));
    // Unfolded: the CRLF goes, the white space after it stays.
    assert_eq!(e.subject, s("afternoon meeting"));
    assert_eq!(e.message_id, s("<B27397-0100000@example.org>"));
    assert_eq!(e.in_reply_to, s("<prev@example.com>"));
    let alice = mailbox(Some("Alice Example"), "alice", "example.org");
    assert_eq!(e.from, vec![alice.clone()]);
    // RFC 3501 §7.4.2: absent Sender and Reply-To repeat From.
    assert_eq!(e.sender, vec![alice.clone()]);
    assert_eq!(e.reply_to, vec![alice]);
    assert_eq!(
        e.to,
        vec![
            mailbox(None, "bob", "example.com"),
            mailbox(Some("Carol, C."), "carol", "example.net"),
        ]
    );
    // Encoded words stay encoded: IMAP clients decode them.
    assert_eq!(
        e.cc,
        vec![mailbox(
            Some("=?utf-8?q?D=C3=A9sir=C3=A9e?="),
            "desiree",
            "example.com"
        )]
    );
    assert!(e.bcc.is_empty());

    let root = &summary.root;
    assert_eq!(root.media_type, b"text");
    assert_eq!(root.media_subtype, b"plain");
    assert_eq!(root.params, vec![param("charset", "us-ascii")]);
    assert_eq!(root.encoding, b"7BIT");
    assert_eq!(body(SIMPLE, root), b"Hello Bob,\r\nsee you at three.\r\n");
    assert!(header(SIMPLE, root).ends_with(b"In-Reply-To: <prev@example.com>\r\n\r\n"));
    assert_eq!(root.body_lines, 2);
    assert_eq!(root.body_octets, 31);
    assert_eq!(root.find(&[1]), Some(root));
    assert_eq!(root.find(&[]), Some(root));
    assert_eq!(root.find(&[2]), None);
    assert_eq!(root.find(&[1, 1]), None);
    assert_eq!(root.find(&[0]), None);
}

const ALTERNATIVE: &[u8] = b"From: a@example.org\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"=_alt\"\r\n\
\r\n\
This is the preamble.\r\n\
--=_alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Caf=C3=A9\r\n\
--=_alt\r\n\
Content-Type: text/html; charset=\"utf-8\"\r\n\
\r\n\
<p>Caf&eacute;</p>\r\n\
<p>bye</p>\r\n\
--=_alt--\r\n\
This is the epilogue.\r\n";

#[test]
fn multipart_alternative() {
    let summary = summarize(ALTERNATIVE);
    let root = &summary.root;
    assert_eq!(root.media_type, b"multipart");
    assert_eq!(root.media_subtype, b"alternative");
    assert_eq!(root.params, vec![param("boundary", "=_alt")]);
    // The body of a multipart is everything after its header, preamble
    // and epilogue included (what BODY[TEXT] returns).
    assert!(body(ALTERNATIVE, root).starts_with(b"This is the preamble."));
    assert_eq!(root.end as usize, ALTERNATIVE.len());
    assert_eq!(root.children.len(), 2);

    let plain = &root.children[0];
    assert_eq!(
        (&plain.media_type[..], &plain.media_subtype[..]),
        (&b"text"[..], &b"plain"[..])
    );
    assert_eq!(plain.params, vec![param("charset", "utf-8")]);
    assert_eq!(plain.encoding, b"quoted-printable");
    // The CRLF before a delimiter belongs to the delimiter.
    assert_eq!(body(ALTERNATIVE, plain), b"Caf=C3=A9");
    // Lines are LFs: a last line without one is not counted.
    assert_eq!(plain.body_lines, 0);
    assert_eq!(
        header(ALTERNATIVE, plain),
        &b"Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n"[..]
    );

    let html = &root.children[1];
    assert_eq!(html.media_subtype, b"html");
    assert_eq!(html.params, vec![param("charset", "utf-8")]);
    assert_eq!(html.encoding, b"7BIT");
    assert_eq!(body(ALTERNATIVE, html), b"<p>Caf&eacute;</p>\r\n<p>bye</p>");
    assert_eq!(html.body_lines, 1);

    assert_eq!(root.find(&[1]), Some(plain));
    assert_eq!(root.find(&[2]), Some(html));
    assert_eq!(root.find(&[3]), None);
    assert_eq!(root.find(&[1, 1]), None);
}

const MIXED: &[u8] = b"From: a@example.org\r\n\
Content-Type: multipart/mixed;\r\n\
\tboundary=\"mixed; with semicolon\"\r\n\
\r\n\
--mixed; with semicolon\r\n\
\r\n\
Part without header: text/plain by default.\r\n\
--mixed; with semicolon\r\n\
Content-Type: application/pdf; name=\"report (1).pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment;\r\n\
\x20filename=\"report (1).pdf\"; size=42\r\n\
Content-Language: en-GB, de (German)\r\n\
Content-ID: <part2@example.org>\r\n\
Content-Description: The report\r\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\
Content-Location: http://example.org/report.pdf\r\n\
\r\n\
JVBERi0xLjQK\r\n\
JSVFT0YK\r\n\
--mixed; with semicolon--\r\n";

#[test]
fn multipart_mixed_with_attachment() {
    let summary = summarize(MIXED);
    let root = &summary.root;
    assert_eq!(root.media_subtype, b"mixed");
    assert_eq!(
        root.params,
        vec![param("boundary", "mixed; with semicolon")]
    );
    assert_eq!(root.children.len(), 2);

    let text = &root.children[0];
    assert_eq!(text.media_type, b"text");
    assert_eq!(text.params, vec![param("charset", "us-ascii")]);
    assert_eq!(header(MIXED, text), b"\r\n");
    assert_eq!(
        body(MIXED, text),
        b"Part without header: text/plain by default."
    );

    let pdf = &root.children[1];
    assert_eq!(pdf.media_type, b"application");
    assert_eq!(pdf.media_subtype, b"pdf");
    assert_eq!(pdf.params, vec![param("name", "report (1).pdf")]);
    assert_eq!(pdf.encoding, b"base64");
    assert_eq!(
        pdf.disposition,
        Some((
            b"attachment".to_vec(),
            vec![param("filename", "report (1).pdf"), param("size", "42")]
        ))
    );
    assert_eq!(pdf.language, vec![b"en-GB".to_vec(), b"de".to_vec()]);
    assert_eq!(pdf.id, s("<part2@example.org>"));
    assert_eq!(pdf.description, s("The report"));
    assert_eq!(pdf.md5, s("Q2hlY2sgSW50ZWdyaXR5IQ=="));
    assert_eq!(pdf.location, s("http://example.org/report.pdf"));
    assert_eq!(body(MIXED, pdf), b"JVBERi0xLjQK\r\nJSVFT0YK");
    // Lines are only counted for text and messages.
    assert_eq!(pdf.body_lines, 0);
}

/// The inner boundary starts with the outer one: a prefix match (as
/// mailparse does) would end the outer part at the inner delimiters.
const NESTED: &[u8] = b"Content-Type: multipart/mixed; boundary=outer\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=outer-inner\r\n\
\r\n\
--outer-inner\r\n\
\r\n\
plain\r\n\
--outer-inner\r\n\
Content-Type: text/html\r\n\
\r\n\
<b>html</b>\r\n\
--outer-inner--\r\n\
\r\n\
--outer\r\n\
Content-Type: image/png\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--outer--\r\n";

#[test]
fn nested_multipart() {
    let summary = summarize(NESTED);
    let root = &summary.root;
    assert_eq!(root.children.len(), 2);
    let alternative = &root.children[0];
    assert_eq!(alternative.media_subtype, b"alternative");
    assert_eq!(alternative.children.len(), 2);
    // The inner multipart's body runs to the outer delimiter, with its
    // epilogue (the blank line after the close delimiter).
    assert!(body(NESTED, alternative).ends_with(b"--outer-inner--\r\n"));
    assert_eq!(body(NESTED, &alternative.children[0]), b"plain");
    assert_eq!(body(NESTED, &alternative.children[1]), b"<b>html</b>");
    assert_eq!(root.children[1].media_subtype, b"png");
    assert_eq!(body(NESTED, &root.children[1]), b"iVBORw0KGgo=");

    assert_eq!(root.find(&[1]), Some(alternative));
    assert_eq!(root.find(&[1, 2]), Some(&alternative.children[1]));
    assert_eq!(root.find(&[1, 3]), None);
    assert_eq!(root.find(&[2]), Some(&root.children[1]));
    assert_eq!(root.find(&[2, 1]), None);
    assert_eq!(root.find(&[3]), None);
}

const FORWARD: &[u8] = b"From: Fwd <fwd@example.org>\r\n\
Subject: Fwd: hello\r\n\
Content-Type: multipart/mixed; boundary=b1\r\n\
\r\n\
--b1\r\n\
\r\n\
See below.\r\n\
--b1\r\n\
Content-Type: message/rfc822\r\n\
Content-Disposition: inline\r\n\
\r\n\
From: Orig <orig@example.com>\r\n\
To: Group: x@example.com;\r\n\
Subject: hello\r\n\
Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n\
Content-Type: multipart/alternative; boundary=b2\r\n\
\r\n\
--b2\r\n\
\r\n\
inner plain\r\n\
--b2\r\n\
Content-Type: text/html\r\n\
\r\n\
<i>inner</i>\r\n\
--b2--\r\n\
--b1--\r\n";

#[test]
fn message_rfc822_containing_multipart() {
    let summary = summarize(FORWARD);
    let root = &summary.root;
    assert_eq!(summary.envelope.subject, s("Fwd: hello"));
    let forwarded = &root.children[1];
    assert_eq!(
        (&forwarded.media_type[..], &forwarded.media_subtype[..]),
        (&b"message"[..], &b"rfc822"[..])
    );
    assert_eq!(forwarded.disposition, Some((b"inline".to_vec(), vec![])));
    let (envelope, inner) = &**forwarded.message.as_ref().unwrap();
    assert_eq!(envelope.subject, s("hello"));
    assert_eq!(envelope.date, s("Tue, 1 Jan 2030 00:00:00 +0000"));
    assert_eq!(
        envelope.from,
        vec![mailbox(Some("Orig"), "orig", "example.com")]
    );
    assert_eq!(
        envelope.to,
        vec![
            group_start("Group"),
            mailbox(None, "x", "example.com"),
            group_end()
        ]
    );
    // BODY[2] is the whole encapsulated message; BODY[2.HEADER] and
    // BODY[2.TEXT] are the inner root's header and body.
    assert!(body(FORWARD, forwarded).starts_with(b"From: Orig"));
    // The close delimiter's line break is the epilogue's, which ends
    // where the outer delimiter's CRLF begins: none is left.
    assert!(body(FORWARD, forwarded).ends_with(b"--b2--\r\n"));
    assert!(header(FORWARD, inner).starts_with(b"From: Orig"));
    assert!(header(FORWARD, inner).ends_with(b"boundary=b2\r\n\r\n"));
    assert!(body(FORWARD, inner).starts_with(b"--b2\r\n"));
    assert_eq!(forwarded.body_lines, 14);
    assert_eq!(inner.children.len(), 2);

    assert_eq!(root.find(&[2]), Some(forwarded));
    assert_eq!(root.find(&[2, 1]), Some(&inner.children[0]));
    assert_eq!(body(FORWARD, root.find(&[2, 1]).unwrap()), b"inner plain");
    assert_eq!(body(FORWARD, root.find(&[2, 2]).unwrap()), b"<i>inner</i>");
    assert_eq!(root.find(&[2, 3]), None);
    assert_eq!(root.find(&[2, 1, 1]), None);
}

#[test]
fn message_rfc822_with_single_part_inside() {
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n";
    let summary = summarize(raw);
    let forwarded = summary.root.find(&[1]).unwrap();
    let inner = &forwarded.message.as_ref().unwrap().1;
    // The encapsulated message is not multipart: its part 1 is its root.
    assert_eq!(summary.root.find(&[1, 1]), Some(inner));
    assert_eq!(body(raw, inner), b"inner body");
    assert_eq!(summary.root.find(&[1, 2]), None);
}

#[test]
fn encoded_message_rfc822_is_a_leaf() {
    // RFC 2046 §5.2.1 forbids encoding message/rfc822; such a part cannot
    // be parsed as a message without decoding, so it stays an opaque
    // message/rfc822 (the declared type is kept, as Dovecot keeps it).
    let raw = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
U3ViamVjdDogeA0KDQp5DQo=\r\n";
    let summary = summarize(raw);
    assert_eq!(summary.root.media_type, b"message");
    assert_eq!(summary.root.encoding, b"base64");
    assert!(summary.root.message.is_none());
}

#[test]
fn multipart_digest_defaults_to_message_rfc822() {
    let raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n\
--d\r\n\
\r\n\
From: one@example.org\r\n\
Subject: first\r\n\
\r\n\
first body\r\n\
--d\r\n\
Content-Type: text/plain\r\n\
\r\n\
explicitly text\r\n\
--d--\r\n";
    let summary = summarize(raw);
    let root = &summary.root;
    assert_eq!(root.media_subtype, b"digest");
    let first = &root.children[0];
    assert_eq!(first.media_type, b"message");
    assert_eq!(first.media_subtype, b"rfc822");
    // The digest default has no parameters.
    assert!(first.params.is_empty());
    let (envelope, inner) = &**first.message.as_ref().unwrap();
    assert_eq!(envelope.subject, s("first"));
    assert_eq!(body(raw, inner), b"first body");
    let second = &root.children[1];
    assert_eq!(second.media_type, b"text");
    // Text without a charset is us-ascii (RFC 2045 §5.1), said aloud.
    assert_eq!(second.params, vec![param("charset", "us-ascii")]);
    assert_eq!(root.find(&[1, 1]), Some(inner));
}

#[test]
fn group_addresses() {
    let raw = b"From: Boss <boss@example.org>\r\n\
To: undisclosed-recipients:;\r\n\
Cc: Friends: ann@example.org, \"Bo B.\" <bo@example.net>;, carl@example.com\r\n\
Bcc: \"Quoted Group\":;\r\n\
\r\n";
    let summary = summarize(raw);
    let e = &summary.envelope;
    assert_eq!(
        e.to,
        vec![group_start("undisclosed-recipients"), group_end()]
    );
    assert_eq!(
        e.cc,
        vec![
            group_start("Friends"),
            mailbox(None, "ann", "example.org"),
            mailbox(Some("Bo B."), "bo", "example.net"),
            group_end(),
            mailbox(None, "carl", "example.com"),
        ]
    );
    assert_eq!(e.bcc, vec![group_start("Quoted Group"), group_end()]);

    // The comma after a group separates it from what follows (mailparse
    // alone would glue it to the next name or fail on it).
    let raw = b"To: G:;,H: a@b;, \"Na, me\" <x@y>\r\n\r\n";
    let summary = summarize(raw);
    assert_eq!(
        summary.envelope.to,
        vec![
            group_start("G"),
            group_end(),
            group_start("H"),
            mailbox(None, "a", "b"),
            group_end(),
            mailbox(Some("Na, me"), "x", "y"),
        ]
    );
}

#[test]
fn address_oddities() {
    let raw = b"From: \"Latin \xe9\" <l@example.org>\r\n\
Sender: <@relay.example,@r2.example:route@example.org>\r\n\
Reply-To:\r\n\
To: nodomain, good@example.com, \"q@x\"@example.net\r\n\
Cc: \"unterminated <u@example.org>\r\n\
\r\n";
    let summary = summarize(raw);
    let e = &summary.envelope;
    // Bytes that are not UTF-8 survive unchanged.
    assert_eq!(e.from[0].name, Some(b"Latin \xe9".to_vec()));
    assert_eq!(e.from[0].mailbox, s("l"));
    assert_eq!(
        e.sender,
        vec![Address {
            name: None,
            adl: s("@relay.example,@r2.example"),
            mailbox: s("route"),
            host: s("example.org"),
        }]
    );
    // Empty Reply-To is reported as From.
    assert_eq!(e.reply_to, e.from);
    // One bad address does not hide the others; a missing domain is a
    // placeholder as Dovecot sends, never NIL (a group marker).
    assert_eq!(
        e.to,
        vec![
            mailbox(None, "nodomain", "MISSING_DOMAIN"),
            mailbox(None, "good", "example.com"),
            mailbox(None, "q@x", "example.net"),
        ]
    );
    assert_eq!(e.cc.len(), 1);
    assert_eq!(e.cc[0].host, s("example.org"));
}

#[test]
fn missing_headers() {
    let raw = b"X-Only: this\r\n\r\nbody\r\n";
    let summary = summarize(raw);
    assert_eq!(summary.envelope, Envelope::default());
    assert_eq!(summary.root.media_type, b"text");
    assert_eq!(body(raw, &summary.root), b"body\r\n");

    // No header at all: the body starts after the empty first line.
    let summary = summarize(b"\r\nonly body");
    assert_eq!(summary.header_len, 2);
    assert_eq!(summary.root.body_lines, 0);

    // No empty line: all header, empty body.
    let raw = b"Subject: no body\r\n";
    let summary = summarize(raw);
    assert_eq!(summary.envelope.subject, s("no body"));
    assert_eq!(summary.header_len as usize, raw.len());
    assert_eq!(summary.root.body_octets, 0);

    // Empty message.
    let summary = summarize(b"");
    assert_eq!(summary.root.end, 0);
    assert_eq!(summary.root.find(&[1]), Some(&summary.root));

    // Present but empty fields are empty strings, not NIL.
    let summary = summarize(b"Subject:\r\nDate: \r\n\r\n");
    assert_eq!(summary.envelope.subject, s(""));
    assert_eq!(summary.envelope.date, s(""));
}

#[test]
fn lf_only_line_endings() {
    let raw = String::from_utf8(ALTERNATIVE.to_vec())
        .unwrap()
        .replace("\r\n", "\n");
    let raw = raw.as_bytes();
    let summary = summarize(raw);
    let root = &summary.root;
    assert_eq!(root.children.len(), 2);
    assert_eq!(body(raw, &root.children[0]), b"Caf=C3=A9");
    assert_eq!(
        header(raw, &root.children[0]),
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    );
    assert_eq!(
        body(raw, &root.children[1]),
        b"<p>Caf&eacute;</p>\n<p>bye</p>"
    );
    assert_eq!(root.children[1].body_lines, 1);
    assert!(header(raw, root).ends_with(b"boundary=\"=_alt\"\n\n"));

    let raw = b"Subject: lf\n folded\n\nline 1\nline 2\n";
    let summary = summarize(raw);
    assert_eq!(summary.envelope.subject, s("lf folded"));
    assert_eq!(body(raw, &summary.root), b"line 1\nline 2\n");
    assert_eq!(summary.root.body_lines, 2);
}

#[test]
fn malformed_structure() {
    // No close delimiter: the last part runs to the end of the message.
    let raw =
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo, cut";
    let summary = summarize(raw);
    assert_eq!(summary.root.children.len(), 2);
    assert_eq!(body(raw, &summary.root.children[1]), b"two, cut");

    // A delimiter with nothing after it yields an empty part, as in
    // Dovecot.
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b";
    let summary = summarize(raw);
    assert_eq!(summary.root.children.len(), 2);
    assert_eq!(body(raw, &summary.root.children[0]), b"one");
    assert_eq!(summary.root.children[1].body_octets, 0);

    // Trailing white space after a delimiter is allowed; other text is not
    // a delimiter.
    let raw =
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \t\r\n\r\n--bc\r\n--b--junk\r\n";
    let summary = summarize(raw);
    // A line that starts with `--b` is a delimiter (RFC 2046 §5.1.1 as
    // Dovecot and c-client read it): `--bc` starts a second, empty part.
    assert_eq!(summary.root.children.len(), 2);
    assert_eq!(summary.root.children[0].body_octets, 0);
    assert_eq!(summary.root.children[1].body_octets, 0);

    // Empty parts between delimiters are parts.
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--";
    let summary = summarize(raw);
    assert_eq!(summary.root.children.len(), 2);
    assert_eq!(summary.root.children[0].body_octets, 0);

    // Multiparts that cannot be split are text (RFC 2045 §5.2).
    for raw in [
        &b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"[..],
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nx\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
    ] {
        let summary = summarize(raw);
        assert_eq!(summary.root.media_type, b"text", "{raw:?}");
        assert_eq!(summary.root.params, vec![param("charset", "us-ascii")]);
        assert!(summary.root.children.is_empty());
    }

    // Invalid Content-Types fall back to text/plain too.
    for value in [
        "",
        "text",
        "/plain",
        "text/",
        "t\u{e9}xt/plain",
        "(only a comment)",
    ] {
        let raw = format!("Content-Type: {value}\r\n\r\nx");
        let summary = summarize(raw.as_bytes());
        assert_eq!(summary.root.media_type, b"text", "{value}");
        assert_eq!(summary.root.media_subtype, b"plain", "{value}");
    }
}

#[test]
fn header_oddities() {
    // A lone CR, a continuation with nothing to continue, a line without
    // a colon, a space before the colon and repeated fields.
    let raw = b" leading continuation\r\n\
Subject : first\r\n\
Subject: second\r\n\
no colon here\r\n\
Bad\rCR: x\r\n\
CONTENT-TYPE: Text/HTML ; Charset = \"utf-8\" (comment) ; format=flowed (Plain text)\r\n\
\r\n\
body";
    let summary = summarize(raw);
    // A repeated Subject: the last one, as Dovecot shows it.
    assert_eq!(summary.envelope.subject, s("second"));
    let root = &summary.root;
    assert_eq!(root.media_type, b"text");
    assert_eq!(root.media_subtype, b"html");
    assert_eq!(
        root.params,
        vec![param("Charset", "utf-8"), param("format", "flowed")]
    );
    assert_eq!(body(raw, root), b"body");
}

#[test]
fn parameter_parsing() {
    let raw = b"Content-Type: application/octet-stream; name*0*=utf-8''%E2%82%AC;\r\n\
\x20name*1=\"uro.txt\"; junk; =x; a=\"q\\\"uote\\\\\"; b=1 ; b=2;;\r\n\
Content-Disposition: ATTACHMENT; filename=\"folded\r\n\x20name.txt\"\r\n\
\r\n";
    let summary = summarize(raw);
    assert_eq!(
        summary.root.params,
        vec![
            // RFC 2231 pieces are joined after the plain parameters.
            param("a", "q\"uote\\"),
            param("b", "1"),
            param("b", "2"),
            param("name*", "utf-8''%E2%82%ACuro.txt"),
        ]
    );
    assert_eq!(
        summary.root.disposition,
        Some((
            b"ATTACHMENT".to_vec(),
            vec![param("filename", "folded name.txt")]
        ))
    );
}

#[test]
fn garbage_bytes() {
    let mut seed = 0x2545_f491u32;
    for len in [1usize, 2, 3, 10, 100, 1000, 10_000] {
        let raw: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8
            })
            .collect();
        summarize(&raw);
    }
    for raw in [
        &b"\r"[..],
        b"\n",
        b"\r\r\r",
        b":",
        b" ",
        b"\0\0\0",
        b"--\r\n--",
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n",
        b"From: ,,,,<>,<@>,@,\"\r\nTo: ;;;:::<<<>>>\r\nCc: a:b:c@d;e;\r\n\r\n",
        b"Content-Type: text/plain; (((((\r\nContent-Language: ) , (\r\n\r\n",
    ] {
        summarize(raw);
    }
}

#[test]
fn nesting_bomb_is_bounded() {
    // 500 multiparts, each the only part of the one before.
    let levels = 500;
    let mut raw = Vec::new();
    for level in 0..levels {
        raw.extend_from_slice(
            // No boundary is a prefix of another (`l1x`, `l10x`), or the
            // inner ones would end at an outer delimiter.
            format!("Content-Type: multipart/mixed; boundary=l{level}x\r\n\r\n--l{level}x\r\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\ndeepest\r\n");
    let summary = summarize(&raw);
    let mut depth = 0;
    let mut part = &summary.root;
    while let Some(child) = part.children.first() {
        part = child;
        depth += 1;
    }
    assert_eq!(depth, MAX_DEPTH);
    // The part at the limit is opaque and holds the rest.
    assert_eq!(part.media_type, b"text");
    assert!(body(&raw, part).ends_with(b"deepest\r\n"));

    // The same with encapsulated messages.
    let mut raw = Vec::new();
    for _ in 0..levels {
        raw.extend_from_slice(b"Subject: again\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    let summary = summarize(&raw);
    let mut depth = 0;
    let mut part = &summary.root;
    while let Some(message) = &part.message {
        part = &message.1;
        depth += 1;
    }
    assert_eq!(depth, MAX_DEPTH);
    // Section lookup walks as deep as the tree goes and no deeper.
    assert!(summary.root.find(&[1; MAX_DEPTH + 1]).is_some());
    assert!(summary.root.find(&[1; MAX_DEPTH + 2]).is_none());
}

#[test]
fn part_bomb_is_bounded() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..5000 {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    let summary = summarize(&raw);
    assert_eq!(summary.root.children.len(), MAX_PARTS - 1);

    // Nested: every part a multipart of several parts.
    let mut raw = Vec::new();
    for level in 0..20 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=l{level}\r\n\r\n").as_bytes(),
        );
        for _ in 0..60 {
            raw.extend_from_slice(format!("--l{level}\r\n\r\nx\r\n").as_bytes());
        }
        raw.extend_from_slice(format!("--l{level}\r\n").as_bytes());
    }
    summarize(&raw);
}

#[test]
fn address_bomb_is_bounded() {
    let mut raw = b"From: first@example.org\r\nTo: ".to_vec();
    for i in 0..20_000 {
        raw.extend_from_slice(format!("u{i}@example.org, ").as_bytes());
    }
    raw.extend_from_slice(b"\r\nCc: G: a@b, c@d;\r\n\r\n");
    let summary = summarize(&raw);
    let e = &summary.envelope;
    assert_eq!(e.from.len(), 1);
    let total = [&e.from, &e.to, &e.cc, &e.bcc]
        .iter()
        .map(|l| l.len())
        .sum::<usize>();
    // Sender and Reply-To copy From and are not charged.
    assert!(total <= MAX_ADDRESSES);
    assert!(e.to.len() > 1000);
}

#[test]
fn round_trip_and_corrupt_records() {
    for raw in [SIMPLE, ALTERNATIVE, MIXED, NESTED, FORWARD] {
        let summary = summarize(raw);
        let mut encoded = Vec::new();
        summary.encode(&mut encoded);
        // Every strict prefix is truncated, hence corrupt.
        for len in 0..encoded.len() {
            assert_eq!(Summary::decode(&encoded[..len]), None, "{len}");
        }
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(Summary::decode(&longer), None);
        // Version 1 records (the previous parser's) are recomputed.
        let mut other_version = encoded.clone();
        other_version[0] = 1;
        assert_eq!(Summary::decode(&other_version), None);
        // Encoding appends.
        let mut appended = b"prefix".to_vec();
        summary.encode(&mut appended);
        assert_eq!(&appended[6..], &encoded[..]);
    }
    // Forged counts and lengths are refused without allocating.
    assert_eq!(Summary::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]), None);
    assert_eq!(
        Summary::decode(&[
            1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ]),
        None
    );
}

#[test]
fn compact_encoding() {
    let summary = summarize(SIMPLE);
    let mut encoded = Vec::new();
    summary.encode(&mut encoded);
    // Only a little more than the strings it holds.
    assert!(encoded.len() < 400, "{}", encoded.len());
}

/// Mutates a sample message thousands of times (flipped bytes, dropped and
/// duplicated runs, inserted structure characters) and checks every result
/// with `summarize`: no panic, offsets in bounds, round trip.
#[test]
fn fuzz_mutations() {
    let samples = [SIMPLE, ALTERNATIVE, MIXED, NESTED, FORWARD];
    let interesting: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"\r",
        b"--",
        b"--b1",
        b"--b2--",
        b"--outer-inner",
        b";",
        b"\"",
        b"(",
        b")",
        b":",
        b"<",
        b">",
        b"@",
        b",",
        b" ",
        b"Content-Type: multipart/mixed; boundary=b1\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"\r\n\r\n",
        b"\xff\xfe",
    ];
    let mut state = 0x1234_5678u64;
    let mut next = move |bound: usize| -> usize {
        // Knuth's MMIX LCG; the high bits are the good ones.
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % bound.max(1)
    };
    for round in 0..4000 {
        let mut raw = samples[round % samples.len()].to_vec();
        for _ in 0..1 + next(8) {
            let at = next(raw.len() + 1);
            match next(5) {
                0 => {
                    if let Some(b) = raw.get_mut(at) {
                        *b = next(256) as u8;
                    }
                }
                1 => {
                    let end = (at + next(16)).min(raw.len());
                    raw.drain(at..end);
                }
                2 => {
                    let end = (at + next(64)).min(raw.len());
                    let run = raw[at..end].to_vec();
                    raw.splice(at..at, run);
                }
                3 => {
                    let piece = interesting[next(interesting.len())];
                    raw.splice(at..at, piece.iter().copied());
                }
                _ => raw.truncate(at),
            }
        }
        let summary = summarize(&raw);

        // The decoder must survive corrupt records as well.
        let mut record = Vec::new();
        summary.encode(&mut record);
        for _ in 0..1 + next(4) {
            let at = next(record.len());
            if let Some(b) = record.get_mut(at) {
                *b = next(256) as u8;
            }
        }
        if let Some(decoded) = Summary::decode(&record) {
            let mut again = Vec::new();
            decoded.encode(&mut again);
            assert_eq!(Summary::decode(&again), Some(decoded));
        }
    }
}
