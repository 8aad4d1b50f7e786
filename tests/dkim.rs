//! DKIM signing of outbound mail (RFC 6376, RFC 8463), checked by two
//! independent verifiers: Debian's python3-dkim (dkimpy) and npm mailauth
//! (installed by scripts/setup.sh into target/nodedeps), each with its DNS
//! answers taken from the TXT records `smolmail dkim add` printed (no real
//! DNS). The mail is submitted on port 587 and leaves through a relay
//! host, a second smolmail, whose inbox is what gets verified: the message
//! as it arrived, after two servers' trace fields.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{PATIENCE, Server, TempDir, add_user, admin, inbox, require_tool, run_with_stdin};

/// The TXT records of `smolmail dkim add` output, as (owner, text): the
/// quoted strings of a line joined (RFC 6376 §3.6.2.2).
fn txt_records(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter(|l| !l.starts_with(';') && l.contains(" TXT "))
        .map(|l| {
            let owner = l.split_whitespace().next().unwrap().to_string();
            let strings = &l[l.find('"').unwrap()..];
            let text: String = strings
                .split('"')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            (owner, text)
        })
        .collect()
}

/// Runs dkimpy on `message`: one line per signature, "a= verdict", and the
/// same for a copy with the body changed.
const VERIFY: &str = r#"
import sys, json, dkim
records = json.load(open(sys.argv[2]))
def dns(name, timeout=5):
    return records.get(name.decode().lower().rstrip("."), "").encode() or None
msg = open(sys.argv[1], "rb").read()
for copy, m in (("original", msg), ("tampered", msg.replace(b"lost the game", b"won the game"))):
    sigs = [h for h in dkim.DKIM(m).headers if h[0].lower() == b"dkim-signature"]
    for i in range(len(sigs)):
        try:
            ok = dkim.DKIM(m).verify(idx=i, dnsfunc=dns)
        except dkim.DKIMException as e:
            print(copy, e, file=sys.stderr)
            ok = False
        a = [t.split(b"=", 1)[1].strip() for t in sigs[i][1].split(b";") if t.strip().startswith(b"a=")][0]
        print(copy, a.decode(), ok)
"#;

