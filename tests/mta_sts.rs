//! MTA-STS (RFC 8461) and DANE (RFC 7672) on outbound MX delivery, end
//! to end on loopback: the test DNS server (`common::dns`) serves the
//! MX, `_mta-sts` TXT and TLSA records, with the AD bit for the DANE
//! zones; a second smolmail is the MX and, on its HTTPS port, the policy
//! host (it serves its own policy, `--mta-sts-mode`); certificates come
//! from a private CA made here (rcgen), which the sender trusts through
//! the test-only `--mta-sts-test-ca`.

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use common::dns::{Dns, Rr};
use common::{PATIENCE, Server, TempDir, add_user, inbox};

/// A private CA and the PEM file the sender trusts.
struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    file: PathBuf,
}

fn ca(dir: &Path) -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let file = dir.join("test-ca.pem");
    std::fs::write(&file, issuer.pem()).unwrap();
    Ca { issuer, file }
}

/// A certificate for `names` issued by `ca` (chain file with the CA), its
/// key file, and the key's SubjectPublicKeyInfo (for TLSA 3 1 1).
fn issued(dir: &Path, ca: &Ca, names: &[&str]) -> (PathBuf, PathBuf, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &*ca.issuer)
        .unwrap();
    let (cert_file, key_file) = (dir.join("mx-cert.pem"), dir.join("mx-key.pem"));
    std::fs::write(&cert_file, format!("{}{}", cert.pem(), ca.issuer.pem())).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
    (cert_file, key_file, spki)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The MX of `domain` (user bob@domain): a smolmail with a certificate
/// for `names` from `ca`, serving `policy` (mode, mx pattern) on HTTPS.
fn mx_peer(
    name: &str,
    domain: &str,
    ca: &Ca,
    names: &[&str],
    policy: Option<(&str, &str)>,
) -> (TempDir, Server, Vec<u8>) {
    let data = TempDir::new(name);
    add_user(&data.0, &format!("bob@{domain}"), "bob-pw");
    let (cert, key, spki) = issued(&data.0, ca, names);
    let mut args = vec!["--tls-cert", path(&cert), "--tls-key", path(&key)];
    if let Some((mode, mx)) = policy {
        args.extend(["--mta-sts-mode", mode, "--mta-sts-mx", mx]);
    }
    let server = Server::start(&data.0, &args);
    (data, server, spki)
}

/// The sending smolmail: MX port, DNS, policy port and test CA pointed
/// at the peers of this test.
fn sender(name: &str, dns: &Dns, peer: &Server, ca: &Ca) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let https = peer.port("https").to_string();
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &smtp,
            "--mta-sts-test-port",
            &https,
            "--mta-sts-test-ca",
            path(&ca.file),
        ],
    );
    (data, server)
}

