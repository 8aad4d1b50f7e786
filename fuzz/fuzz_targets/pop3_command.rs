//! Fuzzes the POP3 command parser (`pop3::parse`, RFC 1939 with RFC 2449,
//! RFC 2595 and RFC 5034) on every line of the input.
//!
//! Checks:
//! - a line parses the same with CRLF, with a bare LF and without either;
//! - keywords are case-insensitive: the line with its keyword upper-cased
//!   parses the same;
//! - PASS keeps its argument byte for byte (RFC 1939 §7: everything after
//!   `PASS `), and USER's name is one space-free argument of the line.
//!
//! Input: lines as a client sends them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::pop3::{self, Command};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        check(line);
    }
});

fn check(line: &[u8]) {
    let parsed = pop3::parse(line);
    if !line.ends_with(b"\r") {
        let crlf = [line, b"\r\n"].concat();
        let lf = [line, b"\n"].concat();
        assert_eq!(parsed, pop3::parse(&crlf), "CRLF changes {line:?}");
        assert_eq!(parsed, pop3::parse(&lf), "LF changes {line:?}");
    }

    let keyword_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let mut upper = line.to_vec();
    upper[..keyword_len].make_ascii_uppercase();
    assert_eq!(parsed, pop3::parse(&upper), "keyword case changes {line:?}");

    let stripped = line.strip_suffix(b"\r").unwrap_or(line);
    let argument = stripped.get(keyword_len + 1..).unwrap_or_default();
    match parsed {
        Ok(Command::Pass(password)) => assert_eq!(password, argument),
        Ok(Command::User(name)) => {
            assert!(!name.is_empty() && !name.contains(' '));
            assert_eq!(name.as_bytes(), trim_spaces(argument));
        }
        _ => {}
    }
}

/// The argument without the spaces around it, which the parser skips.
fn trim_spaces(arg: &[u8]) -> &[u8] {
    let start = arg.iter().position(|&b| b != b' ').unwrap_or(arg.len());
    let end = arg
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |p| p + 1);
    &arg[start..end]
}
