//! The admin pages at https://HOST/admin (issue "administer the box from a
//! browser"): a real browser (headless Chromium through playwright-core)
//! adds a user, an alias and a fetch account, flushes the queue and
//! downloads a backup, and each effect is then checked over IMAP, SMTP and
//! the CLI; and the refusals, with curl: a cross-site POST and one without
//! the page's CSRF token, wrong passwords past the limiter, an address
//! outside --admin-from, plain HTTP, and a mail user at the admin pages.

mod common;

use std::path::Path;
use std::time::Duration;

use common::imap::Session;
use common::{Server, TempDir, add_user, admin, curl, require_tool, wait_until};

const ADMIN_PASSWORD: &str = "correct horse battery";

/// A curl-driven browser: one cookie jar, the server's self-signed
/// certificate accepted.
struct Web {
    base: String,
    jar: String,
}

impl Web {
    fn new(server: &Server, dir: &Path) -> Web {
        Web {
            base: format!("https://127.0.0.1:{}", server.port("https")),
            jar: dir.join("cookies").to_str().unwrap().to_string(),
        }
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        let url = format!("{}{path}", self.base);
        let (status, head, body) = curl(&["-k", "-b", &self.jar, "-c", &self.jar, &url]);
        (status, head, String::from_utf8_lossy(&body).into_owned())
    }

    /// POSTs `fields` (url-encoded by curl) with extra header lines.
    fn post(&self, path: &str, fields: &[(&str, &str)], headers: &[&str]) -> (u16, String, String) {
        let url = format!("{}{path}", self.base);
        let mut args = vec!["-k", "-b", &self.jar, "-c", &self.jar];
        let encoded: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for e in &encoded {
            args.extend(["--data-urlencode", e]);
        }
        for h in headers {
            args.extend(["-H", h]);
        }
        args.push(&url);
        let (status, head, body) = curl(&args);
        (status, head, String::from_utf8_lossy(&body).into_owned())
    }

    fn login(&self, user: &str, password: &str) -> (u16, String, String) {
        self.post(
            "/admin/login",
            &[("user", user), ("password", password)],
            &[],
        )
    }

    /// The CSRF token of the page at `path`.
    fn csrf(&self, path: &str) -> String {
        let (status, _, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        let at = body
            .find("name=csrf value=\"")
            .expect("a form with a CSRF token")
            + 17;
        body[at..at + 32].to_string()
    }
}

fn start(dir: &TempDir, extra: &[&str]) -> Server {
    admin(
        &dir.0,
        &["admin", "passwd", "--password-stdin"],
        &format!("{ADMIN_PASSWORD}\n"),
    );
    add_user(&dir.0, "ann@home.arpa", "ann-password");
    Server::start(&dir.0, extra)
}

fn users(data: &Path) -> String {
    admin(data, &["user", "list"], "")
}

#[test]
fn cross_site_post_and_missing_csrf_token_are_refused() {
    let dir = TempDir::new("admin-csrf");
    let server = start(&dir, &[]);
    let web = Web::new(&server, &dir.0);
    let (status, head, _) = web.login("", ADMIN_PASSWORD);
    assert_eq!(status, 303, "{head}");
    assert!(
        head.contains("Secure; HttpOnly; SameSite=Strict; Path=/admin"),
        "{head}"
    );
    let csrf = web.csrf("/admin/users");
    let add = |who: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("op", "add".to_string()),
            ("address", format!("{who}@home.arpa")),
            ("password", "pw-of-someone".to_string()),
        ]
    };
    let fields = |v: &Vec<(&'static str, String)>| -> Vec<(&str, String)> {
        v.iter().map(|(k, s)| (*k, s.clone())).collect()
    };
    let send = |v: Vec<(&str, String)>, headers: &[&str]| {
        let refs: Vec<(&str, &str)> = v.iter().map(|(k, s)| (*k, s.as_str())).collect();
        web.post("/admin/users", &refs, headers)
    };
    // Another site's page posting to ours, as the browser labels it.
    let (status, _, _) = send(fields(&add("evil1")), &["Origin: https://evil.example"]);
    assert_eq!(status, 403);
    let (status, _, _) = send(fields(&add("evil2")), &["Sec-Fetch-Site: cross-site"]);
    assert_eq!(status, 403);
    // Same origin but without the page's token.
    let mut no_token = fields(&add("evil3"));
    no_token.retain(|(k, _)| *k != "csrf");
    let (status, _, _) = send(no_token, &[]);
    assert_eq!(status, 403);
    let mut wrong = fields(&add("evil4"));
    wrong[0].1 = "0".repeat(32);
    let (status, _, _) = send(wrong, &[]);
    assert_eq!(status, 403);
    assert!(!users(&dir.0).contains("evil"), "{}", users(&dir.0));
    // The same form from the page itself goes through.
    let origin = format!("Origin: {}", web.base);
    let (status, head, _) = send(
        fields(&add("good")),
        &[&origin, "Sec-Fetch-Site: same-origin"],
    );
    assert_eq!(status, 303, "{head}");
    assert!(users(&dir.0).contains("good@home.arpa"));
    let log = server.log();
    assert!(
        log.contains("refused a cross-site POST to /admin/users"),
        "{log}"
    );
    assert!(
        log.contains("without the page's CSRF token refused"),
        "{log}"
    );
    assert!(
        log.contains("admin: 127.0.0.1 admin: /admin/users add: added user good@home.arpa"),
        "{log}"
    );
}

