//! Outbound delivery against real peers on loopback: a test DNS server
//! (`common::dns`: UDP and TCP on one port), a second smolmail as MX
//! and as a provider's relay, Postfix's smtp-sink, and a scripted raw SMTP
//! peer that records the bytes on the wire. Every MX "host" resolves to
//! 127.0.0.x and `--smtp-port-out` points port 25 at the peer's port.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::dns::{Dns, Rr};
use common::{PATIENCE, Server, TempDir, add_user, inbox, openssl_self_signed, queue};

// ---------------------------------------------------------- raw peer --

/// What the raw peer saw: every command line and every DATA payload as
/// the bytes on the wire (dot-stuffed, up to and including `.` CRLF).
#[derive(Default)]
struct Seen {
    commands: Vec<String>,
    data: Vec<Vec<u8>>,
}

/// A scripted SMTP server: announces `extensions`, refuses recipients
/// whose local part starts with `reject` (550 5.1.1), keeps raw DATA.
/// It accepts (250) at most `limit` messages in all; past that it holds
/// each message's reply forever (counting it in `held`), so that a test
/// can stop a sender in the middle of its work at a known point.
struct RawPeer {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    limit: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
}

impl RawPeer {
    fn start(extensions: &'static [&'static str]) -> RawPeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let limit = Arc::new(AtomicUsize::new(usize::MAX));
        let held = Arc::new(AtomicUsize::new(0));
        let (shared, gate) = (seen.clone(), (limit.clone(), held.clone()));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let seen = shared.clone();
                let gate = gate.clone();
                std::thread::spawn(move || {
                    raw_session(stream, extensions, &seen, &gate.0, &gate.1)
                });
            }
        });
        RawPeer {
            port,
            seen,
            limit,
            held,
        }
    }
}

fn raw_session(
    stream: TcpStream,
    extensions: &[&str],
    seen: &Mutex<Seen>,
    limit: &AtomicUsize,
    held: &AtomicUsize,
) {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let _ = out.write_all(b"220 raw.test ESMTP\r\n");
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        seen.lock().unwrap().commands.push(text.clone());
        let upper = text.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            let mut r = String::from("250-raw.test\r\n");
            for e in extensions {
                r.push_str(&format!("250-{e}\r\n"));
            }
            r.push_str("250 ENHANCEDSTATUSCODES\r\n");
            r
        } else if upper.starts_with("MAIL") {
            "250 2.1.0 Ok\r\n".into()
        } else if upper.starts_with("RCPT TO:<REJECT") {
            "550 5.1.1 <reject>: Recipient address rejected: no such user\r\n".into()
        } else if upper.starts_with("RCPT") {
            "250 2.1.5 Ok\r\n".into()
        } else if upper == "DATA" {
            let _ = out.write_all(b"354 go ahead\r\n");
            let mut data = Vec::new();
            while !data.ends_with(b"\r\n.\r\n") && data != b".\r\n" {
                let mut chunk = Vec::new();
                if input.read_until(b'\n', &mut chunk).unwrap_or(0) == 0 {
                    return;
                }
                data.extend_from_slice(&chunk);
            }
            let mut seen = seen.lock().unwrap();
            if seen.data.len() >= limit.load(Ordering::SeqCst) {
                drop(seen);
                held.fetch_add(1, Ordering::SeqCst);
                // No reply, ever: wait for the client to go away.
                let _ = input.read_to_end(&mut Vec::new());
                return;
            }
            seen.data.push(data);
            "250 2.0.0 Ok: queued\r\n".into()
        } else if upper == "QUIT" {
            let _ = out.write_all(b"221 2.0.0 Bye\r\n");
            return;
        } else {
            "250 2.0.0 Ok\r\n".into()
        };
        let _ = out.write_all(reply.as_bytes());
    }
}

// ----------------------------------------------------------- helpers --

fn wait_until(what: &str, limit: Duration, ok: impl FnMut() -> bool, log: &Server) {
    log.wait_until(limit, what, ok);
}

/// Submits one message through `server`'s submission port (loopback is
/// a trusted network, so a local sender needs no AUTH).
fn submit(server: &Server, from: &str, to: &[&str], message: &str) {
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd(&format!("MAIL FROM:<{from}>"), "250");
    for rcpt in to {
        c.cmd(&format!("RCPT TO:<{rcpt}>"), "250");
    }
    c.cmd("DATA", "354");
    c.send(message.as_bytes());
    c.send(b".\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
}

/// Submits raw content with BDAT, which needs no dot-stuffing: the only
/// way to get a lone `.` line into a message.
fn submit_bdat(server: &Server, from: &str, to: &str, content: &[u8]) {
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd(&format!("MAIL FROM:<{from}>"), "250");
    c.cmd(&format!("RCPT TO:<{to}>"), "250");
    c.send(format!("BDAT {} LAST\r\n", content.len()).as_bytes());
    c.send(content);
    c.expect("250");
    c.cmd("QUIT", "221");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The delivery-status part of a DSN, after checking its MIME shape.
fn dsn_status(message: &[u8]) -> String {
    let parsed = mailparse::parse_mail(message).unwrap();
    assert_eq!(
        parsed.ctype.mimetype,
        "multipart/report",
        "{}",
        text(message)
    );
    assert_eq!(
        parsed.ctype.params.get("report-type").map(String::as_str),
        Some("delivery-status")
    );
    let part = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "message/delivery-status")
        .expect("a message/delivery-status part");
    text(&part.get_body_raw().unwrap())
}

/// The times (seconds since the epoch, from the full timestamp) of the
/// log lines that contain `needle`.
fn log_times(log: &str, needle: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains(needle))
        .map(|l| common::log_time(l).unwrap_or_else(|| panic!("no timestamp: {l}")))
        .collect()
}

