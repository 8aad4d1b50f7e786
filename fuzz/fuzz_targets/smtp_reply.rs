//! Fuzzes the SMTP client's reply parser (`delivery::reply::parse`,
//! RFC 5321 §4.2) and what is read from a reply: EHLO keywords, enhanced
//! status codes (RFC 2034, RFC 3463).
//!
//! Checks, for each reply in the input in turn (replies are pipelined):
//! - a complete reply parses the same from just its own bytes, and every
//!   prefix of it that ends a line (or stops short of one) asks for more
//!   bytes instead of giving another answer;
//! - the incremental `reply::Parser`, fed the reply one byte more per
//!   call, gives the same reply once the last byte is in;
//! - the code is 200..=599, there is at least one line, no line holds a
//!   control character (replies go into logs and DSNs);
//! - an enhanced code, when believed, has the reply's class; `status()` is
//!   always `class.subject.detail`.
//!
//! Input: what a server sends.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::delivery::reply::{self, Extensions};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((r, n))) = reply::parse(rest) {
        assert!(n > 0 && n <= rest.len() && rest[n - 1] == b'\n');
        let own = &rest[..n];
        assert_eq!(reply::parse(own), Ok(Some((r.clone(), n))));
        let mut cuts: Vec<usize> = own
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        cuts.pop();
        cuts.push(n - 1);
        for cut in cuts {
            assert_eq!(reply::parse(&own[..cut]), Ok(None), "prefix of {cut}");
        }
        let mut parser = reply::Parser::default();
        for end in 1..n {
            assert_eq!(parser.parse(&own[..end]), Ok(None), "fed {end}");
        }
        assert_eq!(parser.parse(own), Ok(Some((r.clone(), n))));
        assert!((200..600).contains(&r.code));
        assert!(!r.lines.is_empty());
        assert!(r.lines.iter().all(|l| !l.chars().any(char::is_control)));
        if let Some(code) = r.enhanced() {
            assert_eq!(code.as_bytes()[0], b'0' + (r.code / 100) as u8);
        }
        let status = r.status();
        assert_eq!(status.split('.').count(), 3, "{status}");
        let _ = (Extensions::parse(&r), r.text());
        rest = &rest[n..];
    }
});