fn submit(server: &Server, to: &str) {
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<alice@home.arpa>", "250");
    c.cmd(&format!("RCPT TO:<{to}>"), "250");
    c.cmd("DATA", "354");
    c.send(b"Subject: secure or not at all\r\n\r\nhello\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
}

fn delivered(peer_data: &TempDir, sender: &Server, to: &str) -> String {
    sender.wait_until(PATIENCE, "delivery at the MX", || {
        inbox(&peer_data.0, to).len() == 1
    });
    String::from_utf8_lossy(&inbox(&peer_data.0, to)[0]).into_owned()
}

fn deferred(sender: &Server, why: &str) -> String {
    sender.wait_until(PATIENCE, why, || {
        let log = sender.log();
        log.contains(why) && log.contains("status=deferred")
    });
    sender.log()
}

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// RFC 8461 §4.2, §5.1: with an `enforce` policy the MX certificate must
/// be valid for the MX host name; this one names only the policy host,
/// so the mail waits (a temporary failure, never plaintext) and the log
/// says which policy demanded it.
#[test]
fn rfc8461_5_1_enforce_defers_when_the_mx_certificate_does_not_verify() {
    let pki = TempDir::new("sts-bad-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer(
        "sts-bad-peer",
        "bad.test",
        &ca,
        &["mta-sts.bad.test"],
        Some(("enforce", "mx.bad.test")),
    );
    let dns = Dns::start(
        vec![
            ("bad.test", Rr::Mx(10, "mx.bad.test")),
            ("mx.bad.test", Rr::A(LOOPBACK)),
            ("_mta-sts.bad.test", Rr::Txt("v=STSv1; id=1")),
            ("mta-sts.bad.test", Rr::A(LOOPBACK)),
        ],
        &[],
    );
    let (_data, server) = sender("sts-bad", &dns, &peer, &ca);
    submit(&server, "bob@bad.test");
    let log = deferred(&server, "TLS is required by the MTA-STS policy of bad.test");
    assert!(
        log.contains("MTA-STS policy of bad.test (id 1): mode enforce"),
        "{log}"
    );
    assert!(log.contains("dsn=4."), "{log}");
    assert!(inbox(&peer_data.0, "bob@bad.test").is_empty(), "{log}");
}

/// RFC 8461 §4.1, §4.2: the MX matches the policy's pattern and its
/// certificate verifies: delivered over TLS; a better MX the policy does
/// not name is never tried. §5.1: the second message uses the cached
/// policy (same id), no second fetch.
#[test]
fn rfc8461_4_2_enforce_delivers_over_verified_tls_to_a_matching_mx() {
    let pki = TempDir::new("sts-good-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer(
        "sts-good-peer",
        "good.test",
        &ca,
        &["mta-sts.good.test", "mx1.good.test"],
        Some(("enforce", "*.good.test")),
    );
    let dns = Dns::start(
        vec![
            ("good.test", Rr::Mx(5, "rogue.elsewhere.test")),
            ("good.test", Rr::Mx(10, "mx1.good.test")),
            ("rogue.elsewhere.test", Rr::A(LOOPBACK)),
            ("mx1.good.test", Rr::A(LOOPBACK)),
            ("_mta-sts.good.test", Rr::Txt("v=STSv1; id=7")),
            ("mta-sts.good.test", Rr::A(LOOPBACK)),
        ],
        &[],
    );
    let (_data, server) = sender("sts-good", &dns, &peer, &ca);
    submit(&server, "bob@good.test");
    let got = delivered(&peer_data, &server, "bob@good.test");
    assert!(got.contains("with ESMTPS"), "not over TLS: {got}");
    submit(&server, "bob@good.test");
    server.wait_until(PATIENCE, "the second message", || {
        inbox(&peer_data.0, "bob@good.test").len() == 2
    });
    let log = server.log();
    assert_eq!(
        log.matches("MTA-STS policy of good.test (id 7): mode enforce")
            .count(),
        1,
        "fetched once, then cached: {log}"
    );
    assert!(
        log.contains("MX host rogue.elsewhere.test of good.test is not in its MTA-STS policy (enforce): not used"),
        "{log}"
    );
    assert!(!log.contains("rogue.elsewhere.test[127.0.0.1]"), "{log}");
    assert!(!log.contains("does not verify"), "{log}");
}

/// RFC 7672 §2.2.1, RFC 8461 §4.1: the unsigned MX answer adds a better
/// host the enforce policy does not name, with genuinely signed TLSA
/// records matching its key: DANE must not let the redirection through;
/// the named MX gets the mail over the policy's verified TLS.
#[test]
fn rfc7672_2_2_1_enforce_drops_an_unnamed_mx_even_with_signed_tlsa() {
    let pki = TempDir::new("sts-redirect-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, spki) = mx_peer(
        "sts-redirect-peer",
        "redir.test",
        &ca,
        &["mta-sts.redir.test", "mx1.redir.test"],
        Some(("enforce", "mx1.redir.test")),
    );
    let dns = Dns::start_signed(
        vec![
            ("redir.test", Rr::Mx(5, "rogue.elsewhere.test")),
            ("redir.test", Rr::Mx(10, "mx1.redir.test")),
            ("rogue.elsewhere.test", Rr::A(LOOPBACK)),
            (
                tlsa_at(&peer, "rogue.elsewhere.test"),
                Rr::Tlsa(tlsa_3_1_1(&spki)),
            ),
            ("mx1.redir.test", Rr::A(LOOPBACK)),
            ("_mta-sts.redir.test", Rr::Txt("v=STSv1; id=1")),
            ("mta-sts.redir.test", Rr::A(LOOPBACK)),
        ],
        &[],
        &[tlsa_at(&peer, "rogue.elsewhere.test")],
    );
    let (_data, server) = sender("sts-redirect", &dns, &peer, &ca);
    submit(&server, "bob@redir.test");
    delivered(&peer_data, &server, "bob@redir.test");
    let log = server.log();
    assert!(
        log.contains("MX host rogue.elsewhere.test of redir.test is not in its MTA-STS policy (enforce): not used"),
        "{log}"
    );
    assert!(!log.contains("rogue.elsewhere.test[127.0.0.1]"), "{log}");
}

/// RFC 8461 §4.1: five better MX hosts the enforce policy does not name
/// would use up the five addresses tried per attempt; they are dropped
/// by name before any address is looked up, so the named MX gets the mail.
#[test]
fn rfc8461_4_1_unnamed_mx_hosts_do_not_use_up_the_address_budget() {
    let pki = TempDir::new("sts-budget-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer(
        "sts-budget-peer",
        "budget.test",
        &ca,
        &["mta-sts.budget.test", "mx.budget.test"],
        Some(("enforce", "mx.budget.test")),
    );
    let mut zone = vec![
        ("budget.test", Rr::Mx(10, "mx.budget.test")),
        ("mx.budget.test", Rr::A(LOOPBACK)),
        ("_mta-sts.budget.test", Rr::Txt("v=STSv1; id=1")),
        ("mta-sts.budget.test", Rr::A(LOOPBACK)),
    ];
    for rogue in ["r1.test", "r2.test", "r3.test", "r4.test", "r5.test"] {
        zone.push(("budget.test", Rr::Mx(5, rogue)));
        zone.push((rogue, Rr::A(LOOPBACK)));
    }
    let dns = Dns::start(zone, &[]);
    let (_data, server) = sender("sts-budget", &dns, &peer, &ca);
    submit(&server, "bob@budget.test");
    let got = delivered(&peer_data, &server, "bob@budget.test");
    assert!(got.contains("with ESMTPS"), "not over TLS: {got}");
    let log = server.log();
    assert!(
        log.contains(
            "MX host r3.test of budget.test is not in its MTA-STS policy (enforce): not used"
        ),
        "{log}"
    );
}

/// RFC 8461 §3.3 lets a policy fetch take a while (here up to 30 s); the
/// worker waiting for it must not hold a connection slot: with
/// `--max-outbound 1` and one domain's policy host hanging, mail for
/// another domain still goes at once.
#[test]
fn rfc8461_3_3_a_slow_policy_fetch_holds_no_connection_slot() {
    let pki = TempDir::new("sts-slow-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer("sts-slow-peer", "fast.test", &ca, &["mx.fast.test"], None);
    // The policy host: accepts and says nothing.
    let hang = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    let (reached, reached_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in hang.incoming().flatten() {
            held.push(conn);
            let _ = reached.send(());
        }
    });
    let dns = Dns::start(
        vec![
            ("slow.test", Rr::Mx(10, "mx.slow.test")),
            ("mx.slow.test", Rr::A(LOOPBACK)),
            ("_mta-sts.slow.test", Rr::Txt("v=STSv1; id=1")),
            ("mta-sts.slow.test", Rr::A(LOOPBACK)),
            ("fast.test", Rr::Mx(10, "mx.fast.test")),
            ("mx.fast.test", Rr::A(LOOPBACK)),
        ],
        &[],
    );
    let data = TempDir::new("sts-slow");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &[
            "--dns-server",
            &dns.flag(),
            "--smtp-port-out",
            &smtp,
            "--mta-sts-test-port",
            &hang_port.to_string(),
            "--max-outbound",
            "1",
        ],
    );
    submit(&server, "bob@slow.test");
    reached_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the policy fetch for slow.test started");
    submit(&server, "bob@fast.test");
    server.wait_until(
        std::time::Duration::from_secs(15),
        "bob@fast.test delivered while slow.test's policy is fetched",
        || inbox(&peer_data.0, "bob@fast.test").len() == 1,
    );
}

