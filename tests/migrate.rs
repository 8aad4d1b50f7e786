//! Moving an account in and out against the real Dovecot (#14 of the
//! issues' old numbering, "import and export of whole accounts"): mail is
//! APPENDed into Dovecot (maildir) with flags, keywords and INTERNALDATEs
//! by Python's imaplib, its Maildir imported into a running smolmail, and
//! both accounts dumped over IMAP (tests/migrate_imap.py) and compared:
//! folders, subscriptions, order, flags, keywords, INTERNALDATEs, sizes
//! and bytes. Then smolmail's Maildir export is read back by Dovecot, and
//! its mbox export imported again, with the same comparison.
//!
//! Needs Debian's dovecot-imapd and python3; fails naming them otherwise.
//! Dovecot is started by tests/common/dovecot.rs.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use common::dovecot::{Dovecot, Options};
use common::{BIN, PATIENCE, Server, TempDir, add_user};

const PASSWORD: &str = "migrate-pw";
const USER: &str = "me@home.arpa";

/// Debian's Dovecot on 127.0.0.1 (IMAP without TLS: loopback counts as
/// secure), with maildir accounts `users` whose homes are `home/NAME`,
/// each with password [`PASSWORD`].
fn start_dovecot(name: &str, users: &[&str]) -> Dovecot {
    let users: Vec<(&str, &str)> = users.iter().map(|u| (*u, PASSWORD)).collect();
    Dovecot::start(
        &format!("migrate-{name}"),
        &Options {
            users: &users,
            auth_mechanisms: "plain login",
            ..Options::default()
        },
    )
}

/// Runs tests/migrate_imap.py; returns its output.
pub fn imap_py(mode: &str, port: u16, user: &str) -> String {
    let python = common::require_tool("python3", "python3");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrate_imap.py");
    common::run_ok(Command::new(python).args([
        script.to_str().unwrap(),
        mode,
        &port.to_string(),
        user,
        PASSWORD,
    ]))
}

/// Runs `smolmail ARGS` against `data`; returns stdout, panics on failure.
fn smolmail(data: &Path, args: &[&str]) -> String {
    common::run_ok(Command::new(BIN).args(args).env("SMOLMAIL_DATA", data))
}

/// What to compare of a dump (tests/migrate_imap.py's lines).
#[derive(Clone, Copy)]
struct View {
    /// UIDs and UIDVALIDITY (equal only when the target keeps them).
    uids: bool,
    subscriptions: bool,
}

/// The dump's lines for the folders in `only` (all if empty), without the
/// fields `view` leaves out.
fn view(dump: &str, v: View, only: &BTreeSet<String>) -> Vec<String> {
    dump.lines()
        .filter_map(|line| {
            let mut f: Vec<&str> = line.split('\t').collect();
            if !only.is_empty() && !only.contains(f[1]) {
                return None;
            }
            match f[0] {
                "F" => {
                    if !v.subscriptions {
                        f.remove(3);
                    }
                    if !v.uids {
                        f.remove(2);
                    }
                }
                _ if !v.uids => {
                    f.remove(2);
                }
                _ => {}
            }
            Some(f.join("\t"))
        })
        .collect()
}

/// The folders of a dump.
fn folders(dump: &str) -> BTreeSet<String> {
    dump.lines()
        .filter(|l| l.starts_with("F\t"))
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect()
}

const ALL: View = View {
    uids: true,
    subscriptions: true,
};
const CONTENT: View = View {
    uids: false,
    subscriptions: true,
};

