//! Fuzzes the DKIM parsers of outside bytes (`smolmail::dkim`, RFC 6376):
//! the tag-list (§3.2), the DKIM-Signature field (§3.5), the key record
//! (§3.6.1), the header split and both canonicalizations (§3.4), and
//! verification against a fixed key.
//!
//! Checks:
//! - a tag-list that parses has at most `MAX_TAGS` tags, no name twice,
//!   names of `ALPHA *(ALNUM / "_")`;
//! - the fields of the split are in order, inside the message, and the
//!   body is the message's tail;
//! - relaxed header canonicalization is idempotent and emptying `b=`
//!   twice is emptying it once;
//! - a parsed signature names at most `MAX_SIGNED_FIELDS` fields, From
//!   among them, and never verifies against a key that did not sign it.
//!
//! Input: a message (what a client or a relay sends); its first line also
//! serves as a tag-list and as a key record.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::dkim::canon::{self, Canon};
use smolmail::dkim::{fields, record, signature, tags, verify};

/// An Ed25519 key whose private half was thrown away: nothing the fuzzer
/// makes can carry a signature that verifies with it (the RFC 8463 key in
/// the seeds would, for the seed itself).
const KEY: &[u8] = b"v=DKIM1; k=ed25519; p=Z4c4lDXsn/dcGZ/ocXkmbsFWype+IHb2KqvMNQT72BM=";

fuzz_target!(|data: &[u8]| {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Ok(list) = tags::parse(first) {
        assert!(list.tags.len() <= tags::MAX_TAGS);
        for (i, (name, _)) in list.tags.iter().enumerate() {
            assert!(name.as_bytes()[0].is_ascii_alphabetic());
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            assert!(list.tags[..i].iter().all(|(n, _)| n != name));
        }
    }
    let _ = record::parse(first);
    let _ = signature::parse(first);
    let key = record::parse(KEY).unwrap();
    let Ok(split) = fields::split(data) else {
        return;
    };
    assert!(data.ends_with(split.body));
    let mut end = 0;
    for f in &split.fields {
        let at = f.raw.as_ptr() as usize - data.as_ptr() as usize;
        assert!(at >= end && at + f.raw.len() <= data.len());
        end = at + f.raw.len();
        let mut once = Vec::new();
        canon::header(Canon::Relaxed, f.raw, true, &mut once);
        let mut twice = Vec::new();
        canon::header(Canon::Relaxed, &once, true, &mut twice);
        assert_eq!(once, twice);
        let stripped = verify::without_b(f.raw);
        assert_eq!(verify::without_b(&stripped), stripped);
    }
    for (i, sig) in verify::signatures(&split) {
        let Ok(sig) = sig else { continue };
        assert!(sig.signed.len() <= signature::MAX_SIGNED_FIELDS);
        assert!(sig.signed.iter().any(|n| n.eq_ignore_ascii_case(b"from")));
        assert!(verify::verify(&split, i, &sig, &key, 0).is_err());
    }
    let _ = canon::body_hash(Canon::Simple, split.body, Some(7));
});
