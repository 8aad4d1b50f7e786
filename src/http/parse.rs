//! The HTTP/1.1 request head parser (RFC 9112 §2-§6), a pure function over
//! the bytes read so far, so it can be fuzzed (fuzz/fuzz_targets/http_request.rs).
//!
//! Strict where leniency is what request smuggling lives on: lines end in
//! CRLF only (a bare CR or LF is refused, §2.2), no whitespace between a
//! field name and its colon (§5.1), no obsolete line folding (§5.2), one
//! Content-Length and never together with Transfer-Encoding (§6.3). A
//! request body is taken only by Content-Length and only up to
//! [`MAX_BODY`]: a chunked one is answered 411 (the client may retry with
//! a length, §6.3 rule 7 allows the server to insist), any other transfer
//! coding 501 (§6.1). Every part is bounded before it is looked at.

use super::{MAX_BODY, MAX_HEAD, MAX_HEADERS, MAX_REQUEST_LINE};

/// HTTP/1.0 or HTTP/1.1 (a 1.x above 1 is answered as 1.1, RFC 9110 §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// Why a request is refused; each maps to its status code, and the
/// connection is closed after the answer (the framing can no longer be
/// trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// 400, with what was wrong (for the log).
    Bad(&'static str),
    /// 414: the request line is past [`MAX_REQUEST_LINE`].
    UriTooLong,
    /// 431: the head is past [`MAX_HEAD`] or has more than [`MAX_HEADERS`] fields.
    HeadersTooLarge,
    /// 411: a chunked body (RFC 9112 §6.3: a length is required).
    LengthRequired,
    /// 413: Content-Length past [`MAX_BODY`].
    TooLarge,
    /// 501: a transfer coding other than chunked.
    NotImplemented,
    /// 505: not HTTP/1.x.
    Version,
    /// 417: an Expect other than 100-continue (RFC 9110 §10.1.1).
    Expectation,
}

impl Error {
    pub fn status(self) -> u16 {
        match self {
            Error::Bad(_) => 400,
            Error::UriTooLong => 414,
            Error::HeadersTooLarge => 431,
            Error::LengthRequired => 411,
            Error::TooLarge => 413,
            Error::NotImplemented => 501,
            Error::Version => 505,
            Error::Expectation => 417,
        }
    }
}

/// A parsed request head, borrowing the bytes it was parsed from; the
/// session adds the body, the peer and whether TLS carried it.
#[derive(Debug, Clone)]
pub struct Head<'a> {
    pub method: &'a str,
    /// The request-target as sent (origin-form, or absolute-form's path).
    pub target: &'a str,
    /// The target's path, still percent-encoded.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub version: Version,
    /// Fields in order, names as sent, values without surrounding whitespace.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// Host, from the absolute-form target or the Host field, port removed.
    pub host: Option<&'a str>,
    pub content_length: usize,
    /// Whether the client asked to keep the connection (HTTP/1.1 and no
    /// `Connection: close`; HTTP/1.0 connections are always closed).
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
    /// Length of the head, through its blank line.
    pub len: usize,
}

/// Where the head ends (the index after its blank line) if it is complete
/// in `buf`; the search resumes at `from` (bytes before it were searched
/// by an earlier call), so a trickled head costs each byte one look. An LF
/// without its CR is refused as soon as it is seen. Leading blank lines
/// (RFC 9112 §2.2) are not special here: [`skip_blank_lines`] drops them first.
pub fn head_end(buf: &[u8], from: usize) -> Result<Option<usize>, Error> {
    let from = from.min(buf.len());
    for (i, &b) in buf.iter().enumerate().skip(from) {
        if b != b'\n' {
            continue;
        }
        if i == 0 || buf[i - 1] != b'\r' {
            return Err(Error::Bad("bare LF"));
        }
        if i >= 3 && &buf[i - 3..=i] == b"\r\n\r\n" {
            return Ok(Some(i + 1));
        }
    }
    if buf.len() > MAX_HEAD {
        return Err(too_large(buf));
    }
    Ok(None)
}

/// How many leading CRLFs to skip before a request line (RFC 9112 §2.2:
/// a server SHOULD ignore at least one empty line before it).
pub fn skip_blank_lines(buf: &[u8]) -> usize {
    let mut n = 0;
    while buf[n..].starts_with(b"\r\n") {
        n += 2;
    }
    n
}

/// 414 when the request line alone is too long, else 431.
fn too_large(buf: &[u8]) -> Error {
    let line = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line > MAX_REQUEST_LINE {
        Error::UriTooLong
    } else {
        Error::HeadersTooLarge
    }
}

/// Parses the complete head `buf[..len]` that [`head_end`] found.
pub fn parse_head(buf: &[u8]) -> Result<Head<'_>, Error> {
    let len = match head_end(buf, 0)? {
        Some(len) if len <= MAX_HEAD => len,
        Some(_) => return Err(too_large(buf)),
        None => return Err(Error::Bad("incomplete head")),
    };
    let mut lines = buf[..len - 4].split(|&b| b == b'\n').map(|l| {
        // head_end checked that every LF follows a CR.
        l.strip_suffix(b"\r").unwrap_or(l)
    });
    let line = lines.next().unwrap_or_default();
    if line.len() > MAX_REQUEST_LINE {
        return Err(Error::UriTooLong);
    }
    let (method, target, version) = request_line(line)?;
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(Error::HeadersTooLarge);
        }
        headers.push(field(line)?);
    }
    let mut head = Head {
        method,
        target,
        path: target,
        query: None,
        version,
        headers,
        host: None,
        content_length: 0,
        keep_alive: version == Version::Http11,
        expect_continue: false,
        len,
    };
    split_target(&mut head)?;
    framing(&mut head)?;
    Ok(head)
}

