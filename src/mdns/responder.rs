//! The responder task: one loop on the executor that reads queries from
//! the IPv4 and IPv6 sockets and wakes on a timer for the next step of
//! probing (RFC 6762 §8.1: three probes 250 ms apart after a random
//! 0-250 ms wait), announcing (§8.3: twice, a second apart), and the
//! periodic re-read of the interfaces (every 10 s: DHCP, Wi-Fi and cables
//! come and go; a change means probing and announcing again, §8). Every
//! send is non-blocking; nothing here waits but the sockets and the timer.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use smol::{Async, Timer, future};

use super::answer::{self, Dest, MAX_PACKET, PORT, Recent};
use super::iface::{self, Iface};
use super::probe::{self, Verdict};
use super::socket;
use super::zone::Zone;

/// How often the interfaces are read again: cheap (one getifaddrs).
const REREAD: Duration = Duration::from_secs(10);
/// §8.1: after 15 conflicts within 10 s, wait 5 s between probe rounds.
const CONFLICT_BURST: u32 = 15;
/// Names given up in one run before the responder stops: a host that
/// claims every name we try (a broken or hostile one) gets no endless
/// renaming storm, on the wire or in the log.
const MAX_RENAMES: u32 = 50;
/// Conflict log lines per 10-second window; the rest go to debug.
const LOGGED_CONFLICTS: u32 = 3;
/// Unicast replies (QU and legacy queries) per source address per second:
/// a flood of unicast queries must not make us a traffic amplifier.
const UNICAST_PER_SECOND: u32 = 20;
/// Sources tracked for that limit at once; beyond it, unicast waits.
const MAX_SOURCES: usize = 1024;
/// Packets handled in a row before the task yields: a socket with packets
/// queued is ready at once, so without a yield a LAN flood would keep the
/// single-threaded executor (and all mail service on it) in this loop.
const BATCH: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No usable interface yet.
    Waiting,
    /// `n` probes sent.
    Probing(u8),
    /// `n` announcements sent.
    Announcing(u8),
    Running,
    /// Goodbye said (shutdown): silent from then on, so that no answer
    /// puts the records back into caches during the shutdown grace.
    Stopped,
}

struct State {
    zone: Zone,
    ifaces: Vec<Iface>,
    phase: Phase,
    next: Instant,
    /// What was multicast lately, per link: (interface index, IPv4?).
    /// §6's once-a-second rule is per link, and a querier asking over
    /// IPv4 and IPv6 at once (avahi does) must get both answers.
    recent: HashMap<(u32, bool), Recent>,
    /// Conflicts in the current 10-second window (§8.1).
    conflicts: (Instant, u32),
    /// §8.1's 5-second wait after a burst of conflicts: until then more
    /// conflicts are ignored rather than counted or acted on.
    backoff_until: Option<Instant>,
    /// Names given up so far in this run.
    renames: u32,
    /// Unicast replies per source in the current second.
    unicast: (Instant, HashMap<IpAddr, u32>),
}

/// The running responder; `goodbye` is for shutdown.
pub struct Responder {
    v4: Async<UdpSocket>,
    v6: Option<Async<UdpSocket>>,
    state: RefCell<State>,
    /// Packets received so far (the yield every `BATCH` counts them).
    received: Cell<u64>,
    /// `iface::read`; another list in tests.
    read_ifaces: fn() -> io::Result<Vec<Iface>>,
}

impl Responder {
    pub fn new(zone: Zone) -> io::Result<Responder> {
        let v4 = Async::new(socket::open_v4()?)?;
        // IPv6 is best effort: a kernel without it still answers on IPv4.
        let v6 = match socket::open_v6().and_then(Async::new) {
            Ok(s) => Some(s),
            Err(e) => {
                log::info!("mdns: IPv4 only: [::]:5353: {e}");
                None
            }
        };
        Ok(Responder::with_sockets(zone, v4, v6))
    }