// ------------------------------------------------------------- tests --

/// The log's timestamps are read in full: differences are right across
/// midnight, a month's end and a year's end.
#[test]
fn log_times_are_read_in_full() {
    let t = |line: &str| common::log_time(line).unwrap();
    assert_eq!(t("[1970-01-01T00:00:00.000Z INFO  x]"), 0.0);
    assert_eq!(t("[2000-03-01T00:00:00.000Z INFO  x]"), 951_868_800.0);
    assert_eq!(t("[2026-11-23T05:18:40.000Z WARN  x]"), 1_795_411_120.0);
    let across = t("[2027-01-01T00:00:00.250Z INFO  a]") - t("[2026-12-31T23:59:59.750Z INFO  b]");
    assert!((across - 0.5).abs() < 1e-6, "{across}");
}

/// (a) MX delivery to a second smolmail: the MX answer is truncated over
/// UDP so it is fetched over TCP, the best MX is dead, the next one takes
/// the message over STARTTLS; dot-stuffing survives the round trip.
#[test]
fn mx_delivery_with_starttls_to_a_second_smolmail() {
    let peer_data = TempDir::new("dlv-mx-peer");
    add_user(&peer_data.0, "bob@remote.test", "bob-pw");
    let peer = Server::start(&peer_data.0, &[]);
    let dns = Dns::start(
        vec![
            ("remote.test", Rr::Mx(5, "dead.remote.test")),
            ("remote.test", Rr::Mx(10, "mx.remote.test")),
            ("dead.remote.test", Rr::A(Ipv4Addr::new(127, 0, 0, 2))),
            ("mx.remote.test", Rr::A(Ipv4Addr::LOCALHOST)),
        ],
        &["remote.test"],
    );
    let data = TempDir::new("dlv-mx");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let port = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &port],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["bob@remote.test"],
        // Dot-stuffed for DATA: stored as ".leading dot" and "..two dots".
        "Subject: over MX\r\n\r\n..leading dot\r\n...two dots\r\nend\r\n",
    );
    wait_until(
        "delivery at the MX",
        PATIENCE,
        || inbox(&peer_data.0, "bob@remote.test").len() == 1,
        &server,
    );
    let got = text(&inbox(&peer_data.0, "bob@remote.test")[0]);
    assert!(
        got.contains("\r\n.leading dot\r\n..two dots\r\nend\r\n"),
        "{got}"
    );
    assert!(got.contains("with ESMTPS"), "not over TLS: {got}");
    assert_eq!(got.matches("Return-Path:").count(), 1, "{got}");
    assert!(got.starts_with("Return-Path: <alice@home.arpa>"), "{got}");
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
    let log = server.log();
    assert!(log.contains("to=<bob@remote.test>, relay=mx.remote.test[127.0.0.1]"));
    assert!(
        log.contains("status=sent (250 2.0.0 Ok: queued as"),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.2"),
        "the dead MX was tried first: {log}"
    );
    assert!(
        log.contains("TLS certificate of mx.remote.test does not verify")
            && log.contains("delivering anyway"),
        "the self-signed certificate is logged, not fatal: {log}"
    );
    assert!(dns.tcp_queries.load(Ordering::Relaxed) > 0, "no TCP retry");
}

