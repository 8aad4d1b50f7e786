//! The #15 extensions around APPEND and mailbox accounting, driven by
//! Python's imaplib (its `_simple_command` sends any command) and, where
//! the wire order matters (an answer instead of the `+` continuation), by
//! a raw socket from the same script: APPENDLIMIT (RFC 7889), LITERAL+
//! rather than LITERAL- (RFC 7888), QUOTA (RFC 9208), STATUS=SIZE
//! (RFC 8438) and CREATE-SPECIAL-USE (RFC 6154 §3).

mod common;

use common::{Server, TempDir, add_user, admin};

const ALICE: &str = "alice@home.arpa";
const ALICE_PW: &str = "alice-pw";

fn setup(name: &str, extra: &[&str]) -> (TempDir, Server) {
    let data = TempDir::new(&format!("imapext-{name}"));
    add_user(&data.0, ALICE, ALICE_PW);
    let server = Server::start(&data.0, extra);
    (data, server)
}

fn python(server: &Server, script: &str) -> String {
    common::imap::imaplib_script(server, script)
}

/// RFC 7889 §3, §4: APPENDLIMIT=n after login is the message size limit;
/// STATUS and LIST-STATUS give the same APPENDLIMIT per mailbox; a message
/// one octet over gets `NO [TOOBIG]` instead of the continuation, one of
/// exactly n octets is stored.
#[test]
fn rfc7889_appendlimit_capability_status_and_toobig() {
    let (_data, server) = setup("appendlimit", &["--max-message-size", "20K"]);
    python(
        &server,
        r#"
assert "APPENDLIMIT=20480" in caps, caps
typ, u, _ = run("STATUS", "INBOX", "(APPENDLIMIT MESSAGES)")
assert typ == "OK" and u["STATUS"] == ['"INBOX" (APPENDLIMIT 20480 MESSAGES 0)'], u
typ, u, _ = run("LIST", '""', '"Sent"', "RETURN", "(STATUS (APPENDLIMIT))")
assert typ == "OK" and u["STATUS"] == ['"Sent" (APPENDLIMIT 20480)'], u
r = Raw()
r.send(b"a1 APPEND INBOX {20481}\r\n")
got = r.line()
assert got.startswith("a1 NO [TOOBIG]"), got
msg = b"Subject: big\r\n\r\n" + b"x" * (20480 - 18) + b"\r\n"
assert len(msg) == 20480
typ, dat = M.append("INBOX", None, None, msg)
assert typ == "OK", dat
typ, u, _ = run("STATUS", "INBOX", "(MESSAGES)")
assert u["STATUS"] == ['"INBOX" (MESSAGES 1)'], u
"#,
    );
}

/// RFC 7888 §4, §5: the server offers LITERAL+ (non-synchronizing literals
/// of any size up to the message limit) and so not LITERAL-, whose 4096
/// octet bound it does not impose: a 5000-octet `{n+}` APPEND is stored.
#[test]
fn rfc7888_literal_plus_offered_not_literal_minus() {
    let (_data, server) = setup("literal", &[]);
    python(
        &server,
        r#"
assert "LITERAL+" in caps and "LITERAL-" not in caps, caps
r = Raw()
msg = b"Subject: nonsync\r\n\r\n" + b"y" * 4978 + b"\r\n"
assert len(msg) == 5000
r.send(b"a1 APPEND INBOX {5000+}\r\n" + msg + b"\r\n")
lines = r.until(b"a1 ")
assert lines[-1].startswith("a1 OK [APPENDUID"), lines
assert not any(l.startswith("+") for l in lines), lines
"#,
    );
}