/// RFC 7672 §3.1.3, RFC 8461 §4.2: a signed TLSA set of only unusable
/// records authenticates nothing, so under an enforce policy the MX must
/// still pass the policy's certificate check: this one names only the
/// policy host, and the mail waits.
#[test]
fn rfc8461_4_2_unusable_tlsa_does_not_replace_the_enforce_certificate_check() {
    let pki = TempDir::new("sts-unusable-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, spki) = mx_peer(
        "sts-unusable-peer",
        "unus.test",
        &ca,
        &["mta-sts.unus.test"],
        Some(("enforce", "mx.unus.test")),
    );
    let mut rdata = tlsa_3_1_1(&spki);
    rdata[0] = 1;
    let dns = Dns::start_signed(
        vec![
            ("unus.test", Rr::Mx(10, "mx.unus.test")),
            ("mx.unus.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.unus.test"), Rr::Tlsa(rdata)),
            ("_mta-sts.unus.test", Rr::Txt("v=STSv1; id=1")),
            ("mta-sts.unus.test", Rr::A(LOOPBACK)),
        ],
        &[],
        &[tlsa_at(&peer, "mx.unus.test")],
    );
    let (_data, server) = sender("sts-unusable", &dns, &peer, &ca);
    submit(&server, "bob@unus.test");
    let log = deferred(
        &server,
        "TLS is required by the MTA-STS policy of unus.test",
    );
    assert!(inbox(&peer_data.0, "bob@unus.test").is_empty(), "{log}");
}

