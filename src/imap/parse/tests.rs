//! Tests of the command parser: every command form, the examples of
//! RFC 3501 §6 and §8 and of the extension RFCs, literals, errors, limits,
//! and a mutation fuzz run that must never panic.

use std::borrow::Cow;

use super::*;

use CommandKind as C;
use SeqBound::{Num, Star};

/// Parses `input`, which must succeed with tag `a`.
fn ok(input: &[u8]) -> CommandKind<'_> {
    match parse_command(input) {
        Ok(cmd) => {
            assert_eq!(cmd.tag, &input[..cmd.tag.len()]);
            cmd.kind
        }
        Err(e) => panic!("{:?}: {e:?}", String::from_utf8_lossy(input)),
    }
}

/// Parses `input`, which must fail; returns the error.
fn bad(input: &[u8]) -> ParseError<'_> {
    match parse_command(input) {
        Ok(cmd) => panic!("{:?} parsed as {cmd:?}", String::from_utf8_lossy(input)),
        Err(e) => e,
    }
}

/// Asserts `input` fails with the tag `a` known.
fn bad_tagged(input: &[u8]) -> &'static str {
    let e = bad(input);
    assert_eq!(
        e.tag,
        Some(&b"a"[..]),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    e.reason
}

fn b(s: &str) -> Cow<'_, [u8]> {
    Cow::Borrowed(s.as_bytes())
}

fn mbox(s: &str) -> Mailbox<'_> {
    Mailbox::new(b(s))
}

fn set(ranges: &[(SeqBound, SeqBound)]) -> SequenceSet {
    SequenceSet(ranges.to_vec())
}

// ---- tags, framing and simple commands ----

