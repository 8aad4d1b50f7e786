//! Splitting a raw message into its MIME tree (RFC 5322 §2.1 header and
//! body, RFC 2045 fields, RFC 2046 §5.1 multiparts and §5.2.1 encapsulated
//! messages), recording byte offsets as it goes.
//!
//! Header fields are lexed by `mailparse::parse_header`, one at a time. The
//! tree walk is our own rather than `mailparse::parse_mail`, because that
//! function: fails the whole message on one malformed part header; builds
//! every part before a limit can be applied; matches a boundary as a mere
//! line prefix (so `--b` also ends parts at `--bc`, which breaks nested
//! multiparts whose boundaries share a prefix); does not look inside
//! message/rfc822; and keeps header and body slices private. Walking
//! ourselves, every entity is parsed within the byte range its parent gave
//! it, so offsets are exact and no part can overrun its parent.

use super::fields;
use super::summary::{Address, Envelope, Param, Part, Summary};
use super::{MAX_ADDRESSES, MAX_DEPTH, MAX_PARTS};

/// The header fields a summary reads; the first occurrence of each wins.
#[derive(Clone, Copy)]
enum Field {
    ContentType,
    ContentTransferEncoding,
    ContentId,
    ContentDescription,
    ContentMd5,
    ContentDisposition,
    ContentLanguage,
    ContentLocation,
    Date,
    Subject,
    From,
    Sender,
    ReplyTo,
    To,
    Cc,
    Bcc,
    InReplyTo,
    MessageId,
}

/// Field names, in the order of [`Field`].
const FIELD_NAMES: [&[u8]; 18] = [
    b"content-type",
    b"content-transfer-encoding",
    b"content-id",
    b"content-description",
    b"content-md5",
    b"content-disposition",
    b"content-language",
    b"content-location",
    b"date",
    b"subject",
    b"from",
    b"sender",
    b"reply-to",
    b"to",
    b"cc",
    b"bcc",
    b"in-reply-to",
    b"message-id",
];

/// Raw values (still folded) of the fields of one header block.
struct Fields<'a>([Option<&'a [u8]>; FIELD_NAMES.len()]);

impl<'a> Fields<'a> {
    fn get(&self, field: Field) -> Option<&'a [u8]> {
        self.0.get(field as usize).copied().flatten()
    }

    /// The unfolded, trimmed value of a field, `None` if absent.
    fn text(&self, field: Field) -> Option<Vec<u8>> {
        self.get(field).map(fields::unfold)
    }

    /// Like [`Fields::text`], but an empty value counts as absent.
    fn non_empty(&self, field: Field) -> Option<Vec<u8>> {
        self.text(field).filter(|v| !v.is_empty())
    }

    fn note(&mut self, name: &[u8], value: &'a [u8]) {
        // mailparse keeps white space before the colon in the name.
        let name = fields::trim(name);
        let index = FIELD_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name));
        if let Some(slot) = index.and_then(|i| self.0.get_mut(i))
            && slot.is_none()
        {
            *slot = Some(value);
        }
    }
}

/// Reads the header block of the entity at `raw[start..end]`. Returns its
/// fields and where its body starts: after the empty line that ends the
/// header (RFC 5322 §2.1), or at `end` if there is none.
fn scan_header(raw: &[u8], start: usize, end: usize) -> (Fields<'_>, usize) {
    let mut fields = Fields([None; FIELD_NAMES.len()]);
    let block = raw.get(start..end).unwrap_or_default();
    let mut pos = 0;
    while let Some(rest) = block.get(pos..).filter(|r| !r.is_empty()) {
        // LF alone is accepted as a line end: messages stored from other
        // systems or written by scripts often have bare LFs.
        match rest {
            [b'\n', ..] => return (fields, start + pos + 1),
            [b'\r', b'\n', ..] => return (fields, start + pos + 2),
            _ => {}
        }
        let used = match mailparse::parse_header(rest) {
            Ok((header, used)) => {
                // The value borrows from `header`, not from `rest`; find
                // it in `rest` again to keep it for the message's lifetime.
                if let Some(value) = reborrow(rest, header.get_value_raw()) {
                    fields.note(header.get_key_raw(), value);
                }
                used
            }
            // mailparse refuses a line that starts with white space where
            // a field should start (a continuation with nothing to
            // continue): skip that line.
            Err(_) => rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1),
        };
        pos += used.max(1);
    }
    (fields, end)
}