/// RFC 5321 §5.1 over IPv6 (issue #21): an MX host with only an AAAA
/// record (::1) gets the mail; with `--outbound-ip 4` the same message is
/// deferred, saying why, and never goes over IPv6.
#[test]
fn mx_with_only_an_aaaa_record_over_ipv6() {
    let peer_data = TempDir::new("dlv-aaaa-peer");
    add_user(&peer_data.0, "bob@six.test", "bob-pw");
    let peer = Server::start_on("::1", &peer_data.0, &[]);
    let dns = Dns::start(
        vec![
            ("six.test", Rr::Mx(10, "mx6.six.test")),
            ("mx6.six.test", Rr::Aaaa(Ipv6Addr::LOCALHOST)),
        ],
        &[],
    );
    let port = peer.port("smtp").to_string();
    let flags = ["--dns-server", &dns.flag(), "--smtp-port-out", &port];

    let data = TempDir::new("dlv-aaaa");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(&data.0, &flags);
    submit(
        &server,
        "alice@home.arpa",
        &["bob@six.test"],
        "Subject: over IPv6\r\n\r\nhello\r\n",
    );
    wait_until(
        "delivery at the IPv6-only MX",
        PATIENCE,
        || inbox(&peer_data.0, "bob@six.test").len() == 1,
        &server,
    );
    server.wait_for_log("status=sent");
    let log = server.log();
    assert!(log.contains("relay=mx6.six.test[::1]"), "{log}");
    // The receiving side saw an IPv6 client and says so (RFC 5321 §4.4).
    let got = text(&inbox(&peer_data.0, "bob@six.test")[0]);
    assert!(
        got.contains("Received: from mail.home.arpa ([IPv6:::1])"),
        "{got}"
    );

    let data4 = TempDir::new("dlv-aaaa-v4only");
    add_user(&data4.0, "alice@home.arpa", "alice-pw");
    let mut flags4 = flags.to_vec();
    flags4.extend(["--outbound-ip", "4"]);
    let server4 = Server::start(&data4.0, &flags4);
    submit(
        &server4,
        "alice@home.arpa",
        &["bob@six.test"],
        "Subject: not over IPv6\r\n\r\nhello\r\n",
    );
    server4.wait_for_log("status=deferred");
    let log = server4.log();
    assert!(
        log.contains("mx6.six.test has no IPv4 address (--outbound-ip)"),
        "{log}"
    );
    assert!(!log.contains("[::1]"), "IPv6 was used: {log}");
    assert_eq!(inbox(&peer_data.0, "bob@six.test").len(), 1);
}

/// RFC 8305 (happy eyeballs): an MX host with AAAA and A records is tried
/// over IPv6 first; when IPv6 fails (here refused at once, as with no
/// route) the IPv4 address takes the mail in the same attempt.
#[test]
fn mx_ipv6_first_then_ipv4_in_the_same_attempt() {
    let peer_data = TempDir::new("dlv-dual-peer");
    add_user(&peer_data.0, "bob@dual.test", "bob-pw");
    // The peer listens on 127.0.0.1 only: ::1 at its port refuses.
    let peer = Server::start(&peer_data.0, &[]);
    let dns = Dns::start(
        vec![
            ("dual.test", Rr::Mx(10, "mx.dual.test")),
            ("mx.dual.test", Rr::A(Ipv4Addr::LOCALHOST)),
            ("mx.dual.test", Rr::Aaaa(Ipv6Addr::LOCALHOST)),
        ],
        &[],
    );
    let data = TempDir::new("dlv-dual");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let port = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &port],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["bob@dual.test"],
        "Subject: either way\r\n\r\nhello\r\n",
    );
    server.wait_for_log("status=sent");
    let log = server.log();
    let tried6 = log
        .find(&format!("connect to mx.dual.test[::1]:{port}"))
        .unwrap_or_else(|| panic!("IPv6 was not tried: {log}"));
    let sent4 = log
        .find("relay=mx.dual.test[127.0.0.1]")
        .unwrap_or_else(|| panic!("not delivered over IPv4: {log}"));
    assert!(tried6 < sent4, "{log}");
    assert!(log.contains("; trying IPv4"), "{log}");
    assert!(!log.contains("status=deferred"), "one attempt: {log}");
    assert_eq!(inbox(&peer_data.0, "bob@dual.test").len(), 1);
}

/// (b) Delivery to Postfix's smtp-sink, a real peer written by others.
#[test]
fn delivery_to_postfix_smtp_sink() {
    let sink_bin = common::require_tool("smtp-sink", "postfix");
    let data = TempDir::new("dlv-sink");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let dump = data.0.join("dump");
    std::fs::create_dir_all(&dump).unwrap();
    // smtp-sink drops root privileges to the postfix user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dump, std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = common::free_port();
    let mut sink = std::process::Command::new(&sink_bin);
    if smolmail::config::is_root() {
        sink.args(["-u", "postfix"]);
    }
    let mut sink = SinkGuard(
        sink.arg("-d")
            .arg(format!("{}/%M.", dump.display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("10")
            .spawn()
            .unwrap(),
    );
    let dns = Dns::start(
        vec![
            ("sink.test", Rr::Mx(10, "mx.sink.test")),
            ("mx.sink.test", Rr::A(Ipv4Addr::LOCALHOST)),
        ],
        &[],
    );
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &port.to_string(),
        ],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["one@sink.test", "two@sink.test"],
        "Subject: to the sink\r\n\r\n..dotted\r\nplain\r\n",
    );
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
    let files: Vec<_> = std::fs::read_dir(&dump).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one transaction for both recipients");
    let dumped = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(dumped.contains("X-Rcpt-Args: <one@sink.test>"), "{dumped}");
    assert!(dumped.contains("X-Rcpt-Args: <two@sink.test>"), "{dumped}");
    assert!(
        dumped.contains("X-Mail-Args: <alice@home.arpa>"),
        "{dumped}"
    );
    assert!(dumped.contains("\n.dotted\nplain\n"), "{dumped}");
    assert!(!dumped.contains("Return-Path"), "{dumped}");
    let log = server.log();
    assert_eq!(log.matches("status=sent").count(), 2, "{log}");
    let _ = sink.0.kill();
}

struct SinkGuard(std::process::Child);