#[test]
fn commands_without_arguments() {
    let cases: [(&[u8], CommandKind<'_>); 10] = [
        (b"a CAPABILITY", C::Capability),
        (b"a noop", C::Noop),
        (b"a Logout", C::Logout),
        (b"a STARTTLS", C::StartTls),
        (b"a CHECK", C::Check),
        (b"a CLOSE", C::Close),
        (b"a UNSELECT", C::Unselect),
        (b"a EXPUNGE", C::Expunge),
        (b"a IDLE", C::Idle),
        (b"a NAMESPACE", C::Namespace),
    ];
    for (input, kind) in cases {
        assert_eq!(ok(input), kind);
        let name = kind.name();
        assert!(
            std::str::from_utf8(input)
                .unwrap()
                .to_ascii_uppercase()
                .ends_with(name)
        );
    }
}

#[test]
fn tags() {
    let cmd = parse_command(b"A001.x]y NOOP").unwrap();
    assert_eq!(cmd.tag, b"A001.x]y");
    for input in [
        &b""[..],
        b" NOOP",
        b"+ NOOP",
        b"a(b NOOP",
        b"\"a\" NOOP",
        b"a{1} NOOP",
        b"\xc3\xa4 NOOP",
    ] {
        assert_eq!(bad(input).tag, None, "{input:?}");
    }
    assert_eq!(bad(b"a*b NOOP").tag, None);
    assert_eq!(peek_tag(b"x1 LOGIN {5}"), Some(&b"x1"[..]));
    assert_eq!(peek_tag(b"x1"), Some(&b"x1"[..]));
    assert_eq!(peek_tag(b"x+1 NOOP"), None);
    assert_eq!(peek_tag(b""), None);
}

#[test]
fn framing_errors_keep_the_tag() {
    assert_eq!(bad_tagged(b"a"), "missing command");
    assert_eq!(bad_tagged(b"a "), "missing command");
    assert_eq!(bad_tagged(b"a FROB"), "unknown command");
    assert_eq!(
        bad_tagged(b"a NOOP extra"),
        "unexpected characters after the command"
    );
    assert_eq!(
        bad_tagged(b"a NOOP "),
        "unexpected characters after the command"
    );
    bad_tagged(b"a  NOOP");
    bad_tagged(b"a NOOP\r");
    bad_tagged(b"a NOOP\r\n");
    bad_tagged(b"a UID FROB 1");
    let e = bad(b"a FROB");
    assert_eq!(e.to_string(), "unknown command");
}

#[test]
fn idle_and_done() {
    assert_eq!(ok(b"a IDLE"), C::Idle);
    assert!(is_done(b"DONE"));
    assert!(is_done(b"done"));
    assert!(!is_done(b"DONE "));
    assert!(!is_done(b"a DONE"));
    assert!(!is_done(b""));
}

#[test]
fn login() {
    // RFC 3501 §8.
    assert_eq!(
        ok(b"a001 login mrc secret"),
        C::Login {
            user: b("mrc"),
            password: b("secret")
        }
    );
    assert_eq!(
        ok(b"a LOGIN \"fred\" \"pass word\""),
        C::Login {
            user: b("fred"),
            password: b("pass word")
        }
    );
    // Escapes force a copy.
    match ok(br#"a LOGIN "a\"b" "c\\d""#) {
        C::Login { user, password } => {
            assert_eq!(&*user, b"a\"b");
            assert_eq!(&*password, b"c\\d");
            assert!(matches!(user, Cow::Owned(_)));
        }
        other => panic!("{other:?}"),
    }
    // Synchronizing and non-synchronizing literals, as assembled by the
    // session: the bytes exactly as on the wire.
    let input = b"a LOGIN {3}\r\nbob {11+}\r\nse\"cr\\t {x}";
    assert_eq!(
        ok(input),
        C::Login {
            user: b("bob"),
            password: b("se\"cr\\t {x}")
        }
    );
    // An astring atom may contain ']'.
    assert_eq!(
        ok(b"a LOGIN a]b c"),
        C::Login {
            user: b("a]b"),
            password: b("c")
        }
    );
    // UTF-8 in quoted strings is accepted.
    assert_eq!(
        ok("a LOGIN \"jürgen\" x".as_bytes()),
        C::Login {
            user: b("jürgen"),
            password: b("x")
        }
    );
    // An empty literal is an empty string.
    assert_eq!(
        ok(b"a LOGIN {0}\r\n {0+}\r\n"),
        C::Login {
            user: b(""),
            password: b("")
        }
    );

    bad_tagged(b"a LOGIN bob");
    bad_tagged(b"a LOGIN bob ");
    bad_tagged(b"a LOGIN bob pw extra");
    bad_tagged(b"a LOGIN \"bob pw");
    bad_tagged(b"a LOGIN \"b\\ob\" pw");
    bad_tagged(b"a LOGIN \"b\x00b\" pw");
    bad_tagged(b"a LOGIN {3}\r\nb\x00b pw");
    bad_tagged(b"a LOGIN {5}\r\nbob");
    bad_tagged(b"a LOGIN {3}bob pw");
    bad_tagged(b"a LOGIN {3}\nbob pw");
    bad_tagged(b"a LOGIN {99999999999}\r\nbob pw");
    bad_tagged(b"a LOGIN bo%b pw");
    bad_tagged(b"a LOGIN bo(b pw");
}

#[test]
fn authenticate() {
    assert_eq!(
        ok(b"a AUTHENTICATE PLAIN"),
        C::Authenticate {
            mechanism: b"PLAIN",
            initial: None
        }
    );
    // RFC 4959 §3.
    assert_eq!(
        ok(b"a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q="),
        C::Authenticate {
            mechanism: b"PLAIN",
            initial: Some(b"dGVzdAB0ZXN0AHRlc3Q=")
        }
    );
    assert_eq!(
        ok(b"a AUTHENTICATE EXTERNAL ="),
        C::Authenticate {
            mechanism: b"EXTERNAL",
            initial: Some(b"")
        }
    );
    assert_eq!(
        ok(b"a authenticate scram-sha-256 biwsbj11c2VyLHI9"),
        C::Authenticate {
            mechanism: b"scram-sha-256",
            initial: Some(b"biwsbj11c2VyLHI9")
        }
    );
    for input in [
        &b"a AUTHENTICATE"[..],
        b"a AUTHENTICATE ",
        b"a AUTHENTICATE PLAIN ",
        b"a AUTHENTICATE PLAIN abc",
        b"a AUTHENTICATE PLAIN ab=c",
        b"a AUTHENTICATE PLAIN a===",
        b"a AUTHENTICATE PLAIN ab*c",
        b"a AUTHENTICATE PLAIN ==",
        b"a AUTHENTICATE PLAIN \"dGVzdA==\"",
    ] {
        bad_tagged(input);
    }
}

// ---- mailboxes ----

#[test]
fn select_and_examine() {
    let plain = |name| SelectArgs {
        mailbox: mbox(name),
        condstore: false,
        qresync: None,
    };
    assert_eq!(ok(b"A142 SELECT INBOX"), C::Select(plain("INBOX")));
    assert_eq!(
        ok(b"A932 EXAMINE blurdybloop"),
        C::Examine(plain("blurdybloop"))
    );
    // INBOX is case-insensitive in every form (RFC 3501 §5.1).
    for input in [
        &b"a SELECT inbox"[..],
        b"a SELECT \"InBoX\"",
        b"a SELECT {5}\r\niNbOx",
    ] {
        match ok(input) {
            C::Select(args) => {
                assert!(args.mailbox.is_inbox());
                assert_eq!(args.mailbox.as_bytes(), b"INBOX");
            }
            other => panic!("{other:?}"),
        }
    }
    // Other names, and children of INBOX, are kept as sent (modified
    // UTF-7 included).
    assert_eq!(ok(b"a SELECT inbox/Sub"), C::Select(plain("inbox/Sub")));
    assert_eq!(
        ok(b"a SELECT \"Entw&APw-rfe\""),
        C::Select(plain("Entw&APw-rfe"))
    );
    assert!(!mbox("INBOXES").is_inbox());

    // RFC 7162 §3.1.8.
    assert_eq!(
        ok(b"a SELECT INBOX (CONDSTORE)"),
        C::Select(SelectArgs {
            mailbox: mbox("INBOX"),
            condstore: true,
            qresync: None
        })
    );
    // RFC 7162 §3.2.5.1's examples.
    match ok(b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))") {
        C::Select(SelectArgs {
            qresync: Some(q),
            condstore: false,
            ..
        }) => {
            assert_eq!(q.uid_validity, 67_890_007);
            assert_eq!(q.mod_seq, 20_050_715_194_045_000);
            assert_eq!(
                q.known_uids,
                Some(set(&[
                    (Num(41), Num(41)),
                    (Num(43), Num(211)),
                    (Num(214), Num(541))
                ]))
            );
            assert_eq!(q.seq_match, None);
        }
        other => panic!("{other:?}"),
    }
    match ok(b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:15,20 41:55,70)))")
    {
        C::Select(SelectArgs { qresync: Some(q), .. }) => {
            assert_eq!(q.known_uids, Some(set(&[(Num(41), Num(211)), (Num(214), Num(541))])));
            let (seqs, uids) = q.seq_match.unwrap();
            assert_eq!(seqs, set(&[(Num(1), Num(15)), (Num(20), Num(20))]));
            assert_eq!(uids, set(&[(Num(41), Num(55)), (Num(70), Num(70))]));
        }
        other => panic!("{other:?}"),
    }
    match ok(b"a EXAMINE x (CONDSTORE QRESYNC (1 2 (1 3)))") {
        C::Examine(SelectArgs {
            condstore: true,
            qresync: Some(q),
            ..
        }) => {
            assert_eq!((q.uid_validity, q.mod_seq, q.known_uids), (1, 2, None));
            assert!(q.seq_match.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ok(b"a SELECT x ()"), C::Select(plain("x")));

    for input in [
        &b"a SELECT"[..],
        b"a SELECT ",
        b"a SELECT INBOX (FOO)",
        b"a SELECT INBOX (CONDSTORE CONDSTORE)",
        b"a SELECT INBOX (CONDSTORE",
        b"a SELECT INBOX CONDSTORE",
        b"a SELECT INBOX (QRESYNC)",
        b"a SELECT INBOX (QRESYNC ())",
        b"a SELECT INBOX (QRESYNC (0 1))",
        b"a SELECT INBOX (QRESYNC (1))",
        b"a SELECT INBOX (QRESYNC (1 2 1:*))",
        b"a SELECT INBOX (QRESYNC (1 2 1:5 (1:* 1:5)))",
        b"a SELECT INBOX (QRESYNC (1 2 1:5 (1:5)))",
        b"a SELECT INBOX (QRESYNC (1 9223372036854775808))",
        b"a SELECT a b",
    ] {
        bad_tagged(input);
    }
}

#[test]
fn create_delete_rename_subscribe() {
    // RFC 3501 §6.3.3.
    assert_eq!(
        ok(b"A003 CREATE owatagusiam/"),
        C::Create {
            mailbox: mbox("owatagusiam/"),
            special_use: vec![]
        }
    );
    assert_eq!(
        ok(b"A004 CREATE owatagusiam/blurdybloop"),
        C::Create {
            mailbox: mbox("owatagusiam/blurdybloop"),
            special_use: vec![]
        }
    );
    // RFC 6154 §5.2.
    assert_eq!(
        ok(br#"t1 CREATE "Important Messages" (USE (\Important))"#),
        C::Create {
            mailbox: mbox("Important Messages"),
            special_use: vec![SpecialUse::Other(b"Important")]
        }
    );
    assert_eq!(
        ok(br"a CREATE Stuff (USE (\All \archive \Drafts \Flagged \Junk \Sent \Trash))"),
        C::Create {
            mailbox: mbox("Stuff"),
            special_use: vec![
                SpecialUse::All,
                SpecialUse::Archive,
                SpecialUse::Drafts,
                SpecialUse::Flagged,
                SpecialUse::Junk,
                SpecialUse::Sent,
                SpecialUse::Trash,
            ],
        }
    );
    assert_eq!(
        ok(b"a CREATE x (USE ())"),
        C::Create {
            mailbox: mbox("x"),
            special_use: vec![]
        }
    );
    for input in [
        &b"a CREATE"[..],
        b"a CREATE x ()",
        b"a CREATE x (FOO)",
        b"a CREATE x (USE (Drafts))",
        br"a CREATE x (USE \Drafts)",
        br"a CREATE x (USE (\Drafts) USE (\Sent))",
        br"a CREATE x (USE (\Drafts)",
    ] {
        bad_tagged(input);
    }

    assert_eq!(
        ok(b"A682 DELETE blurdybloop"),
        C::Delete(mbox("blurdybloop"))
    );
    assert_eq!(ok(b"a DELETE \"\""), C::Delete(mbox("")));
    assert_eq!(
        ok(b"A683 RENAME blurdybloop sarasoop"),
        C::Rename {
            from: mbox("blurdybloop"),
            to: mbox("sarasoop")
        }
    );
    assert_eq!(
        ok(b"a RENAME inbox {8+}\r\nOld Mail"),
        C::Rename {
            from: mbox("INBOX"),
            to: mbox("Old Mail")
        }
    );
    assert_eq!(
        ok(b"A002 SUBSCRIBE #news.comp.mail.mime"),
        C::Subscribe(mbox("#news.comp.mail.mime"))
    );
    assert_eq!(
        ok(b"A002 UNSUBSCRIBE #news.comp.mail.mime"),
        C::Unsubscribe(mbox("#news.comp.mail.mime"))
    );
    bad_tagged(b"a RENAME x");
    bad_tagged(b"a DELETE x y");
    bad_tagged(b"a DELETE %");
}

fn list_args(input: &[u8]) -> ListArgs<'_> {
    match ok(input) {
        C::List(args) => args,
        other => panic!("{other:?}"),
    }
}

#[test]
fn list_basic() {
    // RFC 3501 §6.3.8.
    let l = list_args(b"A101 LIST \"\" \"\"");
    assert_eq!(
        (l.reference, l.patterns, l.extended),
        (b(""), vec![b("")], false)
    );
    let l = list_args(b"A102 LIST #news.comp.mail.misc \"\"");
    assert_eq!(l.reference, b("#news.comp.mail.misc"));
    let l = list_args(b"A202 LIST ~/Mail/ %");
    assert_eq!((l.reference, l.patterns), (b("~/Mail/"), vec![b("%")]));
    let l = list_args(b"a LIST \"\" *");
    assert_eq!(l.patterns, vec![b("*")]);
    assert_eq!(l.selection, ListSelection::default());
    assert_eq!(l.returns, ListReturn::default());
    let l = list_args(b"a LIST \"\" foo/%/b]ar*");
    assert_eq!(l.patterns, vec![b("foo/%/b]ar*")]);
    let l = list_args(b"a LIST {0}\r\n {3}\r\nx/*");
    assert_eq!((l.reference, l.patterns), (b(""), vec![b("x/*")]));

    assert_eq!(
        ok(b"A002 LSUB \"#news.\" \"comp.mail.*\""),
        C::Lsub {
            reference: b("#news."),
            pattern: b("comp.mail.*")
        }
    );
    assert_eq!(
        ok(b"a LSUB \"\" %"),
        C::Lsub {
            reference: b(""),
            pattern: b("%")
        }
    );
    bad_tagged(b"a LSUB \"\"");
    bad_tagged(b"a LIST \"\"");
    bad_tagged(b"a LIST");
    bad_tagged(b"a LIST \"\" a(b");
}

#[test]
fn list_extended() {
    // RFC 5258 §5's examples.
    let l = list_args(b"A02 LIST (SUBSCRIBED) \"\" \"*\"");
    assert!(l.extended && l.selection.subscribed && !l.selection.remote);
    let l = list_args(b"A03 LIST () \"\" \"%\" RETURN (CHILDREN)");
    assert!(l.extended && l.returns.children);
    assert_eq!(l.selection, ListSelection::default());
    let l = list_args(b"A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)");
    assert!(l.selection.remote && l.returns.children);
    let l = list_args(b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)");
    assert!(l.selection.subscribed && l.selection.recursive_match);
    let l = list_args(b"A05 LIST (subscribed) \"\" \"*\" RETURN (subscribed CHILDREN)");
    assert!(l.returns.subscribed && l.returns.children);
    let l = list_args(b"G2 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")");
    assert!(l.extended);
    assert_eq!(l.patterns, vec![b("INBOX"), b("Drafts"), b("Sent/%")]);
    let l = list_args(b"a LIST \"\" % RETURN ()");
    assert!(l.extended);
    // RFC 6154 §5.1 / §5.2.
    let l = list_args(b"t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)");
    assert!(l.returns.special_use);
    let l = list_args(b"t3 LIST (SPECIAL-USE) \"\" \"*\"");
    assert!(l.selection.special_use);
    let l = list_args(b"a LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"*\"");
    assert!(l.selection.recursive_match);
    // RFC 5819 §5.
    let l = list_args(b"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))");
    assert_eq!(
        l.returns.status,
        Some(vec![StatusItem::Messages, StatusItem::Unseen])
    );
    let l = list_args(
        b"A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN STATUS (MESSAGES HIGHESTMODSEQ))",
    );
    assert!(l.returns.children);
    assert_eq!(
        l.returns.status,
        Some(vec![StatusItem::Messages, StatusItem::HighestModSeq])
    );

    for input in [
        &b"a LIST (RECURSIVEMATCH) \"\" %"[..],
        b"a LIST (REMOTE RECURSIVEMATCH) \"\" %",
        b"a LIST (FOO) \"\" %",
        b"a LIST (SUBSCRIBED \"\" %",
        b"a LIST (SUBSCRIBED)\"\" %",
        b"a LIST \"\" % RETURN (FOO)",
        b"a LIST \"\" % RETURN (STATUS ())",
        b"a LIST \"\" % RETURN (STATUS (MESSAGES) STATUS (UNSEEN))",
        b"a LIST \"\" % RETURN",
        b"a LIST \"\" % FOO ()",
        b"a LIST \"\" ()",
        b"a LIST \"\" (% ",
    ] {
        bad_tagged(input);
    }
}

#[test]
fn status() {
    assert_eq!(
        ok(b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)"),
        C::Status {
            mailbox: mbox("blurdybloop"),
            items: vec![StatusItem::UidNext, StatusItem::Messages]
        }
    );
    assert_eq!(
        ok(b"a status inbox (messages recent uidnext uidvalidity unseen highestmodseq)"),
        C::Status {
            mailbox: mbox("INBOX"),
            items: vec![
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::HighestModSeq,
            ],
        }
    );
    // RFC 7889 §4, RFC 8438 §3, RFC 9208 §4.3.
    assert_eq!(
        ok(b"a STATUS x (appendlimit SIZE deleted DELETED-STORAGE)"),
        C::Status {
            mailbox: mbox("x"),
            items: vec![
                StatusItem::AppendLimit,
                StatusItem::Size,
                StatusItem::Deleted,
                StatusItem::DeletedStorage,
            ],
        }
    );
    for input in [
        &b"a STATUS x ()"[..],
        b"a STATUS x (BOGUS)",
        b"a STATUS x",
        b"a STATUS x MESSAGES",
        b"a STATUS (MESSAGES)",
    ] {
        bad_tagged(input);
    }
}

// ---- APPEND ----

/// RFC 3501 §6.3.11's sample message.
const SAMPLE: &[u8] = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu\r\n\
Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

fn append_input(prefix: &str, marker_plus: bool) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(
        format!(
            "{{{}{}}}\r\n",
            SAMPLE.len(),
            if marker_plus { "+" } else { "" }
        )
        .as_bytes(),
    );
    v.extend_from_slice(SAMPLE);
    v
}

