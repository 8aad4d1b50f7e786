//! IMAP answers checked clause by clause where smolmail once answered
//! differently from Dovecot (issue "answer every client the way Dovecot
//! would"): keyword announcement, EXISTS/RECENT order, implicit \Seen
//! with CONDSTORE, MOVE into the selected mailbox, sequence numbers past
//! EXISTS, LIST reference handling and subscriptions, NUL in literals.
//! Each test is named after the clause it checks. Dovecot's answers were
//! taken from Dovecot 2.3 run with a temporary configuration.

mod common;

use common::{Client, Server, TempDir, add_user};

/// An IMAP client over the line client: tagged commands, collected replies.
struct Imap {
    c: Client,
    n: u32,
}

impl Imap {
    fn login(server: &Server, user: &str) -> Imap {
        let mut c = server.connect("imap");
        assert!(c.line().starts_with("* OK"));
        let mut i = Imap { c, n: 0 };
        i.ok(&format!("LOGIN {user} pw"));
        i
    }

    /// Sends a command; every line up to the tagged one, whose status
    /// must be `status`. Literals are read into their line.
    fn run(&mut self, command: &str, status: &str) -> Vec<String> {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.c.send(format!("{tag} {command}\r\n").as_bytes());
        let mut lines = Vec::new();
        loop {
            let mut line = self.c.line();
            assert!(!line.is_empty(), "connection closed; got {lines:?}");
            while let Some(n) = literal_len(&line) {
                let mut data = vec![0u8; n];
                let mut got = 0;
                while got < n {
                    got += self.c.read_some(&mut data[got..]).unwrap();
                }
                line.push_str(&String::from_utf8_lossy(&data));
                line.push_str(&self.c.line());
            }
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

    fn ok(&mut self, command: &str) -> Vec<String> {
        self.run(command, "OK")
    }

    fn text(&mut self, command: &str) -> String {
        self.ok(command).join("")
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let open = trimmed.strip_suffix('}')?.rfind('{')?;
    trimmed[open + 1..trimmed.len() - 1].parse().ok()
}

fn setup(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    (data, server)
}

/// Appends a small message to INBOX through a session of its own.
fn append(server: &Server, subject: &str) {
    let mut i = Imap::login(server, "alice@home.arpa");
    let m = format!("Subject: {subject}\r\n\r\nbody\r\n");
    i.ok(&format!("APPEND INBOX {{{}+}}\r\n{m}", m.len()));
    i.ok("LOGOUT");
}

/// Checks RFC 3501 §7.2.6 over a conversation: every keyword in a FETCH
/// FLAGS was first announced by an untagged FLAGS (and PERMANENTFLAGS).
fn assert_keywords_announced(lines: &[String], known: &mut Vec<String>) {
    for line in lines {
        if let Some(rest) = line.strip_prefix("* FLAGS (") {
            *known = rest
                .trim_end()
                .trim_end_matches(')')
                .split(' ')
                .map(str::to_lowercase)
                .collect();
            continue;
        }
        if line.contains("PERMANENTFLAGS") {
            assert!(!known.is_empty(), "PERMANENTFLAGS before FLAGS: {lines:#?}");
            continue;
        }
        let Some(at) = line.find("FLAGS (").filter(|_| line.contains(" FETCH (")) else {
            continue;
        };
        let list = &line[at + 7..];
        let list = &list[..list.find(')').unwrap()];
        for flag in list
            .split(' ')
            .filter(|f| !f.is_empty() && !f.starts_with('\\'))
        {
            assert!(
                known.contains(&flag.to_lowercase()),
                "keyword {flag} used before FLAGS announced it: {lines:#?}"
            );
        }
    }
}

#[test]
fn rfc3501_7_2_6_new_keyword_announced_before_fetch_in_every_session() {
    let (_d, server) = setup("rfc-flags");
    append(&server, "one");
    append(&server, "two");
    let mut a = Imap::login(&server, "alice@home.arpa");
    let mut b = Imap::login(&server, "alice@home.arpa");
    let (mut known_a, mut known_b) = (Vec::new(), Vec::new());
    assert_keywords_announced(&a.ok("SELECT INBOX"), &mut known_a);
    assert_keywords_announced(&b.ok("SELECT INBOX"), &mut known_b);
    // The setting session: FLAGS and PERMANENTFLAGS come before the FETCH.
    let store = a.ok("STORE 1 +FLAGS ($Fresh)");
    assert!(store[0].starts_with("* FLAGS ("), "{store:#?}");
    assert!(store[1].contains("[PERMANENTFLAGS ("), "{store:#?}");
    assert!(
        store[1].contains("$Fresh") && store[1].contains("\\*"),
        "{store:#?}"
    );
    assert_keywords_announced(&store, &mut known_a);
    // Another session learns of it at its next NOOP, in the same order.
    let noop = b.ok("NOOP");
    assert!(noop.iter().any(|l| l.contains("$Fresh")), "{noop:#?}");
    assert_keywords_announced(&noop, &mut known_b);
    // Set silently by B, then fetched by A: announced before the FETCH.
    b.ok("STORE 2 +FLAGS.SILENT (Other)");
    let fetch = a.ok("FETCH 1:2 FLAGS");
    assert!(fetch.iter().any(|l| l.contains("Other")), "{fetch:#?}");
    assert_keywords_announced(&fetch, &mut known_a);
    // Announced once: a second use brings no new FLAGS.
    let again = a.ok("STORE 2 +FLAGS ($Fresh)");
    assert!(
        !again.iter().any(|l| l.starts_with("* FLAGS")),
        "{again:#?}"
    );
}

#[test]
fn rfc3501_7_3_2_recent_after_exists_and_examine_counts_without_claiming() {
    let (_d, server) = setup("rfc-recent");
    append(&server, "one");
    append(&server, "two");
    let mut a = Imap::login(&server, "alice@home.arpa");
    // EXAMINE tells the recent count (Dovecot: "* 2 RECENT") but takes
    // none: the SELECT after it still gets both.
    let examine = a.ok("EXAMINE INBOX");
    assert!(
        examine.contains(&"* 2 RECENT\r\n".to_string()),
        "{examine:#?}"
    );
    let select = a.ok("SELECT INBOX");
    assert!(
        select.contains(&"* 2 RECENT\r\n".to_string()),
        "{select:#?}"
    );
    let exists = select.iter().position(|l| l.ends_with(" EXISTS\r\n"));
    let recent = select.iter().position(|l| l.ends_with(" RECENT\r\n"));
    assert!(exists < recent, "{select:#?}");
    // New mail: EXISTS first, and RECENT within it.
    append(&server, "three");
    let noop = a.ok("NOOP");
    assert_eq!(noop[..2], ["* 3 EXISTS\r\n", "* 3 RECENT\r\n"], "{noop:#?}");
    // A session that examines sees the new one as recent too, unclaimed.
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("EXAMINE INBOX");
    append(&server, "four");
    let noop = b.ok("NOOP");
    assert_eq!(noop[..2], ["* 4 EXISTS\r\n", "* 1 RECENT\r\n"], "{noop:#?}");
    let noop = a.ok("NOOP");
    assert_eq!(noop[..2], ["* 4 EXISTS\r\n", "* 4 RECENT\r\n"], "{noop:#?}");
}

#[test]
fn rfc7162_3_2_4_implicit_seen_returns_uid_and_modseq() {
    let (_d, server) = setup("rfc-modseq");
    append(&server, "one");
    append(&server, "two");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("ENABLE CONDSTORE");
    a.ok("SELECT INBOX");
    for (command, seq) in [("FETCH 1 BODY[TEXT]", 1), ("FETCH 2 RFC822", 2)] {
        let fetch = a.text(command);
        assert!(
            fetch.contains(&format!("* {seq} FETCH ("))
                && fetch.contains("FLAGS (\\Seen")
                && fetch.contains(&format!(" UID {seq} "))
                && fetch.contains("MODSEQ ("),
            "{command}: {fetch}"
        );
    }
    // STORE's answer carries the UID with the MODSEQ too.
    let store = a.text("STORE 1 +FLAGS (\\Flagged)");
    assert!(
        store.contains("* 1 FETCH (UID 1 FLAGS (") && store.contains("MODSEQ ("),
        "{store}"
    );
    // Without CONDSTORE no MODSEQ is sent unasked.
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    b.ok("STORE 1 -FLAGS (\\Seen)");
    let fetch = b.text("FETCH 1 BODY[TEXT]");
    assert!(
        fetch.contains("\\Seen") && !fetch.contains("MODSEQ"),
        "{fetch}"
    );
}

#[test]
fn rfc6851_3_3_move_into_the_selected_mailbox() {
    let (_d, server) = setup("rfc-move");
    append(&server, "one");
    append(&server, "two");
    let mut a = Imap::login(&server, "alice@home.arpa");
    let select = a.text("SELECT INBOX");
    let validity = select
        .split("[UIDVALIDITY ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .to_string();
    let moved = a.ok("MOVE 1 INBOX");
    assert!(
        moved[0].starts_with(&format!("* OK [COPYUID {validity} 1 3]")),
        "{moved:#?}"
    );
    assert!(moved.contains(&"* 1 EXPUNGE\r\n".to_string()), "{moved:#?}");
    assert!(
        moved.iter().any(|l| l.ends_with(" EXISTS\r\n")),
        "{moved:#?}"
    );
    let uids = a.text("FETCH 1:* UID");
    assert!(
        uids.contains("* 1 FETCH (UID 2)") && uids.contains("* 2 FETCH (UID 3)"),
        "{uids}"
    );
    let status = a.text("STATUS INBOX (MESSAGES UIDNEXT)");
    assert!(status.contains("MESSAGES 2 UIDNEXT 4"), "{status}");
}

#[test]
fn rfc3501_9_sequence_number_past_exists_is_bad() {
    let (_d, server) = setup("rfc-seq");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("CREATE Other");
    a.ok("SELECT INBOX");
    // Empty mailbox: no sequence number names a message, not even `*`
    // (Dovecot: "BAD Error in IMAP command FETCH: Invalid messageset").
    for command in [
        "FETCH 1 FLAGS",
        "FETCH 1:* FLAGS",
        "STORE 1 +FLAGS (\\Seen)",
        "COPY 1 Other",
    ] {
        let bad = a.run(command, "BAD");
        assert!(
            bad.last().unwrap().contains("Invalid messageset"),
            "{bad:#?}"
        );
    }
    // The UID forms name no message and are fine.
    a.ok("UID FETCH 1 FLAGS");
    a.ok("UID STORE 1:* +FLAGS (\\Seen)");
    a.ok("UID COPY 1 Other");
    append(&server, "one");
    a.ok("NOOP");
    a.ok("FETCH 1 FLAGS");
    a.ok("FETCH 1:* FLAGS");
    for command in [
        "FETCH 2 FLAGS",
        "FETCH 1,3 FLAGS",
        "STORE 2 +FLAGS (\\Seen)",
        "COPY 1:2 Other",
    ] {
        a.run(command, "BAD");
    }
    a.ok("UID FETCH 5 FLAGS");
}

/// The lines of a LIST/LSUB answer that name `name` (quoted).
fn named<'l>(lines: &'l [String], name: &str) -> Vec<&'l str> {
    let quoted = format!(" \"{name}\"\r\n");
    let quoted_ext = format!(" \"{name}\" (");
    lines
        .iter()
        .filter(|l| l.ends_with(&quoted) || l.contains(&quoted_ext))
        .map(|l| l.trim_end())
        .collect()
}

#[test]
fn rfc3501_6_3_8_list_reference_and_pattern_concatenate() {
    let (_d, server) = setup("rfc-list-ref");
    let mut a = Imap::login(&server, "alice@home.arpa");
    for name in ["Work/a", "Work/b/c", "Workshop"] {
        a.ok(&format!("CREATE {name}"));
    }
    // Dovecot: `LIST "INB" "OX"` finds INBOX.
    let inbox = a.ok("LIST \"INB\" \"OX\"");
    assert_eq!(named(&inbox, "INBOX").len(), 1, "{inbox:#?}");
    // "Work" + "*" is "Work*": Work, everything below, and Workshop.
    let work = a.ok("LIST \"Work\" \"*\"");
    for name in ["Work", "Work/a", "Work/b", "Work/b/c", "Workshop"] {
        assert_eq!(named(&work, name).len(), 1, "{name}: {work:#?}");
    }
    assert_eq!(work.len(), 6, "{work:#?}");
    let level = a.ok("LIST \"Work/\" \"%\"");
    assert_eq!(level.len(), 3, "{level:#?}");
    assert_eq!(
        named(&level, "Work/a").len() + named(&level, "Work/b").len(),
        2
    );
}

#[test]
fn rfc5258_3_subscriptions_outlive_mailboxes_and_create_does_not_subscribe() {
    let (_d, server) = setup("rfc-list-subscribed");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("CREATE Work/a");
    a.ok("CREATE Gone");
    // CREATE subscribes nothing: LSUB reflects SUBSCRIBE only.
    let lsub = a.ok("LSUB \"\" \"*\"");
    assert!(
        named(&lsub, "Work").is_empty() && named(&lsub, "Gone").is_empty(),
        "{lsub:#?}"
    );
    a.ok("SUBSCRIBE Gone");
    a.ok("SUBSCRIBE Work/a");
    // Dovecot: SUBSCRIBE wants the mailbox to exist, UNSUBSCRIBE does not.
    a.run("SUBSCRIBE Nowhere", "NO");
    a.ok("UNSUBSCRIBE Nowhere");
    a.ok("DELETE Gone");
    let lsub = a.ok("LSUB \"\" \"*\"");
    assert_eq!(
        named(&lsub, "Gone"),
        ["* LSUB () \"/\" \"Gone\""],
        "{lsub:#?}"
    );
    assert_eq!(named(&lsub, "Work/a"), ["* LSUB () \"/\" \"Work/a\""]);
    // A subscribed name that no longer exists is \NonExistent.
    let list = a.ok("LIST (SUBSCRIBED) \"\" \"*\"");
    assert_eq!(
        named(&list, "Gone"),
        ["* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone\""],
        "{list:#?}"
    );
    assert!(named(&list, "Work").is_empty(), "{list:#?}");
    // RETURN (CHILDREN SUBSCRIBED): every match, with both attributes.
    let list = a.ok("LIST \"\" \"*\" RETURN (CHILDREN SUBSCRIBED)");
    assert_eq!(
        named(&list, "Work"),
        ["* LIST (\\HasChildren) \"/\" \"Work\""],
        "{list:#?}"
    );
    assert_eq!(
        named(&list, "Work/a"),
        ["* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Work/a\""]
    );
    assert!(named(&list, "Gone").is_empty(), "{list:#?}");
    // RECURSIVEMATCH: the unsubscribed parent comes with CHILDINFO.
    let list = a.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
    assert_eq!(
        named(&list, "Work"),
        ["* LIST (\\HasChildren) \"/\" \"Work\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"],
        "{list:#?}"
    );
    // ... but not when the pattern returns the subscribed child itself
    // (RFC 5258 §3.5; Dovecot lists no Work here).
    let list = a.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"*\"");
    assert!(named(&list, "Work").is_empty(), "{list:#?}");
    assert_eq!(named(&list, "Work/a").len(), 1, "{list:#?}");
    // RFC 3501 §6.3.9: LSUB "%" shows the parent of a subscribed child
    // that `%` hides, as \Noselect.
    let lsub = a.ok("LSUB \"\" \"%\"");
    assert_eq!(
        named(&lsub, "Work"),
        ["* LSUB (\\Noselect) \"/\" \"Work\""],
        "{lsub:#?}"
    );
    assert_eq!(named(&lsub, "Gone"), ["* LSUB () \"/\" \"Gone\""]);
    a.ok("SUBSCRIBE Work");
    let lsub = a.ok("LSUB \"\" \"%\"");
    assert_eq!(
        named(&lsub, "Work"),
        ["* LSUB () \"/\" \"Work\""],
        "{lsub:#?}"
    );
    // Subscribed itself and with a subscribed child: both, with `%` or
    // `*` (RFC 5258 example 9; Dovecot answers the same).
    let list = a.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"*\"");
    assert_eq!(
        named(&list, "Work"),
        ["* LIST (\\HasChildren \\Subscribed) \"/\" \"Work\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"],
        "{list:#?}"
    );
    let list = a.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
    assert_eq!(
        named(&list, "Work"),
        ["* LIST (\\HasChildren \\Subscribed) \"/\" \"Work\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"],
        "{list:#?}"
    );
    a.ok("UNSUBSCRIBE Gone");
    assert!(named(&a.ok("LSUB \"\" \"*\""), "Gone").is_empty());
    // Plain LIST never shows a name that does not exist.
    a.ok("SUBSCRIBE Work/a");
    a.ok("DELETE Work/a");
    let list = a.ok("LIST \"\" \"*\"");
    assert!(named(&list, "Work/a").is_empty(), "{list:#?}");
    assert_eq!(
        named(&list, "Work"),
        ["* LIST (\\HasNoChildren) \"/\" \"Work\""]
    );
}