/// RFC 9208 §4.2-§4.4, §5.1: one root "" with STORAGE in KiB (usage
/// rounded up) for an account with a limit, none without; GETQUOTA of
/// another root is NO; SETQUOTA is refused NOPERM; STATUS DELETED and
/// DELETED-STORAGE count \Deleted messages; an APPEND past the quota is
/// answered `NO [OVERQUOTA]` before the `+` continuation.
#[test]
fn rfc9208_getquota_getquotaroot_status_deleted_and_overquota() {
    let (data, server) = setup("quota", &[]);
    let script_unlimited = r#"
assert "QUOTA" in caps and "QUOTA=RES-STORAGE" in caps, caps
assert "QUOTA=RES-MESSAGE" not in caps, caps
typ, u, _ = run("GETQUOTAROOT", "INBOX")
assert typ == "OK" and u["QUOTAROOT"] == ['"INBOX"'] and "QUOTA" not in u, u
typ, u, text = run("GETQUOTA", '""')
assert typ == "NO" and "NONEXISTENT" in text, (typ, text)
"#;
    python(&server, script_unlimited);
    admin(&data.0, &["user", "quota", ALICE, "10K"], "");
    python(
        &server,
        r#"
typ, u, _ = run("GETQUOTAROOT", "INBOX")
assert typ == "OK" and u["QUOTAROOT"] == ['"INBOX" ""'], u
assert u["QUOTA"] == ['"" (STORAGE 0 10)'], u
msg = b"Subject: one\r\n\r\n" + b"z" * 2000 + b"\r\n"
assert M.append("INBOX", None, None, msg)[0] == "OK"
typ, u, _ = run("GETQUOTA", '""')
assert typ == "OK" and u["QUOTA"] == ['"" (STORAGE 2 10)'], u
typ, u, _ = run("GETQUOTAROOT", "Sent")
assert u["QUOTAROOT"] == ['"Sent" ""'] and u["QUOTA"] == ['"" (STORAGE 2 10)'], u
typ, u, text = run("GETQUOTA", '"other"')
assert typ == "NO", (typ, text)
typ, u, text = run("GETQUOTAROOT", "Nowhere")
assert typ == "NO" and "NONEXISTENT" in text, (typ, text)
typ, u, text = run("SETQUOTA", '""', "(STORAGE 100)")
assert typ == "NO" and "NOPERM" in text, (typ, text)
assert M.append("INBOX", None, None, b"Subject: two\r\n\r\nshort\r\n")[0] == "OK"
M.select("INBOX")
M.store("1", "+FLAGS", "(\\Deleted)")
typ, u, _ = run("STATUS", "INBOX", "(DELETED DELETED-STORAGE MESSAGES)")
assert u["STATUS"] == ['"INBOX" (DELETED 1 DELETED-STORAGE %d MESSAGES 2)' % len(msg)], u
# LIST-STATUS (RFC 5819) counts them for the mailboxes it lists.
typ, u, _ = run("LIST", '""', "INB%", "RETURN", "(STATUS (DELETED MESSAGES))")
assert typ == "OK" and u["STATUS"] == ['"INBOX" (DELETED 1 MESSAGES 2)'], u
r = Raw()
r.send(b"a1 APPEND INBOX {9000}\r\n")
got = r.line()
assert got.startswith("a1 NO [OVERQUOTA]"), got
r.send(b"a2 NOOP\r\n")
assert r.until(b"a2 ")[-1].startswith("a2 OK"), "session goes on"
"#,
    );
    assert!(server.log().contains("refused 9000 more"));
}

/// RFC 8438 §3: STATUS SIZE is the sum of the messages' RFC822.SIZE, and
/// follows APPEND and EXPUNGE.
#[test]
fn rfc8438_status_size_is_the_sum_of_rfc822_size() {
    let (_data, server) = setup("statussize", &[]);
    python(
        &server,
        r#"
assert "STATUS=SIZE" in caps, caps
typ, u, _ = run("STATUS", "INBOX", "(SIZE)")
assert u["STATUS"] == ['"INBOX" (SIZE 0)'], u
for i in range(3):
    M.append("INBOX", None, None, b"Subject: m%d\r\n\r\n" % i + b"w" * (100 * i) + b"\r\n")
M.select("INBOX")
typ, dat = M.fetch("1:*", "(RFC822.SIZE)")
sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in dat]
typ, u, _ = run("STATUS", "INBOX", "(SIZE)")
assert u["STATUS"] == ['"INBOX" (SIZE %d)' % sum(sizes)], (u, sizes)
M.store("2", "+FLAGS", "(\\Deleted)")
M.expunge()
typ, u, _ = run("STATUS", "INBOX", "(SIZE)")
assert u["STATUS"] == ['"INBOX" (SIZE %d)' % (sizes[0] + sizes[2])], (u, sizes)
"#,
    );
}