#[test]
fn append() {
    assert_eq!(SAMPLE.len(), 310);
    let input = append_input("A003 APPEND saved-messages (\\Seen) ", false);
    assert_eq!(
        literal_at_end(&input[..input.iter().position(|&c| c == b'\r').unwrap()])
            .unwrap()
            .len,
        310
    );
    assert_eq!(
        ok(&input),
        C::Append {
            mailbox: mbox("saved-messages"),
            flags: vec![Flag::Seen],
            date: None,
            message: SAMPLE,
            more: vec![],
            utf8: false,
            catenate: vec![],
        }
    );
    let input = append_input(
        "a APPEND INBOX (\\Seen $Forwarded \\draft) \"07-Feb-1994 21:52:25 -0800\" ",
        true,
    );
    match ok(&input) {
        C::Append {
            mailbox,
            flags,
            date: Some(date),
            message,
            ..
        } => {
            assert!(mailbox.is_inbox());
            assert_eq!(
                flags,
                vec![Flag::Seen, Flag::Keyword(b"$Forwarded"), Flag::Draft]
            );
            assert_eq!(date.unix, 760_657_945 + 8 * 3600);
            assert_eq!(date.offset_minutes, -480);
            assert_eq!(message, SAMPLE);
        }
        other => panic!("{other:?}"),
    }
    let input = append_input("a APPEND Drafts \" 7-Feb-1994 21:52:25 +0000\" ", false);
    assert!(matches!(ok(&input), C::Append { date: Some(_), .. }));
    let input = append_input("a APPEND Drafts () ", false);
    assert!(matches!(ok(&input), C::Append { ref flags, date: None, .. } if flags.is_empty()));
    // The mailbox name may itself be a literal.
    let input = append_input("a APPEND {6}\r\nSent 1 ", true);
    assert!(matches!(ok(&input), C::Append { ref mailbox, .. } if mailbox.as_bytes() == b"Sent 1"));
    // A NUL in the message is stored, not refused.
    assert_eq!(
        ok(b"a APPEND x {3}\r\na\x00b"),
        C::Append {
            mailbox: mbox("x"),
            flags: vec![],
            date: None,
            message: b"a\x00b",
            more: vec![],
            utf8: false,
            catenate: vec![],
        }
    );

    for input in [
        &b"a APPEND x"[..],
        b"a APPEND x \"message\"",
        b"a APPEND x message",
        b"a APPEND x (\\Recent) {1}\r\nx",
        b"a APPEND x (\\Bogus) {1}\r\nx",
        b"a APPEND x (\\Seen {1}\r\nx",
        b"a APPEND x \"31-Feb-1994 21:52:25 -0800\" {1}\r\nx",
        b"a APPEND x \"7-Feb-1994\" {1}\r\nx",
        b"a APPEND x (\\Seen){1}\r\nx",
        b"a APPEND x {1}\r\nxy",
        b"a APPEND x {2}\r\nx",
        // MULTIAPPEND: a message after the SP, not nothing.
        b"a APPEND x {1}\r\nx ",
        b"a APPEND x {1}\r\nx (\\Seen)",
    ] {
        bad_tagged(input);
    }
    // RFC 3502 §6.3.11: more messages, each with its own flags and date.
    match ok(b"a APPEND x {1}\r\nx (\\Seen) \" 7-Feb-1994 21:52:25 +0000\" {1}\r\ny {1}\r\nz") {
        C::Append { message, more, .. } => {
            assert_eq!(message, b"x");
            assert_eq!(more.len(), 2);
            assert_eq!(more[0].flags, vec![Flag::Seen]);
            assert!(more[0].date.is_some() && more[1].date.is_none());
            assert_eq!((more[0].message, more[1].message), (&b"y"[..], &b"z"[..]));
        }
        other => panic!("{other:?}"),
    }
}

