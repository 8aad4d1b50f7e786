//! FETCH data items (RFC 3501 §6.4.5 and §9 fetch-att, section, partial)
//! plus RFC 7162's MODSEQ item (§3.1.4.1) and FETCH modifiers
//! (CHANGEDSINCE §3.1.4.1, VANISHED §3.2.6), and RFC 3516's BINARY,
//! BINARY.PEEK and BINARY.SIZE (§4.2).

use std::borrow::Cow;

use super::lexer::{Lexer, PResult, Upper};
use super::{MAX_LIST_ITEMS, MAX_SMALL_LIST};

/// Deepest section part path accepted (`BODY[1.2.3...]`): far more than any
/// real MIME tree, small enough to keep a path cheap.
const MAX_SECTION_PARTS: usize = 64;

/// One FETCH data item. The macros ALL, FAST and FULL arrive expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem<'a> {
    Flags,
    InternalDate,
    /// `RFC822`: the whole message, like `BODY[]` but setting \Seen.
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Rfc822Size,
    Envelope,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    /// RFC 7162 §3.1.4.1.
    ModSeq,
    /// RFC 8474 §5.1, §5.2.
    EmailId,
    ThreadId,
    /// RFC 8970 §3: `PREVIEW`, with `(LAZY)` or without.
    Preview,
    /// RFC 8514 §4.1: when the message was saved in this mailbox.
    SaveDate,
    /// `BODY[section]<partial>` or, with `peek`, `BODY.PEEK[...]`, which
    /// does not set \Seen.
    BodySection {
        peek: bool,
        section: Section<'a>,
        partial: Option<Partial>,
    },
    /// RFC 3516 §4.2 `BINARY[part]<partial>` (`BINARY.PEEK` with `peek`):
    /// the part's content with its transfer encoding removed.
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<Partial>,
    },
    /// RFC 3516 §4.2 `BINARY.SIZE[part]`: the decoded size.
    BinarySize(Vec<u32>),
}

/// RFC 3501 §9 section-spec: a part path (empty for the whole message) and
/// what of that part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section<'a> {
    /// Part numbers, each ≥ 1: `1.2` is `[1, 2]`.
    pub part: Vec<u32>,
    pub text: Option<SectionText<'a>>,
}

/// RFC 3501 §9 section-msgtext / section-text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText<'a> {
    Header,
    /// Field names as sent (match them case-insensitively).
    HeaderFields(Vec<Cow<'a, [u8]>>),
    HeaderFieldsNot(Vec<Cow<'a, [u8]>>),
    Text,
    /// Only after a part number (RFC 3501 §6.4.5).
    Mime,
}

/// `<origin.count>`: `count` octets from `origin` (RFC 3501 §6.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub origin: u32,
    /// Never 0 (RFC 3501 §9 nz-number).
    pub count: u32,
}

/// RFC 3501 §9 `fetch` after the sequence set: a macro, one item, or a
/// parenthesised list of items.
pub(super) fn parse_items<'a>(lex: &mut Lexer<'a>) -> PResult<Vec<FetchItem<'a>>> {
    if lex.peek() == Some(b'(') {
        // RFC 3501 wants at least one item; an empty list is accepted
        // because `UID FETCH n ()` has an obvious meaning (just the UIDs)
        // and some clients send it.
        return lex.paren_list(true, MAX_LIST_ITEMS, item);
    }
    let mark = lex.mark();
    use FetchItem::*;
    // RFC 3501 §6.4.5: the macros, valid only on their own.
    let expanded: &[FetchItem<'static>] = match Upper::new(lex.keyword()).as_bytes() {
        b"ALL" => &[Flags, InternalDate, Rfc822Size, Envelope],
        b"FAST" => &[Flags, InternalDate, Rfc822Size],
        b"FULL" => &[Flags, InternalDate, Rfc822Size, Envelope, Body],
        _ => {
            // Not a macro: read the word again as a single item.
            lex.reset(mark);
            return item(lex).map(|i| vec![i]);
        }
    };
    Ok(expanded.to_vec())
}

/// RFC 3501 §9 fetch-att, plus MODSEQ.
fn item<'a>(lex: &mut Lexer<'a>) -> PResult<FetchItem<'a>> {
    Ok(match Upper::new(lex.keyword()).as_bytes() {
        b"FLAGS" => FetchItem::Flags,
        b"INTERNALDATE" => FetchItem::InternalDate,
        b"RFC822" => FetchItem::Rfc822,
        b"RFC822.HEADER" => FetchItem::Rfc822Header,
        b"RFC822.TEXT" => FetchItem::Rfc822Text,
        b"RFC822.SIZE" => FetchItem::Rfc822Size,
        b"ENVELOPE" => FetchItem::Envelope,
        b"BODYSTRUCTURE" => FetchItem::BodyStructure,
        b"UID" => FetchItem::Uid,
        b"MODSEQ" => FetchItem::ModSeq,
        b"EMAILID" => FetchItem::EmailId,
        b"THREADID" => FetchItem::ThreadId,
        b"SAVEDATE" => FetchItem::SaveDate,
        b"PREVIEW" => {
            // RFC 8970 §7: ["(" preview-mod *(SP preview-mod) ")"]; LAZY
            // is the only modifier.
            let mark = lex.mark();
            if lex.eat(b' ') && lex.peek() == Some(b'(') {
                lex.paren_list(false, MAX_SMALL_LIST, |lex| {
                    match Upper::new(lex.keyword()).as_bytes() {
                        b"LAZY" => Ok(()),
                        _ => Err("unknown PREVIEW modifier"),
                    }
                })?;
            } else {
                lex.reset(mark);
            }
            FetchItem::Preview
        }
        // Plain BODY is the structure; BODY.PEEK needs a section.
        b"BODY" if lex.peek() != Some(b'[') => FetchItem::Body,
        b"BODY.PEEK" if lex.peek() != Some(b'[') => return Err("BODY.PEEK needs a section"),
        word @ (b"BODY" | b"BODY.PEEK") => {
            let peek = word == b"BODY.PEEK";
            let section = section(lex)?;
            let partial = if lex.peek() == Some(b'<') {
                Some(partial(lex)?)
            } else {
                None
            };
            FetchItem::BodySection {
                peek,
                section,
                partial,
            }
        }
        word @ (b"BINARY" | b"BINARY.PEEK") => {
            let peek = word == b"BINARY.PEEK";
            let part = section_binary(lex)?;
            let partial = if lex.peek() == Some(b'<') {
                Some(partial(lex)?)
            } else {
                None
            };
            FetchItem::Binary {
                peek,
                part,
                partial,
            }
        }
        b"BINARY.SIZE" => FetchItem::BinarySize(section_binary(lex)?),
        _ => return Err("unknown fetch item"),
    })
}

