"""IMAP side of tests/migrate.rs, with Python's imaplib (a client that is
neither smolmail's nor Dovecot's).

  seed PORT USER PASSWORD   fills an account: folders, subscriptions, and
                            messages APPENDed with flags, keywords and
                            INTERNALDATEs
  dump PORT USER PASSWORD   prints the account, a line per folder ('/'
                            levels, whatever the server's delimiter):
                            F NAME UIDVALIDITY SUBSCRIBED, and after it a
                            line per message in UID order: M NAME UID
                            FLAGS INTERNALDATE(Unix s) RFC822.SIZE
                            SHA256(BODY[]) LEN(BODY[]), tab-separated
"""

import base64
import calendar
import hashlib
import imaplib
import re
import sys


def mutf7_decode(name):
    def section(m):
        body = m.group(1)
        if body == "":
            return "&"
        body = body.replace(",", "/")
        body += "=" * (-len(body) % 4)
        return base64.b64decode(body).decode("utf-16-be")
    return re.sub(r"&([^-]*)-", section, name)


def mutf7_encode(name):
    out, run = [], ""
    def close():
        nonlocal run
        if run:
            b = base64.b64encode(run.encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            run = ""
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            close()
            out.append("&-" if ch == "&" else ch)
        else:
            run += ch
    close()
    return "".join(out)


def login(port, user, password):
    imap = imaplib.IMAP4("127.0.0.1", int(port))
    imap.login(user, password)
    return imap


def delimiter(imap):
    typ, data = imap.list('""', '""')
    m = re.match(rb'\(.*?\) (NIL|"(.*?)")', data[0])
    return m.group(2).decode() if m.group(2) else "/"


def wire(imap, name):
    """A '/'-levelled UTF-8 name as this server spells it."""
    if name == "INBOX":
        return "INBOX"
    return '"' + mutf7_encode(name.replace("/", delimiter(imap))) + '"'


MESSAGES = {
    "INBOX": [
        ("(\\Seen)", 1),
        ("(\\Seen \\Answered $Forwarded)", 2),
        ("(\\Flagged $Label1 NonJunk)", 3),
        ("()", 4),
        ("(\\Seen \\Deleted)", 5),
        ("(\\Seen $Label1)", 6),
    ],
    "Sent": [("(\\Seen)", 7), ("(\\Seen \\Answered)", 8)],
    "Work": [("(\\Seen)", 9), ("(\\Draft)", 10), ("(NonJunk)", 11)],
    "Work/2024": [("(\\Seen \\Flagged)", 12), ("()", 13)],
    "Entwürfe": [("(\\Draft \\Seen)", 14)],
}
SUBSCRIBED = ["INBOX", "Sent", "Work", "Entwürfe"]


def message(i):
    body = "".join(
        f"line {n} of message {i}: the quick brown fox\r\n" for n in range(3 + i * 7)
    )
    # Lines an mbox must quote, and a header field an mbox uses.
    if i % 3 == 0:
        body += "From the start of a line\r\n>From a quoted one\r\n"
    return (
        f"From: Sender {i} <s{i}@example.org>\r\nTo: me@home.arpa\r\n"
        f"Subject: message {i}\r\nDate: Tue, 14 Nov 2023 10:00:{i:02} +0000\r\n"
        f"Message-ID: <m{i}@example.org>\r\n\r\n{body}"
    ).encode()


def seed(imap):
    for folder in MESSAGES:
        if folder != "INBOX":
            parent = folder.split("/")[0]
            if parent != folder:
                imap.create(wire(imap, parent))
            typ, _ = imap.create(wire(imap, folder))
            assert typ == "OK", folder
    # Dovecot subscribes nothing by itself; smolmail everything it makes.
    for folder in MESSAGES:
        if folder in SUBSCRIBED:
            imap.subscribe(wire(imap, folder))
        else:
            imap.unsubscribe(wire(imap, folder))
    for folder, items in MESSAGES.items():
        for flags, i in items:
            date = f'"{(i % 28) + 1:02d}-Mar-20{10 + i:02d} 1{i % 10}:2{i % 10}:33 +0000"'
            typ, data = imap.append(wire(imap, folder), flags, date, message(i))
            assert typ == "OK", data


def dump(imap):
    sep = delimiter(imap)
    typ, listed = imap.list('""', "*")
    subscribed = set()
    typ, lsub = imap.lsub('""', "*")
    for line in lsub:
        if line:
            subscribed.add(parse_name(line, sep))
    names = sorted(
        parse_name(line, sep)
        for line in listed
        if b"\\Noselect" not in line and b"\\NonExistent" not in line
    )
    for name in names:
        typ, _ = imap.select(wire(imap, name), readonly=True)
        assert typ == "OK", name
        uidvalidity = int(imap.untagged_responses.get("UIDVALIDITY", [b"0"])[-1])
        print(f"F\t{name}\t{uidvalidity}\t{int(name in subscribed)}")
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            uid = int(re.search(rb"UID (\d+)", head).group(1))
            flags = " ".join(sorted(
                f.decode()
                for f in imaplib.ParseFlags(head)
                if f.lower() != b"\\recent"
            ))
            date = calendar.timegm(imaplib.Internaldate2tuple(head))
            size = int(re.search(rb"RFC822.SIZE (\d+)", head).group(1))
            sha = hashlib.sha256(body).hexdigest()[:16]
            print(f"M\t{name}\t{uid}\t{flags}\t{date}\t{size}\t{sha}\t{len(body)}")


def parse_name(line, sep):
    m = re.match(rb'\(.*?\) (?:NIL|"(?:\\.|[^"])*") (.*)$', line)
    raw = m.group(1).decode()
    if raw.startswith('"'):
        raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    name = mutf7_decode(raw)
    return "INBOX" if name.upper() == "INBOX" else name.replace(sep, "/")


if __name__ == "__main__":
    mode, port, user, password = sys.argv[1:5]
    imap = login(port, user, password)
    {"seed": seed, "dump": dump}[mode](imap)
    imap.logout()
