//! The session as another listener uses it: a router of its own, keep-alive,
//! HEAD, and a refusal, over a real loopback connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use smol::Async;

use super::*;
use crate::config::Service;
use crate::http::{Request, Response};

/// Runs `session` with `route` on one accepted connection while `client`
/// talks to it from a thread; gives what the client read.
fn serve_one(
    route: fn(&Request<'_>) -> Response,
    client: impl FnOnce(TcpStream) -> Vec<u8> + Send + 'static,
) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let talker = std::thread::spawn(move || client(TcpStream::connect(addr).unwrap()));
    let (tcp, peer) = listener.accept().unwrap();
    let conn = Conn {
        id: 1,
        service: Service::Http,
        peer,
        local: addr,
        stream: Stream::Plain(Async::new(tcp).unwrap()),
    };
    let shutdown = Shutdown::new();
    smol::block_on(session(conn, &shutdown, async |r| route(r)));
    talker.join().unwrap()
}

fn hello(request: &Request<'_>) -> Response {
    match request.path() {
        "/hello" => Response::text(
            200,
            format!("hi {}\n", request.query_param("name").unwrap_or_default()),
        ),
        "/echo" => Response::new(200, "application/octet-stream", request.body.to_vec()),
        _ => Response::not_found(),
    }
}

fn read_all(mut s: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn router_keep_alive_head_and_close() {
    let out = serve_one(hello, |mut s| {
        s.write_all(b"GET /hello?name=a%20b HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.write_all(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").unwrap();
        read_all(s)
    });
    let text = String::from_utf8(out).unwrap();
    let answers: Vec<&str> = text.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 3, "{text}");
    assert!(answers[0].starts_with("200 OK\r\n"), "{text}");
    assert!(
        answers[0].contains("Content-Length: 7\r\n") && answers[0].ends_with("\r\n\r\nhi a b\n"),
        "{text}"
    );
    assert!(answers[0].contains("\r\nDate: ") && !answers[0].contains("Connection: close"));
    // HEAD: GET's fields, no body.
    assert!(
        answers[1].contains("Content-Length: 4\r\n") && answers[1].ends_with("\r\n\r\n"),
        "{text}"
    );
    assert!(
        answers[2].contains("Connection: close\r\n") && answers[2].ends_with("\r\n\r\nhello"),
        "{text}"
    );
}

#[test]
fn refused_request_is_answered_then_closed() {
    let out = serve_one(hello, |mut s| {
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_all(s)
    });
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 411 Length Required\r\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("HTTP/1.1").count(),
        1,
        "nothing after a refusal: {text}"
    );
}
