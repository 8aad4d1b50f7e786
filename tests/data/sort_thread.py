"""SORT, THREAD and ESEARCH asked of smolmail and of Dovecot through
Python's imaplib (which has .sort() and .thread()), over one corpus
appended to both in the same order; prints every answer that differs
and exits 1 if any does.  Usage: sort_thread.py PORT_A USER_A PASS_A
PORT_B USER_B PASS_B"""

import imaplib, re, sys, time

def corpus():
    """Messages that exercise RFC 5256: reply/forward markers and list
    tags in subjects, missing and odd dates, display names, threads by
    References and by In-Reply-To only, missing parents, duplicates."""
    msgs = []
    def add(subject, date, frm, to, cc, mid, refs=None, irt=None, body="x"):
        h = []
        if frm: h.append("From: " + frm)
        if to: h.append("To: " + to)
        if cc: h.append("Cc: " + cc)
        if subject is not None: h.append("Subject: " + subject)
        if date: h.append("Date: " + date)
        if mid: h.append("Message-ID: <%s>" % mid)
        if refs: h.append("References: " + " ".join("<%s>" % r for r in refs))
        if irt: h.append("In-Reply-To: <%s>" % irt)
        msgs.append(("\r\n".join(h) + "\r\n\r\n" + body + "\r\n").encode())
    add("Hello world", "Mon, 1 Jan 2024 10:00:00 +0000", "Alice <alice@a.example>", "bob@b.example", None, "m1@x")
    add("Re: Hello world", "Mon, 1 Jan 2024 11:00:00 +0000", "bob@b.example", "Alice <alice@a.example>", "carol@c.example", "m2@x", ["m1@x"], "m1@x", "longer body " * 10)
    add("RE: [list] Hello world", "Mon, 1 Jan 2024 09:00:00 -0500", "\"Carol C\" <carol@c.example>", "list@l.example", None, "m3@x", ["m1@x", "m2@x"])
    add("Fwd: Hello world (fwd)", "Tue, 2 Jan 2024 08:00:00 +0100", "dave@d.example", "Eve <eve@e.example>", None, "m4@x")
    add("[fwd: Another topic]", "Wed, 3 Jan 2024 08:00:00 +0000", "=?utf-8?q?Zo=C3=AB?= <zoe@z.example>", "alice@a.example", "bob@b.example", "m5@x")
    add("Another topic", "Wed, 3 Jan 2024 07:00:00 +0000", "erin@e.example", None, None, "m6@x")
    add("Re: Missing parent", "Thu, 4 Jan 2024 12:00:00 +0000", "frank@f.example", "g@g.example", None, "m7@x", ["gone@x"])
    add("Re: Missing parent", "Thu, 4 Jan 2024 13:00:00 +0000", "gina@g.example", "f@f.example", None, "m8@x", ["gone@x"])
    add("Only irt", "Fri, 5 Jan 2024 12:00:00 +0000", "hank@h.example", "i@i.example", None, "m9@x", None, "m6@x")
    add(None, None, "nodate@n.example", None, None, None)
    add("", "Sat, 6 Jan 2024 00:00:00 +0000", None, None, None, "m11@x")
    add("Hello world", "Sun, 7 Jan 2024 10:00:00 +0000", "Ivan <ivan@i.example>", "jane@j.example", None, "m12@x")
    add("Re: Re: re: Hello world", "Sun, 7 Jan 2024 11:00:00 +0000", "jane@j.example", "ivan@i.example", None, "m13@x", ["m12@x"])
    add("Same date", "Mon, 8 Jan 2024 10:00:00 +0000", "kim@k.example", "x@x.example", None, "m14@x")
    add("same DATE", "Mon, 8 Jan 2024 10:00:00 +0000", "Lee <lee@l.example>", "y@y.example", None, "m15@x")
    add("Deep", "Tue, 9 Jan 2024 10:00:00 +0000", "a@a.example", None, None, "d1@x")
    add("Re: Deep", "Tue, 9 Jan 2024 10:01:00 +0000", "b@a.example", None, None, "d2@x", ["d1@x"])
    add("Re: Deep", "Tue, 9 Jan 2024 10:02:00 +0000", "c@a.example", None, None, "d3@x", ["d1@x", "d2@x"])
    add("Re: Deep", "Tue, 9 Jan 2024 10:03:00 +0000", "d@a.example", None, None, "d4@x", ["d1@x", "d2@x"])
    add("Late reply", "Wed, 10 Jan 2024 10:00:00 +0000", "m@m.example", None, None, "m20@x", ["m6@x"])
    add("Dup id", "Wed, 10 Jan 2024 11:00:00 +0000", "n@n.example", None, None, "m1@x")
    add("Re: Loop", "Wed, 10 Jan 2024 12:00:00 +0000", "o@o.example", None, None, "l1@x", ["l2@x"])
    add("Re: Loop", "Wed, 10 Jan 2024 13:00:00 +0000", "p@p.example", None, None, "l2@x", ["l1@x"])
    add("bad date", "not a date at all", "q@q.example", "Z Last <z@z.example>", None, "m24@x")
    return msgs