    fn with_sockets(zone: Zone, v4: Async<UdpSocket>, v6: Option<Async<UdpSocket>>) -> Responder {
        let now = Instant::now();
        Responder {
            v4,
            v6,
            received: Cell::new(0),
            read_ifaces: iface::read,
            state: RefCell::new(State {
                zone,
                ifaces: Vec::new(),
                phase: Phase::Waiting,
                next: now,
                recent: HashMap::new(),
                conflicts: (now, 0),
                backoff_until: None,
                renames: 0,
                unicast: (now, HashMap::new()),
            }),
        }
    }

    pub async fn run(self: std::rc::Rc<Self>) {
        let mut buf4 = vec![0u8; MAX_PACKET];
        let mut buf6 = vec![0u8; MAX_PACKET];
        let mut v6_first = false;
        loop {
            // The timer is checked before the sockets, so that a steady
            // stream of packets cannot hold back probing or the re-read.
            let next = self.state.borrow().next;
            if Instant::now() >= next {
                self.on_tick();
                continue;
            }
            let v6 = async {
                match &self.v6 {
                    Some(s) => Some(s.read_with(|s| socket::recv(s, &mut buf6)).await),
                    None => future::pending().await,
                }
            };
            let v4 = async { Some(self.v4.read_with(|s| socket::recv(s, &mut buf4)).await) };
            let tick = async {
                Timer::at(next).await;
                None
            };
            // `or` prefers its first future when both are ready: the two
            // families take turns at being first, so neither starves.
            v6_first = !v6_first;
            let got = if v6_first {
                future::or(v6, future::or(v4, tick)).await
            } else {
                future::or(v4, future::or(v6, tick)).await
            };
            match got {
                Some(Ok((n, from, arrival))) => {
                    let bytes = if from.is_ipv4() {
                        &buf4[..n]
                    } else {
                        &buf6[..n]
                    };
                    self.on_packet(bytes, from, arrival);
                    let received = self.received.get().wrapping_add(1);
                    self.received.set(received);
                    if received.is_multiple_of(BATCH) {
                        future::yield_now().await;
                    }
                }
                Some(Err(e)) => {
                    log::warn!("mdns: receive: {e}");
                    Timer::after(Duration::from_millis(100)).await;
                }
                None => self.on_tick(),
            }
        }
    }

    /// A packet from `from`: conflicts first (§9), then an answer.
    fn on_packet(&self, bytes: &[u8], from: SocketAddr, arrival: Option<u32>) {
        let mut st = self.state.borrow_mut();
        if st.phase == Phase::Stopped {
            return;
        }
        let Some((on, from)) = link_of(&st.ifaces, from, arrival) else {
            log::debug!("mdns: ignored a packet from {from}, not on a local link");
            return;
        };
        // §6: a response from a port other than 5353 MUST be silently
        // ignored, so it claims nothing; a probe is sent from 5353 too.
        if from.port() == PORT && !matches!(st.phase, Phase::Waiting) {
            match self.judge(&mut st, bytes) {
                Verdict::Fine => {}
                Verdict::Conflict(theirs) => return self.conflict(&mut st, from, &theirs),
                Verdict::LostTieBreak => {
                    log::info!(
                        "mdns: another host probes for {} at the same time and wins the tie-break (RFC 6762 §8.2); probing again in a second",
                        st.zone.host()
                    );
                    st.phase = Phase::Probing(0);
                    st.next = Instant::now() + Duration::from_secs(1);
                    return;
                }
            }
        }
        // Names are answered only once they are ours (§8.1).
        if !matches!(st.phase, Phase::Announcing(_) | Phase::Running) {
            return;
        }
        let iface = st.ifaces[on].clone();
        let now = Instant::now();
        let st = &mut *st;
        // Bounded: one entry per interface and family.
        let recent = st.recent.entry((iface.index, from.is_ipv4())).or_default();
        let Some(reply) = answer::respond(&st.zone, &iface.addrs(), bytes, from, now, recent)
        else {
            return;
        };
        let sent = match reply.dest {
            Dest::Multicast => self.multicast_on(&iface, from.is_ipv4(), &reply.bytes),
            Dest::Unicast(to) => {
                if !allow_unicast(&mut st.unicast, to.ip(), now) {
                    return;
                }
                match (to, &self.v6) {
                    (SocketAddr::V4(_), _) => socket::unicast(self.v4.get_ref(), to, &reply.bytes),
                    (SocketAddr::V6(_), Some(v6)) => {
                        socket::unicast(v6.get_ref(), to, &reply.bytes)
                    }
                    (SocketAddr::V6(_), None) => Ok(()),
                }
            }
        };
        if let Err(e) = sent {
            log::debug!("mdns: reply to {from}: {e}");
        }
    }