impl Drop for SinkGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A provider: a second smolmail where alice has an account (the relay
/// login) and bob is a local user who receives through it.
fn provider(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "relay-pw");
    add_user(&data.0, "bob@provider.test", "bob-pw");
    let server = Server::start(&data.0, &[]);
    (data, server)
}

fn relay_client(name: &str, relay: &[&str]) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let password = data.0.join("relay-password");
    std::fs::write(&password, "relay-pw\n").unwrap();
    let mut args: Vec<String> = relay.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--relay-user".into(),
        "alice@home.arpa".into(),
        "--relay-password-file".into(),
        password.display().to_string(),
        "--retry-base".into(),
        "1h".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&data.0, &args);
    (data, server)
}

/// (c) The relay host with AUTH, over implicit TLS (465-style) and over
/// STARTTLS (587), the provider's certificate trusted through --relay-ca.
#[test]
fn relay_host_with_auth_over_implicit_tls_and_starttls() {
    let (provider_data, provider) = provider("dlv-provider");
    let ca = provider_data.0.join("tls/selfsigned-cert.pem");
    let ca = ca.display().to_string();
    for (n, (service, tls)) in [("submissions", "implicit"), ("submission", "starttls")]
        .into_iter()
        .enumerate()
    {
        let relay = format!("localhost:{}", provider.port(service));
        let (data, server) = relay_client(
            &format!("dlv-relay-{service}"),
            &[
                "--relay-host",
                &relay,
                "--relay-tls",
                tls,
                "--relay-ca",
                &ca,
            ],
        );
        submit(
            &server,
            "alice@home.arpa",
            &["bob@provider.test"],
            &format!("Subject: via the relay {service}\r\n\r\nhello\r\n"),
        );
        wait_until(
            "delivery through the relay",
            PATIENCE,
            || inbox(&provider_data.0, "bob@provider.test").len() == n + 1,
            &server,
        );
        let got = text(&inbox(&provider_data.0, "bob@provider.test")[n]);
        assert!(got.contains(&format!("via the relay {service}")), "{got}");
        // The provider logged our relay user in; without its
        // --received-auth the login name stays out of the header.
        assert!(
            got.contains("with ESMTPSA") && !got.contains("authenticated sender"),
            "{got}"
        );
        wait_until(
            "an empty queue",
            PATIENCE,
            || queue(&data.0).is_empty(),
            &server,
        );
        server.wait_for_log(&format!(
            "relay=localhost[127.0.0.1]:{}",
            provider.port(service)
        ));
    }
}

