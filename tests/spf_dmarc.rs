//! SPF (RFC 7208) and DMARC (RFC 7489) of port-25 mail, judged against a
//! zone served on loopback by dnslib (PyPI, in target/pydeps; setup.sh
//! installs it) through `--dns-server`: the verdicts in
//! Authentication-Results (RFC 8601 §2.7) and `--dmarc-policy` applied.
//! The client is 127.0.0.1, made an outside sender by
//! `--trusted-network none`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{PATIENCE, Server, TempDir, add_user, require_tool};

const ZONE: &str = r#"
sender.test.        60 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc.sender.test. 60 IN TXT "v=DMARC1; p=reject"
fail.test.          60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.fail.test.   60 IN TXT "v=DMARC1; p=none"
soft.test.          60 IN TXT "v=spf1 a:nowhere.soft.test ~all"
perm.test.          60 IN TXT "v=spf1 ip4:192.0.2.1 include"
viamx.test.         60 IN TXT "v=spf1 mx -all"
viamx.test.         60 IN MX  10 mx.viamx.test.
mx.viamx.test.      60 IN A   127.0.0.1
ptr.test.           60 IN TXT "v=spf1 ptr -all"
1.0.0.127.in-addr.arpa. 60 IN PTR host.ptr.test.
host.ptr.test.      60 IN A   127.0.0.1
client.test.        60 IN TXT "v=spf1 a -all"
client.test.        60 IN A   127.0.0.1
reject.test.        60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.reject.test. 60 IN TXT "v=DMARC1; p=reject"
"#;

/// dnslib's zone resolver on a free loopback UDP port; killed on drop.
struct Dns(Child, u16);

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SERVE: &str = "
import sys, time
from dnslib.server import DNSServer, DNSLogger
from dnslib.zoneresolver import ZoneResolver
quiet = DNSLogger(logf=lambda *a: None)
server = DNSServer(ZoneResolver(sys.stdin.read()), port=0, address='127.0.0.1', logger=quiet)
server.start_thread()
print(server.server.server_address[1], flush=True)
while True:
    time.sleep(60)
";

fn dns(zone: &str) -> Dns {
    require_tool("python3", "python3");
    let pydeps = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pydeps");
    let mut child = Command::new("python3")
        .args(["-c", SERVE])
        .env("PYTHONPATH", pydeps)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(zone.as_bytes()).unwrap();
    }
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .expect("dnslib (target/pydeps) printed its port");
    Dns(child, port)
}

fn start(data: &Path, dns: &Dns, extra: &[&str]) -> Server {
    let flag = format!("127.0.0.1:{}", dns.1);
    let mut args = vec!["--trusted-network", "none", "--dns-server", &flag];
    args.extend_from_slice(extra);
    Server::start(data, &args)
}

/// Sends one message on port 25; returns the reply to the end of DATA.
fn send(server: &Server, mail_from: &str, from: &str) -> String {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd(&format!("MAIL FROM:<{mail_from}>"), "250");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(format!("From: <{from}>\r\nSubject: hi\r\n\r\nhello\r\n.\r\n").as_bytes());
    let reply = c.reply();
    c.cmd("QUIT", "221");
    reply
}

/// The messages of a mailbox of bob@home.arpa.
fn mailbox(data: &Path, name: &str) -> Vec<String> {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    let account = r.account("bob@home.arpa").unwrap().unwrap();
    let mailbox = r.mailbox(account.id, name).unwrap().unwrap();
    r.messages(mailbox.id)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            let blob = r.blob(m.blob_id).unwrap().unwrap().to_vec();
            String::from_utf8_lossy(&blob).replace("\r\n\t", " ")
        })
        .collect()
}

#[test]
fn rfc7208_2_6_spf_pass_fail_softfail_permerror_from_the_zone() {
    let data = TempDir::new("spf-results");
    add_user(&data.0, "bob@home.arpa", "pw");
    let zone = dns(ZONE);
    let server = start(&data.0, &zone, &[]);
    let cases = [
        ("a@sender.test", "spf=pass smtp.mailfrom=sender.test"),
        ("a@fail.test", "spf=fail smtp.mailfrom=fail.test"),
        ("a@soft.test", "spf=softfail smtp.mailfrom=soft.test"),
        ("a@perm.test", "spf=permerror smtp.mailfrom=perm.test"),
        ("a@viamx.test", "spf=pass smtp.mailfrom=viamx.test"),
        ("a@nothing.test", "spf=none smtp.mailfrom=nothing.test"),
        // §5.5: 127.0.0.1's name, confirmed forward, is under ptr.test.
        ("a@ptr.test", "spf=pass smtp.mailfrom=ptr.test"),
        // §2.4: a null sender is checked as postmaster@HELO.
        ("", "spf=pass smtp.mailfrom=client.test"),
    ];
    for (sender, _) in cases {
        let from = if sender.is_empty() {
            "x@client.test"
        } else {
            sender
        };
        assert!(send(&server, sender, from).starts_with("250"));
    }
    server.wait_until(PATIENCE, "all delivered", || {
        mailbox(&data.0, "INBOX").len() == cases.len()
    });
    let got = mailbox(&data.0, "INBOX");
    for (message, (sender, want)) in got.iter().zip(cases) {
        assert!(message.contains(want), "{sender}: {message}");
        // §2.3: HELO is checked too (EHLO client.test, allowed by `a`).
        assert!(
            message.contains("spf=pass smtp.helo=client.test"),
            "{message}"
        );
    }
}

