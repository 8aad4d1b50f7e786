//! The IMAP command parser: IMAP4rev1 client commands (RFC 3501 §6, formal
//! syntax §9) and the extensions smolmail advertises (see `command`), as
//! pure functions over bytes, so that tests and fuzzers reach them without
//! a socket.
//!
//! # Reading a command off the wire
//!
//! A command is one line, unless it carries literals (RFC 3501 §4.3,
//! RFC 7888 for `{n+}`): a line that ends in `{n}` or `{n+}` is followed by
//! exactly n bytes of data and then by the rest of the command, which is
//! again a line that may end in a literal marker. The session:
//!
//! 1. reads a line and strips its CRLF;
//! 2. asks [`literal_at_end`]; `None` means the command is complete;
//! 3. otherwise checks `len` against its limits (refusing a synchronizing
//!    literal with a tagged `NO`/`BAD` instead of the continuation; a
//!    non-synchronizing one that is too big leaves no choice but `BAD` and
//!    closing, RFC 7888 §4), sends `+ ` for a synchronizing literal, and
//!    appends CRLF and then exactly `len` bytes of data to the command
//!    buffer (never looking inside them), and goes back to 1 for the next
//!    line, appending it too.
//!
//! The buffer handed to [`parse_command`] is thus the command exactly as on
//! the wire, minus only the final CRLF, e.g.
//! `a1 LOGIN {3}\r\nbob {5+}\r\nhello`. Every string the parser returns
//! borrows from that buffer; only quoted strings with `\` escapes are
//! copied.
//!
//! # Errors
//!
//! [`ParseError`] carries the tag when one could be read, so the answer is
//! `tag BAD reason`, or `* BAD reason` without one (RFC 3501 §7.1.3).
//!
//! # Limits
//!
//! The caller bounds the total size (line length, literal size). Within
//! that, lists hold at most [`MAX_LIST_ITEMS`] items (sequence sets
//! [`MAX_SEQUENCE_RANGES`] ranges), and search keys nest at most
//! [`MAX_NESTING`] deep, so neither memory nor stack grows with hostile
//! input beyond a small constant factor of its size. Nothing here panics.

mod command;
mod datetime;
mod fetch;
mod lexer;
mod mailbox;
mod search;
mod sequence;
mod sort;

#[cfg(test)]
mod tests;

pub use command::{
    AppendMessage, CatPart, Command, CommandKind, FetchArgs, Flag, IdPair, StoreArgs, StoreMode,
};
pub use datetime::{Date, DateTime};
pub use fetch::{FetchItem, Partial, Section, SectionText, parse_section};
pub use mailbox::{
    ListArgs, ListReturn, ListSelection, Mailbox, QresyncParams, SelectArgs, SpecialUse, StatusItem,
};
pub use search::SearchKey;
pub use sequence::{Ranges, SeqBound, SequenceSet};
pub use sort::{SearchReturn, SortCriterion, SortKey, ThreadAlgorithm, Window};

pub use crate::wire::imap::quote::{Literal, literal_at_end};
use lexer::Lexer;

/// Deepest nesting of search keys (parentheses, NOT, OR) accepted.
pub const MAX_NESTING: usize = 32;

/// Most items in one list (fetch items, flags, patterns, header names),
/// and most search keys in one SEARCH.
pub const MAX_LIST_ITEMS: usize = 10_000;

/// Most ranges in one sequence set. Higher than [`MAX_LIST_ITEMS`] because
/// clients do send long UID lists (`1,3,5,...`) after a search; each range
/// costs 16 bytes for at least 2 bytes of input, and the caller's line
/// limit binds long before this does.
pub const MAX_SEQUENCE_RANGES: usize = 100_000;

/// Most options in the small keyword lists (SELECT and LIST options,
/// STATUS items, ENABLE capabilities, special-use attributes).
const MAX_SMALL_LIST: usize = 64;

/// Most ID field/value pairs. RFC 2971 §3.3 lets clients send 30; a little
/// slack costs nothing.
const MAX_ID_PAIRS: usize = 64;

/// A command that could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError<'a> {
    /// The tag, if the command began with a valid one followed by a space
    /// or the end: answer `tag BAD`, else `* BAD`.
    pub tag: Option<&'a [u8]>,
    /// A short reason, fit for the response text.
    pub reason: &'static str,
}

impl std::fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for ParseError<'_> {}

/// The tag at the start of `line`, if it has a valid one followed by a
/// space or the end: for answering a command the session refuses before
/// parsing it (say, a literal over the size limit).
pub fn peek_tag(line: &[u8]) -> Option<&[u8]> {
    let mut lex = Lexer::new(line);
    let tag = lex.tag().ok()?;
    matches!(lex.peek(), None | Some(b' ')).then_some(tag)
}

/// Whether a command (read so far) is an APPEND: its size can then be
/// checked against the quota before the literal is sent.
pub fn is_append(line: &[u8]) -> bool {
    let mut lex = Lexer::new(line);
    lex.tag().is_ok() && lex.eat(b' ') && lex.keyword().eq_ignore_ascii_case(b"APPEND")
}

/// Whether a line read during IDLE is the `DONE` that ends it
/// (RFC 2177 §3; case-insensitive like every keyword).
pub fn is_done(line: &[u8]) -> bool {
    line.eq_ignore_ascii_case(b"DONE")
}

/// Parses one complete command, assembled as described in the module
/// documentation, without its final CRLF.
pub fn parse_command(input: &[u8]) -> Result<Command<'_>, ParseError<'_>> {
    let Some(tag) = peek_tag(input) else {
        return Err(ParseError {
            tag: None,
            reason: "missing or invalid tag",
        });
    };
    let err = |reason| ParseError {
        tag: Some(tag),
        reason,
    };
    let mut lex = Lexer::new(input.get(tag.len()..).unwrap_or_default());
    if !lex.eat(b' ') {
        return Err(err("missing command"));
    }
    let kind = command::parse(&mut lex).map_err(err)?;
    if !lex.at_end() {
        return Err(err("unexpected characters after the command"));
    }
    Ok(Command { tag, kind })
}
