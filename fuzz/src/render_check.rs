//! Checks on what IMAP FETCH sends for a summary, shared by the targets
//! that make summaries (from a message, or from a stored record): ENVELOPE
//! and BODYSTRUCTURE are rendered, read back with the strict reader of
//! [`crate::imap_value`] and compared with the summary field by field, the
//! rendered FETCH response is framed and parsed by the fetcher's own
//! reader, and every section of every part is cut from the message.

use std::borrow::Cow;

use smolmail::fetch::response::{self, Framed, Framer, Limits, Response, Untagged};
use smolmail::imap::parse::{Section, SectionText};
use smolmail::imap::{render, section};
use smolmail::mime::{Address, Envelope, Param, Part, Summary};

use crate::imap_value::{self, Value};

/// Renders the summary and checks it reads back as itself.
pub fn check_render(summary: &Summary) {
    let mut envelope = Vec::new();
    render::envelope(&mut envelope, &summary.envelope);
    let fail = |e: String| -> ! { panic!("ENVELOPE {}: {e}", String::from_utf8_lossy(&envelope)) };
    let value = imap_value::read(&envelope).unwrap_or_else(|e| fail(e));
    check_envelope(&value, &summary.envelope).unwrap_or_else(|e| fail(e));

    let mut fetch = b"* 1 FETCH (UID 7 ENVELOPE ".to_vec();
    fetch.extend_from_slice(&envelope);
    for extended in [false, true] {
        let mut body = Vec::new();
        render::body_structure(&mut body, &summary.root, extended);
        let fail =
            |e: String| -> ! { panic!("BODYSTRUCTURE {}: {e}", String::from_utf8_lossy(&body)) };
        let value = imap_value::read(&body).unwrap_or_else(|e| fail(e));
        check_body(&value, &summary.root, extended).unwrap_or_else(|e| fail(e));
        fetch.extend_from_slice(if extended {
            b" BODYSTRUCTURE "
        } else {
            b" BODY "
        });
        fetch.extend_from_slice(&body);
    }
    fetch.extend_from_slice(b")\r\n");
    check_fetcher_reads(&fetch);
}

/// Renders the summary without reading it back: a summary decoded from a
/// corrupt record need not describe any message (a multipart without
/// parts, say), but rendering it must not panic.
pub fn render_any(summary: &Summary) {
    let mut out = Vec::new();
    render::envelope(&mut out, &summary.envelope);
    render::body_structure(&mut out, &summary.root, false);
    render::body_structure(&mut out, &summary.root, true);
}

/// The fetcher, as a client of a server like this one, must frame and
/// parse what this server sends.
fn check_fetcher_reads(fetch: &[u8]) {
    let limits = Limits {
        max_line: usize::MAX,
        max_literal: u64::MAX,
    };
    let framed = Framer::default().advance(fetch, &limits);
    assert_eq!(framed, Ok(Framed::Complete(fetch.len())), "fetcher framing");
    match response::parse(fetch) {
        Ok(Response::Untagged(Untagged::Fetch(1, data))) => assert_eq!(data.uid, Some(7)),
        other => panic!("the fetcher reads our FETCH as {other:?}"),
    }
}

fn check_envelope(v: &Value, e: &Envelope) -> Result<(), String> {
    let items = v.list()?;
    if items.len() != 10 {
        return Err(format!("{} envelope fields", items.len()));
    }
    same(&items[0], e.date.as_deref(), "date")?;
    same(&items[1], e.subject.as_deref(), "subject")?;
    let lists = [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc];
    for (item, list) in items[2..8].iter().zip(lists) {
        check_addresses(item, list)?;
    }
    same(&items[8], e.in_reply_to.as_deref(), "in-reply-to")?;
    same(&items[9], e.message_id.as_deref(), "message-id")
}

fn check_addresses(v: &Value, list: &[Address]) -> Result<(), String> {
    if list.is_empty() {
        return match v {
            Value::Nil => Ok(()),
            other => Err(format!("empty address list as {other:?}")),
        };
    }
    let items = v.list()?;
    if items.len() != list.len() {
        return Err(format!("{} addresses for {}", items.len(), list.len()));
    }
    for (item, a) in items.iter().zip(list) {
        let fields = item.list()?;
        if fields.len() != 4 {
            return Err(format!("address of {} fields", fields.len()));
        }
        same(&fields[0], a.name.as_deref(), "addr-name")?;
        same(&fields[1], a.adl.as_deref(), "addr-adl")?;
        same(&fields[2], a.mailbox.as_deref(), "addr-mailbox")?;
        same(&fields[3], a.host.as_deref(), "addr-host")?;
    }
    Ok(())
}

