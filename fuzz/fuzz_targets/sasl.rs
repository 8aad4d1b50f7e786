//! Fuzzes SASL decoding (`auth::sasl`): a client's base64 line (RFC 4954
//! §4), PLAIN's message (RFC 4616 §2) and a LOGIN answer, as IMAP, POP3
//! and SMTP AUTH all read them.
//!
//! Checks:
//! - base64 round trip: the encoding of any bytes decodes to them;
//! - `*` (and only `*`) cancels; a decoded line is the base64 decoding of
//!   the trimmed line;
//! - PLAIN: credentials come only from exactly three NUL-separated UTF-8
//!   fields with a non-empty user, and re-encoding them (with or without
//!   the authorization identity) gives the same credentials; a refused
//!   authorization identity really differs from the user.
//!
//! Input: a client's line; also taken as decoded PLAIN bytes.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use smolmail::auth::sasl::{self, SaslError};

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        sasl::decode_response(STANDARD.encode(data).as_bytes()),
        Ok(data.to_vec())
    );

    match sasl::decode_response(data) {
        Err(SaslError::Cancelled) => assert_eq!(data.trim_ascii(), b"*"),
        Ok(bytes) if data.trim_ascii() != b"=" => {
            assert_eq!(STANDARD.decode(data.trim_ascii()).ok(), Some(bytes.clone()));
            check_plain(&bytes);
        }
        _ => {}
    }
    check_plain(data);
    let _ = sasl::login_field(data);
});

fn check_plain(message: &[u8]) {
    let fields: Vec<&[u8]> = message.split(|&b| b == 0).collect();
    match sasl::plain(message) {
        Ok(c) => {
            assert_eq!(fields.len(), 3);
            assert!(!c.username.is_empty());
            assert_eq!(
                (c.username.as_bytes(), c.password.as_bytes()),
                (fields[1], fields[2])
            );
            let again = format!("\0{}\0{}", c.username, c.password);
            assert_eq!(sasl::plain(again.as_bytes()).as_ref(), Ok(&c));
            let again = format!("{}\0{}\0{}", c.username, c.username, c.password);
            assert_eq!(sasl::plain(again.as_bytes()).as_ref(), Ok(&c));
        }
        Err(SaslError::AuthzidMismatch) => {
            assert_eq!(fields.len(), 3);
            assert!(!fields[0].is_empty() && !fields[0].eq_ignore_ascii_case(fields[1]));
        }
        Err(_) => {}
    }
}
