//! Debian's Dovecot, started for a test on 127.0.0.1 with a temporary
//! configuration, as the real other server that the differential, fetch
//! and migration tests talk to. One starter, so that every test gets the
//! same care: Dovecot's login and mail processes run as other users when
//! the test runs as root, the ports are picked free, and a failure to
//! start shows Dovecot's own log.
//!
//! ```ignore
//! let dovecot = Dovecot::start("name", &Options {
//!     users: &[("me@home.arpa", "pw")],
//!     ..Options::default()
//! });
//! TcpStream::connect(("127.0.0.1", dovecot.port));
//! ```

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{PATIENCE, TempDir};

/// What the Dovecot of a test looks like; [`Options::default`] is one
/// maildir account-less server on plain IMAP.
pub struct Options<'a> {
    /// Accounts: (name, password). Each has the home `home/NAME` (so
    /// maildir's `~/Maildir` is [`Dovecot::maildir`]).
    pub users: &'a [(&'a str, &'a str)],
    /// Dovecot's `mail_location`, e.g. `maildir:~/Maildir` or
    /// `mdbox:~/mdbox`.
    pub mail_location: &'a str,
    /// Writes `server.pem` and `server.key` into the directory given: then
    /// TLS is required and IMAP with TLS from the first byte listens on
    /// [`Dovecot::tls_port`] (plain IMAP on [`Dovecot::port`] stays usable
    /// from loopback, which Dovecot counts as secure). Without it there is
    /// no TLS and plaintext logins are allowed.
    pub tls: Option<&'a dyn Fn(&Path)>,
    /// SASL mechanisms offered (`auth_mechanisms`).
    pub auth_mechanisms: &'a str,
    /// The hierarchy separator of the inbox namespace; `None` keeps
    /// Dovecot's default.
    pub separator: Option<char>,
    /// RFC 6154 special-use folders: (folder, use such as `\Sent`), each
    /// created and subscribed automatically.
    pub special_use: &'a [(&'a str, &'a str)],
    /// `mail_plugins` (space-separated), e.g. `quota`.
    pub plugins: &'a str,
    /// Further configuration lines, verbatim.
    pub extra: &'a str,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            users: &[],
            mail_location: "maildir:~/Maildir",
            tls: None,
            auth_mechanisms: "plain",
            separator: None,
            special_use: &[],
            plugins: "",
            extra: "",
        }
    }
}

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    child: Child,
    pub dir: TempDir,
    /// Plain IMAP (RFC 3501 §2.1, port 143's service).
    pub port: u16,
    /// IMAP with TLS from the first byte (RFC 8314), when [`Options::tls`]
    /// was given; 0 otherwise.
    pub tls_port: u16,
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

/// [`super::run_ok`], its stdout trimmed.
fn run_ok(cmd: &mut Command) -> String {
    super::run_ok(cmd).trim().to_string()
}

