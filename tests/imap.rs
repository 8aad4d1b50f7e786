//! Scripted IMAP conversations against a real `smolmail serve`: every
//! command and extension the server advertises, two sessions on one
//! mailbox, IDLE woken by an SMTP delivery, and the bounds.

mod common;

use std::net::TcpStream;
use std::time::Instant;

use common::imap::Imap;
use common::{Client, Server, TempDir, add_user};

fn setup(name: &str, extra: &[&str]) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "pw");
    add_user(&data.0, "bob@home.arpa", "pw");
    let server = Server::start(&data.0, extra);
    (data, server)
}

/// Delivers a message by SMTP (so the whole path is exercised).
fn deliver(server: &Server, to: &str, subject: &str, body: &str) {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO test", "250");
    c.cmd("MAIL FROM:<sender@example.org>", "250");
    c.cmd(&format!("RCPT TO:<{to}>"), "250");
    c.cmd("DATA", "354");
    c.send(
        format!(
            "From: Sender <sender@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0100\r\nMessage-ID: <{subject}@example.org>\r\n\r\n{body}\r\n.\r\n"
        )
        .as_bytes(),
    );
    c.expect("250");
    c.cmd("QUIT", "221");
}

#[test]
fn capabilities_change_with_state() {
    let (_d, server) = setup("caps", &[]);
    let mut i = Imap::connect(&server);
    let pre = i.text("CAPABILITY");
    assert!(
        pre.contains("STARTTLS") && pre.contains("AUTH=PLAIN") && pre.contains("LITERAL+"),
        "{pre}"
    );
    assert!(
        !pre.contains("UIDPLUS"),
        "post-login capabilities before login: {pre}"
    );
    let login = i.text("LOGIN alice@home.arpa pw");
    for cap in [
        "UIDPLUS",
        "MOVE",
        "IDLE",
        "NAMESPACE",
        "CONDSTORE",
        "QRESYNC",
        "SPECIAL-USE",
        "LIST-STATUS",
        "UNSELECT",
        "CHILDREN",
        "ENABLE",
        "ID",
        // RFC 9394 with its FETCH modifier (tests/imap_ext_more.rs).
        "PARTIAL",
    ] {
        assert!(login.contains(cap), "{cap} missing after login: {login}");
    }
    i.run("LOGIN alice@home.arpa pw", "BAD");
    i.run("FETCH 1 FLAGS", "BAD");
    assert!(
        i.text("NAMESPACE")
            .contains("* NAMESPACE ((\"\" \"/\")) NIL NIL")
    );
    assert!(
        i.text("ID (\"name\" \"test\")")
            .contains("* ID (\"name\" \"smolmail\"")
    );
    assert!(i.text("ENABLE CONDSTORE").contains("* ENABLED CONDSTORE"));
    let bye = i.run("LOGOUT", "OK");
    assert!(bye[0].starts_with("* BYE"));
}

#[test]
fn login_failures_and_authenticate() {
    let (_d, server) = setup("auth", &[]);
    let mut i = Imap::connect(&server);
    let no = i.run("LOGIN alice@home.arpa wrong", "NO");
    assert!(no.last().unwrap().contains("[AUTHENTICATIONFAILED]"));
    i.run(
        &format!(
            "AUTHENTICATE PLAIN {}",
            common::b64(b"\0alice@home.arpa\0pw")
        ),
        "OK",
    );
    let mut j = Imap::connect(&server);
    j.n += 1;
    j.c.send(b"a1 AUTHENTICATE PLAIN\r\n");
    assert!(j.c.line().starts_with("+"));
    j.c.send(format!("{}\r\n", common::b64(b"\0bob@home.arpa\0pw")).as_bytes());
    j.collect("a1", "OK");
    // A literal login (sync) works too.
    let mut k = Imap::connect(&server);
    k.c.send(b"a1 LOGIN {13}\r\n");
    assert!(k.c.line().starts_with("+"));
    k.c.send(b"bob@home.arpa {2+}\r\npw\r\n");
    k.collect("a1", "OK");
}