/// RFC 8461 §5.1: a `_mta-sts` record but no policy to be had (the host
/// answers 404) and nothing cached: the mail goes as it would without
/// MTA-STS, and the failure is logged.
#[test]
fn rfc8461_5_1_unfetchable_policy_is_no_policy() {
    let pki = TempDir::new("sts-404-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer(
        "sts-404-peer",
        "nopolicy.test",
        &ca,
        &["mta-sts.nopolicy.test"],
        None,
    );
    let dns = Dns::start(
        vec![
            ("nopolicy.test", Rr::Mx(10, "mx.nopolicy.test")),
            ("mx.nopolicy.test", Rr::A(LOOPBACK)),
            ("_mta-sts.nopolicy.test", Rr::Txt("v=STSv1; id=3")),
            ("mta-sts.nopolicy.test", Rr::A(LOOPBACK)),
        ],
        &[],
    );
    let (_data, server) = sender("sts-404", &dns, &peer, &ca);
    submit(&server, "bob@nopolicy.test");
    delivered(&peer_data, &server, "bob@nopolicy.test");
    let log = server.log();
    assert!(
        log.contains("MTA-STS policy of nopolicy.test could not be fetched")
            && log.contains("HTTP status HTTP/1.1 404")
            && log.contains("delivering without one"),
        "{log}"
    );
}

/// RFC 8461 §5.2: in `testing` mode an MX the policy does not name is
/// logged and used all the same.
#[test]
fn rfc8461_5_2_testing_mode_logs_and_delivers() {
    let pki = TempDir::new("sts-testing-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer(
        "sts-testing-peer",
        "trial.test",
        &ca,
        &["mta-sts.trial.test"],
        Some(("testing", "mx.elsewhere.test")),
    );
    let dns = Dns::start(
        vec![
            ("trial.test", Rr::Mx(10, "mx.trial.test")),
            ("mx.trial.test", Rr::A(LOOPBACK)),
            ("_mta-sts.trial.test", Rr::Txt("v=STSv1; id=2")),
            ("mta-sts.trial.test", Rr::A(LOOPBACK)),
        ],
        &[],
    );
    let (_data, server) = sender("sts-testing", &dns, &peer, &ca);
    submit(&server, "bob@trial.test");
    delivered(&peer_data, &server, "bob@trial.test");
    let log = server.log();
    assert!(
        log.contains("MX host mx.trial.test of trial.test is not in its MTA-STS policy (testing): delivering anyway"),
        "{log}"
    );
}

/// The TLSA name of `host` at the port the sender connects to (RFC 6698
/// §3: the port actually used; the tests' MX listens on a free port).
fn tlsa_at(peer: &Server, host: &str) -> &'static str {
    Box::leak(format!("_{}._tcp.{host}", peer.port("smtp")).into_boxed_str())
}

fn tlsa_3_1_1(spki: &[u8]) -> Vec<u8> {
    let mut rdata = vec![3, 1, 1];
    rdata.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, spki).as_ref());
    rdata
}

/// RFC 7672 §3.1.1: a DNSSEC-validated (AD) TLSA 3 1 1 record of the
/// MX's key: delivered over TLS, although no CA the sender knows issued
/// the certificate (no `--mta-sts-test-ca` needed for DANE).
#[test]
fn rfc7672_3_1_1_dane_ee_match_delivers() {
    let pki = TempDir::new("dane-ok-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, spki) = mx_peer("dane-ok-peer", "dane.test", &ca, &["other.name"], None);
    let dns = Dns::start_signed(
        vec![
            ("dane.test", Rr::Mx(10, "mx.dane.test")),
            ("mx.dane.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.dane.test"), Rr::Tlsa(tlsa_3_1_1(&spki))),
        ],
        &[],
        &[tlsa_at(&peer, "mx.dane.test")],
    );
    let data = TempDir::new("dane-ok");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &smtp],
    );
    submit(&server, "bob@dane.test");
    let got = delivered(&peer_data, &server, "bob@dane.test");
    assert!(got.contains("with ESMTPS"), "not over TLS: {got}");
    let log = server.log();
    assert!(
        !log.contains("does not verify"),
        "DANE, not opportunistic: {log}"
    );
    assert!(
        log.contains("delivery: DANE for MX host mx.dane.test: DNSSEC-validated TLSA records"),
        "{log}"
    );
}

