//! The fetcher against real IMAP servers on loopback: a second smolmail
//! (its self-signed certificate given as the account's CA) and Debian's
//! Dovecot (started here with a temporary configuration and a certificate
//! from a CA made with openssl for the test). For each: a first sync of
//! 500 messages and an incremental one of 20 more, a `kill -9` in the
//! middle of a sync and a restart, a UIDVALIDITY change, and IDLE; and
//! every time, the remote mailbox afterwards is what it was before (same
//! messages, UIDs and flags, compared as a full `UID FETCH 1:* (FLAGS)`).
//!
//! The Dovecot tests need Debian's dovecot-imapd (and openssl); without
//! them they fail, naming the package (scripts/setup.sh installs both).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dovecot::{Dovecot, Options};
use common::imap::{Session, quote};
use common::{
    BIN, Client, PATIENCE, Server, TempDir, add_user, admin, free_port, openssl_self_signed,
};

const LOCAL_USER: &str = "you@home.arpa";
const REMOTE_USER: &str = "bob@remote.test";
const REMOTE_PASSWORD: &str = "s3cret \"quoted\" pass";

// ------------------------------------------------------------- messages --

/// Test message `i` of series `series`: unique Message-ID, sizes from
/// about 600 bytes to 10 KB with every 50th at 120 KB (several reads per
/// literal), CRLF throughout so every server returns the same bytes.
fn message(series: &str, i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <sender{i}@example.org>\r\nTo: {REMOTE_USER}\r\nSubject: {series} message {i}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <{series}-{i}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    let lines = if i % 50 == 7 {
        1600
    } else {
        5 + (i * 37) % 130
    };
    for n in 0..lines {
        m.push_str(&format!(
            "{series} {i} line {n}: the quick brown fox jumps over the lazy dog\r\n"
        ));
    }
    m.into_bytes()
}

/// A message without a Message-ID (identified by Date/From/Subject).
fn message_without_id(series: &str, i: usize) -> Vec<u8> {
    format!(
        "From: old-mailer@example.org\r\nSubject: {series} no id {i}\r\nDate: Tue, 14 Nov 2023 11:{:02}:00 +0000\r\n\r\nNo Message-ID here.\r\n",
        i % 60
    )
    .into_bytes()
}

/// INTERNALDATE of message `i`: Unix seconds and the APPEND spelling.
fn date(i: usize) -> (i64, String) {
    let unix = 1_600_000_000 + i as i64 * 61;
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = smolmail::time::civil_from_days(days);
    let text = format!(
        "{d:02}-{}-{y} {:02}:{:02}:{:02} +0000",
        smolmail::time::MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    (unix, text)
}

/// Flags the remote copy of message `i` carries.
fn flags(i: usize) -> &'static str {
    match i % 6 {
        0 => "(\\Seen)",
        1 => "(\\Seen \\Flagged)",
        2 => "($Label1)",
        3 => "(\\Answered)",
        _ => "()",
    }
}

// ---------------------------------------------------- a test IMAP client --

/// A blocking IMAP client over TLS for setting up and inspecting remotes.
struct Imap(Session);

impl std::ops::Deref for Imap {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl std::ops::DerefMut for Imap {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.0
    }
}

