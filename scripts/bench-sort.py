"""Times SORT and THREAD over a large mailbox, and what another session
waits for a NOOP meanwhile (scripts/bench-sort.sh runs it against
smolmail and Dovecot).

  bench-sort.py populate PORT USER PASSWORD COUNT
  bench-sort.py time PORT USER PASSWORD LABEL

populate APPENDs COUNT messages with LITERAL+ (pipelined, so the load
is the server's, not this script's): threads of one to eight messages
linked by References, subjects with Re:, varied senders and dates.
time runs each command 3 times and prints the best, and the worst NOOP
latency a second session saw while the commands ran."""

import random, socket, sys, threading, time

COMMANDS = [
    "SORT (ARRIVAL) UTF-8 ALL",
    "SORT (DATE) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (FROM) UTF-8 ALL",
    "SORT (SIZE) UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
]

class Conn:
    def __init__(self, port, user, password):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()
        self.cmd("LOGIN %s %s" % (user, password))
        self.cmd("SELECT INBOX")

    def cmd(self, line):
        self.n += 1
        tag = "t%d" % self.n
        self.s.sendall(("%s %s\r\n" % (tag, line)).encode())
        while True:
            got = self.f.readline()
            if not got:
                raise SystemExit("connection closed during " + line)
            if got.startswith(tag.encode() + b" "):
                if not got.startswith(tag.encode() + b" OK"):
                    raise SystemExit("%s: %r" % (line, got))
                return

def message(rng, i, thread_root, depth):
    words = ["lunch", "report", "holiday", "invoice", "garden", "meeting", "photos", "weekend"]
    subject = "%s %s %d" % (rng.choice(words), rng.choice(words), thread_root)
    refs = ""
    if depth:
        subject = "Re: " + subject
        refs = "References: %s\r\n" % " ".join("<t%d.%d@bench>" % (thread_root, d) for d in range(depth))
    body = (" ".join(rng.choice(words) for _ in range(rng.randint(20, 400))) + "\r\n")
    return ("From: Friend %d <friend%d@example.org>\r\nTo: bench@home.arpa\r\n"
            "Subject: %s\r\nDate: %s\r\nMessage-ID: <t%d.%d@bench>\r\n%s\r\n%s" % (
                rng.randint(0, 500), rng.randint(0, 500), subject,
                time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(1.7e9 + rng.randint(0, 3e7))),
                thread_root, depth, refs, body)).encode()

def populate(port, user, password, count):
    c = Conn(port, user, password)
    rng = random.Random(5256)
    start = time.monotonic()
    i = 0
    batch = 500
    while i < count:
        out = []
        tags = 0
        while tags < batch and i < count:
            root, size = i, rng.randint(1, 8)
            for depth in range(min(size, count - i)):
                raw = message(rng, i, root, depth)
                c.n += 1
                out.append(b"p%d APPEND INBOX {%d+}\r\n" % (c.n, len(raw)) + raw + b"\r\n")
                i += 1
                tags += 1
        c.s.sendall(b"".join(out))
        seen = 0
        while seen < tags:
            line = c.f.readline()
            if line.startswith(b"p"):
                if b" OK" not in line:
                    raise SystemExit("APPEND failed: %r" % line)
                seen += 1
    print("populate: %d messages in %.1f s" % (count, time.monotonic() - start))

def timed(port, user, password, label):
    c = Conn(port, user, password)
    other = Conn(port, user, password)
    worst = [0.0]
    stop = threading.Event()
    def noop():
        while not stop.is_set():
            t = time.monotonic()
            other.cmd("NOOP")
            worst[0] = max(worst[0], time.monotonic() - t)
            time.sleep(0.01)
    c.cmd("NOOP")
    t = threading.Thread(target=noop)
    t.start()
    for command in COMMANDS:
        runs = []
        for _ in range(3):
            s = time.monotonic()
            c.cmd(command)
            runs.append(time.monotonic() - s)
        print("%s: %-30s first %.3f s, best %.3f s" % (label, command, runs[0], min(runs)))
    stop.set()
    t.join()
    print("%s: worst NOOP latency of another session meanwhile: %.3f s" % (label, worst[0]))

if __name__ == "__main__":
    mode, port, user, password, extra = sys.argv[1:6]
    if mode == "populate":
        populate(port, user, password, int(extra))
    else:
        timed(port, user, password, extra)
