//! `smolmail import imap` against Debian's Dovecot on loopback (started
//! here with a temporary configuration: Maildir, `.` as the hierarchy
//! delimiter, RFC 6154 special-use folders under names smolmail does not
//! use). Mail is appended over IMAP with flags, keywords and INTERNALDATEs
//! into several folders, nested and special-use ones among them; after the
//! import, smolmail serves the same folders with the same messages (bytes,
//! flags, keywords, INTERNALDATE, order) over IMAP, and Dovecot's side is
//! exactly as before (STATUS with RECENT and HIGHESTMODSEQ, every
//! message's FLAGS and MODSEQ). A second test kills the import half-way
//! (`kill -9` while a relay holds the server's bytes back) and runs it
//! again: every message once.
//!
//! Needs Debian's dovecot-imapd and openssl; fails naming them without.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::dovecot::{Dovecot, Options};
use common::imap::{Session, quote};
use common::{BIN, Client, PATIENCE, TempDir, add_user};

const LOCAL_USER: &str = "you@home.arpa";
const REMOTE_USER: &str = "bob@remote.test";
const REMOTE_PASSWORD: &str = "s3cret pass";

/// Remote folder (Dovecot's name, `.` delimiter), its RFC 6154 use, the
/// local folder it must land in, and how many messages it gets.
const FOLDERS: [(&str, &str, &str, usize); 9] = [
    ("INBOX", "", "INBOX", 70),
    ("Sent Items", "\\Sent", "Sent", 25),
    ("Drafts", "\\Drafts", "Drafts", 4),
    ("Papierkorb", "\\Trash", "Trash", 9),
    ("Spam", "\\Junk", "Junk", 7),
    ("Work", "", "Work", 12),
    ("Work.Projects", "", "Work/Projects", 30),
    ("Entwürfe alt", "", "Entwürfe alt", 6),
    ("Empty", "", "Empty", 0),
];

// ------------------------------------------------------------- messages --

/// Message `i` of `folder`: sizes from about 500 bytes to 10 KB, every
/// 40th at 150 KB; message 3 of INBOX has no Message-ID, and INBOX's
/// messages 10 and 11 are the same bytes (a true duplicate, kept twice).
fn message(folder: &str, i: usize) -> Vec<u8> {
    let i = if folder == "INBOX" && i == 11 { 10 } else { i };
    let id = if folder == "INBOX" && i == 3 {
        String::new()
    } else {
        format!("Message-ID: <{i}.{}@example.org>\r\n", folder.len())
    };
    let mut m = format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: {REMOTE_USER}\r\nSubject: {folder} {i}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\n{id}\r\n"
    );
    let lines = if i % 40 == 7 {
        2200
    } else {
        5 + (i * 37) % 130
    };
    for n in 0..lines {
        m.push_str(&format!("{folder} {i} line {n}: the quick brown fox\r\n"));
    }
    m.into_bytes()
}

/// Flags and keywords message `i` is appended with.
fn flags(i: usize) -> &'static str {
    [
        "(\\Seen)",
        "(\\Seen \\Flagged)",
        "($Label1)",
        "(\\Answered $Forwarded)",
        "()",
        "(\\Seen NonJunk $Label2)",
        "(\\Deleted \\Seen)",
        "(\\Draft)",
    ][i % 8]
}

/// The APPEND date of message `i`, in a zone other than UTC sometimes.
fn date(i: usize) -> String {
    let zone = if i.is_multiple_of(3) {
        "+0200"
    } else {
        "-0500"
    };
    format!(
        "{:02}-{}-20{:02} {:02}:{:02}:{:02} {zone}",
        1 + i % 28,
        ["Jan", "Mar", "Jul", "Dec"][i % 4],
        10 + i % 14,
        i % 24,
        (i * 7) % 60,
        (i * 13) % 60
    )
}

// ---------------------------------------------------- a test IMAP client --

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

/// A mailbox name as IMAP sends it (RFC 3501 §5.1.3 modified UTF-7).
fn wire(name: &str) -> String {
    quote(&smolmail::wire::imap::mutf7::wire_name(name))
}

