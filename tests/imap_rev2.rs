//! IMAP4rev2 (RFC 9051) beside IMAP4rev1, turned on by `ENABLE IMAP4rev2`,
//! and SEARCHRES (RFC 5182). No Debian or PyPI client speaks rev2 (nor
//! does Debian's Dovecot 2.3), so scripted sessions are the client; each
//! test is named after the clause it checks, and where rev2 differs a
//! rev1 session in the same test checks that it still gets rev1 answers.

mod common;

use common::imap::Imap;
use common::{Server, TempDir, add_user};

fn setup(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    (data, server)
}

/// Appends a small message to `mailbox` through a session of its own.
fn append(server: &Server, mailbox: &str, subject: &str) {
    let mut i = Imap::login(server, "alice@home.arpa");
    let m = format!("Subject: {subject}\r\n\r\nbody\r\n");
    i.ok(&format!("APPEND {mailbox} {{{}+}}\r\n{m}", m.len()));
    i.ok("LOGOUT");
}

/// A logged-in session that enabled IMAP4rev2.
fn rev2(server: &Server) -> Imap {
    let mut i = Imap::login(server, "alice@home.arpa");
    let enabled = i.ok("ENABLE IMAP4rev2");
    assert_eq!(enabled[0], "* ENABLED IMAP4rev2\r\n", "{enabled:#?}");
    i
}

fn has(lines: &[String], wanted: &str) -> bool {
    lines.iter().any(|l| l == wanted)
}

#[test]
fn rfc9051_6_3_1_enable_imap4rev2_once_in_authenticated_state() {
    let (_d, server) = setup("rev2-enable");
    let mut pre = Imap::connect(&server);
    let caps = pre.text("CAPABILITY");
    assert!(caps.contains(" IMAP4rev1 IMAP4rev2 "), "{caps}");
    // RFC 5161 §3.1: not before login.
    pre.run("ENABLE IMAP4rev2", "BAD");
    let mut a = Imap::login(&server, "alice@home.arpa");
    let caps = a.text("CAPABILITY");
    assert!(caps.contains(" SEARCHRES"), "{caps}");
    let enabled = a.ok("ENABLE CONDSTORE IMAP4rev2");
    assert_eq!(enabled[0], "* ENABLED CONDSTORE IMAP4rev2\r\n");
    // Once: already on, not listed again.
    assert_eq!(a.ok("ENABLE IMAP4rev2")[0], "* ENABLED\r\n");
    // Not once a mailbox is selected (RFC 5161 §3.1).
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    b.run("ENABLE IMAP4rev2", "BAD");
    let search = b.ok("SEARCH ALL");
    assert!(has(&search, "* SEARCH\r\n"), "still rev1: {search:#?}");
}

#[test]
fn rfc9051_7_3_4_search_answers_with_esearch_only() {
    let (_d, server) = setup("rev2-esearch");
    append(&server, "INBOX", "one");
    append(&server, "INBOX", "two");
    let mut a = rev2(&server);
    a.ok("SELECT INBOX");
    let lines = a.ok("SEARCH ALL");
    assert_eq!(lines[0], "* ESEARCH (TAG \"t4\") ALL 1:2\r\n", "{lines:#?}");
    let lines = a.ok("UID SEARCH SUBJECT two");
    assert_eq!(lines[0], "* ESEARCH (TAG \"t5\") UID ALL 2\r\n");
    let lines = a.ok("SEARCH SUBJECT nothing");
    assert_eq!(lines[0], "* ESEARCH (TAG \"t6\")\r\n");
    let lines = a.ok("SEARCH RETURN (COUNT) ALL");
    assert_eq!(lines[0], "* ESEARCH (TAG \"t7\") COUNT 2\r\n");
    assert!(!lines.iter().any(|l| l.starts_with("* SEARCH")));
    // A rev1 session still gets `* SEARCH`.
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    assert!(has(&b.ok("SEARCH ALL"), "* SEARCH 1 2\r\n"));
}

