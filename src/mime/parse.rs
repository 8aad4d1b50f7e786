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

use super::boundary::{self, Hit, Kind};
use super::fields;
use super::summary::{Address, Envelope, Param, Part, Summary};
use super::{MAX_ADDRESSES, MAX_DEPTH, MAX_PARTS};

/// The header fields a summary reads; the first occurrence of each wins,
/// except as Dovecot reads them: the ENVELOPE's Date, Subject,
/// In-Reply-To and Message-ID take the last, and repeated address fields
/// are appended.
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

/// Most repeated address fields kept per header block.
const MAX_REPEATS: usize = 64;

/// Raw values (still folded) of the fields of one header block, and the
/// repeated address fields (index, value) after the first.
struct Fields<'a>(
    [Option<&'a [u8]>; FIELD_NAMES.len()],
    Vec<(usize, &'a [u8])>,
);

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
        let Some(index) = index else { return };
        // ENVELOPE's text fields: a repeat replaces the first (RFC 5322
        // §3.6 allows one; Dovecot shows the last).
        let last_wins = [
            Field::Date,
            Field::Subject,
            Field::InReplyTo,
            Field::MessageId,
        ]
        .iter()
        .any(|&f| f as usize == index);
        match self.0.get_mut(index) {
            Some(slot) if slot.is_none() || last_wins => *slot = Some(value),
            Some(Some(_))
                if [
                    Field::From,
                    Field::Sender,
                    Field::ReplyTo,
                    Field::To,
                    Field::Cc,
                    Field::Bcc,
                ]
                .iter()
                .any(|&f| f as usize == index)
                    && self.1.len() < MAX_REPEATS =>
            {
                self.1.push((index, value));
            }
            _ => {}
        }
    }
}