#[test]
fn wrong_admin_passwords_hit_the_login_limiter() {
    let dir = TempDir::new("admin-limiter");
    let server = start(&dir, &[]);
    let web = Web::new(&server, &dir.0);
    // Loopback is trusted: 20 failures lock the name from this address
    // (auth::limiter::TRUSTED), with growing waits.
    for _ in 0..20 {
        let (status, _, body) = web.login("", "wrong");
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("wrong user or password"), "{body}");
    }
    // Now even the right password is refused, with Retry-After.
    let (status, head, body) = web.login("", ADMIN_PASSWORD);
    assert_eq!(status, 429, "{head}{body}");
    assert!(head.contains("Retry-After:"), "{head}");
    assert!(body.contains("too many failed logins"), "{body}");
    let (status, _, _) = web.get("/admin/users");
    assert_eq!(status, 303, "no session came of it");
    assert!(
        server
            .log()
            .contains("admin: 127.0.0.1 login as \"\" refused: too many failures")
    );
}

#[test]
fn address_outside_admin_from_and_plain_http_are_refused() {
    let dir = TempDir::new("admin-from");
    let server = start(&dir, &["--admin-from", "192.0.2.0/24"]);
    let web = Web::new(&server, &dir.0);
    let (status, _, body) = web.get("/admin/login");
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = web.login("", ADMIN_PASSWORD);
    assert_eq!(status, 403);
    assert!(
        server
            .log()
            .contains("admin: 127.0.0.1 refused /admin/login: not in --admin-from")
    );
    // Scanners from outside: logged at info, a few lines a minute.
    for _ in 0..10 {
        assert_eq!(web.get("/admin/users").0, 403);
    }
    let log = server.log();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("not in --admin-from"))
        .collect();
    assert!(refused.len() <= 3, "{log}");
    assert!(refused.iter().all(|l| !l.contains("WARN")), "{log}");
    // The rest of the HTTPS listener is not affected.
    let (status, _, _) = web.get("/nothing-here");
    assert_eq!(status, 404);

    let dir2 = TempDir::new("admin-plain");
    let server2 = start(&dir2, &[]);
    // Plain HTTP (where mDNS's _http._tcp leads): a GET is sent to HTTPS,
    // a POST is refused, nothing is served in the clear.
    let url = format!("http://127.0.0.1:{}/admin/login", server2.port("http"));
    let (status, head, body) = curl(&[&url]);
    assert_eq!(status, 308, "{head}");
    assert!(
        head.contains(&format!(
            "Location: https://127.0.0.1:{}/admin/login",
            server2.port("https")
        )),
        "{head}"
    );
    assert!(!String::from_utf8_lossy(&body).contains("<form"), "{head}");
    let (status, _, body) = curl(&["--data", "user=&password=x", &url]);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("HTTPS only"));
}

