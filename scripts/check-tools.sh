#!/usr/bin/env bash
# Proves that every outside program the tests, benchmarks and image build run
# is present and can do what they ask of it (TLS above all), before any test
# starts. A package installed with --no-install-recommends can be there and
# still lack what a test needs: swaks without Net::SSLeay cannot start TLS,
# which is how a green run once hid a broken fresh machine.
#
# Each problem is one line: what is missing, and the Debian package (or the
# command) that brings it; then it stops. scripts/setup.sh installs them all.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=0
# need DESCRIPTION PACKAGE COMMAND...: runs COMMAND quietly; on failure, one
# line naming what is missing and where it comes from.
need() {
  local what=$1 package=$2
  shift 2
  if ! "$@" >/dev/null 2>&1; then
    echo "check-tools: MISSING $what (install: $package)" >&2
    failed=1
  fi
}
# has PATTERN COMMAND...: true when what COMMAND prints contains PATTERN,
# whatever its exit status (fetchmail --version exits 1).
has() {
  local pattern=$1 out
  shift
  out=$("$@" 2>&1)
  grep -qF -- "$pattern" <<<"$out"
}

# Build and cross build.
need "a C compiler (LMDB, ring)" build-essential cc --version
need "promtool check metrics (tests/metrics.rs)" prometheus \
  sh -c 'printf "# HELP t_total t\n# TYPE t_total counter\nt_total 1\n" | promtool check metrics'
need "the aarch64 cross compiler" gcc-aarch64-linux-gnu aarch64-linux-gnu-gcc --version
need "musl headers for arm64" musl-dev:arm64 test -e /usr/lib/aarch64-linux-musl/crt1.o
need "the aarch64 Rust target" "rustup target add aarch64-unknown-linux-musl" \
  has aarch64-unknown-linux-musl rustup target list --installed
need "rustfmt" "rustup component add rustfmt" cargo fmt --version
need "clippy" "rustup component add clippy" cargo clippy --version
need "qemu-user for aarch64 tests" qemu-user-static qemu-aarch64-static --version

# Test plumbing.
need "file (proves the binary static)" file file --version
need "openssl (test certificates)" openssl openssl version
need "ip (test network namespaces)" iproute2 ip -V
need "unshare, setpriv, losetup" util-linux sh -c 'command -v unshare && command -v setpriv && command -v losetup'
need "ps and pkill" procps sh -c 'command -v ps && command -v pkill'

# SMTP clients and peers.
need "swaks" swaks swaks --version
need "swaks with TLS (Net::SSLeay)" libnet-ssleay-perl perl -MNet::SSLeay -e1
need "swaks with TLS (IO::Socket::SSL)" libio-socket-ssl-perl perl -MIO::Socket::SSL -e1
need "swaks with AUTH (Authen::SASL)" libauthen-sasl-perl perl -MAuthen::SASL -e1
need "swaks able to start TLS" "libnet-ssleay-perl libio-socket-ssl-perl" has "=== TLS supported" swaks --support
need "swaks able to authenticate" libauthen-sasl-perl has "=== Basic AUTH supported" swaks --support
need "msmtp with TLS and AUTH PLAIN" msmtp sh -c 'msmtp --version | grep -q "^TLS/SSL library: GnuTLS" && msmtp --version | grep -A1 "^Supported authentication" | grep -qw plain'
need "python3 with smtplib, imaplib, poplib and ssl" python3 \
  python3 -c 'import smtplib, imaplib, poplib, ssl; ssl.create_default_context()'
need "IMAPClient (PyPI, in target/pydeps)" "scripts/setup.sh (pip install imapclient)" \
  env PYTHONPATH=target/pydeps python3 -c 'import imapclient'
need "dnslib (PyPI, in target/pydeps)" "scripts/setup.sh (pip install dnslib)" \
  env PYTHONPATH=target/pydeps python3 -c 'import dnslib; dnslib.RR.fromZone("a. 1 IN MX 10 b.")'
need "imapflow (npm, in target/nodedeps)" "scripts/setup.sh (npm install imapflow)" \
  node -e 'require("./target/nodedeps/node_modules/imapflow")'
# mailauth as tests/dkim.rs runs it: `report --dns-cache` on Ed25519-signed
# mail (signed here by mailauth itself with a throwaway key) says pass.
need "mailauth (npm, in target/nodedeps) verifying Ed25519 DKIM from a DNS file" \
  "scripts/setup.sh (npm install mailauth)" sh -c '
    d=$(mktemp -d) && trap "rm -rf $d" EXIT && m=target/nodedeps/node_modules/mailauth/bin/mailauth.js &&
    openssl genpkey -algorithm ed25519 -out "$d/k.pem" &&
    p=$(openssl pkey -in "$d/k.pem" -pubout -outform DER | tail -c 32 | base64) &&
    printf "{\"s._domainkey.x.test\":{\"TXT\":[[\"v=DKIM1; k=ed25519; p=%s\"]]}}" "$p" >"$d/dns.json" &&
    printf "From: a@x.test\r\nSubject: t\r\n\r\nt\r\n" >"$d/m.eml" &&
    node "$m" sign -a ed25519-sha256 -k "$d/k.pem" -d x.test -s s "$d/m.eml" >"$d/s.eml" &&
    node "$m" report --dns-cache "$d/dns.json" --client-ip 127.0.0.1 "$d/s.eml" |
      grep -q "dkim=pass header.i=@x.test header.s=s header.a=ed25519-sha256"'