/// `method SP request-target SP HTTP-version` (RFC 9112 §3), single spaces.
fn request_line(line: &[u8]) -> Result<(&str, &str, Version), Error> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Bad("request line is not METHOD TARGET VERSION"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(Error::Bad("method is not a token"));
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err(Error::Bad(
            "request target has a byte outside visible ASCII",
        ));
    }
    let version = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Version::Http10,
                (b'1', _) => Version::Http11,
                _ => return Err(Error::Version),
            }
        }
        _ => return Err(Error::Bad("malformed HTTP version")),
    };
    // Both checked to be ASCII above.
    let text = |b| std::str::from_utf8(b).map_err(|_| Error::Bad("not ASCII"));
    Ok((text(method)?, text(target)?, version))
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5.1).
fn field(line: &[u8]) -> Result<(&str, &[u8]), Error> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(Error::Bad("obsolete line folding"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(Error::Bad("header field without a colon"))?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(Error::Bad("header field name is not a token"));
    }
    let value = line[colon + 1..].trim_ascii();
    // field-vchar, SP, HTAB and obs-text: no other control byte (RFC 9110 §5.5).
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Error::Bad("control character in a header field"));
    }
    let name = std::str::from_utf8(name).map_err(|_| Error::Bad("not ASCII"))?;
    Ok((name, value))
}

/// Path, query and host from the target (origin-form or absolute-form,
/// RFC 9112 §3.2.1-§3.2.2), the Host field checked (§3.2: exactly one in
/// HTTP/1.1).
fn split_target(head: &mut Head<'_>) -> Result<(), Error> {
    let mut hosts = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"));
    let host_field = hosts.next().map(|(_, v)| *v);
    if hosts.next().is_some() {
        return Err(Error::Bad("more than one Host field"));
    }
    if head.version == Version::Http11 && host_field.is_none() {
        return Err(Error::Bad("HTTP/1.1 request without Host"));
    }
    let target = head.target;
    let (authority, path) = if let Some(rest) = strip_scheme(target) {
        match rest.find('/') {
            Some(i) => (Some(&rest[..i]), &rest[i..]),
            None => (Some(rest), "/"),
        }
    } else if target.starts_with('/') || (target == "*" && head.method == "OPTIONS") {
        // origin-form, or asterisk-form (§3.2.4)
        (None, target)
    } else {
        return Err(Error::Bad("request target is neither a path nor a URL"));
    };
    let host = match authority {
        Some(a) => Some(a),
        None => match host_field {
            Some(v) => Some(std::str::from_utf8(v).map_err(|_| Error::Bad("Host is not ASCII"))?),
            None => None,
        },
    };
    if host.is_some_and(|h| !h.bytes().all(is_authority_byte)) {
        // RFC 9112 §3.2: an invalid Host field value gets 400.
        return Err(Error::Bad("invalid Host"));
    }
    head.host = host.map(strip_port).filter(|h| !h.is_empty());
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    head.path = path;
    head.query = query;
    Ok(())
}

fn strip_scheme(target: &str) -> Option<&str> {
    for scheme in ["http://", "https://"] {
        if target.len() >= scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(&target[scheme.len()..]);
        }
    }
    None
}

/// `host[:port]` or `[v6]:port` without the port.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Body length, persistence and Expect (RFC 9112 §6, §9.3; RFC 9110 §10.1.1).
fn framing(head: &mut Head<'_>) -> Result<(), Error> {
    let mut length: Option<usize> = None;
    let mut coded = None;
    for (name, value) in &head.headers {
        if name.eq_ignore_ascii_case("content-length") {
            if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
                return Err(Error::Bad("Content-Length is not a number"));
            }
            let n: u64 = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or(Error::Bad("Content-Length is not a number"))?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if length.is_some_and(|l| l != n) {
                return Err(Error::Bad("two different Content-Length fields"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            coded = Some(*value);
        } else if name.eq_ignore_ascii_case("connection") {
            if has_token(value, b"close") {
                head.keep_alive = false;
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(Error::Expectation);
            }
            head.expect_continue = head.version == Version::Http11;
        }
    }
    if let Some(coding) = coded {
        if length.is_some() {
            return Err(Error::Bad("both Transfer-Encoding and Content-Length"));
        }
        let last = coding.rsplit(|&b| b == b',').next().unwrap_or_default();
        return Err(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Error::LengthRequired
        } else {
            Error::NotImplemented
        });
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        return Err(Error::TooLarge);
    }
    head.content_length = length;
    Ok(())
}

/// Whether the comma-separated `list` holds `token` (any case).
fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// A byte of `host [":" port]` (RFC 3986 §3.2: unreserved, pct-encoded,
/// sub-delims, and the brackets and colons of an IP literal and port).
fn is_authority_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=[]:".contains(&b)
}

/// tchar of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
