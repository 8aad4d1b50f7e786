//! Message summaries for IMAP: the ENVELOPE and BODYSTRUCTURE data of
//! RFC 3501 §7.4.2 plus the byte offsets that `BODY[section]` (§6.4.5) needs,
//! computed once when a message is delivered and stored beside its bytes so
//! that FETCH never parses a message again.
//!
//! - `summary`: the types ([`Summary`], [`Envelope`], [`Address`],
//!   [`Part`], [`Param`]) and IMAP section lookup ([`Part::find`]).
//! - `parse`: splitting the raw message into its MIME tree (RFC 2045,
//!   RFC 2046), with the header lexing done by mailparse; `boundary`
//!   finds the delimiter lines (innermost multipart first, as Dovecot).
//! - `fields`: the structured header fields inside it (Content-Type
//!   parameters, dispositions, languages, address lists); `rfc2231`
//!   joins continued parameters; `address` reads address lists.
//! - `codec`: the compact, versioned binary form kept in the store.
//! - `transfer`: removing a Content-Transfer-Encoding (IMAP BINARY).
//! - `sort_keys`, `base_subject`: what SORT and THREAD order and link
//!   messages by (RFC 5256), kept beside the summary.
//! - [`header_len`]: where the header section ends, for the rooms that
//!   need only that.
//!
//! Where RFC 3501 leaves room, answers follow Dovecot and UW c-client
//! (line counts, charset default, delimiter and address rules);
//! tests/imap_differential.rs checks them against a real Dovecot.
//!
//! Mail is hostile input: nothing here panics on any input bytes, and the
//! limits below bound the memory and stack a single message can cost on a
//! small board. Past a limit the summary is truncated, never refused.

mod address;
mod base_subject;
mod boundary;
mod codec;
mod fields;
mod header;
mod parse;
mod rfc2231;
mod sort_keys;
mod summary;
pub mod transfer;

#[cfg(test)]
mod tests;

pub use base_subject::base_subject;
pub use header::header_len;

/// The addresses of an address field as ENVELOPE shows them, for SEARCH:
/// `name <mailbox@host>` (or `mailbox@host`) for each, comma separated;
/// comments and white space inside an address are not part of it
/// (RFC 5322 §3.4), so `<user (c)@ (c) host>` gives `user@host`.
pub fn address_text(value: &[u8]) -> Vec<u8> {
    let mut budget = MAX_ADDRESSES;
    let unfolded = fields::unfold(value);
    let mut out = Vec::new();
    for a in fields::addresses(&unfolded, &mut budget) {
        let (Some(mailbox), Some(host)) = (&a.mailbox, &a.host) else {
            continue;
        };
        if !out.is_empty() {
            out.extend_from_slice(b", ");
        }
        if let Some(name) = &a.name {
            out.extend_from_slice(name);
            out.extend_from_slice(b" <");
        }
        out.extend_from_slice(mailbox);
        out.push(b'@');
        out.extend_from_slice(host);
        if a.name.is_some() {
            out.push(b'>');
        }
    }
    out
}
pub use sort_keys::{SortKeys, SortKeysRef};
pub use summary::{Address, Envelope, Param, Part, Summary};

/// Deepest nesting of multiparts and encapsulated messages that is parsed;
/// the root is at depth 0. A container at this depth is summarised as an
/// opaque `text/plain` leaf, which bounds the recursion (and so the stack)
/// no matter how the message is built.
pub const MAX_DEPTH: usize = 32;

/// Most parts one summary holds, encapsulated messages' parts included.
/// Body parts past this many are left out of the tree (their bytes stay
/// inside the enclosing part's body), so a message of a million empty parts
/// costs no more than one of a thousand.
pub const MAX_PARTS: usize = 1000;

/// Most address structures (group markers included) one summary holds,
/// over all its envelopes. Envelope fields are read in RFC 3501 order, top
/// level first, so `From` of the delivered message is the last to suffer.
pub const MAX_ADDRESSES: usize = 10_000;

/// Most parameters kept per Content-Type or Content-Disposition field, and
/// most tags kept per Content-Language field.
pub const MAX_PARAMS: usize = 64;