# Headless Chromium as tests/admin_web.rs drives it: playwright-core
# launches /usr/bin/chromium and a page really renders.
need "chromium driven by playwright-core (npm, in target/nodedeps), rendering a page" \
  "chromium, and scripts/setup.sh (npm install playwright-core)" sh -c '
    node --input-type=module -e "
      import { createRequire } from \"module\";
      const { chromium } = createRequire(process.cwd() + \"/target/nodedeps/\")(\"playwright-core\");
      const b = await chromium.launch({ executablePath: \"/usr/bin/chromium\", args: [\"--no-sandbox\"] });
      const p = await b.newPage();
      await p.setContent(\"<p id=x>rendered</p>\");
      const t = await p.textContent(\"#x\");
      await b.close();
      if (t !== \"rendered\") process.exit(1);
    "'
need "Postfix (benchmark peer)" postfix test -x /usr/sbin/postfix
need "Postfix's smtp-sink and smtp-source" postfix sh -c 'test -x /usr/sbin/smtp-sink && test -x /usr/sbin/smtp-source'

need "python3-dkim with Ed25519 (Debian's /usr/bin/python3)" python3-dkim \
  /usr/bin/python3 -c 'import dkim, nacl.signing; dkim.verify'

# IMAP and POP3 clients and peers.
need "curl with imap(s) and pop3(s)" curl \
  sh -c 'curl -V | grep "^Protocols:" | grep -qw imaps && curl -V | grep "^Protocols:" | grep -qw pop3s'
# HTTP (tests/http.rs, tests/autoconfig.rs): curl with TLS, python's XML and plist readers.
need "curl with http and https" curl \
  sh -c 'curl -V | grep "^Protocols:" | grep -qw https'
need "python3 with xml.etree and plistlib" python3 python3 -c 'import xml.etree.ElementTree, plistlib'
need "fetchmail with SSL" fetchmail has "+SSL" fetchmail --version
need "getmail6" getmail6 getmail --version
need "mbsync" isync mbsync --version
need "offlineimap3" offlineimap3 offlineimap --version
need "mutt with IMAP and TLS" mutt sh -c 'mutt -v | grep -q +USE_IMAP && mutt -v | grep -Eq "\+USE_SSL_(GNUTLS|OPENSSL)"'
need "tmux (drives mutt)" tmux tmux -V
need "Dovecot" dovecot-core dovecot --version
need "Dovecot's IMAP server" dovecot-imapd test -x /usr/lib/dovecot/imap
need "Dovecot's POP3 server" dovecot-pop3d test -x /usr/lib/dovecot/pop3
need "Dovecot's LMTP server" dovecot-lmtpd test -x /usr/lib/dovecot/lmtp
need "GNU time with -v (scripts/bench-import.sh)" time /usr/bin/time -v true

# ACME (tests/acme.rs): Pebble and its DNS server, as the test runs them.
need "Pebble (ACME test CA)" pebble has "-dnsserver" pebble -h
need "pebble-challtestsrv (test DNS)" pebble has "-dns01" pebble-challtestsrv -h

# mDNS (tests/mdns.rs): avahi-daemon on a private D-Bus system bus.
need "avahi-daemon (tests/mdns.rs)" avahi-daemon avahi-daemon --version
need "avahi-resolve, avahi-browse and avahi-publish" avahi-utils \
  sh -c 'command -v avahi-resolve && command -v avahi-browse && command -v avahi-publish'
need "dbus-daemon (avahi's private bus)" dbus dbus-daemon --version

# The image and its QEMU test.
need "genimage" genimage genimage --help
need "mtools" mtools mcopy --version
need "flex and bison (the kernel's Kconfig)" "flex bison" sh -c 'flex --version && bison --version'
need "bc (the kernel build)" bc sh -c 'echo 1+1 | bc'
need "OpenSSL headers (the kernel's certificate tool)" libssl-dev test -e /usr/include/openssl/x509.h
need "mkfs.vfat" dosfstools sh -c 'command -v mkfs.vfat'
need "mke2fs" e2fsprogs sh -c 'command -v mke2fs'
need "fakeroot" fakeroot fakeroot -v
need "xz" xz-utils xz --version
need "cpio" cpio cpio --version
need "the arm64 architecture in apt (image packages)" "scripts/setup.sh (dpkg --add-architecture arm64)" \
  has arm64 dpkg --print-foreign-architectures
need "qemu-system-aarch64" qemu-system-arm qemu-system-aarch64 --version

if [ "$failed" -ne 0 ]; then
  echo "check-tools: run scripts/setup.sh (or install the packages named above)" >&2
  exit 1
fi
echo "check-tools: every tool the tests use is present and able"