/// RFC 7672 §2.2, §3.1.1: the validated TLSA record names another key:
/// the mail waits, saying DANE demanded it; the same record without the
/// AD bit is not trusted and changes nothing.
#[test]
fn rfc7672_2_2_dane_mismatch_defers_and_tlsa_without_ad_is_ignored() {
    let pki = TempDir::new("dane-bad-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer("dane-bad-peer", "dane.test", &ca, &["mx.dane.test"], None);
    let wrong = tlsa_3_1_1(b"some other key");
    let dns = Dns::start_signed(
        vec![
            ("dane.test", Rr::Mx(10, "mx.dane.test")),
            ("mx.dane.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.dane.test"), Rr::Tlsa(wrong.clone())),
        ],
        &[],
        &[tlsa_at(&peer, "mx.dane.test")],
    );
    let data = TempDir::new("dane-bad");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &smtp],
    );
    submit(&server, "bob@dane.test");
    let log = deferred(
        &server,
        &format!(
            "TLS is required by DANE (TLSA of {}",
            tlsa_at(&peer, "mx.dane.test")
        ),
    );
    assert!(log.contains("no TLSA record matches"), "{log}");
    assert!(inbox(&peer_data.0, "bob@dane.test").is_empty());

    // Unsigned: the resolver did not vouch for the record.
    let unsigned = Dns::start(
        vec![
            ("dane.test", Rr::Mx(10, "mx.dane.test")),
            ("mx.dane.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.dane.test"), Rr::Tlsa(wrong)),
        ],
        &[],
    );
    let data2 = TempDir::new("dane-unsigned");
    add_user(&data2.0, "alice@home.arpa", "alice-pw");
    let server2 = Server::start(
        &data2.0,
        &["--dns-server", &unsigned.flag(), "--smtp-port-out", &smtp],
    );
    submit(&server2, "bob@dane.test");
    delivered(&peer_data, &server2, "bob@dane.test");
    assert!(
        server2
            .log()
            .contains("not DNSSEC-validated (no AD bit); DANE not used")
    );
}

/// RFC 7672 §3.2.2: a validated DANE-TA 2 0 1 record names the private CA
/// the MX's chain ends in: the chain and the MX name are checked against
/// it, and the mail goes over TLS.
#[test]
fn rfc7672_3_2_2_dane_ta_delivers_to_a_chain_with_the_mx_name() {
    let pki = TempDir::new("dane-ta-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, _) = mx_peer("dane-ta-peer", "ta.test", &ca, &["mx.ta.test"], None);
    let mut rdata = vec![2, 0, 1];
    rdata.extend_from_slice(
        ring::digest::digest(&ring::digest::SHA256, ca.issuer.der().as_ref()).as_ref(),
    );
    let dns = Dns::start_signed(
        vec![
            ("ta.test", Rr::Mx(10, "mx.ta.test")),
            ("mx.ta.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.ta.test"), Rr::Tlsa(rdata)),
        ],
        &[],
        &[tlsa_at(&peer, "mx.ta.test")],
    );
    let data = TempDir::new("dane-ta");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &smtp],
    );
    submit(&server, "bob@ta.test");
    let got = delivered(&peer_data, &server, "bob@ta.test");
    assert!(got.contains("with ESMTPS"), "not over TLS: {got}");
    // Opportunistic TLS would deliver too: the log must show DANE at work.
    let log = server.log();
    assert!(
        log.contains("delivery: DANE for MX host mx.ta.test: DNSSEC-validated TLSA records"),
        "{log}"
    );
    assert!(!log.contains("does not verify"), "{log}");
}

