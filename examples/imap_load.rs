//! IMAP load generator for scripts/bench-imap.sh; it talks to any IMAP4rev1
//! server with UIDPLUS and LITERAL+ (smolmail and Dovecot both).
//!
//! - `populate`: APPENDs small, varied messages (several connections at
//!   once, so a server with group commit can batch them);
//! - `mix`: N clients, each in a loop of sessions (LOGIN, SELECT, a mix of
//!   FETCH, STORE, APPEND, EXPUNGE, SEARCH, NOOP, LOGOUT), for a fixed time;
//!   prints commands per second and per-command latencies;
//! - `hold`: opens many (TLS) connections, reads each greeting, holds them
//!   until its standard input closes (the script reads the server's memory
//!   meanwhile);
//! - `time`: one session that times the given commands;
//! - `hash`: smolmail's password hash, for Dovecot's passwd-file.
//!
//! An example rather than a `[[bin]]` so that it is never installed with
//! the server, yet `cargo clippy --all-targets` and `cargo test` keep it
//! building; run it with
//! `cargo run --release --example imap_load -- mix --help`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argh::FromArgs;

#[derive(FromArgs)]
/// IMAP load generator (see the source for what each mode does).
struct Args {
    #[argh(subcommand)]
    mode: Mode,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Mode {
    Populate(Populate),
    Mix(Mix),
    Hold(Hold),
    Time(TimeCommands),
    Hash(Hash),
}

#[derive(FromArgs)]
/// Print smolmail's password hash of `password` ({ARGON2ID}, Dovecot's
/// notation), so both servers verify the same hash.
#[argh(subcommand, name = "hash")]
struct Hash {
    /// the password
    #[argh(option)]
    password: String,
}

#[derive(FromArgs)]
/// APPEND `count` messages for each user.
#[argh(subcommand, name = "populate")]
struct Populate {
    /// server address, HOST:PORT
    #[argh(option)]
    addr: String,
    /// users, comma-separated
    #[argh(option)]
    users: String,
    /// password of every user
    #[argh(option)]
    password: String,
    /// messages per user
    #[argh(option, default = "100")]
    count: u32,
    /// connections per user appending at once
    #[argh(option, default = "4")]
    connections: u32,
    /// mailbox to append to
    #[argh(option, default = "String::from(\"INBOX\")")]
    mailbox: String,
}

#[derive(FromArgs)]
/// Run the session mix with `clients` clients for `seconds`.
#[argh(subcommand, name = "mix")]
struct Mix {
    /// server address, HOST:PORT
    #[argh(option)]
    addr: String,
    /// users, comma-separated; client i logs in as user i mod count
    #[argh(option)]
    users: String,
    /// password of every user
    #[argh(option)]
    password: String,
    /// concurrent clients
    #[argh(option, default = "10")]
    clients: u32,
    /// how long to run
    #[argh(option, default = "30")]
    seconds: u64,
    /// commands between SELECT and LOGOUT in one session
    #[argh(option, default = "40")]
    ops_per_session: u32,
    /// implicit TLS
    #[argh(switch)]
    tls: bool,
    /// COMPRESS=DEFLATE (RFC 4978) after login
    #[argh(switch)]
    compress: bool,
    /// label for the result lines
    #[argh(option, default = "String::from(\"server\")")]
    label: String,
}

#[derive(FromArgs)]
/// Open `connections` connections and hold them until stdin closes.
#[argh(subcommand, name = "hold")]
struct Hold {
    /// server address, HOST:PORT
    #[argh(option)]
    addr: String,
    /// how many connections
    #[argh(option, default = "1000")]
    connections: u32,
    /// implicit TLS
    #[argh(switch)]
    tls: bool,
    /// also log in, as USER:PASSWORD
    #[argh(option)]
    login: Option<String>,
    /// after login, COMPRESS=DEFLATE (RFC 4978)
    #[argh(switch)]
    compress: bool,
}

#[derive(FromArgs)]
/// Log in, SELECT, and time each command.
#[argh(subcommand, name = "time")]
struct TimeCommands {
    /// server address, HOST:PORT
    #[argh(option)]
    addr: String,
    /// user
    #[argh(option)]
    user: String,
    /// password
    #[argh(option)]
    password: String,
    /// mailbox to select
    #[argh(option, default = "String::from(\"INBOX\")")]
    mailbox: String,
    /// a command to time (without tag), repeatable
    #[argh(option)]
    command: Vec<String>,
}

fn main() {
    let args: Args = argh::from_env();
    match args.mode {
        Mode::Populate(p) => populate(p),
        Mode::Mix(m) => mix(m),
        Mode::Hold(h) => hold(h),
        Mode::Time(t) => time_commands(t),
        Mode::Hash(h) => println!("{}", smolmail::auth::password::hash(&h.password)),
    }
}

// --- connection -----------------------------------------------------------

/// Accepts any certificate: the benchmark's servers are self-signed.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

type Result<T> = std::result::Result<T, String>;

/// A blocking IMAP connection that reads whole responses.
struct Conn {
    io: BufReader<Box<dyn Io>>,
    next_tag: u32,
    /// Bytes received, for the report.
    received: u64,
}

/// The lines of one command's responses; literals are inlined.
struct Reply {
    untagged: Vec<Vec<u8>>,
    status: Vec<u8>,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status.starts_with(b"OK")
    }
}

