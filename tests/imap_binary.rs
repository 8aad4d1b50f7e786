//! BINARY (RFC 3516) on the wire: FETCH BINARY / BINARY.PEEK /
//! BINARY.SIZE remove a leaf part's transfer encoding, an unknown one
//! fails the FETCH with `NO [UNKNOWN-CTE]`, content with a NUL comes as
//! literal8, and APPEND's literal8 keeps its NULs where an ordinary
//! literal's become 0x80.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, TempDir, add_user};

struct Raw {
    tcp: TcpStream,
    n: u32,
}

impl Raw {
    fn login(server: &Server) -> Raw {
        let tcp = TcpStream::connect(("127.0.0.1", server.port("imap"))).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = Raw { tcp, n: 0 };
        r.until(b"* OK");
        let login = r.run(b"LOGIN alice@home.arpa pw");
        assert!(login.contains("OK"), "{login}");
        r
    }

    /// Reads until the received bytes end with a line starting `prefix`.
    fn until(&mut self, prefix: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            if got.ends_with(b"\r\n") {
                let body = &got[..got.len() - 2];
                let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                if got[start..].starts_with(prefix) {
                    return got;
                }
            }
            let mut buf = [0; 8192];
            let n = self.tcp.read(&mut buf).unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    }

    fn run_bytes(&mut self, command: &[u8]) -> Vec<u8> {
        self.n += 1;
        let tag = format!("b{} ", self.n);
        let mut line = tag.clone().into_bytes();
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        self.tcp.write_all(&line).unwrap();
        self.until(tag.as_bytes())
    }

    fn run(&mut self, command: &[u8]) -> String {
        String::from_utf8_lossy(&self.run_bytes(command)).into_owned()
    }

    /// APPEND with `marker` (`{` or `~{`) around the message's length.
    fn append(&mut self, marker: &str, message: &[u8]) -> String {
        self.n += 1;
        let tag = format!("b{}", self.n);
        let head = format!("{tag} APPEND INBOX {marker}{}}}\r\n", message.len());
        self.tcp.write_all(head.as_bytes()).unwrap();
        self.until(b"+");
        self.tcp.write_all(message).unwrap();
        self.tcp.write_all(b"\r\n").unwrap();
        String::from_utf8_lossy(&self.until(format!("{tag} ").as_bytes())).into_owned()
    }
}

const MIXED: &[u8] = b"From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwRoZWxsbw==\r\n--B--\r\n";

const ODD: &[u8] = b"From: a@example.org\r\nSubject: odd\r\nContent-Type: application/x-odd\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n";

#[test]
fn rfc3516_binary_fetch_size_unknown_cte_and_literal8() {
    let data = TempDir::new("binary");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    let mut c = Raw::login(&server);
    assert!(c.run(b"CAPABILITY").contains(" BINARY"));
    assert!(c.append("{", MIXED).contains("OK"));
    assert!(c.append("{", ODD).contains("OK"));
    c.run(b"SELECT INBOX");

    // §4.2: quoted-printable and base64 removed; sizes are decoded sizes.
    let qp = c.run(b"FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[2])");
    assert!(qp.contains("BINARY[1] {13}\r\ncafé au lait"), "{qp}");
    assert!(qp.contains("BINARY.SIZE[1] 13"), "{qp}");
    assert!(qp.contains("BINARY.SIZE[2] 10"), "{qp}");
    assert!(!qp.contains("FLAGS"), "PEEK set \\Seen: {qp}");
    // §4.3: content with a NUL comes as literal8; a partial counts
    // decoded bytes.
    let b64 = c.run_bytes(b"FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[2]<5.3>)");
    let want: &[u8] = b"BINARY[2] ~{10}\r\n\x00\x01\x02\x03\x04hello BINARY[2]<5> {3}\r\nhel";
    assert!(
        b64.windows(want.len()).any(|w| w == want),
        "{}",
        String::from_utf8_lossy(&b64)
    );
    // BINARY without PEEK sets \Seen like BODY[].
    let seen = c.run(b"FETCH 1 BINARY[1]");
    assert!(seen.contains("\\Seen"), "{seen}");
    // §4.2: an encoding the server does not know fails the FETCH.
    let odd = c.run(b"FETCH 1:2 BINARY[1]");
    assert!(odd.contains("NO [UNKNOWN-CTE]"), "{odd}");
    assert!(!odd.contains("* 1 FETCH"), "sent before refusing: {odd}");
    // BODY[] of the same part is not affected.
    assert!(c.run(b"FETCH 2 BODY.PEEK[1]").contains("begin 644 x"));
    // Only part numbers in a BINARY section.
    assert!(c.run(b"FETCH 1 BINARY[1.MIME]").contains("BAD"));

    // §4.4: literal8 keeps NUL; an ordinary literal's NUL becomes 0x80.
    let nul = b"Subject: nul\r\n\r\na\x00b\r\n";
    assert!(c.append("~{", nul).contains("OK"));
    assert!(c.append("{", nul).contains("OK"));
    c.run(b"NOOP");
    let kept = c.run_bytes(b"FETCH 3 BINARY.PEEK[]");
    assert!(kept.windows(4).any(|w| w == b"a\x00b\r"), "{kept:?}");
    assert!(kept.windows(4).any(|w| w == b"~{21"), "{kept:?}");
    let replaced = c.run_bytes(b"FETCH 4 BODY.PEEK[]");
    assert!(replaced.windows(3).any(|w| w == b"a\x80b"), "{replaced:?}");
}
