//! Opening the listening sockets, with errors that say which flag to change.
//!
//! An IPv6 listener is made dual-stack on purpose: `IPV6_V6ONLY` is set to
//! 0 on the socket before `bind` (RFC 3493 §5.3), so `[::]:25` answers IPv4
//! clients too whatever the host's `net.ipv6.bindv6only` default says
//! (std's `TcpListener::bind` would inherit it). IPv4 clients then arrive
//! IPv4-mapped; `net::ClientAddr` and the accept loop map them back.
//!
//! A kernel built or booted without IPv6 (`ipv6.disable=1`) refuses the
//! IPv6 socket itself; there `[::]:PORT` falls back to `0.0.0.0:PORT`,
//! with one log line for all services ([`fallback`]).

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use smol::Async;

use crate::config::{Config, Service};

/// Binds every enabled listener. Errors say which flag and what to do.
pub fn bind(config: &Config) -> Result<Vec<(Service, Async<TcpListener>)>, String> {
    bind_with(config, listen)
}

/// [`bind`] with the socket opener given, so the tests can play a kernel
/// without IPv6.
fn bind_with(
    config: &Config,
    open: impl Fn(SocketAddr) -> io::Result<TcpListener>,
) -> Result<Vec<(Service, Async<TcpListener>)>, String> {
    let mut listeners = Vec::new();
    let mut fell_back: Option<io::Error> = None;
    for (service, addr) in config.listen.services() {
        let Some(addr) = addr else { continue };
        let listener = match open(addr) {
            Ok(l) => l,
            Err(e) => match fallback(addr, &e) {
                Some(v4) => {
                    fell_back.get_or_insert(e);
                    open(v4).map_err(|e| bind_error(service, v4, &e))?
                }
                None => return Err(bind_error(service, addr, &e)),
            },
        };
        listeners.push((service, Async::new(listener).map_err(|e| e.to_string())?));
    }
    if let Some(e) = fell_back {
        log::warn!(
            "this kernel has no IPv6 ({e}): listening on 0.0.0.0 (IPv4 only) instead of [::]"
        );
    }
    Ok(listeners)
}

/// The `--metrics` listener, `None` when it is off; on a kernel without
/// IPv6, `[::]` falls back as the services do.
pub fn bind_metrics(config: &Config) -> Result<Option<Async<TcpListener>>, String> {
    let Some(addr) = config.metrics.addr else {
        return Ok(None);
    };
    let error = |at: SocketAddr, e: io::Error| {
        format!(
            "cannot listen on {at} (--metrics {addr}): {e}; give --metrics another address or \"off\""
        )
    };
    let listener = match listen(addr) {
        Ok(l) => l,
        Err(e) => match fallback(addr, &e) {
            Some(v4) => listen(v4).map_err(|e| error(v4, e))?,
            None => return Err(error(addr, e)),
        },
    };
    Async::new(listener).map(Some).map_err(|e| e.to_string())
}

/// Where to listen instead when `addr` could not be bound with `error`:
/// `0.0.0.0` on the same port, when `addr` is every IPv6 interface and the
/// error says the kernel has no IPv6 (no address family, no protocol, or no
/// usable `::`). Any other failure is reported as it is.
pub fn fallback(addr: SocketAddr, error: &io::Error) -> Option<SocketAddr> {
    let SocketAddr::V6(v6) = addr else {
        return None;
    };
    let no_ipv6 = matches!(
        error.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::EADDRNOTAVAIL)
    );
    (v6.ip().is_unspecified() && no_ipv6)
        .then(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port())))
}

/// A listening socket on `addr`; an IPv6 one dual-stack.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    match addr {
        SocketAddr::V4(_) => TcpListener::bind(addr),
        SocketAddr::V6(v6) => listen_dual_stack(v6),
    }
}

