//! Fuzzes the fetcher's reading of an IMAP server's responses
//! (`fetch::response`): the `Framer` that finds where a response ends
//! across reads (lines and `{n}` literals, RFC 3501 §4.3) and `parse` on
//! each complete response.
//!
//! Checks:
//! - the stream framed as it arrives in the pieces of the input's split
//!   plan gives the same responses, and the same error, as framed whole;
//! - every frame ends in LF;
//! - `parse` never panics, and what it borrows (message bodies) lies
//!   inside the frame;
//! - INTERNALDATE: a date the server side renders (`wire::imap::datetime`) is read
//!   back by the fetcher to the same second.
//!
//! Input: split plan, then the server's bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::fetch::response::{self, Error, Framed, Framer, Limits, Response, Untagged};
use smolmail::wire::imap::datetime;
use smolmail_fuzz::chunks::{self, Plan};

const LIMITS: Limits = Limits {
    max_line: 1024,
    max_literal: 8192,
};

fuzz_target!(|data: &[u8]| {
    let (plan, stream) = chunks::split(data);
    let whole = frame(stream, Plan::whole());
    assert_eq!(whole, frame(stream, plan), "framing depends on the pieces");
    for f in &whole.0 {
        assert!(f.ends_with(b"\n"));
        check_parse(f);
    }
    if let Some(bytes) = stream.get(..8) {
        check_date(i64::from_be_bytes(bytes.try_into().unwrap()));
    }
});

/// Frames as the client does: append what arrives, take every complete
/// response off the front. The frames and the error, if any.
fn frame(stream: &[u8], plan: Plan<'_>) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut framer = Framer::default();
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    for piece in plan.pieces(stream) {
        buf.extend_from_slice(piece);
        loop {
            match framer.advance(&buf, &LIMITS) {
                Ok(Framed::Complete(n)) => {
                    assert!(n <= buf.len());
                    frames.push(buf.drain(..n).collect());
                }
                Ok(Framed::Need(n)) => {
                    assert!(n >= 1);
                    break;
                }
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fn check_parse(f: &[u8]) {
    let inside = |b: &[u8]| {
        let (start, end) = (f.as_ptr() as usize, f.as_ptr() as usize + f.len());
        let p = b.as_ptr() as usize;
        start <= p && p + b.len() <= end
    };
    match response::parse(f) {
        Ok(Response::Untagged(Untagged::Fetch(_, data))) => {
            for bytes in [&data.body, &data.header_fields].into_iter().flatten() {
                if let std::borrow::Cow::Borrowed(b) = bytes {
                    assert!(inside(b), "a body outside the frame");
                }
            }
        }
        Ok(Response::Tagged { tag, .. }) => assert!(!tag.is_empty() && inside(tag.as_bytes())),
        _ => {}
    }
}

/// An INTERNALDATE as the server writes it, read back as the fetcher reads
/// it (`wire::imap::datetime`, years 1 to 9999).
fn check_date(unix: i64) {
    const YEAR_1: i64 = -62_135_596_800;
    const YEAR_10000: i64 = 253_402_300_800;
    let unix = YEAR_1 + unix.rem_euclid(YEAR_10000 - YEAR_1);
    let mut out = Vec::new();
    datetime::write_date_time(&mut out, unix);
    let text = out.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\""));
    let text = text.expect("INTERNALDATE is quoted");
    assert_eq!(
        datetime::parse_date_time(text).map(|d| d.unix),
        Some(unix),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}