/// (c) A LAN relay whose certificate is its own self-signed one, made by
/// `openssl req -x509` (so `CA:TRUE`, which webpki refuses as a server's
/// own: `CaUsedAsEndEntity`): given as `--relay-ca`, it is trusted as that
/// exact certificate (pinning), and the mail goes through it.
#[test]
fn relay_with_its_own_self_signed_ca_certificate_is_pinned() {
    let provider_data = TempDir::new("dlv-provider-pinned");
    add_user(&provider_data.0, "alice@home.arpa", "relay-pw");
    add_user(&provider_data.0, "bob@provider.test", "bob-pw");
    let (cert, key) = openssl_self_signed(&provider_data.0, "own", "localhost");
    let provider = Server::start(
        &provider_data.0,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let relay = format!("localhost:{}", provider.port("submissions"));
    let (data, server) = relay_client(
        "dlv-relay-pinned",
        &[
            "--relay-host",
            &relay,
            "--relay-tls",
            "implicit",
            "--relay-ca",
            cert.to_str().unwrap(),
        ],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["bob@provider.test"],
        "Subject: via a pinned relay\r\n\r\nhello\r\n",
    );
    wait_until(
        "delivery through the pinned relay",
        Duration::from_secs(20),
        || inbox(&provider_data.0, "bob@provider.test").len() == 1,
        &server,
    );
    let got = text(&inbox(&provider_data.0, "bob@provider.test")[0]);
    assert!(got.contains("via a pinned relay"), "{got}");
    wait_until(
        "an empty queue",
        Duration::from_secs(10),
        || queue(&data.0).is_empty(),
        &server,
    );
}

/// (c) Without the provider's CA the certificate does not verify: the
/// message is deferred, never sent.
#[test]
fn relay_certificate_that_does_not_verify_defers() {
    let (provider_data, provider) = provider("dlv-provider-bad");
    let relay = format!("localhost:{}", provider.port("submissions"));
    let (data, server) = relay_client(
        "dlv-relay-bad",
        &["--relay-host", &relay, "--relay-tls", "implicit"],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["bob@provider.test"],
        "Subject: must not leave\r\n\r\nhello\r\n",
    );
    server.wait_for_log("status=deferred");
    let log = server.log();
    assert!(log.contains("TLS handshake with localhost"), "{log}");
    assert!(log.to_ascii_lowercase().contains("certificate"), "{log}");
    let q = queue(&data.0);
    assert_eq!(q.len(), 1);
    assert!(q[0].outbound.recipients[0].last_error.contains("TLS"));
    assert!(inbox(&provider_data.0, "bob@provider.test").is_empty());
    assert!(!provider.log().contains("AUTH"), "credentials went out");
}

/// (d) An unreachable host: deferred, retried on the backoff schedule,
/// a delay notice, then bounced when the lifetime ends; both notices land
/// in the sender's INBOX as multipart/report.
#[test]
fn unreachable_host_backs_off_then_bounces() {
    let dns = Dns::start(
        vec![
            ("down.test", Rr::Mx(10, "mx.down.test")),
            ("mx.down.test", Rr::A(Ipv4Addr::new(127, 0, 0, 2))),
        ],
        &[],
    );
    let data = TempDir::new("dlv-down");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let closed = common::free_port().to_string();
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &closed,
            "--retry-base",
            "1s",
            "--queue-lifetime",
            "7s",
            // The attempt at 1 s sends it (so it comes before the bounce
            // even when a loaded machine makes the later attempts late).
            "--delay-warning",
            "1s",
        ],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["x@down.test"],
        "Subject: into the void\r\nMessage-ID: <void@home.arpa>\r\n\r\nhello\r\n",
    );
    wait_until(
        "the bounce",
        PATIENCE,
        || inbox(&data.0, "alice@home.arpa").len() == 2,
        &server,
    );
    let notices = inbox(&data.0, "alice@home.arpa");
    let delayed = dsn_status(&notices[0]);
    assert!(delayed.contains("Action: delayed"), "{delayed}");
    assert!(delayed.contains("Will-Retry-Until:"), "{delayed}");
    let failed = dsn_status(&notices[1]);
    for field in [
        "Final-Recipient: rfc822; x@down.test",
        "Action: failed",
        "Status: 4.4.7",
        "Reporting-MTA: dns; mail.home.arpa",
    ] {
        assert!(failed.contains(field), "{field} missing: {failed}");
    }
    let bounce = text(&notices[1]);
    assert!(bounce.contains("Return-Path: <>"), "{bounce}");
    assert!(bounce.contains("Subject: Undelivered Mail Returned to Sender"));
    assert!(
        bounce.contains("Message-ID: <void@home.arpa>"),
        "headers returned"
    );
    assert!(
        !bounce.contains("\r\nhello\r\n"),
        "the body stays (RET=HDRS default)"
    );
    assert!(queue(&data.0).is_empty());
    // The attempts, timed by the log's full timestamps: on an idle machine
    // at about 0, 1, 3 and 7 s (backoff 1 s, 2 s, 4 s cut to the lifetime's
    // end). A loaded machine can make an attempt late, never early, so the
    // test holds to what lateness cannot change: no wait shorter than its
    // backoff (less up to 1 s: due times are whole seconds), no more
    // attempts than the schedule has room for (retrying every second would
    // make 7 or 8), at least one retry, and the bounce only once the
    // lifetime is over.
    let log = server.log();
    let times = log_times(&log, "to=<x@down.test>, relay=none");
    assert!(
        (2..=4).contains(&times.len()),
        "attempts at {times:?}\n{log}"
    );
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("attempts {gaps:.2?} s apart");
    // The last attempt is the one at the lifetime's end, whatever its
    // backoff; before it, the wait after attempt k is 2^(k-1) s.
    for (k, gap) in gaps[..gaps.len() - 1].iter().enumerate() {
        let backoff = f64::from(1u32 << k);
        assert!(
            *gap > backoff - 1.0,
            "retry {} came {gap:.2} s after the attempt before it, sooner than its backoff of {backoff} s: {gaps:?}",
            k + 1
        );
    }
    let bounced = log
        .lines()
        .find(|l| l.contains("status=bounced (message expired after"))
        .unwrap_or_else(|| panic!("no bounce in the log:\n{log}"));
    assert!(
        bounced.contains(&format!("expired after {} attempts", times.len())),
        "{bounced}\n{log}"
    );
    let delay: u64 = bounced
        .split("delay=")
        .nth(1)
        .and_then(|d| d.split(',').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no delay= in {bounced}"));
    assert!(
        delay >= 7,
        "bounced {delay} s after arrival, before the lifetime of 7 s ended"
    );
}

