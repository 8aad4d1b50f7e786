//! The host's network interfaces as mDNS sees them: those up, not
//! loopback and able to multicast, each with its index and addresses
//! (getifaddrs(3)). Read again every few seconds by the responder, since
//! DHCP and Wi-Fi bring addresses after start-up.

use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::zone::Addrs;

/// One interface mDNS runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    /// IPv4 addresses with their prefix length (to tell which link a
    /// query's source is on).
    pub v4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses with their prefix length.
    pub v6: Vec<(Ipv6Addr, u8)>,
}

impl Iface {
    pub fn addrs(&self) -> Addrs {
        Addrs {
            v4: self.v4.iter().map(|(a, _)| *a).collect(),
            v6: self.v6.iter().map(|(a, _)| *a).collect(),
        }
    }

    /// Whether `ip` is on this interface's link: in one of its subnets
    /// (RFC 6762 §11: answers go only to the local link). An IPv6
    /// link-local source is matched by its scope ID instead, by the caller.
    pub fn on_link(&self, ip: IpAddr) -> bool {
        // Addresses as top-aligned 128-bit numbers: an IPv4 one is
        // shifted up, so one mask of `prefix` leading bits serves both.
        fn same_net(a: u128, b: u128, prefix: u8) -> bool {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            a & mask == b & mask
        }
        match ip {
            IpAddr::V4(ip) => self.v4.iter().any(|(a, prefix)| {
                same_net(
                    u128::from(u32::from(*a)) << 96,
                    u128::from(u32::from(ip)) << 96,
                    *prefix,
                )
            }),
            IpAddr::V6(ip) => self
                .v6
                .iter()
                .any(|(a, prefix)| same_net(u128::from(*a), u128::from(ip), *prefix)),
        }
    }
}

/// Every address of every interface in `ifaces`.
pub fn all_addrs(ifaces: &[Iface]) -> Addrs {
    let mut all = Addrs::default();
    for iface in ifaces {
        let a = iface.addrs();
        all.v4.extend(a.v4);
        all.v6.extend(a.v6);
    }
    all
}

/// Interfaces up, multicast-capable and not loopback, in index order.
/// Bounded: at most 64 interfaces and 16 addresses of each family each.
pub fn read() -> std::io::Result<Vec<Iface>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list it allocates; it
    // is walked read-only below and freed once with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; its name is a NUL-terminated string and its
        // address, when not null, a sockaddr of the family it names.
        let entry = unsafe { &*at };
        at = entry.ifa_next;
        let flags = entry.ifa_flags;
        let wanted = flags & libc::IFF_UP as u32 != 0
            && flags & libc::IFF_LOOPBACK as u32 == 0
            && flags & libc::IFF_MULTICAST as u32 != 0;
        if !wanted || entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
            continue;
        }
        let name = unsafe { CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
        let addr = match family {
            libc::AF_INET => {
                let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                let prefix = if entry.ifa_netmask.is_null() {
                    32
                } else {
                    let mask = unsafe { &*(entry.ifa_netmask as *const libc::sockaddr_in) };
                    u32::from_be(mask.sin_addr.s_addr).count_ones() as u8
                };
                Some((
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))),
                    prefix,
                ))
            }
            libc::AF_INET6 => {
                let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
                let prefix = if entry.ifa_netmask.is_null() {
                    128
                } else {
                    let mask = unsafe { &*(entry.ifa_netmask as *const libc::sockaddr_in6) };
                    u128::from_be_bytes(mask.sin6_addr.s6_addr).count_ones() as u8
                };
                Some((IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)), prefix))
            }
            _ => None,
        };
        let Some((ip, prefix)) = addr else { continue };
        let index = match ifaces.iter().position(|i| i.name == name) {
            Some(i) => i,
            None if ifaces.len() < 64 => {
                let c_name = unsafe { CStr::from_ptr(entry.ifa_name) };
                let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
                if index == 0 {
                    continue;
                }
                ifaces.push(Iface {
                    name,
                    index,
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                ifaces.len() - 1
            }
            None => continue,
        };
        let iface = &mut ifaces[index];
        match ip {
            IpAddr::V4(v4) if iface.v4.len() < 16 && !iface.v4.iter().any(|(a, _)| *a == v4) => {
                iface.v4.push((v4, prefix))
            }
            IpAddr::V6(v6) if iface.v6.len() < 16 && !iface.v6.iter().any(|(a, _)| *a == v6) => {
                iface.v6.push((v6, prefix))
            }
            _ => {}
        }
    }
    // SAFETY: the list from getifaddrs above, freed once.
    unsafe { libc::freeifaddrs(list) };
    ifaces.sort_by_key(|i| i.index);
    Ok(ifaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_on_the_link_of_the_subnet_it_is_in_section_11() {
        let iface = Iface {
            name: "eth0".into(),
            index: 2,
            v4: vec![("192.168.1.5".parse().unwrap(), 24)],
            v6: vec![("2001:db8:1:2::5".parse().unwrap(), 64)],
        };
        for (ip, on) in [
            ("192.168.1.200", true),
            ("192.168.2.1", false),
            ("2001:db8:1:2::99", true),
            ("2001:db8:1:3::5", false),
        ] {
            assert_eq!(iface.on_link(ip.parse().unwrap()), on, "{ip}");
        }
    }
}
