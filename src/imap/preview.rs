//! PREVIEW (RFC 8970): a short plain-text preview of a message, as FETCH
//! `PREVIEW` (with the optional `(LAZY)` modifier, §3.2).
//!
//! The text is the first text/plain part that is not an attachment, or
//! failing that the first text/html one with its markup dropped, decoded
//! from its transfer encoding and charset (mailparse), with whitespace
//! runs made one space, cut to 256 characters (§3.1: "no more than 256
//! characters"). A message without such a part previews as the empty
//! string (§3.1). Only a bounded prefix of the part is decoded
//! ([`MAX_ENCODED`] bytes as stored): a 50 MB base64 part costs the same
//! as a short one. It is computed on each request, never stored, so LAZY
//! changes nothing: the preview is always "available" (§3.2 lets the
//! server return it at once).

use mailparse::body::Body;
use mailparse::{DispositionType, MailHeaderMap, ParsedMail};

/// RFC 8970 §3.1.
pub const MAX_CHARS: usize = 256;
/// Only this much of the chosen part's decoded text is stripped and
/// squeezed: 256 characters come from far less, and a huge part must not
/// cost the FETCH more than this.
const MAX_SCAN: usize = 64 * 1024;
/// Encoded bytes of the chosen part that are decoded: enough for
/// [`MAX_SCAN`] decoded bytes in any transfer encoding (quoted-printable
/// takes at most three bytes per octet).
const MAX_ENCODED: usize = 3 * MAX_SCAN;
/// Parts nest at most this deep before the walk stops (hostile input).
const MAX_DEPTH: usize = 16;

/// The preview of the message `raw`.
pub fn preview(raw: &[u8]) -> String {
    let Ok(mail) = mailparse::parse_mail(raw) else {
        return String::new();
    };
    let text = first_part(&mail, "text/plain", 0)
        .and_then(decoded_prefix)
        .map(|text| cut(&text).to_string())
        .or_else(|| {
            first_part(&mail, "text/html", 0)
                .and_then(decoded_prefix)
                .map(|html| strip_markup(cut(&html)))
        })
        .unwrap_or_default();
    squeeze(&text)
}

/// The first leaf part of `mimetype` that is not an attachment.
fn first_part<'m, 'a>(
    mail: &'m ParsedMail<'a>,
    mimetype: &str,
    depth: usize,
) -> Option<&'m ParsedMail<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    if mail.subparts.is_empty() {
        let inline = mail.get_content_disposition().disposition != DispositionType::Attachment;
        return (inline && mail.ctype.mimetype.eq_ignore_ascii_case(mimetype)).then_some(mail);
    }
    mail.subparts
        .iter()
        .find_map(|p| first_part(p, mimetype, depth + 1))
}

/// The start of `part`'s text: at most [`MAX_ENCODED`] bytes of its body
/// as stored, cut where its transfer encoding can be decoded (whole
/// base64 quads, whole quoted-printable lines), decoded from the transfer
/// encoding and charset.
fn decoded_prefix(part: &ParsedMail<'_>) -> Option<String> {
    let raw = match part.get_body_encoded() {
        Body::Base64(b) | Body::QuotedPrintable(b) => b.get_raw(),
        Body::SevenBit(b) | Body::EightBit(b) => b.get_raw(),
        Body::Binary(b) => b.get_raw(),
    };
    let encoding = part
        .headers
        .get_first_value("Content-Transfer-Encoding")
        .map(|e| e.trim().to_ascii_lowercase());
    let cleaned;
    let prefix = match encoding.as_deref() {
        Some("base64") => {
            cleaned = raw[..raw.len().min(MAX_ENCODED)]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect::<Vec<u8>>();
            &cleaned[..cleaned.len() / 4 * 4]
        }
        Some("quoted-printable") if raw.len() > MAX_ENCODED => {
            let head = &raw[..MAX_ENCODED];
            let end = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            &head[..end]
        }
        _ => &raw[..raw.len().min(MAX_ENCODED)],
    };
    match Body::new(prefix, &part.ctype, &encoding) {
        Body::Base64(b) | Body::QuotedPrintable(b) => b.get_decoded_as_string().ok(),
        Body::SevenBit(b) | Body::EightBit(b) => b.get_as_string().ok(),
        Body::Binary(b) => b.get_as_string().ok(),
    }
}