#[test]
fn rfc7489_6_6_dmarc_pass_and_fail_under_p_none_delivered() {
    let data = TempDir::new("dmarc-none");
    add_user(&data.0, "bob@home.arpa", "pw");
    let zone = dns(ZONE);
    let server = start(&data.0, &zone, &[]);
    assert!(send(&server, "a@sender.test", "b@sender.test").starts_with("250"));
    assert!(send(&server, "a@fail.test", "b@fail.test").starts_with("250"));
    // SPF passes for sender.test, but From names fail.test: not aligned.
    assert!(send(&server, "a@sender.test", "b@fail.test").starts_with("250"));
    server.wait_until(PATIENCE, "three delivered", || {
        mailbox(&data.0, "INBOX").len() == 3
    });
    let got = mailbox(&data.0, "INBOX");
    assert!(
        got[0].contains("dmarc=pass header.from=sender.test"),
        "{}",
        got[0]
    );
    assert!(
        got[1].contains("dmarc=fail (p=none) header.from=fail.test"),
        "{}",
        got[1]
    );
    assert!(
        got[2].contains("dmarc=fail (p=none) header.from=fail.test"),
        "{}",
        got[2]
    );
}

#[test]
fn rfc7489_6_7_p_reject_refused_with_550_5_7_1_at_end_of_data() {
    let data = TempDir::new("dmarc-reject");
    add_user(&data.0, "bob@home.arpa", "pw");
    let zone = dns(ZONE);
    let server = start(&data.0, &zone, &[]);
    let reply = send(&server, "a@reject.test", "b@reject.test");
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    server.wait_for_log("refused: DMARC policy of reject.test is reject");
    assert!(mailbox(&data.0, "INBOX").is_empty());
    assert!(mailbox(&data.0, "Junk").is_empty());
}

#[test]
fn rfc7489_6_7_dmarc_policy_junk_delivers_into_junk() {
    let data = TempDir::new("dmarc-junk");
    add_user(&data.0, "bob@home.arpa", "pw");
    let zone = dns(ZONE);
    let server = start(&data.0, &zone, &["--dmarc-policy", "junk"]);
    let reply = send(&server, "a@reject.test", "b@reject.test");
    assert!(reply.starts_with("250"), "{reply}");
    server.wait_until(PATIENCE, "one in Junk", || {
        mailbox(&data.0, "Junk").len() == 1
    });
    let junk = mailbox(&data.0, "Junk");
    assert!(
        junk[0].contains("dmarc=fail (p=reject) header.from=reject.test"),
        "{}",
        junk[0]
    );
    assert!(mailbox(&data.0, "INBOX").is_empty());
    server.wait_for_log("into Junk: fails the DMARC policy (reject) of reject.test");
}

/// `dns-records --check` asks the DNS server of the settings for each
/// record it prints: the MX and TLSRPT records are published as printed,
/// the SPF record differs (an include added), DMARC is missing (RFC 7489
/// §6.1's `_dmarc` name has nothing), SRV lines are not checked.
#[test]
fn dns_records_check_says_what_is_published() {
    let data = TempDir::new("dns-check");
    common::admin(&data.0, &["domain", "add", "example.org"], "");
    let zone = dns(r#"
example.org.             60 IN MX  10 mail.example.org.
example.org.             60 IN TXT "v=spf1 mx include:relay.example -all"
example.org.             60 IN TXT "site-verification=abc"
_smtp._tls.example.org.  60 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@example.org"
"#);
    let out = Command::new(common::BIN)
        .args(["dns-records", "example.org", "--check"])
        .env("SMOLMAIL_DATA", &data.0)
        .env("SMOLMAIL_HOSTNAME", "mail.example.org")
        .env("SMOLMAIL_DNS_SERVER", format!("127.0.0.1:{}", zone.1))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "; example.org MX: ok",
        "; example.org TXT: differs: published \"v=spf1 mx include:relay.example -all\"",
        "; _dmarc.example.org TXT: missing",
        "; _smtp._tls.example.org TXT: ok",
        "; _imaps._tcp.example.org SRV: not checked",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