#[test]
fn mailbox_commands() {
    let (_d, server) = setup("mailboxes", &[]);
    let mut i = Imap::login(&server, "alice@home.arpa");
    let list = i.text("LIST \"\" \"*\"");
    for (attr, name) in [
        ("\\Drafts", "Drafts"),
        ("\\Sent", "Sent"),
        ("\\Trash", "Trash"),
        ("\\Junk", "Junk"),
        ("\\Archive", "Archive"),
    ] {
        assert!(
            list.contains(&format!("{attr}) \"/\" \"{name}\"")),
            "{name}: {list}"
        );
    }
    assert!(
        i.text("LIST \"\" \"\"")
            .contains("* LIST (\\Noselect) \"/\" \"\"")
    );
    i.ok("CREATE Projects/2026/");
    i.ok("CREATE \"Entw&APw-rfe\"");
    i.run("CREATE Projects", "NO");
    i.run("CREATE INBOX", "NO");
    i.ok("CREATE Receipts (USE (\\Archive))");
    i.run("CREATE Odd (USE (\\Flagged))", "NO");
    let list = i.text("LIST \"\" \"%\"");
    assert!(
        list.contains("(\\HasChildren) \"/\" \"Projects\""),
        "{list}"
    );
    assert!(!list.contains("Projects/2026"), "% matched a child: {list}");
    assert!(list.contains("\"Entw&APw-rfe\""), "{list}");
    assert!(i.text("LIST Projects/ %").contains("\"Projects/2026\""));
    // The reference and the pattern concatenate (RFC 3501 §6.3.8, as
    // Dovecot does): "Projects" + "%" names the level, not what is in it.
    let level = i.text("LIST Projects %");
    assert!(
        level.contains("\"Projects\"") && !level.contains("Projects/2026"),
        "{level}"
    );
    // LIST-EXTENDED, SPECIAL-USE and LIST-STATUS.
    let special = i.text("LIST (SPECIAL-USE) \"\" \"*\"");
    assert!(
        special.contains("Receipts") && !special.contains("INBOX"),
        "{special}"
    );
    let status = i.text("LIST \"\" \"INBOX\" RETURN (STATUS (MESSAGES UIDNEXT))");
    assert!(
        status.contains("* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT 1)"),
        "{status}"
    );
    i.ok("UNSUBSCRIBE Projects");
    let subscribed = i.text("LIST (SUBSCRIBED) \"\" \"*\"");
    assert!(
        !subscribed.contains("\"Projects\"\r\n") && subscribed.contains("\\Subscribed"),
        "{subscribed}"
    );
    assert!(!i.text("LSUB \"\" \"*\"").contains("\"Projects\"\r\n"));
    i.ok("SUBSCRIBE Projects");
    i.run("SUBSCRIBE Nowhere", "NO");
    // RENAME moves inferiors; INBOX rename moves the messages.
    i.ok("RENAME Projects Work");
    let list = i.text("LIST \"\" \"*\"");
    assert!(
        list.contains("\"Work/2026\"") && !list.contains("Projects"),
        "{list}"
    );
    i.run("RENAME Nowhere Else", "NO");
    i.run("RENAME Work Drafts", "NO");
    i.ok("APPEND INBOX {20}\r\nSubject: a\r\n\r\nbody\r\n");
    i.ok("RENAME INBOX Old");
    assert!(i.text("STATUS INBOX (MESSAGES)").contains("MESSAGES 0"));
    assert!(
        i.text("STATUS Old (MESSAGES UNSEEN UIDVALIDITY HIGHESTMODSEQ)")
            .contains("MESSAGES 1 UNSEEN 1")
    );
    i.ok("DELETE Old");
    i.run("DELETE INBOX", "NO");
    i.run("DELETE Nowhere", "NO");
    i.run("SELECT Nowhere", "NO");
    i.run("STATUS Nowhere (MESSAGES)", "NO");
}

