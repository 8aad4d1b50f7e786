//! Canonicalization, RFC 6376 §3.4: "simple" and "relaxed" for header
//! fields (§3.4.1, §3.4.2) and for the body (§3.4.3, §3.4.4), and the body
//! hash over the canonical body (§3.7), with the `l=` count.
//!
//! The body is canonicalized line by line straight into the hash, never
//! copied: a message of many megabytes costs one pass and no memory. A bare
//! LF ends a line as CRLF does (stored mail is CRLF; mail fetched from
//! elsewhere may not be, and this is how every verifier reads it).

use ring::digest;

/// A canonicalization algorithm (`c=`, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canon {
    Simple,
    Relaxed,
}

impl Canon {
    pub fn name(self) -> &'static str {
        match self {
            Canon::Simple => "simple",
            Canon::Relaxed => "relaxed",
        }
    }

    pub fn parse(s: &[u8]) -> Option<Canon> {
        match s {
            b"simple" => Some(Canon::Simple),
            b"relaxed" => Some(Canon::Relaxed),
            _ => None,
        }
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Appends the canonical form of one header field: `raw` is the field as
/// it appears (name, colon, value, folds, line end). `crlf` false leaves the
/// final CRLF off (the signature field itself, §3.7).
pub fn header(canon: Canon, raw: &[u8], crlf: bool, out: &mut Vec<u8>) {
    match canon {
        Canon::Simple => {
            let mut field = raw;
            if !crlf {
                field = field.strip_suffix(b"\n").unwrap_or(field);
                field = field.strip_suffix(b"\r").unwrap_or(field);
            }
            out.extend_from_slice(field);
        }
        Canon::Relaxed => {
            let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
            let name = &raw[..colon];
            // §3.4.2: lower-case name, no white space before the colon.
            let name_end = name.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
            out.extend(name[..name_end].iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            // Unfold, runs of WSP to one SP, none after the colon or at
            // the end.
            let mut space = false;
            let mut started = false;
            for &b in raw.get(colon + 1..).unwrap_or_default() {
                match b {
                    b'\r' | b'\n' => {}
                    b if is_wsp(b) => space = true,
                    b => {
                        if space && started {
                            out.push(b' ');
                        }
                        space = false;
                        started = true;
                        out.push(b);
                    }
                }
            }
            if crlf {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// Feeds the canonical body (§3.4.3 / §3.4.4) to `emit`, in pieces.
pub fn body(canon: Canon, body: &[u8], mut emit: impl FnMut(&[u8])) {
    // Empty lines are held back until a non-empty line follows: both
    // algorithms drop the empty lines at the end of the body.
    let mut pending_empty = 0usize;
    let mut any = false;
    let mut line_buf = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (mut line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        line = line.strip_suffix(b"\r").unwrap_or(line);
        let line: &[u8] = match canon {
            Canon::Simple => line,
            Canon::Relaxed => {
                // §3.4.4: no WSP at line end, runs of WSP to one SP.
                line_buf.clear();
                let mut space = false;
                for &b in line {
                    if is_wsp(b) {
                        space = true;
                    } else {
                        if space {
                            line_buf.push(b' ');
                        }
                        space = false;
                        line_buf.push(b);
                    }
                }
                &line_buf
            }
        };
        if line.is_empty() {
            pending_empty += 1;
            continue;
        }
        for _ in 0..pending_empty {
            emit(b"\r\n");
        }
        pending_empty = 0;
        emit(line);
        emit(b"\r\n");
        any = true;
    }
    // §3.4.3: an empty body is one CRLF in simple; §3.4.4: nothing in relaxed.
    if !any && canon == Canon::Simple {
        emit(b"\r\n");
    }
}

/// The SHA-256 of the canonical body, only its first `limit` bytes if
/// given (`l=`, §3.5), and the canonical body's full length (a verifier
/// fails a signature whose `l=` exceeds it, §3.4.5).
pub fn body_hash(canon: Canon, message_body: &[u8], limit: Option<u64>) -> (digest::Digest, u64) {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut total = 0u64;
    body(canon, message_body, |piece| {
        let room = limit.map_or(u64::MAX, |l| l.saturating_sub(total));
        let take = (piece.len() as u64).min(room) as usize;
        ctx.update(&piece[..take]);
        total += piece.len() as u64;
    });
    (ctx.finish(), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon_body(c: Canon, b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        body(c, b, |p| out.extend_from_slice(p));
        out
    }

    // RFC 6376 §3.4.5, the example: the header fields "A: X", "B : Y\t\r\n\tZ  "
    // and the body " C \r\nD \t E\r\n\r\n\r\n".
    const HEADER: [&[u8]; 2] = [b"A: X\r\n", b"B : Y\t\r\n\tZ  \r\n"];
    const BODY: &[u8] = b" C \r\nD \t E\r\n\r\n\r\n";

    #[test]
    fn rfc6376_3_4_5_relaxed_example() {
        let mut h = Vec::new();
        for f in HEADER {
            header(Canon::Relaxed, f, true, &mut h);
        }
        assert_eq!(h, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(canon_body(Canon::Relaxed, BODY), b" C\r\nD E\r\n");
    }

    #[test]
    fn rfc6376_3_4_5_simple_example() {
        let mut h = Vec::new();
        for f in HEADER {
            header(Canon::Simple, f, true, &mut h);
        }
        assert_eq!(h, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
        assert_eq!(canon_body(Canon::Simple, BODY), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn rfc6376_3_4_3_and_3_4_4_empty_bodies_and_missing_line_end() {
        assert_eq!(canon_body(Canon::Simple, b""), b"\r\n");
        assert_eq!(canon_body(Canon::Simple, b"\r\n\r\n"), b"\r\n");
        assert_eq!(canon_body(Canon::Relaxed, b""), b"");
        assert_eq!(canon_body(Canon::Relaxed, b" \r\n\t\r\n"), b"");
        assert_eq!(canon_body(Canon::Relaxed, b"x"), b"x\r\n");
        assert_eq!(canon_body(Canon::Simple, b"x\n\ny\n"), b"x\r\n\r\ny\r\n");
        // The well-known hash of the empty simple body (a single CRLF).
        let (h, n) = body_hash(Canon::Simple, b"", None);
        assert_eq!(n, 2);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, h);
        assert_eq!(b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    }

    #[test]
    fn rfc6376_3_5_body_length_limit_counts_canonical_bytes() {
        let (full, n) = body_hash(Canon::Relaxed, b"ab\r\ncd\r\n", None);
        let (cut, _) = body_hash(Canon::Relaxed, b"ab\r\ncd\r\n", Some(4));
        let (alone, _) = body_hash(Canon::Relaxed, b"ab\r\n", None);
        assert_eq!(n, 8);
        assert_eq!(cut.as_ref(), alone.as_ref());
        assert_ne!(full.as_ref(), cut.as_ref());
    }

    #[test]
    fn relaxed_header_without_line_end_for_the_signature_field() {
        let mut h = Vec::new();
        header(
            Canon::Relaxed,
            b"DKIM-Signature: v=1;\r\n b=\r\n",
            false,
            &mut h,
        );
        assert_eq!(h, b"dkim-signature:v=1; b=");
    }
}