#[test]
fn maildir_from_dovecot_is_imported_and_exported_back_with_flags_dates_and_bytes() {
    let dovecot = start_dovecot("round", &["src", "back"]);
    imap_py("seed", dovecot.port, "src");
    let source = imap_py("dump", dovecot.port, "src");
    let source_folders = folders(&source);
    let expected: BTreeSet<String> = ["INBOX", "Sent", "Work", "Work/2024", "Entwürfe"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(source_folders, expected, "{source}");

    // Import into a smolmail that is serving meanwhile.
    let data = TempDir::new("migrate-round-data");
    add_user(&data.0, USER, PASSWORD);
    let server = Server::start(&data.0, &[]);
    let maildir = dovecot.maildir("src");
    let out = smolmail(
        &data.0,
        &["import", "maildir", USER, maildir.to_str().unwrap()],
    );
    assert!(out.contains("imported 14 messages"), "{out}");
    let port = server.port("imap");
    let imported = imap_py("dump", port, USER);
    assert_eq!(
        view(&imported, CONTENT, &source_folders),
        view(&source, CONTENT, &source_folders),
        "{source}\n{imported}"
    );
    // The UIDs keep the source's order (dovecot-uidlist), and the folders
    // the source had not are smolmail's empty special-use ones.
    assert_eq!(
        view(&imported, ALL, &source_folders)
            .iter()
            .filter(|l| l.starts_with("M\tINBOX\t"))
            .map(|l| l.split('\t').nth(2).unwrap().to_string())
            .collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5", "6"]
    );
    for line in imported.lines().filter(|l| l.starts_with("M\t")) {
        assert!(
            source_folders.contains(line.split('\t').nth(1).unwrap()),
            "{line}"
        );
    }

    // Again: nothing added.
    let out = smolmail(
        &data.0,
        &["import", "maildir", USER, maildir.to_str().unwrap()],
    );
    assert!(
        out.contains("imported 0 messages") && out.contains("14 already there"),
        "{out}"
    );
    assert_eq!(imap_py("dump", port, USER), imported);

    // Exported as a Maildir and read by Dovecot: the same, UIDs and
    // UIDVALIDITY included (dovecot-uidlist), subscriptions too.
    let back = dovecot.maildir("back");
    let out = smolmail(
        &data.0,
        &["export", "maildir", USER, back.to_str().unwrap()],
    );
    assert!(out.contains("exported 14 messages"), "{out}");
    dovecot.give_homes();
    let exported = imap_py("dump", dovecot.port, "back");
    let everything = BTreeSet::new();
    assert_eq!(
        view(&exported, ALL, &everything),
        view(&imported, ALL, &everything),
        "{imported}\n{exported}"
    );

    // Exported as mbox files and imported into another user: the same
    // but for subscriptions, which mbox files do not carry.
    let mboxes = TempDir::new("migrate-round-mbox");
    let out_dir = mboxes.0.join("out");
    smolmail(
        &data.0,
        &["export", "mbox", USER, out_dir.to_str().unwrap()],
    );
    add_user(&data.0, "two@home.arpa", PASSWORD);
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        let folder = path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace('.', "/");
        smolmail(
            &data.0,
            &[
                "import",
                "mbox",
                "two@home.arpa",
                path.to_str().unwrap(),
                "--folder",
                &folder,
            ],
        );
    }
    let again = imap_py("dump", port, "two@home.arpa");
    let no_subs = View {
        uids: false,
        subscriptions: false,
    };
    assert_eq!(
        view(&again, no_subs, &everything),
        view(&imported, no_subs, &everything),
        "{imported}\n{again}"
    );
}

#[test]
fn an_mbox_as_mutt_writes_it_keeps_flags_and_unquotes_from_lines() {
    let data = TempDir::new("migrate-mbox-mutt");
    add_user(&data.0, USER, PASSWORD);
    let mbox = data.0.join("saved");
    std::fs::write(
        &mbox,
        "From alice@example.org Mon Jan  2 15:04:05 2006\n\
         From: alice@example.org\nSubject: one\nStatus: RO\nX-Status: AF\nX-Keywords: $Label1, work\n\n\
         >From the start\n>>From quoted\n\n\
         From bob@example.org Tue Jan  3 10:00:00 2006\n\
         From: bob@example.org\nSubject: two\nStatus: O\n\nsecond\n",
    )
    .unwrap();
    let out = smolmail(&data.0, &["import", "mbox", USER, mbox.to_str().unwrap()]);
    assert!(out.contains("imported 2 messages"), "{out}");
    let out = smolmail(&data.0, &["import", "mbox", USER, mbox.to_str().unwrap()]);
    assert!(out.contains("2 already there"), "{out}");
    let server = Server::start(&data.0, &[]);
    let dump = imap_py("dump", server.port("imap"), USER);
    let saved: Vec<Vec<&str>> = dump
        .lines()
        .filter(|l| l.starts_with("M\tsaved\t"))
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(saved.len(), 2, "{dump}");
    assert_eq!(saved[0][3], "$Label1 \\Answered \\Flagged \\Seen work");
    assert_eq!(saved[1][3], "");
    // 2006-01-02 15:04:05 UTC, and the bytes without the mbox's fields.
    assert_eq!(saved[0][4], "1136214245");
    let first =
        b"From: alice@example.org\r\nSubject: one\r\n\r\nFrom the start\r\n>From quoted\r\n";
    assert_eq!(saved[0][7], first.len().to_string());
}