    /// What `bytes` means for our names. Before a conflict is believed the
    /// interfaces are read again: the "other host" may be an address of
    /// ours that came up since the last read (DHCP, a second cable).
    fn judge(&self, st: &mut State, bytes: &[u8]) -> Verdict {
        let probing = matches!(st.phase, Phase::Probing(_));
        let verdict = probe::judge(&st.zone, &iface::all_addrs(&st.ifaces), bytes, probing);
        if !matches!(verdict, Verdict::Conflict(_)) {
            return verdict;
        }
        match (self.read_ifaces)() {
            Ok(ifaces) if ifaces != st.ifaces => {
                self.apply_ifaces(st, ifaces, Instant::now());
                let all = iface::all_addrs(&st.ifaces);
                probe::judge(&st.zone, &all, bytes, probing)
            }
            _ => verdict,
        }
    }

    /// Someone else holds one of our names. A name already claimed is
    /// probed again first (§9: reset to probing, rename only if the probe
    /// meets a conflict too); a conflict while probing takes the next
    /// name (§8.1: after many conflicts, slowly).
    fn conflict(&self, st: &mut State, from: SocketAddr, theirs: &str) {
        let now = Instant::now();
        if st.backoff_until.is_some_and(|until| now < until) {
            return;
        }
        if now.saturating_duration_since(st.conflicts.0) > Duration::from_secs(10) {
            st.conflicts = (now, 0);
        }
        st.conflicts.1 = st.conflicts.1.saturating_add(1);
        let logged = st.conflicts.1 <= LOGGED_CONFLICTS;
        if logged {
            log::info!("mdns: {from} answers {theirs}");
        } else {
            log::debug!("mdns: {from} answers {theirs}");
        }
        if matches!(st.phase, Phase::Announcing(_) | Phase::Running) {
            if logged {
                log::warn!(
                    "mdns: another host answers for {}; probing the name again (RFC 6762 §9)",
                    st.zone.host()
                );
            }
            st.recent.clear();
            st.phase = Phase::Probing(0);
            st.next = now + jitter();
            return;
        }
        if st.renames >= MAX_RENAMES {
            log::warn!(
                "mdns: off: {MAX_RENAMES} names lost to conflicts in this run, the last {} (RFC 6762 §9); no longer answering",
                st.zone.host()
            );
            st.phase = Phase::Stopped;
            return;
        }
        st.renames += 1;
        let old = st.zone.host().to_string();
        let label = probe::next_label(st.zone.label());
        st.zone.rename(&label);
        st.recent.clear(); // our records changed
        if logged {
            log::warn!(
                "mdns: conflict: another host on the network holds {old} (RFC 6762 §9); renamed to {}",
                st.zone.host()
            );
        }
        if st.conflicts.1 == LOGGED_CONFLICTS + 1 {
            log::warn!("mdns: more conflicts in the last 10 s; logged at debug level");
        }
        st.phase = Phase::Probing(0);
        st.next = if st.conflicts.1 >= CONFLICT_BURST {
            st.backoff_until = Some(now + Duration::from_secs(5));
            now + Duration::from_secs(5)
        } else {
            now + jitter()
        };
    }

