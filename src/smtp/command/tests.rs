//! Unit tests of the SMTP command parser: verbs, MAIL/RCPT paths and
//! their ESMTP parameters, the relay tricks that must stay literal, and
//! noise that must never panic. Apart from `command.rs` so the parser
//! reads on its own.

use super::*;

fn path(local: &str, domain: &str) -> Path {
    Path {
        local: local.into(),
        domain: domain.into(),
    }
}

#[test]
fn verbs_and_arguments() {
    assert_eq!(
        parse(b"ehlo client.example\r\n"),
        Ok(Command::Ehlo("client.example"))
    );
    assert_eq!(
        parse(b"HELO [192.0.2.1]\r\n"),
        Ok(Command::Helo("[192.0.2.1]"))
    );
    assert_eq!(parse(b"DATA\r\n"), Ok(Command::Data));
    assert_eq!(parse(b"NOOP hello\r\n"), Ok(Command::Noop));
    assert_eq!(
        parse(b"BDAT 100 LAST\r\n"),
        Ok(Command::Bdat {
            size: 100,
            last: true
        })
    );
    assert_eq!(
        parse(b"BDAT 0\r\n"),
        Ok(Command::Bdat {
            size: 0,
            last: false
        })
    );
    assert_eq!(
        parse(b"AUTH PLAIN AGEAYg==\r\n"),
        Ok(Command::Auth {
            mechanism: "PLAIN",
            initial: Some(b"AGEAYg==")
        })
    );
    assert_eq!(parse(b"XYZZY\r\n"), Err(ParseError::Unknown));
    assert!(matches!(
        parse(b"DATA now\r\n"),
        Err(ParseError::Syntax(..))
    ));
    assert!(matches!(parse(b"EHLO\r\n"), Err(ParseError::Syntax(..))));
    assert!(matches!(parse(b"BDAT x\r\n"), Err(ParseError::Syntax(..))));
}

/// Chunk sizes are u64 whatever the target: 2^32 is a size (refused
/// later for being too big), u64::MAX + 1 is a syntax error.
#[test]
fn bdat_sizes_past_32_bits() {
    assert_eq!(
        parse(b"BDAT 4294967296 LAST\r\n"),
        Ok(Command::Bdat {
            size: 4_294_967_296,
            last: true
        })
    );
    assert_eq!(
        parse(b"BDAT 18446744073709551615\r\n"),
        Ok(Command::Bdat {
            size: u64::MAX,
            last: false
        })
    );
    assert!(matches!(
        parse(b"BDAT 18446744073709551616 LAST\r\n"),
        Err(ParseError::Syntax(..))
    ));
}

