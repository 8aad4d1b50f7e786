//! The #15 APPEND-side extensions against the real Dovecot (Debian's
//! dovecot-imapd, started here with a temporary configuration and its
//! quota plugin, by tests/common/dovecot.rs): one Python imaplib script
//! runs against each server and prints what it saw, normalized where the
//! servers may differ by design (quota root names, UIDVALIDITY); the two
//! transcripts must be equal.

mod common;

use std::process::Command;

use common::dovecot::{Dovecot, Options};
use common::{Server, TempDir, add_user, admin};

const USER: &str = "alice@home.arpa";
const PASSWORD: &str = "alice-pw";

/// Dovecot with `quota = count` (usage as RFC 822 sizes) and a 10 KiB
/// STORAGE limit, and a special-use Sent folder.
fn dovecot(name: &str) -> Dovecot {
    assert!(
        std::path::Path::new("/usr/lib/dovecot/modules/lib11_imap_quota_plugin.so").exists(),
        "Dovecot's quota plugin comes with Debian's dovecot-imapd (scripts/setup.sh installs it)"
    );
    Dovecot::start(
        &format!("ext-{name}"),
        &Options {
            users: &[(USER, PASSWORD)],
            auth_mechanisms: "plain login",
            separator: Some('/'),
            special_use: &[("Sent", "\\Sent")],
            plugins: "quota",
            extra: r#"protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = count:User quota
  quota_rule = *:storage=10K
  quota_vsizes = yes
}
"#,
            ..Options::default()
        },
    )
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
