//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4) against a real `smolmail
//! serve`: one session keeps a search or sort result live with
//! `RETURN (UPDATE)`, another changes the mailbox (APPEND, STORE,
//! EXPUNGE), and the first sees ESEARCH ADDTO/REMOVEFROM at its next
//! command, before the tagged reply.

mod common;

use common::imap::Imap;
use common::{Server, TempDir, add_user};

fn setup(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    (data, server)
}

/// Appends a message with `subject` (LITERAL+, so no continuation wait).
fn append(i: &mut Imap, subject: &str, flags: &str) {
    let message = format!("Subject: {subject}\r\nFrom: a@example.org\r\n\r\nbody\r\n");
    i.ok(&format!(
        "APPEND INBOX ({flags}) {{{}+}}\r\n{message}",
        message.len()
    ));
}

/// The ESEARCH update lines of a reply.
fn updates(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("* ESEARCH"))
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn index_of(lines: &[String], start: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no {start:?} in {lines:#?}"))
}

#[test]
fn rfc5267_4_capabilities_and_context_hint() {
    let (_d, server) = setup("context-caps");
    let mut i = Imap::login(&server, "alice@home.arpa");
    let caps = i.text("CAPABILITY");
    assert!(
        caps.contains(" CONTEXT=SEARCH") && caps.contains(" CONTEXT=SORT"),
        "{caps}"
    );
    i.ok("SELECT INBOX");
    append(&mut i, "one", "");
    // §4.2 CONTEXT is a hint: the result comes as without it.
    let lines = i.ok("UID SEARCH RETURN (CONTEXT COUNT) ALL");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t5\") UID COUNT 1"]);
}

#[test]
fn rfc5267_4_3_search_context_follows_another_session() {
    let (_d, server) = setup("context-search");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    for s in ["m1", "m2", "m3"] {
        append(&mut a, s, "");
    }
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    let lines = b.ok("UID SEARCH RETURN (UPDATE) UNSEEN");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t3\") UID ALL 1:3"]);

    // New mail that matches: EXISTS first, then ADDTO (position 0: a
    // SEARCH result is a set).
    append(&mut a, "m4", "");
    let lines = b.ok("NOOP");
    assert!(index_of(&lines, "* 4 EXISTS") < index_of(&lines, "* ESEARCH"));
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t3\") UID ADDTO (0 4)"]);

    // New mail that does not match: no update.
    append(&mut a, "m5", "\\Seen");
    assert!(updates(&b.ok("NOOP")).is_empty());

    // A flag change that takes a message out, and one that brings one in.
    a.ok("UID STORE 2 +FLAGS (\\Seen)");
    a.ok("UID STORE 5 -FLAGS (\\Seen)");
    let lines = b.ok("NOOP");
    assert_eq!(
        updates(&lines),
        [
            "* ESEARCH (TAG \"t3\") UID REMOVEFROM (0 2)",
            "* ESEARCH (TAG \"t3\") UID ADDTO (0 5)"
        ]
    );

    // The watching session's own STORE counts too.
    let lines = b.ok("UID STORE 1 +FLAGS.SILENT (\\Seen)");
    assert_eq!(
        updates(&lines),
        ["* ESEARCH (TAG \"t3\") UID REMOVEFROM (0 1)"]
    );

    // An expunge: REMOVEFROM before the EXPUNGE, so the numbers hold.
    a.ok("UID STORE 3 +FLAGS (\\Deleted)");
    a.ok("EXPUNGE");
    let lines = b.ok("NOOP");
    let removed = index_of(&lines, "* ESEARCH (TAG \"t3\") UID REMOVEFROM (0 3)");
    assert!(removed < index_of(&lines, "* 3 EXPUNGE"), "{lines:#?}");

    // The result the client holds now: 4 and 5, as a new search says.
    let lines = b.ok("UID SEARCH RETURN () UNSEEN");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t9\") UID ALL 4:5"]);
}

#[test]
fn rfc5267_4_3_sequence_number_context_removes_before_expunge() {
    let (_d, server) = setup("context-msn");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    for s in ["m1", "m2", "m3"] {
        append(&mut a, s, "");
    }
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    let lines = b.ok("SEARCH RETURN (UPDATE) UNDELETED");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t3\") ALL 1:3"]);
    a.ok("UID STORE 2 +FLAGS (\\Deleted)");
    a.ok("EXPUNGE");
    append(&mut a, "m4", "");
    let lines = b.ok("NOOP");
    // Message 2 leaves by its number before the EXPUNGE renumbers; the
    // new one (UID 4) is number 3 after it.
    assert_eq!(
        updates(&lines),
        [
            "* ESEARCH (TAG \"t3\") REMOVEFROM (0 2)",
            "* ESEARCH (TAG \"t3\") ADDTO (0 3)"
        ]
    );
    assert!(
        index_of(&lines, "* ESEARCH (TAG \"t3\") REMOVEFROM") < index_of(&lines, "* 2 EXPUNGE")
    );
}

