//! Hostile load on connections and the log (issue #11, DESIGN.md
//! "Budgets"): commands that do nothing before login are counted and end
//! the connection; port 25 cannot take the places IMAP needs; refusals are
//! logged a few times per client, not once per connection; a server whose
//! stderr nobody reads still answers. Real sockets on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{BIN, Client, PATIENCE, Server, TempDir, add_user, free_port};

fn imap_login(server: &Server) {
    let mut i = server.connect("imap");
    assert!(i.line().starts_with("* OK"));
    i.send(b"a LOGIN alice@home.arpa pw\r\n");
    let reply = i.line();
    assert!(reply.starts_with("a OK"), "{reply:?}\n{}", server.log());
}

#[test]
fn smtp_greetings_before_mail_are_junk() {
    let data = TempDir::new("junk-smtp");
    let server = Server::start(&data.0, &[]);
    let mut c = server.connect("smtp");
    c.expect("220");
    // Postfix's smtpd_junk_command_limit is 100: the 101st is one too many.
    for _ in 0..101 {
        c.cmd("EHLO client.example", "250");
    }
    let reply = c.expect("421 4.7.0");
    assert!(reply.contains("too many commands"), "{reply:?}");
    assert!(c.closed());
    // Once MAIL has been given, EHLO is the client's business.
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<a@example.org>", "250");
    for _ in 0..150 {
        c.cmd("EHLO client.example", "250");
    }
    c.cmd("QUIT", "221");
}

#[test]
fn pop3_commands_before_login_are_junk() {
    let data = TempDir::new("junk-pop3");
    let server = Server::start(&data.0, &[]);
    let mut c = server.connect("pop3");
    assert!(c.line().starts_with("+OK"));
    for _ in 0..50 {
        c.send(b"CAPA\r\n");
        assert!(c.line().starts_with("+OK"));
        while c.line() != ".\r\n" {}
    }
    c.send(b"CAPA\r\n");
    let reply = c.line();
    assert!(reply.starts_with("-ERR Too many commands"), "{reply:?}");
    assert!(c.closed());
    server.wait_for_log("commands without logging in; closing");
}

#[test]
fn imap_commands_before_login_are_junk() {
    let data = TempDir::new("junk-imap");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    let mut c = server.connect("imap");
    assert!(c.line().starts_with("* OK"));
    for _ in 0..50 {
        c.send(b"a NOOP\r\n");
        assert!(c.line().starts_with("a OK"));
    }
    c.send(b"a CAPABILITY\r\n");
    while !c.line().starts_with("a OK") {}
    let bye = c.line();
    assert!(bye.starts_with("* BYE"), "{bye:?}");
    assert!(c.closed());
    // A client that logs in is not junk, and after login NOOP is free.
    let mut c = server.connect("imap");
    assert!(c.line().starts_with("* OK"));
    c.send(b"a LOGIN alice@home.arpa pw\r\n");
    assert!(c.line().starts_with("a OK"));
    for _ in 0..100 {
        c.send(b"b NOOP\r\n");
        assert!(c.line().starts_with("b OK"));
    }
}

/// Port 25 holds at most half of --max-connections: a flood of idle
/// connections to it leaves IMAP logins working, and the refusals are
/// logged a few times, not once per connection.
#[test]
fn smtp_flood_leaves_imap() {
    let data = TempDir::new("flood");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(
        &data.0,
        &["--max-connections", "10", "--max-connections-per-ip", "100"],
    );
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut c = server.connect("smtp");
        c.expect("220");
        held.push(c);
    }
    for _ in 0..20 {
        let mut c = server.connect("smtp");
        let reply = c.expect("421 4.7.0");
        assert!(reply.contains("too many connections"), "{reply:?}");
    }
    imap_login(&server);
    let log = server.log();
    let refusals = log.matches("smtp: refused").count();
    assert!(
        (1..=3).contains(&refusals),
        "{refusals} refusal lines:\n{log}"
    );
    assert!(
        log.contains("too many connections (Service limit)"),
        "{log}"
    );
}