fn dkimpy(dir: &Path, message: &[u8], records: &[(String, String)]) -> String {
    // dkimverify proves the package is there; its module is Debian's
    // python3's (the `python3` first in PATH may be another one).
    require_tool("dkimverify", "python3-dkim");
    let python = "/usr/bin/python3";
    let msg = dir.join("arrived.eml");
    std::fs::write(&msg, message).unwrap();
    let json = dir.join("records.json");
    let pairs: Vec<String> = records
        .iter()
        .map(|(o, t)| format!("{:?}: {:?}", o.trim_end_matches('.'), t))
        .collect();
    std::fs::write(&json, format!("{{{}}}", pairs.join(", "))).unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(VERIFY)
        .arg(&msg)
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads mailauth's JSON report on stdin; prints one line per DKIM
/// signature: "a= result comment".
const MAILAUTH_SUMMARY: &str = r#"
let s = "";
process.stdin.on("data", d => (s += d)).on("end", () => {
    for (const r of JSON.parse(s).dkim.results)
        console.log(r.algo, r.status.result, r.status.comment || "");
});
"#;

/// Runs `mailauth report` on `message` (written as `dir/name`) with its
/// DNS answers from a file (`--dns-cache`: owner -> type -> answers, TXT
/// answers as lists of strings) holding only `records`: its resolver then
/// answers every other name "not found" and never asks real DNS, which
/// the verbose log's "(using cache)" on every query confirms (a key can
/// only pass by coming from the file). Returns the summary lines, sorted.
fn mailauth(dir: &Path, name: &str, message: &[u8], records: &[(String, String)]) -> Vec<String> {
    let node = require_tool("node", "nodejs");
    let cli = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/nodedeps/node_modules/mailauth/bin/mailauth.js");
    assert!(
        cli.is_file(),
        "mailauth is missing: run scripts/setup.sh (npm install --prefix target/nodedeps mailauth)"
    );
    let msg = dir.join(name);
    std::fs::write(&msg, message).unwrap();
    let json = dir.join("mailauth-dns.json");
    let owners: Vec<String> = records
        .iter()
        .map(|(o, t)| format!("{:?}: {{\"TXT\": [[{:?}]]}}", o.trim_end_matches('.'), t))
        .collect();
    std::fs::write(&json, format!("{{{}}}", owners.join(", "))).unwrap();
    let report = Command::new(&node)
        .arg(&cli)
        .args(["report", "--verbose", "--dns-cache"])
        .arg(&json)
        .args(["--client-ip", "127.0.0.1", "--sender", "alice@home.arpa"])
        .args(["--helo", "home.arpa", "--mta", "provider.test"])
        .arg(&msg)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&report.stderr);
    assert!(report.status.success(), "mailauth report: {log}");
    // Every name it looked up (DMARC, SPF, the keys) came from the file.
    assert!(
        log.lines()
            .filter(|l| l.starts_with("DNS query"))
            .all(|l| l.ends_with("(using cache)")),
        "mailauth asked DNS outside the file: {log}"
    );
    let summary = run_with_stdin(
        Command::new(&node).arg("-e").arg(MAILAUTH_SUMMARY),
        &String::from_utf8_lossy(&report.stdout),
    );
    assert!(
        summary.status.success(),
        "mailauth summary: {}",
        String::from_utf8_lossy(&summary.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&summary.stdout)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    lines.sort();
    lines
}

#[test]
fn rfc6376_rfc8463_outbound_mail_signed_with_ed25519_and_rsa_verifies_elsewhere() {
    // The relay host: a second smolmail taking our relay user's mail.
    let provider_data = TempDir::new("dkim-provider");
    add_user(&provider_data.0, "alice@home.arpa", "relay-pw");
    add_user(&provider_data.0, "bob@provider.test", "bob-pw");
    let provider = Server::start(&provider_data.0, &[]);
    let ca = provider_data
        .0
        .join("tls/selfsigned-cert.pem")
        .display()
        .to_string();

    let data = TempDir::new("dkim-home");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let printed = admin(
        &data.0,
        &["dkim", "add", "home.arpa", "--selector", "t1"],
        "",
    );
    let records = txt_records(&printed);
    assert_eq!(records.len(), 2, "{printed}");
    assert!(
        records[0].0.starts_with("t1-ed25519._domainkey.home.arpa"),
        "{printed}"
    );
    assert!(
        records[1].1.starts_with("v=DKIM1; k=rsa; p=MIIB"),
        "{printed}"
    );
    let listed = admin(&data.0, &["dkim", "list"], "");
    assert!(
        listed.contains("home.arpa t1-rsa rsa-sha256 signing"),
        "{listed}"
    );
    // A second domain of ours with keys, which alice may not send as.
    add_user(&data.0, "ceo@other.arpa", "ceo-pw");
    admin(
        &data.0,
        &["dkim", "add", "other.arpa", "--selector", "o1"],
        "",
    );

    let password = data.0.join("relay-password");
    std::fs::write(&password, "relay-pw\n").unwrap();
    let relay = format!("localhost:{}", provider.port("submission"));
    let pw = password.display().to_string();
    let server = Server::start(
        &data.0,
        &[
            "--relay-host",
            &relay,
            "--relay-tls",
            "starttls",
            "--relay-ca",
            &ca,
            "--relay-user",
            "alice@home.arpa",
            "--relay-password-file",
            &pw,
        ],
    );
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<alice@home.arpa>", "250");
    c.cmd("RCPT TO:<bob@provider.test>", "250");
    c.cmd("DATA", "354");
    c.send(
        b"From: Alice <alice@home.arpa>\r\nTo: Bob <bob@provider.test>\r\n\
          Subject: dinner\r\n   tonight?\r\nMIME-Version: 1.0\r\n\
          Content-Type: text/plain\r\n\r\nWe lost the game.  Hungry?  \r\n\r\n\r\n.\r\n",
    );
    c.expect("250");
    c.cmd("QUIT", "221");
    server.wait_until(PATIENCE, "delivery through the relay", || {
        inbox(&provider_data.0, "bob@provider.test").len() == 1
    });
    server.wait_for_log("DKIM-signed d=home.arpa s=t1-ed25519,t1-rsa");
    let arrived = inbox(&provider_data.0, "bob@provider.test").remove(0);
    let text = String::from_utf8_lossy(&arrived);
    assert_eq!(text.matches("DKIM-Signature:").count(), 2, "{text}");
    assert!(text.contains("h=from:from:"), "From oversigned: {text}");

    // RFC 7489 §3.1: a signature of ours vouches for the From domain, so
    // a From the client may not use (here another of our domains, from a
    // trusted-network client whose envelope is home.arpa) goes unsigned.
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<alice@home.arpa>", "250");
    c.cmd("RCPT TO:<bob@provider.test>", "250");
    c.cmd("DATA", "354");
    c.send(
        b"From: CEO <ceo@other.arpa>\r\nTo: bob@provider.test\r\nSubject: pay\r\n\r\nNow.\r\n.\r\n",
    );
    c.expect("250");
    c.cmd("QUIT", "221");
    server.wait_until(PATIENCE, "the second message through the relay", || {
        inbox(&provider_data.0, "bob@provider.test").len() == 2
    });
    server.wait_for_log(
        "not DKIM-signed: From <ceo@other.arpa> is not an address this client may send as",
    );
    let forged = inbox(&provider_data.0, "bob@provider.test").remove(1);
    let forged = String::from_utf8_lossy(&forged);
    assert!(!forged.contains("DKIM-Signature:"), "{forged}");

    let verdicts = dkimpy(&data.0, &arrived, &records);
    let mut lines: Vec<&str> = verdicts.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "original ed25519-sha256 True",
            "original rsa-sha256 True",
            "tampered ed25519-sha256 False",
            "tampered rsa-sha256 False",
        ],
        "{text}"
    );

    // The second verifier, another implementation in another language:
    // both signatures pass as the mail arrived. A changed body fails the
    // body hash (RFC 6376 §3.7), which mailauth reports as "neutral"; a
    // changed signed header field fails the signature itself.
    assert_eq!(
        mailauth(&data.0, "arrived.eml", &arrived, &records),
        ["ed25519-sha256 pass", "rsa-sha256 pass"],
        "{text}"
    );
    let body = text.replace("lost the game", "won the game");
    assert_ne!(body, text);
    assert_eq!(
        mailauth(&data.0, "body-changed.eml", body.as_bytes(), &records),
        [
            "ed25519-sha256 neutral body hash did not verify",
            "rsa-sha256 neutral body hash did not verify",
        ],
        "{body}"
    );
    let header = text.replace("Subject: dinner", "Subject: lunch");
    assert_ne!(header, text);
    assert_eq!(
        mailauth(&data.0, "header-changed.eml", header.as_bytes(), &records),
        [
            "ed25519-sha256 fail bad signature",
            "rsa-sha256 fail bad signature",
        ],
        "{header}"
    );
}

