//! Tests of the responder task's rules: the link of a source (RFC 6762
//! §11), fairness under a flood, and the handling of conflicts (§6, §8.1,
//! §9), on loopback sockets with made-up interfaces; nothing is sent.

use std::rc::Rc;

use smol::LocalExecutor;

use super::*;

#[test]
fn unicast_replies_per_source_are_limited_section_6() {
    let now = Instant::now();
    let mut window = (now, HashMap::new());
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let allowed = (0..100)
        .filter(|_| allow_unicast(&mut window, ip, now))
        .count();
    assert_eq!(allowed, UNICAST_PER_SECOND as usize);
    assert!(allow_unicast(&mut window, ip, now + Duration::from_secs(1)));
}

fn iface(name: &str, index: u32, v4: &str, v6: &str) -> Iface {
    Iface {
        name: name.into(),
        index,
        v4: vec![(v4.parse().unwrap(), 24)],
        v6: vec![(v6.parse().unwrap(), 64)],
    }
}

#[test]
fn a_link_local_source_keeps_its_scope_and_names_its_link_section_11() {
    let ifaces = [
        iface("eth0", 2, "192.168.1.5", "fe80::5"),
        iface("eth1", 3, "192.168.2.5", "fe80::6"),
    ];
    // From eth1: the reply goes back with scope 3, and eth1 (not the
    // first fe80::/64 interface) is the link answered on.
    let from: SocketAddr = "[fe80::99%3]:5353".parse().unwrap();
    let (on, to) = link_of(&ifaces, from, None).unwrap();
    assert_eq!(on, 1);
    assert_eq!(to, from);
    let SocketAddr::V6(to) = to else { panic!() };
    assert_eq!(to.scope_id(), 3);
    // An IPv4-mapped source is the IPv4 address it stands for.
    let mapped: SocketAddr = "[::ffff:192.168.2.9]:5353".parse().unwrap();
    assert_eq!(
        link_of(&ifaces, mapped, None),
        Some((1, "192.168.2.9:5353".parse().unwrap()))
    );
    // 169.254/16 is on a local link; another subnet is not.
    assert_eq!(
        link_of(&ifaces, "169.254.3.3:5353".parse().unwrap(), None).map(|l| l.0),
        Some(0)
    );
    assert_eq!(
        link_of(&ifaces, "10.9.9.9:5353".parse().unwrap(), None),
        None
    );
}

#[test]
fn a_flood_of_packets_lets_the_other_tasks_run() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let at = rx.local_addr().unwrap();
    let zone = Zone::new("mail", Vec::new());
    let responder = Rc::new(Responder::with_sockets(zone, Async::new(rx).unwrap(), None));
    // No timer step during the test: nothing is sent anywhere.
    responder.state.borrow_mut().next = Instant::now() + Duration::from_secs(3600);
    // As many queries as the socket's buffer holds, queued before the
    // responder first runs (the rest are dropped by the kernel).
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..10_000 {
        let _ = tx.send_to(&[0u8; 12], at);
    }
    let ex = LocalExecutor::new();
    ex.spawn(responder.clone().run()).detach();
    // Another task on the same executor notes how far the responder
    // got each time it runs.
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (r, s) = (responder.clone(), seen.clone());
    ex.spawn(async move {
        loop {
            s.borrow_mut().push(r.received.get());
            future::yield_now().await;
        }
    })
    .detach();
    future::block_on(ex.run(async {
        // Until the queue is drained: no progress over many turns.
        let (mut last, mut still) = (0, 0);
        while still < 1000 {
            future::yield_now().await;
            let now = responder.received.get();
            (last, still) = (now, if now == last { still + 1 } else { 0 });
        }
    }));
    let total = responder.received.get();
    assert!(total > 4 * BATCH, "only {total} packets queued");
    let seen = seen.borrow();
    assert!(
        seen.iter().any(|&n| n > 0 && n < total),
        "the other task never ran while {total} packets were handled: {:?}",
        &seen[..seen.len().min(5)]
    );
}

#[test]
fn the_arrival_interface_names_the_link_of_a_shared_subnet_section_11() {
    let ifaces = [
        iface("eth0", 2, "192.168.1.5", "fe80::5"),
        iface("wlan0", 3, "192.168.1.6", "fe80::6"),
    ];
    let from: SocketAddr = "192.168.1.77:5353".parse().unwrap();
    assert_eq!(link_of(&ifaces, from, Some(3)), Some((1, from)));
    assert_eq!(link_of(&ifaces, from, Some(2)), Some((0, from)));
    // Arrived on wlan0 but from no subnet of it: not the local link.
    let far: SocketAddr = "10.1.1.1:5353".parse().unwrap();
    assert_eq!(link_of(&ifaces, far, Some(3)), None);
}

