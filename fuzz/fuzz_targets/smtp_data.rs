//! Fuzzes the SMTP DATA decoder (`smtp::data::DataDecoder`, RFC 5321
//! §4.1.1.4 and §4.5.2, the SMTP smuggling defence), the BDAT bare line
//! ending scan, and the outbound dot-stuffer (`wire::dot::DotStuffer`)
//! against the decoder.
//!
//! Checks:
//! - the input decoded in the pieces of its split plan gives the same end,
//!   content and verdict as decoded in one piece; likewise the BDAT scan
//!   with its carried CR, and the dot-stuffer;
//! - the data ends only at `CRLF . CRLF` (or `. CRLF` at the very start);
//! - the verdict is BareLineEnding exactly when the BDAT scan finds a bare
//!   CR or LF in the same bytes; the content never exceeds the limit;
//! - round trip: any message dot-stuffed for sending decodes, with no bare
//!   line ending, to the message with its line endings made CRLF.
//!
//! Input: split plan, one byte for the size limit, then the DATA stream
//! (which is also used as the message for the round trip).

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::smtp::data::{DataDecoder, Progress, Verdict, scan_bare_line_endings};
use smolmail::wire::dot::DotStuffer;
use smolmail_fuzz::chunks::{self, Plan};

fuzz_target!(|data: &[u8]| {
    let (plan, payload) = chunks::split(data);
    let Some((&limit, stream)) = payload.split_first() else {
        return;
    };
    let limit = usize::from(limit) * 16;

    let whole = decode(stream, Plan::whole(), limit);
    assert_eq!(
        whole,
        decode(stream, plan, limit),
        "decoding depends on the pieces"
    );
    let (end, content, verdict) = &whole;
    if let Some(end) = *end {
        let data = &stream[..end];
        assert!(
            data == b".\r\n" || data.ends_with(b"\r\n.\r\n"),
            "ended early"
        );
        let mut bare = false;
        scan_bare_line_endings(data, false, &mut bare);
        assert_eq!(
            bare,
            *verdict == Verdict::BareLineEnding,
            "disagrees with BDAT scan"
        );
    }
    assert!(content.len() <= limit);

    assert_eq!(scan(stream, Plan::whole()), scan(stream, plan));

    // The round trip: the stream as a message to send.
    let stuffed = stuff(stream, Plan::whole());
    assert_eq!(
        stuffed,
        stuff(stream, plan),
        "stuffing depends on the pieces"
    );
    let mut bare = false;
    scan_bare_line_endings(&stuffed, false, &mut bare);
    assert!(!bare, "the dot-stuffer wrote a bare line ending");
    let (end, content, verdict) = decode(&stuffed, Plan::whole(), usize::MAX / 2);
    assert_eq!(end, Some(stuffed.len()), "stuffed data ends elsewhere");
    assert_eq!(verdict, Verdict::Ok);
    assert_eq!(content, crlf_lines(stream));
});

/// Feeds the pieces; the end's offset in `stream`, the content, the verdict.
fn decode(stream: &[u8], plan: Plan<'_>, limit: usize) -> (Option<usize>, Vec<u8>, Verdict) {
    let mut decoder = DataDecoder::new(limit);
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in plan.pieces(stream) {
        if let Progress::Done(n) = decoder.feed(piece, &mut out, 0) {
            return (Some(offset + n), out, decoder.verdict());
        }
        offset += piece.len();
    }
    (None, out, decoder.verdict())
}

/// The BDAT scan over the pieces: (bare line ending seen, CR carried).
fn scan(stream: &[u8], plan: Plan<'_>) -> (bool, bool) {
    let (mut bad, mut cr) = (false, false);
    for piece in plan.pieces(stream) {
        cr = scan_bare_line_endings(piece, cr, &mut bad);
    }
    (bad, cr)
}

fn stuff(message: &[u8], plan: Plan<'_>) -> Vec<u8> {
    let mut stuffer = DotStuffer::new();
    let mut out = Vec::new();
    for piece in plan.pieces(message) {
        stuffer.push(piece, &mut out);
    }
    stuffer.finish(&mut out);
    out
}

/// What the stuffer promises to send: every CRLF, bare CR and bare LF a
/// CRLF, and a last line without one closed.
fn crlf_lines(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' if message.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
