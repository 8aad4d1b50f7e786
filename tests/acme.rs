//! ACME (RFC 8555) against Pebble, Let's Encrypt's test CA (Debian's
//! `pebble`): a certificate issued over TLS-ALPN-01 (RFC 8737), served on
//! IMAPS and submissions (checked with `openssl s_client` against Pebble's
//! root), kept in the store across a restart, and renewed at two thirds of
//! a short lifetime with the listeners serving the new serial; and the
//! same over HTTP-01 (RFC 8555 §8.3) on the HTTP listener.
//!
//! Pebble resolves the names through `pebble-challtestsrv`'s DNS (every
//! name is 127.0.0.1) and validates on the ports its config names.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{PATIENCE, Server, TempDir, free_port, require_tool, run_ok, wait_until};

const NAMES: &str = "mail.home.arpa,autoconfig.home.arpa";

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pebble and its DNS, for a server validated on `tls_port`.
struct Pebble {
    _dns: Killed,
    _pebble: Killed,
    dir: PathBuf,
    management: u16,
    log: PathBuf,
}

/// The CA Pebble's own HTTPS listener is signed by (Debian ships none of
/// Pebble's test certificates): `ca.pem`, and `cert.pem`/`key.pem` for
/// 127.0.0.1.
fn pebble_https_cert(dir: &Path) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "smolmail test ACME server CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf_cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();
}

impl Pebble {
    /// `port` is where the directory will listen (chosen before the server
    /// starts, so the server can be told); `validity` in seconds, or 0 for
    /// Pebble's default (years).
    fn start(dir: &Path, port: u16, tls_port: u16, http_port: u16, validity: u64) -> Pebble {
        let pebble = require_tool("pebble", "pebble");
        let challtestsrv = require_tool("pebble-challtestsrv", "pebble");
        let (dns_port, management) = (free_port(), free_port());
        let dns = Command::new(challtestsrv)
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-management", &format!("127.0.0.1:{}", free_port())])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("dns.log")).unwrap())
            .spawn()
            .unwrap();
        let mut settings = pebble_config(dir, port, management, tls_port, http_port);
        if validity > 0 {
            settings = settings.replace(
                "\"externalAccountBindingRequired\": false",
                &format!(
                    "\"externalAccountBindingRequired\": false, \"certificateValidityPeriod\": {validity}"
                ),
            );
        }
        std::fs::write(dir.join("pebble.json"), settings).unwrap();
        let log = dir.join("pebble.log");
        let child = Command::new(pebble)
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // Validations at once, always checked for real, and no nonces
            // refused at random (so the test's timing does not depend on it).
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_VA_ALWAYS_VALID", "0")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pebble = Pebble {
            _dns: Killed(dns),
            _pebble: Killed(child),
            dir: dir.to_path_buf(),
            management,
            log,
        };
        wait_until(PATIENCE, "pebble listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", management)).is_ok()
        });
        pebble
    }

    /// Pebble's issuing root (it makes a new one at each start), from its
    /// management API.
    fn root(&self) -> PathBuf {
        let path = self.dir.join("pebble-root.pem");
        let pem = run_ok(
            Command::new(require_tool("curl", "curl"))
                .args(["-sf", "--cacert"])
                .arg(self.dir.join("ca.pem"))
                .arg(format!("https://127.0.0.1:{}/roots/0", self.management)),
        );
        assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
        std::fs::write(&path, pem).unwrap();
        path
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn pebble_config(dir: &Path, port: u16, management: u16, tls: u16, http: u16) -> String {
    format!(
        r#"{{"pebble": {{
  "listenAddress": "127.0.0.1:{port}",
  "managementListenAddress": "127.0.0.1:{management}",
  "certificate": "{}",
  "privateKey": "{}",
  "httpPort": {http},
  "tlsPort": {tls},
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false
}}}}"#,
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    )
}

/// The serial of the certificate `port` serves for `name`, if it verifies
/// against `root` (None while the self-signed one is still served).
fn verified_serial(port: u16, name: &str, root: &Path) -> Option<String> {
    let script = format!(
        "openssl s_client -connect 127.0.0.1:{port} -servername {name} -CAfile {} \
         -verify_return_error -verify_hostname {name} </dev/null 2>/dev/null \
         | openssl x509 -noout -serial",
        root.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && text.starts_with("serial=")).then_some(text)
}