// ---- SEARCH ----

fn search_key(input: &[u8]) -> (bool, Option<Cow<'_, [u8]>>, SearchKey<'_>) {
    match ok(input) {
        C::Search {
            uid, charset, key, ..
        } => (uid, charset, key),
        other => panic!("{other:?}"),
    }
}

fn date(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

#[test]
fn search_rfc3501_examples() {
    use SearchKey as K;
    let (uid, charset, key) =
        search_key(b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    assert!(!uid && charset.is_none());
    assert_eq!(
        key,
        K::And(vec![
            K::Flagged,
            K::Since(date(1994, 2, 1)),
            K::Not(Box::new(K::From(b("Smith"))))
        ])
    );
    let (_, _, key) = search_key(b"A283 SEARCH TEXT \"string not in mailbox\"");
    assert_eq!(key, K::Text(b("string not in mailbox")));
    // The KOI8-R example: a charset and 8-bit literal data.
    let (_, charset, key) =
        search_key(b"A284 SEARCH CHARSET KOI8-R TEXT {6}\r\n\xf4\xc5\xd3\xd4\xcf\xd7");
    assert_eq!(charset, Some(b("KOI8-R")));
    assert_eq!(
        key,
        K::Text(Cow::Borrowed(&b"\xf4\xc5\xd3\xd4\xcf\xd7"[..]))
    );
    // RFC 3501 §6.4.4's OR example.
    let (_, _, key) = search_key(b"a SEARCH OR SEEN (FLAGGED DELETED)");
    assert_eq!(
        key,
        K::Or(
            Box::new(K::Seen),
            Box::new(K::And(vec![K::Flagged, K::Deleted]))
        )
    );
}

#[test]
fn search_every_key() {
    use SearchKey as K;
    let cases: Vec<(&[u8], SearchKey<'_>)> = vec![
        (b"ALL", K::All),
        (b"answered", K::Answered),
        (b"BCC joe", K::Bcc(b("joe"))),
        (b"BEFORE \"7-Feb-1994\"", K::Before(date(1994, 2, 7))),
        (b"BODY {5+}\r\nhello", K::Body(b("hello"))),
        (b"CC \"\"", K::Cc(b(""))),
        (b"DELETED", K::Deleted),
        (b"DRAFT", K::Draft),
        (b"FLAGGED", K::Flagged),
        (b"FROM smith", K::From(b("smith"))),
        (
            b"HEADER Message-ID \"<x@y>\"",
            K::Header(b("Message-ID"), b("<x@y>")),
        ),
        (b"HEADER X-Spam \"\"", K::Header(b("X-Spam"), b(""))),
        (b"KEYWORD $Forwarded", K::Keyword(b"$Forwarded")),
        (b"LARGER 1000", K::Larger(1000)),
        (b"NEW", K::New),
        (b"NOT SEEN", K::Not(Box::new(K::Seen))),
        (b"OLD", K::Old),
        (b"ON 29-feb-2024", K::On(date(2024, 2, 29))),
        (b"OR SEEN NEW", K::Or(Box::new(K::Seen), Box::new(K::New))),
        (b"RECENT", K::Recent),
        (b"SEEN", K::Seen),
        (b"SENTBEFORE 1-Jan-2000", K::SentBefore(date(2000, 1, 1))),
        (b"SENTON 01-Jan-2000", K::SentOn(date(2000, 1, 1))),
        (b"SENTSINCE 31-Dec-1999", K::SentSince(date(1999, 12, 31))),
        (b"SINCE 1-Jan-1970", K::Since(date(1970, 1, 1))),
        (b"SMALLER 4294967295", K::Smaller(u32::MAX)),
        (b"SUBJECT \"re: lunch\"", K::Subject(b("re: lunch"))),
        (b"TEXT x", K::Text(b("x"))),
        (b"TO \"joe@example.org\"", K::To(b("joe@example.org"))),
        (b"UID 1:*", K::Uid(set(&[(Num(1), Star)]))),
        (b"UNANSWERED", K::Unanswered),
        (b"UNDELETED", K::Undeleted),
        (b"UNDRAFT", K::Undraft),
        (b"UNFLAGGED", K::Unflagged),
        (b"UNKEYWORD Junk", K::Unkeyword(b"Junk")),
        (b"UNSEEN", K::Unseen),
        (b"MODSEQ 620162338", K::ModSeq(620_162_338)),
        // RFC 7162 §3.1.5's example, entry name and type dropped.
        (
            br#"MODSEQ "/flags/\\draft" all 620162338"#,
            K::ModSeq(620_162_338),
        ),
        (
            b"2:4,*",
            K::SequenceSet(set(&[(Num(2), Num(4)), (Star, Star)])),
        ),
        (b"(SEEN)", K::Seen),
        (b"(SEEN UNDELETED)", K::And(vec![K::Seen, K::Undeleted])),
        ("SUBJECT \"Grüße\"".as_bytes(), K::Subject(b("Grüße"))),
    ];
    for (args, expected) in cases {
        let mut input = b"a SEARCH ".to_vec();
        input.extend_from_slice(args);
        let (_, _, key) = search_key(&input);
        assert_eq!(key, expected, "{:?}", String::from_utf8_lossy(args));
    }
}

#[test]
fn uid_search_and_charset() {
    use SearchKey as K;
    let (uid, charset, key) = search_key(b"a UID SEARCH CHARSET \"UTF-8\" 1:* UNDELETED");
    assert!(uid);
    assert_eq!(charset, Some(b("UTF-8")));
    assert_eq!(
        key,
        K::And(vec![K::SequenceSet(set(&[(Num(1), Star)])), K::Undeleted])
    );
    let (_, _, key) = search_key(b"a UID SEARCH MODSEQ 0");
    assert_eq!(key, K::ModSeq(0));
    let (_, _, key) = search_key(b"a search or (from a to b) not (cc c) uid 5");
    assert_eq!(
        key,
        K::And(vec![
            K::Or(
                Box::new(K::And(vec![K::From(b("a")), K::To(b("b"))])),
                Box::new(K::Not(Box::new(K::Cc(b("c")))))
            ),
            K::Uid(set(&[(Num(5), Num(5))])),
        ])
    );
}

#[test]
fn search_errors() {
    for input in [
        &b"a SEARCH"[..],
        b"a SEARCH ",
        b"a SEARCH ()",
        b"a SEARCH (SEEN",
        b"a SEARCH SEEN)",
        b"a SEARCH SEEN  NEW",
        b"a SEARCH NOT",
        b"a SEARCH OR SEEN",
        b"a SEARCH FOO",
        b"a SEARCH FROM",
        b"a SEARCH BEFORE 31-Feb-2020",
        b"a SEARCH BEFORE 1-Feb-94",
        b"a SEARCH 0",
        b"a SEARCH 1:0",
        b"a SEARCH LARGER x",
        b"a SEARCH LARGER 4294967296",
        b"a SEARCH KEYWORD \\Seen",
        b"a SEARCH HEADER Subject",
        b"a SEARCH CHARSET UTF-8",
        b"a SEARCH RETURN (BOGUS) ALL",
        b"a SEARCH RETURN ALL",
        b"a SEARCH MODSEQ \"/flags/\\\\draft\" bogus 1",
        b"a SEARCH MODSEQ -1",
        b"a SEARCH MODSEQ 9223372036854775808",
        b"a SEARCH UID",
    ] {
        bad_tagged(input);
    }
}

#[test]
fn search_nesting_is_bounded() {
    let nested = |depth: usize, open: &str, inner: &str, close: &str| {
        let mut s = String::from("a SEARCH ");
        s.push_str(&open.repeat(depth));
        s.push_str(inner);
        s.push_str(&close.repeat(depth));
        s.into_bytes()
    };
    ok(&nested(MAX_NESTING, "(", "ALL", ")"));
    assert_eq!(
        bad_tagged(&nested(MAX_NESTING + 1, "(", "ALL", ")")),
        "search nested too deeply"
    );
    ok(&nested(MAX_NESTING, "NOT ", "ALL", ""));
    assert_eq!(
        bad_tagged(&nested(MAX_NESTING + 1, "NOT ", "ALL", "")),
        "search nested too deeply"
    );
    ok(&nested(MAX_NESTING, "OR SEEN ", "ALL", ""));
    bad_tagged(&nested(MAX_NESTING + 1, "OR ", "ALL ALL", ""));
    // Far beyond the bound: refused at once, no stack overflow.
    bad_tagged(&nested(1_000_000, "(", "ALL", ")"));
    bad_tagged(&nested(1_000_000, "NOT ", "ALL", ""));
}

#[test]
fn search_size_is_bounded() {
    let mut input = b"a SEARCH".to_vec();
    for _ in 0..MAX_LIST_ITEMS {
        input.extend_from_slice(b" SEEN");
    }
    ok(&input);
    input.extend_from_slice(b" SEEN");
    assert_eq!(bad_tagged(&input), "search too complex");
}

// ---- FETCH ----

fn fetch_parts(input: &[u8]) -> (bool, SequenceSet, Vec<FetchItem<'_>>, Option<u64>, bool) {
    match ok(input) {
        C::Fetch(FetchArgs {
            uid,
            set,
            items,
            changed_since,
            vanished,
            ..
        }) => (uid, set, items, changed_since, vanished),
        other => panic!("{other:?}"),
    }
}

fn fetch_items(input: &[u8]) -> Vec<FetchItem<'_>> {
    fetch_parts(input).2
}

fn section<'a>(part: &[u32], text: Option<SectionText<'a>>) -> Section<'a> {
    Section {
        part: part.to_vec(),
        text,
    }
}

