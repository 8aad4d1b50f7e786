//! SORT, SORT=DISPLAY, THREAD and ESEARCH/ESORT (RFC 5256, 5957, 4731,
//! 5267) through Python's imaplib, compared answer for answer with
//! Debian's Dovecot over the same corpus (tests/data/sort_thread.py).
//! Dovecot runs here on loopback, plain IMAP, with a temporary
//! configuration; the test fails, naming the package, without it.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Server, TempDir, add_user};

const USER: &str = "sorter@home.arpa";
const PASSWORD: &str = "sort-pw";

/// Dovecot, stopped when dropped.
struct Dovecot {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn output(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

fn dovecot() -> Dovecot {
    let bin = common::require_tool("dovecot", "dovecot-core");
    assert!(
        Path::new("/usr/lib/dovecot/imap").exists(),
        "Dovecot's IMAP server is missing: install Debian's dovecot-imapd"
    );
    let dir = TempDir::new("sort-dovecot");
    let d = dir.0.clone();
    for sub in ["run", "state", "home"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    Command::new("chmod")
        .args(["755", d.to_str().unwrap()])
        .status()
        .unwrap();
    let me = output(Command::new("id").arg("-un"));
    let (mail_user, internal) = match me.as_str() {
        "root" => (
            "nobody".to_string(),
            "default_internal_user = dovecot\ndefault_login_user = dovenull".to_string(),
        ),
        _ => (
            me.clone(),
            format!("default_internal_user = {me}\ndefault_login_user = {me}"),
        ),
    };
    let uid = output(Command::new("id").args(["-u", &mail_user]));
    let gid = output(Command::new("id").args(["-g", &mail_user]));
    Command::new("chown")
        .args([
            "-R",
            &format!("{uid}:{gid}"),
            d.join("home").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    std::fs::write(
        d.join("users"),
        format!(
            "{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}::\n",
            d.join("home").display()
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = format!(
        "base_dir = {d}/run\nstate_dir = {d}/state\ninstance_name = smolmail-sort-{pid}\n\
log_path = {d}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n{internal}\nssl = no\n\
disable_plaintext_auth = no\nauth_mechanisms = plain\n\
passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/users\n}}\n\
userdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
mail_location = maildir:~/Maildir\nfirst_valid_uid = 1\nmail_fsync = never\n\
service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n  \
inet_listener imaps {{\n    port = 0\n  }}\n}}\nservice anvil {{\n  chroot =\n}}\n",
        d = d.display(),
        pid = std::process::id(),
    );
    std::fs::write(d.join("dovecot.conf"), conf).unwrap();
    let child = Command::new(bin)
        .args(["-F", "-c", d.join("dovecot.conf").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("dovecot.stderr")).unwrap())
        .spawn()
        .unwrap();
    common::wait_until_with(
        Duration::from_secs(60),
        "Dovecot to listen",
        || TcpStream::connect(("127.0.0.1", port)).is_ok(),
        || std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default(),
    );
    Dovecot {
        child,
        port,
        _dir: dir,
    }
}

/// RFC 5256 §3/§4, RFC 5957, RFC 4731, RFC 5267: every SORT key, REVERSE,
/// search criteria, UID SORT, the three THREAD algorithms, ESEARCH and
/// ESORT answer as Dovecot does for the same messages.
#[test]
fn sort_thread_and_esearch_answer_as_dovecot_does() {
    let data = TempDir::new("sort-thread");
    add_user(&data.0, USER, PASSWORD);
    let server = Server::start(&data.0, &[]);
    let dovecot = dovecot();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sort_thread.py");
    let out = Command::new(common::require_tool("python3", "python3"))
        .arg(script)
        .args([&server.port("imap").to_string(), USER, PASSWORD])
        .args([&dovecot.port.to_string(), USER, PASSWORD])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "answers differ from Dovecot's:\n{text}"
    );
}
