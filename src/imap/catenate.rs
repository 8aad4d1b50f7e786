//! CATENATE (RFC 4469): an APPEND whose message is built on the server
//! from TEXT literals and URLs naming messages, or sections of them, in the
//! user's own mailboxes (RFC 5092 IMAP URLs; URLAUTH is not offered, so a
//! URL carrying it is refused), also inside a MULTIAPPEND (§5).
//!
//! A message is assembled in two steps under one read transaction: every
//! URL is resolved to a slice of a stored message (no copy yet) and the
//! sizes summed; the total must fit APPENDLIMIT (`NO [TOOBIG]`, §5) and is
//! reserved from the memory budget (`NO [UNAVAILABLE]`, DESIGN.md
//! "Budgets") before the bytes are copied into it. A URL that does not
//! parse, names another user, or names no message or section answers
//! `NO [BADURL url]` (§5) and nothing is stored. The built messages then
//! go through the plain APPEND / MULTIAPPEND paths (quota, keywords,
//! APPENDUID).

use std::borrow::Cow;

use super::parse::{AppendMessage, CatPart, Mailbox as Name};
use super::session::Session;
use crate::mime::Summary;
use crate::net::Reservation;
use crate::store::{Reader, StoreError};

/// An RFC 5092 URL naming a message or part of one.
#[derive(Debug, PartialEq)]
struct ImapUrl {
    /// The mailbox name as stored (UTF-8).
    mailbox: String,
    uidvalidity: Option<u32>,
    uid: u32,
    /// section-spec text, %-decoded (`1.MIME`, `HEADER.FIELDS (TO)`).
    section: Option<Vec<u8>>,
    /// `;PARTIAL=offset[.length]` (RFC 5092 §6).
    partial: Option<(u32, Option<u32>)>,
}

/// Why a CATENATE failed before anything was stored.
enum Refusal {
    BadUrl(Vec<u8>),
    TooBig(u64),
    Unavailable,
    Store(StoreError),
}

impl Session {
    /// APPEND (or MULTIAPPEND) where at least one message is a CATENATE.
    pub async fn catenate(
        &mut self,
        tag: &[u8],
        name: &Name<'_>,
        messages: Vec<AppendMessage<'_>>,
    ) {
        let mut held = self.budget().empty();
        let mut built = Vec::with_capacity(messages.len());
        for m in &messages {
            if m.catenate.is_empty() {
                built.push(None);
                continue;
            }
            match self.assemble(&m.catenate, &mut held) {
                Ok(bytes) => built.push(Some(bytes)),
                Err(refusal) => return self.refuse(tag, refusal),
            }
        }
        let whole: Vec<AppendMessage<'_>> = messages
            .iter()
            .zip(&built)
            .map(|(m, b)| AppendMessage {
                flags: m.flags.clone(),
                date: m.date,
                message: b.as_deref().unwrap_or(m.message),
                utf8: m.utf8,
                catenate: Vec::new(),
            })
            .collect();
        if let [one] = &whole[..] {
            let date = one.date.as_ref().map(|d| d.unix);
            self.append(tag, name, &one.flags, date, one.message).await;
        } else {
            self.multiappend(tag, name, whole).await;
        }
        // The built messages are stored (or refused): release them.
        drop(built);
        drop(held);
    }