/// HTML to its text: tags dropped (and the content of style and script
/// elements), the common entities decoded.
fn strip_markup(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(64 * 1024));
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tag = &rest[open..];
        let lower: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower.starts_with("<style") {
            find_ci(tag, "</style")
        } else if lower.starts_with("<script") {
            find_ci(tag, "</script")
        } else {
            Some(0)
        };
        let Some(from) = skip_to else {
            return decode_entities(&out);
        };
        match tag[from..].find('>') {
            Some(close) => rest = &tag[from + close + 1..],
            None => return decode_entities(&out),
        }
    }
    out.push_str(rest);
    decode_entities(&out)
}

/// The first `text` up to [`MAX_SCAN`] bytes, cut at a char boundary.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(MAX_SCAN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where the ASCII `needle` first occurs in `hay`, ignoring ASCII case,
/// compared in place: lowercasing the rest of the document per `<style`
/// made stripping O(n·k).
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Whitespace runs as one space, trimmed, cut to [`MAX_CHARS`].
/// Control characters (NUL and the like) are dropped: the preview is
/// text (RFC 8970 §5), and whitespace ones are folded anyway.
fn squeeze(text: &str) -> String {
    let text: String = text
        .chars()
        .filter(|c| c.is_whitespace() || !c.is_control())
        .collect();
    let mut out = String::new();
    for (count, word) in text.split_whitespace().enumerate() {
        if count > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= MAX_CHARS {
            break;
        }
    }
    match out.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => out[..at].to_string(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_part_first_then_html_then_nothing() {
        let alt = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/html\r\n\r\n<p>html &amp; text</p>\r\n--b\r\n\
            Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
            Caf=C3=A9   au\r\n  lait\r\n--b--\r\n";
        assert_eq!(preview(alt), "Café au lait");
        let html = b"Content-Type: text/html\r\n\r\n<html><style>p {x}</style><p>Hi &lt;you&gt;</p><script>x()</script>bye</html>\r\n";
        assert_eq!(preview(html), "Hi <you> bye");
        let attached = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot this\r\n--b--\r\n";
        assert_eq!(preview(attached), "");
        let long = format!("Subject: x\r\n\r\n{}\r\n", "é".repeat(300));
        assert_eq!(preview(long.as_bytes()).chars().count(), MAX_CHARS);
    }

    #[test]
    fn rfc8970_5_preview_has_no_control_characters() {
        let raw = b"Subject: x\r\n\r\na\x00b\x07c\x1b[0m \x7f d\te\r\n";
        assert_eq!(preview(raw), "abc[0m d e");
    }

    /// A 24 MB base64 text part: only the prefix is decoded, so the
    /// preview is the same and costs what a short part costs.
    #[test]
    fn rfc8970_a_huge_part_is_decoded_only_as_far_as_the_preview_needs() {
        use base64::Engine;
        let text = "Hello world. ".repeat(1_500_000);
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        let mut body = String::new();
        for line in encoded.as_bytes().chunks(76) {
            body.push_str(std::str::from_utf8(line).unwrap());
            body.push_str("\r\n");
        }
        let raw = format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}"
        );
        let started = std::time::Instant::now();
        let p = preview(raw.as_bytes());
        let took = started.elapsed();
        assert!(p.starts_with("Hello world. Hello world."), "{p}");
        assert_eq!(p.chars().count(), MAX_CHARS);
        // The bound, not the clock: the prefix decoded is MAX_ENCODED.
        let part = mailparse::parse_mail(raw.as_bytes()).unwrap();
        assert!(decoded_prefix(&part).unwrap().len() <= MAX_ENCODED);
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        // Quoted-printable is cut at a line end, never inside an escape.
        let qp = format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
            "caf=C3=A9 =\r\n".repeat(MAX_ENCODED / 8)
        );
        let part = mailparse::parse_mail(qp.as_bytes()).unwrap();
        let decoded = decoded_prefix(&part).unwrap();
        assert!(decoded.len() <= MAX_ENCODED && decoded.starts_with("café café"));
        assert!(!decoded.contains('\u{fffd}'));
    }

    #[test]
    fn many_style_elements_strip_in_linear_time() {
        let body = "<STYLE>x</Style>".repeat(64 * 1024) + "<p>hi</p>";
        let raw = format!("Content-Type: text/html\r\n\r\n{body}\r\n");
        let started = std::time::Instant::now();
        let text = preview(raw.as_bytes());
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
        // Only the first 64 KiB are stripped, and they are all style.
        assert_eq!(text, "");
        assert_eq!(find_ci("ab<StYlE", "<style"), Some(2));
    }
}
