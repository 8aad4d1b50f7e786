//! Fuzzes the SMTP server's command line parser (`smtp::command::parse`),
//! its path parser (RFC 5321 §4.1.2) and the xtext of DSN parameters
//! (RFC 3461 §4) in both directions: the server's decoder and the
//! delivery client's encoder (`delivery::reply::xtext`).
//!
//! Checks:
//! - a line parses the same with or without its CRLF;
//! - a path that parses re-parses, written back as `<local@domain>`, to the
//!   same path (what the queue stores is read the same way again);
//! - xtext: what the decoder accepts is RFC 3461 xtext (`+` and two hex
//!   digits, or a printable character other than `+` and `=`), and
//!   decode(encode(s)) == s for every string s, including decoded ENVID
//!   and ORCPT values.
//!
//! Input: one command line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::dsn::{decode_xtext, encode_xtext as xtext};
use smolmail::smtp::command::{self, Command, Path, ReversePath};

fuzz_target!(|line: &[u8]| {
    let parsed = command::parse(line);
    if !line.ends_with(b"\r") && !line.ends_with(b"\n") {
        let mut crlf = line.to_vec();
        crlf.extend_from_slice(b"\r\n");
        assert_eq!(parsed, command::parse(&crlf), "CRLF changes the parse");
    }
    match &parsed {
        Ok(Command::Mail(ReversePath::Mailbox(path), params)) => {
            check_path(path);
            if let Some(envid) = &params.envid {
                check_xtext_roundtrip(envid);
            }
        }
        Ok(Command::Rcpt(path, params)) => {
            if !path.domain.is_empty() {
                check_path(path);
            }
            if let Some(orcpt) = &params.orcpt {
                check_xtext_roundtrip(orcpt);
            }
        }
        _ => {}
    }
    if let Ok(text) = std::str::from_utf8(line) {
        if let Some(path) = command::parse_path(text) {
            check_path(&path);
        }
        if let Some(decoded) = decode_xtext(text) {
            assert!(is_xtext(text.as_bytes()), "{text:?} is not xtext");
            check_xtext_roundtrip(&decoded);
        }
        check_xtext_roundtrip(text);
    }
});

fn check_path(path: &Path) {
    let written = format!("<{}>", path.address());
    let again = command::parse_path(&written);
    assert_eq!(
        again.as_ref(),
        Some(path),
        "{written:?} re-parses differently"
    );
}

fn check_xtext_roundtrip(s: &str) {
    let encoded = xtext(s);
    assert!(is_xtext(encoded.as_bytes()), "{encoded:?} is not xtext");
    assert_eq!(
        decode_xtext(&encoded).as_deref(),
        Some(s),
        "via {encoded:?}"
    );
}

/// RFC 3461 §4: `xtext = *( xchar / hexchar )`; hex digits are upper case
/// in the RFC, lower case is tolerated on input.
fn is_xtext(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => {
                let hex = text.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            b'!'..=b'~' if text[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    true
}