/// The server's ACME settings for a Pebble to come on `port` with its
/// HTTPS certificate in `dir` (made now: `--acme-ca` must exist).
fn acme_args(dir: &Path, port: u16, extra: &[&str]) -> Vec<String> {
    pebble_https_cert(dir);
    let mut args = vec![
        "--acme-domain".to_string(),
        NAMES.to_string(),
        "--acme-directory".to_string(),
        format!("https://127.0.0.1:{port}/dir"),
        "--acme-ca".to_string(),
        dir.join("ca.pem").display().to_string(),
        "--acme-email".to_string(),
        "postmaster@home.arpa".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// RFC 8737 / RFC 8555 §7: an order validated by TLS-ALPN-01 on the TLS
/// listener yields a certificate that IMAPS and submissions serve for
/// every name; after a restart the stored certificate is served again
/// without a new order.
#[test]
fn rfc8737_tls_alpn_01_certificate_served_on_imaps_and_submissions() {
    require_tool("openssl", "openssl");
    let dir = TempDir::new("acme-alpn");
    let data = dir.0.join("data");
    let pebble_dir = dir.0.join("pebble");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    // Pebble validates on the server's IMAPS port, known only once the
    // server runs: the server starts first and its first orders fail
    // (connection refused) and back off until Pebble is up.
    let pebble_port = free_port();
    let args = acme_args(&pebble_dir, pebble_port, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&data, &args);
    let pebble = Pebble::start(&pebble_dir, pebble_port, server.port("imaps"), 9, 0);
    let root = pebble.root();
    let mut serial = None;
    server.wait_until(PATIENCE, "an ACME certificate on imaps", || {
        serial = verified_serial(server.port("imaps"), "mail.home.arpa", &root);
        serial.is_some()
    });
    let log = server.log();
    assert!(log.contains("acme: new certificate issued"), "{log}");
    assert!(
        log.contains("answered an ACME TLS-ALPN-01 validation"),
        "{log}"
    );
    assert!(
        log.contains("order failed (attempt 1), next try in"),
        "{log}"
    );
    for (service, name) in [
        ("submissions", "mail.home.arpa"),
        ("imaps", "autoconfig.home.arpa"),
    ] {
        assert_eq!(
            verified_serial(server.port(service), name, &root),
            serial,
            "{service} for {name}\n{}",
            pebble.log()
        );
    }
    // The certificate and account key are in the store: a restart serves
    // the same certificate and orders nothing.
    drop(server);
    let server = Server::start(&data, &args);
    server.wait_for_log("acme: stored certificate loaded");
    assert_eq!(
        verified_serial(server.port("imaps"), "mail.home.arpa", &root),
        serial
    );
    assert!(!server.log().contains("new certificate issued"));
    // SIGHUP reloads file certificates; it leaves the ACME one in place.
    run_ok(Command::new("kill").args(["-HUP", &server.child.id().to_string()]));
    server.wait_for_log("ACME and renews itself; nothing to reload");
    assert_eq!(
        verified_serial(server.port("imaps"), "mail.home.arpa", &root),
        serial
    );
}

/// RFC 8555 §8.3: with `--acme-challenge http-01` the CA fetches the key
/// authorization from the HTTP listener's /.well-known/acme-challenge/.
#[test]
fn rfc8555_8_3_http_01_certificate_served_on_imaps() {
    require_tool("openssl", "openssl");
    let dir = TempDir::new("acme-http");
    let data = dir.0.join("data");
    let pebble_dir = dir.0.join("pebble");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let pebble_port = free_port();
    let args = acme_args(&pebble_dir, pebble_port, &["--acme-challenge", "http-01"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&data, &args);
    // No TLS port to validate on (9 is closed): only HTTP-01 can pass.
    let pebble = Pebble::start(&pebble_dir, pebble_port, 9, server.port("http"), 0);
    let root = pebble.root();
    let mut serial = None;
    server.wait_until(PATIENCE, "an ACME certificate on imaps", || {
        serial = verified_serial(server.port("imaps"), "mail.home.arpa", &root);
        serial.is_some()
    });
    assert_eq!(
        verified_serial(server.port("submissions"), "autoconfig.home.arpa", &root),
        serial
    );
    let log = server.log();
    assert!(log.contains("by http-01"), "{log}");
    assert!(!log.contains("TLS-ALPN-01 validation"), "{log}");
}

/// Renewal at two thirds of the lifetime (with Pebble issuing 30-second
/// certificates: due after 20 s), the new certificate served by IMAPS
/// and submissions without a restart.
#[test]
fn renewal_at_two_thirds_of_lifetime_swaps_listeners_certificate() {
    require_tool("openssl", "openssl");
    let dir = TempDir::new("acme-renew");
    let data = dir.0.join("data");
    let pebble_dir = dir.0.join("pebble");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let pebble_port = free_port();
    let args = acme_args(&pebble_dir, pebble_port, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&data, &args);
    // Validated on the HTTPS listener this time, as a CA does on 443.
    let pebble = Pebble::start(&pebble_dir, pebble_port, server.port("https"), 9, 30);
    let root = pebble.root();
    let mut first = None;
    server.wait_until(PATIENCE, "a first ACME certificate", || {
        first = verified_serial(server.port("imaps"), "mail.home.arpa", &root);
        first.is_some()
    });
    let mut second = None;
    server.wait_until(
        PATIENCE + Duration::from_secs(30),
        "a renewed certificate on imaps",
        || {
            second = verified_serial(server.port("imaps"), "mail.home.arpa", &root);
            second.is_some() && second != first
        },
    );
    let on_submissions = verified_serial(server.port("submissions"), "mail.home.arpa", &root);
    assert!(
        on_submissions.is_some() && on_submissions != first,
        "submissions still serves {first:?}"
    );
    assert!(server.log().matches("acme: new certificate issued").count() >= 2);
}