impl Imap {
    fn login(c: Client, user: &str, password: &str) -> Imap {
        Imap(Session::login(c, user, password))
    }

    fn append(&mut self, folder: &str, i: usize) {
        let bytes = message(folder, i);
        self.n += 1;
        let tag = format!("t{}", self.n);
        let mut out = format!(
            "{tag} APPEND {} {} \"{}\" {{{}+}}\r\n",
            wire(folder),
            flags(i),
            date(i),
            bytes.len()
        )
        .into_bytes();
        out.extend_from_slice(&bytes);
        out.extend_from_slice(b"\r\n");
        self.c.send(&out);
        let (lines, done) = self.collect(&tag);
        assert!(done.contains(" OK"), "APPEND: {done} after {lines:?}");
    }

    /// Every message of `folder` as (sorted flags without \Recent,
    /// INTERNALDATE in Unix seconds, bytes), in UID order; read-only.
    fn contents(&mut self, folder: &str) -> Vec<(Vec<String>, i64, String)> {
        let lines = self.ok(&format!("EXAMINE {}", wire(folder)));
        let empty = lines.iter().any(|l| l.starts_with("* 0 EXISTS"));
        let mut out = Vec::new();
        if !empty {
            for line in self.ok("UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])") {
                out.push(parse_fetch(&line));
            }
        }
        self.ok("CLOSE");
        out
    }

    /// What an importer could change in `folder`: STATUS with RECENT and
    /// HIGHESTMODSEQ, and every message's FLAGS and MODSEQ.
    fn snapshot(&mut self, folder: &str) -> String {
        let mut out = self.ok(&format!(
            "STATUS {} (MESSAGES RECENT UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ)",
            wire(folder)
        ));
        let lines = self.ok(&format!("EXAMINE {}", wire(folder)));
        if !lines.iter().any(|l| l.starts_with("* 0 EXISTS")) {
            out.extend(self.ok("UID FETCH 1:* (FLAGS MODSEQ)"));
        }
        self.ok("CLOSE");
        out.join("")
    }
}

/// `* n FETCH (... FLAGS (..) INTERNALDATE ".." BODY[] {n}\r\n...)`.
fn parse_fetch(line: &str) -> (Vec<String>, i64, String) {
    let at = line.find("BODY[] {").expect("BODY[]");
    let open = at + "BODY[] {".len();
    let close = open + line[open..].find('}').unwrap();
    let n: usize = line[open..close].parse().unwrap();
    let body = line[close + 3..close + 3 + n].to_string();
    let rest = format!("{}{}", &line[..at], &line[close + 3 + n..]);
    let f = rest.find("FLAGS (").expect("FLAGS") + "FLAGS (".len();
    let mut flags: Vec<String> = rest[f..f + rest[f..].find(')').unwrap()]
        .split_whitespace()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .map(str::to_string)
        .collect();
    flags.sort();
    let d = rest.find("INTERNALDATE \"").expect("INTERNALDATE") + "INTERNALDATE \"".len();
    let text = &rest[d..d + rest[d..].find('"').unwrap()];
    let date = smolmail::wire::imap::datetime::parse_date_time(text.as_bytes())
        .unwrap_or_else(|| panic!("INTERNALDATE {text:?}"))
        .unix;
    (flags, date, body)
}

// --------------------------------------------------------------- Dovecot --

/// The remote: Dovecot with [`FOLDERS`] (`.` delimiter, RFC 6154 uses),
/// TLS required on `tls_port` for the import and plain IMAP on `port` for
/// the test's own client (loopback is secure).
fn start_dovecot(name: &str) -> Dovecot {
    let special: Vec<(&str, &str)> = FOLDERS
        .iter()
        .filter(|f| !f.1.is_empty())
        .map(|f| (f.0, f.1))
        .collect();
    Dovecot::start(
        &format!("import-imap-{name}"),
        &Options {
            users: &[(REMOTE_USER, REMOTE_PASSWORD)],
            tls: Some(&|d: &Path| {
                common::require_tool("openssl", "openssl");
                common::openssl_self_signed(d, "server", "localhost");
            }),
            separator: Some('.'),
            special_use: &special,
            ..Options::default()
        },
    )
}