#[test]
fn mail_and_params() {
    let Ok(Command::Mail(from, p)) =
        parse(b"MAIL FROM:<Alice@Example.ORG> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1\r\n")
    else {
        panic!()
    };
    assert_eq!(from, ReversePath::Mailbox(path("Alice", "example.org")));
    assert_eq!(p.size, Some(1000));
    assert_eq!(p.body, Body::EightBitMime);
    assert_eq!(p.ret, dsn::Ret::Headers);
    assert_eq!(p.envid.as_deref(), Some("QQ+1"));
    assert!(matches!(
        parse(b"MAIL FROM:<>\r\n"),
        Ok(Command::Mail(ReversePath::Null, _))
    ));
    assert!(matches!(
        parse(b"MAIL FROM: <a@b.example>\r\n"),
        Ok(Command::Mail(..))
    ));
    assert!(matches!(
        parse(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n"),
        Ok(Command::Mail(_, MailParams { smtputf8: true, .. }))
    ));
    assert_eq!(
        parse(b"MAIL FROM:<a@b.example> FOO=1\r\n"),
        Err(ParseError::Parameter("Unsupported MAIL parameter"))
    );
    assert!(matches!(
        parse(b"MAIL FROM:<a@b.example> SIZE=1 SIZE=2\r\n"),
        Err(ParseError::Syntax(..))
    ));
    assert_eq!(
        parse(b"MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"),
        Err(ParseError::Parameter("Unsupported BODY type"))
    );
    assert_eq!(parse(b"MAIL FROM:a@b.example\r\n"), Err(BAD_SENDER));
    assert_eq!(parse(b"MAIL FROM:<a@b.example>x\r\n"), Err(BAD_SENDER));
}

#[test]
fn rcpt_and_dsn() {
    let Ok(Command::Rcpt(to, p)) =
        parse(b"RCPT TO:<bob@home.arpa> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob+40home.arpa\r\n")
    else {
        panic!()
    };
    assert_eq!(to, path("bob", "home.arpa"));
    assert_eq!(p.notify, notify::SUCCESS | notify::DELAY);
    assert_eq!(p.orcpt.as_deref(), Some("rfc822;bob@home.arpa"));
    assert!(matches!(
        parse(b"RCPT TO:<b@x.example> NOTIFY=NEVER,SUCCESS\r\n"),
        Err(ParseError::Parameter(_))
    ));
    let Ok(Command::Rcpt(pm, _)) = parse(b"RCPT TO:<Postmaster>\r\n") else {
        panic!()
    };
    assert_eq!(pm.local, "postmaster");
}

/// The relay tricks of the issue parse into addresses that the policy
/// then treats literally: never as routes to other domains.
#[test]
fn relay_tricks_stay_literal() {
    let Ok(Command::Rcpt(p, _)) = parse(b"RCPT TO:<user%other.example@home.arpa>\r\n") else {
        panic!()
    };
    assert_eq!(
        (p.local.as_str(), p.domain.as_str()),
        ("user%other.example", "home.arpa")
    );
    let Ok(Command::Rcpt(p, _)) = parse(b"RCPT TO:<\"user@other.example\"@home.arpa>\r\n") else {
        panic!()
    };
    assert_eq!(
        (p.local.as_str(), p.domain.as_str()),
        ("\"user@other.example\"", "home.arpa")
    );
    assert_eq!(p.canonical(), "\"user@other.example\"@home.arpa");
    // A source route is dropped: the mailbox is the real destination.
    let Ok(Command::Rcpt(p, _)) = parse(b"RCPT TO:<@home.arpa:user@other.example>\r\n") else {
        panic!()
    };
    assert_eq!(
        (p.local.as_str(), p.domain.as_str()),
        ("user", "other.example")
    );
    let Ok(Command::Rcpt(p, _)) = parse(b"RCPT TO:<user!other.example@home.arpa>\r\n") else {
        panic!()
    };
    assert_eq!(p.domain, "home.arpa");
}

#[test]
fn path_syntax() {
    assert_eq!(
        parse_path("<\"abc\"@x.example>").unwrap().canonical(),
        "abc@x.example"
    );
    assert_eq!(
        parse_path("<\"a b\"@x.example>").unwrap().canonical(),
        "\"a b\"@x.example"
    );
    assert!(parse_path("<a@[192.0.2.1]>").unwrap().is_literal());
    assert!(parse_path("<a@[IPv6:2001:db8::1]>").is_some());
    assert!(parse_path("<a@[300.1.1.1]>").is_none());
    assert!(parse_path("<a..b@x.example>").is_none());
    assert!(parse_path("<a@x_y.example>").is_none());
    assert!(parse_path("<@x.example>").is_none());
    assert!(parse_path("<a@>").is_none());
    assert!(parse_path(&format!("<{}@x.example>", "a".repeat(65))).is_none());
    assert_eq!(
        parse_path("<üser@bücher.example>").unwrap().domain,
        "bücher.example"
    );
    assert_eq!(
        split_path("<\"a>b\"@x.example> SIZE=1"),
        Some(("<\"a>b\"@x.example>", "SIZE=1"))
    );
    // Found by fuzzing: a domain kept in a form that no longer parses.
    assert!(parse_path("<a@\u{130}.example>").is_none());
    assert_eq!(
        parse_path("<a@[IPv6:2001:DB8::1]>").unwrap().domain,
        "[ipv6:2001:db8::1]"
    );
}

#[test]
fn never_panics_on_noise() {
    let mut seed = 12345u64;
    let base = b"MAIL FROM:<\"a\\\"b\"@[IPv6:::1]> SIZE=9 ENVID=+41\r\n";
    for _ in 0..20_000 {
        let mut line = base.to_vec();
        for _ in 0..4 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (seed >> 33) as usize % line.len();
            line[i] = (seed >> 13) as u8;
        }
        let _ = parse(&line);
    }
}