impl Imap {
    fn connect(port: u16, user: &str, password: &str) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        Imap(Session::login(Client::tls(stream), user, password))
    }

    /// APPENDs many messages in one go (LITERAL+, RFC 7888: no waiting
    /// for continuations), then reads every answer.
    fn append_all(&mut self, mailbox: &str, messages: &[(String, String, Vec<u8>)]) {
        let mut tags = Vec::new();
        for chunk in messages.chunks(50) {
            let mut out = Vec::new();
            for (flags, date, bytes) in chunk {
                let tag = self.tag();
                out.extend_from_slice(
                    format!(
                        "{tag} APPEND {} {flags} \"{date}\" {{{}+}}\r\n",
                        quote(mailbox),
                        bytes.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
                tags.push(tag);
            }
            self.c.send(&out);
            for tag in tags.drain(..) {
                let (lines, done) = self.collect(&tag);
                assert!(done.contains(" OK"), "APPEND: {done} after {lines:?}");
            }
        }
    }

    /// Everything a fetcher could change about a mailbox: UIDVALIDITY,
    /// UIDNEXT, the message count and `UID FETCH 1:* (FLAGS)` in full.
    /// Opened with EXAMINE, which changes nothing itself.
    fn snapshot(&mut self, mailbox: &str) -> String {
        // RECENT too: a fetcher that SELECTed would have taken \Recent.
        let mut out = self.ok(&format!(
            "STATUS {} (MESSAGES RECENT UNSEEN UIDNEXT UIDVALIDITY)",
            quote(mailbox)
        ));
        let lines = self.ok(&format!("EXAMINE {}", quote(mailbox)));
        out.extend(lines.into_iter().filter(|l| {
            l.contains("UIDVALIDITY") || l.contains("UIDNEXT") || l.contains("EXISTS")
        }));
        let exists = out
            .iter()
            .any(|l| l.contains(" EXISTS") && !l.starts_with("* 0 "));
        if exists {
            out.extend(self.ok("UID FETCH 1:* (FLAGS)"));
        }
        self.ok("CLOSE");
        out.join("")
    }

    fn uidvalidity(&mut self, mailbox: &str) -> u32 {
        let lines = self.ok(&format!("EXAMINE {}", quote(mailbox)));
        self.ok("CLOSE");
        lines
            .iter()
            .find_map(|l| {
                let at = l.find("[UIDVALIDITY ")?;
                l[at + 13..].split(']').next()?.parse().ok()
            })
            .expect("UIDVALIDITY")
    }

    fn logout(mut self) {
        self.run("LOGOUT");
    }
}

/// Messages `range` of `series` as APPEND arguments.
fn batch(series: &str, range: std::ops::Range<usize>) -> Vec<(String, String, Vec<u8>)> {
    range
        .map(|i| (flags(i).to_string(), date(i).1, message(series, i)))
        .collect()
}

// --------------------------------------------------------------- remotes --

/// An IMAP server to fetch from.
enum Remote {
    Smolmail {
        server: Server,
        _dir: TempDir,
    },
    /// TLS on `tls_port`; IMAP without TLS on `port`, for a [`Tap`]
    /// (loopback counts as secure).
    Dovecot(Dovecot),
}

impl Remote {
    fn smolmail(name: &str) -> Remote {
        let dir = TempDir::new(&format!("fetch-remote-{name}"));
        add_user(&dir.0, REMOTE_USER, REMOTE_PASSWORD);
        let server = Server::start(&dir.0, &[]);
        Remote::Smolmail { server, _dir: dir }
    }

    /// Debian's Dovecot, started for the test; fails, naming the
    /// packages, when it is not installed.
    fn dovecot(name: &str) -> Remote {
        Remote::Dovecot(Dovecot::start(
            &format!("fetch-{name}"),
            &Options {
                users: &[(REMOTE_USER, REMOTE_PASSWORD)],
                tls: Some(&|d: &Path| make_ca(d)),
                extra: "mailbox_idle_check_interval = 1 secs",
                ..Options::default()
            },
        ))
    }

    /// A smolmail remote's port for `service`.
    fn port_of(&self, service: &str) -> u16 {
        match self {
            Remote::Smolmail { server, .. } => server.port(service),
            Remote::Dovecot { .. } => panic!("Dovecot listens on imaps only here"),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Remote::Smolmail { server, .. } => server.port("imaps"),
            Remote::Dovecot(d) => d.tls_port,
        }
    }

    /// The remote's IMAP port without TLS (for a [`Tap`]).
    fn plain_port(&self) -> u16 {
        match self {
            Remote::Smolmail { server, .. } => server.port("imap"),
            Remote::Dovecot(d) => d.port,
        }
    }

    /// The remote's own certificate and key (for a [`Tap`] to present).
    fn cert_and_key(&self) -> (PathBuf, PathBuf) {
        match self {
            Remote::Smolmail { server, .. } => (
                server.data.join("tls/selfsigned-cert.pem"),
                server.data.join("tls/selfsigned-key.pem"),
            ),
            Remote::Dovecot(d) => (d.dir.0.join("server.pem"), d.dir.0.join("server.key")),
        }
    }

    /// The CA certificate the fetcher is told to trust.
    fn ca(&self) -> PathBuf {
        match self {
            Remote::Smolmail { server, .. } => server.data.join("tls/selfsigned-cert.pem"),
            Remote::Dovecot(d) => d.dir.0.join("ca.pem"),
        }
    }

    fn imap(&self) -> Imap {
        Imap::connect(self.port(), REMOTE_USER, REMOTE_PASSWORD)
    }

    /// Gives `mailbox` a new UIDVALIDITY holding the same messages as
    /// before, plus `extra`: Dovecot loses its UID list and indexes (as
    /// after a restore from backup); smolmail's folder is deleted and
    /// made again with the messages appended anew.
    fn renumber(&self, mailbox: &str, again: &[(String, String, Vec<u8>)]) {
        match self {
            Remote::Smolmail { .. } => {
                let mut imap = self.imap();
                imap.ok(&format!("DELETE {}", quote(mailbox)));
                imap.ok(&format!("CREATE {}", quote(mailbox)));
                imap.append_all(mailbox, again);
                imap.logout();
            }
            Remote::Dovecot(d) => {
                assert_eq!(mailbox, "INBOX", "the Dovecot test renumbers INBOX");
                for entry in std::fs::read_dir(d.maildir(REMOTE_USER)).unwrap() {
                    let entry = entry.unwrap();
                    let name = entry.file_name().to_string_lossy().to_string();
                    // dovecot-uidvalidity stays: it hands out the next,
                    // different UIDVALIDITY for the UID list made anew.
                    if name.starts_with("dovecot-uidlist")
                        || name.starts_with("dovecot.index")
                        || name.starts_with("dovecot.list.index")
                    {
                        std::fs::remove_file(entry.path()).unwrap();
                    }
                }
            }
        }
    }
}

/// A CA and a server certificate for localhost/127.0.0.1 signed by it,
/// with openssl: `ca.pem`, `server.pem`, `server.key` in `dir`.
fn make_ca(dir: &Path) {
    common::require_tool("openssl", "openssl");
    let at = |f: &str| dir.join(f).to_str().unwrap().to_string();
    common::run_ok(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &at("ca.key"),
        "-out",
        &at("ca.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=smolmail fetch test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]));
    common::run_ok(Command::new("openssl").args([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &at("server.key"),
        "-out",
        &at("server.csr"),
        "-subj",
        "/CN=localhost",
    ]));
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    common::run_ok(Command::new("openssl").args([
        "x509",
        "-req",
        "-in",
        &at("server.csr"),
        "-CA",
        &at("ca.pem"),
        "-CAkey",
        &at("ca.key"),
        "-CAcreateserial",
        "-out",
        &at("server.pem"),
        "-days",
        "2",
        "-extfile",
        &at("server.ext"),
    ]));
    common::run_ok(Command::new("chmod").args(["644", &at("server.key")]));
}

// ------------------------------------------------------------- local side --

/// A local smolmail data directory with the user the mail is for.
fn local(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("fetch-local-{name}"));
    add_user(&dir.0, LOCAL_USER, "pw");
    dir
}

/// `smolmail fetch add` for the remote; returns the account id.
fn add_account(data: &Path, remote: &Remote, port: u16, extra: &[&str]) -> String {
    add_account_with_ca(data, &remote.ca(), port, extra)
}

/// As [`add_account`], trusting the certificates in `ca`.
fn add_account_with_ca(data: &Path, ca: &Path, port: u16, extra: &[&str]) -> String {
    let pw = data.join("remote-password");
    std::fs::write(&pw, format!("{REMOTE_PASSWORD}\n")).unwrap();
    let port = port.to_string();
    let mut args = vec![
        "fetch",
        "add",
        LOCAL_USER,
        "--host",
        "localhost",
        "--port",
        &port,
        "--user",
        REMOTE_USER,
        "--password-file",
        pw.to_str().unwrap(),
    ];
    args.extend(["--ca", ca.to_str().unwrap()]);
    args.extend(extra);
    let out = admin(data, &args, "");
    assert!(!out.contains(REMOTE_PASSWORD), "{out}");
    out.lines()
        .find_map(|l| l.strip_prefix("added fetch account "))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

/// `smolmail fetch run ID`, output and success.
fn fetch_run(data: &Path, id: &str) -> (bool, String) {
    fetch_run_with(data, id, &[])
}

fn fetch_run_with(data: &Path, id: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["fetch", "run", id])
        .envs(env.iter().copied())
        .env("SMOLMAIL_DATA", data)
        .env("SMOLMAIL_DNS_SERVER", "127.0.0.1:9")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// One local message: INTERNALDATE and bytes.
type Stored = (i64, Vec<u8>);

fn local_messages(data: &Path, mailbox: &str) -> Vec<Stored> {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    let account = r.account(LOCAL_USER).unwrap().unwrap();
    let Some(mailbox) = r.mailbox(account.id, mailbox).unwrap() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in r.messages(mailbox.id).unwrap() {
        let m = m.unwrap();
        out.push((
            m.internal_date,
            r.blob(m.blob_id).unwrap().unwrap().to_vec(),
        ));
    }
    out
}

fn local_count(data: &Path) -> usize {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    let account = r.account(LOCAL_USER).unwrap().unwrap();
    r.mailbox(account.id, "INBOX").unwrap().unwrap().messages as usize
}

fn wait_count(data: &Path, want: usize, limit: Duration, log: &dyn Fn() -> String) -> Duration {
    let start = Instant::now();
    loop {
        let n = local_count(data);
        if n == want {
            return start.elapsed();
        }
        assert!(n < want, "{n} local messages, more than {want}:\n{}", log());
        assert!(
            start.elapsed() < limit,
            "{n} of {want} messages after {limit:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every local message is one of `expected` (by bytes), none twice, all
/// there, with the INTERNALDATE it was appended with.
fn check_local(data: &Path, expected: &[(i64, Vec<u8>)]) {
    let stored = local_messages(data, "INBOX");
    let mut want: BTreeMap<&[u8], i64> = BTreeMap::new();
    for (d, bytes) in expected {
        want.insert(bytes, *d);
    }
    let mut seen = HashSet::new();
    for (d, bytes) in &stored {
        let subject = String::from_utf8_lossy(bytes)
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap_or("?")
            .to_string();
        assert!(seen.insert(bytes.clone()), "stored twice: {subject}");
        match want.get(bytes.as_slice()) {
            Some(w) => assert_eq!(d, w, "INTERNALDATE of {subject}"),
            None => panic!("unexpected or altered message: {subject}"),
        }
    }
    assert_eq!(stored.len(), expected.len(), "messages stored");
}

fn dated(series: &str, range: std::ops::Range<usize>) -> Vec<(i64, Vec<u8>)> {
    range.map(|i| (date(i).0, message(series, i))).collect()
}

/// VmHWM (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

// ------------------------------------------------------------- scenarios --

/// 500 messages, then 20 more, fetched by a running server that polls;
/// the remote is unchanged after each sync.
fn first_and_incremental(remote: &Remote, name: &str) {
    let mut imap = remote.imap();
    imap.append_all("INBOX", &batch("first", 0..500));
    let before = imap.snapshot("INBOX");
    imap.logout();

    let data = local(name);
    add_account(&data.0, remote, remote.port(), &["--every", "2s"]);
    let started = Instant::now();
    let server = Server::start(&data.0, &[]);
    let took = wait_count(&data.0, 500, Duration::from_secs(120), &|| server.log());
    let took_total = started.elapsed();
    server.wait_for_log("500 new messages");
    println!(
        "{name}: first sync of 500 messages in {:.2} s ({:.2} s from server start); server VmHWM {} KiB",
        took.as_secs_f64(),
        took_total.as_secs_f64(),
        peak_rss_kib(server.child.id())
    );
    check_local(&data.0, &dated("first", 0..500));
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");

    imap.append_all("INBOX", &batch("first", 500..520));
    let before = imap.snapshot("INBOX");
    imap.logout();
    wait_count(&data.0, 520, Duration::from_secs(60), &|| server.log());
    server.wait_for_log("20 new messages");
    check_local(&data.0, &dated("first", 0..520));
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
    imap.logout();
    assert!(
        !server.log().contains(REMOTE_PASSWORD),
        "password in the log"
    );
}

/// A TCP relay in front of the remote that stops passing the server's
/// bytes after `allow` of them (all connections together), to hold a
/// sync in the middle; `blocked` says it is holding bytes back; `release`
/// lets everything through again.
struct Stall {
    port: u16,
    allow: Arc<AtomicU64>,
    blocked: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Stall {
    fn start(upstream: u16, allow: u64) -> Stall {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let allow = Arc::new(AtomicU64::new(allow));
        let blocked = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true).unwrap();
        {
            let (allow, blocked, stop) = (allow.clone(), blocked.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((client, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    client.set_nonblocking(false).unwrap();
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        continue;
                    };
                    let (mut c_read, mut s_write) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = c_read.read(&mut buf) {
                            if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = s_write.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut s_read, mut c_write) = (server, client);
                    let (allow, blocked, stop) = (allow.clone(), blocked.clone(), stop.clone());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = s_read.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            // Wait while the budget is spent.
                            while allow.load(Ordering::Relaxed) < n as u64 {
                                blocked.store(true, Ordering::Relaxed);
                                if stop.load(Ordering::Relaxed) {
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            let _ = allow.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |a| {
                                Some(a.saturating_sub(n as u64))
                            });
                            if c_write.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = c_write.shutdown(std::net::Shutdown::Write);
                    });
                }
            });
        }
        Stall {
            port,
            allow,
            blocked,
            stop,
        }
    }

    fn release(&self) {
        self.allow.store(u64::MAX, Ordering::Relaxed);
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `kill -9` while a sync is half done, then a restart: every message
/// once, none lost.
fn kill_mid_sync(remote: &Remote, name: &str) {
    let mut imap = remote.imap();
    imap.append_all("INBOX", &batch("kill", 0..500));
    let before = imap.snapshot("INBOX");
    imap.logout();
    let total: u64 = (0..500).map(|i| message("kill", i).len() as u64).sum();

    let stall = Stall::start(remote.port(), total * 2 / 5);
    let data = local(name);
    add_account(&data.0, remote, stall.port, &["--every", "2s"]);
    let mut server = Server::start(&data.0, &[]);
    // Kill once the stall holds the remote's bytes back (a batch is half
    // read, in memory only) and at least one batch before it is stored.
    server.wait_until(
        PATIENCE,
        "the stall to hold a sync with messages stored",
        || stall.blocked.load(Ordering::Relaxed) && local_count(&data.0) > 0,
    );
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let last = local_count(&data.0);
    assert!(
        last > 0 && last < 500,
        "{last} messages stored before the kill"
    );
    println!("{name}: killed with {last} of 500 messages stored");

    stall.release();
    let server = Server::start(&data.0, &[]);
    wait_count(&data.0, 500, Duration::from_secs(120), &|| server.log());
    server.wait_for_log(&format!("{} new messages", 500 - last));
    check_local(&data.0, &dated("kill", 0..500));
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
    imap.logout();
}

/// A UIDVALIDITY change: the same messages under new UIDs are not
/// fetched again; the new ones are.
fn uidvalidity_change(remote: &Remote, name: &str, folder: &str) {
    let mut imap = remote.imap();
    if folder != "INBOX" {
        imap.ok(&format!("CREATE {}", quote(folder)));
    }
    let mut old = batch("uidv", 0..40);
    for i in 0..3 {
        old.push(("()".into(), date(100 + i).1, message_without_id("uidv", i)));
    }
    imap.append_all(folder, &old);
    let uidvalidity = imap.uidvalidity(folder);
    imap.logout();

    let data = local(name);
    let id = add_account(
        &data.0,
        remote,
        remote.port(),
        &["--folder", &format!("{folder}=INBOX"), "--every", "1h"],
    );
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains("43 new messages"), "{out}");

    let new = batch("uidv", 40..45);
    let mut again = old.clone();
    again.extend(new.iter().cloned());
    remote.renumber(folder, &again);
    let mut imap = remote.imap();
    if matches!(remote, Remote::Dovecot { .. }) {
        imap.append_all(folder, &new);
    }
    let renumbered = imap.uidvalidity(folder);
    assert_ne!(renumbered, uidvalidity, "the UIDVALIDITY did not change");
    let before = imap.snapshot(folder);
    imap.logout();

    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains(": 5 new messages"), "{out}");
    let mut expected = dated("uidv", 0..45);
    for i in 0..3 {
        expected.push((date(100 + i).0, message_without_id("uidv", i)));
    }
    check_local(&data.0, &expected);
    let list = admin(&data.0, &["fetch", "list"], "");
    assert!(
        list.contains(&format!("UIDVALIDITY {renumbered}")),
        "{list}"
    );
    assert!(!list.contains(REMOTE_PASSWORD), "{list}");
    // A run with nothing new takes nothing.
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains(": 0 new messages"), "{out}");
    check_local(&data.0, &expected);
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot(folder), before, "the remote changed");
    imap.logout();
}

/// A relay in front of a remote's plain IMAP port that takes the
/// fetcher's TLS (with the remote's own certificate, so the account's CA
/// fits) and passes the plaintext on, watching it: it counts the IDLE
/// commands the remote has accepted (its `+` continuation), so that a
/// test knows when the fetcher waits in IDLE instead of guessing with a
/// sleep.
struct Tap {
    port: u16,
    idle: Arc<Mutex<IdleSeen>>,
}

#[derive(Default)]
struct IdleSeen {
    /// Between the fetcher's IDLE and its DONE.
    in_idle: bool,
    /// IDLE commands the remote has answered with a continuation.
    started: usize,
}

impl Tap {
    fn start(remote: &Remote) -> Tap {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (cert, key) = remote.cert_and_key();
        let chain = CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = futures_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = remote.plain_port();
        let idle = Arc::new(Mutex::new(IdleSeen::default()));
        let seen = idle.clone();
        std::thread::spawn(move || {
            let ex = smol::LocalExecutor::new();
            smol::block_on(ex.run(async {
                let listener = smol::Async::new(listener).unwrap();
                while let Ok((client, _)) = listener.accept().await {
                    let (acceptor, seen) = (acceptor.clone(), seen.clone());
                    ex.spawn(async move {
                        let Ok(tls) = acceptor.accept(client).await else {
                            return;
                        };
                        let Ok(server) =
                            smol::net::TcpStream::connect(("127.0.0.1", upstream)).await
                        else {
                            return;
                        };
                        let (from_client, to_client) = smol::io::split(tls);
                        smol::future::zip(
                            tap_copy(from_client, server.clone(), &seen, true),
                            tap_copy(server, to_client, &seen, false),
                        )
                        .await;
                    })
                    .detach();
                }
            }));
        });
        Tap { port, idle }
    }

    /// How many IDLEs of the fetcher the remote has accepted so far.
    fn idles_started(&self) -> usize {
        self.idle.lock().unwrap().started
    }
}

/// Copies `from` to `to` a line at a time, noting IDLE, DONE (from the
/// client) and continuations (from the server) in `seen` before passing
/// each line on, so the count never runs behind what the peer received.
async fn tap_copy(
    from: impl smol::io::AsyncRead + Unpin,
    mut to: impl smol::io::AsyncWrite + Unpin,
    seen: &Mutex<IdleSeen>,
    from_client: bool,
) {
    use smol::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut from = smol::io::BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        {
            let mut seen = seen.lock().unwrap();
            let upper = line.to_ascii_uppercase();
            if from_client && upper.ends_with(b" IDLE\r\n") && !upper.contains(&b'"') {
                seen.in_idle = true;
            } else if from_client && upper == b"DONE\r\n" {
                seen.in_idle = false;
            } else if !from_client && seen.in_idle && line.starts_with(b"+") {
                seen.started += 1;
            }
        }
        if to.write_all(&line).await.is_err() || to.flush().await.is_err() {
            break;
        }
    }
    let _ = to.close().await;
}

/// With --idle, a new message in the remote INBOX arrives as soon as the
/// remote announces it (the poll interval is an hour). The fetcher talks
/// to the remote through a [`Tap`], so each message is appended only once
/// the fetcher is in IDLE: then nothing but IDLE can bring it.
fn idle_pickup(remote: &Remote, name: &str) {
    let mut imap = remote.imap();
    imap.append_all("INBOX", &batch("idle", 0..5));
    imap.logout();
    let data = local(name);
    let tap = Tap::start(remote);
    add_account(&data.0, remote, tap.port, &["--idle", "--every", "1h"]);
    let server = Server::start(&data.0, &[]);
    wait_count(&data.0, 5, PATIENCE, &|| server.log());
    server.wait_for_log("5 new messages");
    for round in 0..2 {
        server.wait_until(PATIENCE, "the fetcher to wait in IDLE", || {
            tap.idles_started() > round
        });
        let mut imap = remote.imap();
        let appended = Instant::now();
        imap.append_all("INBOX", &batch("idle", 5 + round..6 + round));
        wait_count(&data.0, 6 + round, PATIENCE, &|| server.log());
        let took = appended.elapsed();
        println!(
            "{name}: IDLE brought message {} in {:.2} s",
            6 + round,
            took.as_secs_f64()
        );
        let before = imap.snapshot("INBOX");
        imap.logout();
        let mut imap = remote.imap();
        assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
        imap.logout();
    }
    check_local(&data.0, &dated("idle", 0..7));
}

// ------------------------------------------------------------------ tests --

#[test]
fn smolmail_first_and_incremental_sync() {
    let remote = Remote::smolmail("first");
    first_and_incremental(&remote, "smolmail-first");
}

#[test]
fn dovecot_first_and_incremental_sync() {
    let remote = Remote::dovecot("first");
    first_and_incremental(&remote, "dovecot-first");
}

#[test]
fn smolmail_kill_mid_sync() {
    let remote = Remote::smolmail("kill");
    kill_mid_sync(&remote, "smolmail-kill");
}

#[test]
fn dovecot_kill_mid_sync() {
    let remote = Remote::dovecot("kill");
    kill_mid_sync(&remote, "dovecot-kill");
}

#[test]
fn smolmail_uidvalidity_change() {
    let remote = Remote::smolmail("uidv");
    uidvalidity_change(&remote, "smolmail-uidv", "Lists");
}

#[test]
fn dovecot_uidvalidity_change() {
    let remote = Remote::dovecot("uidv");
    uidvalidity_change(&remote, "dovecot-uidv", "INBOX");
}

#[test]
fn smolmail_idle() {
    let remote = Remote::smolmail("idle");
    idle_pickup(&remote, "smolmail-idle");
}

#[test]
fn dovecot_idle() {
    let remote = Remote::dovecot("idle");
    idle_pickup(&remote, "dovecot-idle");
}

/// The commands: add (checks, --into, modes), list (never the password),
/// run (size limit, per-run cap, STARTTLS, errors recorded), del.
#[test]
fn commands_and_bounds() {
    use std::os::unix::fs::PermissionsExt;
    let remote = Remote::smolmail("cli");
    let mut imap = remote.imap();
    let mut messages = batch("cli", 0..5);
    let big = {
        let mut m = message("cli", 99);
        m.extend(std::iter::repeat_n(b'x', 2 << 20));
        m.extend_from_slice(b"\r\n");
        m
    };
    messages.insert(2, ("()".into(), date(99).1, big));
    imap.append_all("INBOX", &messages);
    let before = imap.snapshot("INBOX");
    imap.logout();

    let data = local("cli");
    let pw = data.0.join("pw");
    std::fs::write(&pw, "wrong\n").unwrap();
    let port = remote.port().to_string();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "fetch",
            "add",
            LOCAL_USER,
            "--host",
            "localhost",
            "--user",
            REMOTE_USER,
        ];
        args.extend(extra);
        Command::new(BIN)
            .args(&args)
            .env("SMOLMAIL_DATA", &data.0)
            .output()
            .unwrap()
    };
    // Refusals: unknown local user, missing password file, a bad CA file.
    let out = Command::new(BIN)
        .args([
            "fetch",
            "add",
            "nobody@home.arpa",
            "--host",
            "localhost",
            "--user",
            "x",
            "--password-file",
            pw.to_str().unwrap(),
        ])
        .env("SMOLMAIL_DATA", &data.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no local user"));
    let out = add(&["--password-file", "/nonexistent"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-file /nonexistent"));
    let out = add(&[
        "--password-file",
        pw.to_str().unwrap(),
        "--ca",
        pw.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no CERTIFICATE"),
        "{out:?}"
    );

    // Without the CA the self-signed certificate does not verify.
    let id = add_account(&data.0, &remote, remote.port(), &[]);
    let list = admin(&data.0, &["fetch", "list"], "");
    assert!(list.contains("own CA"), "{list}");
    admin(&data.0, &["fetch", "del", &id], "");
    let out = add(&["--password-file", pw.to_str().unwrap(), "--port", &port]);
    assert!(out.status.success(), "{out:?}");
    let (ok, out) = fetch_run(&data.0, "2");
    assert!(!ok && out.contains("certificate"), "{out}");
    admin(&data.0, &["fetch", "del", "2"], "");

    // A wrong password: refused, and the password is nowhere.
    std::fs::write(&pw, "wrong-password\n").unwrap();
    let out = add(&[
        "--password-file",
        pw.to_str().unwrap(),
        "--port",
        &port,
        "--ca",
        remote.ca().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let (ok, out) = fetch_run(&data.0, "3");
    assert!(!ok && out.contains("refused"), "{out}");
    assert!(!out.contains("wrong-password"), "{out}");
    let list = admin(&data.0, &["fetch", "list"], "");
    assert!(
        list.contains("FAILED") && !list.contains("wrong-password"),
        "{list}"
    );
    admin(&data.0, &["fetch", "del", "3"], "");

    // STARTTLS on the plain port, into another mailbox, two per run,
    // with a size limit of 1 MB.
    let id = add_account(
        &data.0,
        &remote,
        remote.port_of("imap"),
        &["--starttls", "--into", "Fetched", "--max-per-run", "2"],
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.0), 0o700);
    assert_eq!(mode(&data.0.join("data.mdb")), 0o600);
    let env = [("SMOLMAIL_MAX_MESSAGE_SIZE", "1M")];
    // UIDs 1, 2, then 3 (too large: skipped, not counted against the cap).
    let (ok, out) = fetch_run_with(&data.0, &id, &env);
    assert!(
        ok && out.contains(": 2 new messages")
            && out.contains("1 over --max-message-size")
            && out.contains("stopped at --max-per-run 2"),
        "{out}"
    );
    let (ok, out) = fetch_run_with(&data.0, &id, &env);
    assert!(
        ok && out.contains(": 2 new messages") && !out.contains("over --max"),
        "{out}"
    );
    let (ok, out) = fetch_run_with(&data.0, &id, &env);
    assert!(ok && out.contains(": 1 new message,"), "{out}");
    let (ok, out) = fetch_run_with(&data.0, &id, &env);
    assert!(ok && out.contains(": 0 new messages"), "{out}");
    assert_eq!(local_messages(&data.0, "Fetched").len(), 5);
    assert!(local_messages(&data.0, "INBOX").is_empty());
    let list = admin(&data.0, &["fetch", "list"], "");
    assert!(
        list.contains("INBOX -> Fetched") && list.contains("last UID 6"),
        "{list}"
    );
    assert!(!list.contains(REMOTE_PASSWORD), "{list}");
    let out = admin(&data.0, &["fetch", "del", &id], "");
    assert!(out.contains("deleted"), "{out}");
    let list = admin(&data.0, &["fetch", "list"], "");
    assert!(list.contains("no fetch accounts"), "{list}");
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
    imap.logout();
}

/// The figures of the issue: time and memory of a first sync of 500
/// messages from Dovecot by a running server. The server starts with no
/// fetch account; its peak RSS (VmHWM) is read before the account is
/// added and after the sync; the time is the one the run's log line gives.
/// scripts/test.sh runs this with --nocapture; SMOLMAIL_MEASURE_BIN points
/// it at another build (e.g. target/release/smolmail).
#[test]
#[ignore]
fn measure_dovecot_first_sync() {
    let remote = Remote::dovecot("measure");
    let messages = batch("measure", 0..500);
    let bytes: usize = messages.iter().map(|m| m.2.len()).sum();
    let mut imap = remote.imap();
    imap.append_all("INBOX", &messages);
    let before = imap.snapshot("INBOX");
    imap.logout();
    let data = local("measure");
    let bin = std::env::var("SMOLMAIL_MEASURE_BIN").unwrap_or_else(|_| BIN.to_string());
    let log = data.0.join("serve.log");
    let mut cmd = Command::new(&bin);
    cmd.arg("serve")
        .env("SMOLMAIL_DATA", &data.0)
        .env("SMOLMAIL_HOSTNAME", "mail.home.arpa")
        .env("SMOLMAIL_DNS_SERVER", "127.0.0.1:9")
        .args(["--imap", &format!("127.0.0.1:{}", free_port())]);
    for service in [
        "smtp",
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
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    common::wait_until_with(
        PATIENCE,
        "the server to listen",
        || read_log().contains("imap: listening"),
        read_log,
    );
    let idle_kib = peak_rss_kib(child.id());
    add_account(&data.0, &remote, remote.port(), &[]);
    wait_count(&data.0, 500, Duration::from_secs(120), &read_log);
    common::wait_until_with(
        PATIENCE,
        "the run's log line",
        || read_log().contains(": 500 new messages"),
        read_log,
    );
    let line = read_log()
        .lines()
        .find(|l| l.contains(": 500 new messages"))
        .unwrap()
        .to_string();
    let peak_kib = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let secs = line
        .split(" bytes in ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap_or("?")
        .to_string();
    check_local(&data.0, &dated("measure", 0..500));
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
    imap.logout();
    println!(
        "MEASURED: first sync of 500 messages ({:.1} MB) from Dovecot: {secs} s; server peak RSS {:.1} MiB before the account was added, {:.1} MiB after the sync ({bin})",
        bytes as f64 / 1e6,
        idle_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
}

/// Large messages (one bigger than a whole batch) arrive whole and
/// unchanged, between small ones.
#[test]
fn large_messages() {
    let remote = Remote::smolmail("large");
    let sizes = [300 << 10, 5000, 3 << 20, 6 << 20, 7000, 1 << 20];
    let mut expected = Vec::new();
    let mut append = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let mut m = message("large", i);
        let line = format!("large {i} padding line of the message, to make it as big as asked\r\n");
        while m.len() + line.len() <= *size {
            m.extend_from_slice(line.as_bytes());
        }
        expected.push((date(i).0, m.clone()));
        append.push((flags(i).to_string(), date(i).1, m));
    }
    let mut imap = remote.imap();
    imap.append_all("INBOX", &append);
    let before = imap.snapshot("INBOX");
    imap.logout();
    let data = local("large");
    let id = add_account(&data.0, &remote, remote.port(), &[]);
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains(": 6 new messages"), "{out}");
    check_local(&data.0, &expected);
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
    imap.logout();
}

/// Deleting a local user deletes the fetch accounts that pulled mail for
/// them, instead of leaving them to fail every hour.
#[test]
fn deleting_the_user_deletes_their_fetch_accounts() {
    let data = TempDir::new("fetch-userdel");
    add_user(&data.0, "carol@home.arpa", "pw");
    add_user(&data.0, "dave@home.arpa", "pw");
    let pw = data.0.join("pw");
    std::fs::write(&pw, "remote-secret\n").unwrap();
    for user in ["carol@home.arpa", "dave@home.arpa"] {
        let args = [
            "fetch",
            "add",
            user,
            "--host",
            "imap.example.org",
            "--user",
            "x",
            "--password-file",
            pw.to_str().unwrap(),
        ];
        admin(&data.0, &args, "");
    }
    admin(&data.0, &["user", "del", "carol@home.arpa"], "");
    let list = admin(&data.0, &["fetch", "list"], "");
    assert!(
        !list.contains("carol@home.arpa") && list.contains("dave@home.arpa"),
        "{list}"
    );
}

/// A LAN IMAP server whose certificate is its own self-signed one, made
/// by `openssl req -x509` (so `CA:TRUE`): given as the account's `--ca`,
/// it is trusted as that exact certificate, as mbsync and fetchmail do
/// (webpki alone refuses it: `CaUsedAsEndEntity`). Another self-signed
/// certificate for the same name is still refused.
#[test]
fn own_self_signed_certificate_as_ca_is_pinned() {
    let dir = TempDir::new("fetch-remote-pinned");
    add_user(&dir.0, REMOTE_USER, REMOTE_PASSWORD);
    let (cert, key) = openssl_self_signed(&dir.0, "own", "localhost");
    let (other, _) = openssl_self_signed(&dir.0, "other", "localhost");
    let server = Server::start(
        &dir.0,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let remote = Remote::Smolmail { server, _dir: dir };
    let mut imap = remote.imap();
    imap.append_all("INBOX", &batch("pinned", 0..3));
    let before = imap.snapshot("INBOX");
    imap.logout();

    let data = local("pinned");
    let port = remote.port();
    let wrong = add_account_with_ca(&data.0, &other, port, &[]);
    let (ok, out) = fetch_run(&data.0, &wrong);
    assert!(!ok && out.contains("invalid peer certificate"), "{out}");
    admin(&data.0, &["fetch", "del", &wrong], "");
    assert_eq!(local_count(&data.0), 0);

    let id = add_account_with_ca(&data.0, &cert, port, &[]);
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains(": 3 new messages"), "{out}");
    assert_eq!(local_count(&data.0), 3);
    let mut imap = remote.imap();
    assert_eq!(imap.snapshot("INBOX"), before, "the remote changed");
    imap.logout();
}

/// The local account's quota stops a fetch before the first message that
/// would take it past the limit, with one warning for the run; that
/// message stays untaken, and a run after room is made takes it and the
/// rest, none twice.
#[test]
fn fetch_stops_at_the_local_quota() {
    let remote = Remote::smolmail("quota");
    let mut imap = remote.imap();
    imap.append_all("INBOX", &batch("quota", 0..10));
    imap.logout();
    let data = local("quota");
    let id = add_account(&data.0, &remote, remote.port(), &[]);
    let room =
        (0..4).map(|i| message("quota", i).len()).sum::<usize>() + message("quota", 4).len() / 2;
    admin(
        &data.0,
        &["user", "quota", LOCAL_USER, &room.to_string()],
        "",
    );
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok, "{out}");
    assert!(
        out.contains("stopped at the quota of you@home.arpa"),
        "{out}"
    );
    assert_eq!(out.matches("past its quota").count(), 1, "{out}");
    check_local(&data.0, &dated("quota", 0..4));
    // Still full: the next run takes nothing and marks nothing.
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains("0 new messages"), "{out}");
    admin(&data.0, &["user", "quota", LOCAL_USER, "0"], "");
    let (ok, out) = fetch_run(&data.0, &id);
    assert!(ok && out.contains("6 new messages"), "{out}");
    check_local(&data.0, &dated("quota", 0..10));
}
