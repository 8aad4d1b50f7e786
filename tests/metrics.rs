//! `/metrics` on the `--metrics` listener, scraped with curl as Prometheus
//! would: the text passes Prometheus's own `promtool check metrics`, and
//! the counters move by what the test did (one message over SMTP, an IMAP
//! login that works and one that fails).

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::{Server, TempDir, add_user, b64, require_tool};

/// The body and the response head of `GET url` with curl.
fn curl(url: &str) -> (String, String) {
    require_tool("curl", "curl");
    // -D - puts the head before the body on stdout.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D", "-", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP head");
    (body.to_string(), head.to_string())
}

fn scrape(server: &Server) -> (String, String) {
    curl(&format!(
        "http://127.0.0.1:{}/metrics",
        server.port("metrics")
    ))
}

/// Sample lines by `name{labels}`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            };
            (key.to_string(), value)
        })
        .collect()
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("{key} not in the scrape"))
}

/// Runs `promtool check metrics` on `text`: Prometheus's own parser and
/// linter (names, `_total`, units, HELP).
fn promtool_check(text: &str) {
    let promtool = require_tool("promtool", "prometheus");
    let out = common::run_with_stdin(Command::new(promtool).args(["check", "metrics"]), text);
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- the scrape:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scrape_passes_promtool_and_counters_follow_mail_and_logins() {
    let data = TempDir::new("metrics-scrape");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(&data.0, &[]);

    let (before, head) = scrape(&server);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    promtool_check(&before);
    let before = samples(&before);

    // One message over port 25 to a local user.
    let mut smtp = server.connect("smtp");
    smtp.expect("220");
    smtp.cmd("EHLO client.example", "250");
    smtp.cmd("MAIL FROM:<someone@example.org>", "250");
    smtp.cmd("RCPT TO:<alice@home.arpa>", "250");
    smtp.cmd("DATA", "354");
    smtp.send(b"Subject: counted\r\n\r\nhello\r\n.\r\n");
    smtp.expect("250");
    smtp.cmd("QUIT", "221");

    // An IMAP login that works, one that fails; the first connection
    // stays open for the gauge.
    let mut ok = server.connect("imap");
    ok.line();
    ok.send(b"a1 LOGIN alice@home.arpa alice-pw\r\n");
    assert!(ok.line().starts_with("a1 OK"));
    let mut bad = server.connect("imap");
    bad.line();
    bad.send(b"b1 LOGIN alice@home.arpa wrong\r\n");
    assert!(bad.line().starts_with("b1 NO"));
    // The same good password over POP3 and SMTP AUTH: counted per
    // service, answered from the login cache (no second hash).
    let mut pop = server.connect("pop3");
    assert!(pop.line().starts_with("+OK"));
    pop.send(b"USER alice@home.arpa\r\n");
    assert!(pop.line().starts_with("+OK"));
    pop.send(b"PASS alice-pw\r\n");
    assert!(pop.line().starts_with("+OK"));
    let mut sub = server.connect("submission");
    sub.expect("220");
    sub.cmd("EHLO client.example", "250");
    let plain = b64(b"\0alice@home.arpa\0alice-pw");
    sub.cmd(&format!("AUTH PLAIN {plain}"), "235");

    let (after_text, _) = scrape(&server);
    promtool_check(&after_text);
    let after = samples(&after_text);
    let delta = |key: &str| value(&after, key) - value(&before, key);

    assert_eq!(
        delta("smolmail_messages_received_total{service=\"smtp\"}"),
        1.0
    );
    assert_eq!(delta("smolmail_local_deliveries_total"), 1.0);
    assert_eq!(
        delta("smolmail_connections_accepted_total{service=\"smtp\"}"),
        1.0
    );
    assert_eq!(
        delta("smolmail_connections_accepted_total{service=\"imap\"}"),
        2.0
    );
    assert_eq!(
        value(&after, "smolmail_connections_open{service=\"imap\"}"),
        2.0
    );
    assert_eq!(
        delta("smolmail_logins_total{service=\"imap\",result=\"ok\"}"),
        1.0
    );
    assert_eq!(
        delta("smolmail_logins_total{service=\"imap\",result=\"failed\"}"),
        1.0
    );
    assert_eq!(
        delta("smolmail_logins_total{service=\"pop3\",result=\"ok\"}"),
        1.0
    );
    assert_eq!(
        delta("smolmail_logins_total{service=\"submission\",result=\"ok\"}"),
        1.0
    );
    // The two IMAP logins hashed (the cache had nothing yet); POP3 and
    // SMTP AUTH were cache hits.
    assert_eq!(delta("smolmail_auth_verify_seconds_count"), 2.0);
    assert_eq!(
        value(&after, "smolmail_auth_verify_seconds_bucket{le=\"+Inf\"}"),
        value(&after, "smolmail_auth_verify_seconds_count")
    );
    // The message's commit went through the writer and its histograms.
    assert!(delta("smolmail_store_commits_total") >= 1.0);
    assert!(delta("smolmail_store_commit_seconds_count") >= 1.0);
    assert_eq!(
        delta("smolmail_store_commit_seconds_count"),
        delta("smolmail_store_commit_batch_size_count")
    );
    assert!(delta("smolmail_metrics_scrapes_total") >= 1.0);
    assert_eq!(value(&after, "smolmail_queue_messages"), 0.0);
    assert!(value(&after, "smolmail_store_map_used_bytes") > 0.0);
    assert!(value(&after, "process_resident_memory_bytes") > 1e6);
    assert!(value(&after, "process_start_time_seconds") > 1.7e9);

    drop((ok, bad));
    server.wait_until(
        std::time::Duration::from_secs(10),
        "the IMAP gauge back to 0",
        || {
            let (text, _) = scrape(&server);
            value(
                &samples(&text),
                "smolmail_connections_open{service=\"imap\"}",
            ) == 0.0
        },
    );
}

/// A message for a remote domain waits in the queue (delivery asks a
/// closed DNS port): the queue gauges read it from the store.
#[test]
fn queue_length_and_oldest_age_come_from_the_store() {
    let data = TempDir::new("metrics-queue");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(&data.0, &[]);
    let mut smtp = server.connect("submission");
    smtp.expect("220");
    smtp.cmd("EHLO client.example", "250");
    // Loopback is a trusted network: it may relay without AUTH.
    smtp.cmd("MAIL FROM:<alice@home.arpa>", "250");
    smtp.cmd("RCPT TO:<far@example.org>", "250");
    smtp.cmd("DATA", "354");
    smtp.send(b"Subject: away\r\n\r\nhello\r\n.\r\n");
    smtp.expect("250");
    let (text, _) = scrape(&server);
    let s = samples(&text);
    assert_eq!(value(&s, "smolmail_queue_messages"), 1.0, "{text}");
    assert!(value(&s, "smolmail_queue_oldest_age_seconds") >= 0.0);
    assert_eq!(
        value(
            &s,
            "smolmail_messages_received_total{service=\"submission\"}"
        ),
        1.0
    );
    server.wait_until(
        std::time::Duration::from_secs(30),
        "a DNS lookup counted as an error",
        || {
            let (text, _) = scrape(&server);
            let s = samples(&text);
            value(
                &s,
                "smolmail_dns_lookups_total{type=\"MX\",result=\"error\"}",
            ) >= 1.0
                && value(
                    &s,
                    "smolmail_outbound_recipients_total{result=\"deferred\"}",
                ) >= 1.0
        },
    );
}

/// `--metrics-trusted-only`: a client outside `--trusted-network` (here
/// loopback itself, once the trusted network is another one) is refused
/// with 403 and sees no figures.
#[test]
fn metrics_trusted_only_refuses_other_clients() {
    let data = TempDir::new("metrics-trusted");
    let server = Server::start(
        &data.0,
        &[
            "--metrics-trusted-only",
            "--trusted-network",
            "192.0.2.0/24",
        ],
    );
    let (body, head) = scrape(&server);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(!body.contains("smolmail_"), "{body}");
}

/// One client holds at most two of the listener's eight places: its third
/// connection is closed at once, and the scrape of another client's
/// (here: the same client's, once a place is free) is still answered.
#[test]
fn one_client_holds_at_most_two_connections() {
    use std::io::Read;
    let data = TempDir::new("metrics-per-client");
    let server = Server::start(&data.0, &[]);
    let port = server.port("metrics");
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // The accept loop has counted both before it takes the third.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut third = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    third
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    match third.read(&mut buf) {
        Ok(0) => {}
        // A reset is a close too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the third connection is still open: {other:?}"),
    }
    drop(held);
    server.wait_until(common::PATIENCE, "a scrape once places are free", || {
        scrape(&server).1.starts_with("HTTP/1.1 200")
    });
}
