//! Helpers shared by the integration tests: temporary data directories, a
//! running `smolmail serve` on free loopback ports, and a line-oriented
//! client over plain TCP or TLS (which trusts any certificate: the server's
//! is self-signed).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_smolmail");

/// How long a test waits for something that happens within a second or
/// two on an idle machine: far longer, so that a loaded 2-core machine
/// running other tests meanwhile does not fail it. Only a real hang (or a
/// thing that never happens) runs into it. Tests wait for events (a log
/// line, a reply, a state in the store) with this deadline; they never
/// sleep a fixed time in the hope that something has happened by then.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `done` (every 20 ms) until it holds; panics after `limit`,
/// saying what it waited for.
pub fn wait_until(limit: Duration, what: &str, done: impl FnMut() -> bool) {
    wait_until_with(limit, what, done, String::new);
}

/// [`wait_until`], adding `context()` (e.g. a log) to the panic message.
pub fn wait_until_with(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The path of `tool`, which Debian's `package` installs. A test that
/// needs a tool calls this first, so that without it the test fails
/// (never passes by skipping) and says what to install; scripts/setup.sh
/// installs every such package.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` is not installed: it comes with Debian's {package} package \
                 (scripts/setup.sh installs it)"
            )
        })
}

/// The address, not a loopback one, that the tests of the rules for
/// clients off this host listen and connect on. Those tests are
/// `#[ignore]`d: scripts/test.sh runs them inside a network namespace of
/// their own with 192.0.2.1 on its loopback device and
/// SMOLMAIL_TEST_NONLOOPBACK=192.0.2.1, and checks that they ran. Run any
/// other way they fail here, saying so, rather than pass untested.
pub fn nonloopback_ip() -> String {
    std::env::var("SMOLMAIL_TEST_NONLOOPBACK").unwrap_or_else(|_| {
        panic!(
            "SMOLMAIL_TEST_NONLOOPBACK is not set: this test needs a client address that is \
             not loopback; scripts/test.sh runs it in a network namespace (unshare --net, \
             192.0.2.1 on lo) with SMOLMAIL_TEST_NONLOOPBACK=192.0.2.1"
        )
    })
}

