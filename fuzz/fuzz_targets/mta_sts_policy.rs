//! Fuzzes the MTA-STS policy parser (`wire::mta_sts::parse_policy`, RFC
//! 8461 §3.2), the `_mta-sts` TXT record reader (§3.1) and MX pattern
//! matching (§4.1).
//!
//! Checks, besides no panic:
//! - an accepted policy has max_age within the RFC's limit, at most
//!   `MAX_MX` patterns, lower-case patterns, and mx patterns unless the
//!   mode is `none`;
//! - the policy written back as the RFC's `key: value` lines parses to
//!   the same policy (what we serve, others read);
//! - every pattern matches a host made from it (a wildcard with one
//!   label put in front);
//! - an accepted TXT record's id is 1 to 32 letters and digits.
//!
//! Input: a policy body as an HTTPS server sends it, or a TXT record.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::wire::mta_sts::{self, MAX_AGE_LIMIT, MAX_MX, Mode};

fuzz_target!(|data: &[u8]| {
    if let Some(r) = mta_sts::parse_record(data) {
        assert!((1..=32).contains(&r.id.len()));
        assert!(r.id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    let Ok(p) = mta_sts::parse_policy(data) else {
        return;
    };
    assert!(p.max_age <= MAX_AGE_LIMIT);
    assert!(p.mx.len() <= MAX_MX);
    assert!(p.mode == Mode::None || !p.mx.is_empty());
    let mut text = format!("version: STSv1\r\nmode: {}\r\n", p.mode.as_str());
    for mx in &p.mx {
        assert_eq!(*mx, mx.to_ascii_lowercase());
        text.push_str(&format!("mx: {mx}\r\n"));
        let host = match mx.strip_prefix("*.") {
            Some(rest) => format!("a.{rest}"),
            None => mx.clone(),
        };
        assert!(p.allows(&host), "{mx} vs {host}");
    }
    text.push_str(&format!("max_age: {}\r\n", p.max_age));
    assert_eq!(mta_sts::parse_policy(text.as_bytes()), Ok(p));
});
