//! BODY[section] (RFC 3501 §6.4.5): the bytes a section names, cut from
//! the stored message with the offsets its summary holds.

use std::borrow::Cow;

use super::parse::{Section, SectionText};
use crate::mime::{Part, Summary};

/// The bytes of `section` of the message `raw` (summarised as `summary`);
/// `None` when the part does not exist.
pub fn extract<'a>(raw: &'a [u8], summary: &Summary, section: &Section) -> Option<Cow<'a, [u8]>> {
    let slice =
        |start: u32, end: u32| -> &'a [u8] { raw.get(start as usize..end as usize).unwrap_or(&[]) };
    if section.part.is_empty() {
        let root = &summary.root;
        return Some(match &section.text {
            None => Cow::Borrowed(raw),
            Some(text) => of_message(raw, root, text),
        });
    }
    let part = summary.root.find(&section.part)?;
    Some(match &section.text {
        None => Cow::Borrowed(slice(part.body_start, part.end)),
        Some(SectionText::Mime) => Cow::Borrowed(slice(part.header_start, part.body_start)),
        // HEADER and TEXT of a part are those of the message it
        // encapsulates; other parts have none (an empty string, as Dovecot).
        Some(text) => match &part.message {
            Some(message) => of_message(raw, &message.1, text),
            None => Cow::Borrowed(&[]),
        },
    })
}

fn of_message<'a>(raw: &'a [u8], root: &Part, text: &SectionText) -> Cow<'a, [u8]> {
    let header = raw
        .get(root.header_start as usize..root.body_start as usize)
        .unwrap_or(&[]);
    match text {
        SectionText::Header | SectionText::Mime => Cow::Borrowed(header),
        SectionText::Text => Cow::Borrowed(
            raw.get(root.body_start as usize..root.end as usize)
                .unwrap_or(&[]),
        ),
        SectionText::HeaderFields(names) => Cow::Owned(header_fields(header, names, true)),
        SectionText::HeaderFieldsNot(names) => Cow::Owned(header_fields(header, names, false)),
    }
}

/// The header fields named in `names` (or all others when `keep` is
/// false), each with its continuation lines, then the blank line.
pub fn header_fields(header: &[u8], names: &[Cow<'_, [u8]>], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut copying = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line
                .split(|&b| b == b':')
                .next()
                .unwrap_or(&[])
                .trim_ascii();
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
            copying = listed == keep;
        }
        if copying {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"From: a@x\r\nSubject: hello\r\n  world\r\nTo: b@y\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\npre\r\n--B\r\nContent-Type: text/plain\r\n\r\none\r\n--B\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--B--\r\n";

    fn get(path: Vec<u32>, text: Option<SectionText<'static>>) -> Option<Vec<u8>> {
        let summary = Summary::compute(MSG);
        extract(MSG, &summary, &Section { part: path, text }).map(|c| c.into_owned())
    }

    #[test]
    fn sections() {
        assert_eq!(get(vec![], None).unwrap(), MSG);
        let header = get(vec![], Some(SectionText::Header)).unwrap();
        assert!(header.starts_with(b"From: a@x\r\n") && header.ends_with(b"boundary=B\r\n\r\n"));
        assert_eq!(get(vec![1], None).unwrap(), b"one");
        assert_eq!(
            get(vec![1], Some(SectionText::Mime)).unwrap(),
            b"Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            get(vec![2], Some(SectionText::Header)).unwrap(),
            b"Subject: inner\r\n\r\n"
        );
        assert_eq!(
            get(vec![2], Some(SectionText::Text)).unwrap(),
            b"inner body"
        );
        assert_eq!(get(vec![2, 1], None).unwrap(), b"inner body");
        assert!(get(vec![3], None).is_none());
    }

    #[test]
    fn header_field_selection() {
        let names = vec![Cow::Borrowed(&b"subject"[..]), Cow::Borrowed(&b"TO"[..])];
        let header = b"From: a@x\r\nSubject: hello\r\n  world\r\nTo: b@y\r\n\r\n";
        assert_eq!(
            header_fields(header, &names, true),
            b"Subject: hello\r\n  world\r\nTo: b@y\r\n\r\n"
        );
        assert_eq!(header_fields(header, &names, false), b"From: a@x\r\n\r\n");
    }
}
