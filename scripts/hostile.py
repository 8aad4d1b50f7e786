#!/usr/bin/env python3
"""Hostile load against a release smolmail: each attack of the "Budgets"
section of DESIGN.md, run against a server of its own on 127.0.0.1, and
what it cost the server (peak RSS, CPU seconds, data.mdb growth) and a
legitimate user (login and fetch latency) while it ran.

scripts/hostile.sh builds the release binary and runs this; scripts/test.sh
runs that. Each figure is printed beside its target (what the server is
built to meet) and its failure bound (the target with a wide margin: these
machines are noisy and shared). The run fails only when a failure bound is
broken, or when the server stops answering.

    python3 scripts/hostile.py BIN [SCENARIO ...]

Scenarios: memory, passwords, bytewise, stall, flood, stderr, disk
(default: all; "disk" needs root and a private mount namespace, which
hostile.sh provides with unshare).
"""

import base64
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "hostile-password"
DOMAIN = "home.arpa"
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
# How long the memory attack keeps going (each attacker reconnects).
ATTACK_SECONDS = 10

failures = []


def report(name, value, unit, target, bound, lower_is_better=True):
    """Prints one figure with its target and failure bound; records a failure."""
    ok = value <= bound if lower_is_better else value >= bound
    meets = value <= target if lower_is_better else value >= target
    cmp = "<=" if lower_is_better else ">="
    verdict = "meets target" if meets else ("over target, within bound" if ok else "FAIL")
    print(f"  {name}: {value:.3f} {unit} (target {cmp} {target}, fail beyond {bound}): {verdict}", flush=True)
    if not ok:
        failures.append(f"{name}: {value:.3f} {unit}, bound {bound}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, source="127.0.0.1", timeout=30, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Lines:
    """A line reader over a socket (CRLF lines, bytes)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until_tag(self, tag):
        """Lines up to and including the tagged one; returns the tagged line."""
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line
            literal = line.rstrip().rsplit(b"{", 1)
            if line.endswith(b"}") and len(literal) == 2 and literal[1][:-1].isdigit():
                n = int(literal[1][:-1])
                while len(self.buf) < n:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed by server")
                    self.buf += chunk
                self.buf = self.buf[n:]

    def reply(self):
        """One SMTP reply (the last line of a multi-line one)."""
        while True:
            line = self.line()
            if len(line) < 4 or line[3:4] != b"-":
                return line


class Server:
    """A smolmail serving SMTP, IMAP and POP3 on free loopback ports."""

    def __init__(self, binary, name, data=None, args=(), stderr=None, env=None):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix=f"smolmail-hostile-{name}.")
        self.data = data or os.path.join(self.dir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.log = os.path.join(self.dir, "serve.log")
        self.smtp, self.imap, self.pop3 = free_port(), free_port(), free_port()
        self.args = list(args)
        self.stderr = stderr
        # No login cache: every legitimate login pays its argon2id, the
        # cost an attack competes with (the cache would hide it).
        self.env = dict(os.environ, SMOLMAIL_DATA=self.data, SMOLMAIL_AUTH_CACHE_TTL="0", **(env or {}))
        self.proc = None

    def admin(self, *args, stdin=None):
        out = subprocess.run([self.binary, *args], input=stdin, env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"smolmail {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def add_user(self, name, password=PASSWORD):
        self.admin("user", "add", f"{name}@{DOMAIN}", "--password-stdin", stdin=password + "\n")

    def start(self):
        err = self.stderr if self.stderr is not None else open(self.log, "ab")
        cmd = [self.binary, "serve", "--hostname", "mail.home.arpa", "--log-level", "info",
               "--smtp", f"127.0.0.1:{self.smtp}", "--submission", "off", "--submissions", "off",
               "--imap", f"127.0.0.1:{self.imap}", "--imaps", "off",
               "--pop3", f"127.0.0.1:{self.pop3}", "--pop3s", "off", "--http", "off", "--https", "off", "--metrics", "off", *self.args]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.imap), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.smtp), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"smolmail did not start; log {self.log}")

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def alive(self):
        return self.proc.poll() is None

    def stop(self, keep=False):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep and not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def smtp_send(port, rcpt, body, source="127.0.0.1", timeout=60):
    """Sends one message over SMTP (raw, so that sizes and timing are ours);
    returns the final reply line as text."""
    s = connect(port, source, timeout)
    r = Lines(s)
    try:
        r.reply()
        s.sendall(b"EHLO hostile.example\r\n")
        r.reply()
        s.sendall(f"MAIL FROM:<sender@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        for _ in range(3):
            line = r.reply()
            if not line.startswith((b"250", b"354")):
                return line.decode(errors="replace")
        s.sendall(body)
        s.sendall(b".\r\n")
        final = r.reply().decode(errors="replace")
        s.sendall(b"QUIT\r\n")
        return final
    finally:
        s.close()


def message(size, tag="hostile"):
    """A message of about `size` bytes: headers and 76-character lines."""
    head = f"From: <sender@example.org>\r\nTo: <user@{DOMAIN}>\r\nSubject: {tag}\r\n\r\n".encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def imap_login_fetch(port, user="alice", fetch=True, timeout=60, phases=None):
    """A legitimate session: LOGIN (argon2id), SELECT, FETCH 1 BODY[]; returns
    seconds. `phases` (a list) gets (seconds to the greeting, seconds to log in)."""
    start = time.time()
    s = connect(port, timeout=timeout)
    r = Lines(s)
    try:
        r.line()
        greeted = time.time()
        s.sendall(f'a LOGIN {user}@{DOMAIN} "{PASSWORD}"\r\n'.encode())
        line = r.until_tag(b"a")
        if not line.startswith(b"a OK"):
            raise RuntimeError(f"login refused: {line!r}")
        if phases is not None:
            phases.append((greeted - start, time.time() - greeted))
        if fetch:
            s.sendall(b"b SELECT INBOX\r\nc FETCH 1 BODY.PEEK[]\r\n")
            r.until_tag(b"b")
            line = r.until_tag(b"c")
            if not line.startswith(b"c OK"):
                raise RuntimeError(f"fetch failed: {line!r}")
        s.sendall(b"z LOGOUT\r\n")
        return time.time() - start
    finally:
        s.close()


class Sampler(threading.Thread):
    """Samples the server's VmRSS every 20 ms; the peak is kept."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.peak, self.running = server, 0, True

    def run(self):
        while self.running and self.server.alive():
            self.peak = max(self.peak, self.server.status("VmRSS"))
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.join()
        return self.peak


class Legit(threading.Thread):
    """A legitimate user logging in and fetching, again and again, while an
    attack runs; every session's time is kept."""

    def __init__(self, port, fetch=True):
        super().__init__(daemon=True)
        self.port, self.fetch, self.times, self.errors, self.running = port, fetch, [], [], True
        self.phases = []

    def run(self):
        while self.running:
            try:
                self.times.append(imap_login_fetch(self.port, fetch=self.fetch, timeout=30, phases=self.phases))
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.errors.append(str(e))
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.join()
        return self.times


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


# --- scenarios -----------------------------------------------------------------


def scenario_memory(binary):
    print("memory: 60 IMAP connections announce a 25 MB LOGIN literal and 20 SMTP "
          f"connections each send a 25 MB message, at once, again and again for {ATTACK_SECONDS} s",
          flush=True)
    srv = Server(binary, "memory")
    srv.add_user("alice")
    srv.start()
    try:
        assert smtp_send(srv.smtp, f"alice@{DOMAIN}", message(2000, "first")).startswith("250")
        base = srv.status("VmRSS")
        sampler = Sampler(srv)
        sampler.start()
        outcome = {"imap_plus": 0, "imap_no": 0, "imap_closed": 0, "smtp": {}}
        lock = threading.Lock()
        big = 25_000_000

        def imap_attacker(source):
            while time.time() < until:
                imap_attack_once(source)

        def imap_attack_once(source):
            try:
                s = connect(srv.imap, source, timeout=60)
                r = Lines(s)
                r.line()
                s.sendall(f"a LOGIN {{{big}}}\r\n".encode())
                line = r.line()
                if line.startswith(b"+"):
                    with lock:
                        outcome["imap_plus"] += 1
                    chunk = b"p" * 65536
                    for _ in range(big // len(chunk)):
                        s.sendall(chunk)
                else:
                    with lock:
                        outcome["imap_no"] += 1
                s.close()
            except OSError:
                with lock:
                    outcome["imap_closed"] += 1

        body = message(big, "big")

        def smtp_attacker(source):
            while time.time() < until:
                smtp_attack_once(source)

        def smtp_attack_once(source):
            try:
                code = smtp_send(srv.smtp, f"alice@{DOMAIN}", body, source, timeout=120)[:9]
            except OSError as e:
                code = type(e).__name__
            with lock:
                outcome["smtp"][code] = outcome["smtp"].get(code, 0) + 1

        threads = [threading.Thread(target=imap_attacker, args=(f"127.0.0.{2 + i // 15}",)) for i in range(60)]
        threads += [threading.Thread(target=smtp_attacker, args=(f"127.0.1.{1 + i // 5}",)) for i in range(20)]
        legit = Legit(srv.imap)
        started = time.time()
        until = started + ATTACK_SECONDS  # each attacker starts again until then
        for t in threads:
            t.start()
        time.sleep(0.5)
        legit.start()
        for t in threads:
            t.join()
        times = legit.stop()
        took = time.time() - started
        peak = sampler.stop()
        print(f"  attack took {took:.1f} s; IMAP literal answers: {outcome['imap_plus']} '+', "
              f"{outcome['imap_no']} refused, {outcome['imap_closed']} closed; "
              f"SMTP replies: {outcome['smtp']}; RSS before {base / 1024:.1f} MiB", flush=True)
        report("peak RSS during the attack", peak / 1024, "MiB", 128, 256)
        if legit.errors:
            print(f"  legitimate sessions that failed: {legit.errors[:3]}")
            failures.append(f"memory: {len(legit.errors)} legitimate sessions failed")
        print(f"  legitimate login+fetch sessions during the attack: {len(times)}, median {median(times):.3f} s "
              f"(greeting after {median([p[0] for p in legit.phases]):.3f} s, "
              f"login {median([p[1] for p in legit.phases]):.3f} s)")
        report("slowest legitimate login+fetch", max(times) if times else 99.0, "s", 2, 10)
    finally:
        srv.stop()


def sha512_crypt(password):
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True,
                         text=True, check=True)
    return "{SHA512-CRYPT}" + out.stdout.strip()


def scenario_passwords(binary):
    print("passwords: two clients try 64 KiB passwords (then the longest accepted) "
          "against a SHA512-CRYPT user while another user logs in", flush=True)
    srv = Server(binary, "passwords")
    srv.add_user("alice")
    users = os.path.join(srv.dir, "users")
    with open(users, "w") as f:
        f.write(f"old@{DOMAIN}:{sha512_crypt('old-password')}:::\n")
    srv.admin("user", "import-passwd", users)
    srv.start()
    try:
        baseline = [imap_login_fetch(srv.imap, fetch=False) for _ in range(5)]
        stop = threading.Event()
        attempts = {"sent": 0, "answers": {}}
        lock = threading.Lock()

        def attacker(source, length):
            while not stop.is_set():
                try:
                    s = connect(srv.imap, source, timeout=30)
                    r = Lines(s)
                    r.line()
                    password = "p" * length
                    # A literal as a client would send it; over the pre-login
                    # literal cap the server answers without a '+'.
                    s.sendall(f"a LOGIN old@{DOMAIN} {{{length}}}\r\n".encode())
                    line = r.line()
                    if line.startswith(b"+"):
                        s.sendall(password.encode() + b"\r\n")
                        line = r.until_tag(b"a")
                    s.close()
                    key = line.split(b" ", 2)[1].decode(errors="replace") if b" " in line else "?"
                except OSError as e:
                    key = type(e).__name__
                with lock:
                    attempts["sent"] += 1
                    attempts["answers"][key] = attempts["answers"].get(key, 0) + 1

        threads = [threading.Thread(target=attacker, args=(f"127.0.4.{i + 1}", n), daemon=True)
                   for i, n in enumerate([65536, 65536, 1024, 1024])]
        for t in threads:
            t.start()
        time.sleep(0.5)
        during = [imap_login_fetch(srv.imap, fetch=False) for _ in range(10)]
        stop.set()
        for t in threads:
            t.join(60)
        print(f"  attempts: {attempts['sent']}, answers {attempts['answers']}; other user's login "
              f"median {median(baseline):.3f} s before, {median(during):.3f} s during", flush=True)
        report("added delay of another user's login (slowest during - median before)",
               max(during) - median(baseline), "s", 1, 5)
    finally:
        srv.stop()


def scenario_bytewise(binary):
    print("bytewise: a 64 KiB command line sent one byte per write, 100 us apart "
          "(IMAP logged in, where lines may be that long; SMTP and POP3 before login)", flush=True)
    srv = Server(binary, "bytewise")
    srv.add_user("alice")
    srv.start()
    try:
        for proto, port in [("IMAP", srv.imap), ("SMTP", srv.smtp), ("POP3", srv.pop3)]:
            s = connect(port)
            r = Lines(s)
            r.line()
            if proto == "IMAP":
                s.sendall(f'a LOGIN alice@{DOMAIN} "{PASSWORD}"\r\n'.encode())
                r.until_tag(b"a")
            before, started = srv.cpu_seconds(), time.time()
            sent = 0
            try:
                for _ in range(65536):
                    s.send(b"a")
                    sent += 1
                    time.sleep(0.0001)
                # The end of the line and a command whose answer says the
                # server has read all of it.
                s.sendall(b"\r\nNOOP\r\n")
                answers = [r.line() for _ in range(2)]
            except OSError as e:
                answers = [f"connection ended: {type(e).__name__}".encode()]
            cost = srv.cpu_seconds() - before
            s.close()
            print(f"  {proto}: {sent} bytes in {time.time() - started:.1f} s; answers "
                  f"{[a[:40].decode(errors='replace') for a in answers]}", flush=True)
            report(f"{proto} server CPU for the bytewise line", cost * 1000, "ms", 50, 500)
    finally:
        srv.stop()


def scenario_stall(binary):
    print("stall: a client stops reading in the middle of FETCH 1:* BODY[] over 100 MB "
          "while 1000 messages are delivered", flush=True)
    srv = Server(binary, "stall")
    srv.add_user("alice")
    srv.add_user("bob")
    srv.start()
    try:
        big = message(1_000_000, "big")
        for _ in range(100):
            assert smtp_send(srv.smtp, f"bob@{DOMAIN}", big).startswith("250")
        s = connect(srv.imap, rcvbuf=4096, timeout=60)
        r = Lines(s)
        r.line()
        s.sendall(f'a LOGIN bob@{DOMAIN} "{PASSWORD}"\r\nb SELECT INBOX\r\n'.encode())
        r.until_tag(b"a")
        r.until_tag(b"b")
        s.sendall(b"c FETCH 1:* BODY[]\r\n")
        s.recv(4096)  # the first bytes of the answer, then nothing more
        small = message(10_000, "small")
        start = time.time()
        for _ in range(1000):
            assert smtp_send(srv.smtp, f"alice@{DOMAIN}", small).startswith("250")
        took = time.time() - start
        size = os.path.getsize(os.path.join(srv.data, "data.mdb"))
        copy = os.path.join(srv.dir, "copy")
        srv.admin("backup", copy)
        need = os.path.getsize(os.path.join(copy, "data.mdb"))
        s.close()
        print(f"  1000 deliveries took {took:.1f} s; data.mdb {size / MIB:.1f} MiB, "
              f"a compacted copy {need / MIB:.1f} MiB", flush=True)
        report("data.mdb over what its messages need", (size / need - 1) * 100, "%", 10, 50)
    finally:
        srv.stop()


def scenario_flood(binary):
    print("flood: 50 addresses x 20 idle connections to port 25, then IMAP logins", flush=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = Server(binary, "flood")
    srv.add_user("alice")
    srv.start()
    held = []
    try:
        assert smtp_send(srv.smtp, f"alice@{DOMAIN}", message(2000, "first")).startswith("250")
        greeted = refused = 0
        for a in range(50):
            for _ in range(20):
                try:
                    s = connect(srv.smtp, f"127.0.5.{a + 1}", timeout=10)
                    held.append(s)
                    line = Lines(s).line()
                    greeted += line.startswith(b"220")
                    refused += not line.startswith(b"220")
                except OSError:
                    refused += 1
        print(f"  port 25: {greeted} connections greeted and held, {refused} refused", flush=True)
        times, errors = [], []
        for _ in range(5):
            try:
                times.append(imap_login_fetch(srv.imap, timeout=10))
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))
        print(f"  IMAP sessions during the flood: {len(times)} worked, {len(errors)} failed {errors[:2]}")
        report("IMAP sessions that worked during the flood", len(times), "of 5", 5, 5, lower_is_better=False)
    finally:
        for s in held:
            s.close()
        srv.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def scenario_stderr(binary):
    print("stderr: the server's stderr is a pipe nobody reads; 3000 sessions are logged", flush=True)
    r, w = os.pipe()  # r is kept open and never read
    srv = Server(binary, "stderr", stderr=w)
    srv.add_user("alice")
    srv.start()
    os.close(w)
    try:
        assert smtp_send(srv.smtp, f"alice@{DOMAIN}", message(2000, "first")).startswith("250")
        done = 0
        stalled = None
        for i in range(3000):
            try:
                s = connect(srv.smtp, f"127.0.6.{1 + i % 200}", timeout=5)
                Lines(s).line()
                s.sendall(b"BOGUS\r\nQUIT\r\n")
                s.close()
                done += 1
            except OSError as e:
                stalled = f"session {i}: {type(e).__name__}"
                break
        print(f"  {done} logged sessions went through" + (f"; stalled at {stalled}" if stalled else ""), flush=True)
        answered = 0
        for _ in range(3):
            try:
                smtp_ok = smtp_send(srv.smtp, f"alice@{DOMAIN}", message(2000), timeout=5).startswith("250")
                imap_login_fetch(srv.imap, timeout=5)
                answered += smtp_ok
            except Exception as e:  # noqa: BLE001
                print(f"  no answer: {e}")
        report("SMTP+IMAP rounds answered with stderr unread", answered, "of 3", 3, 3, lower_is_better=False)
    finally:
        srv.stop()
        os.close(r)