#[test]
fn rfc9051_appendix_e_no_recent_in_rev2() {
    let (_d, server) = setup("rev2-recent");
    append(&server, "INBOX", "one");
    append(&server, "INBOX", "two");
    let mut a = rev2(&server);
    let select = a.ok("SELECT INBOX");
    assert!(has(&select, "* 2 EXISTS\r\n"), "{select:#?}");
    assert!(!select.iter().any(|l| l.contains("RECENT")), "{select:#?}");
    let fetch = a.text("FETCH 1:* FLAGS");
    assert!(!fetch.contains("\\Recent"), "{fetch}");
    append(&server, "INBOX", "three");
    let noop = a.ok("NOOP");
    assert_eq!(noop[0], "* 3 EXISTS\r\n", "{noop:#?}");
    assert!(!noop.iter().any(|l| l.contains("RECENT")), "{noop:#?}");
    // The items that named \Recent are not rev2 (RFC 9051 Appendix E).
    a.run("STATUS INBOX (MESSAGES RECENT)", "BAD");
    a.run("SEARCH NEW", "BAD");
    a.run("UID SEARCH NOT RECENT", "BAD");
    // The rev2 session claimed none: a rev1 session gets all three.
    let mut b = Imap::login(&server, "alice@home.arpa");
    let select = b.ok("SELECT INBOX");
    assert!(has(&select, "* 3 RECENT\r\n"), "{select:#?}");
    assert!(b.text("FETCH 1 FLAGS").contains("\\Recent"));
    b.ok("STATUS INBOX (RECENT)");
}