/// Reads the header block of the entity at `raw[start..end]`. Returns its
/// fields and where its body starts: after the empty line that ends the
/// header (RFC 5322 §2.1), or at `end` if there is none.
fn scan_header(raw: &[u8], start: usize, end: usize) -> (Fields<'_>, usize) {
    let mut fields = Fields([None; FIELD_NAMES.len()], Vec::new());
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

/// Lines of a body as Dovecot and UW c-client count them: its LFs. A last
/// line without a line break is not counted; inside a multipart most parts
/// end so, because the CRLF before a delimiter belongs to the delimiter
/// (RFC 2046 §5.1.1).
fn count_lines(body: &[u8]) -> u32 {
    offset(body.iter().filter(|&&b| b == b'\n').count())
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

/// Where the scan of an entity stopped: the end of its content, and the
/// delimiter line of an enclosing multipart that ended it (none at the end
/// of the message).
type Stop = (usize, Option<Hit>);

/// One summary computation: the message and what is left of the limits.
struct Walker<'a> {
    raw: &'a [u8],
    /// Boundaries of the multiparts open around the entity being read,
    /// outermost first.
    open: Vec<Vec<u8>>,
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
        open: Vec::new(),
        parts_left: MAX_PARTS,
        addresses_left: MAX_ADDRESSES,
        truncated: false,
    };
    let mut envelope = Envelope::default();
    let (root, _) = walker.entity(0, 0, Context::Message, Some(&mut envelope));
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
    /// Summarises the entity starting at `start`, nested `depth` levels
    /// deep; it runs to the next delimiter of an open multipart or to the
    /// end of the message. For a message, `envelope` receives its ENVELOPE.
    fn entity(
        &mut self,
        start: usize,
        depth: usize,
        context: Context,
        envelope: Option<&mut Envelope>,
    ) -> (Part, Stop) {
        self.parts_left = self.parts_left.saturating_sub(1);
        let (header_end, cut) = boundary::header_end(self.raw, start, &self.open);
        // A delimiter inside the header ends the part there: no body.
        let body_start = match cut {
            Some(_) => boundary::strip_line_break(self.raw, start, header_end),
            None => header_end,
        };
        let (fields, _) = scan_header(self.raw, start, body_start);
        // The envelope comes before the children so that the outer
        // message's addresses are the first to draw on the budget.
        if let Some(envelope) = envelope {
            *envelope = self.envelope(&fields);
        }

        // Structured values are unfolded first so that no CR or LF ends up
        // inside a parameter value folded across lines.
        let (media_type, media_subtype, mut params) = match fields.text(Field::ContentType) {
            Some(value) => fields::media_type(&value).unwrap_or_else(default_text),
            None => match context {
                Context::BodyPart { digest: true } => {
                    (b"message".to_vec(), b"rfc822".to_vec(), Vec::new())
                }
                _ => default_text(),
            },
        };
        // RFC 2045 §5.1: text without a charset is us-ascii; say so, as
        // Dovecot and c-client do, also beside other parameters.
        if media_type == b"text" && fields::param(&params, b"charset").is_none() {
            params.push((b"charset".to_vec(), b"us-ascii".to_vec()));
        }
        let mut part = Part {
            header_start: offset(start),
            body_start: offset(body_start),
            end: offset(body_start),
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
            body_octets: 0,
            body_lines: 0,
            children: Vec::new(),
            message: None,
        };

        let stop = if let Some(hit) = cut {
            (body_start, Some(hit))
        } else if part.is_multipart() {
            let (children, stop) = self.multipart(&part, body_start, depth);
            part.children = children;
            stop
        } else if part.media_type == b"message" && part.media_subtype == b"rfc822" {
            match self.encapsulated(&part, body_start, depth) {
                Some((message, stop)) => {
                    part.message = Some(Box::new(message));
                    stop
                }
                // Kept as message/rfc822 (the declared type stands), but
                // opaque: rendered with an empty envelope and body.
                None => self.leaf(body_start),
            }
        } else {
            self.leaf(body_start)
        };
        // A part whose content is only the empty line that ends its
        // header (`--b CRLF CRLF --b`): that CRLF belongs to the next
        // delimiter (RFC 2046 §5.1.1), so the part is empty, header too.
        if part.is_multipart() && part.children.is_empty() {
            demote(&mut part);
        }
        let (mut end, mut body_start) = (stop.0.max(start), body_start);
        if let Some(message) = &part.message {
            // The encapsulated message made the same adjustments itself.
            end = message.1.end as usize;
        } else if stop.1.is_some_and(|hit| hit.line == body_start) {
            end = boundary::strip_line_break(self.raw, start, body_start);
        }
        body_start = body_start.min(end);
        part.body_start = offset(body_start);
        part.end = offset(end);
        part.body_octets = offset(end - body_start);
        if part.media_type == b"text"
            || part.media_type == b"message" && part.media_subtype == b"rfc822"
        {
            part.body_lines = count_lines(self.raw.get(body_start..end).unwrap_or_default());
        }
        (part, stop)
    }

    /// The content of a leaf from `start`: up to the line break before the
    /// next delimiter of an open multipart, or the end of the message.
    fn leaf(&self, start: usize) -> Stop {
        match boundary::find(self.raw, start, &self.open) {
            Some(hit) => (
                boundary::strip_line_break(self.raw, start, hit.line),
                Some(hit),
            ),
            None => (self.raw.len(), None),
        }
    }

    /// The body parts of a multipart whose body starts at `body_start`,
    /// and where the multipart stops: after its epilogue, at an enclosing
    /// multipart's delimiter, or at the end of the message. Without a
    /// usable boundary (or past the limits) it has no parts and is read
    /// as a leaf.
    fn multipart(&mut self, part: &Part, body_start: usize, depth: usize) -> (Vec<Part>, Stop) {
        let Some(boundary) = fields::param(&part.params, b"boundary").filter(|b| !b.is_empty())
        else {
            return (Vec::new(), self.leaf(body_start));
        };
        if !self.may_nest(depth) {
            return (Vec::new(), self.leaf(body_start));
        }
        let digest = part.media_subtype == b"digest";
        let level = self.open.len();
        self.open.push(boundary.to_vec());
        let mut children = Vec::new();
        // The preamble runs to the first delimiter.
        let mut stop = self.leaf(body_start);
        loop {
            match stop.1 {
                Some(hit) if hit.level == level && hit.kind == Kind::Next => {
                    if self.parts_left == 0 {
                        // Past the limit a part is skipped, not summarised.
                        self.truncated = true;
                        stop = self.leaf(hit.next);
                        continue;
                    }
                    let context = Context::BodyPart { digest };
                    let (child, child_stop) = self.entity(hit.next, depth + 1, context, None);
                    children.push(child);
                    stop = child_stop;
                }
                Some(hit) if hit.level == level => {
                    // The close delimiter: the epilogue runs to the next
                    // delimiter of an enclosing multipart.
                    self.open.truncate(level);
                    let epilogue = self.leaf(hit.next);
                    return (children, epilogue);
                }
                // An enclosing multipart's delimiter or the end of the
                // message ends this one too.
                _ => {
                    self.open.truncate(level);
                    return (children, stop);
                }
            }
        }
    }

    /// The envelope and root of an encapsulated message (RFC 2046 §5.2.1),
    /// or `None` if it may not be parsed.
    fn encapsulated(
        &mut self,
        part: &Part,
        body_start: usize,
        depth: usize,
    ) -> Option<((Envelope, Part), Stop)> {
        // RFC 2046 §5.2.1 allows only identity encodings here; an encoded
        // message is not a message until decoded, so it stays opaque.
        let identity = [&b"7bit"[..], b"8bit", b"binary"]
            .iter()
            .any(|e| part.encoding.eq_ignore_ascii_case(e));
        if !identity || !self.may_nest(depth) {
            return None;
        }
        let mut envelope = Envelope::default();
        let (root, stop) =
            self.entity(body_start, depth + 1, Context::Message, Some(&mut envelope));
        Some(((envelope, root), stop))
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
        let repeats = f.1.iter().filter(|(i, _)| *i == field as usize);
        let mut out = Vec::new();
        for value in f.get(field).into_iter().chain(repeats.map(|(_, v)| *v)) {
            out.extend(fields::addresses(
                &fields::unfold(value),
                &mut self.addresses_left,
            ));
        }
        out
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