#[test]
fn select_fetch_store_search() {
    let (_d, server) = setup("fetch", &[]);
    deliver(&server, "alice@home.arpa", "first", "hello world");
    deliver(&server, "alice@home.arpa", "second", "second body");
    let mut i = Imap::login(&server, "alice@home.arpa");
    let select = i.text("SELECT INBOX");
    for s in [
        "* 2 EXISTS",
        "* 2 RECENT",
        "[UNSEEN 1]",
        "[UIDVALIDITY ",
        "[UIDNEXT 3]",
        "[PERMANENTFLAGS (",
        "[HIGHESTMODSEQ ",
        "[READ-WRITE]",
    ] {
        assert!(select.contains(s), "{s}: {select}");
    }
    let f = i.text("FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE)");
    assert!(f.contains("FLAGS (\\Recent)") && f.contains("UID 1"), "{f}");
    assert!(f.contains("ENVELOPE (\"Tue, 14 Nov 2023 10:00:00 +0100\" \"first\" ((\"Sender\" NIL \"sender\" \"example.org\"))"), "{f}");
    let f = i.text("FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        f.contains("BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: first\r\n\r\n"),
        "{f}"
    );
    assert!(
        !i.text("FETCH 1 FLAGS").contains("\\Seen"),
        "PEEK set \\Seen"
    );
    let f = i.text("FETCH 1 (BODY[TEXT])");
    assert!(f.contains("hello world") && f.contains("\\Seen"), "{f}");
    let f = i.text("FETCH 2 (BODY.PEEK[1]<0.6> BODYSTRUCTURE BODY)");
    assert!(f.contains("BODY[1]<0> {6}\r\nsecond"), "{f}");
    assert!(f.contains("BODYSTRUCTURE (\"TEXT\" \"PLAIN\""), "{f}");
    let f = i.text("UID FETCH 2 (RFC822.HEADER)");
    assert!(f.contains("UID 2") && f.contains("RFC822.HEADER {"), "{f}");
    assert!(i.text("FETCH 1:* FAST").contains("* 2 FETCH (FLAGS"));
    i.run("FETCH 9 FLAGS", "BAD");
    // STORE and keywords.
    let s = i.text("STORE 2 +FLAGS (\\Flagged $Important)");
    assert!(
        s.contains("* 2 FETCH (FLAGS (\\Flagged \\Recent $Important)"),
        "{s}"
    );
    assert!(
        !i.text("STORE 2 -FLAGS.SILENT (\\Flagged)")
            .contains("FETCH")
    );
    let s = i.text("UID STORE 1 FLAGS (\\Answered \\Seen)");
    assert!(
        s.contains("UID 1") && s.contains("\\Seen \\Answered"),
        "{s}"
    );
    i.run("STORE 1 +FLAGS (\\Recent)", "BAD");
    // SEARCH keys.
    let search = |i: &mut Imap, q: &str| -> String {
        let lines = i.ok(q);
        lines
            .iter()
            .find(|l| l.starts_with("* SEARCH"))
            .cloned()
            .unwrap_or_default()
            .trim_end()
            .to_string()
    };
    assert_eq!(search(&mut i, "SEARCH ALL"), "* SEARCH 1 2");
    assert_eq!(search(&mut i, "SEARCH SUBJECT second"), "* SEARCH 2");
    assert_eq!(search(&mut i, "SEARCH BODY \"HELLO\""), "* SEARCH 1");
    assert_eq!(
        search(&mut i, "SEARCH TEXT sender@example.org"),
        "* SEARCH 1 2"
    );
    assert_eq!(search(&mut i, "SEARCH ANSWERED"), "* SEARCH 1");
    assert_eq!(
        search(&mut i, "SEARCH UNSEEN KEYWORD $important"),
        "* SEARCH 2"
    );
    assert_eq!(
        search(&mut i, "SEARCH OR ANSWERED SUBJECT second"),
        "* SEARCH 1 2"
    );
    assert_eq!(search(&mut i, "SEARCH NOT (FROM sender)"), "* SEARCH");
    assert_eq!(search(&mut i, "UID SEARCH UID 2:*"), "* SEARCH 2");
    assert_eq!(search(&mut i, "SEARCH SENTON 14-Nov-2023"), "* SEARCH 1 2");
    assert_eq!(search(&mut i, "SEARCH SENTBEFORE 1-Jan-2000"), "* SEARCH");
    assert_eq!(
        search(&mut i, "SEARCH LARGER 1 SMALLER 100000 2"),
        "* SEARCH 2"
    );
    assert_eq!(
        search(&mut i, "SEARCH HEADER Message-ID first@"),
        "* SEARCH 1"
    );
    assert_eq!(
        search(&mut i, "SEARCH CHARSET UTF-8 SUBJECT {5+}\r\nfirst"),
        "* SEARCH 1"
    );
    assert!(
        i.run("SEARCH CHARSET KOI8-R ALL", "NO")
            .last()
            .unwrap()
            .contains("BADCHARSET")
    );
    assert!(search(&mut i, "SEARCH MODSEQ 1").starts_with("* SEARCH 1 2 (MODSEQ "));
    i.ok("CHECK");
}

#[test]
fn copy_move_expunge_uidplus() {
    let (_d, server) = setup("copy", &[]);
    for n in 1..=4 {
        deliver(&server, "alice@home.arpa", &format!("m{n}"), "x");
    }
    let mut i = Imap::login(&server, "alice@home.arpa");
    let select = i.text("SELECT INBOX");
    let validity: String = select
        .split("[UIDVALIDITY ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .into();
    let copy = i.text("COPY 1:2 Archive");
    assert!(
        copy.contains("[COPYUID ") && copy.contains(" 1,2 1,2]"),
        "{copy}"
    );
    i.run("COPY 1 Nowhere", "NO")
        .last()
        .unwrap()
        .contains("[TRYCREATE]")
        .then_some(())
        .unwrap();
    let moved = i.text("UID MOVE 3 Trash");
    assert!(
        moved.contains("* OK [COPYUID ") && moved.contains("* 3 EXPUNGE"),
        "{moved}"
    );
    assert!(i.text("STATUS Trash (MESSAGES)").contains("MESSAGES 1"));
    i.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)");
    // UID EXPUNGE removes only the named UIDs.
    let e = i.text("UID EXPUNGE 1");
    assert!(
        e.contains("* 1 EXPUNGE") && !e.contains("* 2 EXPUNGE"),
        "{e}"
    );
    let e = i.text("EXPUNGE");
    assert!(e.contains("* 1 EXPUNGE"), "{e}");
    assert!(i.text("SELECT INBOX").contains("* 1 EXISTS"));
    let append = i.text("APPEND INBOX (\\Seen $Work) \"14-Nov-2023 10:00:00 +0000\" {20}\r\nSubject: a\r\n\r\nbody\r\n");
    assert!(
        append.contains(&format!("[APPENDUID {validity} 5]")),
        "{append}"
    );
    let f = i.text("UID FETCH 5 (FLAGS INTERNALDATE)");
    assert!(
        f.contains("\\Seen") && f.contains("$Work") && f.contains("\"14-Nov-2023 10:00:00 +0000\""),
        "{f}"
    );
    assert!(
        i.run("APPEND Nowhere {1}\r\nx", "NO")
            .last()
            .unwrap()
            .contains("TRYCREATE")
    );
    // CLOSE expunges silently; UNSELECT does not.
    i.ok("STORE 1 +FLAGS (\\Deleted)");
    i.ok("UNSELECT");
    assert!(i.text("STATUS INBOX (MESSAGES)").contains("MESSAGES 2"));
    i.ok("SELECT INBOX");
    let close = i.text("CLOSE");
    assert!(!close.contains("EXPUNGE"), "{close}");
    assert!(i.text("STATUS INBOX (MESSAGES)").contains("MESSAGES 1"));
    let e = i.text("EXAMINE Archive");
    assert!(e.contains("[READ-ONLY]"), "{e}");
    i.run("STORE 1 +FLAGS (\\Seen)", "NO");
    i.run("EXPUNGE", "NO");
}