#[test]
fn rfc5267_4_3_sort_context_positions() {
    let (_d, server) = setup("context-sort");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    append(&mut a, "bravo", ""); // UID 1
    append(&mut a, "delta", ""); // UID 2
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    let lines = b.ok("UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNDELETED");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t3\") UID ALL 1:2"]);

    // alpha sorts first, charlie between bravo and delta: each ADDTO
    // names where its run lands in the updated list.
    append(&mut a, "charlie", ""); // UID 3
    append(&mut a, "alpha", ""); // UID 4
    append(&mut a, "echo", ""); // UID 5
    let lines = b.ok("NOOP");
    assert_eq!(
        updates(&lines),
        [
            "* ESEARCH (TAG \"t3\") UID ADDTO (1 4)",
            "* ESEARCH (TAG \"t3\") UID ADDTO (3 3)",
            "* ESEARCH (TAG \"t3\") UID ADDTO (5 5)"
        ]
    );
    // Now alpha(4) bravo(1) charlie(3) delta(2) echo(5): bravo and
    // charlie leave, a run at position 2.
    a.ok("UID STORE 1,3 +FLAGS (\\Deleted)");
    let lines = b.ok("NOOP");
    assert_eq!(
        updates(&lines),
        ["* ESEARCH (TAG \"t3\") UID REMOVEFROM (2 1,3)"]
    );
    // Restored: they come back at their places.
    a.ok("UID STORE 3 -FLAGS (\\Deleted)");
    let lines = b.ok("NOOP");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t3\") UID ADDTO (2 3)"]);
    let lines = b.ok("UID SORT RETURN (ALL) (SUBJECT) UTF-8 UNDELETED");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t7\") UID ALL 4,3,2,5"]);
}

/// RFC 5267 §4.3 on a result large enough that a few arrivals are placed
/// by binary insertion rather than a sort of everything: each ADDTO
/// names the position its message has in the result sorted afresh.
#[test]
fn rfc5267_4_3_sort_context_positions_in_a_large_result() {
    let (_d, server) = setup("context-sort-large");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    // Subjects s000, s002 ... s198, appended out of order (UIDs 1..=100).
    for k in 0..100 {
        append(&mut a, &format!("s{:03}", 2 * (k * 37 % 100)), "");
    }
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    b.ok("UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL");
    append(&mut a, "s051", ""); // UID 101
    append(&mut a, "s133", ""); // UID 102
    append(&mut a, "s007", ""); // UID 103
    let lines = b.ok("NOOP");
    // s007 follows s000..s006 (4), s051 follows 26 evens and s007, s133
    // follows 67 evens, s007 and s051.
    assert_eq!(
        updates(&lines),
        [
            "* ESEARCH (TAG \"t3\") UID ADDTO (5 103)",
            "* ESEARCH (TAG \"t3\") UID ADDTO (28 101)",
            "* ESEARCH (TAG \"t3\") UID ADDTO (70 102)"
        ]
    );
    // A REVERSE context gains a message at the far end.
    b.ok("UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 ALL");
    append(&mut a, "s999", ""); // UID 104
    let lines = b.ok("NOOP");
    let mut got = updates(&lines);
    got.sort();
    assert_eq!(
        got,
        [
            "* ESEARCH (TAG \"t3\") UID ADDTO (104 104)",
            "* ESEARCH (TAG \"t5\") UID ADDTO (1 104)"
        ]
    );
}

#[test]
fn rfc5267_4_2_cancelupdate_and_noupdate() {
    let (_d, server) = setup("context-cancel");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    append(&mut a, "m1", "");
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    // Four live contexts are allowed; the fifth is answered but refused.
    for n in 3..=6 {
        let lines = b.ok("UID SEARCH RETURN (UPDATE) ALL");
        assert_eq!(
            updates(&lines),
            [format!("* ESEARCH (TAG \"t{n}\") UID ALL 1")]
        );
    }
    let lines = b.ok("UID SEARCH RETURN (UPDATE) ALL");
    assert!(
        lines.contains(&"* NO [NOUPDATE \"t7\"] Too many search contexts\r\n".to_string()),
        "{lines:#?}"
    );
    // CANCELUPDATE ends three; an unknown tag is BAD.
    b.ok("CANCELUPDATE \"t3\" \"t4\" \"t5\"");
    b.run("CANCELUPDATE \"t5\"", "BAD");
    append(&mut a, "m2", "");
    let lines = b.ok("NOOP");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t6\") UID ADDTO (0 2)"]);
    // Leaving the mailbox ends the rest.
    b.ok("SELECT INBOX");
    append(&mut a, "m3", "");
    assert!(updates(&b.ok("NOOP")).is_empty());
    b.run("CANCELUPDATE \"t6\"", "BAD");
}

/// §4.3 updates change a whole result the client holds: a result it was
/// never sent whole (a COUNT, a PARTIAL window) or one built on `$` or
/// \Recent (which move no MODSEQ) is answered and refused as a context;
/// `RETURN (SAVE UPDATE)` sends the result its updates will change.
#[test]
fn rfc5267_4_3_only_whole_results_are_kept_live() {
    let (_d, server) = setup("context-whole");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    append(&mut a, "m1", "");
    append(&mut a, "m2", "");
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    let noupdate = |lines: &[String], tag: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(&format!("* NO [NOUPDATE \"{tag}\"]")))
    };
    let lines = b.ok("UID SEARCH RETURN (COUNT UPDATE) ALL");
    assert!(noupdate(&lines, "t3"), "{lines:#?}");
    let lines = b.ok("UID SEARCH RETURN (UPDATE PARTIAL 1:1) ALL");
    assert!(noupdate(&lines, "t4"), "{lines:#?}");
    b.ok("SEARCH RETURN (SAVE) ALL");
    let lines = b.ok("UID SEARCH RETURN (UPDATE) UID $");
    assert!(noupdate(&lines, "t6"), "{lines:#?}");
    let lines = b.ok("UID SEARCH RETURN (UPDATE) RECENT");
    assert!(noupdate(&lines, "t7"), "{lines:#?}");
    let lines = b.ok("UID SEARCH RETURN (SAVE UPDATE) ALL");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t8\") UID ALL 1:2"]);
    assert!(!noupdate(&lines, "t8"), "{lines:#?}");
    // Only t8 is live: one update for the next message.
    append(&mut a, "m3", "");
    let lines = b.ok("NOOP");
    assert_eq!(updates(&lines), ["* ESEARCH (TAG \"t8\") UID ADDTO (0 3)"]);
}