/// RFC 6154 §3: CREATE with `USE (\Sent)` makes a mailbox LIST shows
/// with that attribute; an attribute the server does not support as a
/// creatable use, or two of them, is `NO [USEATTR]`.
#[test]
fn rfc6154_3_create_special_use() {
    let (_data, server) = setup("createuse", &[]);
    python(
        &server,
        r#"
assert "CREATE-SPECIAL-USE" in caps, caps
typ, u, text = run("CREATE", '"Sent Mail"', "(USE (\\Sent))")
assert typ == "OK", text
typ, dat = M.list('""', '"Sent Mail"')
assert typ == "OK" and b"\\Sent" in dat[0], dat
typ, u, text = run("CREATE", "Everything", "(USE (\\All))")
assert typ == "NO" and "[USEATTR]" in text, (typ, text)
typ, u, text = run("CREATE", "Two", "(USE (\\Trash \\Junk))")
assert typ == "NO" and "[USEATTR]" in text, (typ, text)
typ, dat = M.list('""', '"Everything"')
assert dat == [None], dat
"#,
    );
}

/// RFC 8474 §4-§6: CREATE answers the MAILBOXID, which SELECT and STATUS
/// repeat and RENAME keeps, and a mailbox made again under a deleted one's
/// name gets a new one; a message keeps its EMAILID through COPY and MOVE,
/// another message has another; THREADID is NIL; SEARCH EMAILID finds the
/// message and SEARCH THREADID nothing.
#[test]
fn rfc8474_objectid_mailboxid_emailid_threadid() {
    let (_data, server) = setup("objectid", &[]);
    python(
        &server,
        r#"
assert "OBJECTID" in caps, caps
typ, u, text = run("CREATE", "Proj")
m = re.search(r"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", text)
assert typ == "OK" and m, text
proj = m.group(1)
typ, u, _ = run("STATUS", "Proj", "(MAILBOXID)")
assert u["STATUS"] == ['"Proj" (MAILBOXID (%s))' % proj], u
assert run("RENAME", "Proj", "Proj2")[0] == "OK"
typ, u, _ = run("STATUS", "Proj2", "(MAILBOXID)")
assert u["STATUS"] == ['"Proj2" (MAILBOXID (%s))' % proj], u
assert run("CREATE", "Proj")[0] == "OK"
typ, u, _ = run("STATUS", "Proj", "(MAILBOXID)")
assert proj not in u["STATUS"][0], (proj, u)
typ, u, _ = run("STATUS", "INBOX", "(MAILBOXID)")
inbox = re.search(r"MAILBOXID \(([A-Za-z0-9_-]+)\)", u["STATUS"][0]).group(1)
assert inbox != proj

M.append("INBOX", None, None, b"Subject: a\r\n\r\none\r\n")
M.append("INBOX", None, None, b"Subject: a\r\n\r\none\r\n")
typ, dat = M.select("INBOX")
said = M.response("MAILBOXID")[1]
assert said == [("(%s)" % inbox).encode()], ("SELECT says MAILBOXID", said)
typ, dat = M.fetch("1:2", "(EMAILID THREADID)")
ids = [re.search(rb"EMAILID \(([A-Za-z0-9_-]+)\)", d).group(1).decode() for d in dat]
assert all(b"THREADID NIL" in d for d in dat), dat
assert ids[0] != ids[1], ids
typ, dat = M.search(None, "EMAILID", ids[1])
assert dat == [b"2"], dat
typ, dat = M.search(None, "THREADID", "T1")
assert dat == [b""], dat
M.copy("1", "Proj2")
M._simple_command("MOVE", "2", "Proj")
M.select("Proj2")
typ, dat = M.fetch("1", "(EMAILID)")
assert ("EMAILID (%s)" % ids[0]).encode() in dat[0], (dat, ids)
M.select("Proj")
typ, dat = M.fetch("1", "(EMAILID)")
assert ("EMAILID (%s)" % ids[1]).encode() in dat[0], (dat, ids)
"#,
    );
}

