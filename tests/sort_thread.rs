//! SORT, SORT=DISPLAY, THREAD and ESEARCH/ESORT (RFC 5256, 5957, 4731,
//! 5267) through Python's imaplib, compared answer for answer with
//! Debian's Dovecot over the same corpus (tests/data/sort_thread.py).
//! Dovecot runs here on loopback, plain IMAP, with a temporary
//! configuration (tests/common/dovecot.rs); the test fails, naming the package, without it.

mod common;

use std::path::Path;
use std::process::Command;

use common::dovecot::{Dovecot, Options};
use common::{Server, TempDir, add_user};

const USER: &str = "sorter@home.arpa";
const PASSWORD: &str = "sort-pw";

/// Dovecot on plain IMAP with the one test account.
fn dovecot() -> Dovecot {
    Dovecot::start(
        "sort",
        &Options {
            users: &[(USER, PASSWORD)],
            ..Options::default()
        },
    )
}

/// RFC 5256 §3/§4, RFC 5957, RFC 4731, RFC 5267: every SORT key, REVERSE,
/// search criteria, UID SORT, the three THREAD algorithms, ESEARCH and
/// ESORT answer as Dovecot does for the same messages.
#[test]
fn sort_thread_and_esearch_answer_as_dovecot_does() {
    let data = TempDir::new("sort-thread");
    add_user(&data.0, USER, PASSWORD);
    let server = Server::start(&data.0, &[]);
    let dovecot = dovecot();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sort_thread.py");
    let out = Command::new(common::require_tool("python3", "python3"))
        .arg(script)
        .args([&server.port("imap").to_string(), USER, PASSWORD])
        .args([&dovecot.port.to_string(), USER, PASSWORD])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "answers differ from Dovecot's:\n{text}"
    );
}