/// The subslice of `outer` that `inner` is, found by address (mailparse
/// returns slices of its input but ties them to its own lifetime).
fn reborrow<'a>(outer: &'a [u8], inner: &[u8]) -> Option<&'a [u8]> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    outer.get(start..start.checked_add(inner.len())?)
}

/// How a delimiter line of a multipart ends the part before it.
#[derive(PartialEq)]
enum Delimiter {
    /// `--boundary`: another part follows.
    Next,
    /// `--boundary--`: the last part has ended.
    Close,
}

/// Classifies a line (without its LF) against a boundary (RFC 2046
/// §5.1.1). After `--boundary` only `--` or white space may follow; the
/// whole-line match is what keeps an outer boundary from matching an inner
/// one that starts with the same characters.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<Delimiter> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    if rest.starts_with(b"--") {
        // Anything after the close delimiter is epilogue; be lenient.
        Some(Delimiter::Close)
    } else if rest.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
        Some(Delimiter::Next)
    } else {
        None
    }
}

/// Finds the body parts of the multipart body `raw[start..end]`: at most
/// `max` `(start, end)` ranges. A part starts after its delimiter line's
/// line break and ends before the line break that precedes the next
/// delimiter, which belongs to the delimiter (RFC 2046 §5.1.1). A part cut
/// off by the end of the message (no close delimiter) runs to `end`.
fn split_multipart(
    raw: &[u8],
    start: usize,
    end: usize,
    boundary: &[u8],
    max: usize,
) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut line_start = start;
    while line_start < end && parts.len() < max {
        let rest = raw.get(line_start..end).unwrap_or_default();
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (rest.get(..lf).unwrap_or_default(), line_start + lf + 1),
            None => (rest, end),
        };
        if let Some(kind) = delimiter(line, boundary) {
            if let Some(part_start) = open.take() {
                parts.push((part_start, strip_line_break(raw, part_start, line_start)));
            }
            if kind == Delimiter::Close {
                return parts;
            }
            open = Some(next);
        }
        line_start = next;
    }
    // An unterminated last part; an empty one is most likely a close
    // delimiter that was cut short, not a part.
    if let Some(part_start) = open.filter(|&s| s < end && parts.len() < max) {
        parts.push((part_start, end));
    }
    parts
}

/// `at` moved back over the CRLF or LF just before it, not below `floor`.
fn strip_line_break(raw: &[u8], floor: usize, mut at: usize) -> usize {
    if at > floor && raw.get(at - 1) == Some(&b'\n') {
        at -= 1;
        if at > floor && raw.get(at - 1) == Some(&b'\r') {
            at -= 1;
        }
    }
    at
}

/// Lines of a body: its LFs, plus one for a last line without a line
/// break (inside a multipart the final CRLF belongs to the delimiter, so a
/// one-line part has no LF at all).
fn count_lines(body: &[u8]) -> u32 {
    let lfs = body.iter().filter(|&&b| b == b'\n').count();
    let open_line = usize::from(body.last().is_some_and(|&b| b != b'\n'));
    offset(lfs + open_line)
}

/// Converts an offset or count for storage. Input is capped at `u32::MAX`
/// bytes, so this never saturates in practice.
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where an entity sits, which decides its default Content-Type.
#[derive(Clone, Copy)]
enum Context {
    /// A message: the top level or an encapsulated message.
    Message,
    /// A body part of a multipart; `digest` for multipart/digest, whose
    /// parts default to message/rfc822 (RFC 2046 §5.1.5).
    BodyPart { digest: bool },
}

