//! SAVEDATE (RFC 8514), CATENATE (RFC 4469) and PARTIAL's FETCH modifier
//! (RFC 9394 §3.3), driven by Python's imaplib: `_simple_command` sends
//! any command, `Raw` speaks the wire by hand where imaplib cannot (a
//! CATENATE's literals).

mod common;

use common::{Server, TempDir, add_user};

const ALICE: &str = "alice@home.arpa";
const ALICE_PW: &str = "alice-pw";

fn setup(name: &str, extra: &[&str]) -> (TempDir, Server) {
    let data = TempDir::new(&format!("imapmore-{name}"));
    add_user(&data.0, ALICE, ALICE_PW);
    let server = Server::start(&data.0, extra);
    (data, server)
}

/// `today` (the server's date, as SAVEDATE searches take it) is set for
/// every script.
fn python(server: &Server, script: &str) -> String {
    common::imap::imaplib_script(
        server,
        &format!("today = time.strftime(\"%d-%b-%Y\", time.gmtime())\n{script}"),
    )
}

/// RFC 8514 §3, §4.1, §4.2: a message appended with an old internal date
/// is saved today; FETCH SAVEDATE says so, a COPY is saved anew (its
/// internal date kept), and SAVEDBEFORE / SAVEDON / SAVEDSINCE compare
/// the save date while BEFORE still compares the internal date;
/// SAVEDATESUPPORTED matches every message.
#[test]
fn rfc8514_savedate_fetch_and_search() {
    let (_data, server) = setup("savedate", &[]);
    python(
        &server,
        r#"
assert "SAVEDATE" in caps, caps
typ, dat = M.append("INBOX", None, '"01-Jan-2001 10:00:00 +0000"', b"Subject: old\r\n\r\nx\r\n")
assert typ == "OK", dat
M.create("Other")
M.select("INBOX")
typ, dat = M.fetch("1", "(INTERNALDATE SAVEDATE)")
line = dat[0].decode()
assert 'INTERNALDATE "01-Jan-2001 10:00:00 +0000"' in line, line
saved = re.search(r'SAVEDATE "([^"]+)"', line).group(1)
assert saved.startswith(today), (saved, today)
for crit, want in [("SAVEDON " + today, b"1"), ("SAVEDSINCE " + today, b"1"),
                   ("SAVEDBEFORE " + today, b""), ("SAVEDBEFORE 1-Jan-2002", b""),
                   ("BEFORE 1-Jan-2002", b"1"), ("SAVEDATESUPPORTED", b"1"),
                   ("NOT SAVEDSINCE 1-Jan-2002", b"")]:
    typ, dat = M.search(None, crit)
    assert typ == "OK" and dat[0] == want, (crit, dat)
typ, dat = M.copy("1", "Other")
assert typ == "OK", dat
M.select("Other")
typ, dat = M.fetch("1", "(INTERNALDATE SAVEDATE)")
line = dat[0].decode()
assert 'INTERNALDATE "01-Jan-2001 10:00:00 +0000"' in line and 'SAVEDATE "01-Jan-2001' not in line, line
typ, dat = M.search(None, "SAVEDON " + today)
assert dat[0] == b"1", dat
"#,
    );
}

/// RFC 9394 §3.3, §3.4: `UID FETCH ... (PARTIAL first:last)` returns the
/// messages at those positions of what the set names, `-1:-2` the last
/// two; with CHANGEDSINCE (in either order) the unchanged ones are left
/// out first and the window taken from the rest; a repeated PARTIAL or a
/// 0 in the range is BAD.
#[test]
fn rfc9394_3_3_partial_fetch_modifier() {
    let (_data, server) = setup("partial", &[]);
    python(
        &server,
        r#"
assert "PARTIAL" in caps, caps
for i in range(5):
    M.append("INBOX", None, None, b"Subject: m%d\r\n\r\nx\r\n" % i)
M.select("INBOX")
def uids(*args):
    typ, u, text = run("UID", "FETCH", *args)
    assert typ == "OK", (args, text)
    return [int(re.search(r"UID (\d+)", l).group(1)) for l in u.get("FETCH", [])]
assert uids("1:*", "(UID)", "(PARTIAL 2:3)") == [2, 3]
assert uids("1:*", "(UID)", "(PARTIAL 3:2)") == [2, 3]
assert uids("1:*", "(UID)", "(PARTIAL -1:-2)") == [4, 5]
assert uids("2:*", "(UID)", "(PARTIAL 1:1)") == [2]
assert uids("1:*", "(UID)", "(PARTIAL 6:9)") == []
typ, u, _ = run("STATUS", "INBOX", "(HIGHESTMODSEQ)")
hm = int(re.search(r"HIGHESTMODSEQ (\d+)", u["STATUS"][0]).group(1))
M.uid("STORE", "2,4", "+FLAGS", "(\\Flagged)")
assert uids("1:*", "(FLAGS)", "(CHANGEDSINCE %d PARTIAL -1:-1)" % hm) == [4]
assert uids("1:*", "(FLAGS)", "(PARTIAL 1:1 CHANGEDSINCE %d)" % hm) == [2]
r = Raw()
r.cmd(b"s SELECT INBOX\r\n")
for bad in [b"b1 UID FETCH 1:* (UID) (PARTIAL 1:2 PARTIAL 3:4)\r\n",
            b"b2 UID FETCH 1:* (UID) (PARTIAL 0:1)\r\n",
            b"b3 UID FETCH 1:* (UID) (PARTIAL -1:2)\r\n",
            b"b4 UID FETCH 1:* (UID) (PARTIAL)\r\n"]:
    lines = r.cmd(bad)
    assert lines[-1].split()[1] == "BAD", lines
"#,
    );
}

