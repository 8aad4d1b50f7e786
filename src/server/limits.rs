//! Connection limits: in total and per client ([`ClientAddr::group`]: an
//! IPv4 address, IPv4-mapped or not, or an IPv6 /64).
//!
//! Everything runs on the one executor thread, so plain `Cell`/`RefCell`
//! counters suffice; a [`Slot`] gives its place back when the connection's
//! task ends, however it ends.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

use crate::net::ClientAddr;

pub struct Limits {
    max_total: u32,
    max_per_ip: u32,
    total: Cell<u32>,
    /// Open connections per [`ClientAddr::group`].
    per_ip: RefCell<HashMap<IpAddr, u32>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerIp,
}

/// A held connection place.
pub struct Slot {
    limits: Rc<Limits>,
    ip: IpAddr,
}

impl Limits {
    pub fn new(max_total: u32, max_per_ip: u32) -> Rc<Limits> {
        Rc::new(Limits {
            max_total,
            max_per_ip,
            total: Cell::new(0),
            per_ip: RefCell::new(HashMap::new()),
        })
    }

    pub fn acquire(self: &Rc<Limits>, client: ClientAddr) -> Result<Slot, Refusal> {
        let ip = client.group();
        if self.total.get() >= self.max_total {
            return Err(Refusal::Total);
        }
        let mut per_ip = self.per_ip.borrow_mut();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *count += 1;
        self.total.set(self.total.get() + 1);
        Ok(Slot {
            limits: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        self.total.get()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let limits = &self.limits;
        limits.total.set(limits.total.get().saturating_sub(1));
        let mut per_ip = limits.per_ip.borrow_mut();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> ClientAddr {
        ClientAddr::new(text.parse().unwrap())
    }

    #[test]
    fn total_and_per_ip() {
        let limits = Limits::new(3, 2);
        let a = client("10.0.0.1");
        let b = client("10.0.0.2");
        let s1 = limits.acquire(a).unwrap();
        let _s2 = limits.acquire(a).unwrap();
        assert_eq!(limits.acquire(a).err(), Some(Refusal::PerIp));
        let _s3 = limits.acquire(b).unwrap();
        assert_eq!(limits.acquire(b).err(), Some(Refusal::Total));
        drop(s1);
        assert_eq!(limits.open(), 2);
        assert!(limits.acquire(a).is_ok());
    }

    #[test]
    fn one_client_however_it_arrives() {
        let limits = Limits::new(100, 2);
        // IPv4 through a dual-stack listener is the same client.
        let _a = limits.acquire(client("192.0.2.1")).unwrap();
        let _b = limits.acquire(client("::ffff:192.0.2.1")).unwrap();
        assert_eq!(
            limits.acquire(client("192.0.2.1")).err(),
            Some(Refusal::PerIp)
        );
        // An IPv6 host is counted by its /64, whatever address it picks.
        let _c = limits.acquire(client("2001:db8::1")).unwrap();
        let d = limits.acquire(client("2001:db8::2")).unwrap();
        assert_eq!(
            limits.acquire(client("2001:db8::ffff:3")).err(),
            Some(Refusal::PerIp)
        );
        assert!(limits.acquire(client("2001:db8:0:1::1")).is_ok());
        drop(d);
        assert!(limits.acquire(client("2001:db8::3")).is_ok());
    }
}