#[test]
fn rfc9051_5_1_mailbox_names_are_utf8_in_rev2() {
    let (_d, server) = setup("rev2-utf8");
    let mut a = rev2(&server);
    a.ok("CREATE \"Entwürfe\"");
    let list = a.ok("LIST \"\" \"Entw*\"");
    assert_eq!(list[0], "* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"\r\n");
    append(&server, "\"Entw&APw-rfe\"", "draft");
    // STATUS with DELETED and SIZE (RFC 9051 §6.3.11), named in UTF-8.
    let status = a.ok("STATUS \"Entwürfe\" (MESSAGES DELETED SIZE)");
    assert!(
        status[0].starts_with("* STATUS \"Entwürfe\" (MESSAGES 1 DELETED 0 SIZE "),
        "{status:#?}"
    );
    // rev1 still speaks modified UTF-7 (RFC 3501 §5.1.3).
    let mut b = Imap::login(&server, "alice@home.arpa");
    let list = b.ok("LIST \"\" \"Entw*\"");
    assert_eq!(
        list[0],
        "* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\n"
    );
}

#[test]
fn rfc9051_6_3_2_select_sends_list_and_closed() {
    let (_d, server) = setup("rev2-select");
    append(&server, "INBOX", "one");
    let mut a = rev2(&server);
    a.ok("CREATE Work/Plans");
    let select = a.ok("SELECT Work");
    assert!(
        has(&select, "* LIST (\\HasChildren) \"/\" \"Work\"\r\n"),
        "{select:#?}"
    );
    let examine = a.ok("EXAMINE INBOX");
    assert_eq!(examine[0], "* OK [CLOSED] Previous mailbox closed\r\n");
    assert!(
        !examine.iter().any(|l| l.contains("[UNSEEN ")),
        "{examine:#?}"
    );
    assert!(
        has(&examine, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"),
        "{examine:#?}"
    );
    // rev1 (without QRESYNC): neither.
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT Work");
    let select = b.ok("SELECT INBOX");
    assert!(
        !select
            .iter()
            .any(|l| l.contains("CLOSED") || l.starts_with("* LIST"))
    );
}

#[test]
fn rfc9051_appendix_e_lsub_and_check_still_answered() {
    // Gone from rev2's grammar, but a client that enabled rev2 by default
    // may still send them: answered as in rev1, no harm done.
    let (_d, server) = setup("rev2-lsub");
    let mut a = rev2(&server);
    a.ok("LSUB \"\" *");
    a.ok("SELECT INBOX");
    a.ok("CHECK");
    a.ok("LIST (SUBSCRIBED) \"\" *");
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("LSUB \"\" *");
    b.ok("SELECT INBOX");
    b.ok("CHECK");
}

#[test]
fn rfc5182_2_1_search_save_then_dollar_in_every_command() {
    // The same in a rev2 session and a rev1 one (SEARCHRES is advertised
    // to both).
    for rev in [2, 1] {
        let (_d, server) = setup(&format!("searchres-{rev}"));
        for s in ["one", "two", "three", "two again", "five"] {
            append(&server, "INBOX", s);
        }
        let mut i = match rev {
            2 => rev2(&server),
            _ => Imap::login(&server, "alice@home.arpa"),
        };
        i.ok("SELECT INBOX");
        // SAVE alone: no ESEARCH (and no SEARCH).
        let saved = i.ok("SEARCH RETURN (SAVE) SUBJECT two");
        assert_eq!(saved.len(), 1, "{saved:#?}");
        let fetch = i.ok("FETCH $ (UID)");
        assert_eq!(
            fetch[..2],
            ["* 2 FETCH (UID 2)\r\n", "* 4 FETCH (UID 4)\r\n"]
        );
        let fetch = i.ok("UID FETCH $ (FLAGS)");
        assert!(fetch[0].starts_with("* 2 FETCH (") && fetch[1].starts_with("* 4 FETCH ("));
        i.ok("STORE $ +FLAGS.SILENT (\\Flagged)");
        let flagged = i.text("SEARCH RETURN (ALL) FLAGGED");
        assert!(flagged.contains(" ALL 2,4\r\n"), "{flagged}");
        let search = i.text("UID SEARCH RETURN (COUNT) UID $");
        assert!(search.contains("UID COUNT 2"), "{search}");
        let search = i.text("SEARCH RETURN (ALL) NOT $");
        assert!(search.contains(" ALL 1,3,5\r\n"), "{search}");
        i.ok("CREATE Copies");
        let copy = i.text("COPY $ Copies");
        assert!(copy.contains("[COPYUID "), "{copy}");
        // SAVE with MIN keeps the first only, and `$` in the same command
        // still means the previous result (4 is in it, 5 is not).
        let min = i.text("SEARCH RETURN (SAVE MIN) OR $ 5");
        assert!(min.contains(" MIN 2\r\n"), "{min}");
        let fetch = i.ok("FETCH $ (UID)");
        assert_eq!(fetch[0], "* 2 FETCH (UID 2)\r\n", "{fetch:#?}");
        assert_eq!(fetch.len(), 2, "{fetch:#?}");
        i.ok("MOVE $ Copies");
        let status = i.text("STATUS Copies (MESSAGES)");
        assert!(status.contains("(MESSAGES 3)"), "{status}");
    }
}

#[test]
fn rfc5182_2_1_dollar_reset_by_select_and_failed_search() {
    let (_d, server) = setup("searchres-reset");
    for s in ["one", "two", "three"] {
        append(&server, "INBOX", s);
    }
    let mut i = rev2(&server);
    i.ok("SELECT INBOX");
    i.ok("SEARCH RETURN (SAVE) ALL");
    assert_eq!(i.ok("FETCH $ (UID)").len(), 4);
    // A new SELECT starts with nothing saved.
    i.ok("SELECT INBOX");
    assert_eq!(i.ok("FETCH $ (UID)").len(), 1);
    // A SEARCH with SAVE that fails (NO, or BAD) empties `$`.
    i.ok("SEARCH RETURN (SAVE) ALL");
    i.run("SEARCH RETURN (SAVE) CHARSET KOI8-R SUBJECT x", "NO");
    assert_eq!(i.ok("FETCH $ (UID)").len(), 1);
    i.ok("SEARCH RETURN (SAVE) ALL");
    i.run("SEARCH RETURN (SAVE) FROZZLE", "BAD");
    assert_eq!(i.ok("FETCH $ (UID)").len(), 1);
    // `$` is a whole sequence set on its own.
    i.run("FETCH $,1 (UID)", "BAD");
}

#[test]
fn rfc5182_2_1_expunged_messages_leave_dollar() {
    let (_d, server) = setup("searchres-expunge");
    for s in ["one", "two", "three", "four"] {
        append(&server, "INBOX", s);
    }
    let mut i = rev2(&server);
    i.ok("SELECT INBOX");
    i.ok("SEARCH RETURN (SAVE) 1:3");
    i.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    i.ok("EXPUNGE");
    // UIDs 1 and 3 remain, now sequence numbers 1 and 2.
    let fetch = i.ok("FETCH $ (UID)");
    assert_eq!(
        fetch[..2],
        ["* 1 FETCH (UID 1)\r\n", "* 2 FETCH (UID 3)\r\n"]
    );
    i.ok("STORE $ +FLAGS.SILENT (\\Deleted)");
    let gone = i.ok("UID EXPUNGE $");
    assert_eq!(
        gone[..2],
        ["* 2 EXPUNGE\r\n", "* 1 EXPUNGE\r\n"],
        "{gone:#?}"
    );
    assert_eq!(i.ok("UID FETCH $ (UID)").len(), 1);
}

#[test]
fn rfc5182_with_esort_sort_return_save_keeps_the_sorted_ends() {
    let (_d, server) = setup("searchres-sort");
    for s in ["delta", "alpha", "charlie", "bravo"] {
        append(&server, "INBOX", s);
    }
    let mut i = rev2(&server);
    i.ok("SELECT INBOX");
    // SAVE alone answers nothing; MIN is the first in sort order (RFC 5267
    // §3.2), here "alpha" (UID 2), MAX the last, "delta" (UID 1).
    let sorted = i.ok("UID SORT RETURN (SAVE) (SUBJECT) UTF-8 ALL");
    assert_eq!(sorted.len(), 1, "{sorted:#?}");
    assert_eq!(i.ok("FETCH $ (UID)").len(), 5);
    let ends = i.text("UID SORT RETURN (SAVE MIN MAX) (SUBJECT) UTF-8 ALL");
    assert!(ends.contains(" MIN 2 MAX 1\r\n"), "{ends}");
    let fetch = i.ok("UID FETCH $ (UID)");
    assert_eq!(
        fetch[..2],
        ["* 1 FETCH (UID 1)\r\n", "* 2 FETCH (UID 2)\r\n"]
    );
    assert_eq!(fetch.len(), 3, "{fetch:#?}");
}

/// imapflow (npm) ENABLEs IMAP4rev2 by itself once smolmail offers it, and
/// then relies on rev2's answers: ESEARCH for a plain SEARCH, UTF-8 names.
#[test]
fn rfc9051_6_3_1_imapflow_speaks_rev2() {
    let (_d, server) = setup("rev2-imapflow");
    let node = common::require_tool("node", "nodejs");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let nodedeps = root.join("target/nodedeps");
    assert!(
        nodedeps.join("node_modules/imapflow").is_dir(),
        "imapflow is missing: run scripts/setup.sh"
    );
    let out = std::process::Command::new(node)
        .arg(root.join("tests/clients/imapflow_rev2.js"))
        .arg(nodedeps)
        .args([&server.port("imap").to_string(), "alice@home.arpa", "pw"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "imapflow failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    for want in [
        "ok enabled IMAP4rev2",
        "ok list-utf8 Entwürfe",
        "ok status messages=3 unseen=3",
        "ok esearch uids=2,3",
        "ok no-recent",
        "ok move exists=2",
    ] {
        assert!(stdout.contains(want), "{want} missing:\n{stdout}");
    }
}
