//! COMPRESS=DEFLATE (RFC 4978) on the wire, from a client of our own that
//! deflates and inflates with miniz_oxide as zlib's raw mode does: the
//! command's answers, and above all that every response burst is decodable
//! the moment it is sent (the sync flush of §4). The test that would hang
//! without it is IDLE: the client sends nothing while it waits, so an
//! EXISTS held back in the compressor would never arrive.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, TempDir, add_user};
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};

/// A line client that switches to raw deflate both ways on demand.
struct Client {
    tcp: TcpStream,
    /// Decoded bytes not yet returned as lines.
    plain: Vec<u8>,
    inflate: Option<Box<InflateState>>,
    deflate: Option<Box<CompressorOxide>>,
    /// Compressed bytes received (to compare with the decoded size).
    wire_in: usize,
}

impl Client {
    fn connect(server: &Server) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", server.port("imap"))).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Client {
            tcp,
            plain: Vec::new(),
            inflate: None,
            deflate: None,
            wire_in: 0,
        };
        assert!(c.line().starts_with("* OK"));
        c
    }

    fn compress_on(&mut self) {
        self.inflate = Some(InflateState::new_boxed(DataFormat::Raw));
        let flags = create_comp_flags_from_zip_params(6, -15, 0);
        self.deflate = Some(Box::new(CompressorOxide::new(flags)));
    }

    fn send(&mut self, bytes: &[u8]) {
        let Some(d) = self.deflate.as_mut() else {
            return self.tcp.write_all(bytes).unwrap();
        };
        // One sync-flushed deflate run per command, as zlib clients send.
        let mut out = vec![0; bytes.len() + 1024];
        let r = miniz_oxide::deflate::stream::deflate(d, bytes, &mut out, MZFlush::Sync);
        assert_eq!(r.bytes_consumed, bytes.len());
        self.tcp.write_all(&out[..r.bytes_written]).unwrap();
    }

    /// One line; panics after the read timeout (a stall).
    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.plain.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.plain.drain(..=i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let mut buf = [0; 4096];
            let n = self.tcp.read(&mut buf).expect("no complete line arrived");
            assert!(
                n > 0,
                "closed; have {:?}",
                String::from_utf8_lossy(&self.plain)
            );
            self.wire_in += n;
            match self.inflate.as_mut() {
                None => self.plain.extend_from_slice(&buf[..n]),
                Some(state) => {
                    let mut input = &buf[..n];
                    while !input.is_empty() {
                        let mut out = [0; 16384];
                        let r = miniz_oxide::inflate::stream::inflate(
                            state,
                            input,
                            &mut out,
                            MZFlush::None,
                        );
                        r.status.expect("server sent invalid deflate data");
                        self.plain.extend_from_slice(&out[..r.bytes_written]);
                        input = &input[r.bytes_consumed..];
                    }
                }
            }
        }
    }

    /// Sends `tag command`, returns the lines through the tagged one.
    fn run(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(format!("{tag} {command}\r\n").as_bytes());
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

fn deliver(server: &Server, to: &str, subject: &str) {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO test", "250");
    c.cmd("MAIL FROM:<sender@example.org>", "250");
    c.cmd(&format!("RCPT TO:<{to}>"), "250");
    c.cmd("DATA", "354");
    let body = "All work and no play makes a dull mail server.\r\n".repeat(200);
    c.send(format!("Subject: {subject}\r\n\r\n{body}.\r\n").as_bytes());
    c.expect("250");
    c.cmd("QUIT", "221");
}

/// RFC 4978 §3: COMPRESS only after login and advertised there; unknown
/// mechanism BAD; OK in the clear, then deflate both ways; a second
/// COMPRESS is `NO [COMPRESSIONACTIVE]`. §4: each response burst is sync
/// flushed, so an IDLE client gets the EXISTS of a delivery at once.
#[test]
fn rfc4978_compress_deflate_idle_gets_exists_without_waiting() {
    let data = TempDir::new("compress");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    deliver(&server, "alice@home.arpa", "first");

    let mut c = Client::connect(&server);
    let before = c.run("a1", "COMPRESS DEFLATE");
    assert!(before.last().unwrap().starts_with("a1 BAD"), "{before:?}");
    let login = c.run("a2", "LOGIN alice@home.arpa pw");
    assert!(login.last().unwrap().starts_with("a2 OK"), "{login:?}");
    let caps = c.run("a3", "CAPABILITY").concat();
    assert!(caps.contains(" COMPRESS=DEFLATE"), "{caps}");
    let unknown = c.run("a4", "COMPRESS LZW");
    assert!(unknown.last().unwrap().starts_with("a4 BAD"), "{unknown:?}");

    let ok = c.run("a5", "COMPRESS DEFLATE");
    assert!(ok.last().unwrap().starts_with("a5 OK"), "{ok:?}");
    c.compress_on();
    let again = c.run("a6", "COMPRESS DEFLATE");
    assert!(
        again
            .last()
            .unwrap()
            .starts_with("a6 NO [COMPRESSIONACTIVE]"),
        "{again:?}"
    );
    let select = c.run("a7", "SELECT INBOX").concat();
    assert!(select.contains("* 1 EXISTS"), "{select}");
    let fetch = c.run("a8", "FETCH 1 BODY.PEEK[]").concat();
    assert!(fetch.contains("dull mail server"), "{fetch}");
    assert!(
        c.wire_in < 4096,
        "a 10 KB message should arrive compressed: {} bytes on the wire",
        c.wire_in
    );

    c.send(b"a9 IDLE\r\n");
    assert!(c.line().starts_with("+ "));
    deliver(&server, "alice@home.arpa", "second");
    let delivered = Instant::now();
    // The client sends nothing now: the line must come by itself.
    assert_eq!(c.line().trim_end(), "* 2 EXISTS");
    eprintln!(
        "compressed IDLE woke {:?} after the 250",
        delivered.elapsed()
    );
    assert!(delivered.elapsed() < Duration::from_secs(5));
    c.send(b"DONE\r\n");
    loop {
        let line = c.line();
        if line.starts_with("a9 ") {
            assert!(line.starts_with("a9 OK"), "{line}");
            break;
        }
    }
    let bye = c.run("a10", "LOGOUT");
    assert!(bye.last().unwrap().starts_with("a10 OK"), "{bye:?}");
}

/// Garbage where deflate data should be ends the session, with a log
/// line, and no panic or hang.
#[test]
fn rfc4978_invalid_deflate_data_closes_the_session() {
    let data = TempDir::new("compress-bad");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    let mut c = Client::connect(&server);
    c.run("a1", "LOGIN alice@home.arpa pw");
    c.run("a2", "COMPRESS DEFLATE");
    c.tcp.write_all(&[0xff; 64]).unwrap();
    let mut buf = [0; 64];
    assert_eq!(c.tcp.read(&mut buf).unwrap_or(0), 0, "still open");
    server.wait_for_log("invalid deflate data");
}
