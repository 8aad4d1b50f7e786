//! The web face: a small HTTP/1.1 server (RFC 9110, RFC 9112) and what it
//! serves: mail client autoconfiguration, ACME HTTP-01 challenges, the
//! MTA-STS policy, the admin pages ([`admin`]), and (`--metrics`) whatever
//! another listener routes to it.
//!
//! Written here rather than taken from a crate: hyper, the maintained
//! HTTP/1.1 server, depends on tokio (its `rt` traits and sync parts even
//! with an async-io adapter), which the product leaves out; what smolmail
//! serves is a handful of small GET/POST answers, for which a bounded
//! parser ([`parse`], fuzzed) and one connection loop ([`session`]) are
//! less code to trust than the adapter would be.
//!
//! The reusable part is [`session`]: a listener hands it a connection and a
//! router, `AsyncFn(&Request) -> Response` (async because the admin pages
//! wait for store commits, hashing on the blocking pool and outside IMAP
//! servers; the router still answers one request at a time per
//! connection); the session reads requests within
//! the bounds below, calls the router and writes its answers (keep-alive,
//! `Connection: close`, HEAD without the body).

pub mod admin;
pub mod autoconfig;
pub mod autodiscover;
pub mod challenge;
pub mod mobileconfig;
pub mod mta_sts;
pub mod parse;
mod session;
pub mod site;
mod temp_file;

use std::net::SocketAddr;
use std::time::Duration;

pub use parse::{Error, Head, Version};
pub use session::session;
pub use temp_file::TempFile;

/// Longest request line (RFC 9112 §3: at least 8000 octets SHOULD be
/// supported); past it the answer is 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Largest request head, request line included; past it 431 (RFC 6585 §5).
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one request; past it 431.
pub const MAX_HEADERS: usize = 64;
/// Largest request body (an autodiscover POST is a few hundred bytes);
/// past it 413.
pub const MAX_BODY: usize = 16 * 1024;
/// From a request's first byte to its last: a client that trickles its
/// head (slowloris) is closed when this runs out, however often it sends.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may sit idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests on one connection before it is closed (the client reconnects,
/// passing the connection limits again).
pub const MAX_REQUESTS: u32 = 100;
/// Time allowed to write one answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as the router sees it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub head: Head<'a>,
    pub body: &'a [u8],
    pub peer: SocketAddr,
    /// Whether the request came over TLS (the `--https` listener).
    pub tls: bool,
}

impl<'a> Request<'a> {
    pub fn method(&self) -> &'a str {
        self.head.method
    }

    /// The path, still percent-encoded (`/mail/config-v1.1.xml`).
    pub fn path(&self) -> &'a str {
        self.head.path
    }

    /// The host the request was sent to, without port, lower-cased.
    pub fn host(&self) -> Option<String> {
        self.head
            .host
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    }

    /// The first field named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.head
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The first query parameter named `name`, percent-decoded (`+` as a
    /// space, as HTML forms send it); `None` if absent or not UTF-8.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.head.query?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true)? == name)
                .then(|| percent_decode(v, true))
                .flatten()
        })
    }
}

/// `%XX` escapes (RFC 3986 §2.1) decoded; with `plus`, `+` as a space.
/// `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str, plus: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// One answer. The session adds Date, Content-Length and Connection.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Further fields, e.g. `("Allow", "GET, HEAD")`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Logged at debug rather than info: a routine answer repeated all
    /// day (a Prometheus scrape every 15 s is 5,760 lines a day).
    pub routine: bool,
    /// A file sent after `body` as the rest of the answer, deleted when
    /// the answer is dropped (the admin pages' backup download).
    pub file: Option<TempFile>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            routine: false,
            file: None,
        }
    }

    /// An answer whose body is `file` (deleted with the answer).
    pub fn file(content_type: &'static str, file: TempFile) -> Response {
        let mut answer = Response::new(200, content_type, Vec::new());
        answer.file = Some(file);
        answer
    }

    /// The body's length on the wire: `body` and the file after it.
    pub fn body_len(&self) -> u64 {
        self.body.len() as u64 + self.file.as_ref().map_or(0, TempFile::len)
    }

    /// A `text/plain; charset=utf-8` answer.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    pub fn not_found() -> Response {
        Response::text(404, "not found\n")
    }

    /// 405 with the methods the resource has (RFC 9110 §15.5.6: Allow is required).
    pub fn method_not_allowed(allow: &str) -> Response {
        Response::text(405, "method not allowed\n").with_header("Allow", allow)
    }

    /// The same answer, logged at debug (see [`Response::routine`]).
    pub fn routine(mut self) -> Response {
        self.routine = true;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of a status code (RFC 9110 §15).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "",
    }
}
