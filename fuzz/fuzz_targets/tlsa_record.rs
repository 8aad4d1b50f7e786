//! Fuzzes the TLSA record reader (`wire::tlsa::parse`, RFC 6698 §2.1 as
//! RFC 7672 §3.1.3 narrows it) and the matching of a certificate to it.
//!
//! Checks, besides no panic:
//! - a usable record has the digest length of its matching type and at
//!   most `MAX_DATA` bytes of exact data;
//! - a usable record with matching type 0 matches exactly the bytes it
//!   carries, and a digest record matches what was hashed into it;
//! - input shorter than four bytes is never a record.
//!
//! Input: TLSA record data as a DNS answer carries it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::wire::tlsa::{self, MAX_DATA, Matching, Parsed, Selector};

fuzz_target!(|data: &[u8]| {
    let parsed = tlsa::parse(data);
    if data.len() < 4 {
        assert_eq!(parsed, None);
    }
    let Some(Parsed::Usable(t)) = parsed else {
        return;
    };
    match t.matching {
        Matching::Exact => {
            assert!(t.data.len() <= MAX_DATA);
            let (cert, spki) = match t.selector {
                Selector::Cert => (&t.data[..], &b"x"[..]),
                Selector::Spki => (&b"x"[..], &t.data[..]),
            };
            assert!(t.matches(cert, spki));
        }
        Matching::Sha256 => assert_eq!(t.data.len(), 32),
        Matching::Sha512 => assert_eq!(t.data.len(), 64),
    }
    // A certificate whose bytes are the record's own data never matches a
    // digest record by accident of equality.
    if t.matching != Matching::Exact {
        assert!(!t.matches(&t.data, &t.data));
    }
});