/// The test's side of the remote.
trait Remote {
    fn imap(&self) -> Imap;
    fn fill(&self) -> usize;
    fn snapshot(&self) -> String;
    fn ca(&self) -> PathBuf;
}

impl Remote for Dovecot {
    fn imap(&self) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        Imap::login(Client::plain(stream), REMOTE_USER, REMOTE_PASSWORD)
    }

    /// Creates the folders and appends their mail; subscribes
    /// Work.Projects (the special-use ones are subscribed by `auto`).
    fn fill(&self) -> usize {
        let mut imap = self.imap();
        let mut total = 0;
        for (folder, _, _, count) in FOLDERS {
            if folder != "INBOX" {
                let (_, done) = imap.run(&format!("CREATE {}", wire(folder)));
                assert!(
                    done.contains(" OK") || done.contains("ALREADYEXISTS"),
                    "{done}"
                );
            }
            for i in 0..count {
                imap.append(folder, i);
            }
            total += count;
        }
        imap.ok("SUBSCRIBE \"Work.Projects\"");
        imap.ok("UNSUBSCRIBE \"Work\"");
        total
    }

    fn snapshot(&self) -> String {
        let mut imap = self.imap();
        FOLDERS.iter().map(|f| imap.snapshot(f.0)).collect()
    }

    fn ca(&self) -> PathBuf {
        self.dir.0.join("server.pem")
    }
}

// ----------------------------------------------------------- local side --

/// `smolmail import imap` into `data` from `port`: success and output.
fn import(data: &Path, dovecot: &Dovecot, port: u16) -> (bool, String) {
    let out = import_command(data, dovecot, port).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn import_command(data: &Path, dovecot: &Dovecot, port: u16) -> Command {
    let pw = data.join("remote-password");
    std::fs::write(&pw, format!("{REMOTE_PASSWORD}\n")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["import", "imap", LOCAL_USER, "--host", "localhost"])
        .args(["--port", &port.to_string(), "--user", REMOTE_USER])
        .arg("--password-file")
        .arg(&pw)
        .arg("--ca")
        .arg(dovecot.ca())
        .env("SMOLMAIL_DATA", data)
        .env("SMOLMAIL_DNS_SERVER", "127.0.0.1:9");
    cmd
}

/// Messages in all of the local user's folders, read from the store.
fn local_count(data: &Path) -> u64 {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    let Some(account) = r.account(LOCAL_USER).unwrap() else {
        return 0;
    };
    r.mailboxes(account.id)
        .unwrap()
        .iter()
        .map(|m| u64::from(m.messages))
        .sum()
}

/// Every remote folder's contents are its local folder's, over IMAP from
/// a smolmail serving `data`; special-use folders carry their use, and
/// the subscriptions came along.
fn same_as_remote(data: &Path, dovecot: &Dovecot) {
    let server = common::Server::start(data, &[]);
    let stream = TcpStream::connect(("127.0.0.1", server.port("imaps"))).unwrap();
    let mut local = Imap::login(Client::tls(stream), LOCAL_USER, "pw");
    let mut remote = dovecot.imap();
    for (folder, use_, local_name, count) in FOLDERS {
        let want = remote.contents(folder);
        assert_eq!(want.len(), count, "remote {folder}");
        let got = local.contents(local_name);
        assert_eq!(
            got.len(),
            want.len(),
            "messages in {local_name} (from {folder})"
        );
        for (n, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "message {n} of {local_name} (from {folder})");
        }
        if !use_.is_empty() {
            let listed = local.ok(&format!("LIST \"\" {}", wire(local_name)));
            assert!(
                listed.iter().any(|l| l.contains(use_)),
                "{local_name} is not {use_}: {listed:?}"
            );
        }
    }
    let listed = local.ok("LIST \"\" \"*\"").join("");
    for gone in ["Papierkorb", "Sent Items", "Spam", "Work.Projects"] {
        assert!(!listed.contains(gone), "{gone} made locally: {listed}");
    }
    let subscribed = local.ok("LSUB \"\" \"*\"").join("");
    assert!(subscribed.contains("\"Work/Projects\""), "{subscribed}");
}