#[test]
fn rfc3501_4_3_nul_in_a_literal_becomes_0x80() {
    let (_d, server) = setup("rfc-nul");
    let mut a = Imap::login(&server, "alice@home.arpa");
    // Dovecot stores "ab\0c" as "ab\x80c" (checked with Dovecot 2.3).
    let message = b"Subject: nul\r\n\r\nab\0c\r\n";
    a.n += 1;
    let mut command = format!("t{} APPEND INBOX {{{}+}}\r\n", a.n, message.len()).into_bytes();
    command.extend_from_slice(message);
    command.extend_from_slice(b"\r\n");
    a.c.send(&command);
    assert!(a.c.line().starts_with(&format!("t{} OK", a.n)));
    a.ok("SELECT INBOX");
    a.n += 1;
    a.c.send(format!("t{} FETCH 1 BODY.PEEK[TEXT]\r\n", a.n).as_bytes());
    let line = a.c.line();
    assert!(line.ends_with("{6}\r\n"), "{line}");
    let mut text = [0u8; 6];
    let mut got = 0;
    while got < 6 {
        got += a.c.read_some(&mut text[got..]).unwrap();
    }
    assert_eq!(&text, b"ab\x80c\r\n");
    a.c.line();
    assert!(a.c.line().starts_with(&format!("t{} OK", a.n)));
    // In a SEARCH string literal too: no BAD, the search runs.
    a.ok("SEARCH TEXT {3+}\r\na\0b");
}

