//! Fuzzes how an IMAP command is read and parsed: the session input buffer
//! (`net::Input`) reading lines, the literal framing (RFC 3501 §4.3,
//! RFC 7888 `{n+}`) done as the `imap::parse` module documentation lays it
//! down for the session (`literal_at_end`, then exactly n bytes), and
//! `parse_command` on every command so assembled (which reaches the
//! lexer, sequence sets, FETCH items, SEARCH keys and dates).
//!
//! Checks:
//! - the stream read in the pieces of the input's split plan gives the same
//!   commands, refusals and end as the stream read all at once;
//! - `parse_command` never panics, and the tag it reports, on success and
//!   on error, is the one `peek_tag` sees (the session answers with it);
//!   this also for the whole input taken as one command, so the parser
//!   sees commands longer than the line limit lets through;
//! - a parsed sequence set's `normalized` form is sorted, disjoint and
//!   names exactly the numbers `contains` says it does, and so do its
//!   `resolve`d ranges (binary search, and the walk `pick`).
//!
//! Input: split plan (see `smolmail_fuzz::chunks`), one byte for the line
//! limit, then the bytes a client sends.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use smolmail::imap::parse::{self, CommandKind, FetchArgs, SequenceSet, StoreArgs};
use smolmail::net::{Input, ReadError};
use smolmail_fuzz::chunks::{self, Plan};
use smolmail_fuzz::reader::ChunkReader;

/// What reading one command came to.
#[derive(Debug, PartialEq)]
enum Event {
    Command(Vec<u8>),
    LineTooLong,
    /// A synchronizing literal over the limit: refused, the session goes on.
    LiteralRefused,
    /// The stream ended (or a non-synchronizing literal was too big).
    Closed,
}

const MAX_LITERAL: u64 = 2048;
/// How far the buffer may grow for literal data (the session's BULK).
const BULK: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let (plan, payload) = chunks::split(data);
    let Some((&limit, wire)) = payload.split_first() else {
        return;
    };
    let max_line = 16 + usize::from(limit) * 8;
    let whole = read_all(wire, Plan::whole(), max_line);
    let pieces = read_all(wire, plan, max_line);
    assert_eq!(whole, pieces, "reading depends on how the bytes arrive");
    for event in &whole {
        if let Event::Command(command) = event {
            check_parse(command);
        }
    }
    // The parser alone, on commands longer than the lines above allow.
    check_parse(wire);
});

/// Reads commands until the stream ends, as the session does.
fn read_all(wire: &[u8], plan: Plan<'_>, max_line: usize) -> Vec<Event> {
    let mut stream = ChunkReader::new(wire, plan);
    let mut input = Input::unpaced();
    let mut events = Vec::new();
    smol::block_on(async {
        loop {
            let event = read_command(&mut input, &mut stream, max_line).await;
            let closed = event == Event::Closed;
            events.push(event);
            if closed {
                return;
            }
        }
    });
    events
}

/// One command: lines and literals until a line without a literal marker.
async fn read_command(input: &mut Input, stream: &mut ChunkReader<'_>, max_line: usize) -> Event {
    let idle = Duration::from_secs(3600);
    let mut command = Vec::new();
    loop {
        let len = match input.line(stream, max_line, idle).await {
            Ok(len) => len,
            Err(ReadError::TooLong) => return Event::LineTooLong,
            Err(_) => return Event::Closed,
        };
        let raw = &input.buffered()[..len];
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let literal = parse::literal_at_end(line);
        command.extend_from_slice(line);
        input.consume(len);
        let Some(literal) = literal else {
            return Event::Command(command);
        };
        if literal.len > MAX_LITERAL {
            return if literal.non_sync {
                Event::Closed
            } else {
                Event::LiteralRefused
            };
        }
        command.extend_from_slice(b"\r\n");
        let mut remaining = literal.len as usize;
        if remaining > 64 {
            input.reserve(BULK);
        }
        while remaining > 0 {
            if input.buffered().is_empty() && input.fill(stream, BULK, idle).await.is_err() {
                return Event::Closed;
            }
            let take = remaining.min(input.buffered().len());
            command.extend_from_slice(&input.buffered()[..take]);
            input.consume(take);
            remaining -= take;
        }
        input.shrink();
    }
}

fn check_parse(command: &[u8]) {
    let tag = parse::peek_tag(command);
    match parse::parse_command(command) {
        Ok(c) => {
            assert_eq!(Some(c.tag), tag, "tag differs from peek_tag");
            let _ = c.kind.name();
            match &c.kind {
                CommandKind::Fetch(FetchArgs { set, .. })
                | CommandKind::Store(StoreArgs { set, .. })
                | CommandKind::Copy { set, .. }
                | CommandKind::Move { set, .. }
                | CommandKind::UidExpunge(set) => check_set(set),
                _ => {}
            }
        }
        Err(e) => assert_eq!(e.tag, tag, "error tag differs from peek_tag"),
    }
}

/// `normalized` and `resolve` against `contains`, for a small mailbox.
fn check_set(set: &SequenceSet) {
    for max in [0, 1, 7, 40] {
        let resolved = set.resolve(max);
        let numbers: Vec<u32> = (0..=max + 60).collect();
        let picked: Vec<u32> = resolved.pick(&numbers).map(|(_, n)| n).collect();
        for &n in &numbers {
            let named = set.contains(n, max);
            assert_eq!(resolved.contains(n), named, "{n} in {set:?} (* = {max})");
            assert_eq!(picked.binary_search(&n).is_ok(), named, "pick {n}");
        }
        let ranges = set.normalized(max);
        for pair in ranges.windows(2) {
            assert!(pair[0].1.saturating_add(1) < pair[1].0, "{ranges:?}");
        }
        for n in 1..=max {
            let listed = ranges.iter().any(|&(lo, hi)| lo <= n && n <= hi);
            assert_eq!(listed, set.contains(n, max), "{n} in {set:?} (* = {max})");
        }
        assert!(
            ranges
                .iter()
                .all(|&(lo, hi)| 1 <= lo && lo <= hi && hi <= max)
        );
    }
}
