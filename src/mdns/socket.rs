//! The mDNS sockets: UDP port 5353 shared with any other responder on the
//! host (avahi-daemon, systemd-resolved) through SO_REUSEADDR, joined to
//! 224.0.0.251 / ff02::fb on each interface (RFC 6762 §3), with the
//! multicast TTL / hop limit of 255 that §11 has receivers check, and
//! loopback of our multicast on, so that other responders on this host
//! hear us. std has no SO_REUSEADDR before bind and no per-send outgoing
//! interface, so those few options go through libc (already a
//! dependency) rather than pulling in socket2.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::answer::PORT;

pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn set<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live local of exactly the size passed.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// A UDP socket of `family` with SO_REUSEADDR, not yet bound.
fn reusable(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a plain socket(2); the descriptor is owned at once.
    let fd = check(unsafe {
        libc::socket(
            family,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32)?;
    Ok(fd)
}

/// `0.0.0.0:5353`, multicast TTL 255, loopback on; non-blocking.
pub fn open_v4() -> io::Result<UdpSocket> {
    let fd = reusable(libc::AF_INET)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: PORT.to_be(),
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    };
    // SAFETY: binds the owned descriptor to a local address of the size given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    let socket = UdpSocket::from(fd);
    socket.set_multicast_ttl_v4(255)?;
    socket.set_multicast_loop_v4(true)?;
    want_arrival(&socket, false)?;
    Ok(socket)
}

/// `[::]:5353`, IPv6 only (IPv4 has its own socket), hop limit 255.
pub fn open_v6() -> io::Result<UdpSocket> {
    let fd = reusable(libc::AF_INET6)?;
    set(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &1i32)?;
    set(
        fd.as_raw_fd(),
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
        &255i32,
    )?;
    let sin6 = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: PORT.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
        sin6_scope_id: 0,
    };
    // SAFETY: binds the owned descriptor to a local address of the size given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin6 as *const libc::sockaddr_in6).cast(),
            size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    })?;
    let socket = UdpSocket::from(fd);
    socket.set_multicast_loop_v6(true)?;
    want_arrival(&socket, true)?;
    Ok(socket)
}

/// Joins 224.0.0.251 on interface `index`; joining twice is not an error.
pub fn join_v4(socket: &UdpSocket, index: u32) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from(GROUP_V4).to_be(),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index as libc::c_int,
    };
    match set(
        socket.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_ADD_MEMBERSHIP,
        &mreq,
    ) {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
        other => other,
    }
}

/// Joins ff02::fb on interface `index`; joining twice is not an error.
pub fn join_v6(socket: &UdpSocket, index: u32) -> io::Result<()> {
    match socket.join_multicast_v6(&GROUP_V6, index) {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
        other => other,
    }
}

/// Sends `bytes` to 224.0.0.251:5353 out of interface `index`.
pub fn multicast_v4(socket: &UdpSocket, index: u32, bytes: &[u8]) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index as libc::c_int,
    };
    set(
        socket.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_IF,
        &mreq,
    )?;
    socket
        .send_to(bytes, SocketAddrV4::new(GROUP_V4, PORT))
        .map(|_| ())
}

/// Sends `bytes` to ff02::fb:5353 on interface `index` (the scope ID of
/// a link-local destination picks the interface).
pub fn multicast_v6(socket: &UdpSocket, index: u32, bytes: &[u8]) -> io::Result<()> {
    socket
        .send_to(bytes, SocketAddrV6::new(GROUP_V6, PORT, 0, index))
        .map(|_| ())
}

/// Sends a unicast reply; the socket is non-blocking and a full buffer
/// loses the datagram, as UDP may.
pub fn unicast(socket: &UdpSocket, to: SocketAddr, bytes: &[u8]) -> io::Result<()> {
    socket.send_to(bytes, to).map(|_| ())
}

/// Asks the kernel to say which interface each datagram arrived on
/// (IP_PKTINFO / IPV6_RECVPKTINFO), read back by `recv`: a source
/// address alone cannot tell two interfaces on one subnet apart.
pub fn want_arrival(socket: &UdpSocket, v6: bool) -> io::Result<()> {
    if v6 {
        set(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVPKTINFO,
            &1i32,
        )
    } else {
        set(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            &1i32,
        )
    }
}

/// One datagram into `buf`: its length, its source (a link-local IPv6
/// one with its scope ID) and, when `want_arrival` was set, the index
/// of the interface it arrived on. Non-blocking, like the socket.
pub fn recv(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Option<u32>)> {
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // u64 words: aligned for cmsghdr; room for one pktinfo of either family.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` points at a live local (or `buf`) of
    // the length given beside it.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let source = match i32::from(from.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET).
            let sin =
                unsafe { &*(&from as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6).
            let sin6 =
                unsafe { &*(&from as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            ))
        }
        _ => return Err(io::Error::other("datagram from an unknown address family")),
    };
    let mut arrival = None;
    // SAFETY: the CMSG_* walk stays within msg_controllen bytes of
    // `control`, as set by the kernel; each pktinfo is read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            if level == libc::IPPROTO_IP && kind == libc::IP_PKTINFO {
                let info: libc::in_pktinfo = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                arrival = u32::try_from(info.ipi_ifindex).ok();
            } else if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_PKTINFO {
                let info: libc::in6_pktinfo =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                arrival = Some(info.ipi6_ifindex);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, source, arrival))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arrival_interface_is_read_from_pktinfo() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        want_arrival(&rx, false).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from, arrival) = recv(&rx, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, tx.local_addr().unwrap());
        // SAFETY: a NUL-terminated name.
        let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        assert_eq!(arrival, Some(lo));
    }
}