COMMANDS = [
    ("sort", "(ARRIVAL)", "ALL"), ("sort", "(DATE)", "ALL"), ("sort", "(SUBJECT)", "ALL"),
    ("sort", "(FROM)", "ALL"), ("sort", "(TO)", "ALL"), ("sort", "(CC)", "ALL"),
    ("sort", "(SIZE)", "ALL"), ("sort", "(DISPLAYFROM)", "ALL"), ("sort", "(DISPLAYTO)", "ALL"),
    ("sort", "(REVERSE SUBJECT DATE)", "ALL"), ("sort", "(REVERSE ARRIVAL)", "ALL"),
    ("sort", "(SUBJECT REVERSE SIZE)", "ALL"), ("sort", "(DATE)", "SUBJECT hello"),
    ("sort", "(FROM)", "UNSEEN"), ("uid sort", "(SUBJECT)", "UID 3:12"),
    ("thread", "ORDEREDSUBJECT", "ALL"), ("thread", "REFERENCES", "ALL"),
    ("thread", "REFS", "ALL"), ("uid thread", "REFERENCES", "NOT SUBJECT deep"),
    ("thread", "REFERENCES", "SUBJECT nothing-matches"),
    ("search", "RETURN (MIN MAX COUNT ALL)", "ALL"), ("search", "RETURN ()", "SUBJECT hello"),
    ("search", "RETURN (COUNT)", "SUBJECT nothing-matches"),
    ("uid search", "RETURN (MIN MAX)", "FROM example"),
    ("sort", "RETURN (ALL COUNT MIN MAX) (SUBJECT)", "ALL"),
]

def connect(port, user, password, msgs, internal):
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.login(user, password)
    for name in ["INBOX"]:
        m.select(name)
        typ, data = m.search(None, "ALL")
        if data[0]:
            m.store("1:*", "+FLAGS", "\\Deleted")
            m.expunge()
    for i, raw in enumerate(msgs):
        flags = "(\\Seen)" if i % 3 == 0 else None
        typ, _ = m.append("INBOX", flags, imaplib.Time2Internaldate(internal + i * 3600), raw)
        assert typ == "OK", typ
    m.select("INBOX")
    return m

def ask(m, cmd):
    verb, a, b = cmd
    if verb == "sort":
        if a.startswith("RETURN"):
            typ, data = m._simple_command("SORT", a, "UTF-8", b)
            return typ, m._untagged_response(typ, data, "ESEARCH")[1]
        return m.sort(a, "UTF-8", b)
    if verb == "uid sort":
        return m.uid("SORT", a, "UTF-8", b)
    if verb == "thread":
        return m.thread(a, "UTF-8", b)
    if verb == "uid thread":
        return m.uid("THREAD", a, "UTF-8", b)
    if verb == "search":
        typ, data = m._simple_command("SEARCH", a, b)
        return typ, m._untagged_response(typ, data, "ESEARCH")[1]
    if verb == "uid search":
        typ, data = m._simple_command("UID", "SEARCH", a, b)
        return typ, m._untagged_response(typ, data, "ESEARCH")[1]
    raise ValueError(verb)

def norm(answer):
    typ, data = answer
    text = [d.decode() if isinstance(d, bytes) else str(d) for d in (data or [])]
    # The TAG of an ESEARCH names each client's own command.
    return typ, [re.sub(r'\(TAG "[^"]*"\) ?', "", t) for t in text]

def main():
    a = sys.argv[1:4]
    b = sys.argv[4:7]
    msgs = corpus()
    internal = time.mktime((2024, 2, 1, 0, 0, 0, 0, 0, 0))
    ma = connect(*a, msgs, internal)
    mb = connect(*b, msgs, internal)
    differ = 0
    for cmd in COMMANDS:
        ra, rb = norm(ask(ma, cmd)), norm(ask(mb, cmd))
        same = ra == rb
        print("%s %s %s %s\n  smolmail: %s\n  dovecot:  %s" % ("same" if same else "DIFFERS", *cmd, ra, rb))
        differ += not same
    # RFC 9394 PARTIAL, which Dovecot 2.3 lacks: smolmail's own answers.
    for cmd, want in [
        (("search", "RETURN (PARTIAL 1:3 COUNT)", "ALL"), ["PARTIAL (1:3 1:3) COUNT 24"]),
        (("uid search", "RETURN (PARTIAL -1:-2)", "ALL"), ["UID PARTIAL (-1:-2 23:24)"]),
        (("sort", "RETURN (PARTIAL 1:4) (SUBJECT)", "ALL"), ["PARTIAL (1:4 10:11,5:6)"]),
        (("search", "RETURN (PARTIAL 30:40)", "ALL"), ["PARTIAL (30:40 NIL)"]),
    ]:
        got = norm(ask(ma, cmd))
        ok = got == ("OK", want)
        print("%s %s %s %s\n  smolmail: %s\n  expected: %s" % ("same" if ok else "DIFFERS", *cmd, got, want))
        differ += not ok
    ma.logout()
    mb.logout()
    sys.exit(1 if differ else 0)

main()
