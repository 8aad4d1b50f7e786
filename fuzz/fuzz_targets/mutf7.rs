//! Fuzzes modified UTF-7 (`wire::imap::mutf7`, RFC 3501 §5.1.3), the wire form of
//! mailbox names, in both directions.
//!
//! Checks:
//! - decode(encode(s)) == s for every string s, and encode writes only
//!   printable US-ASCII;
//! - the decoder takes only the canonical form: encode(decode(x)) == x for
//!   every accepted x (one mailbox, one wire name).
//!
//! Input: a wire name; when it is UTF-8, also a mailbox name to encode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::wire::imap::mutf7;

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = mutf7::decode(data) {
        assert_eq!(mutf7::encode(&name).as_bytes(), data, "decoded {name:?}");
    }
    if let Ok(name) = std::str::from_utf8(data) {
        let wire = mutf7::encode(name);
        assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)), "{wire:?}");
        assert_eq!(
            mutf7::decode(wire.as_bytes()).as_deref(),
            Ok(name),
            "via {wire:?}"
        );
    }
});