// ------------------------------------------------------------ inbound --

/// A DNS server on loopback UDP that answers TXT questions from `zone`
/// (name without the trailing dot, text), NXDOMAIN otherwise.
fn txt_dns(zone: Vec<(String, String)>) -> u16 {
    use simple_dns::rdata::{RData, TXT};
    use simple_dns::{CLASS, Name, Packet, RCODE, ResourceRecord};
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, from)) = udp.recv_from(&mut buf) else {
                return;
            };
            let Ok(q) = Packet::parse(&buf[..n]) else {
                continue;
            };
            let Some(question) = q.questions.first().cloned() else {
                continue;
            };
            let name = question.qname.to_string().to_ascii_lowercase();
            let mut reply = Packet::new_reply(q.id());
            reply.questions.push(question.clone());
            match zone.iter().find(|(n, _)| *n == name.trim_end_matches('.')) {
                None => *reply.rcode_mut() = RCODE::NameError,
                Some((_, text)) => {
                    let mut txt = TXT::new();
                    for chunk in text.as_bytes().chunks(255) {
                        txt.add_string(std::str::from_utf8(chunk).unwrap()).unwrap();
                    }
                    reply.answers.push(ResourceRecord::new(
                        Name::new_unchecked(&name),
                        CLASS::IN,
                        60,
                        RData::TXT(txt),
                    ));
                }
            }
            if let Ok(bytes) = reply.build_bytes_vec() {
                let _ = udp.send_to(&bytes, from);
            }
        }
    });
    port
}

