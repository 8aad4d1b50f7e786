//! Fuzzes the SPF record parser and macro expander (RFC 7208 §4.5, §7;
//! `smolmail::spf`) and the DMARC record parser (RFC 7489 §6.3;
//! `smolmail::dmarc::record`) with the text of a TXT record as a hostile
//! domain would publish it.
//!
//! Checks:
//! - a record that parses has at most `MAX_TERMS` directives;
//! - a macro-string that passes `check` expands without error, within
//!   `MAX_EXPANSION`, and a domain-spec expansion is at most 253 bytes;
//! - a DMARC record that parses has pct ≤ 100.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::dmarc;
use smolmail::spf::{macros, record};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = dmarc::record::parse(text) {
        assert!(r.pct <= 100);
    }
    if let Ok(r) = record::parse(text) {
        assert!(r.directives.len() <= record::MAX_TERMS);
    }
    let cx = macros::Context {
        sender: "strong-bad@email.example.com",
        domain: "email.example.com",
        ip: "2001:db8::cb01".parse().unwrap(),
        helo: "mx.example.org",
        receiver: "mx.example.net",
        now: 1,
    };
    for exp in [false, true] {
        if macros::check(text, exp).is_ok() {
            let out = macros::expand(text, &cx, exp);
            // The check ran with shorter values: a longer sender may only
            // make the expansion too long, nothing else.
            if let Ok(out) = out {
                assert!(out.len() <= macros::MAX_EXPANSION + 64);
                assert!(exp || out.len() <= 253);
            }
        }
    }
});