/// A responder on a loopback socket whose one interface, index 1,
/// holds 127.0.0.1/8 and whatever `read` gives on a re-read.
fn loopback_responder(read: fn() -> io::Result<Vec<Iface>>, phase: Phase) -> Responder {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut r =
        Responder::with_sockets(Zone::new("mail", Vec::new()), Async::new(rx).unwrap(), None);
    r.read_ifaces = read;
    {
        let mut st = r.state.borrow_mut();
        st.ifaces = vec![lo(&[])];
        st.phase = phase;
    }
    r
}

fn lo(more: &[&str]) -> Iface {
    let mut v4 = vec![("127.0.0.1".parse().unwrap(), 8)];
    v4.extend(more.iter().map(|a| (a.parse().unwrap(), 24)));
    Iface {
        name: "lo".into(),
        index: 1,
        v4,
        v6: Vec::new(),
    }
}

/// A response giving `mail.local` the address `ip`.
fn claim(ip: &str) -> Vec<u8> {
    claim_for("mail.local", ip)
}

fn claim_for(host: &str, ip: &str) -> Vec<u8> {
    let mut p = simple_dns::Packet::new_reply(0);
    p.answers.push(simple_dns::ResourceRecord::new(
        simple_dns::Name::new_unchecked(host),
        simple_dns::CLASS::IN,
        120,
        simple_dns::rdata::RData::A(simple_dns::rdata::A::from(
            ip.parse::<std::net::Ipv4Addr>().unwrap(),
        )),
    ));
    p.build_bytes_vec().unwrap()
}

fn same() -> io::Result<Vec<Iface>> {
    Ok(vec![lo(&[])])
}

#[test]
fn a_conflict_on_a_claimed_name_probes_it_again_before_renaming_section_9() {
    let r = loopback_responder(same, Phase::Running);
    let peer: SocketAddr = "127.0.0.2:5353".parse().unwrap();
    r.on_packet(&claim("192.0.2.99"), peer, None);
    assert_eq!(r.state.borrow().zone.label(), "mail");
    assert_eq!(r.state.borrow().phase, Phase::Probing(0));
    // The probe meets the same claim: now the name is lost.
    r.state.borrow_mut().phase = Phase::Probing(2);
    r.on_packet(&claim("192.0.2.99"), peer, None);
    assert_eq!(r.state.borrow().zone.label(), "mail-2");
}

#[test]
fn a_response_from_another_port_claims_nothing_section_6() {
    let r = loopback_responder(same, Phase::Probing(1));
    r.on_packet(
        &claim("192.0.2.99"),
        "127.0.0.2:40000".parse().unwrap(),
        None,
    );
    assert_eq!(r.state.borrow().zone.label(), "mail");
    assert_eq!(r.state.borrow().phase, Phase::Probing(1));
}

#[test]
fn an_address_of_ours_that_just_came_up_is_no_conflict_section_9() {
    fn grown() -> io::Result<Vec<Iface>> {
        Ok(vec![lo(&["192.0.2.99"])])
    }
    let r = loopback_responder(grown, Phase::Probing(1));
    r.on_packet(
        &claim("192.0.2.99"),
        "127.0.0.2:5353".parse().unwrap(),
        None,
    );
    let st = r.state.borrow();
    assert_eq!(st.zone.label(), "mail");
    assert_eq!(st.ifaces, vec![lo(&["192.0.2.99"])]);
}

/// Another host claims whatever name we hold now.
fn hostile_claim(r: &Responder) {
    let host = r.state.borrow().zone.host().to_string();
    r.on_packet(
        &claim_for(&host, "192.0.2.99"),
        "127.0.0.2:5353".parse().unwrap(),
        None,
    );
}

#[test]
fn conflicts_during_the_five_second_wait_are_ignored_section_8_1() {
    let r = loopback_responder(same, Phase::Probing(1));
    for _ in 0..40 {
        hostile_claim(&r);
    }
    let st = r.state.borrow();
    assert_eq!(st.renames, CONFLICT_BURST);
    assert_eq!(st.zone.label(), format!("mail-{}", CONFLICT_BURST + 1));
    assert!(st.next > Instant::now() + Duration::from_secs(4));
}

#[test]
fn renames_stop_after_a_bound_section_9() {
    let r = loopback_responder(same, Phase::Probing(1));
    for _ in 0..200 {
        {
            let mut st = r.state.borrow_mut();
            st.backoff_until = None;
            st.conflicts.1 = 0;
        }
        hostile_claim(&r);
    }
    let st = r.state.borrow();
    assert_eq!(st.renames, MAX_RENAMES);
    assert_eq!(st.phase, Phase::Stopped);
    assert_eq!(st.zone.label(), format!("mail-{}", MAX_RENAMES + 1));
}

#[test]
fn probes_wait_less_than_a_quarter_second_section_8_1() {
    assert!((0..50).all(|_| jitter() < Duration::from_millis(250)));
}
