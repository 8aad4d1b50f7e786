//! Fuzzes the HTTP/1.1 request head parser (`http::parse`, RFC 9112) and
//! what the router reads from a request: query parameters, the
//! autodiscover body's EMailAddress and the admin pages' form bodies
//! (`http::admin::form`: at most `MAX_FIELDS` fields, each decoded).
//!
//! Checks:
//! - the end of the head is found the same whether the bytes arrive at
//!   once or in two reads (the search resumes where it stopped);
//! - a parsed head is within every bound: its length, the field count,
//!   Content-Length; its path starts with `/` (or is `*`), and no field
//!   value carries a CR, LF or NUL (nothing can split an answer or a log
//!   line).
//!
//! Input: the bytes a client sends, the request head first.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::http::{self, parse};

fuzz_target!(|data: &[u8]| {
    let whole = parse::head_end(data, 0);
    let cut = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let first = parse::head_end(&data[..cut], 0);
    let resumed = match first {
        Ok(None) => parse::head_end(data, cut.saturating_sub(3)),
        other => other,
    };
    if first.is_ok() {
        assert_eq!(whole, resumed, "split at {cut} changes the head's end");
    }
    let Ok(Some(len)) = whole else {
        let _ = http::autodiscover::email_address(data);
        if let Some(form) = http::admin::form::Form::parse(data) {
            let _ = form.get("csrf");
        }
        return;
    };
    let Ok(head) = parse::parse_head(&data[..len]) else {
        return;
    };
    assert_eq!(head.len, len);
    assert!(len <= http::MAX_HEAD);
    assert!(head.headers.len() <= http::MAX_HEADERS);
    assert!(head.content_length <= http::MAX_BODY);
    assert!(head.path.starts_with('/') || head.path == "*", "{:?}", head.path);
    for (name, value) in &head.headers {
        assert!(!name.is_empty());
        assert!(!value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0));
    }
    if let Some(host) = head.host {
        assert!(!host.contains(['\r', '\n', ' ']));
    }
    let request = http::Request {
        body: &data[len..],
        peer: "127.0.0.1:1".parse().unwrap(),
        tls: false,
        head,
    };
    let _ = request.query_param("emailaddress");
    let _ = request.host();
    let _ = http::autodiscover::email_address(request.body);
});