#[test]
fn a_mail_user_gets_their_own_page_and_no_admin_page() {
    let dir = TempDir::new("admin-user");
    let server = start(&dir, &[]);
    let web = Web::new(&server, &dir.0);
    let (status, head, _) = web.login("ann@home.arpa", "ann-password");
    assert_eq!(status, 303);
    assert!(head.contains("Location: /admin/me"), "{head}");
    let (status, _, body) = web.get("/admin/me");
    assert_eq!(status, 200);
    assert!(body.contains("Account ann@home.arpa"), "{body}");
    assert!(
        !body.contains("/admin/users"),
        "no admin navigation: {body}"
    );
    for path in [
        "/admin",
        "/admin/users",
        "/admin/queue",
        "/admin/backup",
        "/admin/fetch",
    ] {
        let (status, _, _) = web.get(path);
        assert_eq!(status, 403, "{path}");
    }
    let csrf = web.csrf("/admin/me");
    let (status, _, _) = web.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("op", "add"),
            ("address", "mallory@home.arpa"),
            ("password", "x"),
        ],
        &[],
    );
    assert_eq!(status, 403);
    let (status, _, _) = web.post("/admin/backup", &[("csrf", &csrf), ("op", "download")], &[]);
    assert_eq!(status, 403);
    assert!(!users(&dir.0).contains("mallory"));
    assert!(
        server
            .log()
            .contains("a mail user's session refused /admin/users")
    );
    // Their own password: the current one is asked for.
    let change = |current: &str| {
        web.post(
            "/admin/me",
            &[
                ("csrf", &csrf),
                ("op", "passwd"),
                ("current", current),
                ("new", "ann-new"),
                ("again", "ann-new"),
            ],
            &[],
        )
    };
    assert_eq!(change("not-it").0, 303);
    assert!(
        web.get("/admin/me")
            .2
            .contains("the current password is wrong")
    );
    assert_eq!(change("ann-password").0, 303);
    assert!(
        web.get("/admin/me")
            .2
            .contains("changed the password of ann@home.arpa")
    );
    Session::login(server.connect("imap"), "ann@home.arpa", "ann-new");
    // The administrator sets another password: ann's page session ends.
    let operator = Web {
        jar: dir.0.join("operator-cookies").to_str().unwrap().to_string(),
        ..Web::new(&server, &dir.0)
    };
    assert_eq!(operator.login("", ADMIN_PASSWORD).0, 303);
    let csrf = operator.csrf("/admin/users");
    let (status, _, _) = operator.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("op", "passwd"),
            ("address", "ann@home.arpa"),
            ("password", "ann-third"),
        ],
        &[],
    );
    assert_eq!(status, 303);
    let (status, head, _) = web.get("/admin/me");
    assert_eq!(status, 303, "ann's old session still open: {head}");
    Session::login(server.connect("imap"), "ann@home.arpa", "ann-third");
}

#[test]
fn admin_password_from_the_settings_at_first_start() {
    let dir = TempDir::new("admin-env");
    add_user(&dir.0, "ann@home.arpa", "ann-password");
    let server = Server::start(&dir.0, &["--admin-password", "from-the-card"]);
    let web = Web::new(&server, &dir.0);
    assert_eq!(web.login("", "from-the-card").0, 303);
    assert_eq!(web.get("/admin").0, 200);
    drop(server);
    // A password set later is not undone by the setting at the next start.
    admin(
        &dir.0,
        &["admin", "passwd", "--password-stdin"],
        "changed-later\n",
    );
    let server = Server::start(&dir.0, &["--admin-password", "from-the-card"]);
    let web = Web::new(&server, &dir.0);
    assert_eq!(web.login("", "from-the-card").0, 403);
    assert_eq!(web.login("", "changed-later").0, 303);
    assert!(!server.log().contains("from-the-card"));
}

/// SMTP on port 25 from loopback (trusted: relaying allowed).
fn send(server: &Server, to: &str, subject: &str) {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO test.home.arpa", "250");
    c.cmd("MAIL FROM:<ann@home.arpa>", "250");
    c.cmd(&format!("RCPT TO:<{to}>"), "250");
    c.cmd("DATA", "354");
    c.cmd(
        &format!("From: ann@home.arpa\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@home.arpa>\r\n\r\nhello\r\n."),
        "250",
    );
    c.cmd("QUIT", "221");
}