fn body(peek: bool, section: Section<'_>, partial: Option<(u32, u32)>) -> FetchItem<'_> {
    FetchItem::BodySection {
        peek,
        section,
        partial: partial.map(|(origin, count)| Partial { origin, count }),
    }
}

#[test]
fn fetch_rfc3501_examples() {
    use FetchItem as F;
    let (uid, s, items, changed, vanished) =
        fetch_parts(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])");
    assert!(!uid && changed.is_none() && !vanished);
    assert_eq!(s, set(&[(Num(2), Num(4))]));
    assert_eq!(
        items,
        vec![
            F::Flags,
            body(
                false,
                section(
                    &[],
                    Some(SectionText::HeaderFields(vec![b("DATE"), b("FROM")]))
                ),
                None
            )
        ]
    );
    // RFC 3501 §8.
    assert_eq!(
        fetch_items(b"a003 fetch 12 full"),
        vec![
            F::Flags,
            F::InternalDate,
            F::Rfc822Size,
            F::Envelope,
            F::Body
        ]
    );
    assert_eq!(
        fetch_items(b"a004 fetch 12 body[header]"),
        vec![body(false, section(&[], Some(SectionText::Header)), None)]
    );
}

#[test]
fn fetch_items_and_macros() {
    use FetchItem as F;
    assert_eq!(
        fetch_items(b"a FETCH 1:* ALL"),
        vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1:* fast"),
        vec![F::Flags, F::InternalDate, F::Rfc822Size]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID INTERNALDATE MODSEQ)"),
        vec![
            F::Rfc822,
            F::Rfc822Header,
            F::Rfc822Text,
            F::Rfc822Size,
            F::Envelope,
            F::Body,
            F::BodyStructure,
            F::Uid,
            F::InternalDate,
            F::ModSeq,
        ]
    );
    assert_eq!(fetch_items(b"a FETCH 1 uid"), vec![F::Uid]);
    assert_eq!(fetch_items(b"a UID FETCH 1 ()"), vec![]);
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY[]"),
        vec![body(false, section(&[], None), None)]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY.PEEK[]<0.2048>"),
        vec![body(true, section(&[], None), Some((0, 2048)))]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY[TEXT]<100.200>"),
        vec![body(
            false,
            section(&[], Some(SectionText::Text)),
            Some((100, 200))
        )]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 body.peek[1]"),
        vec![body(true, section(&[1], None), None)]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY.PEEK[1.2.MIME]"),
        vec![body(true, section(&[1, 2], Some(SectionText::Mime)), None)]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY[4.2.2.1.HEADER]"),
        vec![body(
            false,
            section(&[4, 2, 2, 1], Some(SectionText::Header)),
            None
        )]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY[3.TEXT]"),
        vec![body(false, section(&[3], Some(SectionText::Text)), None)]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Received \"X-Spam\" {4}\r\nDate)])"),
        vec![body(
            true,
            section(
                &[],
                Some(SectionText::HeaderFieldsNot(vec![
                    b("Received"),
                    b("X-Spam"),
                    b("Date")
                ]))
            ),
            None
        )]
    );
    assert_eq!(
        fetch_items(b"a FETCH 1 BODY[1.HEADER.FIELDS (Subject)]"),
        vec![body(
            false,
            section(&[1], Some(SectionText::HeaderFields(vec![b("Subject")]))),
            None
        )]
    );
}