/// Signs `message` with dkimpy: Ed25519 (a fresh key, selector `ed`) and
/// RSA (`rsa_pem`, selector `rsa`) for sender.test. Returns the signed
/// message and the Ed25519 public key (base64).
const SIGN: &str = r#"
import sys, json, base64, dkim, nacl.signing
msg = open(sys.argv[1], "rb").read()
rsa = open(sys.argv[2], "rb").read()
key = nacl.signing.SigningKey.generate()
h = [b"from", b"to", b"subject"]
ed = dkim.sign(msg, b"ed", b"sender.test", base64.b64encode(bytes(key)),
               signature_algorithm=b"ed25519-sha256", include_headers=h)
rs = dkim.sign(msg, b"rsa", b"sender.test", rsa, include_headers=h)
print(json.dumps({"public": base64.b64encode(bytes(key.verify_key)).decode(),
                  "signed": (ed + rs + msg).decode()}))
"#;

fn send25(server: &Server, message: &str) {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO sender.test", "250");
    c.cmd("MAIL FROM:<carol@sender.test>", "250");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(message.replace("\r\n.", "\r\n..").as_bytes());
    c.send(b".\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
}

/// The Authentication-Results field of a stored message, unfolded.
fn results(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message).replace("\r\n\t", " ");
    text.lines()
        .filter(|l| l.starts_with("Authentication-Results:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn rfc8601_port25_mail_signed_by_dkimpy_gets_dkim_pass_and_tampered_fail() {
    let data = TempDir::new("dkim-inbound");
    add_user(&data.0, "bob@home.arpa", "bob-pw");
    let openssl = require_tool("openssl", "openssl");
    let pem = data.0.join("rsa.pem");
    let made = std::process::Command::new(&openssl)
        .args(["genrsa", "-traditional", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let der = std::process::Command::new(&openssl)
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(der.status.success());
    let rsa_public = common::b64(&der.stdout);

    let unsigned = data.0.join("unsigned.eml");
    std::fs::write(
        &unsigned,
        "From: Carol <carol@sender.test>\r\nTo: bob@home.arpa\r\nSubject: lunch?\r\n\r\nWe lost the game.\r\n",
    )
    .unwrap();
    require_tool("dkimverify", "python3-dkim");
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", SIGN])
        .arg(&unsigned)
        .arg(&pem)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        let start = json.find(&format!("\"{name}\": \"")).unwrap() + name.len() + 5;
        let end = start + json[start..].find('"').unwrap();
        json[start..end]
            .replace("\\r", "\r")
            .replace("\\n", "\n")
            .replace("\\t", "\t")
    };
    let (ed_public, signed) = (field("public"), field("signed"));

    let dns = txt_dns(vec![
        (
            "ed._domainkey.sender.test".into(),
            format!("v=DKIM1; k=ed25519; p={ed_public}"),
        ),
        (
            "rsa._domainkey.sender.test".into(),
            format!("v=DKIM1; k=rsa; p={rsa_public}"),
        ),
    ]);
    let dns_flag = format!("127.0.0.1:{dns}");
    let server = Server::start(
        &data.0,
        &["--trusted-network", "none", "--dns-server", &dns_flag],
    );
    send25(&server, &signed);
    send25(&server, &signed.replace("lost the game", "won the game"));
    // A field claiming this server's verdict, sent by the client: removed.
    let hostname = {
        server.wait_until(PATIENCE, "two messages", || {
            inbox(&data.0, "bob@home.arpa").len() == 2
        });
        let first = String::from_utf8_lossy(&inbox(&data.0, "bob@home.arpa")[0]).into_owned();
        let by = first.find("\tby ").unwrap() + 4;
        first[by..by + first[by..].find(' ').unwrap()].to_string()
    };
    send25(
        &server,
        &format!(
            "Authentication-Results: {hostname}; dkim=pass header.d=bank.example\r\n\
             From: carol@sender.test\r\nSubject: unsigned\r\n\r\nhi\r\n"
        ),
    );
    server.wait_until(PATIENCE, "three messages", || {
        inbox(&data.0, "bob@home.arpa").len() == 3
    });
    let stored = inbox(&data.0, "bob@home.arpa");

    let good = results(&stored[0]);
    assert!(
        good.starts_with(&format!("Authentication-Results: {hostname}; dkim=pass")),
        "{good}"
    );
    assert!(
        good.contains("header.d=sender.test header.s=ed header.a=ed25519-sha256"),
        "{good}"
    );
    assert!(
        good.contains("dkim=pass header.d=sender.test header.s=rsa header.a=rsa-sha256"),
        "{good}"
    );
    let bad = results(&stored[1]);
    assert_eq!(
        bad.matches("dkim=fail reason=\"body hash did not verify\"")
            .count(),
        2,
        "{bad}"
    );
    let forged = results(&stored[2]);
    assert_eq!(
        forged,
        format!(
            "Authentication-Results: {hostname}; dkim=none; spf=none smtp.mailfrom=sender.test; dmarc=none header.from=sender.test"
        )
    );
    server.wait_for_log("removed 1 Authentication-Results field(s) claiming");
}

/// `dkim rotate` makes new keys that sign while the old ones stay listed
/// (their records stay published until mail signed with them has
/// arrived), a second `dkim add` is refused, `dkim del` of a base removes
/// both of its keys, and a domain that is not local gets no keys.
#[test]
fn dkim_add_rotate_del_keep_one_signing_pair() {
    let data = TempDir::new("dkim-admin");
    admin(&data.0, &["domain", "add", "home.arpa"], "");
    admin(
        &data.0,
        &["dkim", "add", "home.arpa", "--selector", "old"],
        "",
    );
    let run = |args: &[&str]| {
        std::process::Command::new(common::BIN)
            .args(args)
            .env("SMOLMAIL_DATA", &data.0)
            .output()
            .unwrap()
    };
    let again = run(&["dkim", "add", "home.arpa"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("dkim rotate"));
    let rotated = admin(
        &data.0,
        &["dkim", "rotate", "home.arpa", "--selector", "new"],
        "",
    );
    assert_eq!(txt_records(&rotated).len(), 2, "{rotated}");
    assert!(rotated.contains("no longer sign"), "{rotated}");
    let listed = admin(&data.0, &["dkim", "list", "home.arpa"], "");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 4, "{listed}");
    for (selector, state) in [
        ("new-ed25519", "signing"),
        ("new-rsa", "signing"),
        ("old-ed25519", "retired"),
        ("old-rsa", "retired"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!(" {selector} ")) && l.contains(state)),
            "{selector} {state}: {listed}"
        );
    }
    let deleted = admin(
        &data.0,
        &["dkim", "del", "home.arpa", "--selector", "old"],
        "",
    );
    assert_eq!(deleted.lines().count(), 2, "{deleted}");
    assert_eq!(admin(&data.0, &["dkim", "list"], "").lines().count(), 2);
    let foreign = run(&["dkim", "add", "elsewhere.example"]);
    assert!(!foreign.status.success());
    assert!(String::from_utf8_lossy(&foreign.stderr).contains("not a local domain"));
}

/// RFC 8601 §5: whatever way mail comes in unjudged (here port 25 from a
/// trusted network), an Authentication-Results field claiming this
/// server's name is removed before it is stored; another server's stays.
#[test]
fn rfc8601_5_forged_results_removed_from_trusted_mail_too() {
    let data = TempDir::new("dkim-trusted-ar");
    add_user(&data.0, "bob@home.arpa", "bob-pw");
    let server = Server::start(&data.0, &[]);
    send25(
        &server,
        "Authentication-Results: (trust me) \"mail.home.arpa\"; dkim=pass\r\n\
         Authentication-Results: mx.other.example; spf=pass\r\n\
         From: carol@sender.test\r\nSubject: hi\r\n\r\nhello\r\n",
    );
    server.wait_for_log("removed 1 Authentication-Results field(s) claiming mail.home.arpa");
    let stored = inbox(&data.0, "bob@home.arpa").remove(0);
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains("mail.home.arpa\"; dkim=pass"), "{stored}");
    assert!(
        stored.contains("Authentication-Results: mx.other.example; spf=pass"),
        "{stored}"
    );
}
