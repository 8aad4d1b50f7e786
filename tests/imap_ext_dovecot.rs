//! The #15 APPEND-side extensions against the real Dovecot (Debian's
//! dovecot-imapd, started here with a temporary configuration and its
//! quota plugin, as tests/fetch.rs starts it): one Python imaplib script
//! runs against each server and prints what it saw, normalized where the
//! servers may differ by design (quota root names, UIDVALIDITY); the two
//! transcripts must be equal.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{PATIENCE, Server, TempDir, add_user, admin};

const USER: &str = "alice@home.arpa";
const PASSWORD: &str = "alice-pw";

/// Dovecot with `quota = count` (usage as RFC 822 sizes) and a 10 KiB
/// STORAGE limit; killed when dropped.
struct Dovecot {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn dovecot(name: &str) -> Dovecot {
    let binary = common::require_tool("dovecot", "dovecot-core");
    assert!(
        Path::new("/usr/lib/dovecot/imap").exists()
            && Path::new("/usr/lib/dovecot/modules/lib11_imap_quota_plugin.so").exists(),
        "Dovecot's IMAP server and quota plugin come with Debian's dovecot-imapd \
         (scripts/setup.sh installs it)"
    );
    let dir = TempDir::new(&format!("dovecot-ext-{name}"));
    let d = dir.0.clone();
    for sub in ["run", "state", "home/Maildir"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    run_ok(Command::new("chmod").args(["755", d.to_str().unwrap()]));
    let root = run_ok(Command::new("id").arg("-u")) == "0";
    let me = run_ok(Command::new("id").arg("-un"));
    let (mail_user, internal) = if root {
        (
            "nobody".to_string(),
            "default_internal_user = dovecot\ndefault_login_user = dovenull".to_string(),
        )
    } else {
        (
            me.clone(),
            format!("default_internal_user = {me}\ndefault_login_user = {me}"),
        )
    };
    let uid = run_ok(Command::new("id").args(["-u", &mail_user]));
    let gid = run_ok(Command::new("id").args(["-g", &mail_user]));
    run_ok(Command::new("chown").args([
        "-R",
        &format!("{uid}:{gid}"),
        d.join("home").to_str().unwrap(),
    ]));
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
        r#"base_dir = {d}/run
state_dir = {d}/state
instance_name = smolmail-ext-{name}-{pid}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{internal}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
mail_fsync = never
mail_plugins = quota
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
plugin {{
  quota = count:User quota
  quota_rule = *:storage=10K
  quota_vsizes = yes
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"#,
        d = d.display(),
        pid = std::process::id(),
    );
    std::fs::write(d.join("dovecot.conf"), conf).unwrap();
    let child = Command::new(binary)
        .args(["-F", "-c", d.join("dovecot.conf").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("dovecot.stderr")).unwrap())
        .spawn()
        .unwrap();
    common::wait_until_with(
        PATIENCE,
        "Dovecot to listen",
        || TcpStream::connect(("127.0.0.1", port)).is_ok(),
        || {
            format!(
                "{}{}",
                std::fs::read_to_string(d.join("dovecot.stderr")).unwrap_or_default(),
                std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
            )
        },
    );
    Dovecot {
        child,
        port,
        _dir: dir,
    }
}

/// Runs `script` against the IMAP server on `port`; its printed lines.
fn transcript(port: u16, script: &str) -> String {
    let python = common::require_tool("python3", "python3");
    let out = Command::new(python)
        .args(["-c", script])
        .arg(port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "script failed on port {port}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What both servers are asked; quota roots are printed as ROOT, and
/// APPENDUID's UIDVALIDITY as V.
const SCRIPT: &str = r#"
import imaplib, re, socket, sys
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@home.arpa", "alice-pw")
caps = set(M.capability()[1][0].decode().split())
for c in ["MULTIAPPEND", "STATUS=SIZE", "QUOTA", "LITERAL+", "PREVIEW", "SPECIAL-USE"]:
    print("cap", c, c in caps)

def show(name, *args):
    typ, dat = M._simple_command(name, *args)
    print(name, typ)
    for key in sorted(M.untagged_responses):
        for v in M.untagged_responses.pop(key):
            v = v.decode() if isinstance(v, bytes) else repr(v)
            v = v.replace('"User quota"', "ROOT").replace('""', "ROOT")
            v = re.sub(r'"([A-Za-z0-9]+)"', r"\1", v)  # INBOX and "INBOX" alike
            if key == "APPENDUID":
                v = "V " + v.split(" ", 1)[1]
            if key == "MAILBOXID":
                continue  # OBJECTID (RFC 8474): not in Dovecot 2.3
            print(" ", key, v)

one = b"From: a@example.org\r\nSubject: one\r\n\r\nHello  there,\r\n\r\nsee you.\r\n"
two = b"From: a@example.org\r\nSubject: two\r\n\r\n" + b"t" * 1500 + b"\r\n"
assert M.append("INBOX", None, None, one)[0] == "OK"
assert M.append("INBOX", None, None, two)[0] == "OK"
show("STATUS", "INBOX", "(MESSAGES SIZE)")
show("GETQUOTAROOT", "INBOX")

# RFC 3502: three messages in one APPEND.
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
f.readline()
s.sendall(b"l LOGIN alice@home.arpa alice-pw\r\n")
while not f.readline().startswith(b"l "):
    pass
msgs = [b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i) for i in range(3)]
s.sendall(b"a APPEND INBOX" + b"".join(b" {%d+}\r\n" % len(m) + m for m in msgs) + b"\r\n")
while True:
    line = f.readline().decode()
    if line.startswith("a "):
        print("MULTIAPPEND", re.sub(r"APPENDUID \d+", "APPENDUID V", line.split("]")[0]))
        break
show("STATUS", "INBOX", "(MESSAGES)")

# Over the quota: refused with OVERQUOTA, before or after the literal.
s.sendall(b"b APPEND INBOX {12000}\r\n")
line = f.readline().decode()
if line.startswith("+"):
    s.sendall(b"Subject: big\r\n\r\n" + b"x" * (12000 - 18) + b"\r\n\r\n")
    line = f.readline().decode()
print("over quota", line.split("]")[0] + "]")
show("STATUS", "INBOX", "(MESSAGES)")

M.select("INBOX")
M.untagged_responses.clear()
typ, dat = M.fetch("1", "(PREVIEW)")
print("PREVIEW", dat)
# RFC 6154 §3: a server offering CREATE-SPECIAL-USE makes the mailbox
# \Sent; Dovecot does not offer it (and ignores USE), smolmail does.
show("CREATE", "Sent2", "(USE (\\Sent))")
typ, dat = M.list('""', "Sent2")
print("USE honoured as advertised", (b"\\Sent" in dat[0]) == ("CREATE-SPECIAL-USE" in caps))
"#;

/// The same questions to both: capabilities, STATUS SIZE, GETQUOTAROOT,
/// MULTIAPPEND, an APPEND past the quota, PREVIEW, CREATE with USE.
#[test]
fn the_append_extensions_answer_as_dovecot_does() {
    let data = TempDir::new("imapext-vs-dovecot");
    add_user(&data.0, USER, PASSWORD);
    let server = Server::start(&data.0, &[]);
    admin(&data.0, &["user", "quota", USER, "10K"], "");
    let ours = transcript(server.port("imap"), SCRIPT);
    let dovecot = dovecot("append");
    let theirs = transcript(dovecot.port, SCRIPT);
    assert_eq!(ours, theirs, "smolmail:\n{ours}\nDovecot:\n{theirs}");
}
