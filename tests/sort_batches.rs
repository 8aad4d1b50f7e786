//! SORT and THREAD (RFC 5256 §3, §4) over a mailbox larger than one read
//! batch of the search walk and one chunk of the key reads, with
//! messages expunged by another session that the sorting session was not
//! yet told of: the walk over the mailbox's records must skip them, pick
//! up the next message, and give every other message once, in order.

mod common;

use common::imap::Imap;
use common::{Server, TempDir, add_user};

/// More than the 512-message search batch and the 2000-message key chunk.
const COUNT: u32 = 2100;

fn numbers(lines: &[String], head: &str) -> Vec<u32> {
    let line = lines
        .iter()
        .find(|l| l.starts_with(head))
        .unwrap_or_else(|| panic!("no {head:?} in {lines:?}"));
    line[head.len()..]
        .split([' ', '(', ')'])
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.trim().parse().unwrap())
        .collect()
}

#[test]
fn rfc5256_sort_and_thread_across_batches_skip_messages_expunged_elsewhere() {
    let data = TempDir::new("sort-batches");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    let mut a = Imap::login(&server, "alice@home.arpa");
    a.ok("SELECT INBOX");
    for n in 1..=COUNT {
        // Subjects in the reverse of arrival order, each message its own
        // thread; sizes differ so SIZE is not a tie.
        let message = format!(
            "Subject: s{:05}\r\nMessage-ID: <m{n}@x>\r\nFrom: a@example.org\r\n\r\n{}\r\n",
            COUNT - n,
            "x".repeat(n as usize % 7)
        );
        a.ok(&format!("APPEND INBOX {{{}+}}\r\n{message}", message.len()));
    }
    a.ok("NOOP");
    // Another session expunges at the first message, across the first
    // batch boundary and the last message; `a` hears of it only later.
    let gone = [1, 512, 513, 2000, COUNT];
    let mut b = Imap::login(&server, "alice@home.arpa");
    b.ok("SELECT INBOX");
    let set: Vec<String> = gone.iter().map(u32::to_string).collect();
    b.ok(&format!(
        "UID STORE {} +FLAGS.SILENT (\\Deleted)",
        set.join(",")
    ));
    b.ok("EXPUNGE");
    let kept: Vec<u32> = (1..=COUNT).filter(|u| !gone.contains(u)).collect();
    // By sequence number, so no EXPUNGE reaches `a` in between (RFC 3501
    // §7.4.1) and its view stays stale: there a message's sequence
    // number is its UID.

    let arrival = a.ok("SORT (ARRIVAL) UTF-8 ALL");
    assert_eq!(numbers(&arrival, "* SORT"), kept);
    let subject = a.ok("SORT (SUBJECT) UTF-8 ALL");
    let reversed: Vec<u32> = kept.iter().rev().copied().collect();
    assert_eq!(numbers(&subject, "* SORT"), reversed);
    let thread = a.ok("THREAD REFERENCES UTF-8 ALL");
    let mut threaded = numbers(&thread, "* THREAD");
    threaded.sort_unstable();
    assert_eq!(threaded, kept);
    // A search that is not ALL takes the same walk.
    let unseen = a.ok("SORT (ARRIVAL) UTF-8 UNSEEN");
    assert_eq!(numbers(&unseen, "* SORT"), kept);
}

/// RFC 5256 §4 step 1 gives a Message-ID to the first message (in the
/// mailbox's order) that has it, and a reply joins that one. The keys are
/// read from the store in the order of the message bodies, which a COPY
/// shares with an older message: the answer must still follow sequence
/// order, not the copy history.
#[test]
fn rfc5256_4_thread_follows_sequence_order_whatever_the_copy_history() {
    let data = TempDir::new("thread-copy-order");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    let mut a = Imap::login(&server, "alice@home.arpa");
    let append = |a: &mut Imap, mailbox: &str, message: &str| {
        a.ok(&format!(
            "APPEND {mailbox} {{{}+}}\r\n{message}",
            message.len()
        ));
    };
    a.ok("CREATE Other");
    // The older body, later copied into INBOX as its second message.
    append(
        &mut a,
        "Other",
        "Subject: two\r\nMessage-ID: <x@example.org>\r\nDate: Tue, 1 Dec 2026 10:00:02 +0000\r\n\r\nb\r\n",
    );
    append(
        &mut a,
        "INBOX",
        "Subject: one\r\nMessage-ID: <x@example.org>\r\nDate: Tue, 1 Dec 2026 10:00:01 +0000\r\n\r\na\r\n",
    );
    a.ok("SELECT Other");
    a.ok("COPY 1 INBOX");
    a.ok("SELECT INBOX");
    append(
        &mut a,
        "INBOX",
        "Subject: three\r\nReferences: <x@example.org>\r\nDate: Tue, 1 Dec 2026 10:00:03 +0000\r\n\r\nc\r\n",
    );
    // Message 1 holds the id, so 3 is its reply; 2 is a duplicate.
    let lines = a.ok("THREAD REFERENCES UTF-8 ALL");
    assert!(
        lines.iter().any(|l| l.trim_end() == "* THREAD (1 3)(2)"),
        "{lines:?}"
    );
}