/// One summary computation: the message and what is left of the limits.
struct Walker<'a> {
    raw: &'a [u8],
    parts_left: usize,
    addresses_left: usize,
    /// Set when a limit cut the tree, for one log line per message.
    truncated: bool,
}

/// Computes the summary of a raw message; see [`Summary::compute`].
pub(super) fn summarize(raw: &[u8]) -> Summary {
    let len = raw.len().min(u32::MAX as usize);
    let raw = raw.get(..len).unwrap_or_default();
    let mut walker = Walker {
        raw,
        parts_left: MAX_PARTS,
        addresses_left: MAX_ADDRESSES,
        truncated: false,
    };
    let mut envelope = Envelope::default();
    let root = walker.entity(0, len, 0, Context::Message, Some(&mut envelope));
    if walker.truncated {
        log::debug!("mime: message of {len} bytes exceeds summary limits; summary truncated");
    }
    Summary {
        envelope,
        header_len: root.body_start,
        root,
    }
}

impl Walker<'_> {
    /// Summarises the entity at `raw[start..end]`, nested `depth` levels
    /// deep. For a message, `envelope` receives its ENVELOPE.
    fn entity(
        &mut self,
        start: usize,
        end: usize,
        depth: usize,
        context: Context,
        envelope: Option<&mut Envelope>,
    ) -> Part {
        self.parts_left = self.parts_left.saturating_sub(1);
        let (fields, body_start) = scan_header(self.raw, start, end);
        // The envelope comes before the children so that the outer
        // message's addresses are the first to draw on the budget.
        if let Some(envelope) = envelope {
            *envelope = self.envelope(&fields);
        }

        // Structured values are unfolded first so that no CR or LF ends up
        // inside a parameter value folded across lines.
        let (media_type, media_subtype, params) = match fields.text(Field::ContentType) {
            Some(value) => fields::media_type(&value).unwrap_or_else(default_text),
            None => match context {
                Context::BodyPart { digest: true } => {
                    (b"message".to_vec(), b"rfc822".to_vec(), Vec::new())
                }
                _ => default_text(),
            },
        };
        let mut part = Part {
            header_start: offset(start),
            body_start: offset(body_start),
            end: offset(end),
            media_type,
            media_subtype,
            params,
            id: fields.text(Field::ContentId),
            description: fields.text(Field::ContentDescription),
            // RFC 2045 §6.1: absent means 7BIT.
            encoding: fields
                .non_empty(Field::ContentTransferEncoding)
                .unwrap_or_else(|| b"7BIT".to_vec()),
            md5: fields.text(Field::ContentMd5),
            location: fields.text(Field::ContentLocation),
            disposition: fields
                .text(Field::ContentDisposition)
                .and_then(|value| fields::disposition(&value)),
            language: fields
                .text(Field::ContentLanguage)
                .map(|value| fields::languages(&value))
                .unwrap_or_default(),
            body_octets: offset(end.saturating_sub(body_start)),
            body_lines: 0,
            children: Vec::new(),
            message: None,
        };

        if part.is_multipart() {
            part.children = self.multipart(&part, body_start, end, depth);
            if part.children.is_empty() {
                demote(&mut part);
            }
        } else if part.media_type == b"message" && part.media_subtype == b"rfc822" {
            match self.encapsulated(&part, body_start, end, depth) {
                Some(message) => part.message = Some(Box::new(message)),
                None => demote(&mut part),
            }
        }
        if part.media_type == b"text" || part.message.is_some() {
            part.body_lines = count_lines(self.raw.get(body_start..end).unwrap_or_default());
        }
        part
    }

    /// The body parts of a multipart; empty if it has none we can find or
    /// may not have any (no boundary, limits reached).
    fn multipart(&mut self, part: &Part, body_start: usize, end: usize, depth: usize) -> Vec<Part> {
        let Some(boundary) = fields::param(&part.params, b"boundary").filter(|b| !b.is_empty())
        else {
            return Vec::new();
        };
        if !self.may_nest(depth) {
            return Vec::new();
        }
        let digest = part.media_subtype == b"digest";
        // One range more than may be kept tells whether the limit cut any.
        let mut ranges = split_multipart(self.raw, body_start, end, boundary, self.parts_left + 1);
        if ranges.len() > self.parts_left {
            ranges.truncate(self.parts_left);
            self.truncated = true;
        }
        let mut children = Vec::with_capacity(ranges.len());
        for (child_start, child_end) in ranges {
            // Earlier children may have spent the budget on their own parts.
            if self.parts_left == 0 {
                self.truncated = true;
                break;
            }
            let context = Context::BodyPart { digest };
            children.push(self.entity(child_start, child_end, depth + 1, context, None));
        }
        children
    }

    /// The envelope and root of an encapsulated message (RFC 2046 §5.2.1),
    /// or `None` if it may not be parsed.
    fn encapsulated(
        &mut self,
        part: &Part,
        body_start: usize,
        end: usize,
        depth: usize,
    ) -> Option<(Envelope, Part)> {
        // RFC 2046 §5.2.1 allows only identity encodings here; an encoded
        // message is not a message until decoded, so it stays a leaf.
        let identity = [&b"7bit"[..], b"8bit", b"binary"]
            .iter()
            .any(|e| part.encoding.eq_ignore_ascii_case(e));
        if !identity || !self.may_nest(depth) {
            return None;
        }
        let mut envelope = Envelope::default();
        let root = self.entity(
            body_start,
            end,
            depth + 1,
            Context::Message,
            Some(&mut envelope),
        );
        Some((envelope, root))
    }

    /// Whether a container at `depth` may have sub-parts within the limits.
    fn may_nest(&mut self, depth: usize) -> bool {
        let ok = depth < MAX_DEPTH && self.parts_left > 0;
        if !ok {
            self.truncated = true;
        }
        ok
    }

    /// Builds the ENVELOPE of a message from its header fields
    /// (RFC 3501 §7.4.2).
    fn envelope(&mut self, f: &Fields<'_>) -> Envelope {
        let mut envelope = Envelope {
            date: f.text(Field::Date),
            subject: f.text(Field::Subject),
            in_reply_to: f.text(Field::InReplyTo),
            message_id: f.text(Field::MessageId),
            ..Envelope::default()
        };
        // RFC 3501 order, so From is the last to be cut by the budget.
        envelope.from = self.addresses(f, Field::From);
        envelope.sender = self.addresses(f, Field::Sender);
        envelope.reply_to = self.addresses(f, Field::ReplyTo);
        envelope.to = self.addresses(f, Field::To);
        envelope.cc = self.addresses(f, Field::Cc);
        envelope.bcc = self.addresses(f, Field::Bcc);
        // RFC 3501 §7.4.2: an absent or empty Sender or Reply-To is
        // reported as a copy of From.
        if envelope.sender.is_empty() {
            envelope.sender = envelope.from.clone();
        }
        if envelope.reply_to.is_empty() {
            envelope.reply_to = envelope.from.clone();
        }
        envelope
    }

    fn addresses(&mut self, f: &Fields<'_>, field: Field) -> Vec<Address> {
        match f.get(field) {
            Some(value) => fields::addresses(&fields::unfold(value), &mut self.addresses_left),
            None => Vec::new(),
        }
    }
}

/// RFC 2045 §5.2's default: `text/plain; charset=us-ascii`.
fn default_text() -> (Vec<u8>, Vec<u8>, Vec<Param>) {
    (
        b"text".to_vec(),
        b"plain".to_vec(),
        vec![(b"charset".to_vec(), b"us-ascii".to_vec())],
    )
}

/// Turns a container whose structure cannot be represented (no boundary,
/// no parts, encoded message, limits reached) into an opaque text/plain
/// leaf, as RFC 2045 §5.2 says to treat an unusable Content-Type. The
/// encoding stays, so a client can still decode what it fetches.
fn demote(part: &mut Part) {
    (part.media_type, part.media_subtype, part.params) = default_text();
    part.children = Vec::new();
    part.message = None;
}