/// Seconds since the Unix epoch (UTC) of a line of the server's log, from
/// env_logger's `[2026-11-23T05:18:40.123Z INFO ...` prefix: the full date
/// and time, so that differences are right across midnight.
pub fn log_time(line: &str) -> Option<f64> {
    let stamp = line.strip_prefix('[')?.split([' ', ']']).next()?;
    let (date, clock) = stamp.trim_end_matches('Z').split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut c = clock.splitn(3, ':');
    let h: f64 = c.next()?.parse().ok()?;
    let min: f64 = c.next()?.parse().ok()?;
    let s: f64 = c.next()?.parse().ok()?;
    // Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// A fresh directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("smolmail-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port no one listens on, for a program a test starts next.
///
/// Not one the kernel hands out (`bind(…:0)`): those come from the
/// ephemeral range (32768–60999 on Linux), the same range every outgoing
/// connection of the tests draws its source port from, so between the
/// probe's close and the program's bind another test's client could take
/// it (CI saw `--http` fail with "address in use" that way). These come
/// from below that range, handed out once per test process by a counter
/// whose start depends on the process id (so two test binaries run at once
/// rarely meet), each checked to be free on `127.0.0.1` and `::1`.
pub fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// [`free_port`], checked free on `ip` (and on loopback).
pub fn free_port_on(ip: &str) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000; // up to 31999, below the ephemeral range
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        let free = |host: &str| TcpListener::bind((host, port)).is_ok();
        if free(ip) && free("127.0.0.1") && (free("::1") || TcpListener::bind("[::1]:0").is_err()) {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{} on {ip}", FIRST + SPAN);
}

/// Runs an administrative command against `data`; panics on failure.
pub fn admin(data: &Path, args: &[&str], stdin: &str) -> String {
    let out = run_with_stdin(
        Command::new(BIN).args(args).env("SMOLMAIL_DATA", data),
        stdin,
    );
    assert!(
        out.status.success(),
        "smolmail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `command` with `stdin` written to it and its output captured.
pub fn run_with_stdin(command: &mut std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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

pub fn add_user(data: &Path, address: &str, password: &str) {
    admin(
        data,
        &["user", "add", address, "--password-stdin"],
        &format!("{password}\n"),
    );
}

/// A LAN server's own certificate as `openssl req -x509` makes it: RSA,
/// self-signed, v3 with `basicConstraints CA:TRUE` (openssl's `v3_ca`),
/// for `name`; written to `stem.pem` and `stem.key` in `dir`.
pub fn openssl_self_signed(dir: &Path, stem: &str, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req -x509: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
        "openssl made no CA:TRUE certificate; the test would prove nothing"
    );
    (cert, key)
}

/// A running `smolmail serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
    pub data: PathBuf,
    pub ip: String,
    pub ports: Vec<(&'static str, u16)>,
}

pub const SERVICES: [&str; 10] = [
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "metrics",
    "http",
    "https",
];

impl Server {
    /// Starts the server with every service on a free port of 127.0.0.1.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_on("127.0.0.1", data, extra)
    }

    /// As [`Server::start`], on the given local address (`::` for a
    /// dual-stack listener).
    pub fn start_on(ip: &str, data: &Path, extra: &[&str]) -> Server {
        // A port can still be taken between the check and the bind (by a
        // program outside the tests): then the server exits saying so, and
        // it is started again on other ports.
        for _ in 0..4 {
            let mut server = Server::spawn(ip, data, extra);
            let (log_path, child) = (server.log.clone(), &mut server.child);
            let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
            wait_until_with(
                PATIENCE,
                "\"pop3s: listening on\" in the log, or an exit",
                || log().contains("pop3s: listening on") || matches!(child.try_wait(), Ok(Some(_))),
                log,
            );
            if server.log().contains("pop3s: listening on") {
                return server;
            }
            let log = server.log();
            assert!(log.contains("in use"), "the server exited:\n{log}");
            eprintln!("a port was taken under the server; starting it on others:\n{log}");
        }
        panic!("four starts each found a port taken");
    }

    fn spawn(ip: &str, data: &Path, extra: &[&str]) -> Server {
        let ports: Vec<(&'static str, u16)> =
            SERVICES.iter().map(|s| (*s, free_port_on(ip))).collect();
        let log = data.join("serve.log");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env("SMOLMAIL_DATA", data)
            .env("SMOLMAIL_HOSTNAME", "mail.home.arpa")
            // Outbound delivery asks only a closed loopback port, never the
            // machine's resolver: tests send nothing off this host.
            .env("SMOLMAIL_DNS_SERVER", "127.0.0.1:9")
            // No multicast DNS on the machine's own network from a test
            // server (tests/mdns.rs turns it on inside a namespace).
            .env("SMOLMAIL_MDNS", "off");
        // An IPv6 address is written in brackets: `[::]:port`.
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        for (service, port) in &ports {
            cmd.arg(format!("--{service}"))
                .arg(format!("{host}:{port}"));
        }
        cmd.args(extra).stderr(std::fs::File::create(&log).unwrap());
        Server {
            child: cmd.spawn().unwrap(),
            log,
            data: data.to_path_buf(),
            ip: ip.to_string(),
            ports,
        }
    }

    pub fn port(&self, service: &str) -> u16 {
        self.ports
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, p)| *p)
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for_log(&self, needle: &str) {
        wait_until_with(
            PATIENCE,
            &format!("{needle:?} in the log"),
            || self.log().contains(needle),
            || self.log(),
        );
    }

    /// [`wait_until`], with the server's log in the message on failure.
    pub fn wait_until(&self, limit: Duration, what: &str, done: impl FnMut() -> bool) {
        wait_until_with(limit, what, done, || format!("log:\n{}", self.log()));
    }

    pub fn connect(&self, service: &str) -> Client {
        let stream = TcpStream::connect((self.ip.as_str(), self.port(service))).unwrap();
        Client::plain(stream)
    }

    pub fn connect_tls(&self, service: &str) -> Client {
        let stream = TcpStream::connect((self.ip.as_str(), self.port(service))).unwrap();
        Client::tls(stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Accepts any server certificate: the tests' servers are self-signed.
#[derive(Debug)]
struct TrustAnything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for TrustAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(TrustAnything(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

pub trait Io: Read + Write {}
impl<T: Read + Write> Io for T {}

/// A blocking line client over TCP or TLS.
pub struct Client {
    reader: BufReader<Box<dyn Io>>,
    pub tls: bool,
}

struct TlsIo(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl Read for TlsIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsIo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn tls_wrap(stream: TcpStream) -> TlsIo {
    let name = rustls::pki_types::ServerName::try_from("mail.home.arpa").unwrap();
    let conn = rustls::ClientConnection::new(tls_config(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    TlsIo(tls)
}

impl Client {
    pub fn plain(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            reader: BufReader::new(Box::new(stream)),
            tls: false,
        }
    }

    pub fn tls(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            reader: BufReader::new(Box::new(tls_wrap(stream))),
            tls: true,
        }
    }

    /// Upgrades after STARTTLS/STLS; fails if the server had buffered
    /// input it should have thrown away (the reader must be empty).
    pub fn start_tls(self, stream: TcpStream) -> Client {
        assert!(
            self.reader.buffer().is_empty(),
            "bytes after the STARTTLS reply"
        );
        Client::tls(stream)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let w = self.reader.get_mut();
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    }

    /// Reads whatever is available (for literals of known length).
    pub fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }

    pub fn line(&mut self) -> String {
        let mut line = String::new();
        if let Err(e) = self.reader.read_line(&mut line) {
            panic!(
                "reading a line from the server (so far {line:?}; read timeout {PATIENCE:?}): {e}"
            );
        }
        line
    }

    /// Reads one (possibly multi-line) SMTP reply; returns all its lines.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "connection closed; so far: {all:?}");
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    /// Sends a command line and checks the reply code.
    pub fn cmd(&mut self, line: &str, code: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        let reply = self.reply();
        assert!(
            reply.starts_with(code),
            "{line:?} -> {reply:?}, expected {code}"
        );
        reply
    }

    pub fn expect(&mut self, code: &str) -> String {
        let reply = self.reply();
        assert!(reply.starts_with(code), "got {reply:?}, expected {code}");
        reply
    }

    /// Whether the server closed the connection (EOF or reset). A read
    /// that times out means the connection is still open: false.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        match self.reader.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

/// Opens the server's store from the test process (LMDB allows a second
/// process) and returns every message in `address`'s INBOX.
pub fn inbox(data: &Path, address: &str) -> Vec<Vec<u8>> {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    let account = r.account(address).unwrap().expect("account exists");
    let mailbox = r.mailbox(account.id, "INBOX").unwrap().unwrap();
    let mut out = Vec::new();
    for m in r.messages(mailbox.id).unwrap() {
        let m = m.unwrap();
        out.push(r.blob(m.blob_id).unwrap().unwrap().to_vec());
    }
    out
}

/// The outbound queue as the server stored it.
pub fn queue(data: &Path) -> Vec<smolmail::store::QueueEntry> {
    let store = smolmail::store::Store::open(data, &smolmail::store::Options::default()).unwrap();
    let r = store.read().unwrap();
    r.queue().unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The value of `name` in a message's header section, if present (one
/// line: the fields the tests look at are never folded).
pub fn header_field(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let header = text.split("\r\n\r\n").next().unwrap_or_default();
    header.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// Debian's Dovecot for the tests that compare with or move mail from it.
pub mod dovecot;

/// The IMAP client of the scripted conversations with smolmail.
pub mod imap;

/// The test DNS server (MX, A, AAAA, TXT, TLSA; the AD bit on request).
pub mod dns;

/// Runs `cmd`; panics with its output unless it succeeds; its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs curl with `args`; gives (status code, head, body) of the last answer.
pub fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let curl = require_tool("curl", "curl");
    let out = Command::new(curl)
        .args(["-sS", "-i", "--max-time", "60"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = out.stdout;
    // The last answer's head: skip interim 100 Continue heads.
    let mut start = 0;
    loop {
        let end = raw[start..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| start + i + 4)
            .expect("an HTTP head");
        let head = String::from_utf8_lossy(&raw[start..end]).into_owned();
        if head.starts_with("HTTP/1.1 100") {
            start = end;
            continue;
        }
        let status = head[9..12].parse().unwrap();
        return (status, head, raw[end..].to_vec());
    }
}