#[test]
fn browser_adds_user_alias_fetch_account_flushes_queue_and_downloads_backup() {
    let node = require_tool("node", "nodejs");
    require_tool("chromium", "chromium");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let nodedeps = root.join("target/nodedeps");
    assert!(
        nodedeps.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not in target/nodedeps (scripts/setup.sh installs it)"
    );
    // The outside account to fetch from: a second smolmail with a message.
    let remote_dir = TempDir::new("admin-remote");
    add_user(&remote_dir.0, "far@remote.arpa", "far-password");
    let remote = Server::start(&remote_dir.0, &[]);
    send(&remote, "far@remote.arpa", "from-far-away");

    let dir = TempDir::new("admin-browser");
    let server = start(&dir, &[]);
    // Something in the queue: mail for a domain nobody can resolve here.
    send(&server, "someone@example.net", "stuck");
    let attempts = || {
        common::queue(&dir.0)
            .first()
            .map_or(0, |e| e.outbound.attempts)
    };
    wait_until(
        Duration::from_secs(30),
        "the first delivery attempt",
        || attempts() >= 1,
    );

    let shots = root.join("target/admin-screenshots");
    let download = dir.0.join("downloaded.mdb");
    let out = std::process::Command::new(node)
        .arg(root.join("tests/admin_browser.mjs"))
        .env(
            "BASE",
            format!("https://127.0.0.1:{}", server.port("https")),
        )
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NEW_USER", "bea@home.arpa")
        .env("NEW_PASSWORD", "bea-password")
        .env("ALIAS", "info@home.arpa")
        .env("REMOTE_PORT", remote.port("imaps").to_string())
        .env("REMOTE_USER", "far@remote.arpa")
        .env("REMOTE_PASSWORD", "far-password")
        .env("REMOTE_CA", remote_dir.0.join("tls/selfsigned-cert.pem"))
        .env("SHOTS", &shots)
        .env("DOWNLOAD", &download)
        .env("NODEDEPS", &nodedeps)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "the browser script failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    println!("{stdout}");

    // The user: logs in over IMAP with the password typed in the browser.
    Session::login(server.connect("imap"), "bea@home.arpa", "bea-password");
    assert!(
        users(&dir.0).contains("bea@home.arpa  used"),
        "{}",
        users(&dir.0)
    );
    assert!(
        users(&dir.0).contains("of 10M"),
        "the quota typed: {}",
        users(&dir.0)
    );
    // The alias: mail to it over SMTP lands with the user.
    send(&server, "info@home.arpa", "via-the-alias");
    let has = |subject: &str| {
        common::inbox(&dir.0, "bea@home.arpa")
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains(subject))
    };
    wait_until(
        Duration::from_secs(10),
        "the alias's mail in bea's INBOX",
        || has("via-the-alias"),
    );
    // The fetch account: listed by the CLI, its message fetched.
    let fetch = admin(&dir.0, &["fetch", "list"], "");
    assert!(fetch.contains("far@remote.arpa at localhost:"), "{fetch}");
    wait_until(Duration::from_secs(30), "the fetched message", || {
        has("from-far-away")
    });
    // The flush: a second attempt, long before the retry was due.
    wait_until(Duration::from_secs(30), "a second delivery attempt", || {
        attempts() >= 2
    });
    // The backup: a store the CLI reads, holding the new user.
    let restored = dir.0.join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::rename(&download, restored.join("data.mdb")).unwrap();
    assert!(
        users(&restored).contains("bea@home.arpa"),
        "{}",
        users(&restored)
    );
    // Every change was logged with who made it.
    let log = server.log();
    for line in [
        "admin: 127.0.0.1 logged in as admin",
        "admin: 127.0.0.1 admin: /admin/users add: added user bea@home.arpa",
        "admin: 127.0.0.1 admin: /admin/domains alias-add: info@home.arpa -> bea@home.arpa",
        "admin: 127.0.0.1 admin: /admin/fetch add: connected to",
        "admin: 127.0.0.1 admin: /admin/queue flush:",
        "admin: 127.0.0.1 admin: backup of",
    ] {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
    for name in [
        "login", "status", "users", "domains", "fetch", "queue", "dns", "certs", "backup",
        "password",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }
    // The temporary copy is gone once sent.
    wait_until(Duration::from_secs(10), "the sent copy deleted", || {
        std::fs::read_dir(dir.0.join("admin-backup.tmp"))
            .unwrap()
            .count()
            == 0
    });
}

