//! Fuzzes the outbound resolver's reading of DNS responses
//! (`net::dns::parse_response`, RFC 1035 §4, decoded by simple-dns)
//! and of resolv.conf (`parse_resolv_conf`).
//!
//! Checks:
//! - nothing panics, whatever the packet;
//! - an answer holds only records of the type asked, MX exchanges are lower
//!   case without the trailing dot (empty only for the null MX root);
//! - a query of our own is never taken for its response;
//! - resolv.conf settings stay in their bounds (1 to 3 servers, timeout 1
//!   to 30 s, 1 to 5 attempts) whatever the file says.
//!
//! Input: a response to a question for `example.org`; its ID is the one
//! asked for, so the fuzzer need not guess it. Also read as resolv.conf.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use smolmail::net::dns::{self, Answer, Qtype, Record};

const NAME: &str = "example.org";

fuzz_target!(|data: &[u8]| {
    let id = data
        .get(..2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    for qtype in [Qtype::Mx, Qtype::A, Qtype::Aaaa, Qtype::Tlsa] {
        if let Ok(parsed) = dns::parse_response(id, NAME, qtype, data)
            && let Answer::Records(records) = &parsed.answer
        {
            assert!(!records.is_empty());
            for r in records {
                match (r, qtype) {
                    (Record::Mx { exchange, .. }, Qtype::Mx) => {
                        assert!(!exchange.ends_with('.'), "{exchange:?}");
                        assert_eq!(*exchange, exchange.to_ascii_lowercase());
                    }
                    (Record::A(_), Qtype::A)
                    | (Record::Aaaa(_), Qtype::Aaaa)
                    | (Record::Tlsa(_), Qtype::Tlsa) => {}
                    _ => panic!("{r:?} in an answer to {}", qtype.name()),
                }
            }
        }
        let query = dns::build_query(id, NAME, qtype).expect("a valid name");
        assert!(dns::parse_response(id, NAME, qtype, &query).is_err());
    }

    let conf = dns::parse_resolv_conf(&String::from_utf8_lossy(data));
    assert!((1..=3).contains(&conf.servers.len()));
    assert!((Duration::from_secs(1)..=Duration::from_secs(30)).contains(&conf.timeout));
    assert!((1..=5).contains(&conf.attempts));
});
