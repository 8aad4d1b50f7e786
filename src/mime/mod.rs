//! Message summaries for IMAP: the ENVELOPE and BODYSTRUCTURE data of
//! RFC 3501 §7.4.2 plus the byte offsets that `BODY[section]` (§6.4.5) needs,
//! computed once when a message is delivered and stored beside its bytes so
//! that FETCH never parses a message again.
//!
//! - `summary`: the types ([`Summary`], [`Envelope`], [`Address`],
//!   [`Part`], [`Param`]) and IMAP section lookup ([`Part::find`]).
//! - `parse`: splitting the raw message into its MIME tree (RFC 2045,
//!   RFC 2046), with the header lexing done by mailparse.
//! - `fields`: the structured header fields inside it (Content-Type
//!   parameters, dispositions, languages, address lists).
//! - `codec`: the compact, versioned binary form kept in the store.
//! - `sort_keys`, `base_subject`: what SORT and THREAD order and link
//!   messages by (RFC 5256), kept beside the summary.
//! - [`header_len`]: where the header section ends, for the rooms that
//!   need only that.
//!
//! Mail is hostile input: nothing here panics on any input bytes, and the
//! limits below bound the memory and stack a single message can cost on a
//! small board. Past a limit the summary is truncated, never refused.

mod base_subject;
mod codec;
mod fields;
mod header;
mod parse;
mod sort_keys;
mod summary;

#[cfg(test)]
mod tests;

pub use base_subject::base_subject;
pub use header::header_len;
pub use sort_keys::SortKeys;
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