    /// The timer: the next probe or announcement, or the interfaces.
    fn on_tick(&self) {
        let mut st = self.state.borrow_mut();
        let now = Instant::now();
        match st.phase {
            Phase::Probing(n) if n < 3 => {
                let packet = probe::probe_packet(&st.zone, &iface::all_addrs(&st.ifaces));
                self.multicast_all(&st.ifaces, |_| packet.clone());
                st.phase = Phase::Probing(n + 1);
                st.next = now + Duration::from_millis(250);
            }
            Phase::Probing(_) | Phase::Announcing(_) => {
                let n = match st.phase {
                    Phase::Announcing(n) => n,
                    _ => 0,
                };
                if n == 0 {
                    for iface in &st.ifaces {
                        let addrs: Vec<String> = iface
                            .addrs()
                            .v4
                            .iter()
                            .map(|a| a.to_string())
                            .chain(iface.v6.iter().map(|(a, _)| a.to_string()))
                            .collect();
                        log::info!(
                            "mdns: answering {} on {} ({})",
                            st.zone.host(),
                            iface.name,
                            addrs.join(", ")
                        );
                    }
                }
                let zone = &st.zone;
                self.multicast_all(&st.ifaces, |i| probe::announcement(zone, &i.addrs()));
                for i in st.ifaces.clone() {
                    // Owned copies: the zone's borrow ends before the note.
                    let records: Vec<_> = (st.zone.records(&i.addrs()).into_iter())
                        .map(|r| r.into_owned())
                        .collect();
                    for v4 in [true, false] {
                        st.recent
                            .entry((i.index, v4))
                            .or_default()
                            .note(&records, now);
                    }
                }
                st.phase = if n + 1 >= 2 {
                    Phase::Running
                } else {
                    Phase::Announcing(n + 1)
                };
                st.next = now + Duration::from_secs(1);
            }
            Phase::Stopped => st.next = now + Duration::from_secs(3600),
            Phase::Waiting | Phase::Running => {
                st.next = now + REREAD;
                self.reread(&mut st, now);
            }
        }
    }

    /// Reads the interfaces; on any change joins the groups on new ones
    /// and claims the names again (§8: a link change means probing anew).
    fn reread(&self, st: &mut State, now: Instant) {
        match (self.read_ifaces)() {
            Ok(ifaces) if ifaces != st.ifaces => self.apply_ifaces(st, ifaces, now),
            Ok(_) => {}
            Err(e) => log::warn!("mdns: cannot list the interfaces: {e}"),
        }
    }

    /// A changed interface list: join the groups, probe anew.
    fn apply_ifaces(&self, st: &mut State, ifaces: Vec<Iface>, now: Instant) {
        for i in &ifaces {
            if !i.v4.is_empty()
                && let Err(e) = socket::join_v4(self.v4.get_ref(), i.index)
            {
                log::warn!("mdns: cannot join 224.0.0.251 on {}: {e}", i.name);
            }
            if let Some(v6) = &self.v6
                && !i.v6.is_empty()
                && let Err(e) = socket::join_v6(v6.get_ref(), i.index)
            {
                log::info!("mdns: cannot join ff02::fb on {}: {e}", i.name);
            }
        }
        if ifaces.is_empty() {
            if st.phase != Phase::Waiting {
                log::info!("mdns: no interface up with multicast; waiting for one");
            }
            st.phase = Phase::Waiting;
        } else {
            st.phase = Phase::Probing(0);
            st.next = now + jitter();
        }
        st.ifaces = ifaces;
        st.recent.clear(); // our records changed
    }

    /// Sends `packet(iface)` by multicast on every interface, both families.
    fn multicast_all(&self, ifaces: &[Iface], packet: impl Fn(&Iface) -> Option<Vec<u8>>) {
        for iface in ifaces {
            let Some(bytes) = packet(iface) else { continue };
            for v4 in [true, false] {
                if let Err(e) = self.multicast_on(iface, v4, &bytes) {
                    log::debug!("mdns: send on {}: {e}", iface.name);
                }
            }
        }
    }

