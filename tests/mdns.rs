//! Multicast DNS against a real peer: avahi-daemon, asked through
//! avahi-resolve and avahi-browse (Debian's avahi-utils), finds the
//! server's name and its IMAPS service on the link; a legacy one-shot
//! query (RFC 6762 §6.7) from a plain UDP socket gets a unicast reply;
//! the goodbye at shutdown (§10.1) empties avahi's cache; and a name
//! already held by another host is given up for `NAME-2` (§9).
//!
//! The link is a veth pair made inside a network namespace of the test's
//! own: smolmail listens on 192.0.2.10 (v0) in it, avahi-daemon runs in a
//! second namespace `peer` with 192.0.2.20 (v1), talking to avahi-resolve
//! over a private D-Bus system bus. #[ignore]d: scripts/test.sh runs it
//! as root under `unshare --net --mount` with SMOLMAIL_TEST_MDNS_NETNS=1
//! and checks that it ran; anywhere else it fails saying so, rather than
//! touch the machine's own network.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{PATIENCE, Server, TempDir, require_tool, wait_until_with};
use simple_dns::rdata::RData;
use simple_dns::{Packet, TYPE};

const OURS: &str = "192.0.2.10";
const PEER: &str = "192.0.2.20";

/// A child process killed when dropped (avahi-daemon, dbus-daemon).
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(script: &str) {
    let out = Command::new("sh").args(["-ec", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespace's link: v0 here with 192.0.2.10, v1 in `peer` with
/// 192.0.2.20. /run/netns and /run/avahi-daemon get tmpfs mounts of this
/// mount namespace, so nothing is left on the host's /run.
fn make_link() {
    sh(&format!(
        "ip link set lo up
         mkdir -p /run/netns /run/avahi-daemon
         mount -t tmpfs tmpfs /run/netns
         mount -t tmpfs tmpfs /run/avahi-daemon
         ip netns add peer
         ip link add v0 type veth peer name v1
         ip link set v1 netns peer
         ip addr add {OURS}/24 dev v0
         ip link set v0 up
         ip netns exec peer ip link set lo up
         ip netns exec peer ip addr add {PEER}/24 dev v1
         ip netns exec peer ip link set v1 up"
    ));
}

/// A private system bus (avahi-daemon registers on the system bus and
/// avahi-utils reach it there) listening on a socket in `dir`.
fn start_dbus(dir: &Path) -> (Daemon, String) {
    let socket = dir.join("bus");
    let conf = dir.join("bus.conf");
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .unwrap();
    let child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .args(["--nofork", "--nopidfile"])
        .stdout(Stdio::null())
        // It cannot raise its open-file limit in the namespace and says so.
        .stderr(std::fs::File::create(dir.join("dbus.log")).unwrap())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_until_with(
        PATIENCE,
        "the D-Bus socket",
        || socket.exists(),
        String::new,
    );
    (daemon, format!("unix:path={}", socket.display()))
}

/// avahi-daemon in `peer`, on v1 only, as host `peer` (not our name).
fn start_avahi(dir: &Path, bus: &str) -> Daemon {
    let conf = dir.join("avahi.conf");
    std::fs::write(
        &conf,
        "[server]\nhost-name=peer\nuse-ipv4=yes\nuse-ipv6=yes\nallow-interfaces=v1\n\
         enable-dbus=yes\nratelimit-interval-usec=0\n[wide-area]\nenable-wide-area=no\n\
         [publish]\npublish-workstation=no\npublish-hinfo=no\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("avahi.log")).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", "peer", "avahi-daemon"])
        .args([
            "--no-drop-root",
            "--no-chroot",
            "--no-rlimits",
            "--no-proc-title",
        ])
        .arg(format!("--file={}", conf.display()))
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .stderr(log)
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_until_with(
        PATIENCE,
        "avahi-daemon on the bus",
        || {
            avahi(bus, "avahi-resolve", &["-4", "-n", "peer.local"])
                .status
                .success()
        },
        || std::fs::read_to_string(dir.join("avahi.log")).unwrap_or_default(),
    );
    daemon
}

fn avahi(bus: &str, tool: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("15")
        .arg(tool)
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// avahi-resolve until it gives an answer (a new name may take a probe
/// round), then that answer.
fn resolve(bus: &str, args: &[&str]) -> String {
    let mut last = String::new();
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let out = avahi(bus, "avahi-resolve", args);
        last = text(&out);
        if out.status.success() && !last.trim().is_empty() {
            return last;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("avahi-resolve {args:?} gave no answer: {last}");
}

/// A legacy one-shot query (RFC 6762 §6.7) for `name`'s A record from an
/// ephemeral port in `peer`, sent to 224.0.0.251:5353; the raw reply.
fn legacy_query(name: &str) -> Vec<u8> {
    let script = format!(
        r#"
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x4d2e, 0, 1, 0, 0, 0)
for label in "{name}".split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("{PEER}"))
s.bind(("{PEER}", 0))
s.settimeout(10)
s.sendto(q, ("224.0.0.251", 5353))
data, sender = s.recvfrom(9000)
sys.stderr.write("reply from %s:%d\n" % sender)
sys.stdout.write(data.hex())
"#
    );
    let out = Command::new("ip")
        .args(["netns", "exec", "peer", "python3", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "legacy query: {}", text(&out));
    assert!(
        text(&out).contains(&format!("reply from {OURS}:5353")),
        "{}",
        text(&out)
    );
    let hex = String::from_utf8(out.stdout).unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn stop(server: &mut Server) {
    let status = Command::new("kill")
        .args(["-s", "TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs root in a network namespace: scripts/test.sh runs it under unshare --net --mount"]
fn avahi_finds_the_name_and_services_rfc_6762_6763() {
    assert!(
        std::env::var("SMOLMAIL_TEST_MDNS_NETNS").is_ok(),
        "SMOLMAIL_TEST_MDNS_NETNS is not set: this test makes interfaces and mounts; \
         scripts/test.sh runs it as root inside `unshare --net --mount` with \
         SMOLMAIL_TEST_MDNS_NETNS=1"
    );
    for (tool, package) in [
        ("avahi-daemon", "avahi-daemon"),
        ("avahi-resolve", "avahi-utils"),
        ("avahi-browse", "avahi-utils"),
        ("avahi-publish", "avahi-utils"),
        ("dbus-daemon", "dbus"),
        ("ip", "iproute2"),
        ("python3", "python3"),
    ] {
        require_tool(tool, package);
    }
    make_link();
    let dir = TempDir::new("mdns");
    let (_dbus, bus) = start_dbus(&dir.0);
    let _avahi = start_avahi(&dir.0, &bus);

    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut server = Server::start_on(OURS, &data, &["--mdns", "on", "--mdns-name", "smolbox"]);
    server.wait_for_log(&format!("mdns: answering smolbox.local on v0 ({OURS}"));

    // The host name, both families (the AAAA is v0's link-local address).
    let a = resolve(&bus, &["-4", "-n", "smolbox.local"]);
    assert!(a.contains(&format!("smolbox.local\t{OURS}")), "{a}");
    let aaaa = resolve(&bus, &["-6", "-n", "smolbox.local"]);
    assert!(aaaa.contains("smolbox.local\tfe80::"), "{aaaa}");

    // DNS-SD: the IMAPS instance with the port it really listens on.
    let imaps = server.port("imaps");
    let browse = text(&avahi(&bus, "avahi-browse", &["-rtp", "_imaps._tcp"]));
    // (The interface column is "(null)": avahi-browse runs outside `peer`.)
    let want = format!(";IPv4;smolbox;_imaps._tcp;local;smolbox.local;{OURS};{imaps};");
    assert!(browse.contains(&want), "no {want:?} in:\n{browse}");
    let http = server.port("http");
    let browse = text(&avahi(&bus, "avahi-browse", &["-rtp", "_http._tcp"]));
    let want = format!(";smolbox.local;{OURS};{http};\"path=/admin\"");
    assert!(browse.contains(&want), "no {want:?} in:\n{browse}");
    let browse = text(&avahi(&bus, "avahi-browse", &["-rtp", "_submissions._tcp"]));
    let port = server.port("submissions");
    assert!(browse.contains(&format!(";{OURS};{port};")), "{browse}");

    // §6.7: a legacy query gets a unicast reply with its ID and question,
    // TTLs of at most 10 s and no cache-flush bit.
    let reply = legacy_query("smolbox.local");
    let reply = Packet::parse(&reply).unwrap();
    assert_eq!(reply.id(), 0x4d2e);
    assert_eq!(reply.questions.len(), 1);
    assert_eq!(reply.questions[0].qname.to_string(), "smolbox.local");
    let a = reply
        .answers
        .iter()
        .find(|rr| rr.rdata.type_code() == TYPE::A)
        .expect("an A record");
    assert!(a.ttl <= 10 && !a.cache_flush, "{a:?}");
    assert!(
        matches!(&a.rdata, RData::A(addr) if std::net::Ipv4Addr::from(addr.address).to_string() == OURS)
    );

    // §10.1: the goodbye at shutdown makes avahi forget the name at once,
    // not in two minutes.
    stop(&mut server);
    assert!(
        server
            .log()
            .contains("mdns: goodbye sent for smolbox.local")
    );
    std::thread::sleep(Duration::from_secs(2));
    let gone = avahi(&bus, "avahi-resolve", &["-4", "-n", "smolbox.local"]);
    assert!(
        !text(&gone).contains(OURS),
        "avahi still resolves the name after the goodbye: {}",
        text(&gone)
    );

    // §9: a name another host holds (avahi publishes taken.local) is
    // given up for taken-2.local, which then resolves to us.
    let _publish = Daemon(
        Command::new("avahi-publish")
            .args(["-a", "-R", "taken.local", "192.0.2.99"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let held = resolve(&bus, &["-4", "-n", "taken.local"]);
    assert!(held.contains("192.0.2.99"), "{held}");
    let data2 = dir.0.join("data2");
    std::fs::create_dir_all(&data2).unwrap();
    let second = Server::start_on(OURS, &data2, &["--mdns", "on", "--mdns-name", "taken"]);
    second.wait_for_log("mdns: conflict: another host on the network holds taken.local");
    second.wait_for_log("renamed to taken-2.local");
    second.wait_for_log(&format!("mdns: answering taken-2.local on v0 ({OURS}"));
    let renamed = resolve(&bus, &["-4", "-n", "taken-2.local"]);
    assert!(
        renamed.contains(&format!("taken-2.local\t{OURS}")),
        "{renamed}"
    );
    let held = resolve(&bus, &["-4", "-n", "taken.local"]);
    assert!(
        held.contains("192.0.2.99"),
        "avahi's own name was taken over: {held}"
    );
}