// ----------------------------------------------------------------- tests --

/// The imapsync job: every folder with its flags, keywords, dates and
/// bytes; special-use folders into the local ones of that use; the
/// source exactly as it was (EXAMINE and BODY.PEEK: no \Seen, no \Recent
/// taken, no MODSEQ moved); a second run copies nothing.
#[test]
fn import_imap_copies_every_folder_read_only() {
    let dovecot = start_dovecot("copy");
    let total = dovecot.fill();
    let before = dovecot.snapshot();
    let data = TempDir::new("import-imap-copy-local");
    add_user(&data.0, LOCAL_USER, "pw");

    let (ok, out) = import(&data.0, &dovecot, dovecot.tls_port);
    assert!(ok, "{out}");
    println!("{out}");
    assert!(out.contains(&format!("imported {total} messages")), "{out}");
    assert!(!out.contains(REMOTE_PASSWORD), "{out}");
    assert_eq!(dovecot.snapshot(), before, "the import changed the source");
    same_as_remote(&data.0, &dovecot);

    let (ok, again) = import(&data.0, &dovecot, dovecot.tls_port);
    assert!(ok, "{again}");
    assert!(again.contains("imported 0 messages"), "{again}");
    assert!(
        again.contains(&format!(", {total} there already")),
        "{again}"
    );
    assert_eq!(local_count(&data.0), total as u64);
    assert_eq!(dovecot.snapshot(), before, "the re-run changed the source");

    // `--folder` copies that folder alone.
    let one = TempDir::new("import-imap-one-local");
    add_user(&one.0, LOCAL_USER, "pw");
    let mut cmd = import_command(&one.0, &dovecot, dovecot.tls_port);
    let out = cmd.args(["--folder", "Work.Projects"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(local_count(&one.0), 30);
}

/// A TCP relay that passes at most `allow` bytes from the server (all
/// connections together), then holds the rest back.
struct Stall {
    port: u16,
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
        let (b, s) = (blocked.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                let (mut s_read, mut c_write) = (server, client);
                let (allow, b, s) = (allow.clone(), b.clone(), s.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s_read.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        while allow.load(Ordering::Relaxed) < n as u64 {
                            b.store(true, Ordering::Relaxed);
                            if s.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        allow.fetch_sub(n as u64, Ordering::Relaxed);
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Stall {
            port,
            blocked,
            stop,
        }
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `kill -9` half-way through, then the same import again (on another
/// port of the same server): every message exactly once.
#[test]
fn import_imap_killed_half_way_resumes_without_duplicates() {
    let dovecot = start_dovecot("kill");
    let total = dovecot.fill();
    let before = dovecot.snapshot();
    let bytes: usize = FOLDERS
        .iter()
        .map(|f| (0..f.3).map(|i| message(f.0, i).len()).sum::<usize>())
        .sum();
    let data = TempDir::new("import-imap-kill-local");
    add_user(&data.0, LOCAL_USER, "pw");

    let stall = Stall::start(dovecot.tls_port, bytes as u64 / 2);
    let mut child = import_command(&data.0, &dovecot, stall.port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(PATIENCE, "the import to stall with mail stored", || {
        stall.blocked.load(Ordering::Relaxed) && local_count(&data.0) > 0
    });
    // Let what was read reach the store, then kill.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let first = local_count(&data.0);
    assert!(
        first > 0 && first < total as u64,
        "{first} of {total} before the kill"
    );
    println!("killed with {first} of {total} messages stored");

    let (ok, out) = import(&data.0, &dovecot, dovecot.tls_port);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("imported {} messages", total as u64 - first)),
        "{out}"
    );
    assert!(out.contains(&format!(", {first} there already")), "{out}");
    assert_eq!(local_count(&data.0), total as u64);
    same_as_remote(&data.0, &dovecot);
    assert_eq!(dovecot.snapshot(), before, "the import changed the source");
}