/// (e) kill -9 with queued mail, and again in the middle of sending:
/// after restarts everything arrives, nothing is lost, and duplicates are
/// bounded by what was in flight (at-least-once, RFC 5321 §6.1). The peer
/// takes 60 of the 120 messages and then holds its reply to the 61st: the
/// kill comes while that one is on the wire, however fast the machine.
#[test]
fn kill_9_loses_nothing() {
    const N: usize = 120;
    const BEFORE_KILL: usize = 60;
    let peer = RawPeer::start(&["PIPELINING", "8BITMIME"]);
    peer.limit.store(BEFORE_KILL, Ordering::SeqCst);
    // First the MX is 127.0.0.2, where nothing listens (the peer and every
    // test server listen on 127.0.0.1 only), then 127.0.0.1.
    let mx = |ip| {
        Dns::start(
            vec![
                ("remote.test", Rr::Mx(10, "mx.remote.test")),
                ("mx.remote.test", Rr::A(ip)),
            ],
            &[],
        )
    };
    let (down, up) = (mx(Ipv4Addr::new(127, 0, 0, 2)), mx(Ipv4Addr::LOCALHOST));
    let data = TempDir::new("dlv-kill");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let port = peer.port.to_string();
    let flags = |dns: &Dns| -> Vec<String> {
        [
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &port,
            "--retry-base",
            "1h",
            "--max-outbound-per-destination",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = flags(&down);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(&data.0, &args);
    for i in 0..N {
        submit(
            &server,
            "alice@home.arpa",
            &["bob@remote.test"],
            &format!("Subject: kill-test-{i}\r\n\r\nbody {i}\r\n"),
        );
    }
    wait_until(
        "every first attempt",
        PATIENCE,
        || queue(&data.0).iter().all(|e| e.outbound.attempts >= 1),
        &server,
    );
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let blobs: Vec<u64> = queue(&data.0).iter().map(|e| e.blob_id).collect();
    assert_eq!(blobs.len(), N, "queue survived kill -9");
    // The entries wait an hour: flush them from the command line.
    let flushed = common::admin(&data.0, &["queue", "flush"], "");
    assert!(flushed.starts_with(&format!("{N} queued")), "{flushed}");
    let args = flags(&up);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(&data.0, &args);
    wait_until(
        "the peer to hold a message past the first 60",
        PATIENCE,
        || peer.held.load(Ordering::SeqCst) > 0,
        &server,
    );
    server.child.kill().unwrap(); // SIGKILL in the middle of sending
    server.child.wait().unwrap();
    let before_kill = peer.seen.lock().unwrap().data.len();
    assert_eq!(before_kill, BEFORE_KILL);
    peer.limit.store(usize::MAX, Ordering::SeqCst);
    let server = Server::start(&data.0, &args);
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
    let mut count: HashMap<String, usize> = HashMap::new();
    for m in &peer.seen.lock().unwrap().data {
        let t = text(m);
        let subject = t
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap()
            .to_string();
        *count.entry(subject).or_default() += 1;
    }
    assert_eq!(count.len(), N, "every message arrived");
    let duplicates: usize = count.values().map(|n| n - 1).sum();
    eprintln!("kill -9: {before_kill} of {N} delivered before the kill; {duplicates} sent twice");
    // Sent but not yet committed as sent when killed: a handful at most.
    assert!(duplicates <= 10, "{duplicates} duplicates");
    let store = smolmail::store::Store::open(&data.0, &Default::default()).unwrap();
    let r = store.read().unwrap();
    for blob in blobs {
        assert_eq!(r.blob_refs(blob).unwrap(), 0, "body {blob} not released");
    }
}

/// (f) On the wire: the Return-Path is gone, every line ends in CRLF and
/// a leading dot is doubled, including a lone `.` line sent with BDAT.
/// PIPELINING sends MAIL, RCPT and DATA before reading replies; a refused
/// recipient bounces alone.
#[test]
fn dot_stuffing_crlf_and_per_recipient_results_on_the_wire() {
    let raw = RawPeer::start(&["PIPELINING", "8BITMIME", "SIZE 1000000"]);
    let dns = Dns::start(
        vec![
            ("raw.test", Rr::Mx(10, "mx.raw.test")),
            ("mx.raw.test", Rr::A(Ipv4Addr::LOCALHOST)),
        ],
        &[],
    );
    let data = TempDir::new("dlv-wire");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &raw.port.to_string(),
        ],
    );
    // With its own Date and Message-ID, so the bytes relayed are the
    // bytes sent (RFC 6409 §8 would add them to a trusted submission).
    let content = b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <dots@client.test>\r\n\
                    Subject: dots\r\n\r\n.\r\n..x\r\n.y\r\nmid.dle\r\nlast\r\n";
    submit_bdat(&server, "alice@home.arpa", "ok@raw.test", content);
    wait_until(
        "the raw peer's DATA",
        PATIENCE,
        || raw.seen.lock().unwrap().data.len() == 1,
        &server,
    );
    let wire = raw.seen.lock().unwrap().data[0].clone();
    assert!(
        wire.starts_with(b"Received: from client.test"),
        "{}",
        text(&wire)
    );
    assert!(
        wire.ends_with(b"Subject: dots\r\n\r\n..\r\n...x\r\n..y\r\nmid.dle\r\nlast\r\n.\r\n"),
        "{:?}",
        text(&wire)
    );
    for (i, &b) in wire.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert_eq!(wire[i - 1], b'\r', "bare LF at {i}"),
            _ => {}
        }
    }
    let commands = raw.seen.lock().unwrap().commands.clone();
    let mail = commands.iter().position(|c| c.starts_with("MAIL")).unwrap();
    assert!(
        commands[mail].starts_with("MAIL FROM:<alice@home.arpa> SIZE="),
        "{commands:?}"
    );
    assert!(commands[mail + 1].starts_with("RCPT TO:<ok@raw.test>"));
    assert_eq!(commands[mail + 2], "DATA");

    // One good and one refused recipient: the good one is sent, the other
    // bounces alone, with the peer's reply in the DSN.
    submit(
        &server,
        "alice@home.arpa",
        &["ok2@raw.test", "reject-me@raw.test"],
        "Subject: half\r\n\r\nhello\r\n",
    );
    wait_until(
        "the partial bounce",
        PATIENCE,
        || inbox(&data.0, "alice@home.arpa").len() == 1,
        &server,
    );
    let status = dsn_status(&inbox(&data.0, "alice@home.arpa")[0]);
    assert!(
        status.contains("Final-Recipient: rfc822; reject-me@raw.test"),
        "{status}"
    );
    assert!(!status.contains("ok2@raw.test"), "{status}");
    assert!(
        status.contains("Status: 5.1.1") && status.contains("Diagnostic-Code: smtp; 550 5.1.1")
    );
    assert!(status.contains("Remote-MTA: dns; mx.raw.test"), "{status}");
    assert_eq!(raw.seen.lock().unwrap().data.len(), 2);
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
}