impl Dovecot {
    /// Starts Dovecot as `options` say and waits until it listens; fails,
    /// naming the Debian package, when it is not installed. `name` tells
    /// parallel instances apart (temporary directory, instance name).
    pub fn start(name: &str, options: &Options) -> Dovecot {
        let dovecot = super::require_tool("dovecot", "dovecot-core");
        assert!(
            Path::new("/usr/lib/dovecot/imap").exists(),
            "Dovecot's IMAP server /usr/lib/dovecot/imap is not installed: it comes with \
             Debian's dovecot-imapd package (scripts/setup.sh installs it)"
        );
        let dir = TempDir::new(&format!("dovecot-{name}"));
        let d = dir.0.clone();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // Dovecot's login and mail processes run as other users.
        run_ok(Command::new("chmod").args(["755", d.to_str().unwrap()]));
        let root = run_ok(Command::new("id").arg("-u")) == "0";
        let mail_user = if root {
            "nobody".to_string()
        } else {
            run_ok(Command::new("id").arg("-un"))
        };
        let internal = if root {
            "default_internal_user = dovecot\ndefault_login_user = dovenull".to_string()
        } else {
            format!("default_internal_user = {mail_user}\ndefault_login_user = {mail_user}")
        };
        let uid = run_ok(Command::new("id").args(["-u", &mail_user]));
        let gid = run_ok(Command::new("id").args(["-g", &mail_user]));
        let mut passwd = String::new();
        for (user, password) in options.users {
            let home = d.join("home").join(user);
            std::fs::create_dir_all(&home).unwrap();
            passwd.push_str(&format!(
                "{user}:{{PLAIN}}{password}:{uid}:{gid}::{}::\n",
                home.display()
            ));
        }
        std::fs::write(d.join("users"), passwd).unwrap();
        let ssl = if let Some(write) = options.tls {
            write(&d);
            // The master reads it as root, but not when the test is not.
            run_ok(Command::new("chmod").arg("644").arg(d.join("server.key")));
            format!(
                "ssl = required\nssl_cert = <{0}/server.pem\nssl_key = <{0}/server.key\n\
                 ssl_min_protocol = TLSv1.2",
                d.display()
            )
        } else {
            "ssl = no\ndisable_plaintext_auth = no".to_string()
        };
        let [port, tls_port] = [(); 2].map(|_| super::free_port());
        let tls_port = if options.tls.is_some() { tls_port } else { 0 };
        let mut namespace = String::new();
        if let Some(sep) = options.separator {
            namespace.push_str(&format!("  separator = {sep}\n"));
        }
        for (folder, use_) in options.special_use {
            namespace.push_str(&format!(
                "  mailbox \"{folder}\" {{\n    special_use = {use_}\n    auto = subscribe\n  }}\n"
            ));
        }
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
instance_name = smolmail-{name}-{pid}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{internal}
{ssl}
auth_mechanisms = {mechanisms}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
mail_location = {location}
mail_plugins = {plugins}
first_valid_uid = 1
mail_fsync = never
namespace inbox {{
  inbox = yes
{namespace}}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}{imaps_ssl}
  }}
}}
service anvil {{
  chroot =
}}
{extra}
"#,
            d = d.display(),
            pid = std::process::id(),
            mechanisms = options.auth_mechanisms,
            location = options.mail_location,
            plugins = options.plugins,
            extra = options.extra,
            imaps_ssl = if tls_port != 0 { "\n    ssl = yes" } else { "" },
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        give_homes(&d);
        let child = Command::new(dovecot)
            .args(["-F", "-c", d.join("dovecot.conf").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("dovecot.stderr")).unwrap())
            .spawn()
            .unwrap();
        let started = Dovecot {
            child,
            dir,
            port,
            tls_port,
        };
        super::wait_until_with(
            PATIENCE,
            "Dovecot to listen",
            || {
                [port, tls_port]
                    .iter()
                    .filter(|p| **p != 0)
                    .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            },
            || {
                format!(
                    "{}{}",
                    std::fs::read_to_string(d.join("dovecot.stderr")).unwrap_or_default(),
                    std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
                )
            },
        );
        started
    }

    /// A user's home.
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.0.join("home").join(user)
    }

    /// A user's Maildir (with the default `mail_location`).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// Hands every home to the mail user again (after the test put files
    /// there, perhaps as root).
    pub fn give_homes(&self) {
        give_homes(&self.dir.0);
    }
}

/// Chowns `dir/home` to the mail user of the first account in `dir/users`.
fn give_homes(dir: &Path) {
    let passwd = std::fs::read_to_string(dir.join("users")).unwrap();
    if let Some(line) = passwd.lines().next() {
        let fields: Vec<&str> = line.split(':').collect();
        run_ok(Command::new("chown").args([
            "-R",
            &format!("{}:{}", fields[2], fields[3]),
            dir.join("home").to_str().unwrap(),
        ]));
    }
}