/// RFC 4469 §5 with RFC 5092 URLs: APPEND ... CATENATE (URL TEXT URL ...)
/// builds the message from a stored message's header, a new text and a
/// stored part (and `;PARTIAL=` of the whole); within a MULTIAPPEND too
/// (RFC 3502); a URL with a wrong UIDVALIDITY, a missing UID, another
/// user or URLAUTH is `NO [BADURL ...]`, a result over APPENDLIMIT is
/// `NO [TOOBIG]`, one the memory budget cannot hold `NO [UNAVAILABLE]`,
/// and nothing is stored by a refused command.
#[test]
fn rfc4469_5_catenate_append() {
    let (_data, server) = setup(
        "catenate",
        &["--max-message-size", "4K", "--memory-budget", "4K"],
    );
    python(
        &server,
        r#"
assert "CATENATE" in caps, caps
src = (b"From: a@home.arpa\r\nSubject: source\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
       b"--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
       + b"x" * 1200 + b"\r\n--b--\r\n")
typ, dat = M.append("INBOX", None, None, src)
assert typ == "OK", dat
M.create("Drafts")
typ, u, _ = run("STATUS", "INBOX", "(UIDVALIDITY)")
v = int(re.search(r"UIDVALIDITY (\d+)", u["STATUS"][0]).group(1))
r = Raw()
def lit(b):
    return b"{%d+}\r\n" % len(b) + b
text = b"\r\n--new\r\nContent-Type: text/plain\r\n\r\nadded\r\n--new\r\n"
cmd = (b'c1 APPEND Drafts (\\Draft) CATENATE (URL "/INBOX;UIDVALIDITY=%d/;UID=1/;SECTION=HEADER" TEXT ' % v
       + lit(text) + b' URL "imap://alice%40home.arpa@localhost/INBOX/;UID=1/;section=1" TEXT '
       + lit(b"\r\n--new--\r\n") + b")\r\n")
lines = r.cmd(cmd)
assert lines[-1].startswith("c1 OK [APPENDUID "), lines
header = src[:src.index(b"\r\n\r\n") + 4]
want = header + text + b"part one" + b"\r\n--new--\r\n"
typ, dat = M.select("Drafts")
assert dat == [b"1"], (dat, lines)
typ, dat = M.fetch("1", "(FLAGS BODY.PEEK[])")
assert dat[0][1] == want, (dat[0][1], want)
assert b"\\Draft" in dat[0][0], dat
# MULTIAPPEND: a CATENATE with ;PARTIAL= and a plain literal.
lines = r.cmd(b'c2 APPEND Drafts CATENATE (URL "/INBOX/;UID=1/;PARTIAL=0.17" TEXT '
              + lit(b"\r\n\r\nbody\r\n") + b") " + lit(b"Subject: plain\r\n\r\nx\r\n") + b"\r\n")
assert re.match(r"c2 OK \[APPENDUID \d+ 2:3\]", lines[-1]), lines
M.noop()
typ, dat = M.fetch("2", "(BODY.PEEK[])")
assert dat[0][1] == b"From: a@home.arpa\r\n\r\nbody\r\n", dat
bad_urls = [b'/INBOX;UIDVALIDITY=%d/;UID=1' % (v + 1), b"/INBOX/;UID=99", b"/Nope/;UID=1",
            b"imap://bob@localhost/INBOX/;UID=1", b"/INBOX/;UID=1/;SECTION=7",
            b"/INBOX/;UID=1/;URLAUTH=anonymous"]
for i, url in enumerate(bad_urls):
    lines = r.cmd(b'b%d APPEND Drafts CATENATE (TEXT ' % i + lit(b"Subject: x\r\n\r\n")
                  + b' URL "' + url + b'")\r\n')
    assert lines[-1].startswith("b%d NO [BADURL " % i), (url, lines)
lines = r.cmd(b'big APPEND Drafts CATENATE (URL "/INBOX/;UID=1" URL "/INBOX/;UID=1" URL "/INBOX/;UID=1")\r\n')
assert lines[-1].startswith("big NO [TOOBIG]"), lines
lines = r.cmd(b'm3 APPEND Drafts ' + lit(b"Subject: ok\r\n\r\nx\r\n") + b' CATENATE (URL "/INBOX/;UID=99")\r\n')
assert lines[-1].startswith("m3 NO [BADURL"), lines
# The built message is reserved from the memory budget first: with
# another client's literal holding most of it, the CATENATE is refused.
hold = Raw()
hold.send(b"h APPEND INBOX {2000}\r\n")
assert hold.line().startswith("+"), "no continuation"
lines = r.cmd(b'u APPEND Drafts CATENATE (URL "/INBOX/;UID=1")\r\n')
assert lines[-1].startswith("u NO [UNAVAILABLE]"), lines
hold.send(b"Subject: h\r\n\r\n" + b"h" * 1984 + b"\r\n" + b"\r\n")
assert hold.until(b"h ")[-1].startswith("h OK"), "held APPEND failed"
lines = r.cmd(b'u2 APPEND Drafts CATENATE (URL "/INBOX/;UID=1")\r\n')
assert lines[-1].startswith("u2 OK"), lines
typ, u, _ = run("STATUS", "Drafts", "(MESSAGES)")
assert u["STATUS"] == ['"Drafts" (MESSAGES 4)'], u
"#,
    );
}
