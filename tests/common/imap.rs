//! A small IMAP client for the scripted conversations with smolmail:
//! tagged commands over the line client, replies collected up to the
//! tagged status (with literals read into their line), checked against the
//! status expected.

#![allow(dead_code)]

use super::{Client, Server};

/// An IMAP client over the line client: tagged commands, collected replies.
pub struct Imap {
    pub c: Client,
    /// The number of the last tag sent (`t1`, `t2`, ...).
    pub n: u32,
}

impl Imap {
    /// Connects to smolmail's plain IMAP port and checks the greeting.
    pub fn connect(server: &Server) -> Imap {
        let mut c = server.connect("imap");
        let greeting = c.line();
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1"),
            "{greeting}"
        );
        Imap { c, n: 0 }
    }

    /// Connects and logs in as `user` with the password `pw`.
    pub fn login(server: &Server, user: &str) -> Imap {
        let mut i = Imap::connect(server);
        i.ok(&format!("LOGIN {user} pw"));
        i
    }

    /// Sends a command; returns every line up to and including the tagged
    /// one, whose status must be `status`.
    pub fn run(&mut self, command: &str, status: &str) -> Vec<String> {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.c.send(format!("{tag} {command}\r\n").as_bytes());
        self.collect(&tag, status)
    }

    /// Reads every line up to and including the one tagged `tag`, whose
    /// status must be `status`; literals are read into their line.
    pub fn collect(&mut self, tag: &str, status: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = response_line(&mut self.c);
            assert!(!line.is_empty(), "connection closed; got {lines:?}");
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                let last = lines.last().unwrap();
                assert!(
                    last.starts_with(&format!("{tag} {status}")),
                    "expected {status}: {lines:#?}"
                );
                return lines;
            }
        }
    }

    pub fn ok(&mut self, command: &str) -> Vec<String> {
        self.run(command, "OK")
    }

    pub fn text(&mut self, command: &str) -> String {
        self.ok(command).join("")
    }
}

/// Adapts the line client for exact reads.
pub struct ReaderOf<'a>(&'a mut Client);

impl std::io::Read for ReaderOf<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read_some(buf)
    }
}

/// The length of the literal (RFC 3501 §4.3, `{n}` or `{n+}`) that ends
/// `line`, if it ends in one.
pub fn literal_len(line: &str) -> Option<usize> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let open = trimmed.strip_suffix('}')?.rfind('{')?;
    trimmed[open + 1..trimmed.len() - 1]
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// One response line with the literals it announces read into it (empty
/// when the connection closed).
pub fn response_line(c: &mut Client) -> String {
    let mut line = c.line();
    while let Some(n) = literal_len(&line) {
        let mut data = vec![0u8; n];
        std::io::Read::read_exact(&mut ReaderOf(c), &mut data).unwrap();
        line.push_str(&String::from_utf8_lossy(&data));
        line.push_str(&c.line());
    }
    line
}

/// A quoted string (RFC 3501 §4.3) holding `s`.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A session with any IMAP server (smolmail or Dovecot, plain or TLS)
/// over a connected [`Client`]: the tagged status comes back apart from
/// the untagged lines, for tests that look at failures themselves.
pub struct Session {
    pub c: Client,
    /// The number of the last tag sent (`t1`, `t2`, ...).
    pub n: u32,
}

impl Session {
    /// Reads the greeting, then LOGIN as `user` with `password` (quoted).
    pub fn login(mut c: Client, user: &str, password: &str) -> Session {
        let greeting = c.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        let mut s = Session { c, n: 0 };
        s.ok(&format!("LOGIN {} {}", quote(user), quote(password)));
        s
    }

    /// The next tag.
    pub fn tag(&mut self) -> String {
        self.n += 1;
        format!("t{}", self.n)
    }

    /// Sends `command`: the untagged lines and the tagged status line.
    pub fn run(&mut self, command: &str) -> (Vec<String>, String) {
        let tag = self.tag();
        self.c.send(format!("{tag} {command}\r\n").as_bytes());
        self.collect(&tag)
    }

    /// Every response line up to the one tagged `tag`, and that one.
    pub fn collect(&mut self, tag: &str) -> (Vec<String>, String) {
        let mut lines = Vec::new();
        loop {
            let line = response_line(&mut self.c);
            assert!(!line.is_empty(), "connection closed; got {lines:?}");
            if line.starts_with(&format!("{tag} ")) {
                return (lines, line);
            }
            lines.push(line);
        }
    }

    /// [`Session::run`], which must answer OK; the untagged lines.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        let (lines, done) = self.run(command);
        assert!(done.contains(" OK"), "{command}: {done} after {lines:?}");
        lines
    }
}

/// What every python imaplib script of the tests starts with: `M` logged
/// in as alice@home.arpa (password alice-pw) over plain IMAP on loopback,
/// `run(name, args)` returning (status, untagged-by-name, tagged text),
/// and `Raw` for a second connection spoken by hand.
pub const IMAPLIB_PRELUDE: &str = r#"
import imaplib, socket, sys, re, time
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@home.arpa", "alice-pw")
caps = M.capability()[1][0].decode().split()

def run(name, *args):
    typ, dat = M._simple_command(name, *args)
    text = dat[-1].decode() if dat and isinstance(dat[-1], bytes) else str(dat)
    untagged = {}
    for key in list(M.untagged_responses):
        untagged[key] = [x.decode() if isinstance(x, bytes) else x
                         for x in M.untagged_responses.pop(key)]
    return typ, untagged, text

class Raw:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")
        self.line()
        self.send(b"l LOGIN alice@home.arpa alice-pw\r\n")
        self.until(b"l ")
    def send(self, b):
        self.s.sendall(b)
    def line(self):
        return self.f.readline().decode(errors="replace")
    def until(self, prefix):
        lines = []
        while True:
            l = self.line()
            assert l, ("closed", lines)
            lines.append(l)
            if l.encode().startswith(prefix):
                return lines
    def cmd(self, b):
        tag = b.split(b" ", 1)[0] + b" "
        self.send(b)
        return self.until(tag)

"#;

/// Runs `script` after [`IMAPLIB_PRELUDE`] against `server`'s IMAP port
/// and checks that it ran to its end; the transcript, with the server's
/// log, for further checks.
pub fn imaplib_script(server: &Server, script: &str) -> String {
    let python = super::require_tool("python3", "python3");
    let out = std::process::Command::new(python)
        .args(["-c", &format!("{IMAPLIB_PRELUDE}\n{script}\nprint('ok')")])
        .arg(server.port("imap").to_string())
        .output()
        .unwrap();
    let text = format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}\n--- server log\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(out.status.success(), "script failed:\n{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with("ok\n"),
        "{text}"
    );
    text
}