    /// One message from its parts, its size reserved in `held` first.
    fn assemble(&self, parts: &[CatPart<'_>], held: &mut Reservation) -> Result<Vec<u8>, Refusal> {
        let reader = self.store().read().map_err(Refusal::Store)?;
        let mut pieces: Vec<Cow<'_, [u8]>> = Vec::with_capacity(parts.len());
        let mut total: u64 = 0;
        let before = held.held();
        for part in parts {
            let piece = match part {
                CatPart::Text(text) => Cow::Borrowed(*text),
                CatPart::Url(url) => {
                    let bad = || Refusal::BadUrl(url.to_vec());
                    let parsed = parse_url(url, self.account_address()).ok_or_else(bad)?;
                    resolve(&reader, self.account_id(), &parsed)
                        .map_err(Refusal::Store)?
                        .ok_or_else(bad)?
                }
            };
            total += piece.len() as u64;
            // §5: the result must fit APPENDLIMIT; stop before summing more.
            if total > self.append_limit() {
                return Err(Refusal::TooBig(total));
            }
            // A section that had to be built (not a slice of a stored
            // message) is held until the message is assembled: counted,
            // so a command of many such parts cannot hold more than the
            // budget allows, each at most one stored message in size.
            if let Cow::Owned(built) = &piece
                && !held.grow_to(held.held().saturating_add(built.len()))
            {
                return Err(Refusal::Unavailable);
            }
            pieces.push(piece);
        }
        let size = total as usize;
        // Twice, as for an APPEND literal (`session::read`): the store
        // path copies the message once more into the delivery.
        let built: usize = pieces
            .iter()
            .filter(|p| matches!(p, Cow::Owned(_)))
            .map(|p| p.len())
            .sum();
        if !held.grow_to(held.held().saturating_add(size.saturating_mul(2))) {
            return Err(Refusal::Unavailable);
        }
        let mut message = Vec::with_capacity(size);
        for piece in &pieces {
            message.extend_from_slice(piece);
        }
        drop(pieces);
        // The built sections are gone: only the message stays counted.
        held.shrink_to(held.held().saturating_sub(built));
        debug_assert!(held.held() >= before + size * 2);
        Ok(message)
    }

    fn refuse(&mut self, tag: &[u8], refusal: Refusal) {
        match refusal {
            Refusal::BadUrl(url) => {
                log::info!(
                    "[{}] imap: CATENATE refused: URL {:?} names nothing this user can read",
                    self.id(),
                    String::from_utf8_lossy(&url)
                );
                // RFC 4469 §6 url-resp-text: no CR, LF or "]".
                let shown: String = String::from_utf8_lossy(&url)
                    .chars()
                    .map(|c| if c == ']' || c.is_control() { '?' } else { c })
                    .collect();
                self.tagged(
                    tag,
                    "NO",
                    &format!("[BADURL {shown}] CATENATE URL not usable"),
                );
            }
            Refusal::TooBig(size) => {
                log::info!(
                    "[{}] imap: CATENATE refused: the message would reach {size} octets (limit {})",
                    self.id(),
                    self.append_limit()
                );
                let text = format!(
                    "[TOOBIG] The message would exceed the limit of {} octets",
                    self.append_limit()
                );
                self.tagged(tag, "NO", &text);
            }
            Refusal::Unavailable => self.budget_spent(
                tag,
                "CATENATE refused",
                "Server busy with other messages, try again later",
            ),
            Refusal::Store(e) => self.store_failed(tag, &e),
        }
    }
}

/// The bytes a URL names, borrowed from the map where possible; `None`
/// when there is no such mailbox, UIDVALIDITY, message or section.
fn resolve<'r>(
    reader: &'r Reader,
    account_id: u64,
    url: &ImapUrl,
) -> Result<Option<Cow<'r, [u8]>>, StoreError> {
    let Some(mailbox) = reader.mailbox(account_id, &url.mailbox)? else {
        return Ok(None);
    };
    if url.uidvalidity.is_some_and(|v| v != mailbox.uidvalidity) {
        return Ok(None);
    }
    let Some(view) = reader.message(mailbox.id, url.uid)? else {
        return Ok(None);
    };
    let Some(raw) = reader.blob(view.blob_id)? else {
        return Ok(None);
    };
    let bytes = match &url.section {
        None => Cow::Borrowed(raw),
        Some(spec) => {
            let mut bracketed = Vec::with_capacity(spec.len() + 2);
            bracketed.push(b'[');
            bracketed.extend_from_slice(spec);
            bracketed.push(b']');
            let Some(section) = super::parse::parse_section(&bracketed) else {
                return Ok(None);
            };
            let summary = reader
                .summary(view.blob_id)?
                .unwrap_or_else(|| Summary::compute(raw));
            match super::section::extract(raw, &summary, &section) {
                Some(Cow::Borrowed(b)) => Cow::Borrowed(b),
                Some(Cow::Owned(b)) => Cow::Owned(b),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(match url.partial {
        None => bytes,
        Some((offset, length)) => {
            let start = (offset as usize).min(bytes.len());
            let end = length.map_or(bytes.len(), |l| {
                start.saturating_add(l as usize).min(bytes.len())
            });
            match bytes {
                Cow::Borrowed(b) => Cow::Borrowed(&b[start..end]),
                Cow::Owned(b) => Cow::Owned(b[start..end].to_vec()),
            }
        }
    }))
}

/// RFC 5092 §6 `imapurl` (`imap://[user@]host[:port]/...`) or the
/// server-relative `/mailbox;UIDVALIDITY=n/;UID=n[/;SECTION=s][/;PARTIAL=o.l]`
/// that RFC 4469's examples use. A user in the URL must be `user` (the
/// logged-in account); URLAUTH, EXPIRE and unknown parts are refused.
fn parse_url(url: &[u8], user: &str) -> Option<ImapUrl> {
    let url = std::str::from_utf8(url).ok()?;
    let path = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("imap://") => {
            let rest = &url[7..];
            let slash = rest.find('/')?;
            let authority = &rest[..slash];
            if let Some((userinfo, _host)) = authority.rsplit_once('@') {
                // `user;AUTH=mech`: the mechanism does not matter here.
                let name = userinfo.split(';').next().unwrap_or("");
                if !name.is_empty() && !unescape(name)?.eq_ignore_ascii_case(user.as_bytes()) {
                    return None;
                }
            }
            &rest[slash..]
        }
        _ => url,
    };
    let path = path.strip_prefix('/')?;
    let mut segments = path.split("/;");
    let first = segments.next()?;
    let (enc_mailbox, uidvalidity) = match find_ignore_case(first, ";UIDVALIDITY=") {
        Some(at) => (&first[..at], Some(number(&first[at + 13..])?)),
        None => (first, None),
    };
    let mut parsed = ImapUrl {
        mailbox: mailbox_name(&unescape(enc_mailbox)?)?,
        uidvalidity,
        uid: 0,
        section: None,
        partial: None,
    };
    for segment in segments {
        let (key, value) = segment.split_once('=')?;
        match key.to_ascii_uppercase().as_str() {
            "UID" if parsed.uid == 0 => parsed.uid = number(value)?,
            "SECTION" if parsed.section.is_none() && parsed.uid != 0 => {
                parsed.section = Some(unescape(value)?)
            }
            "PARTIAL" if parsed.partial.is_none() && parsed.uid != 0 => {
                let (offset, length) = match value.split_once('.') {
                    Some((o, l)) => (o.parse().ok()?, Some(number(l)?)),
                    None => (value.parse().ok()?, None),
                };
                parsed.partial = Some((offset, length));
            }
            _ => return None,
        }
    }
    (parsed.uid != 0).then_some(parsed)
}

