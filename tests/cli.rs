//! The `smolmail` binary as a user runs it: administrative commands, start-up
//! errors, the running server's listeners, connection limits, certificate
//! reload on SIGHUP and clean exit on SIGTERM. Real sockets on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{BIN, PATIENCE, TempDir, free_port};

fn smolmail(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("SMOLMAIL_DATA", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `smolmail serve`, killed when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path, args: &[String]) -> Server {
        let log = data.join("serve.log");
        let child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .env("SMOLMAIL_DATA", data)
            .env("SMOLMAIL_HOSTNAME", "mail.home.arpa")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Server { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, needle: &str) {
        common::wait_until_with(
            PATIENCE,
            &format!("{needle:?} in the log"),
            || self.log().contains(needle),
            || self.log(),
        );
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listen flags for every service on free loopback ports; `off` for the rest.
fn listen_args(ports: &[(&str, u16)]) -> Vec<String> {
    let mut args = Vec::new();
    for service in [
        "smtp",
        "submission",
        "submissions",
        "imap",
        "imaps",
        "pop3",
        "pop3s",
        "http",
        "https",
        "metrics",
    ] {
        args.push(format!("--{service}"));
        match ports.iter().find(|(s, _)| *s == service) {
            Some((_, port)) => args.push(format!("127.0.0.1:{port}")),
            None => args.push("off".into()),
        }
    }
    args
}

#[test]
fn user_add_then_list() {
    let data = TempDir::new("users");
    let out = smolmail(
        &data.0,
        &["user", "add", "a@home.arpa", "--password-stdin"],
        "pw\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = smolmail(&data.0, &["user", "list"], "");
    assert_eq!(text(&out.stdout).trim(), "a@home.arpa  used 0, no quota");
    let out = smolmail(&data.0, &["domain", "list"], "");
    assert_eq!(text(&out.stdout).trim(), "home.arpa");
    // The same user twice is an error naming the user.
    let out = smolmail(
        &data.0,
        &["user", "add", "A@Home.Arpa", "--password-stdin"],
        "pw\n",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("a@home.arpa exists"),
        "{}",
        text(&out.stderr)
    );
    // Passwords are stored hashed.
    let store = std::fs::read(data.0.join("data.mdb")).unwrap();
    assert!(store.windows(9).any(|w| w == b"$argon2id"));
    let out = smolmail(
        &data.0,
        &["user", "passwd", "a@home.arpa", "--password-stdin"],
        "new\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = smolmail(
        &data.0,
        &["user", "add", "b@home.arpa", "--password-stdin"],
        "\n",
    );
    assert!(
        text(&out.stderr).contains("password is empty"),
        "{}",
        text(&out.stderr)
    );
    let out = smolmail(&data.0, &["user", "del", "a@home.arpa"], "");
    assert!(out.status.success());
    assert_eq!(
        text(&smolmail(&data.0, &["user", "list"], "").stdout).trim(),
        ""
    );
}

/// `backup` makes a private copy: directories it creates are 0700, the
/// copied store and TLS files 0600, whatever the umask and the sources'
/// modes; the copy opens; a second backup into it is refused.
#[test]
fn backup_copy_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let data = TempDir::new("backup-src");
    let out = smolmail(
        &data.0,
        &["user", "add", "a@home.arpa", "--password-stdin"],
        "pw\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tls = data.0.join("tls");
    std::fs::create_dir(&tls).unwrap();
    std::fs::write(tls.join("cert.pem"), "not really a certificate").unwrap();
    std::fs::set_permissions(tls.join("cert.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let dest = TempDir::new("backup-dest");
    let copy = dest.0.join("new").join("copy");
    let out = smolmail(&data.0, &["backup", copy.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dest.0.join("new")), 0o700);
    assert_eq!(mode(&copy), 0o700);
    assert_eq!(mode(&copy.join("data.mdb")), 0o600);
    assert_eq!(mode(&copy.join("tls")), 0o700);
    assert_eq!(mode(&copy.join("tls").join("cert.pem")), 0o600);
    let out = smolmail(&copy, &["user", "list"], "");
    assert_eq!(text(&out.stdout).trim(), "a@home.arpa  used 0, no quota");
    let out = smolmail(&data.0, &["backup", copy.to_str().unwrap()], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already holds a store"),
        "{}",
        text(&out.stderr)
    );
}

/// `user add --quota`, `user quota` and `user list`: sizes in the units of
/// `--max-message-size`, 0 unlimited, a bad size or an unknown user
/// refused without a change; the list shows the mail held against the
/// quota.
#[test]
fn user_quotas() {
    let data = TempDir::new("quota-cli");
    let add = |args: &[&str]| smolmail(&data.0, args, "pw\n");
    let out = add(&[
        "user",
        "add",
        "q@home.arpa",
        "--password-stdin",
        "--quota",
        "10K",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("with a quota of 10K"));
    // Refused before the password is read (so no stdin here).
    let out = smolmail(
        &data.0,
        &[
            "user",
            "add",
            "r@home.arpa",
            "--password-stdin",
            "--quota",
            "lots",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a size"),
        "{}",
        text(&out.stderr)
    );
    let list = |data: &Path| text(&smolmail(data, &["user", "list"], "").stdout);
    assert_eq!(list(&data.0).trim(), "q@home.arpa  used 0 of 10K (0%)");

    // Mail held counts, in every mailbox.
    let store = smolmail::store::Store::open(&data.0, &Default::default()).unwrap();
    let account = store
        .read()
        .unwrap()
        .account("q@home.arpa")
        .unwrap()
        .unwrap();
    let mailboxes = store.read().unwrap().mailboxes(account.id).unwrap();
    let ids: Vec<u64> = mailboxes.iter().take(2).map(|m| m.id).collect();
    let delivery = smolmail::store::Delivery::new(vec![b'x'; 3000], 0, ids, None);
    smol::block_on(store.deliver(delivery)).unwrap();
    store.shutdown();
    drop(store);
    assert_eq!(list(&data.0).trim(), "q@home.arpa  used 5.9K of 10K (58%)");

    let out = smolmail(&data.0, &["user", "quota", "Q@Home.Arpa", "2G"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(list(&data.0).trim(), "q@home.arpa  used 5.9K of 2G (0%)");
    let out = smolmail(&data.0, &["user", "quota", "q@home.arpa", "0"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(list(&data.0).trim(), "q@home.arpa  used 5.9K, no quota");
    let out = smolmail(&data.0, &["user", "quota", "nobody@home.arpa", "1M"], "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no user nobody@home.arpa"));
    let out = smolmail(&data.0, &["user", "quota", "q@home.arpa", "-1"], "");
    assert!(!out.status.success());
    assert_eq!(list(&data.0).trim(), "q@home.arpa  used 5.9K, no quota");
}

#[test]
fn aliases_and_domains() {
    let data = TempDir::new("aliases");
    let out = smolmail(
        &data.0,
        &["alias", "add", "@home.arpa", "a@home.arpa", "b@home.arpa"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&smolmail(&data.0, &["alias", "list"], "").stdout).trim(),
        "@home.arpa -> a@home.arpa, b@home.arpa"
    );
    let out = smolmail(&data.0, &["domain", "del", "home.arpa"], "");
    assert!(
        text(&out.stderr).contains("1 alias"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        smolmail(&data.0, &["alias", "del", "@home.arpa"], "")
            .status
            .success()
    );
    assert!(
        smolmail(&data.0, &["domain", "del", "home.arpa"], "")
            .status
            .success()
    );
    assert!(
        smolmail(&data.0, &["domain", "add", "Other.Example"], "")
            .status
            .success()
    );
    assert_eq!(
        text(&smolmail(&data.0, &["domain", "list"], "").stdout).trim(),
        "other.example"
    );
}

#[test]
fn import_dovecot_passwd_file() {
    let data = TempDir::new("import");
    let file = data.0.join("passwd");
    // dave's hash is `openssl passwd -6 -salt saltsalt secret`, as Dovecot
    // stores SHA512-CRYPT; grace's is malformed and must be refused.
    std::fs::write(
        &file,
        "# Dovecot users\n\
         carol@home.arpa:{PLAIN}secret::::::\n\
         dave:{SHA512-CRYPT}$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1::::\n\
         grace:{SHA512-CRYPT}$6$broken::::\n\
         erin@home.arpa:{MD5-CRYPT}$1$abc$def::::\n\
         frank@home.arpa:{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA::\n",
    )
    .unwrap();
    let out = smolmail(
        &data.0,
        &[
            "user",
            "import-passwd",
            file.to_str().unwrap(),
            "--domain",
            "home.arpa",
        ],
        "",
    );
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "an unsupported scheme must fail the command"
    );
    assert!(stderr.contains("MD5-CRYPT is not supported"), "{stderr}");
    let users = text(&smolmail(&data.0, &["user", "list"], "").stdout);
    assert!(
        users.contains("carol@home.arpa")
            && users.contains("dave@home.arpa")
            && users.contains("frank@home.arpa"),
        "{users}"
    );
    assert!(
        !users.contains("erin") && !users.contains("grace"),
        "{users}"
    );
    // The cleartext password was hashed, not stored as given.
    let store = std::fs::read(data.0.join("data.mdb")).unwrap();
    assert!(
        !store.windows(14).any(|w| w == b"{PLAIN}secret\0")
            && !store.windows(13).any(|w| w == b"{PLAIN}secret")
    );
}

#[test]
fn bad_flag_stops_startup_with_one_line() {
    let data = TempDir::new("badflag");
    let out = smolmail(&data.0, &["serve", "--smtp", "nonsense"], "");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--smtp") && stderr.contains("nonsense"),
        "{stderr}"
    );
    let out = Command::new(BIN)
        .args(["serve"])
        .env("SMOLMAIL_DATA", &data.0)
        .env("SMOLMAIL_MAX_MESSAGE_SIZE", "huge")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("SMOLMAIL_MAX_MESSAGE_SIZE"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn address_in_use_is_explained() {
    let data = TempDir::new("inuse");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .arg("serve")
        .args(listen_args(&[("imap", port)]))
        .env("SMOLMAIL_DATA", &data.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("--imap 127.0.0.1:{port}")) && stderr.contains("in use"),
        "{stderr}"
    );
}

/// Binding a privileged port unprivileged says what to do. As root the
/// test drops to `nobody` with setpriv (util-linux); as anyone else it
/// runs the server as itself.
#[test]
fn privileged_port_is_explained() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let is_root = field("Uid:")[1] == "0";
    let unprivileged_from: u32 =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .map_or(1024, |s| s.trim().parse().unwrap());
    assert!(
        unprivileged_from > 25,
        "net.ipv4.ip_unprivileged_port_start is {unprivileged_from}: anyone may bind port 25 \
         here, so this test cannot see the refusal; run it where the sysctl is above 25 (the default is 1024)"
    );
    let data = TempDir::new("privileged");
    let mut cmd = if is_root {
        let setpriv = common::require_tool("setpriv", "util-linux");
        Command::new("chmod")
            .args(["777", data.0.to_str().unwrap()])
            .status()
            .unwrap();
        let mut cmd = Command::new(setpriv);
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            BIN,
        ]);
        cmd
    } else {
        // CAP_NET_BIND_SERVICE is bit 10 of the effective set.
        let effective = u64::from_str_radix(&field("CapEff:")[0], 16).unwrap();
        assert!(
            effective & (1 << 10) == 0,
            "this unprivileged test process has CAP_NET_BIND_SERVICE: it cannot see the refusal"
        );
        Command::new(BIN)
    };
    let out = cmd
        .arg("serve")
        .args(listen_args(&[("smtp", 25)]))
        .env("SMOLMAIL_DATA", &data.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("CAP_NET_BIND_SERVICE") && stderr.contains("--port-offset"),
        "{stderr}"
    );
}

#[test]
fn serve_listens_reloads_and_stops() {
    let data = TempDir::new("serve");
    let (imap, imaps, smtp) = (free_port(), free_port(), free_port());
    let server = Server::start(
        &data.0,
        &listen_args(&[("imap", imap), ("imaps", imaps), ("smtp", smtp)]),
    );
    server.wait_for_log(&format!("imaps: listening on 127.0.0.1:{imaps}"));
    let log = server.log();
    assert!(
        log.contains("no users yet: add one with `smolmail user add"),
        "{log}"
    );
    assert!(
        log.contains("self-signed certificate") && log.contains("sha256"),
        "{log}"
    );

    // Implicit TLS: the handshake happens before the first protocol byte.
    common::require_tool("openssl", "openssl");
    let fingerprint = || {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect 127.0.0.1:{imaps} -servername mail.home.arpa </dev/null 2>/dev/null \
                 | openssl x509 -noout -fingerprint -sha256"
            ))
            .output()
            .unwrap();
        text(&out.stdout).trim().to_string()
    };
    let before = fingerprint();
    assert!(
        before.contains("Fingerprint="),
        "no certificate served: {before:?}"
    );
    let logged = before.split('=').nth(1).unwrap();
    assert!(
        server.log().contains(logged),
        "the logged fingerprint differs from the served one"
    );

    // SIGHUP re-reads the certificate files: replace them, and the server
    // serves the new one without restarting.
    std::fs::remove_file(data.0.join("tls/selfsigned-cert.pem")).unwrap();
    std::fs::remove_file(data.0.join("tls/selfsigned-key.pem")).unwrap();
    let other = TempDir::new("serve-othercert");
    // What `serve` does at its first start: a new self-signed pair in
    // other/tls/, written (key first) before `load` returns.
    smolmail::tls::Tls::load(None, &other.0, "mail.home.arpa").unwrap();
    for f in ["selfsigned-cert.pem", "selfsigned-key.pem"] {
        std::fs::copy(other.0.join("tls").join(f), data.0.join("tls").join(f)).unwrap();
    }
    // A connection open across the reload keeps working.
    let mut held = TcpStream::connect(("127.0.0.1", smtp)).unwrap();
    server.signal("HUP");
    server.wait_for_log("certificate reloaded (SIGHUP)");
    let after = fingerprint();
    assert_ne!(before, after, "SIGHUP did not load the new certificate");
    let mut greeting = String::new();
    held.set_read_timeout(Some(PATIENCE)).unwrap();
    BufReader::new(&mut held).read_line(&mut greeting).unwrap();
    assert!(
        greeting.starts_with("554 ") || greeting.starts_with("220 "),
        "{greeting:?}"
    );

    // SIGTERM: stop accepting, exit 0.
    server.signal("TERM");
    let mut server = server;
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert!(server.log().contains("smolmail stopped"));
    assert!(
        TcpStream::connect(("127.0.0.1", imap)).is_err(),
        "still accepting after SIGTERM"
    );
}

/// Past the per-IP limit a client is told to come back later, in the
/// protocol's words; a freed place is usable again.
#[test]
fn per_ip_connection_limit() {
    let data = TempDir::new("limits");
    let (imap, imaps) = (free_port(), free_port());
    let mut args = listen_args(&[("imap", imap), ("imaps", imaps)]);
    args.extend(["--max-connections-per-ip".to_string(), "2".to_string()]);
    let server = Server::start(&data.0, &args);
    server.wait_for_log(&format!("imaps: listening on 127.0.0.1:{imaps}"));
    // Connections to the implicit-TLS port that never say hello hold places.
    let a = TcpStream::connect(("127.0.0.1", imaps)).unwrap();
    let b = TcpStream::connect(("127.0.0.1", imaps)).unwrap();
    server.wait_for_log("[2] imaps: connect");
    let mut c = TcpStream::connect(("127.0.0.1", imap)).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("* BYE [UNAVAILABLE] too many connections"),
        "{reply:?}"
    );
    server.wait_for_log("too many connections (PerIp limit)");
    drop((a, b));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let d = TcpStream::connect(("127.0.0.1", imap)).unwrap();
        d.set_read_timeout(Some(PATIENCE)).unwrap();
        // The greeting, or the refusal.
        let mut reply = String::new();
        BufReader::new(d).read_line(&mut reply).unwrap();
        assert!(reply.starts_with("* "), "{reply:?}");
        if !reply.contains("too many connections") {
            break;
        }
        assert!(Instant::now() < deadline, "places not given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `smolmail dns-records` prints a zone that a DNS library reads as the
/// records RFC 6186 (SRV, implicit TLS first), RFC 5321 (MX) and RFC 8461
/// (MTA-STS) ask for, with the ports and services of the settings: POP3
/// off here, so its SRV says "not offered" (RFC 6186 §4). And the sender
/// authentication records: SPF (RFC 7208), both DKIM keys from the store
/// (RFC 6376; the RSA one in two strings), DMARC (RFC 7489), TLSRPT (RFC
/// 8460).
#[test]
fn dns_records_is_a_zone_with_rfc6186_services() {
    let data = TempDir::new("cli-dns-records");
    common::admin(&data.0, &["domain", "add", "example.org"], "");
    common::admin(
        &data.0,
        &["dkim", "add", "example.org", "--selector", "k1"],
        "",
    );
    let out = Command::new(BIN)
        .args(["dns-records", "Example.org"])
        .env("SMOLMAIL_DATA", &data.0)
        .env("SMOLMAIL_HOSTNAME", "mail.example.org")
        .env("SMOLMAIL_POP3", "off")
        .env("SMOLMAIL_IMAPS", "[::]:10993")
        .env("SMOLMAIL_MTA_STS_MODE", "enforce")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let zone = text(&out.stdout);
    let pydeps = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pydeps");
    let parsed = common::run_with_stdin(
        Command::new("python3")
            .args([
                "-c",
                "import sys, dnslib\n\
             for rr in dnslib.RR.fromZone(sys.stdin.read()):\n\
             \x20   print(rr.rname, dnslib.QTYPE[rr.rtype], rr.rdata)",
            ])
            .env("PYTHONPATH", pydeps),
        &zone,
    );
    assert!(parsed.status.success(), "{}\n{zone}", text(&parsed.stderr));
    let records: Vec<String> = text(&parsed.stdout).lines().map(String::from).collect();
    let has = |r: &str| records.iter().any(|x| x == r);
    for want in [
        "example.org. MX 10 mail.example.org.",
        "_submissions._tcp.example.org. SRV 0 1 465 mail.example.org.",
        "_submission._tcp.example.org. SRV 10 1 587 mail.example.org.",
        "_imaps._tcp.example.org. SRV 0 1 10993 mail.example.org.",
        "_imap._tcp.example.org. SRV 10 1 143 mail.example.org.",
        "_pop3s._tcp.example.org. SRV 20 1 995 mail.example.org.",
        "_pop3._tcp.example.org. SRV 0 0 0 .",
        "autoconfig.example.org. CNAME mail.example.org.",
        "_autodiscover._tcp.example.org. SRV 0 1 443 mail.example.org.",
        "mta-sts.example.org. CNAME mail.example.org.",
        "example.org. TXT \"v=spf1 mx -all\"",
        "_dmarc.example.org. TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.org\"",
        "_smtp._tls.example.org. TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.org\"",
    ] {
        assert!(has(want), "missing {want:?} in {records:#?}");
    }
    let starts = |p: &str| records.iter().find(|r| r.starts_with(p));
    assert!(
        starts("k1-ed25519._domainkey.example.org. TXT \"v=DKIM1; k=ed25519; p=").is_some(),
        "{records:#?}"
    );
    let rsa = starts("k1-rsa._domainkey.example.org. TXT \"v=DKIM1; k=rsa; p=MIIB");
    // dnslib shows a record's strings separated by a comma.
    assert!(rsa.is_some_and(|r| r.contains("\",\"")), "{records:#?}");
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("_mta-sts.example.org. TXT \"v=STSv1; id=")),
        "{records:#?}"
    );
    // A name that is no domain is refused with one line.
    let bad = Command::new(BIN)
        .args(["dns-records", "bad domain"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).starts_with("smolmail: bad domain"),
        "{}",
        text(&bad.stderr)
    );
}