/// Whether `v` is `want` as `render::string` sends it (NUL as 0x80).
fn same(v: &Value, want: Option<&[u8]>, what: &str) -> Result<(), String> {
    let got = v.nstring()?;
    let want: Option<Vec<u8>> =
        want.map(|w| w.iter().map(|&b| if b == 0 { 0x80 } else { b }).collect());
    if got == want.as_deref() {
        Ok(())
    } else {
        Err(format!("{what}: read {got:?}, had {want:?}"))
    }
}

fn string(v: &Value, want: &[u8], what: &str) -> Result<(), String> {
    same(v, Some(want), what)
}

fn number(v: &Value, want: u32, what: &str) -> Result<(), String> {
    match v {
        Value::Number(n) if *n == u64::from(want) => Ok(()),
        other => Err(format!("{what}: read {other:?}, had {want}")),
    }
}

fn check_params(v: &Value, params: &[Param]) -> Result<(), String> {
    if params.is_empty() {
        return same(v, None, "empty parameter list");
    }
    let items = v.list()?;
    if items.len() != params.len() * 2 {
        return Err(format!(
            "{} parameter strings for {}",
            items.len(),
            params.len()
        ));
    }
    for (pair, (attribute, value)) in items.chunks(2).zip(params) {
        string(&pair[0], attribute, "attribute")?;
        string(&pair[1], value, "value")?;
    }
    Ok(())
}

/// Disposition, language and location (RFC 3501 §9 body-ext-1part tail).
fn check_extension_tail(items: &[Value], part: &Part) -> Result<(), String> {
    let [disposition, language, location] = items else {
        return Err(format!("{} extension fields", items.len()));
    };
    match &part.disposition {
        None => same(disposition, None, "disposition")?,
        Some((kind, params)) => {
            let d = disposition.list()?;
            if d.len() != 2 {
                return Err("disposition is not a pair".into());
            }
            string(&d[0], &kind.to_ascii_uppercase(), "disposition")?;
            check_params(&d[1], params)?;
        }
    }
    match &part.language[..] {
        [] => same(language, None, "language")?,
        many => {
            let l = language.list()?;
            if l.len() != many.len() {
                return Err("language count".into());
            }
            for (v, want) in l.iter().zip(many) {
                string(v, want, "language")?;
            }
        }
    }
    same(location, part.location.as_deref(), "location")
}

fn check_body(v: &Value, part: &Part, extended: bool) -> Result<(), String> {
    let items = v.list()?;
    let upper = |s: &[u8]| s.to_ascii_uppercase();
    if part.is_multipart() {
        let n = part.children.len();
        if n == 0 || items.len() != n + if extended { 5 } else { 1 } {
            return Err(format!("multipart of {n} parts as {} items", items.len()));
        }
        for (v, child) in items.iter().zip(&part.children) {
            check_body(v, child, extended)?;
        }
        string(&items[n], &upper(&part.media_subtype), "subtype")?;
        if extended {
            check_params(&items[n + 1], &part.params)?;
            check_extension_tail(&items[n + 2..], part)?;
        }
        return Ok(());
    }
    if items.len() < 7 {
        return Err(format!("body of {} items", items.len()));
    }
    string(&items[0], &upper(&part.media_type), "type")?;
    string(&items[1], &upper(&part.media_subtype), "subtype")?;
    check_params(&items[2], &part.params)?;
    same(&items[3], part.id.as_deref(), "id")?;
    same(&items[4], part.description.as_deref(), "description")?;
    string(&items[5], &upper(&part.encoding), "encoding")?;
    number(&items[6], part.body_octets, "octets")?;
    let mut at = 7;
    if let Some(message) = &part.message {
        let [envelope, body, lines] = items.get(7..10).ok_or("short message/rfc822")? else {
            unreachable!()
        };
        check_envelope(envelope, &message.0)?;
        check_body(body, &message.1, extended)?;
        number(lines, part.body_lines, "lines")?;
        at = 10;
    } else if part.media_type == b"message" && part.media_subtype == b"rfc822" {
        // An opaque message/rfc822: an empty envelope and body stand in.
        let [_, _, lines] = items.get(7..10).ok_or("short opaque message/rfc822")? else {
            unreachable!()
        };
        number(lines, part.body_lines, "lines")?;
        at = 10;
    } else if part.media_type.eq_ignore_ascii_case(b"text") {
        number(
            items.get(7).ok_or("no line count")?,
            part.body_lines,
            "lines",
        )?;
        at = 8;
    }
    let tail = &items[at..];
    if !extended {
        return match tail.len() {
            0 => Ok(()),
            n => Err(format!("{n} extension fields in BODY")),
        };
    }
    let (md5, rest) = tail.split_first().ok_or("no MD5")?;
    same(md5, part.md5.as_deref(), "md5")?;
    check_extension_tail(rest, part)
}