impl Conn {
    fn open(addr: &str, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Conn> {
        let tcp = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).ok();
        tcp.set_read_timeout(Some(Duration::from_secs(120))).ok();
        let io: Box<dyn Io> = match tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| e.to_string())?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .map_err(|e| format!("TLS handshake: {e}"))?;
                }
                Box::new(s)
            }
        };
        let mut conn = Conn {
            io: BufReader::with_capacity(64 * 1024, io),
            next_tag: 1,
            received: 0,
        };
        let greeting = conn.line()?;
        if !greeting.starts_with(b"* OK") {
            return Err(format!("greeting: {}", String::from_utf8_lossy(&greeting)));
        }
        Ok(conn)
    }

    /// One response line with its literals inlined, without CRLF.
    fn line(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let start = out.len();
            let n = self
                .io
                .read_until(b'\n', &mut out)
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.received += n as u64;
            let line = &out[start..];
            let line = line.strip_suffix(b"\r\n").unwrap_or(line);
            match literal_size(line) {
                Some(size) => {
                    let keep = out.len();
                    out.resize(keep + size, 0);
                    self.io
                        .read_exact(&mut out[keep..])
                        .map_err(|e| format!("read literal: {e}"))?;
                    self.received += size as u64;
                }
                None => {
                    out.truncate(start + line.len());
                    return Ok(out);
                }
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let w = self.io.get_mut();
        w.write_all(bytes)
            .and_then(|_| w.flush())
            .map_err(|e| format!("write: {e}"))
    }

    /// Sends `command` (a literal, if any, sent as LITERAL+) and reads
    /// every response up to the tagged one.
    fn run(&mut self, command: &[u8], literal: Option<&[u8]>) -> Result<Reply> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        let mut out = Vec::with_capacity(command.len() + 16 + literal.map_or(0, <[u8]>::len));
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(command);
        if let Some(lit) = literal {
            out.extend_from_slice(format!(" {{{}+}}\r\n", lit.len()).as_bytes());
            out.extend_from_slice(lit);
        }
        out.extend_from_slice(b"\r\n");
        self.send(&out)?;
        let mut untagged = Vec::new();
        loop {
            let line = self.line()?;
            if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
                return Ok(Reply {
                    untagged,
                    status: line[tag.len() + 1..].to_vec(),
                });
            }
            if line.starts_with(b"* BYE") && !command.starts_with(b"LOGOUT") {
                return Err(format!("BYE: {}", String::from_utf8_lossy(&line)));
            }
            untagged.push(line);
        }
    }

    fn expect_ok(&mut self, command: &str) -> Result<Reply> {
        let reply = self.run(command.as_bytes(), None)?;
        if !reply.ok() {
            return Err(format!(
                "{command}: {}",
                String::from_utf8_lossy(&reply.status)
            ));
        }
        Ok(reply)
    }

    /// COMPRESS DEFLATE, then raw deflate both ways (RFC 4978).
    fn compress(&mut self) -> Result<()> {
        self.expect_ok("COMPRESS DEFLATE")?;
        if !self.io.buffer().is_empty() {
            return Err("bytes after COMPRESS's OK".into());
        }
        let placeholder: Box<dyn Io> = Box::new(std::io::Cursor::new(Vec::new()));
        let old = std::mem::replace(&mut self.io, BufReader::new(placeholder));
        self.io = BufReader::with_capacity(64 * 1024, Box::new(Deflated::new(old.into_inner())));
        Ok(())
    }

    /// LOGIN, retried while the server answers `NO [UNAVAILABLE]` (RFC 5530:
    /// a temporary failure). smolmail refuses logins past a few waiting per
    /// address (its auth queue, against login floods), and a real client
    /// told so comes back later; the benchmark does the same against every
    /// server, after a short backoff with jitter (25 ms doubling to 400 ms,
    /// for at most [`LOGIN_RETRY_FOR`]), and counts each retry in
    /// [`LOGIN_RETRIES`] so the figures say how often it happened.
    fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let command = format!("LOGIN {} {}", quoted(user), quoted(password));
        let start = Instant::now();
        let mut backoff = Duration::from_millis(25);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        let mut jitter = Rng::new(seed);
        loop {
            let reply = self.run(command.as_bytes(), None)?;
            if reply.ok() {
                return Ok(());
            }
            if !reply.status.starts_with(b"NO [UNAVAILABLE]") || start.elapsed() > LOGIN_RETRY_FOR {
                return Err(format!("LOGIN: {}", String::from_utf8_lossy(&reply.status)));
            }
            LOGIN_RETRIES.fetch_add(1, Ordering::Relaxed);
            let half = backoff.as_millis() as u64 / 2;
            std::thread::sleep(Duration::from_millis(half + jitter.below(half + 1)));
            backoff = (backoff * 2).min(Duration::from_millis(400));
        }
    }
}