/// RFC 7672 §3.2.2: the DANE-TA record names a CA that did not issue the
/// MX's chain: no anchor, so the mail waits (never plaintext, never
/// opportunistic TLS).
#[test]
fn rfc7672_3_2_2_dane_ta_with_the_wrong_anchor_defers() {
    let pki = TempDir::new("dane-ta-bad-ca");
    let ca = ca(&pki.0);
    let other = TempDir::new("dane-ta-other-ca");
    let other = self::ca(&other.0);
    let (peer_data, peer, _) = mx_peer(
        "dane-ta-bad-peer",
        "tabad.test",
        &ca,
        &["mx.tabad.test"],
        None,
    );
    let mut rdata = vec![2, 0, 1];
    rdata.extend_from_slice(
        ring::digest::digest(&ring::digest::SHA256, other.issuer.der().as_ref()).as_ref(),
    );
    let dns = Dns::start_signed(
        vec![
            ("tabad.test", Rr::Mx(10, "mx.tabad.test")),
            ("mx.tabad.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.tabad.test"), Rr::Tlsa(rdata)),
        ],
        &[],
        &[tlsa_at(&peer, "mx.tabad.test")],
    );
    let data = TempDir::new("dane-ta-bad");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &smtp],
    );
    submit(&server, "bob@tabad.test");
    deferred(
        &server,
        &format!(
            "TLS is required by DANE (TLSA of {}",
            tlsa_at(&peer, "mx.tabad.test")
        ),
    );
    assert!(inbox(&peer_data.0, "bob@tabad.test").is_empty());
}

/// RFC 7672 §2.2, §3.1.3: a validated set of only unusable records (here
/// PKIX-EE, usage 1, which SMTP does not use) still demands TLS, without
/// authentication: the mail goes encrypted to a peer offering TLS, and
/// waits at one that does not (never plaintext).
#[test]
fn rfc7672_3_1_3_only_unusable_tlsa_records_still_require_tls() {
    let pki = TempDir::new("dane-unusable-ca");
    let ca = ca(&pki.0);
    let (peer_data, peer, spki) =
        mx_peer("dane-unusable-peer", "pkix.test", &ca, &["x.test"], None);
    let mut rdata = tlsa_3_1_1(&spki);
    rdata[0] = 1;
    let dns = Dns::start_signed(
        vec![
            ("pkix.test", Rr::Mx(10, "mx.pkix.test")),
            ("mx.pkix.test", Rr::A(LOOPBACK)),
            (tlsa_at(&peer, "mx.pkix.test"), Rr::Tlsa(rdata.clone())),
        ],
        &[],
        &[tlsa_at(&peer, "mx.pkix.test")],
    );
    let data = TempDir::new("dane-unusable");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let smtp = peer.port("smtp").to_string();
    let server = Server::start(
        &data.0,
        &["--dns-server", &dns.flag(), "--smtp-port-out", &smtp],
    );
    submit(&server, "bob@pkix.test");
    let got = delivered(&peer_data, &server, "bob@pkix.test");
    assert!(got.contains("with ESMTPS"), "not over TLS: {got}");
    assert!(
        server
            .log()
            .contains("TLSA records of mx.pkix.test are all unusable: TLS required")
    );

    // A peer without STARTTLS: the same records make the mail wait.
    let plain = plain_smtp_peer();
    let name = tlsa_at_port(plain, "mx.pkix.test");
    let dns2 = Dns::start_signed(
        vec![
            ("pkix.test", Rr::Mx(10, "mx.pkix.test")),
            ("mx.pkix.test", Rr::A(LOOPBACK)),
            (name, Rr::Tlsa(rdata)),
        ],
        &[],
        &[name],
    );
    let data2 = TempDir::new("dane-unusable-plain");
    add_user(&data2.0, "alice@home.arpa", "alice-pw");
    let server2 = Server::start(
        &data2.0,
        &[
            "--dns-server",
            &dns2.flag(),
            "--smtp-port-out",
            &plain.to_string(),
        ],
    );
    submit(&server2, "bob@pkix.test");
    deferred(
        &server2,
        &format!("TLS is required by DANE (unusable TLSA of {name})"),
    );
}

fn tlsa_at_port(port: u16, host: &str) -> &'static str {
    Box::leak(format!("_{port}._tcp.{host}").into_boxed_str())
}

/// An SMTP server on loopback that offers no STARTTLS and takes nothing
/// (it answers 250 to EHLO and 221 to everything else); its port.
fn plain_smtp_peer() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = conn.write_all(b"220 plain.test ESMTP\r\n");
            let mut lines = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                let reply: &[u8] = if line.to_ascii_uppercase().starts_with("EHLO") {
                    b"250-plain.test\r\n250 8BITMIME\r\n"
                } else {
                    b"221 bye\r\n"
                };
                if conn.write_all(reply).is_err() || reply.starts_with(b"221") {
                    break;
                }
                line.clear();
            }
        }
    });
    port
}
