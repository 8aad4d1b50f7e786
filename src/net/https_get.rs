//! The smallest HTTPS client that fetches an MTA-STS policy (RFC 8461
//! §3.3): one GET over verified TLS with SNI, HTTP/1.1 with
//! `Connection: close`, nothing else.
//!
//! RFC 8461 §3.3 says what it must and need not do: the certificate must
//! be valid for the policy host (chain to a trusted root, name matches,
//! not expired — the verifier of `tls.rs` does that), redirects are not
//! followed, only 200 counts, and the media type is `text/plain`. Every
//! wait and every byte is bounded: the fetch comes from a queue runner
//! that must not be held up or filled by a hostile policy host. No crate:
//! hyper and reqwest need tokio, ureq brings its own TLS stack and
//! blocking I/O; what is needed here is a bounded head reader.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use smol::io::AsyncReadExt;

use super::dns::Resolver;
use super::{resolve, timed};

/// Longest response head: a status line and a handful of headers.
pub const MAX_HEAD: usize = 8 << 10;
/// Longest body: RFC 8461 §3.3 recommends senders cap policy bodies at
/// 64 KB (a policy is a few lines; anything more is not a policy).
pub const MAX_BODY: usize = 64 << 10;
/// Connect, handshake, request and response together (RFC 8461 §3.3:
/// "a reasonable period of time"; a minute there, less here because a
/// delivery waits on it).
pub const TOTAL: Duration = Duration::from_secs(30);

/// One GET's target.
pub struct Get<'a> {
    pub host: &'a str,
    pub port: u16,
    pub path: &'a str,
}

/// Why a fetch gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError(pub String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(text: impl Into<String>) -> FetchError {
    FetchError(text.into())
}

/// Fetches `https://host:port/path` with `tls` (a verifying client
/// configuration) and returns the body of a 200 `text/plain` answer.
pub async fn get(
    target: &Get<'_>,
    tls: &Arc<ClientConfig>,
    resolver: &Resolver,
) -> Result<Vec<u8>, FetchError> {
    let url = format!("https://{}:{}{}", target.host, target.port, target.path);
    timed(TOTAL, || err(format!("{url}: no answer within {TOTAL:?}")), async {
        let ips = resolve(target.host, resolver)
            .await
            .map_err(|e| err(e.to_string()))?;
        let addrs: Vec<_> = ips
            .iter()
            .map(|ip| std::net::SocketAddr::new(*ip, target.port))
            .collect();
        let mut io = super::connect(&addrs, TOTAL)
            .await
            .map_err(|e| err(format!("{url}: {e}")))?;
        let name = super::tls::server_name(target.host).map_err(err)?;
        io.connect_tls(tls, name, TOTAL)
            .await
            .map_err(|e| err(format!("{url}: TLS: {e}")))?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: smolmail\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
            target.path, target.host
        );
        io.write_timed(request.as_bytes(), TOTAL)
            .await
            .map_err(|e| err(format!("{url}: write: {e}")))?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        // Stop as soon as the framing says the answer is whole: a server
        // may ignore `Connection: close` and keep the connection open.
        while !complete(&buf) {
            let n = match io.read(&mut chunk).await {
                Ok(n) => n,
                // rustls reports a close without close_notify as an
                // unexpected EOF; for a body delimited by the close (and
                // bounded by the cap below) that is its end (RFC 9112
                // §6.3 item 8). Otherwise the framing check below says
                // what is missing.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && head_end(&buf).is_some() => 0,
                Err(e) => return Err(err(format!("{url}: read: {e}"))),
            };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_HEAD + MAX_BODY + 4096 {
                return Err(err(format!("{url}: answer longer than {MAX_BODY} bytes")));
            }
        }
        response_body(&buf).map_err(|e| err(format!("{url}: {}", e.0)))
    })
    .await
}

/// Where the head of `bytes` ends (the blank line), if it is there.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .take(MAX_HEAD)
        .position(|w| w == b"\r\n\r\n")
}

/// Whether `bytes` hold a whole answer by its own framing (RFC 9112
/// §6.3): the head and Content-Length bytes of body, or the last chunk;
/// also any answer [`response_body`] will refuse anyway (not 200, a bad
/// length, a body over the cap). A body delimited by the close is never
/// complete here: only EOF ends it.
pub fn complete(bytes: &[u8]) -> bool {
    let Some(end) = head_end(bytes) else {
        return bytes.len() > MAX_HEAD;
    };
    let Ok(head) = std::str::from_utf8(&bytes[..end]) else {
        return true;
    };
    let body = &bytes[end + 4..];
    let mut lines = head.split("\r\n");
    if lines.next().and_then(|s| s.split(' ').nth(1)) != Some("200") {
        return true;
    }
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return true;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            return match value.parse::<usize>() {
                Ok(n) => n > MAX_BODY || body.len() >= n,
                Err(_) => true,
            };
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") {
                return true;
            }
            return match dechunk(body) {
                Err(e) => e.0 != CUT_SHORT,
                Ok(_) => true,
            };
        }
    }
    false
}