#[test]
fn form_text_in_the_log_is_escaped_and_cut() {
    let dir = TempDir::new("admin-loginject");
    let server = start(&dir, &[]);
    let web = Web::new(&server, &dir.0);
    // A user name carrying a forged line, then a password pasted into the
    // user field: only its first 64 characters may reach the log.
    let forged = "x\r\nFORGED admin: 10.0.0.1 logged in as admin";
    assert_eq!(web.login(forged, "wrong").0, 403);
    let pasted = format!("{}SECRET-TAIL", "p".repeat(64));
    assert_eq!(web.login(&pasted, "wrong").0, 403);
    assert_eq!(web.login("", ADMIN_PASSWORD).0, 303);
    let csrf = web.csrf("/admin/users");
    let op = format!("add\r\nFORGED op line{}", "y".repeat(16000));
    let (status, _, _) = web.post("/admin/users", &[("csrf", &csrf), ("op", &op)], &[]);
    assert_eq!(status, 303);
    let log = server.log();
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")),
        "a forged line:\n{log}"
    );
    assert!(
        log.contains(r#"login as "x\r\nFORGED admin: 10.0.0.1 logged in as admin" failed"#),
        "{log}"
    );
    assert!(!log.contains("SECRET-TAIL"), "{log}");
    assert!(
        log.contains(r#"/admin/users "add\r\nFORGED op lineyyyyyyyyyyyyy" failed: unknown change"#),
        "{log}"
    );
    assert!(!log.contains(&"y".repeat(100)), "{log}");
}

#[test]
fn one_backup_download_at_a_time_until_its_copy_is_deleted() {
    let dir = TempDir::new("admin-backup-busy");
    let server = start(&dir, &[]);
    // A store of some megabytes, more than the socket buffers between a
    // slow reader and the server hold.
    let line = format!("{}\r\n", "x".repeat(998));
    let big = line.repeat(12 << 10);
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO test.home.arpa", "250");
    c.cmd("MAIL FROM:<ann@home.arpa>", "250");
    c.cmd("RCPT TO:<ann@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.cmd(&format!("Subject: big\r\n\r\n{big}."), "250");
    c.cmd("QUIT", "221");
    let web = Web::new(&server, &dir.0);
    assert_eq!(web.login("", ADMIN_PASSWORD).0, 303);
    let csrf = web.csrf("/admin/backup");
    // The first download, read slowly.
    let url = format!("{}/admin/backup", web.base);
    let out = dir.0.join("slow.mdb");
    let csrf_field = format!("csrf={csrf}");
    let mut slow = std::process::Command::new(require_tool("curl", "curl"))
        .args(["-sSk", "--limit-rate", "20K", "-b", &web.jar, "-o"])
        .arg(&out)
        .args([
            "--data-urlencode",
            &csrf_field,
            "--data-urlencode",
            "op=download",
            &url,
        ])
        .spawn()
        .unwrap();
    server.wait_for_log("backup of");
    // The copy is made and being sent: a second is refused, no new copy.
    let copies = || {
        std::fs::read_dir(dir.0.join("admin-backup.tmp"))
            .unwrap()
            .count()
    };
    let (status, _, body) = web.post("/admin/backup", &[("csrf", &csrf), ("op", "download")], &[]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("already"), "{body}");
    assert_eq!(copies(), 1);
    // The slow reader goes away: its copy is deleted, and the next works.
    slow.kill().unwrap();
    slow.wait().unwrap();
    wait_until(
        Duration::from_secs(40),
        "the abandoned copy deleted",
        || copies() == 0,
    );
    let (status, head, _) = web.post("/admin/backup", &[("csrf", &csrf), ("op", "download")], &[]);
    assert_eq!(status, 200, "{head}");
    wait_until(Duration::from_secs(10), "the sent copy deleted", || {
        copies() == 0
    });
}

#[test]
fn a_password_changed_from_the_command_line_ends_older_sessions() {
    let dir = TempDir::new("admin-cli-passwd");
    let server = start(&dir, &[]);
    add_user(&dir.0, "bob@home.arpa", "bob-password");
    let operator = Web::new(&server, &dir.0);
    let jar = |name: &str| Web {
        jar: dir.0.join(name).to_str().unwrap().to_string(),
        ..Web::new(&server, &dir.0)
    };
    let (ann, bob) = (jar("ann-cookies"), jar("bob-cookies"));
    assert_eq!(operator.login("", ADMIN_PASSWORD).0, 303);
    assert_eq!(ann.login("ann@home.arpa", "ann-password").0, 303);
    assert_eq!(bob.login("bob@home.arpa", "bob-password").0, 303);
    assert_eq!(operator.get("/admin").0, 200);
    assert_eq!(ann.get("/admin/me").0, 200);
    assert_eq!(bob.get("/admin/me").0, 200);
    admin(
        &dir.0,
        &["admin", "passwd", "--password-stdin"],
        "a-new-admin-password\n",
    );
    let (status, head, _) = operator.get("/admin");
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("Location: /admin/login"), "{head}");
    assert_eq!(ann.get("/admin/me").0, 200, "ann's password did not change");
    admin(
        &dir.0,
        &["user", "passwd", "ann@home.arpa", "--password-stdin"],
        "ann-new\n",
    );
    assert_eq!(ann.get("/admin/me").0, 303);
    admin(&dir.0, &["user", "del", "bob@home.arpa"], "");
    assert_eq!(bob.get("/admin/me").0, 303);
    assert!(
        server
            .log()
            .contains("admin: 127.0.0.1 admin: session ended"),
        "{}",
        server.log()
    );
    // The new password opens a session that lasts.
    assert_eq!(operator.login("", "a-new-admin-password").0, 303);
    assert_eq!(operator.get("/admin").0, 200);
    assert_eq!(operator.get("/admin/users").0, 200);
}

impl Web {
    /// The session token in the cookie jar now.
    fn token(&self) -> String {
        let jar = std::fs::read_to_string(&self.jar).unwrap();
        let line = jar
            .lines()
            .find(|l| l.contains("__Secure-smolmail_admin"))
            .expect("a session cookie");
        line.rsplit('\t').next().unwrap().to_string()
    }

    /// A GET with only `token` as the cookie (a replayed, stolen one).
    fn get_with(&self, token: &str, path: &str) -> u16 {
        let cookie = format!("Cookie: __Secure-smolmail_admin={token}");
        let url = format!("{}{path}", self.base);
        curl(&["-k", "-H", &cookie, &url]).0
    }
}

#[test]
fn cookies_of_ended_or_replaced_sessions_are_refused() {
    let dir = TempDir::new("admin-replay");
    let server = start(&dir, &[]);
    let web = Web::new(&server, &dir.0);
    assert_eq!(web.login("", ADMIN_PASSWORD).0, 303);
    let first = web.token();
    assert_eq!(web.get_with(&first, "/admin/users"), 200);
    // Logging in again with that cookie replaces its session.
    assert_eq!(web.login("", ADMIN_PASSWORD).0, 303);
    let second = web.token();
    assert_ne!(first, second);
    assert_eq!(web.get_with(&first, "/admin/users"), 303);
    assert_eq!(web.get_with(&second, "/admin/users"), 200);
    // After logging out, the cookie replayed is worth nothing.
    let csrf = web.csrf("/admin/users");
    let (status, head, _) = web.post("/admin/logout", &[("csrf", &csrf)], &[]);
    assert_eq!(status, 303, "{head}");
    assert_eq!(web.get_with(&second, "/admin/users"), 303);
    assert_eq!(web.get_with(&second, "/admin"), 303);
}

#[test]
fn cross_site_login_long_password_and_too_many_fields_are_refused() {
    let dir = TempDir::new("admin-login-refusals");
    let server = start(&dir, &[]);
    let web = Web::new(&server, &dir.0);
    // Login CSRF: another site logging the browser in as someone else.
    let (status, head, _) = web.post(
        "/admin/login",
        &[("user", ""), ("password", ADMIN_PASSWORD)],
        &["Origin: https://evil.example"],
    );
    assert_eq!(status, 403, "{head}");
    assert!(!head.contains("Set-Cookie"), "{head}");
    // A password past auth::MAX_PASSWORD is a failure without a hash.
    let long = "p".repeat(2000);
    assert_eq!(web.login("", &long).0, 403);
    assert!(
        server
            .log()
            .contains("admin: 127.0.0.1: a password over the size limit (2000 bytes)")
    );
    // More than 32 fields: not a form of these pages.
    assert_eq!(web.login("", ADMIN_PASSWORD).0, 303);
    let csrf = web.csrf("/admin/users");
    let names: Vec<String> = (0..33).map(|i| format!("f{i}")).collect();
    let mut fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    fields.push(("csrf", &csrf));
    let (status, _, body) = web.post("/admin/users", &fields, &[]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("could not be read"), "{body}");
    // A body past http::MAX_BODY: an answer saying so, not a bare close.
    let big = "c".repeat(20 << 10);
    let (status, _, body) = web.post("/admin/fetch", &[("csrf", &csrf), ("ca", &big)], &[]);
    assert_eq!(status, 413);
    assert!(
        body.contains("at most 16 KiB; nothing was changed"),
        "{body}"
    );
}