/// Cuts every section of every part (at most `max_parts` of them) out of
/// `raw`; where the summary describes `raw`, also checks what is cut.
pub fn check_sections(raw: &[u8], summary: &Summary, exact: bool, max_parts: usize) {
    let names: Vec<Cow<'_, [u8]>> = vec![Cow::Borrowed(b"subject"), Cow::Borrowed(b"FROM")];
    let texts = [
        None,
        Some(SectionText::Mime),
        Some(SectionText::Header),
        Some(SectionText::Text),
        Some(SectionText::HeaderFields(names.clone())),
        Some(SectionText::HeaderFieldsNot(names)),
    ];
    let mut paths = vec![(Vec::new(), &summary.root)];
    message_parts(&summary.root, &mut Vec::new(), &mut paths, max_parts);
    for (path, part) in &paths {
        let found = summary
            .root
            .find(path)
            .expect("a path of the tree names no part");
        assert!(std::ptr::eq(found, *part), "{path:?} names another part");
        for text in &texts {
            if path.is_empty() && text == &Some(SectionText::Mime) {
                continue; // not a section (RFC 3501 §6.4.5: MIME needs a part)
            }
            let section = Section {
                part: path.clone(),
                text: text.clone(),
            };
            let got = section::extract(raw, summary, &section).expect("the part exists");
            if !exact {
                continue;
            }
            let slice = |a: u32, b: u32| &raw[a as usize..b as usize];
            match (path.is_empty(), text) {
                (true, None) => assert_eq!(&got[..], raw),
                (false, None) => assert_eq!(&got[..], slice(part.body_start, part.end)),
                (false, Some(SectionText::Mime)) => {
                    assert_eq!(&got[..], slice(part.header_start, part.body_start))
                }
                // A part's HEADER.FIELDS is that of the message it holds;
                // a part that holds none has no header (empty).
                (_, Some(SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_)))
                    if path.is_empty() || part.message.is_some() =>
                {
                    assert!(
                        got.ends_with(b"\r\n"),
                        "header fields end with a blank line"
                    )
                }
                _ => {}
            }
        }
    }
    if exact {
        let root = |text| {
            let section = Section {
                part: Vec::new(),
                text: Some(text),
            };
            section::extract(raw, summary, &section)
                .unwrap()
                .into_owned()
        };
        let whole = [root(SectionText::Header), root(SectionText::Text)].concat();
        assert_eq!(whole, raw, "HEADER and TEXT are not the message");
    }
    let beyond = vec![
        u32::try_from(summary.root.children.len())
            .unwrap_or(u32::MAX)
            .saturating_add(2),
    ];
    assert!(summary.root.find(&beyond).is_none());
    assert!(summary.root.find(&[0]).is_none());
}

/// Every part of the message whose root is `root`, with its IMAP part
/// number (RFC 3501 §6.4.5): a multipart's parts count from 1, a
/// non-multipart message has only part 1 (its root), and inside a
/// message/rfc822 part the numbering goes on with the encapsulated message.
fn message_parts<'p>(
    root: &'p Part,
    at: &mut Vec<u32>,
    out: &mut Vec<(Vec<u32>, &'p Part)>,
    max: usize,
) {
    if root.is_multipart() {
        nested_parts(root, at, out, max);
    } else if out.len() < max {
        at.push(1);
        out.push((at.clone(), root));
        nested_parts(root, at, out, max);
        at.pop();
    }
}

/// The parts inside `part`, numbered below `at`.
fn nested_parts<'p>(
    part: &'p Part,
    at: &mut Vec<u32>,
    out: &mut Vec<(Vec<u32>, &'p Part)>,
    max: usize,
) {
    if part.is_multipart() {
        for (i, child) in part.children.iter().enumerate() {
            if out.len() >= max {
                return;
            }
            at.push(i as u32 + 1);
            out.push((at.clone(), child));
            nested_parts(child, at, out, max);
            at.pop();
        }
    } else if let Some(message) = &part.message {
        message_parts(&message.1, at, out, max);
    }
}
