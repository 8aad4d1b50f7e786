//! The text a SEARCH string key looks at (RFC 3501 §6.4.4): a message's
//! header fields and the bodies of its text parts, decoded (RFC 2047
//! words, transfer encodings) and lower-cased, made once per message.
//!
//! BODY and TEXT look inside attached messages (message/rfc822, and the
//! parts of a multipart/digest, which are messages by default): their
//! header and text are part of the enclosing message's body, as Dovecot
//! searches them. FROM, TO, CC and BCC also see each address without its
//! comments and white space (`<user (c)@ (c) host>` is `user@host`), as
//! the ENVELOPE shows it.

use mailparse::ParsedMail;

/// The decoded, lower-cased text of one message, made on first need and
/// owned (it outlives the read transaction the message came from).
#[derive(Default)]
pub struct Texts {
    /// Header fields: name, and value decoded and lower-cased.
    pub(super) headers: Option<Vec<(String, String)>>,
    /// The text parts' bodies, decoded and lower-cased.
    pub(super) bodies: Option<Vec<String>>,
}

impl Texts {
    pub(super) fn headers(&self) -> &[(String, String)] {
        self.headers.as_deref().unwrap_or_default()
    }

    pub(super) fn bodies(&self) -> &[String] {
        self.bodies.as_deref().unwrap_or_default()
    }
}

/// One message's parse, made on first need, and its [`Texts`]: made once
/// per message rather than once per key, so a SEARCH of many keys does
/// not decode a big message for each.
#[derive(Default)]
pub struct Parsed<'a> {
    mail: Option<Option<ParsedMail<'a>>>,
    pub(super) texts: Texts,
}

impl<'a> Parsed<'a> {
    pub(super) fn get(&mut self, raw: &'a [u8]) -> Option<&ParsedMail<'a>> {
        self.mail
            .get_or_insert_with(|| mailparse::parse_mail(raw).ok())
            .as_ref()
    }

    /// Decodes what `field` searches, if not done yet.
    pub(super) fn prepare(&mut self, raw: &'a [u8], field: &Field) {
        let headers = matches!(field, Field::Header(_) | Field::Text);
        let bodies = matches!(field, Field::Body | Field::Text);
        if headers && self.texts.headers.is_none() {
            let decoded = self.get(raw).map_or_else(Vec::new, |m| {
                m.headers
                    .iter()
                    .map(|h| (h.get_key(), header_text(h)))
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

/// The searchable text of a header field: its decoded value, and for an
/// address field also each address as the ENVELOPE has it (comments and
/// white space dropped, RFC 5322 §3.4), lower-cased.
fn header_text(h: &mailparse::MailHeader) -> String {
    let mut text = h.get_value();
    let key = h.get_key_ref();
    if ["from", "to", "cc", "bcc", "sender", "reply-to"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
    {
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&crate::mime::address_text(
            h.get_value_raw(),
        )));
    }
    text.to_lowercase()
}

/// Deepest nesting searched, attached messages included.
const MAX_TEXT_DEPTH: usize = 16;

/// The bodies of the text parts (and of parts without a type), decoded and
/// lower-cased, nested no deeper than [`MAX_TEXT_DEPTH`]. An attached
/// message (message/rfc822, the default type inside multipart/digest)
/// adds its header fields and its own text parts.
fn text_bodies(mail: &ParsedMail, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_TEXT_DEPTH {
        return;
    }
    if mail.subparts.is_empty() {
        let mimetype = mail.ctype.mimetype.as_str();
        if mimetype.eq_ignore_ascii_case("message/rfc822") {
            if let Ok(raw) = mail.get_body_raw()
                && let Ok(inner) = mailparse::parse_mail(&raw)
            {
                let header: Vec<String> = inner.headers.iter().map(header_text).collect();
                out.push(header.join("\n"));
                text_bodies(&inner, depth + 1, out);
            }
        } else if (mimetype.starts_with("text/") || mimetype.is_empty())
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
pub(super) enum Field {
    /// The values of the header fields of this name.
    Header(String),
    /// The text parts' bodies.
    Body,
    /// Every header value and the bodies.
    Text,
}