/// `socket`, `IPV6_V6ONLY` off, `SO_REUSEADDR` (as std sets it, so a
/// restart does not wait out TIME_WAIT), `bind`, `listen`.
fn listen_dual_stack(addr: SocketAddrV6) -> io::Result<TcpListener> {
    fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }
    // SAFETY: plain system calls on a descriptor this function owns (the
    // OwnedFd closes it on every error path); the option values and the
    // address are local values of the sizes passed.
    unsafe {
        let fd = check(libc::socket(
            libc::AF_INET6,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let fd = OwnedFd::from_raw_fd(fd);
        let set = |level, name, value: libc::c_int| {
            check(libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            ))
        };
        set(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
        set(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        let sin6 = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: addr.port().to_be(),
            sin6_flowinfo: addr.flowinfo(),
            sin6_addr: libc::in6_addr {
                s6_addr: addr.ip().octets(),
            },
            sin6_scope_id: addr.scope_id(),
        };
        check(libc::bind(
            fd.as_raw_fd(),
            (&sin6 as *const libc::sockaddr_in6).cast(),
            size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        ))?;
        check(libc::listen(fd.as_raw_fd(), libc::SOMAXCONN))?;
        Ok(TcpListener::from(fd))
    }
}

fn bind_error(service: Service, addr: SocketAddr, e: &io::Error) -> String {
    let flag = format!("--{} {addr}", service.name());
    match e.kind() {
        ErrorKind::PermissionDenied if addr.port() < 1024 => format!(
            "cannot listen on {addr} ({flag}): ports below 1024 need root or the CAP_NET_BIND_SERVICE capability \
             (sudo setcap cap_net_bind_service=+ep PATH-TO-smolmail), or move every port up with --port-offset 10000"
        ),
        ErrorKind::AddrInUse => format!(
            "cannot listen on {addr} ({flag}): the address is in use by another program (Postfix or Dovecot? see `ss -ltnp`); \
             stop it or give --{} another address or \"off\"",
            service.name()
        ),
        ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {addr} ({flag}): no network interface has that address")
        }
        _ => format!("cannot listen on {addr} ({flag}): {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn no_ipv6_kernel_falls_back_to_ipv4_any() {
        for errno in [
            libc::EAFNOSUPPORT,
            libc::EPROTONOSUPPORT,
            libc::EADDRNOTAVAIL,
        ] {
            let e = io::Error::from_raw_os_error(errno);
            assert_eq!(fallback(addr("[::]:25"), &e), Some(addr("0.0.0.0:25")));
        }
        // A port in use is a real error, not a missing IPv6.
        let in_use = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(fallback(addr("[::]:25"), &in_use), None);
        // Only the "every interface" default falls back: a specific IPv6
        // address, or IPv4, fails as given.
        let none = io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(fallback(addr("[2001:db8::1]:25"), &none), None);
        assert_eq!(fallback(addr("192.0.2.1:25"), &none), None);
    }

    /// The whole path on a kernel without IPv6 (socket(AF_INET6) fails
    /// with EAFNOSUPPORT): every default `[::]` listener ends up on
    /// `0.0.0.0` with its port, `--port-offset` included.
    #[test]
    fn defaults_fall_back_to_ipv4_without_ipv6() {
        let args = crate::config::ServeArgs {
            port_offset: Some("0".into()),
            smtp: Some("[::]:0".into()),
            submission: Some("off".into()),
            submissions: Some("off".into()),
            imap: Some(":0".into()),
            imaps: Some("off".into()),
            pop3: Some("off".into()),
            pop3s: Some("off".into()),
            http: Some("off".into()),
            https: Some("off".into()),
            ..Default::default()
        };
        let config = Config::resolve(&args, &|_| None).unwrap();
        let no_ipv6 = |addr: SocketAddr| match addr {
            SocketAddr::V6(_) => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
            SocketAddr::V4(_) => listen(addr),
        };
        smol::block_on(async {
            let bound = bind_with(&config, no_ipv6).unwrap();
            let at: Vec<_> = bound
                .iter()
                .map(|(s, l)| (s.name(), l.get_ref().local_addr().unwrap()))
                .collect();
            assert_eq!(at.len(), 2, "{at:?}");
            for (service, addr) in at {
                assert_eq!(addr.ip(), Ipv4Addr::UNSPECIFIED, "{service}");
                assert_ne!(addr.port(), 0, "{service}");
            }
        });
        // Any other failure stops the server with the flag to change.
        let refused = |_| Err(io::Error::from_raw_os_error(libc::EACCES));
        let err = bind_with(&config, refused).err().unwrap();
        assert!(
            err.starts_with("cannot listen on [::]:0 (--smtp [::]:0)"),
            "{err}"
        );
    }

    #[test]
    fn ipv6_listener_is_dual_stack_whatever_the_sysctl() {
        let listener = match listen(addr("[::]:0")) {
            Ok(l) => l,
            Err(e) => panic!("no IPv6 on this machine ({e}); the tests need it"),
        };
        let fd = listener.as_raw_fd();
        let mut value: libc::c_int = -1;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: reads one int option into a local of the size given.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!((rc, value), (0, 0), "IPV6_V6ONLY is not off");
        let port = listener.local_addr().unwrap().port();
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("IPv4 client to [::]");
        std::net::TcpStream::connect(("::1", port)).expect("IPv6 client to [::]");
    }
}