def scenario_disk(binary):
    print("disk: the data file system fills up, then space is freed", flush=True)
    if os.geteuid() != 0:
        print("  not root: cannot mount a small file system; not run")
        failures.append("disk: not run (needs root, as scripts/hostile.sh under scripts/test.sh runs it)")
        return
    srv = Server(binary, "disk")
    mount = os.path.join(srv.dir, "fs")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", mount], check=True)
    srv.data = os.path.join(mount, "data")
    srv.env["SMOLMAIL_DATA"] = srv.data
    os.makedirs(srv.data)
    try:
        srv.add_user("alice")
        srv.start()
        accepted = 0
        for i in range(20):
            accepted += smtp_send(srv.smtp, f"alice@{DOMAIN}", message(20_000, f"before {i}")).startswith("250")
        filler = os.path.join(mount, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        full = [smtp_send(srv.smtp, f"alice@{DOMAIN}", message(1_000_000, f"full {i}")) for i in range(5)]
        print(f"  with the disk full: {sorted(set(x[:9] for x in full))}", flush=True)
        temp = sum(x.startswith("452 4.3.1") for x in full)
        report("full-disk answers that were 452 4.3.1", temp, "of 5", 5, 5, lower_is_better=False)
        os.unlink(filler)
        after = smtp_send(srv.smtp, f"alice@{DOMAIN}", message(1_000_000, "after"))
        print(f"  with space freed: {after[:40]}")
        accepted += after.startswith("250")
        s = connect(srv.imap)
        r = Lines(s)
        r.line()
        s.sendall(f'a LOGIN alice@{DOMAIN} "{PASSWORD}"\r\nb STATUS INBOX (MESSAGES)\r\n'.encode())
        r.until_tag(b"a")
        status = r.line()
        s.close()
        count = int(status.rsplit(b"MESSAGES ", 1)[1].rstrip(b")"))
        print(f"  accepted {accepted}, mailbox holds {count}; server alive: {srv.alive()}")
        report("accepted messages present after the disk was freed", count, f"of {accepted}", accepted, accepted,
               lower_is_better=False)
        report("mail taken after space was freed", int(after.startswith("250")), "of 1", 1, 1,
               lower_is_better=False)
        with open(srv.log, errors="replace") as f:
            errors = sum(" ERROR]" in line for line in f)
        print(f"  error lines logged: {errors} (one is expected: the store is full)")
        report("error lines logged for 5 refused messages", errors, "lines", 1, 2)
    finally:
        srv.stop(keep=True)
        subprocess.run(["umount", mount], check=False)
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(srv.dir, ignore_errors=True)


SCENARIOS = {
    "memory": scenario_memory,
    "passwords": scenario_passwords,
    "bytewise": scenario_bytewise,
    "stall": scenario_stall,
    "flood": scenario_flood,
    "stderr": scenario_stderr,
    "disk": scenario_disk,
}


def main():
    binary, names = sys.argv[1], sys.argv[2:] or list(SCENARIOS)
    for name in names:
        start = time.time()
        try:
            SCENARIOS[name](binary)
        except Exception as e:  # noqa: BLE001 - a scenario that breaks is a failure, reported
            print(f"  {name}: broke: {type(e).__name__}: {e}", flush=True)
            failures.append(f"{name}: {e}")
        print(f"  ({name}: {time.time() - start:.1f} s)\n", flush=True)
    if failures:
        print("hostile: bounds broken:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("hostile: every bound held")


if __name__ == "__main__":
    main()