/// LOGINs answered `NO [UNAVAILABLE]` and sent again, by every connection
/// of this process (printed with each mode's result).
static LOGIN_RETRIES: AtomicU64 = AtomicU64::new(0);
/// How long one login keeps retrying before the benchmark gives up.
const LOGIN_RETRY_FOR: Duration = Duration::from_secs(60);

/// The retry count, for the result lines.
fn login_retries() -> u64 {
    LOGIN_RETRIES.load(Ordering::Relaxed)
}

/// `{123}` or `{123+}` at the end of a line.
fn literal_size(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The number after `key ` in `line` (`UID 7`, `[APPENDUID 1 7]`...).
fn number_after(line: &[u8], key: &[u8]) -> Option<u32> {
    let at = line.windows(key.len()).position(|w| w == key)? + key.len();
    let digits: Vec<u8> = line[at..]
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The UID in `OK [APPENDUID <uidvalidity> <uid>]`.
fn appended_uid(status: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(status).ok()?;
    let after = text.split("APPENDUID ").nth(1)?;
    after.split([' ', ']']).nth(1)?.parse().ok()
}

// --- messages ---------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so both servers see the
/// same sequence of operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: [&str; 16] = [
    "meeting", "invoice", "photos", "garden", "holiday", "school", "router", "backup", "dinner",
    "budget", "train", "doctor", "concert", "printer", "birthday", "weekend",
];

/// A plain-text message of 1 to 6 KiB; one in a hundred has "needle" in
/// its subject (for SEARCH).
fn message(rng: &mut Rng, n: u64) -> Vec<u8> {
    let w = |rng: &mut Rng| WORDS[rng.below(WORDS.len() as u64) as usize];
    let subject = if n % 100 == 7 {
        format!("needle {} {}", w(rng), n)
    } else {
        format!("{} {} {}", w(rng), w(rng), n)
    };
    let mut m = format!(
        "Return-Path: <friend{0}@example.org>\r\n\
         Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby mail.home.arpa with ESMTP id B{n:X}; Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         From: Friend {0} <friend{0}@example.org>\r\n\
         To: Bench <bench@home.arpa>\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 23 Nov 2026 10:{1:02}:{2:02} +0000\r\n\
         Message-ID: <bench-{n}-{3}@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
        rng.below(50),
        rng.below(60),
        rng.below(60),
        rng.next() % 100_000,
    );
    let target = 1024 + rng.below(5 * 1024) as usize;
    while m.len() < target {
        for _ in 0..10 {
            m.push_str(w(rng));
            m.push(' ');
        }
        m.push_str("\r\n");
    }
    m.into_bytes()
}

fn users(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

// --- populate ---------------------------------------------------------------

fn populate(p: Populate) {
    let start = Instant::now();
    let users = users(&p.users);
    let mut threads = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for c in 0..p.connections {
            let (addr, user, password, mailbox) = (
                p.addr.clone(),
                user.clone(),
                p.password.clone(),
                p.mailbox.clone(),
            );
            let share = p.count / p.connections + u32::from(c < p.count % p.connections);
            let seed = (u as u64) << 32 | u64::from(c);
            threads.push(std::thread::spawn(move || -> Result<u32> {
                let mut conn = Conn::open(&addr, None)?;
                conn.login(&user, &password)?;
                let mut rng = Rng::new(seed);
                for i in 0..share {
                    let n = u64::from(i) * 64 + u64::from(c);
                    // Two in three read, as in a real mailbox.
                    let flags = if i % 3 == 0 { "()" } else { "(\\Seen)" };
                    let command = format!("APPEND {} {flags}", quoted(&mailbox));
                    let reply = conn.run(command.as_bytes(), Some(&message(&mut rng, n)))?;
                    if !reply.ok() {
                        return Err(String::from_utf8_lossy(&reply.status).into_owned());
                    }
                }
                conn.run(b"LOGOUT", None)?;
                Ok(share)
            }));
        }
    }
    let mut total = 0;
    for t in threads {
        match t.join().expect("populate thread") {
            Ok(n) => total += n,
            Err(e) => {
                eprintln!("populate: {e}");
                std::process::exit(1);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "populate: {total} messages in {secs:.1} s ({:.0}/s); {} LOGIN retries after NO [UNAVAILABLE]",
        f64::from(total) / secs,
        login_retries()
    );
}

// --- mix --------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Op {
    Connect,
    Login,
    Select,
    FetchFlags,
    FetchEnvelopes,
    FetchBody,
    Store,
    Append,
    Delete,
    Expunge,
    Search,
    Noop,
    Logout,
}

const OPS: [Op; 13] = [
    Op::Connect,
    Op::Login,
    Op::Select,
    Op::FetchFlags,
    Op::FetchEnvelopes,
    Op::FetchBody,
    Op::Store,
    Op::Append,
    Op::Delete,
    Op::Expunge,
    Op::Search,
    Op::Noop,
    Op::Logout,
];

/// Per-client results: latencies (µs) by operation, errors.
#[derive(Default)]
struct Tally {
    micros: Vec<Vec<u32>>,
    errors: u64,
    first_error: Option<String>,
    received: u64,
}

impl Tally {
    fn record(&mut self, op: Op, since: Instant) {
        if self.micros.is_empty() {
            self.micros = vec![Vec::new(); OPS.len()];
        }
        self.micros[op as usize].push(since.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
}

/// One client: sessions until `stop`.
fn client(m: &Mix, index: u32, stop: &AtomicBool) -> Tally {
    let users = users(&m.users);
    let user = &users[index as usize % users.len()];
    let tls = m.tls.then(tls_config);
    let mut rng = Rng::new(u64::from(index) + 1);
    let mut tally = Tally::default();
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = session(m, user, tls.as_ref(), &mut rng, &mut tally, stop) {
            tally.errors += 1;
            if tally.first_error.is_none() {
                tally.first_error = Some(e);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    tally
}

fn session(
    m: &Mix,
    user: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    rng: &mut Rng,
    tally: &mut Tally,
    stop: &AtomicBool,
) -> Result<()> {
    let t = Instant::now();
    let mut conn = Conn::open(&m.addr, tls)?;
    tally.record(Op::Connect, t);
    let t = Instant::now();
    conn.login(user, &m.password)?;
    if m.compress {
        conn.compress()?;
    }
    tally.record(Op::Login, t);
    let t = Instant::now();
    conn.expect_ok("SELECT INBOX")?;
    tally.record(Op::Select, t);
    // What a client does on opening a mailbox: learn UIDs and flags.
    let t = Instant::now();
    let reply = conn.expect_ok("UID FETCH 1:* (FLAGS)")?;
    tally.record(Op::FetchFlags, t);
    let mut uids: Vec<u32> = reply
        .untagged
        .iter()
        .filter_map(|l| number_after(l, b"UID "))
        .collect();
    uids.sort_unstable();
    for _ in 0..m.ops_per_session {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let pick = rng.below(100);
        let any = |rng: &mut Rng, uids: &[u32]| -> Option<u32> {
            (!uids.is_empty()).then(|| uids[rng.below(uids.len() as u64) as usize])
        };
        let t = Instant::now();
        let op = match pick {
            0..10 => {
                let reply = conn.expect_ok("UID FETCH 1:* (FLAGS)")?;
                uids = reply
                    .untagged
                    .iter()
                    .filter_map(|l| number_after(l, b"UID "))
                    .collect();
                uids.sort_unstable();
                Op::FetchFlags
            }
            10..25 => {
                // The newest 20, as a message list shows them.
                let from = uids.len().saturating_sub(20);
                let Some(&first) = uids.get(from) else {
                    continue;
                };
                conn.expect_ok(&format!(
                    "UID FETCH {first}:* (UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE \
                     BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE REFERENCES)])"
                ))?;
                Op::FetchEnvelopes
            }
            25..50 => {
                let Some(uid) = any(rng, &uids) else { continue };
                conn.expect_ok(&format!("UID FETCH {uid} (BODY.PEEK[])"))?;
                Op::FetchBody
            }
            50..70 => {
                let Some(uid) = any(rng, &uids) else { continue };
                let what = [
                    "+FLAGS.SILENT (\\Seen)",
                    "-FLAGS.SILENT (\\Seen)",
                    "+FLAGS (\\Flagged)",
                    "-FLAGS (\\Flagged)",
                ][rng.below(4) as usize];
                conn.expect_ok(&format!("UID STORE {uid} {what}"))?;
                Op::Store
            }
            70..78 => {
                let n = rng.next() % 1_000_000;
                let msg = message(rng, n);
                let reply = conn.run(b"APPEND INBOX ()", Some(&msg))?;
                if !reply.ok() {
                    return Err(format!(
                        "APPEND: {}",
                        String::from_utf8_lossy(&reply.status)
                    ));
                }
                if let Some(uid) = appended_uid(&reply.status) {
                    uids.push(uid);
                }
                Op::Append
            }
            78..86 => {
                // Delete one message: flag it, then UID EXPUNGE it (two
                // commands, timed separately).
                if uids.len() < 50 {
                    continue;
                }
                let i = rng.below(uids.len() as u64) as usize;
                let uid = uids[i];
                conn.expect_ok(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))?;
                tally.record(Op::Delete, t);
                let t = Instant::now();
                conn.expect_ok(&format!("UID EXPUNGE {uid}"))?;
                uids.remove(i);
                tally.record(Op::Expunge, t);
                continue;
            }
            86..91 => {
                if rng.below(2) == 0 {
                    conn.expect_ok("UID SEARCH UNSEEN")?;
                } else {
                    conn.expect_ok("UID SEARCH FLAGGED")?;
                }
                Op::Search
            }
            _ => {
                conn.expect_ok("NOOP")?;
                Op::Noop
            }
        };
        tally.record(op, t);
    }
    let t = Instant::now();
    conn.run(b"LOGOUT", None)?;
    tally.record(Op::Logout, t);
    tally.received += conn.received;
    Ok(())
}

fn mix(m: Mix) {
    let stop = Arc::new(AtomicBool::new(false));
    let m = Arc::new(m);
    let start = Instant::now();
    let threads: Vec<_> = (0..m.clients)
        .map(|i| {
            let (m, stop) = (m.clone(), stop.clone());
            std::thread::spawn(move || client(&m, i, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(m.seconds));
    stop.store(true, Ordering::Relaxed);
    let tallies: Vec<Tally> = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let secs = start.elapsed().as_secs_f64();
    let label = &m.label;
    let mut total = 0usize;
    println!(
        "{label}: {:<15} {:>8} {:>9} {:>9} {:>9}",
        "operation", "count", "mean ms", "p50 ms", "p99 ms"
    );
    for op in OPS {
        let mut all: Vec<u32> = tallies
            .iter()
            .filter(|t| !t.micros.is_empty())
            .flat_map(|t| t.micros[op as usize].iter().copied())
            .collect();
        if all.is_empty() {
            continue;
        }
        all.sort_unstable();
        if op != Op::Connect {
            total += all.len();
        }
        let mean = all.iter().map(|&u| f64::from(u)).sum::<f64>() / all.len() as f64 / 1000.0;
        let pct = |p: f64| f64::from(all[((all.len() - 1) as f64 * p) as usize]) / 1000.0;
        println!(
            "{label}: {:<15} {:>8} {:>9.2} {:>9.2} {:>9.2}",
            format!("{op:?}"),
            all.len(),
            mean,
            pct(0.5),
            pct(0.99)
        );
    }
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let received: u64 = tallies.iter().map(|t| t.received).sum();
    if let Some(e) = tallies.iter().find_map(|t| t.first_error.as_ref()) {
        println!("{label}: first error: {e}");
    }
    println!(
        "{label}: {total} commands in {secs:.1} s by {} clients = {:.0} ops/s; {errors} failed sessions; {:.1} MB received; {} LOGIN retries after NO [UNAVAILABLE]",
        m.clients,
        total as f64 / secs,
        received as f64 / 1e6,
        login_retries()
    );
}

// --- hold -------------------------------------------------------------------

fn hold(h: Hold) {
    let tls = h.tls.then(tls_config);
    let start = Instant::now();
    let mut held = Vec::with_capacity(h.connections as usize);
    for i in 0..h.connections {
        let mut conn = match Conn::open(&h.addr, tls.as_ref()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hold: connection {}: {e}", i + 1);
                std::process::exit(1);
            }
        };
        if let Some((user, password)) = h.login.as_deref().and_then(|l| l.split_once(':')) {
            // One at a time: the server queues only a few logins at once
            // (a pipelined burst of all of them is refused as a flood).
            let reply = conn.login(user, password).and_then(|()| match h.compress {
                true => conn.compress(),
                false => Ok(()),
            });
            if let Err(e) = reply {
                eprintln!("hold: login {}: {e}", i + 1);
                std::process::exit(1);
            }
        }
        held.push(conn);
    }
    println!(
        "hold: {} connections open in {:.1} s; {} LOGIN retries after NO [UNAVAILABLE]",
        held.len(),
        start.elapsed().as_secs_f64(),
        login_retries()
    );
    std::io::stdout().flush().ok();
    // Hold until told to stop.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
}

// --- time -------------------------------------------------------------------

fn time_commands(t: TimeCommands) {
    let fail = |e: String| -> ! {
        eprintln!("time: {e}");
        std::process::exit(1);
    };
    let mut conn = Conn::open(&t.addr, None).unwrap_or_else(|e| fail(e));
    conn.login(&t.user, &t.password).unwrap_or_else(|e| fail(e));
    // A second session that sends NOOP every 10 ms meanwhile: its slowest
    // reply shows how long the command kept other clients waiting.
    let mut probe = Conn::open(&t.addr, None).unwrap_or_else(|e| fail(e));
    probe
        .login(&t.user, &t.password)
        .unwrap_or_else(|e| fail(e));
    let running = Arc::new(AtomicBool::new(true));
    let slowest = Arc::new(AtomicU64::new(0));
    let prober = {
        let (running, slowest) = (running.clone(), slowest.clone());
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                let start = Instant::now();
                if probe.expect_ok("NOOP").is_err() {
                    return;
                }
                let micros = start.elapsed().as_micros() as u64;
                slowest.fetch_max(micros, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = probe.run(b"LOGOUT", None);
        })
    };
    let timed = |command: &str, conn: &mut Conn| -> (Reply, f64, u64, f64) {
        slowest.store(0, Ordering::Relaxed);
        let before = conn.received;
        let start = Instant::now();
        let reply = conn.expect_ok(command).unwrap_or_else(|e| fail(e));
        let secs = start.elapsed().as_secs_f64();
        // Let a NOOP queued behind the command come back.
        std::thread::sleep(Duration::from_millis(30));
        let stalled = slowest.load(Ordering::Relaxed) as f64 / 1e6;
        (reply, secs, conn.received - before, stalled)
    };
    let (reply, secs, _, stalled) = timed(&format!("SELECT {}", quoted(&t.mailbox)), &mut conn);
    let exists = reply
        .untagged
        .iter()
        .find_map(|l| {
            let l = std::str::from_utf8(l).ok()?;
            l.strip_prefix("* ")?
                .strip_suffix(" EXISTS")
                .map(str::to_string)
        })
        .unwrap_or_default();
    println!(
        "time: SELECT {} ({exists} messages): {secs:.3} s; slowest NOOP of another session meanwhile {stalled:.3} s",
        t.mailbox
    );
    for command in &t.command {
        let (reply, secs, bytes, stalled) = timed(command, &mut conn);
        let hits = reply
            .untagged
            .iter()
            .map(|l| {
                if l.starts_with(b"* SEARCH") {
                    l.split(|&b| b == b' ').count().saturating_sub(2)
                } else {
                    1
                }
            })
            .sum::<usize>();
        println!(
            "time: {command}: {secs:.3} s, {hits} results, {:.1} KB; slowest NOOP of another session meanwhile {stalled:.3} s",
            bytes as f64 / 1000.0
        );
    }
    running.store(false, Ordering::Relaxed);
    let _ = prober.join();
    let _ = conn.run(b"LOGOUT", None);
}

/// Raw deflate over a connection (RFC 4978): what a compressing client
/// does; every flush is a sync flush, as the server's are.
struct Deflated {
    inner: Box<dyn Io>,
    inflate: Box<miniz_oxide::inflate::stream::InflateState>,
    deflate: Box<miniz_oxide::deflate::core::CompressorOxide>,
    pending: Vec<u8>,
    input: Vec<u8>,
    at: usize,
}

impl Deflated {
    fn new(inner: Box<dyn Io>) -> Deflated {
        use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
        let flags = create_comp_flags_from_zip_params(6, -15, 0);
        Deflated {
            inner,
            inflate: miniz_oxide::inflate::stream::InflateState::new_boxed(
                miniz_oxide::DataFormat::Raw,
            ),
            deflate: Box::new(CompressorOxide::new(flags)),
            pending: Vec::new(),
            input: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Deflated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.at < self.input.len() {
                let r = miniz_oxide::inflate::stream::inflate(
                    &mut self.inflate,
                    &self.input[self.at..],
                    buf,
                    miniz_oxide::MZFlush::None,
                );
                self.at += r.bytes_consumed;
                if let Err(e) = r.status
                    && e != miniz_oxide::MZError::Buf
                {
                    return Err(std::io::Error::other(format!("inflate: {e:?}")));
                }
                if r.bytes_written > 0 {
                    return Ok(r.bytes_written);
                }
                if r.bytes_consumed > 0 {
                    continue;
                }
            }
            self.input.resize(16 * 1024, 0);
            self.at = 0;
            let n = self.inner.read(&mut self.input)?;
            self.input.truncate(n);
            if n == 0 {
                return Ok(0);
            }
        }
    }
}

impl Write for Deflated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut out = vec![0; self.pending.len() + 1024];
        let r = miniz_oxide::deflate::stream::deflate(
            &mut self.deflate,
            &self.pending,
            &mut out,
            miniz_oxide::MZFlush::Sync,
        );
        assert_eq!(r.bytes_consumed, self.pending.len());
        self.pending.clear();
        self.inner.write_all(&out[..r.bytes_written])?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A server that answers from a script and records what it was sent.
    struct Scripted {
        replies: std::io::Cursor<Vec<u8>>,
        sent: Arc<Mutex<Vec<u8>>>,
    }
    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.replies.read(buf)
        }
    }
    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.sent.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn scripted(replies: &str) -> (Conn, Arc<Mutex<Vec<u8>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let io: Box<dyn Io> = Box::new(Scripted {
            replies: std::io::Cursor::new(replies.as_bytes().to_vec()),
            sent: sent.clone(),
        });
        let conn = Conn {
            io: BufReader::new(io),
            next_tag: 1,
            received: 0,
        };
        (conn, sent)
    }

    fn logins_sent(sent: &Mutex<Vec<u8>>) -> usize {
        String::from_utf8_lossy(&sent.lock().unwrap())
            .lines()
            .filter(|l| l.contains(" LOGIN "))
            .count()
    }

    /// RFC 5530 UNAVAILABLE is temporary: the login is sent again, after a
    /// backoff, and counted.
    #[test]
    fn rfc5530_unavailable_login_is_retried_and_counted() {
        let (mut conn, sent) = scripted(
            "a1 NO [UNAVAILABLE] Too many logins at once; try again later\r\n\
             a2 NO [UNAVAILABLE] Too many logins at once; try again later\r\n\
             a3 OK [CAPABILITY IMAP4rev1] Logged in\r\n",
        );
        let before = login_retries();
        let start = Instant::now();
        conn.login("bench1@home.arpa", "pw")
            .expect("login after retries");
        assert_eq!(logins_sent(&sent), 3);
        assert!(login_retries() - before >= 2);
        assert!(
            start.elapsed() >= Duration::from_millis(12 + 25),
            "no backoff"
        );
    }

    /// Any other NO is final: no retry.
    #[test]
    fn rfc5530_authenticationfailed_is_not_retried() {
        let (mut conn, sent) =
            scripted("a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\na2 OK\r\n");
        let err = conn.login("bench1@home.arpa", "wrong").unwrap_err();
        assert!(err.contains("AUTHENTICATIONFAILED"), "{err}");
        assert_eq!(logins_sent(&sent), 1);
    }
}