#[test]
fn fetch_condstore_qresync() {
    // RFC 7162 §3.1.4.1.
    let (uid, s, items, changed, vanished) =
        fetch_parts(b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)");
    assert!(uid && !vanished);
    assert_eq!(s, set(&[(Num(1), Star)]));
    assert_eq!((items, changed), (vec![FetchItem::Flags], Some(12345)));
    // RFC 7162 §3.2.6.
    let (uid, _, _, changed, vanished) =
        fetch_parts(b"A2 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
    assert!(uid && vanished);
    assert_eq!(changed, Some(12345));
    let (_, _, items, changed, _) = fetch_parts(b"a FETCH 1:* FAST (CHANGEDSINCE 0)");
    assert_eq!((items.len(), changed), (3, Some(0)));
    let (_, _, _, changed, vanished) =
        fetch_parts(b"a UID FETCH 1 FLAGS (VANISHED CHANGEDSINCE 7)");
    assert_eq!((changed, vanished), (Some(7), true));
}

/// RFC 3516 §4.2 BINARY items, §4.4 APPEND with literal8; RFC 4978 §3.
#[test]
fn rfc3516_binary_items_and_literal8_and_compress() {
    let fetch = parse_command(b"a FETCH 1 (BINARY[1.2]<0.10> BINARY.PEEK[] BINARY.SIZE[3])");
    let Ok(Command {
        kind: C::Fetch(args),
        ..
    }) = fetch
    else {
        panic!("{fetch:?}")
    };
    assert_eq!(
        args.items,
        vec![
            FetchItem::Binary {
                peek: false,
                part: vec![1, 2],
                partial: Some(Partial {
                    origin: 0,
                    count: 10
                }),
            },
            FetchItem::Binary {
                peek: true,
                part: vec![],
                partial: None,
            },
            FetchItem::BinarySize(vec![3]),
        ]
    );
    let append = parse_command(b"a APPEND INBOX ~{3}\r\na\0b");
    let Ok(Command {
        kind: C::Append { message, .. },
        ..
    }) = append
    else {
        panic!("{append:?}")
    };
    assert_eq!(message, b"a\0b");
    let compress = parse_command(b"a COMPRESS DEFLATE").unwrap();
    assert_eq!(compress.kind, C::Compress(b"DEFLATE"));
}

#[test]
fn fetch_errors() {
    for input in [
        &b"a FETCH"[..],
        b"a FETCH 1",
        b"a FETCH 1 ",
        b"a FETCH 1 (ALL)",
        b"a FETCH 1 (FLAGS ALL)",
        b"a FETCH 1 FLAGS UID",
        b"a FETCH 1 FOO",
        b"a FETCH 1 BINARY[1.MIME]",
        b"a FETCH 1 BINARY[HEADER]",
        b"a FETCH 1 BINARY.SIZE[1]<0.1>",
        b"a FETCH 1 BINARY",
        b"a COMPRESS",
        b"a FETCH 1 (FLAGS",
        b"a FETCH 1 (FLAGS )",
        b"a FETCH 1 BODY[MIME]",
        b"a FETCH 1 BODY[0]",
        b"a FETCH 1 BODY[1.]",
        b"a FETCH 1 BODY[1.0]",
        b"a FETCH 1 BODY[1",
        b"a FETCH 1 BODY[FOO]",
        b"a FETCH 1 BODY[HEADER.FIELDS]",
        b"a FETCH 1 BODY[HEADER.FIELDS ()]",
        b"a FETCH 1 BODY[HEADER.FIELDS (A B]",
        b"a FETCH 1 BODY[]<0.0>",
        b"a FETCH 1 BODY[]<0>",
        b"a FETCH 1 BODY[]<a.1>",
        b"a FETCH 1 BODY<0.1>",
        b"a FETCH 1 BODY.PEEK",
        b"a FETCH 1 RFC822.PEEK",
        b"a FETCH 0 FLAGS",
        b"a FETCH 1 (FLAGS) (VANISHED)",
        b"a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        b"a UID FETCH 1 (FLAGS) (VANISHED)",
        b"a UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)",
        b"a UID FETCH 1 (FLAGS) (CHANGEDSINCE)",
        b"a UID FETCH 1 (FLAGS) ()",
        b"a UID FETCH 1 (FLAGS) (FOO)",
        b"a UID FETCH 1 (FLAGS) (CHANGEDSINCE 1",
    ] {
        bad_tagged(input);
    }
    // Section paths are bounded.
    let deep = format!("a FETCH 1 BODY[{}1]", "1.".repeat(64));
    bad_tagged(deep.as_bytes());
    let fine = format!("a FETCH 1 BODY[{}1]", "1.".repeat(63));
    ok(fine.as_bytes());
}

// ---- STORE, COPY, MOVE, EXPUNGE ----

#[test]
fn store() {
    assert_eq!(
        ok(b"A003 STORE 2:4 +FLAGS (\\Deleted)"),
        C::Store(StoreArgs {
            uid: false,
            set: set(&[(Num(2), Num(4))]),
            mode: StoreMode::Add,
            silent: false,
            flags: vec![Flag::Deleted],
            unchanged_since: None,
        })
    );
    assert_eq!(
        ok(b"a STORE 1 flags.silent (\\Seen \\ANSWERED \\Flagged \\Deleted \\Draft $Forwarded NonJunk)"),
        C::Store(StoreArgs {
            uid: false,
            set: set(&[(Num(1), Num(1))]),
            mode: StoreMode::Replace,
            silent: true,
            flags: vec![
                Flag::Seen,
                Flag::Answered,
                Flag::Flagged,
                Flag::Deleted,
                Flag::Draft,
                Flag::Keyword(b"$Forwarded"),
                Flag::Keyword(b"NonJunk"),
            ],
            unchanged_since: None,
        })
    );
    // Flags without parentheses (RFC 3501 §9 store-att-flags).
    assert!(matches!(
        ok(b"a UID STORE 5 -FLAGS \\Seen \\Flagged"),
        C::Store(StoreArgs { uid: true, mode: StoreMode::Remove, ref flags, .. }) if flags == &[Flag::Seen, Flag::Flagged]
    ));
    assert!(
        matches!(ok(b"a STORE * FLAGS ()"), C::Store(StoreArgs { ref flags, .. }) if flags.is_empty())
    );
    // RFC 7162 §3.1.3's examples.
    assert_eq!(
        ok(b"a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)"),
        C::Store(StoreArgs {
            uid: true,
            set: set(&[(Num(6), Num(6)), (Num(4), Num(4)), (Num(8), Num(8))]),
            mode: StoreMode::Add,
            silent: true,
            flags: vec![Flag::Deleted],
            unchanged_since: Some(12_121_230_045),
        })
    );
    assert!(matches!(
        ok(b"d105 STORE 7,5,9 (UNCHANGEDSINCE 0) -FLAGS (\\Seen)"),
        C::Store(StoreArgs {
            unchanged_since: Some(0),
            ..
        })
    ));
    assert_eq!(Flag::Keyword(b"$Junk").as_bytes(), b"$Junk");
    assert_eq!(Flag::Seen.as_bytes(), b"\\Seen");

    for input in [
        &b"a STORE 1 FLAGS"[..],
        b"a STORE 1 FLAGS ",
        b"a STORE 1 +FLAGS (\\Recent)",
        b"a STORE 1 +FLAGS \\Recent",
        b"a STORE 1 +FLAGS (\\Foo)",
        b"a STORE 1 +FLAGS (\\)",
        b"a STORE 1 +FLAG (\\Seen)",
        b"a STORE 1 *FLAGS (\\Seen)",
        b"a STORE 1 FLAGS (\\Seen",
        b"a STORE 1 FLAGS (a]b)",
        b"a STORE 1 FLAGS (\"quoted\")",
        b"a STORE 1 (FOO 1) FLAGS ()",
        b"a STORE 1 (UNCHANGEDSINCE) FLAGS ()",
        b"a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()",
        b"a STORE 1 (UNCHANGEDSINCE 1)FLAGS ()",
        b"a STORE FLAGS ()",
        b"a STORE 1 FLAGS \\Seen ",
    ] {
        bad_tagged(input);
    }
}

#[test]
fn copy_move_expunge() {
    assert_eq!(
        ok(b"A003 COPY 2:4 MEETING"),
        C::Copy {
            uid: false,
            set: set(&[(Num(2), Num(4))]),
            mailbox: mbox("MEETING")
        }
    );
    assert_eq!(
        ok(b"A004 UID COPY 4827313:4828442 \"Saved Mail\""),
        C::Copy {
            uid: true,
            set: set(&[(Num(4_827_313), Num(4_828_442))]),
            mailbox: mbox("Saved Mail")
        }
    );
    // RFC 6851 §4.
    assert_eq!(
        ok(b"a UID MOVE 42:69 foo"),
        C::Move {
            uid: true,
            set: set(&[(Num(42), Num(69))]),
            mailbox: mbox("foo")
        }
    );
    assert_eq!(
        ok(b"a move 1 inbox"),
        C::Move {
            uid: false,
            set: set(&[(Num(1), Num(1))]),
            mailbox: mbox("INBOX")
        }
    );
    // RFC 4315 §2.1.
    assert_eq!(
        ok(b"A003 UID EXPUNGE 3000:3002"),
        C::UidExpunge(set(&[(Num(3000), Num(3002))]))
    );
    assert_eq!(
        ok(b"a UID EXPUNGE 1:*"),
        C::UidExpunge(set(&[(Num(1), Star)]))
    );
    for input in [
        &b"a COPY 1"[..],
        b"a COPY x y",
        b"a COPY 1 x y",
        b"a MOVE 1:",
        b"a UID EXPUNGE",
        b"a UID EXPUNGE 0",
        b"a UID",
        b"a UID LIST",
    ] {
        bad_tagged(input);
    }
}

// ---- ID, ENABLE ----

#[test]
fn id_and_enable() {
    // RFC 2971 §3.1.
    assert_eq!(
        ok(b"a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")"),
        C::Id(Some(vec![
            (b("name"), Some(b("sodr"))),
            (b("version"), Some(b("19.34"))),
            (b("vendor"), Some(b("Pink Floyd Music Limited"))),
        ]))
    );
    assert_eq!(ok(b"a ID NIL"), C::Id(None));
    assert_eq!(ok(b"a ID nil"), C::Id(None));
    assert_eq!(ok(b"a ID ()"), C::Id(Some(vec![])));
    assert_eq!(
        ok(b"a ID (\"name\" NIL {7}\r\nos-name \"\")"),
        C::Id(Some(vec![(b("name"), None), (b("os-name"), Some(b("")))]))
    );
    for input in [
        &b"a ID"[..],
        b"a ID (name \"x\")",
        b"a ID (\"name\")",
        b"a ID (\"name\" x)",
        b"a ID FOO",
        b"a ID (\"a\" \"b\"",
    ] {
        bad_tagged(input);
    }
    let many = format!("a ID ({})", vec!["\"k\" \"v\""; 65].join(" "));
    bad_tagged(many.as_bytes());

    // RFC 5161 §4.
    assert_eq!(
        ok(b"t2 ENABLE CONDSTORE X-GOOD-IDEA"),
        C::Enable(vec![b"CONDSTORE", b"X-GOOD-IDEA"])
    );
    assert_eq!(ok(b"a enable qresync"), C::Enable(vec![b"qresync"]));
    bad_tagged(b"a ENABLE");
    bad_tagged(b"a ENABLE ");
    bad_tagged(b"a ENABLE (QRESYNC)");
}

// ---- the RFC 3501 §8 sample dialogue, client side ----

#[test]
fn rfc3501_sample_dialogue() {
    let lines: [&[u8]; 7] = [
        b"a001 login mrc secret",
        b"a002 select inbox",
        b"a003 fetch 12 full",
        b"a004 fetch 12 body[header]",
        b"a005 store 12 +flags \\deleted",
        b"a006 logout",
        b"a007 noop",
    ];
    let names: Vec<&str> = lines.iter().map(|l| ok(l).name()).collect();
    assert_eq!(
        names,
        [
            "LOGIN", "SELECT", "FETCH", "FETCH", "STORE", "LOGOUT", "NOOP"
        ]
    );
}

// ---- assembling commands the way the session does ----

/// Plays the session's reading loop over `wire` (a client's byte stream)
/// and returns each assembled command.
fn assemble(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut commands = Vec::new();
    let mut rest = wire;
    let mut buf = Vec::new();
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("line end");
        let line = &rest[..end];
        rest = &rest[end + 2..];
        buf.extend_from_slice(line);
        match literal_at_end(line) {
            None => commands.push(std::mem::take(&mut buf)),
            Some(lit) => {
                let n = lit.len as usize;
                buf.extend_from_slice(b"\r\n");
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
        }
    }
    commands
}

#[test]
fn session_assembly() {
    let wire = b"a1 LOGIN {3}\r\nbob {5+}\r\np}{1}\r\n\
a2 SEARCH CHARSET UTF-8 SUBJECT {4}\r\n\xc3\xa4\r\n FROM {3}\r\n{3}\r\n\
a3 APPEND Drafts (\\Draft) {7+}\r\nhi\r\n{1}\r\n\
a4 NOOP\r\n";
    let cmds = assemble(wire);
    assert_eq!(cmds.len(), 4);
    assert_eq!(
        parse_command(&cmds[0]).unwrap().kind,
        C::Login {
            user: b("bob"),
            password: b("p}{1}")
        }
    );
    match parse_command(&cmds[1]).unwrap().kind {
        C::Search {
            key: SearchKey::And(keys),
            ..
        } => {
            assert_eq!(
                keys,
                vec![
                    SearchKey::Subject(b("\u{e4}\r\n")),
                    SearchKey::From(b("{3}"))
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match parse_command(&cmds[2]).unwrap().kind {
        C::Append { message, flags, .. } => {
            assert_eq!(message, b"hi\r\n{1}");
            assert_eq!(flags, vec![Flag::Draft]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(parse_command(&cmds[3]).unwrap().kind, C::Noop);
}

// ---- fuzzing ----

/// A small LCG (Knuth's MMIX constants): deterministic, no dependencies.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const CORPUS: &[&[u8]] = &[
    b"a CAPABILITY",
    b"a001 login mrc secret",
    b"a LOGIN {3}\r\nbob {5+}\r\nhello",
    b"a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=",
    b"A02 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:15,20 41:55,70)))",
    b"a EXAMINE x (CONDSTORE)",
    br"a CREATE Stuff (USE (\All \Drafts))",
    b"a RENAME inbox {8+}\r\nOld Mail",
    b"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" %) RETURN (CHILDREN STATUS (MESSAGES HIGHESTMODSEQ))",
    b"A002 LSUB \"#news.\" \"comp.mail.*\"",
    b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
    b"a APPEND INBOX (\\Seen $Forwarded) \"07-Feb-1994 21:52:25 -0800\" {5}\r\nhello",
    b"a SEARCH CHARSET UTF-8 OR (FROM a TO {3}\r\nb}c) NOT HEADER X-Y \"\" SINCE 1-Feb-1994 2:4,* UID 1:5 MODSEQ \"/flags/\\\\draft\" all 5",
    b"a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS.NOT (Received)]<0.100> BODY[] MODSEQ) (CHANGEDSINCE 5 VANISHED)",
    b"a FETCH 12 full",
    b"a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)",
    b"a UID MOVE 42:69 foo",
    b"A003 UID EXPUNGE 3000:3002",
    b"a023 ID (\"name\" \"sodr\" \"version\" NIL)",
    b"t2 ENABLE CONDSTORE X-GOOD-IDEA",
];

/// Bytes that matter to the grammar, to make mutations interesting.
const INTERESTING: &[u8] = b" ()[]<>{}+-*%\\\".:,0123456789\r\n\x00\xffAZaz=$~";

fn mutate(rng: &mut Lcg, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            1 => {
                let i = rng.below(len + 1);
                input.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                input.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                let chunk = input[i..i + n].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            4 => input.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            6 => {
                // Splice in a piece of another command.
                let other = CORPUS[rng.below(CORPUS.len())];
                let i = rng.below(other.len());
                let n = rng.below(other.len() - i + 1);
                let at = rng.below(len + 1);
                input.splice(at..at, other[i..i + n].iter().copied());
            }
            _ => {
                // Repeat a byte, to stretch lists and nesting.
                if len > 0 {
                    let i = rng.below(len);
                    let b = input[i];
                    let n = rng.below(64);
                    input.splice(i..i, std::iter::repeat_n(b, n));
                }
            }
        }
    }
}

#[test]
fn corpus_parses() {
    for input in CORPUS {
        ok(input);
    }
}

#[test]
fn fuzz_mutations_never_panic() {
    let mut rng = Lcg(0x5eed_1234_abcd);
    let mut parsed = 0usize;
    for round in 0..200_000 {
        let mut input = CORPUS[round % CORPUS.len()].to_vec();
        mutate(&mut rng, &mut input);
        match parse_command(&input) {
            Ok(cmd) => {
                parsed += 1;
                assert!(input.starts_with(cmd.tag));
                let _ = cmd.kind.name();
            }
            Err(e) => {
                if let Some(tag) = e.tag {
                    assert!(input.starts_with(tag));
                }
                assert!(!e.reason.is_empty());
            }
        }
        let _ = literal_at_end(&input);
        let _ = peek_tag(&input);
    }
    // Some mutations must survive, or the fuzzer tests nothing but errors.
    assert!(parsed > 1_000, "{parsed}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(42);
    for _ in 0..50_000 {
        let len = rng.below(64);
        let mut input = b"a ".to_vec();
        input.extend((0..len).map(|_| INTERESTING[rng.below(INTERESTING.len())]));
        let _ = parse_command(&input);
        let _ = parse_command(&input[2..]);
    }
}

// ---- sequence sets through commands ----

#[test]
fn sequence_sets_resolve() {
    match ok(b"a FETCH 4:2,*,10:* FLAGS") {
        C::Fetch(FetchArgs { set, .. }) => {
            assert_eq!(set.iter(12).collect::<Vec<_>>(), vec![2, 3, 4, 10, 11, 12]);
            assert!(set.contains(12, 12) && !set.contains(5, 12));
            assert_eq!(set.highest(12), 12);
        }
        other => panic!("{other:?}"),
    }
    let long = format!("a FETCH {} FLAGS", vec!["1"; MAX_SEQUENCE_RANGES].join(","));
    ok(long.as_bytes());
    let too_long = format!(
        "a FETCH {} FLAGS",
        vec!["1"; MAX_SEQUENCE_RANGES + 1].join(",")
    );
    assert_eq!(bad_tagged(too_long.as_bytes()), "sequence set too long");
}

/// RFC 9208 §4.1-§4.3 (formal syntax §7).
#[test]
fn quota_commands() {
    assert_eq!(ok(b"a GETQUOTA \"\""), C::GetQuota(Cow::Borrowed(b"")));
    assert_eq!(ok(b"a getquotaroot inbox"), C::GetQuotaRoot(mbox("INBOX")));
    assert_eq!(
        ok(b"a SETQUOTA \"\" (STORAGE 512 MESSAGE 10)"),
        C::SetQuota(Cow::Borrowed(b""))
    );
    assert_eq!(
        ok(b"a SETQUOTA root ()"),
        C::SetQuota(Cow::Borrowed(b"root"))
    );
    for input in [
        &b"a GETQUOTA"[..],
        b"a GETQUOTAROOT",
        b"a SETQUOTA \"\" (STORAGE)",
        b"a SETQUOTA \"\" (STORAGE x)",
        b"a SETQUOTA \"\" STORAGE 1",
    ] {
        assert!(parse_command(input).is_err(), "{input:?}");
    }
    assert!(super::is_append(b"a7 append INBOX {20}"));
    assert!(!super::is_append(b"a7 APPENDX INBOX {20}"));
    assert!(!super::is_append(b"a7 LOGIN {3}"));
}

/// RFC 8474 §5, §6: EMAILID and THREADID as FETCH items and SEARCH keys;
/// MAILBOXID as a STATUS item.
#[test]
fn objectid_items_and_keys() {
    let C::Fetch(args) = ok(b"a FETCH 1 (emailid THREADID)") else {
        panic!()
    };
    assert_eq!(args.items, [FetchItem::EmailId, FetchItem::ThreadId]);
    assert_eq!(
        ok(b"a SEARCH EMAILID M12 THREADID T-a_1"),
        C::Search {
            uid: false,
            ret: None,
            charset: None,
            key: SearchKey::And(vec![
                SearchKey::EmailId(b"M12"),
                SearchKey::ThreadId(b"T-a_1")
            ]),
        }
    );
    let C::Status { items, .. } = ok(b"a STATUS x (MAILBOXID)") else {
        panic!()
    };
    assert_eq!(items, [StatusItem::MailboxId]);
    for input in [
        &b"a SEARCH EMAILID"[..],
        b"a SEARCH EMAILID \"M1\"",
        b"a SEARCH THREADID .",
    ] {
        assert!(parse_command(input).is_err(), "{input:?}");
    }
}

/// RFC 8970 §7: PREVIEW with and without `(LAZY)`, among other items.
#[test]
fn preview_item() {
    for input in [
        &b"a FETCH 1 PREVIEW"[..],
        b"a FETCH 1 (PREVIEW)",
        b"a FETCH 1 (PREVIEW (LAZY))",
        b"a FETCH 1 (preview (lazy) FLAGS)",
    ] {
        let C::Fetch(args) = ok(input) else { panic!() };
        assert_eq!(args.items[0], FetchItem::Preview, "{input:?}");
    }
    let C::Fetch(args) = ok(b"a FETCH 1 (PREVIEW FLAGS)") else {
        panic!()
    };
    assert_eq!(args.items, [FetchItem::Preview, FetchItem::Flags]);
    for input in [
        &b"a FETCH 1 (PREVIEW (FAST))"[..],
        b"a FETCH 1 (PREVIEW ())",
    ] {
        assert!(parse_command(input).is_err(), "{input:?}");
    }
}

/// RFC 4469 §5: `CATENATE (TEXT {n} URL "..." ...)` as the message, also
/// in a MULTIAPPEND; an empty list, an unknown part or a TEXT that is not
/// a literal is BAD.
#[test]
fn rfc4469_5_catenate_parts() {
    match ok(b"a APPEND Drafts (\\Draft) CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=2\" TEXT {3}\r\nabc text ~{1}\r\nz) {2}\r\nhi") {
        C::Append {
            message,
            catenate,
            more,
            ..
        } => {
            assert!(message.is_empty());
            assert_eq!(
                catenate,
                vec![
                    CatPart::Url(Cow::Borrowed(&b"/INBOX;UIDVALIDITY=1/;UID=2"[..])),
                    CatPart::Text(b"abc"),
                    CatPart::Text(b"z"),
                ]
            );
            assert_eq!(more[0].message, b"hi");
            assert!(more[0].catenate.is_empty());
        }
        other => panic!("{other:?}"),
    }
    for input in [
        &b"a APPEND x CATENATE ()"[..],
        b"a APPEND x CATENATE (TEXT \"abc\")",
        b"a APPEND x CATENATE (FOO {1}\r\nx)",
        b"a APPEND x CATENATE URL \"/x\"",
    ] {
        bad(input);
    }
}

/// RFC 6855 §4: `APPEND mailbox [flags] [date] UTF8 (~{n}...)`, also as a
/// MULTIAPPEND message; the literal8 must be inside the parentheses.
#[test]
fn append_utf8_literal8() {
    match ok(b"a APPEND x (\\Seen) UTF8 (~{2}\r\nhi) utf8 (~{1+}\r\nz)") {
        C::Append {
            message,
            utf8,
            more,
            flags,
            ..
        } => {
            assert!(utf8 && more[0].utf8);
            assert_eq!((message, more[0].message), (&b"hi"[..], &b"z"[..]));
            assert_eq!(flags, vec![Flag::Seen]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ok(b"a APPEND x {2}\r\nhi"),
        C::Append { utf8: false, .. }
    ));
    for input in [
        &b"a APPEND x UTF8 {2}\r\nhi"[..],
        b"a APPEND x UTF8 ({2}\r\nhi)",
        b"a APPEND x UTF8 (~{2}\r\nhi",
    ] {
        assert!(parse_command(input).is_err(), "{input:?}");
    }
}

// ---- SORT, THREAD, ESEARCH ----

#[test]
fn sort_thread_and_search_return_rfc5256_rfc4731() {
    match ok(b"a UID SORT (REVERSE DATE subject DISPLAYFROM) UTF-8 ALL") {
        C::Sort {
            uid: true,
            ret: None,
            criteria,
            charset,
            key: SearchKey::All,
        } => {
            assert_eq!(charset, Cow::Borrowed(&b"UTF-8"[..]));
            let keys: Vec<_> = criteria.iter().map(|c| (c.reverse, c.key)).collect();
            assert_eq!(
                keys,
                [
                    (true, SortKey::Date),
                    (false, SortKey::Subject),
                    (false, SortKey::DisplayFrom)
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match ok(b"a SORT RETURN (MIN COUNT) (SIZE) US-ASCII SEEN") {
        C::Sort { ret: Some(r), .. } => assert!(r.min && r.count && !r.max && !r.all),
        other => panic!("{other:?}"),
    }
    match ok(b"a THREAD REFERENCES UTF-8 SINCE 1-Feb-1994") {
        C::Thread {
            uid: false,
            algorithm: ThreadAlgorithm::References,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ok(b"a UID THREAD refs UTF-8 ALL"),
        C::Thread {
            uid: true,
            algorithm: ThreadAlgorithm::Refs,
            ..
        }
    ));
    match ok(b"a UID SEARCH RETURN (COUNT PARTIAL -100:-1) ALL") {
        C::Search { ret: Some(r), .. } => assert_eq!(
            r.partial,
            Some(Window {
                from_end: true,
                first: 1,
                last: 100
            })
        ),
        other => panic!("{other:?}"),
    }
    // RFC 4731 §3.1: RETURN () means ALL.
    match ok(b"a SEARCH RETURN () CHARSET UTF-8 ALL") {
        C::Search {
            ret: Some(r),
            charset: Some(_),
            ..
        } => assert!(r.all && !r.min),
        other => panic!("{other:?}"),
    }
    for input in [
        &b"a SORT () UTF-8 ALL"[..],
        b"a SORT (DATE) ALL",
        b"a SORT (REVERSE) UTF-8 ALL",
        b"a SORT (BOGUS) UTF-8 ALL",
        b"a SORT DATE UTF-8 ALL",
        b"a THREAD BOGUS UTF-8 ALL",
        b"a THREAD REFERENCES UTF-8",
        // RFC 9394 §3.1: PARTIAL takes first:last or -first:-last, not
        // zero, and not beside ALL.
        b"a SEARCH RETURN (PARTIAL 1:5 ALL) ALL",
        b"a SEARCH RETURN (PARTIAL -1:5) ALL",
        b"a SEARCH RETURN (PARTIAL 0:5) ALL",
        b"a SEARCH RETURN (PARTIAL) ALL",
    ] {
        bad_tagged(input);
    }
}

#[test]
fn rfc5267_4_2_update_context_and_cancelupdate() {
    use CommandKind as C;
    // UPDATE or CONTEXT alone leave the result itself to come: ALL.
    match ok(b"a UID SEARCH RETURN (UPDATE) UNSEEN") {
        C::Search { ret: Some(r), .. } => assert!(r.update && r.all && !r.context),
        other => panic!("{other:?}"),
    }
    match ok(b"a SORT RETURN (CONTEXT COUNT UPDATE) (DATE) UTF-8 ALL") {
        C::Sort { ret: Some(r), .. } => assert!(r.update && r.context && r.count && !r.all),
        other => panic!("{other:?}"),
    }
    match ok(b"a CANCELUPDATE \"B01\" {3}\r\nB02") {
        C::CancelUpdate(tags) => assert_eq!(tags, [&b"B01"[..], &b"B02"[..]]),
        other => panic!("{other:?}"),
    }
    bad(b"a CANCELUPDATE");
    bad(b"a CANCELUPDATE B01");
}