    fn multicast_on(&self, iface: &Iface, v4: bool, bytes: &[u8]) -> io::Result<()> {
        match (v4, &self.v6) {
            (true, _) if !iface.v4.is_empty() => {
                socket::multicast_v4(self.v4.get_ref(), iface.index, bytes)
            }
            (false, Some(v6)) if !iface.v6.is_empty() => {
                socket::multicast_v6(v6.get_ref(), iface.index, bytes)
            }
            _ => Ok(()),
        }
    }

    /// §10.1: our records with TTL 0, so that caches drop them now rather
    /// than in two minutes to 75 minutes. Called at shutdown.
    pub fn goodbye(&self) {
        let mut st = self.state.borrow_mut();
        let claimed = matches!(st.phase, Phase::Announcing(_) | Phase::Running);
        st.phase = Phase::Stopped;
        if !claimed {
            return;
        }
        let zone = &st.zone;
        self.multicast_all(&st.ifaces, |i| probe::goodbye(zone, &i.addrs()));
        log::info!("mdns: goodbye sent for {}", st.zone.host());
    }
}

/// The link a packet from `from` came over (an index into `ifaces`) and
/// the address to reply to (§11: only packets from the local link are
/// answered). The interface it `arrival`ed on, when the kernel said,
/// names the link (two interfaces may share a subnet), the source still
/// having to be on that link. The received address is kept as it is, scope ID included:
/// a reply to `fe80::1` without it is refused by the kernel (EINVAL), and
/// the scope ID is what names the interface of a link-local source, every
/// interface having its own fe80::/64. Only an IPv4-mapped source is
/// rewritten, to the IPv4 address it stands for.
fn link_of(
    ifaces: &[Iface],
    from: SocketAddr,
    arrival: Option<u32>,
) -> Option<(usize, SocketAddr)> {
    let from = match from {
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => {
            SocketAddr::new(v6.ip().to_canonical(), v6.port())
        }
        other => other,
    };
    let link_local = match from.ip() {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    };
    if let Some(at) = arrival.and_then(|a| ifaces.iter().position(|i| i.index == a)) {
        return (link_local || ifaces[at].on_link(from.ip())).then_some((at, from));
    }
    let on = match from {
        SocketAddr::V6(v6) if v6.scope_id() != 0 => {
            ifaces.iter().position(|i| i.index == v6.scope_id())
        }
        _ => ifaces.iter().position(|i| i.on_link(from.ip())),
    };
    // A 169.254/16 source (a host without DHCP) is on a local link by
    // definition (§11), though on no subnet of ours: the first interface
    // is the likeliest, the board having one.
    let on = on.or_else(|| (link_local && from.is_ipv4() && !ifaces.is_empty()).then_some(0))?;
    Some((on, from))
}

/// Counts a unicast reply to `ip`; false past the per-source limit.
fn allow_unicast(window: &mut (Instant, HashMap<IpAddr, u32>), ip: IpAddr, now: Instant) -> bool {
    if now.saturating_duration_since(window.0) >= Duration::from_secs(1) {
        *window = (now, HashMap::new());
    }
    if window.1.len() >= MAX_SOURCES && !window.1.contains_key(&ip) {
        return false;
    }
    let count = window.1.entry(ip).or_insert(0);
    *count += 1;
    *count <= UNICAST_PER_SECOND
}

/// A random 0-250 ms wait before the first probe (§8.1), so that hosts
/// powered on together do not probe in lock-step.
fn jitter() -> Duration {
    let r = RandomState::new().hash_one(Instant::now());
    Duration::from_millis(r % 250)
}

#[cfg(test)]
#[path = "responder_tests.rs"]
mod tests;