/// The log never blocks the executor: with stderr a pipe that nobody
/// reads, thousands of log lines later the server still answers SMTP and
/// IMAP at once (env_logger writing straight to stderr would block on the
/// full pipe, and with it every connection).
#[test]
fn unread_stderr_does_not_stop_the_server() {
    let data = TempDir::new("unread-log");
    add_user(&data.0, "alice@home.arpa", "pw");
    let (smtp, imap) = (free_port(), free_port());
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env("SMOLMAIL_DATA", &data.0)
        .env("SMOLMAIL_HOSTNAME", "mail.home.arpa")
        .env("SMOLMAIL_DNS_SERVER", "127.0.0.1:9")
        .args(["--smtp", &format!("127.0.0.1:{smtp}")])
        .args(["--imap", &format!("127.0.0.1:{imap}")])
        .args(["--log-level", "debug"])
        .args(["--max-connections-per-ip", "1000"]);
    for service in [
        "submission",
        "submissions",
        "imaps",
        "pop3",
        "pop3s",
        "http",
        "https",
        "metrics",
    ] {
        cmd.args([&format!("--{service}"), "off"]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _stderr = child.stderr.take(); // held open, never read
    let _child = Kill(child);
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", imap)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Each connection logs its connect, 19 rejected commands, the close and
    // the disconnect: about 2 MB of log for a 64 KiB pipe.
    let junk = "NONSENSE\r\n".repeat(19);
    for _ in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", smtp)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(junk.as_bytes()).unwrap();
        s.write_all(b"QUIT\r\n").unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all)
            .expect("the server stopped answering: is it blocked writing its log?");
    }
    let started = Instant::now();
    let mut c = Client::plain(TcpStream::connect(("127.0.0.1", smtp)).unwrap());
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    let mut i = Client::plain(TcpStream::connect(("127.0.0.1", imap)).unwrap());
    assert!(i.line().starts_with("* OK"));
    i.send(b"a LOGIN alice@home.arpa pw\r\n");
    assert!(i.line().starts_with("a OK"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answers took {:?}",
        started.elapsed()
    );
}

/// A tmpfs of `size` mounted on `dir` while it lives (tests run as root
/// can; elsewhere the test that needs it says it was skipped).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full data disk answers `452 4.3.1` (one log line, not one per
/// message), and once space is freed takes mail again with nothing lost.
#[test]
fn full_disk_is_temporary_and_recovers() {
    let data = TempDir::new("disk-full");
    let store = data.0.join("store");
    let Some(_tmpfs) = Tmpfs::mount(&store, "4m") else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (not root?); the map-full case is in tests/smtp.rs"
        );
        return;
    };
    add_user(&store, "alice@home.arpa", "pw");
    let ballast = store.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1 << 20]).unwrap();
    let store_arg = store.to_str().unwrap();
    // From outside: stored as sent (no RFC 6409 §8 completion), so the
    // bytes can be compared below.
    let server = Server::start(&data.0, &["--data", store_arg, "--trusted-network", "none"]);
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    let body = format!("Subject: filler\r\n\r\n{}\r\n", "y".repeat(200_000));
    let send = |c: &mut Client| {
        c.cmd("MAIL FROM:<x@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        c.send(body.as_bytes());
        c.send(b".\r\n");
        c.reply()
    };
    let mut accepted = 0;
    let reply = loop {
        let reply = send(&mut c);
        if !reply.starts_with("250") {
            break reply;
        }
        accepted += 1;
        assert!(accepted < 30, "a 4 MiB disk took 6 MB");
    };
    assert!(reply.starts_with("452 4.3.1"), "{reply}\n{}", server.log());
    assert!(send(&mut c).starts_with("452 4.3.1"));
    assert!(send(&mut c).starts_with("452 4.3.1"));
    let log = server.log();
    assert_eq!(log.matches("store is full (the disk").count(), 1, "{log}");
    assert!(!log.contains("ERROR] ["), "an ERROR per message:\n{log}");
    std::fs::remove_file(&ballast).unwrap();
    let reply = send(&mut c);
    assert!(reply.starts_with("250"), "{reply}\n{}", server.log());
    c.cmd("QUIT", "221");
    server.wait_for_log("writes succeed again");
    drop(server);
    let mail = common::inbox(&store, "alice@home.arpa");
    assert_eq!(mail.len(), accepted + 1, "a message accepted is missing");
    assert!(mail.iter().all(|m| m.ends_with(body.as_bytes())));
}
