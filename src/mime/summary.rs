//! The summary types: what IMAP ENVELOPE and BODYSTRUCTURE (RFC 3501
//! §7.4.2) need from a message, plus byte offsets so that `BODY[section]`
//! (§6.4.5) is a slice of the stored message, and section lookup.
//!
//! Every string is kept as raw header bytes (unfolded and trimmed, never
//! RFC 2047 or RFC 2231 decoded): IMAP hands clients the undecoded strings,
//! and header bytes need not be UTF-8. Rendering the IMAP syntax (quoting,
//! literals, NIL) is the IMAP module's job.

use super::{codec, parse};

/// A parameter of a Content-Type or Content-Disposition field: attribute
/// as written, value with the quoting removed (RFC 2045 §5.1).
pub type Param = (Vec<u8>, Vec<u8>);

/// Everything FETCH needs to know about one message without parsing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The message's ENVELOPE.
    pub envelope: Envelope,
    /// The message's top-level entity; its `header_start` is 0 and its
    /// `end` is the message length.
    pub root: Part,
    /// Length of the header block including the blank line that ends it:
    /// `BODY[HEADER]` is `raw[..header_len]`. Always `root.body_start`.
    pub header_len: u32,
}

/// The ENVELOPE of a message (RFC 3501 §7.4.2).
///
/// Text fields are `None` when the header field is absent. Address lists
/// are empty when absent; `sender` and `reply_to` already carry the copy of
/// `from` that RFC 3501 asks for when those fields are absent or empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

/// One address structure of RFC 3501 §7.4.2.
///
/// A group (RFC 5322 §3.4) is a start marker (`mailbox` = group name,
/// `host` = `None`), its members, then an end marker (all fields `None`).
/// An ordinary mailbox always has `host` set, to `Some(b"")` if the address
/// had no domain, so that it can never be mistaken for a group marker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name (phrase), quotes removed; `None` if absent or empty.
    pub name: Option<Vec<u8>>,
    /// Obsolete source route (`@a,@b`), RFC 5322 §4.4.
    pub adl: Option<Vec<u8>>,
    /// Local part, or the group name in a start marker.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; `None` only in group markers.
    pub host: Option<Vec<u8>>,
}

impl Address {
    /// True for a group start or end marker.
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }
}

/// One MIME entity: the message itself, a body part of a multipart, or the
/// root of an encapsulated message.
///
/// Offsets index the raw message: the entity's header is
/// `raw[header_start..body_start]` (blank line included, so `BODY[n.MIME]` is
/// exactly that) and its body is `raw[body_start..end]`. Offsets come from
/// [`Summary::compute`] or a decoded store record; a renderer should still
/// slice with `get` so a corrupt record cannot make it panic.
///
/// Invariants kept by [`Summary::compute`]: a `multipart` part has at least
/// one child, or it was summarised as `text/plain` instead (RFC 2045
/// §5.2's default for an unusable Content-Type). A `message/rfc822` part
/// keeps its declared type even when its message was not parsed (an
/// encoding RFC 2046 §5.2.1 forbids, or the limits): `message` is then
/// `None` and the part is opaque.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub header_start: u32,
    pub body_start: u32,
    pub end: u32,
    /// Media type, lower-cased (RFC 2045 §5.1: matching is case-insensitive).
    pub media_type: Vec<u8>,
    /// Media subtype, lower-cased.
    pub media_subtype: Vec<u8>,
    /// Content-Type parameters in header order, duplicates kept. A part
    /// without a usable Content-Type gets RFC 2045 §5.2's
    /// `charset=us-ascii`.
    pub params: Vec<Param>,
    /// Content-ID (RFC 2045 §7).
    pub id: Option<Vec<u8>>,
    /// Content-Description (RFC 2045 §8).
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding as written; `7BIT` when absent
    /// (RFC 2045 §6.1). Never NIL in BODYSTRUCTURE, hence not an Option.
    pub encoding: Vec<u8>,
    /// Content-MD5 (RFC 1864).
    pub md5: Option<Vec<u8>>,
    /// Content-Location (RFC 2557).
    pub location: Option<Vec<u8>>,
    /// Content-Disposition type as written, and its parameters (RFC 2183).
    pub disposition: Option<(Vec<u8>, Vec<Param>)>,
    /// Content-Language tags (RFC 3282).
    pub language: Vec<Vec<u8>>,
    /// Body size: `end - body_start`.
    pub body_octets: u32,
    /// Body lines, counted for `text/*` and `message/rfc822` only, else 0.
    pub body_lines: u32,
    /// The body parts of a multipart, in order.
    pub children: Vec<Part>,
    /// For `message/rfc822`: the encapsulated message's envelope and root.
    /// The root starts at this part's `body_start` and ends at its `end`.
    pub message: Option<Box<(Envelope, Part)>>,
}

impl Summary {
    /// Summarises a raw RFC 5322 message. Never fails: bytes that are not a
    /// well-formed message still get a `text/plain` summary with correct
    /// offsets. Messages longer than `u32::MAX` bytes are summarised as
    /// their first `u32::MAX` bytes.
    pub fn compute(raw: &[u8]) -> Summary {
        parse::summarize(raw)
    }

    /// Appends the store encoding of this summary to `out`; see `codec` for
    /// the format. The first byte is the format version.
    pub fn encode(&self, out: &mut Vec<u8>) {
        codec::encode(self, out)
    }

    /// Reads a summary written by [`Summary::encode`]; `None` if the bytes
    /// are corrupt or of an unknown version (the caller then recomputes).
    pub fn decode(bytes: &[u8]) -> Option<Summary> {
        codec::decode(bytes)
    }
}

impl Part {
    /// True for a `multipart/*` entity.
    pub fn is_multipart(&self) -> bool {
        self.media_type.eq_ignore_ascii_case(b"multipart")
    }

    /// True for a `message/rfc822` entity whose encapsulated message was
    /// summarised (BODYSTRUCTURE's body-type-msg).
    pub fn is_message(&self) -> bool {
        self.message.is_some()
    }

    /// Finds an IMAP section part (RFC 3501 §6.4.5): `"1.2"` is `[1, 2]`.
    ///
    /// `self` is taken as the root of a message, normally
    /// [`Summary::root`]. The parts of a multipart are numbered from 1; a
    /// message whose root is not multipart has only part 1, the root
    /// itself; below a `message/rfc822` part the numbering continues with
    /// the encapsulated message's parts. An empty path is the root. `None`
    /// for a path that names no part.
    pub fn find(&self, path: &[u32]) -> Option<&Part> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        let mut part = self.message_part(first)?;
        for &n in rest {
            part = part.nested_part(n)?;
        }
        Some(part)
    }

    /// Part `n` of the message whose root is `self`.
    fn message_part(&self, n: u32) -> Option<&Part> {
        if self.is_multipart() {
            self.child(n)
        } else if n == 1 {
            Some(self)
        } else {
            None
        }
    }

    /// Part `n` inside `self`: a body part of a multipart, or a part of an
    /// encapsulated message. Other parts have no sub-parts.
    fn nested_part(&self, n: u32) -> Option<&Part> {
        if self.is_multipart() {
            self.child(n)
        } else if let Some(message) = &self.message {
            message.1.message_part(n)
        } else {
            None
        }
    }

    /// Child `n`, counting from 1 as IMAP does.
    fn child(&self, n: u32) -> Option<&Part> {
        let index = usize::try_from(n.checked_sub(1)?).ok()?;
        self.children.get(index)
    }
}