/// An import killed (`kill -9`) in the middle and run again stores every
/// message exactly once: the identities are committed with the messages.
#[test]
fn an_interrupted_import_resumes_without_duplicates() {
    const N: usize = 4000;
    let data = TempDir::new("migrate-resume");
    add_user(&data.0, USER, PASSWORD);
    let maildir = data.0.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let filler = "a line of filler text to give the message some size\n".repeat(40);
    for i in 0..N {
        std::fs::write(
            maildir.join(format!("cur/{}.M{i}.test:2,S", 1_600_000_000 + i)),
            format!("Message-ID: <r{i}@example.org>\nSubject: {i}\n\n{filler}"),
        )
        .unwrap();
    }
    let mut child = Command::new(BIN)
        .args(["import", "maildir", USER, maildir.to_str().unwrap()])
        .env("SMOLMAIL_DATA", &data.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once a few hundred messages are in (the map has grown).
    let mdb = data.0.join("data.mdb");
    common::wait_until(PATIENCE, "the import to store some mail", || {
        std::fs::metadata(&mdb).map_or(0, |m| m.len()) > 2 << 20
    });
    let _ = child.kill();
    let _ = child.wait();
    let out = smolmail(
        &data.0,
        &["import", "maildir", USER, maildir.to_str().unwrap()],
    );
    let inbox = common::inbox(&data.0, USER);
    assert_eq!(inbox.len(), N, "{out}");
    let ids: BTreeSet<Vec<u8>> = inbox
        .iter()
        .map(|m| m.split(|&b| b == b'\r').next().unwrap().to_vec())
        .collect();
    assert_eq!(ids.len(), N, "a message was stored twice");
    eprintln!("after the kill: {out}");
}

/// A folder named as another client names its sent mail lands in the
/// special-use Sent folder; an import is not refused by the quota (it
/// says the user is over it); keywords past 64 per message are dropped
/// and counted, the message kept.
#[test]
fn an_import_maps_special_use_names_passes_quota_and_caps_keywords() {
    let data = TempDir::new("migrate-sent-items");
    add_user(&data.0, USER, PASSWORD);
    smolmail(&data.0, &["user", "quota", USER, "1K"]);
    let keywords: Vec<String> = (0..70).map(|i| format!("tag{i}")).collect();
    let mbox = data.0.join("Sent Items");
    std::fs::write(
        &mbox,
        format!(
            "From me Mon Jan  2 15:04:05 2006\nSubject: sent\nX-Keywords: {}\n\n{}\n",
            keywords.join(" "),
            "x".repeat(2000)
        ),
    )
    .unwrap();
    let out = smolmail(&data.0, &["import", "mbox", USER, mbox.to_str().unwrap()]);
    assert!(out.contains("imported 1 messages"), "{out}");
    assert!(out.contains("6 keywords dropped"), "{out}");
    assert!(out.contains("over its quota of 1K"), "{out}");
    let server = Server::start(&data.0, &[]);
    let dump = imap_py("dump", server.port("imap"), USER);
    assert!(!folders(&dump).contains("Sent Items"), "{dump}");
    let sent: Vec<&str> = dump
        .lines()
        .filter(|l| l.starts_with("M\tSent\t"))
        .collect();
    assert_eq!(sent.len(), 1, "{dump}");
    assert_eq!(sent[0].split('\t').nth(3).unwrap().split(' ').count(), 64);
}

#[test]
fn a_postfix_virtual_map_becomes_aliases() {
    let data = TempDir::new("migrate-postfix");
    add_user(&data.0, USER, PASSWORD);
    let map = data.0.join("virtual");
    std::fs::write(
        &map,
        "# Postfix virtual(5)\nexample.net  anything\ninfo@home.arpa  me@home.arpa,\n    other@example.org\n@example.net  me\n",
    )
    .unwrap();
    let out = smolmail(
        &data.0,
        &[
            "alias",
            "import-postfix",
            map.to_str().unwrap(),
            "--domain",
            "home.arpa",
        ],
    );
    assert!(out.contains("imported 2 aliases and 1 domains"), "{out}");
    let list = smolmail(&data.0, &["alias", "list"]);
    assert!(
        list.contains("info@home.arpa -> me@home.arpa, other@example.org"),
        "{list}"
    );
    assert!(list.contains("@example.net -> me@home.arpa"), "{list}");
    assert!(smolmail(&data.0, &["domain", "list"]).contains("example.net"));
}
