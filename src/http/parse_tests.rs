//! The request parser against RFC 9112's rules, one test per rule.

use super::*;

fn head(text: &str) -> Result<Head<'_>, Error> {
    parse_head(text.as_bytes())
}

#[test]
fn origin_form_with_query_host_and_keep_alive() {
    let h = head("GET /mail/config-v1.1.xml?emailaddress=a%40b.example HTTP/1.1\r\nHost: Autoconfig.B.example:8080\r\nAccept: */*\r\n\r\n").unwrap();
    assert_eq!(h.method, "GET");
    assert_eq!(h.path, "/mail/config-v1.1.xml");
    assert_eq!(h.query, Some("emailaddress=a%40b.example"));
    assert_eq!(h.host, Some("Autoconfig.B.example"));
    assert_eq!(h.version, Version::Http11);
    assert!(h.keep_alive);
    assert_eq!(h.headers.len(), 2);
    assert_eq!(h.content_length, 0);
}

#[test]
fn rfc9112_3_2_2_absolute_form_names_the_host() {
    let h =
        head("GET http://mta-sts.example/.well-known/mta-sts.txt HTTP/1.1\r\nHost: other\r\n\r\n")
            .unwrap();
    assert_eq!(h.host, Some("mta-sts.example"));
    assert_eq!(h.path, "/.well-known/mta-sts.txt");
    let h = head("GET http://[2001:db8::1]:80 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!((h.host, h.path), (Some("[2001:db8::1]"), "/"));
}

#[test]
fn rfc9112_3_2_host_is_required_once_in_1_1() {
    assert_eq!(
        head("GET / HTTP/1.1\r\n\r\n").unwrap_err(),
        Error::Bad("HTTP/1.1 request without Host")
    );
    assert_eq!(
        head("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n").unwrap_err(),
        Error::Bad("more than one Host field")
    );
    // HTTP/1.0 may leave it out, and is never kept alive.
    let h = head("GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!((h.host, h.keep_alive), (None, false));
}

#[test]
fn connection_close_ends_persistence() {
    let h = head("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n").unwrap();
    assert!(!h.keep_alive);
}

#[test]
fn rfc9112_2_2_bare_lf_and_cr_are_refused() {
    assert_eq!(head_end(b"GET / HTTP/1.1\n", 0), Err(Error::Bad("bare LF")));
    assert!(head("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n").is_err());
    assert!(head("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n").is_err());
}

#[test]
fn rfc9112_5_1_no_space_before_colon_and_5_2_no_folding() {
    assert_eq!(
        head("GET / HTTP/1.1\r\nHost : a\r\n\r\n").unwrap_err(),
        Error::Bad("header field name is not a token")
    );
    assert_eq!(
        head("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n").unwrap_err(),
        Error::Bad("obsolete line folding")
    );
}

#[test]
fn request_line_shape() {
    for bad in [
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/11\r\nHost: a\r\n\r\n",
        "GET x HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert!(matches!(head(bad), Err(Error::Bad(_))), "{bad:?}");
    }
    assert_eq!(
        head("GET / HTTP/2.0\r\nHost: a\r\n\r\n").unwrap_err(),
        Error::Version
    );
    assert_eq!(
        head("GET / HTTP/1.9\r\nHost: a\r\n\r\n").unwrap().version,
        Version::Http11
    );
}

#[test]
fn rfc9112_6_body_only_by_content_length() {
    let h = head("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n").unwrap();
    assert_eq!(h.content_length, 12);
    let same = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(head(same).unwrap().content_length, 5);
    for bad in ["5, 6", "-1", "+5", "0x10", "", "99999999999999999999"] {
        let text = format!("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {bad}\r\n\r\n");
        assert!(matches!(head(&text), Err(Error::Bad(_))), "{bad:?}");
    }
    let two = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
    assert_eq!(
        head(two).unwrap_err(),
        Error::Bad("two different Content-Length fields")
    );
    let big = format!(
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    assert_eq!(head(&big).unwrap_err(), Error::TooLarge);
}

#[test]
fn rfc9112_6_1_chunked_needs_a_length_other_codings_unknown() {
    let chunked = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(head(chunked).unwrap_err(), Error::LengthRequired);
    assert_eq!(head(chunked).unwrap_err().status(), 411);
    let gzip = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert_eq!(head(gzip).unwrap_err().status(), 501);
    // Both framings at once is how requests are smuggled (§6.3).
    let both =
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(head(both).unwrap_err().status(), 400);
}

#[test]
fn rfc9110_10_1_1_expect() {
    let h =
        head("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            .unwrap();
    assert!(h.expect_continue);
    let other = "POST /x HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n";
    assert_eq!(head(other).unwrap_err().status(), 417);
}

#[test]
fn bounds_414_and_431() {
    let long_target = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(MAX_REQUEST_LINE)
    );
    assert_eq!(head(&long_target).unwrap_err(), Error::UriTooLong);
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    let text = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    assert_eq!(head(&text).unwrap_err(), Error::HeadersTooLarge);
    // A head that never ends is refused once past MAX_HEAD, by which of
    // the two bounds it broke.
    let endless = format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(MAX_HEAD));
    assert_eq!(head_end(endless.as_bytes(), 0), Err(Error::HeadersTooLarge));
    let endless_line = format!("GET /{}", "v".repeat(MAX_HEAD));
    assert_eq!(head_end(endless_line.as_bytes(), 0), Err(Error::UriTooLong));
}

#[test]
fn head_end_resumes_and_blank_lines_are_skipped() {
    let text = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
    for split in 0..text.len() - 4 {
        let first = head_end(&text[..split], 0).unwrap();
        assert_eq!(first, None, "{split}");
        assert_eq!(
            head_end(text, split.saturating_sub(3)),
            Ok(Some(text.len() - 4))
        );
    }
    assert_eq!(skip_blank_lines(b"\r\n\r\nGET"), 4);
    assert_eq!(skip_blank_lines(b"GET"), 0);
}

/// Found by fuzzing: a Host field value with a space (or any byte a host
/// cannot have) was taken as the host, and so reached the log and the
/// domain lookups.
#[test]
fn rfc9112_3_2_invalid_host_is_400() {
    for bad in ["a b", "a\"b", "a/b", "a@b"] {
        let text = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_eq!(
            head(&text).unwrap_err(),
            Error::Bad("invalid Host"),
            "{bad:?}"
        );
    }
    assert_eq!(
        head("GET http://a b/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err(),
        Error::Bad("request line is not METHOD TARGET VERSION")
    );
    let h = head("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").unwrap();
    assert_eq!(h.host, Some("[::1]"));
}