/// A client's mistake (RFC 5530 ALREADYEXISTS, NONEXISTENT) is answered NO
/// and logged as information: nothing is wrong with the server.
#[test]
fn client_mistakes_are_logged_at_info_not_error() {
    let (_d, server) = setup("rfc-log");
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("CREATE Work");
    let exists = a.run("CREATE Work", "NO");
    assert!(
        exists.last().unwrap().contains("[ALREADYEXISTS]"),
        "{exists:#?}"
    );
    a.ok("CREATE Other");
    let exists = a.run("RENAME Work Other", "NO");
    assert!(
        exists.last().unwrap().contains("[ALREADYEXISTS]"),
        "{exists:#?}"
    );
    a.run("SELECT Nowhere", "NO");
    a.run("DELETE Nowhere", "NO");
    a.ok("LOGOUT");
    server.wait_for_log("imap: refused: ");
    let log = server.log();
    assert!(
        !log.contains("ERROR"),
        "a client's mistake logged as an error:\n{log}"
    );
}

/// RFC 3501 §7.2.6 under concurrency, as imaptest's stress mode runs it:
/// two sessions set new keywords on the same messages at the same time,
/// and neither ever sees a keyword in FETCH before FLAGS announced it.
#[test]
fn rfc3501_7_2_6_concurrent_sessions_never_see_an_unannounced_keyword() {
    let (_d, server) = setup("rfc-flags-stress");
    for n in 0..3 {
        append(&server, &format!("m{n}"));
    }
    let server = &server;
    std::thread::scope(|scope| {
        for w in 0..2 {
            scope.spawn(move || {
                let mut s = Imap::login(server, "alice@home.arpa");
                let mut known = Vec::new();
                assert_keywords_announced(&s.ok("SELECT INBOX"), &mut known);
                for i in 0..40 {
                    let seq = i % 3 + 1;
                    for command in [
                        format!("STORE {seq} +FLAGS (w{w}k{i})"),
                        "FETCH 1:* (FLAGS)".to_string(),
                        "NOOP".to_string(),
                    ] {
                        assert_keywords_announced(&s.ok(&command), &mut known);
                    }
                }
            });
        }
    });
}