/// Two sessions on one mailbox see each other's changes at the moments
/// RFC 3501 §7 allows; \Recent goes to one session only.
#[test]
fn two_sessions_see_each_other() {
    let (_d, server) = setup("concurrent", &[]);
    deliver(&server, "alice@home.arpa", "one", "x");
    deliver(&server, "alice@home.arpa", "two", "x");
    let mut a = Imap::login(&server, "alice@home.arpa");
    let mut b = Imap::login(&server, "alice@home.arpa");
    assert!(a.text("SELECT INBOX").contains("* 2 RECENT"));
    assert!(b.text("SELECT INBOX").contains("* 0 RECENT"));
    b.ok("STORE 1 +FLAGS (\\Flagged)");
    let noop = a.text("NOOP");
    assert!(
        noop.contains("* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"),
        "{noop}"
    );
    // An expunge in B is not announced to A during FETCH, only after NOOP.
    b.ok("STORE 2 +FLAGS (\\Deleted)");
    b.ok("EXPUNGE");
    let fetch = a.text("FETCH 1 FLAGS");
    assert!(!fetch.contains("EXPUNGE"), "EXPUNGE during FETCH: {fetch}");
    let noop = a.text("NOOP");
    assert!(noop.contains("* 2 EXPUNGE"), "{noop}");
    deliver(&server, "alice@home.arpa", "three", "x");
    let noop = a.text("NOOP");
    // A holds \Recent for message 1 and the new one.
    assert!(
        noop.contains("* 2 EXISTS") && noop.contains("* 2 RECENT"),
        "{noop}"
    );
    let noop = b.text("NOOP");
    assert!(
        noop.contains("* 2 EXISTS") && noop.contains("* 0 RECENT"),
        "{noop}"
    );
}

/// IDLE is woken by a delivery, and DONE ends it. The session waits in
/// IDLE with nothing else to wake it (no timer of its own for 30 minutes):
/// the EXISTS comes from the delivery's commit. The client's read
/// timeout (common::PATIENCE) bounds the wait; the latency is printed.
#[test]
fn idle_wakes_on_delivery() {
    let (_d, server) = setup("idle", &[]);
    let mut i = Imap::login(&server, "alice@home.arpa");
    i.ok("SELECT INBOX");
    i.c.send(b"i1 IDLE\r\n");
    assert!(i.c.line().starts_with("+ "));
    deliver(&server, "alice@home.arpa", "wake", "up");
    let delivered = Instant::now();
    let exists = i.c.line();
    eprintln!(
        "IDLE woke {:?} after the delivery's 250",
        delivered.elapsed()
    );
    assert_eq!(exists.trim_end(), "* 1 EXISTS");
    assert!(i.c.line().starts_with("* 1 RECENT"));
    i.c.send(b"DONE\r\n");
    i.collect("i1", "OK");
    i.ok("NOOP");
}

