//! The HTTP/1.1 listeners (`--http`, `--https`) against curl and raw
//! sockets: persistence, HEAD, the bounds (RFC 6585 431, RFC 9110 413,
//! RFC 9112 411, the whole-request deadline against slowloris), and the
//! MTA-STS policy (RFC 8461 §3.2), served over HTTPS only.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{PATIENCE, Server, TempDir, add_user, curl};

fn url(server: &Server, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.port("http"))
}

/// Sends `request` raw and reads until the server closes.
fn raw(server: &Server, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", server.port("http"))).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn curl_reuses_the_connection_and_head_has_no_body() {
    let data = TempDir::new("http-basic");
    let server = Server::start(&data.0, &[]);
    let curl_bin = common::require_tool("curl", "curl");
    // Two requests in one curl run: the second on the same connection.
    let out = Command::new(curl_bin)
        .args(["-sS", "-v", "-o", "/dev/null", "-o", "/dev/null"])
        .args(["-w", "%{num_connects}\n"])
        .arg(url(&server, "/a"))
        .arg(url(&server, "/.well-known/acme-challenge/unknown"))
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&out.stderr).to_lowercase();
    // New connections per transfer: one, then none (the same one kept).
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n0\n", "{verbose}");
    assert_eq!(
        verbose.matches("< http/1.1 404 not found").count(),
        2,
        "{verbose}"
    );
    assert!(server.log().contains("http: 127.0.0.1"), "{}", server.log());
    // HEAD: the GET answer's Content-Length, no body.
    let (status, head, body) = curl(&["-I", &url(&server, "/nothing")]);
    assert_eq!(status, 404);
    assert!(head.contains("Content-Length: 10\r\n"), "{head}");
    assert!(head.contains("\r\nDate: "), "{head}");
    assert!(body.is_empty());
    // A method the server does not implement (RFC 9110 §9.1).
    let (status, _, _) = curl(&["-X", "DELETE", &url(&server, "/")]);
    assert_eq!(status, 501);
}

#[test]
fn rfc6585_5_oversized_header_is_431() {
    let data = TempDir::new("http-431");
    let server = Server::start(&data.0, &[]);
    let big = format!("X-Big: {}", "a".repeat(20_000));
    let (status, head, _) = curl(&["-H", &big, &url(&server, "/")]);
    assert_eq!(status, 431, "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    assert!(
        server.log().contains("refused request (431"),
        "{}",
        server.log()
    );
    // The request line alone: 414.
    let long = url(&server, &format!("/{}", "p".repeat(20_000)));
    assert_eq!(curl(&[&long]).0, 414);
}

#[test]
fn rfc9110_15_5_14_oversized_body_is_413() {
    let data = TempDir::new("http-413");
    let server = Server::start(&data.0, &[]);
    let file = data.0.join("body");
    std::fs::write(&file, vec![b'x'; 100_000]).unwrap();
    let (status, _, _) = curl(&[
        "--data-binary",
        &format!("@{}", file.display()),
        &url(&server, "/autodiscover/autodiscover.xml"),
    ]);
    assert_eq!(status, 413);
}

#[test]
fn rfc9112_6_chunked_request_body_is_411_and_closed() {
    let data = TempDir::new("http-411");
    let server = Server::start(&data.0, &[]);
    let answer = raw(
        &server,
        b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 411 Length Required\r\n"),
        "{answer}"
    );
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    let answer = raw(&server, b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
}

/// A client that sends its head a byte a second (slowloris) is closed
/// once the whole-request deadline (10 s) has passed, however busy it
/// keeps the connection; others are served meanwhile.
#[test]
fn slowloris_is_closed_at_the_request_deadline() {
    let data = TempDir::new("http-slow");
    let server = Server::start(&data.0, &[]);
    let mut slow = TcpStream::connect(("127.0.0.1", server.port("http"))).unwrap();
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut closed = false;
    for _ in 0..60 {
        // A byte a second: never idle long enough for an idle timeout.
        if slow.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match slow.read(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            _ => {
                closed = true;
                break;
            }
        }
        if started.elapsed() < Duration::from_secs(5) {
            // Meanwhile an honest client is served.
            assert_eq!(curl(&[&url(&server, "/x")]).0, 404);
        }
    }
    let elapsed = started.elapsed();
    assert!(closed, "still open after {elapsed:?}");
    assert!(
        elapsed >= Duration::from_secs(9),
        "closed early: {elapsed:?}"
    );
    server.wait_for_log("to send a request; closing");
}

#[test]
fn rfc8461_3_2_mta_sts_policy_over_https_only() {
    let data = TempDir::new("http-mtasts");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(
        &data.0,
        &["--mta-sts-mode", "enforce", "--mta-sts-max-age", "86400"],
    );
    let https = server.port("https");
    let resolve = |name: &str| format!("{name}:{https}:127.0.0.1");
    let (status, head, body) = curl(&[
        "-k",
        "--resolve",
        &resolve("mta-sts.home.arpa"),
        &format!("https://mta-sts.home.arpa:{https}/.well-known/mta-sts.txt"),
    ]);
    assert_eq!(status, 200, "{head}\n{}", server.log());
    assert!(head.contains("Content-Type: text/plain"), "{head}");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "version: STSv1\r\nmode: enforce\r\nmx: mail.home.arpa\r\nmax_age: 86400\r\n"
    );
    // Not for a domain that is not ours, and never over plain HTTP.
    let (status, _, _) = curl(&[
        "-k",
        "--resolve",
        &resolve("mta-sts.example.com"),
        &format!("https://mta-sts.example.com:{https}/.well-known/mta-sts.txt"),
    ]);
    assert_eq!(status, 404);
    let (status, _, _) = curl(&[
        "-H",
        "Host: mta-sts.home.arpa",
        &url(&server, "/.well-known/mta-sts.txt"),
    ]);
    assert_eq!(status, 404);
}

/// DESIGN.md "Budgets": the per-client connection limit holds for HTTP
/// too; the client over it hears 503 and is closed.
#[test]
fn connections_per_client_are_limited_with_503() {
    let data = TempDir::new("http-limit");
    let server = Server::start(&data.0, &["--max-connections-per-ip", "2"]);
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port("http"))).unwrap())
        .collect();
    server.wait_until(PATIENCE, "both connections accepted", || {
        server.log().matches("http: connect from").count() == 2
    });
    let (status, head, _) = curl(&[&url(&server, "/")]);
    assert_eq!(status, 503, "{head}");
    drop(held);
    server.wait_until(PATIENCE, "a place again", || {
        curl(&[&url(&server, "/")]).0 == 404
    });
}