/// RFC 3502 §6.3.11: one APPEND with several messages stores them in
/// order, each with its own flags and date, and answers one APPENDUID
/// with their UIDs (RFC 4315 §3); when the whole does not fit the quota,
/// none is stored though each alone would fit.
#[test]
fn rfc3502_multiappend_all_or_nothing() {
    let (data, server) = setup("multiappend", &[]);
    admin(&data.0, &["user", "quota", ALICE, "4K"], "");
    python(
        &server,
        r#"
assert "MULTIAPPEND" in caps, caps
def multi(tag, msgs):
    r = Raw()
    first = True
    for flags, date, body in msgs:
        head = (b"%s APPEND INBOX" % tag) if first else b""
        first = False
        r.send(head + b" " + flags + b" " + date + b"{%d}\r\n" % len(body))
        cont = r.line()
        if not cont.startswith("+"):
            return [cont]
        r.send(body)
    r.send(b"\r\n")
    return r.until(tag + b" ")
m = [(b"(\\Seen)", b"", b"Subject: one\r\n\r\n1\r\n"),
     (b"()", b"\"01-Jan-2020 10:00:00 +0000\" ", b"Subject: two\r\n\r\n2\r\n"),
     (b"(\\Flagged $Work)", b"", b"Subject: three\r\n\r\n3\r\n")]
out = multi(b"a1", m)
assert re.match(r"a1 OK \[APPENDUID \d+ 1:3\]", out[-1]), out
M.select("INBOX")
typ, dat = M.fetch("1:3", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
parts = [x for x in dat if isinstance(x, tuple)]
assert [p[1].strip() for p in parts] == [b"Subject: one", b"Subject: two", b"Subject: three"], dat
assert b'INTERNALDATE "01-Jan-2020 10:00:00 +0000"' in parts[1][0], parts
flags = [re.search(rb"FLAGS \(([^)]*)\)", p[0]).group(1) for p in parts]
assert b"\\Seen" in flags[0] and b"$Work" in flags[2] and b"\\Flagged" in flags[2], flags
big = b"Subject: big\r\n\r\n" + b"b" * 1800 + b"\r\n"
out = multi(b"a2", [(b"()", b"", big), (b"()", b"", big), (b"()", b"", big)])
assert out[-1].startswith("a2 NO [OVERQUOTA]"), out
typ, u, _ = run("STATUS", "INBOX", "(MESSAGES)")
assert u["STATUS"] == ['"INBOX" (MESSAGES 3)'], u
out = multi(b"a3", [(b"()", b"", b"Subject: x\r\n\r\nx\r\n"), (b"(\\Bogus)", b"", b"Subject: y\r\n\r\ny\r\n")])
assert out[-1].startswith("a3 BAD") or out[-1].startswith("a3 NO"), out
typ, u, _ = run("STATUS", "INBOX", "(MESSAGES)")
assert u["STATUS"] == ['"INBOX" (MESSAGES 3)'], u
"#,
    );
}

/// RFC 3501 §6.2.2 with the LOGIN SASL mechanism (draft-murchison-sasl-
/// login, the one SMTP and POP3 offer through the shared SASL exchange):
/// imaplib's authenticate() answers the "Username:" and "Password:"
/// challenges; a wrong password is NO.
#[test]
fn rfc3501_6_2_2_authenticate_login_with_imaplib() {
    let (_data, server) = setup("authlogin", &[]);
    python(
        &server,
        r#"
N = imaplib.IMAP4("127.0.0.1", port)
assert "AUTH=LOGIN" in N.capabilities, N.capabilities
seen = []
def answers(password):
    def step(challenge):
        seen.append(challenge)
        return {b"Username:": b"alice@home.arpa", b"Password:": password}[challenge]
    return step
typ, dat = N.authenticate("LOGIN", answers(b"alice-pw"))
assert typ == "OK" and seen == [b"Username:", b"Password:"], (typ, dat, seen)
assert N.select("INBOX")[0] == "OK"
N.logout()
W = imaplib.IMAP4("127.0.0.1", port)
try:
    W.authenticate("LOGIN", answers(b"wrong"))
    raise SystemExit("a wrong password was taken")
except imaplib.IMAP4.error as e:
    assert "AUTHENTICATIONFAILED" in str(e), e
"#,
    );
}

/// RFC 8970 §3: FETCH PREVIEW gives the first text part decoded, its
/// whitespace folded, at most 256 characters (non-ASCII as a literal);
/// `PREVIEW (LAZY)` gives the same here (§3.2); a message without text
/// previews as "" (§3.1); fetching it does not set \Seen.
#[test]
fn rfc8970_fetch_preview_and_lazy() {
    let (_data, server) = setup("preview", &[]);
    python(
        &server,
        r#"
assert "PREVIEW" in caps, caps
msg = (b"Subject: p\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       + __import__("base64").encodebytes(("Caf\u00e9\n\n  meeting   at " + "x" * 400).encode())
       + b"\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\n")
M.append("INBOX", None, None, msg)
M.append("INBOX", None, None, b"Subject: empty\r\nContent-Type: image/png\r\n\r\nAAAA\r\n")
M.select("INBOX")
typ, dat = M.fetch("1", "(PREVIEW)")
text = dat[0][1].decode()
assert text.startswith("Caf\u00e9 meeting at xxx") and len(text) == 256, (text, len(text))
typ, lazy = M.fetch("1", "(UID PREVIEW (LAZY) FLAGS)")
assert lazy[0][1] == dat[0][1] and b"FLAGS (" in lazy[1] and b"Seen" not in lazy[1], lazy
typ, dat = M.fetch("2", "(PREVIEW)")
assert dat == [b'2 (PREVIEW "")'], dat
try:
    M._simple_command("FETCH", "1", "(PREVIEW (FAST))")
    raise SystemExit("an unknown PREVIEW modifier was taken")
except imaplib.IMAP4.error as e:
    assert "BAD" in str(e), e
"#,
    );
}

/// RFC 6855 §3, §4: after ENABLE UTF8=ACCEPT (imaplib then speaks UTF-8)
/// names go both ways as UTF-8: CREATE, LIST, STATUS, SELECT; before it
/// they are modified UTF-7. `APPEND ... UTF8 (~{n}...)` stores the message
/// after ENABLE and is BAD before it.
#[test]
fn rfc6855_utf8_accept_names_and_append() {
    let (_data, server) = setup("utf8", &[]);
    python(
        &server,
        r#"
assert "UTF8=ACCEPT" in caps, caps
r = Raw()
r.send("u1 CREATE \"R&AOk-union\"\r\n".encode())
assert r.until(b"u1 ")[-1].startswith("u1 OK")
body = "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode()
r.send(b"u2 APPEND INBOX UTF8 (~{%d+}\r\n" % len(body) + body + b")\r\n")
assert r.until(b"u2 ")[-1].startswith("u2 BAD"), "UTF8 needs ENABLE"
typ, dat = M.enable("UTF8=ACCEPT")
assert typ == "OK" and M.utf8_enabled, (typ, dat)
typ, dat = M.list('""', "*")
names = [d.decode("utf-8") for d in dat]
assert any(n.endswith('"R\u00e9union"') for n in names), names
assert not any("&AOk-" in n for n in names), names
assert M.create('"Caf\u00e9 & co"')[0] == "OK"
typ, dat = M.status('"Caf\u00e9 & co"', "(MESSAGES)")
assert typ == "OK" and dat[0].decode("utf-8") == '"Caf\u00e9 & co" (MESSAGES 0)', dat
assert M.select('"R\u00e9union"')[0] == "OK"
r.send(b"u3 ENABLE UTF8=ACCEPT\r\n")
assert r.until(b"u3 ")[-1].startswith("u3 OK")
r.send(b"u4 APPEND \"Caf\xc3\xa9 & co\" UTF8 (~{%d}\r\n" % len(body))
assert r.line().startswith("+")
r.send(body + b")\r\n")
assert r.until(b"u4 ")[-1].startswith("u4 OK [APPENDUID"), "stored"
M.select('"Caf\u00e9 & co"')
typ, dat = M.fetch("1", "(BODY.PEEK[])")
assert dat[0][1] == body, dat
r.send(b"u5 LIST \"\" Caf*\r\n")
assert any("Caf\u00e9 & co" in l for l in r.until(b"u5 ")), "UTF-8 LIST pattern"
"#,
    );
}