#[test]
fn condstore_and_qresync() {
    let (_d, server) = setup("qresync", &[]);
    for n in 1..=3 {
        deliver(&server, "alice@home.arpa", &format!("q{n}"), "x");
    }
    let mut i = Imap::login(&server, "alice@home.arpa");
    assert!(i.text("ENABLE QRESYNC").contains("* ENABLED QRESYNC"));
    let select = i.text("SELECT INBOX (CONDSTORE)");
    let highest: u64 = select
        .split("[HIGHESTMODSEQ ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let validity: String = select
        .split("[UIDVALIDITY ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .into();
    let f = i.text("FETCH 1:* (FLAGS) (CHANGEDSINCE 0)");
    assert!(f.contains("MODSEQ (") && f.contains("* 3 FETCH"), "{f}");
    // Conditional STORE: the second one fails for a changed message.
    let s = i.text(&format!(
        "STORE 1 (UNCHANGEDSINCE {highest}) +FLAGS (\\Seen)"
    ));
    assert!(s.contains("MODSEQ ("), "{s}");
    let s = i.text(&format!(
        "STORE 1 (UNCHANGEDSINCE {highest}) -FLAGS (\\Seen)"
    ));
    assert!(s.contains("[MODIFIED 1]"), "{s}");
    i.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    let e = i.text("EXPUNGE");
    assert!(
        e.contains("* VANISHED 2"),
        "QRESYNC replaces EXPUNGE with VANISHED: {e}"
    );
    let f = i.text(&format!(
        "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {highest} VANISHED)"
    ));
    assert!(
        f.contains("* VANISHED (EARLIER) 2") && f.contains("UID 1"),
        "{f}"
    );
    // Reselect with the cache state: the server tells what changed.
    i.ok("UNSELECT");
    let q = i.text(&format!("SELECT INBOX (QRESYNC ({validity} {highest}))"));
    assert!(
        q.contains("* VANISHED (EARLIER) 2") && q.contains("UID 1 FLAGS (\\Seen)"),
        "{q}"
    );
    assert!(
        !q.contains("UID 3 FLAGS"),
        "unchanged message reported: {q}"
    );
    let other = i.text("SELECT Archive");
    assert!(other.contains("* OK [CLOSED]"), "{other}");
}

#[test]
fn bounds_and_bad_input() {
    let (_d, server) = setup("bounds", &["--max-message-size", "4K"]);
    let mut i = Imap::login(&server, "alice@home.arpa");
    // A synchronising literal over the limit is refused before its data.
    i.c.send(b"a1 APPEND INBOX {100000}\r\n");
    let no = i.c.line();
    assert!(no.starts_with("a1 NO [TOOBIG]"), "{no}");
    i.ok("NOOP");
    // Garbage gets BAD with the tag, and the session goes on.
    i.run("FROB", "BAD");
    i.c.send(b"(\r\n");
    assert!(i.c.line().starts_with("* BAD"));
    i.run("SELECT", "BAD");
    i.c.send(format!("t99 NOOP {}\r\n", "x".repeat(70_000)).as_bytes());
    assert!(i.c.line().starts_with("* BAD Command line too long"));
    i.ok("NOOP");
    // Too many bad commands close the session.
    let mut j = Imap::login(&server, "bob@home.arpa");
    for _ in 0..25 {
        j.c.send(b"x FROB\r\n");
    }
    let mut saw_bye = false;
    for _ in 0..30 {
        let line = j.c.line();
        if line.is_empty() {
            break;
        }
        saw_bye |= line.starts_with("* BYE");
    }
    assert!(saw_bye);
    // A non-synchronising literal over the limit ends the session.
    let mut k = Imap::login(&server, "bob@home.arpa");
    k.c.send(b"a1 APPEND INBOX {100000+}\r\n");
    assert!(k.c.line().starts_with("* BYE [TOOBIG]"));
    assert!(k.c.closed());
}

/// Before login almost nothing is free (DESIGN.md "Budgets"): a literal
/// over 8 KiB is refused with no `+` sent (and a non-synchronising one
/// ends the connection); after login the message size limit applies.
#[test]
fn literals_before_login_are_small() {
    let (_d, server) = setup("prelogin-literal", &[]);
    let mut i = Imap::connect(&server);
    i.c.send(b"a1 LOGIN {25000000}\r\n");
    let no = i.c.line();
    assert!(no.starts_with("a1 NO [TOOBIG]"), "{no}");
    // No continuation was sent: the next reply is the NOOP's.
    i.ok("NOOP");
    // A small literal is still fine, and so is LOGIN with literals.
    i.c.send(b"a2 LOGIN {15}\r\n");
    assert!(i.c.line().starts_with("+ "));
    i.c.send(b"alice@home.arpa {2}\r\n");
    assert!(i.c.line().starts_with("+ "));
    i.c.send(b"pw\r\n");
    i.collect("a2", "OK");
    // Logged in, a literal over 8 KiB is taken (APPEND of 20 KiB).
    let message = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(20_000));
    i.c.send(format!("a3 APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    assert!(i.c.line().starts_with("+ "));
    i.c.send(format!("{message}\r\n").as_bytes());
    i.collect("a3", "OK");
    // A non-synchronising one over the limit before login ends it.
    let mut j = Imap::connect(&server);
    j.c.send(b"b1 LOGIN {9000+}\r\n");
    assert!(j.c.line().starts_with("* BYE [TOOBIG]"));
    assert!(j.c.closed());
    server.wait_for_log("literal of 25000000 octets refused (limit 8192 before login)");
}

/// Before login a command line is at most 8 KiB (the longest LOGIN with
/// every byte of the longest credentials escaped fits); logged in, 64 KiB.
#[test]
fn lines_before_login_are_short() {
    let (_d, server) = setup("prelogin-line", &[]);
    let mut i = Imap::connect(&server);
    i.c.send(format!("a1 NOOP {}\r\n", "x".repeat(9000)).as_bytes());
    let bad = i.c.line();
    assert!(bad.contains("BAD Command line too long"), "{bad}");
    // The longest credentials, quoted with every byte escaped: 2.6 KiB.
    let user = "\\\"".repeat(256);
    let password = "\\\"".repeat(1024);
    i.c.send(format!("a2 LOGIN \"{user}\" \"{password}\"\r\n").as_bytes());
    i.collect("a2", "NO");
    i.ok("LOGIN alice@home.arpa pw");
    i.c.send(format!("a3 NOOP {}\r\n", "x".repeat(9000)).as_bytes());
    let reply = i.c.line();
    assert!(!reply.contains("too long"), "{reply}");
}

/// Credentials longer than any account may have are refused before any
/// lookup or hashing: even the right password, when it is that long
/// (`user add` refuses such a password, so only an import could make one).
#[test]
fn overlong_credentials_fail_without_hashing() {
    let data = TempDir::new("long-credentials");
    let long = "p".repeat(2000);
    let passwd = data.0.join("passwd");
    std::fs::write(&passwd, format!("carol:{{PLAIN}}{long}::::::\n")).unwrap();
    common::admin(
        &data.0,
        &[
            "user",
            "import-passwd",
            passwd.to_str().unwrap(),
            "--domain",
            "home.arpa",
        ],
        "",
    );
    let server = Server::start(&data.0, &[]);
    let mut i = Imap::connect(&server);
    i.c.send(format!("a1 LOGIN carol@home.arpa {{{}}}\r\n", long.len()).as_bytes());
    assert!(i.c.line().starts_with("+ "));
    i.c.send(format!("{long}\r\n").as_bytes());
    let lines = i.collect("a1", "NO");
    assert!(
        lines.last().unwrap().contains("AUTHENTICATIONFAILED"),
        "{lines:?}"
    );
    server.wait_for_log("credentials over the size limit (15 and 2000 bytes)");
    // `user add` refuses a password no login would accept.
    let mut add = std::process::Command::new(common::BIN)
        .args(["user", "add", "dave@home.arpa", "--password-stdin"])
        .env("SMOLMAIL_DATA", &data.0)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = add.stdin.take().unwrap();
    std::io::Write::write_all(&mut { stdin }, format!("{long}\n").as_bytes()).unwrap();
    let out = add.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("longer than 1024 bytes"),
        "{err}"
    );
}

/// A connection that has not logged in a minute after it opened is
/// closed, however busy it keeps itself: the deadline is not an idle
/// timer (Dovecot's imap-login does the same).
#[test]
fn login_deadline_is_not_reset_by_commands() {
    let (_d, server) = setup("login-deadline", &[]);
    let mut i = Imap::connect(&server);
    let opened = Instant::now();
    // Busy for 45 s (a NOOP every 5 s), then quiet until the BYE.
    while opened.elapsed().as_secs() < 45 {
        i.c.send(b"n NOOP\r\n");
        let line = i.c.line();
        assert!(line.starts_with("n OK"), "{line}");
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    let bye = i.c.line();
    assert!(bye.contains("Login time is over"), "{bye}");
    // Not before the minute was up (it may be later on a busy machine).
    assert!(opened.elapsed().as_secs() >= 59, "{:?}", opened.elapsed());
    assert!(i.c.closed());
    server.wait_for_log("did not log in within 60 s");
}

/// AUTHENTICATE offers the mechanisms SMTP and POP3 offer: LOGIN in two
/// prompts as well as PLAIN; `*` cancels with BAD (RFC 3501 §6.2.2).
#[test]
fn authenticate_login_and_cancel() {
    let (_d, server) = setup("auth-login", &[]);
    let mut i = Imap::connect(&server);
    let caps = i.text("CAPABILITY");
    assert!(caps.contains(" AUTH=PLAIN AUTH=LOGIN"), "{caps}");
    i.c.send(b"a1 AUTHENTICATE LOGIN\r\n");
    assert_eq!(i.c.line(), "+ VXNlcm5hbWU6\r\n");
    i.c.send(b"*\r\n");
    i.collect("a1", "BAD");
    i.c.send(b"a2 AUTHENTICATE login\r\n");
    assert_eq!(i.c.line(), "+ VXNlcm5hbWU6\r\n");
    i.c.send(format!("{}\r\n", common::b64(b"alice@home.arpa")).as_bytes());
    assert_eq!(i.c.line(), "+ UGFzc3dvcmQ6\r\n");
    i.c.send(format!("{}\r\n", common::b64(b"pw")).as_bytes());
    let ok = i.collect("a2", "OK");
    assert!(!ok.last().unwrap().contains("AUTH="), "{ok:?}");
    // LOGIN with the user name as initial response (SASL-IR).
    let mut j = Imap::connect(&server);
    let user = common::b64(b"bob@home.arpa");
    j.c.send(format!("b1 AUTHENTICATE LOGIN {user}\r\n").as_bytes());
    assert_eq!(j.c.line(), "+ UGFzc3dvcmQ6\r\n");
    j.c.send(format!("{}\r\n", common::b64(b"wrong")).as_bytes());
    j.collect("b1", "NO [AUTHENTICATIONFAILED]");
    j.run("AUTHENTICATE CRAM-MD5", "NO");
}

/// Plaintext pipelined after STARTTLS is discarded, never executed.
#[test]
fn starttls_discards_pipelined_plaintext() {
    let (_d, server) = setup("imap-starttls", &[]);
    let stream = TcpStream::connect(("127.0.0.1", server.port("imap"))).unwrap();
    let mut c = Client::plain(stream.try_clone().unwrap());
    c.line();
    c.send(b"a STARTTLS\r\nb LOGIN alice@home.arpa pw\r\n");
    assert!(c.line().starts_with("a OK"));
    let mut c = c.start_tls(stream);
    c.send(b"c CAPABILITY\r\n");
    let caps = c.line();
    assert!(
        caps.starts_with("* CAPABILITY")
            && !caps.contains("STARTTLS")
            && caps.contains("AUTH=PLAIN"),
        "{caps}"
    );
    assert!(
        c.line().starts_with("c OK"),
        "the injected LOGIN was answered"
    );
    c.send(b"d SELECT INBOX\r\n");
    assert!(
        c.line().starts_with("d BAD"),
        "the injected LOGIN was executed"
    );
}

/// Off loopback and without TLS, LOGIN is disabled (the netns step of
/// scripts/test.sh sets SMOLMAIL_TEST_NONLOOPBACK).
#[test]
#[ignore = "needs a network namespace: scripts/test.sh runs it with SMOLMAIL_TEST_NONLOOPBACK"]
fn logindisabled_off_loopback() {
    let ip = common::nonloopback_ip();
    let data = TempDir::new("imap-nonloopback");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start_on(&ip, &data.0, &[]);
    let mut c = server.connect("imap");
    let greeting = c.line();
    assert!(
        greeting.contains("LOGINDISABLED") && !greeting.contains("AUTH=PLAIN"),
        "{greeting}"
    );
    c.send(b"a LOGIN alice@home.arpa pw\r\n");
    assert!(c.line().starts_with("a NO [PRIVACYREQUIRED]"));
    let mut t = server.connect_tls("imaps");
    assert!(t.line().contains("AUTH=PLAIN"));
    t.send(b"a LOGIN alice@home.arpa pw\r\n");
    assert!(t.line().starts_with("a OK"));
}

/// Keywords are bounded (DESIGN.md "Budgets"): 64 per message and 128 per
/// mailbox; past either, STORE and APPEND answer `NO [LIMIT]` (RFC 5530)
/// and nothing changes; a mailbox at its cap stops offering `\*` in
/// PERMANENTFLAGS (RFC 3501 §7.1).
#[test]
fn keywords_past_the_caps_get_no_limit_and_permanentflags_drop_the_star() {
    let (_d, server) = setup("keywords", &[]);
    deliver(&server, "alice@home.arpa", "one", "body");
    deliver(&server, "alice@home.arpa", "two", "body");
    deliver(&server, "alice@home.arpa", "three", "body");
    let mut i = Imap::login(&server, "alice@home.arpa");
    let select = i.text("SELECT INBOX");
    assert!(select.contains("\\*)] "), "{select}");
    let words = |from: usize, to: usize| -> String {
        (from..to)
            .map(|n| format!("k{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Repeats (in any case) count once: 64 distinct keywords are fine.
    i.ok(&format!("STORE 1 +FLAGS ({} K0 k1)", words(0, 64)));
    let no = i.run("STORE 1 +FLAGS (extra)", "NO");
    assert!(no.last().unwrap().contains("[LIMIT]"), "{no:?}");
    let no = i.run(&format!("STORE 2 FLAGS ({})", words(100, 165)), "NO");
    assert!(no.last().unwrap().contains("[LIMIT]"), "{no:?}");
    let flags = i.text("FETCH 1:2 FLAGS");
    assert!(
        !flags.contains("extra") && !flags.contains("k100"),
        "{flags}"
    );
    // The mailbox: 64 on message 1, 64 more on message 2 make 128.
    i.ok(&format!("STORE 2 +FLAGS ({})", words(64, 128)));
    // Message 3 keeps k0 in the mailbox while message 1 makes room.
    i.ok("STORE 3 +FLAGS (k0)");
    i.ok("STORE 1 -FLAGS (k0)");
    let no = i.run("STORE 1 +FLAGS (k200)", "NO");
    assert!(no.last().unwrap().contains("[LIMIT]"), "{no:?}");
    // Keywords the mailbox has already may still be set anywhere.
    i.ok("STORE 1 +FLAGS (k100)");
    let no = i.run("APPEND INBOX (brandnew) {6}\r\nx: y\r\n", "NO");
    assert!(no.last().unwrap().contains("[LIMIT]"), "{no:?}");
    let select = i.text("SELECT INBOX");
    let permanent = select
        .split("\r\n")
        .chain(select.split('\n'))
        .find(|l| l.contains("PERMANENTFLAGS"))
        .unwrap_or_default()
        .to_string();
    assert!(
        permanent.contains("k127") && !permanent.contains("\\*"),
        "{permanent}"
    );
}

/// Imports `passwd` (Dovecot passwd-file lines) into `data`.
fn import_passwd(data: &std::path::Path, passwd: &str) {
    let file = data.join("passwd");
    std::fs::write(&file, passwd).unwrap();
    common::admin(
        data,
        &[
            "user",
            "import-passwd",
            file.to_str().unwrap(),
            "--domain",
            "home.arpa",
        ],
        "",
    );
}

/// The password hash the store holds for `address`.
fn stored_hash(data: &std::path::Path, address: &str) -> String {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    r.account(address).unwrap().expect("account").password_hash
}

/// A user imported with a Dovecot SHA512-CRYPT hash gets an argon2id one at
/// the first successful login, written after the answer; the password still
/// works afterwards.
#[test]
fn imported_hash_is_upgraded_at_login() {
    let data = TempDir::new("rehash");
    // `openssl passwd -6 -salt saltsalt secret`, as Dovecot stores it.
    import_passwd(
        &data.0,
        "dave:{SHA512-CRYPT}$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1::::\n",
    );
    let server = Server::start(&data.0, &[]);
    let mut i = Imap::connect(&server);
    i.run("LOGIN dave@home.arpa wrong", "NO");
    assert!(stored_hash(&data.0, "dave@home.arpa").starts_with("{SHA512-CRYPT}"));
    i.run("LOGIN dave@home.arpa secret", "OK");
    server.wait_until(
        std::time::Duration::from_secs(20),
        "the upgraded hash",
        || stored_hash(&data.0, "dave@home.arpa").starts_with("{ARGON2ID}$argon2id$"),
    );
    server
        .wait_for_log("auth: dave@home.arpa: password hash upgraded from SHA512-CRYPT to ARGON2ID");
    let mut j = Imap::connect(&server);
    j.run("LOGIN dave@home.arpa secret", "OK");
}

/// Two slow verifications from one address (64-byte passwords against a
/// SHA512-CRYPT hash with a million rounds, the most work one login may
/// cost: seconds, more in a debug build) hold one verifier slot, not both:
/// a login from another address is answered within a second.
/// The second address is IPv6 loopback on a dual-stack listener.
#[test]
fn slow_hashes_from_one_address_do_not_hold_up_another() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        eprintln!("SKIPPED: cannot listen on [::1] ({e}): no IPv6 here");
        return;
    }
    let data = TempDir::new("verifier-fair");
    add_user(&data.0, "alice@home.arpa", "pw");
    import_passwd(
        &data.0,
        "mallory:{SHA512-CRYPT}$6$rounds=1000000$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1::::\n",
    );
    let server = Server::start_on("::", &data.0, &["--auth-cache-ttl", "0"]);
    let port = server.port("imap");
    let long = "x".repeat(64);
    let mut raw = Vec::new();
    let slow: Vec<Imap> = (0..2)
        .map(|_| {
            let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            raw.push(stream.try_clone().unwrap());
            let mut i = Imap {
                c: Client::plain(stream),
                n: 0,
            };
            i.c.line();
            i.c.send(format!("a1 LOGIN mallory@home.arpa {long}\r\n").as_bytes());
            i
        })
        .collect();
    // Both have reached the verifier before the legitimate login starts.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stream = TcpStream::connect(("::1", port)).unwrap();
    let mut i = Imap {
        c: Client::plain(stream),
        n: 0,
    };
    i.c.line();
    let t0 = Instant::now();
    i.run("LOGIN alice@home.arpa pw", "OK");
    let took = t0.elapsed();
    assert!(
        took < std::time::Duration::from_secs(1),
        "another address's login took {took:?}"
    );
    // The slow attempts were still unanswered: their hashes held the line
    // all along, so the bound above is what kept the login fast.
    for stream in &raw {
        stream.set_nonblocking(true).unwrap();
        let err = stream.peek(&mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    }
    drop(slow);
}