/// RFC 3461: NOTIFY and ORCPT go on to a server that takes DSN; to one
/// that does not, NOTIFY=SUCCESS earns a "relayed" notice from us, and
/// NOTIFY=NEVER silences the bounce of a refused recipient.
#[test]
fn notify_success_never_and_dsn_passthrough() {
    let plain = RawPeer::start(&["PIPELINING", "8BITMIME"]);
    let dsn = RawPeer::start(&["PIPELINING", "8BITMIME", "DSN"]);
    let dns = Dns::start(
        vec![
            ("nodsn.test", Rr::Mx(10, "mx.nodsn.test")),
            ("mx.nodsn.test", Rr::A(Ipv4Addr::LOCALHOST)),
        ],
        &[],
    );
    let data = TempDir::new("dlv-notify");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    // dsn.test goes by --route to the second peer; no DNS for it.
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--route",
            &format!("dsn.test=127.0.0.1:{}", dsn.port),
            "--smtp-port-out",
            &plain.port.to_string(),
        ],
    );
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<alice@home.arpa> RET=HDRS ENVID=env+2B1", "250");
    c.cmd("RCPT TO:<ok@nodsn.test> NOTIFY=SUCCESS", "250");
    c.cmd("RCPT TO:<reject-x@nodsn.test> NOTIFY=NEVER", "250");
    c.cmd(
        "RCPT TO:<ok@dsn.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;OK+2Bx@dsn.test",
        "250",
    );
    c.cmd("DATA", "354");
    c.send(b"Subject: notify\r\n\r\nhello\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
    let commands = dsn.seen.lock().unwrap().commands.clone();
    assert!(
        commands
            .iter()
            .any(|c| c
                == "RCPT TO:<ok@dsn.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;OK+2Bx@dsn.test"),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("MAIL FROM:<alice@home.arpa>")
                && c.ends_with("RET=HDRS ENVID=env+2B1")),
        "{commands:?}"
    );
    let plain_commands = plain.seen.lock().unwrap().commands.clone();
    assert!(
        plain_commands.iter().all(|c| !c.contains("NOTIFY")),
        "{plain_commands:?}"
    );
    let notices = inbox(&data.0, "alice@home.arpa");
    assert_eq!(notices.len(), 1, "only the relayed notice");
    let status = dsn_status(&notices[0]);
    assert!(status.contains("Action: relayed"), "{status}");
    assert!(
        status.contains("Final-Recipient: rfc822; ok@nodsn.test"),
        "{status}"
    );
    assert!(status.contains("Original-Envelope-Id: env+1"), "{status}");
    assert!(!status.contains("reject-x"), "{status}");
}

/// A peer without 8BITMIME or SMTPUTF8 and with a small SIZE: a message
/// that needs what the peer lacks bounces with the reason, unsent.
#[test]
fn extensions_the_peer_lacks_bounce_with_a_reason() {
    let plain = RawPeer::start(&["SIZE 1000"]);
    let dns = Dns::start(
        vec![
            ("old.test", Rr::Mx(10, "mx.old.test")),
            ("mx.old.test", Rr::A(Ipv4Addr::LOCALHOST)),
        ],
        &[],
    );
    let data = TempDir::new("dlv-ext");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &plain.port.to_string(),
        ],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["a@old.test"],
        "Subject: bytes\r\n\r\ncaf\u{e9}\r\n",
    );
    submit(
        &server,
        "alice@home.arpa",
        &["b@old.test"],
        &format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(1200)),
    );
    submit(
        &server,
        "alice@home.arpa",
        &["c@old.test"],
        "Subject: gr\u{fc}\u{df}e\r\n\r\nascii body\r\n",
    );
    wait_until(
        "three bounces",
        PATIENCE,
        || inbox(&data.0, "alice@home.arpa").len() == 3,
        &server,
    );
    let all: String = inbox(&data.0, "alice@home.arpa")
        .iter()
        .map(|m| dsn_status(m))
        .collect();
    assert!(
        all.contains("Status: 5.6.3") && all.contains("does not support 8BITMIME"),
        "{all}"
    );
    assert!(
        all.contains("Status: 5.3.4") && all.contains("exceeds the limit of 1000"),
        "{all}"
    );
    assert!(
        all.contains("Status: 5.6.7") && all.contains("does not support SMTPUTF8"),
        "{all}"
    );
    assert!(
        plain.seen.lock().unwrap().data.is_empty(),
        "nothing was sent"
    );
}