/// RFC 3516 §4.2 section-binary: `"[" [section-part] "]"`, part numbers
/// only.
fn section_binary(lex: &mut Lexer<'_>) -> PResult<Vec<u32>> {
    let section = section(lex)?;
    if section.text.is_some() {
        return Err("BINARY takes part numbers only");
    }
    Ok(section.part)
}

/// A whole `"[" [section-spec] "]"` on its own, as an IMAP URL's
/// `;SECTION=` names one (RFC 5092 §6, used by CATENATE).
pub fn parse_section(bracketed: &[u8]) -> Option<Section<'_>> {
    let mut lex = Lexer::new(bracketed);
    let section = section(&mut lex).ok()?;
    lex.at_end().then_some(section)
}

/// RFC 3501 §9 section: `"[" [section-spec] "]"`.
fn section<'a>(lex: &mut Lexer<'a>) -> PResult<Section<'a>> {
    lex.expect(b'[', "expected '['")?;
    let mut part = Vec::new();
    let mut text = None;
    if lex.peek().is_some_and(|b| b.is_ascii_digit()) {
        // section-part = nz-number *("." nz-number), then ["." section-text].
        loop {
            if part.len() >= MAX_SECTION_PARTS {
                return Err("section path too deep");
            }
            part.push(lex.nz_number().map_err(|_| "bad section part number")?);
            if !lex.eat(b'.') {
                break;
            }
            if !lex.peek().is_some_and(|b| b.is_ascii_digit()) {
                text = Some(section_text(lex, true)?);
                break;
            }
        }
    } else if lex.peek() != Some(b']') {
        text = Some(section_text(lex, false)?);
    }
    lex.expect(b']', "expected ']'")?;
    Ok(Section { part, text })
}

/// RFC 3501 §9 section-msgtext, or section-text (which adds MIME) when
/// it follows a part number.
fn section_text<'a>(lex: &mut Lexer<'a>, after_part: bool) -> PResult<SectionText<'a>> {
    Ok(match Upper::new(lex.keyword()).as_bytes() {
        b"HEADER" => SectionText::Header,
        b"TEXT" => SectionText::Text,
        b"MIME" if after_part => SectionText::Mime,
        b"MIME" => return Err("MIME needs a part number"),
        word @ (b"HEADER.FIELDS" | b"HEADER.FIELDS.NOT") => {
            let not = word == b"HEADER.FIELDS.NOT";
            lex.sp()?;
            // header-list = "(" header-fld-name *(SP header-fld-name) ")"
            let names = lex.paren_list(false, MAX_LIST_ITEMS, |l| l.astring())?;
            if not {
                SectionText::HeaderFieldsNot(names)
            } else {
                SectionText::HeaderFields(names)
            }
        }
        _ => return Err("bad section"),
    })
}

/// `"<" number "." nz-number ">"`.
fn partial(lex: &mut Lexer<'_>) -> PResult<Partial> {
    lex.expect(b'<', "expected '<'")?;
    let origin = lex.number().map_err(|_| "bad partial")?;
    lex.expect(b'.', "bad partial")?;
    let count = lex.nz_number().map_err(|_| "bad partial")?;
    lex.expect(b'>', "bad partial")?;
    Ok(Partial { origin, count })
}

/// What the fetch modifiers (RFC 7162, RFC 9394) asked for.
#[derive(Debug, Default)]
pub(super) struct Modifiers {
    pub changed_since: Option<u64>,
    pub vanished: bool,
    pub partial: Option<super::Window>,
}

/// RFC 4466 §2.4 fetch-modifiers `"(" fetch-modifier *(SP ...) ")"`:
/// RFC 7162's CHANGEDSINCE and VANISHED and RFC 9394 §3.3's PARTIAL,
/// each at most once, in any order.
pub(super) fn parse_modifiers(lex: &mut Lexer<'_>) -> PResult<Modifiers> {
    let mut m = Modifiers::default();
    lex.paren_list(false, 8, |lex| match Upper::new(lex.keyword()).as_bytes() {
        b"CHANGEDSINCE" if m.changed_since.is_none() => {
            lex.sp()?;
            // RFC 7162 says mod-sequence-value (≥ 1); 0 is accepted as
            // "everything", which is what a client sending it means.
            m.changed_since = Some(lex.mod_seq()?);
            Ok(())
        }
        b"VANISHED" if !m.vanished => {
            m.vanished = true;
            Ok(())
        }
        // RFC 9394 §3.3: the same partial-range as SEARCH RETURN PARTIAL.
        b"PARTIAL" if m.partial.is_none() => {
            lex.sp()?;
            m.partial = Some(super::sort::window(lex)?);
            Ok(())
        }
        _ => Err("unknown or repeated fetch modifier"),
    })?;
    Ok(m)
}