/// Reads a whole response: the status must be 200 (§3.3: no redirects,
/// nothing else), the media type `text/plain`, the body within
/// [`MAX_BODY`] and, given a Content-Length, exactly that long; chunked
/// bodies are decoded. Pure, for the tests.
pub fn response_body(bytes: &[u8]) -> Result<Vec<u8>, FetchError> {
    let head_end = head_end(bytes)
        .ok_or_else(|| err(format!("no complete response head in {MAX_HEAD} bytes")))?;
    let head =
        std::str::from_utf8(&bytes[..head_end]).map_err(|_| err("response head is not text"))?;
    let body = &bytes[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut words = status.splitn(3, ' ');
    let (version, code) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return Err(err("not an HTTP/1.x response"));
    }
    if code != "200" {
        // §3.3: a redirect is not followed; any other status is no policy.
        return Err(err(format!("HTTP status {}", clip(status))));
    }
    let (mut media, mut length, mut chunked) = (None, None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(err("malformed header line"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            media = Some(
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase(),
            );
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| err("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
            if !chunked {
                return Err(err(format!(
                    "unsupported Transfer-Encoding {}",
                    clip(value)
                )));
            }
        }
    }
    if media.as_deref() != Some("text/plain") {
        return Err(err(format!(
            "media type {} instead of text/plain",
            clip(media.as_deref().unwrap_or("(none)"))
        )));
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        match length {
            Some(n) if n > MAX_BODY => return Err(err(format!("body over {MAX_BODY} bytes"))),
            Some(n) if body.len() < n => return Err(err("body cut short")),
            Some(n) => body[..n].to_vec(),
            None => body.to_vec(),
        }
    };
    if body.len() > MAX_BODY {
        return Err(err(format!("body over {MAX_BODY} bytes")));
    }
    Ok(body)
}

const CUT_SHORT: &str = "chunked body cut short";

/// RFC 9112 §7.1 chunked coding, extensions and trailers ignored.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| err(CUT_SHORT))?;
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|l| l.split(';').next())
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| err("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_BODY || out.len() + size > MAX_BODY {
            return Err(err(format!("body over {MAX_BODY} bytes")));
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return Err(err(CUT_SHORT));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8461_3_3_only_200_text_plain() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(response_body(ok).unwrap(), b"hello");
        let close_delimited = b"HTTP/1.0 200 OK\r\nContent-Type: TEXT/PLAIN\r\n\r\nhi";
        assert_eq!(response_body(close_delimited).unwrap(), b"hi");
        let redirect = b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/\r\nContent-Type: text/plain\r\n\r\n";
        assert!(response_body(redirect).unwrap_err().0.contains("301"));
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>";
        assert!(response_body(html).unwrap_err().0.contains("text/html"));
        let none = b"HTTP/1.1 200 OK\r\n\r\nx";
        assert!(response_body(none).is_err());
        let short = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nabc";
        assert!(response_body(short).is_err());
    }

    #[test]
    fn chunked_bodies_and_limits() {
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(response_body(chunked).unwrap(), b"abcde");
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(response_body(huge.as_bytes()).is_err());
        let big_chunk = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n";
        assert!(response_body(big_chunk).is_err());
        let long_head = [b'a'; MAX_HEAD + 10];
        assert!(response_body(&long_head).is_err());
    }

    #[test]
    fn rfc9112_6_3_framing_says_when_the_answer_is_whole() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
        assert!(!complete(b"HTTP/1.1 200 OK\r\n"));
        assert!(!complete(
            format!("{head}Content-Length: 5\r\n\r\nhel").as_bytes()
        ));
        assert!(complete(
            format!("{head}Content-Length: 5\r\n\r\nhello").as_bytes()
        ));
        let chunked = format!("{head}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
        assert!(!complete(chunked.as_bytes()));
        assert!(complete(format!("{chunked}0\r\n\r\n").as_bytes()));
        assert!(!complete(format!("{head}\r\nclose-delimited").as_bytes()));
        assert!(complete(b"HTTP/1.1 404 Not Found\r\n\r\n"));
    }

    /// RFC 9112 §6.3: a server that ignores `Connection: close` and keeps
    /// the connection open after a Content-Length body: the fetch ends
    /// with the body, not after the 30 s limit.
    #[test]
    fn rfc9112_6_3_content_length_body_ends_the_fetch_on_an_open_connection() {
        use std::io::{Read, Write};
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let server_config = Arc::new(
            rustls::ServerConfig::builder_with_provider(crate::net::tls::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(server_config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && tls.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            )
            .unwrap();
            tls.flush().unwrap();
            // Keep the connection open until the test is over.
            let _ = held.recv();
        });
        let tls = crate::net::tls::verified_pem(cert.pem().as_bytes(), "test").unwrap();
        let resolver = Resolver::new(&[]);
        let target = Get {
            host: "localhost",
            port,
            path: "/.well-known/mta-sts.txt",
        };
        let started = std::time::Instant::now();
        let body = smol::block_on(get(&target, &tls, &resolver)).unwrap();
        assert_eq!(body, b"hello");
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(hold);
        server.join().unwrap();
    }
}