/// (g) Null MX (RFC 7505) and a domain that does not exist bounce at once,
/// without a connection; the null sender of a bounce is never bounced.
#[test]
fn null_mx_and_nxdomain_bounce_at_once() {
    let dns = Dns::start(vec![("nullmx.test", Rr::Mx(0, ""))], &[]);
    let data = TempDir::new("dlv-nullmx");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--retry-base", "1h"],
    );
    submit(
        &server,
        "alice@home.arpa",
        &["x@nullmx.test", "y@nx.test"],
        "Subject: nowhere\r\n\r\nhello\r\n",
    );
    wait_until(
        "the bounce",
        PATIENCE,
        || !inbox(&data.0, "alice@home.arpa").is_empty(),
        &server,
    );
    let status = dsn_status(&inbox(&data.0, "alice@home.arpa")[0]);
    assert!(
        status.contains("Final-Recipient: rfc822; x@nullmx.test"),
        "{status}"
    );
    assert!(status.contains("Status: 5.1.10"), "{status}");
    assert!(
        status.contains("Final-Recipient: rfc822; y@nx.test"),
        "{status}"
    );
    assert!(status.contains("Status: 5.1.2"), "{status}");
    assert!(queue(&data.0).is_empty());
    // A message with the null sender to the same place (a bounce from
    // outside for an address forwarded there: a trusted client may not
    // send <> outside itself): dropped with a log line, no notice anywhere.
    common::admin(
        &data.0,
        &["alias", "add", "gone@home.arpa", "z@nullmx.test"],
        "",
    );
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<>", "250");
    c.cmd("RCPT TO:<z@nullmx.test>", "550 5.7.1");
    c.cmd("RCPT TO:<gone@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(b"Subject: a bounce\r\n\r\nx\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
    server.wait_for_log("no notification: the sender is null");
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 1);
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
    // A remote sender, forwarded through an alias: its bounce is queued
    // for the outside (here it cannot be delivered either, and being a
    // bounce it is dropped, not bounced again).
    common::admin(
        &data.0,
        &["alias", "add", "fwd@home.arpa", "w@nullmx.test"],
        "",
    );
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<stranger@elsewhere.test>", "250");
    c.cmd("RCPT TO:<fwd@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(b"Subject: forwarded\r\n\r\nx\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
    wait_until(
        "the queued bounce to be given up",
        PATIENCE,
        || {
            server
                .log()
                .matches("no notification: the sender is null")
                .count()
                == 2
        },
        &server,
    );
    let log = server.log();
    assert!(
        log.contains("sender non-delivery notification: ")
            && log.contains("to <stranger@elsewhere.test> (queued)"),
        "{log}"
    );
    assert!(
        log.contains("to=<stranger@elsewhere.test>, relay=none"),
        "{log}"
    );
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 1);
    wait_until(
        "an empty queue",
        PATIENCE,
        || queue(&data.0).is_empty(),
        &server,
    );
}

/// `smolmail queue list | delete` against a live server's store.
#[test]
fn queue_commands() {
    let dns = Dns::start(
        vec![
            ("down.test", Rr::Mx(10, "mx.down.test")),
            ("mx.down.test", Rr::A(Ipv4Addr::new(127, 0, 0, 2))),
        ],
        &[],
    );
    let data = TempDir::new("dlv-cli");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let closed = common::free_port().to_string();
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--retry-base",
            "1h",
            "--smtp-port-out",
            &closed,
            "--max-queue",
            "2",
        ],
    );
    assert_eq!(
        common::admin(&data.0, &["queue", "list"], "").trim(),
        "Mail queue is empty"
    );
    for subject in ["one", "two"] {
        submit(
            &server,
            "alice@home.arpa",
            &["x@down.test"],
            &format!("Subject: {subject}\r\n\r\nhello\r\n"),
        );
    }
    wait_until(
        "two deferrals",
        PATIENCE,
        || server.log().matches("status=deferred").count() >= 2,
        &server,
    );
    // --max-queue 2: a third message for another domain waits outside.
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<alice@home.arpa>", "250");
    c.cmd("RCPT TO:<y@down.test>", "452 4.3.1");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("QUIT", "221");
    let list = common::admin(&data.0, &["queue", "list"], "");
    assert!(
        list.contains("x@down.test") && list.contains("in 2 Requests"),
        "{list}"
    );
    assert!(
        list.contains("connect to mx.down.test[127.0.0.2]"),
        "{list}"
    );
    let q = queue(&data.0);
    let id = q[0].outbound.queue_id.clone();
    let out = common::admin(&data.0, &["queue", "delete", &id], "");
    assert!(out.contains("deleted 1"), "{out}");
    assert_eq!(queue(&data.0).len(), 1);
    let out = common::admin(&data.0, &["queue", "delete", "ALL"], "");
    assert!(out.contains("deleted 1"), "{out}");
    let store = smolmail::store::Store::open(&data.0, &Default::default()).unwrap();
    assert_eq!(store.read().unwrap().blob_refs(q[0].blob_id).unwrap(), 0);
}