/// A non-zero decimal number (RFC 5092 nz-number).
fn number(text: &str) -> Option<u32> {
    let n: u32 = text.parse().ok()?;
    (n != 0 && text.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_uppercase()
        .find(&needle.to_ascii_uppercase())
}

/// RFC 3986 %-escapes undone; a bad escape makes the URL unusable.
fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The stored name of a URL's mailbox: RFC 5092 §3.4 puts it in UTF-8;
/// an ASCII name is also read as modified UTF-7, as IMAP4rev1 clients
/// copy the wire name into the URL.
fn mailbox_name(decoded: &[u8]) -> Option<String> {
    if decoded.is_empty() {
        return None;
    }
    if decoded.eq_ignore_ascii_case(b"INBOX") {
        return Some("INBOX".into());
    }
    if decoded.is_ascii() {
        return crate::wire::imap::mutf7::decode(decoded)
            .ok()
            .or_else(|| String::from_utf8(decoded.to_vec()).ok());
    }
    String::from_utf8(decoded.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Option<ImapUrl> {
        parse_url(text.as_bytes(), "me@home.arpa")
    }

    /// RFC 5092 §6 forms RFC 4469 §5 clients send: relative to the
    /// server, absolute with the user, with SECTION and PARTIAL.
    #[test]
    fn rfc5092_6_urls_parsed() {
        assert_eq!(
            url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME"),
            Some(ImapUrl {
                mailbox: "Drafts".into(),
                uidvalidity: Some(385759045),
                uid: 20,
                section: Some(b"1.MIME".to_vec()),
                partial: None,
            })
        );
        let abs = url("imap://me%40home.arpa;AUTH=*@mail.home.arpa:143/Work%2FA/;UID=3/;SECTION=HEADER.FIELDS%20(TO)/;PARTIAL=10.5")
            .unwrap();
        assert_eq!(abs.mailbox, "Work/A");
        assert_eq!((abs.uidvalidity, abs.uid), (None, 3));
        assert_eq!(abs.section.as_deref(), Some(&b"HEADER.FIELDS (TO)"[..]));
        assert_eq!(abs.partial, Some((10, Some(5))));
        assert_eq!(url("/inbox/;UID=1").unwrap().mailbox, "INBOX");
        assert_eq!(url("/Entw&APw-rfe/;UID=1").unwrap().mailbox, "Entwürfe");
        assert_eq!(url("/Entw%C3%BCrfe/;UID=1").unwrap().mailbox, "Entwürfe");
    }

    /// RFC 4469 §5 BADURL cases: another user, URLAUTH, no UID, junk.
    #[test]
    fn rfc4469_5_unusable_urls_refused() {
        for bad in [
            "imap://other@host/INBOX/;UID=1",
            "/INBOX/;UID=1;URLAUTH=anonymous",
            "/INBOX/;UID=1/;URLAUTH=anonymous:internal:91354a473744909de610943775f92038",
            "/INBOX",
            "/INBOX/;UID=0",
            "/INBOX;UIDVALIDITY=x/;UID=1",
            "INBOX/;UID=1",
            "/INBOX/;UID=1/;PARTIAL=a",
            "/IN%ZZBOX/;UID=1",
            "http://x/INBOX/;UID=1",
        ] {
            assert_eq!(url(bad), None, "{bad}");
        }
    }
}
