//! Connection limits: in total, per client ([`ClientAddr::group`]: an
//! IPv4 address, IPv4-mapped or not, or an IPv6 /64), and per share of
//! services, so that one service's flood cannot take every place:
//! - port 25, which any host on the Internet may reach, holds at most half
//!   of the places ([`Share::Mx`]);
//! - HTTP and HTTPS (autoconfig, ACME challenges: open to the Internet like
//!   port 25, but nothing a mail client needs to read mail) at most a
//!   quarter ([`Share::Web`]), so a flood of web requests leaves mail alone;
//! - the services of the house's own users (submission, IMAP, POP3) hold at
//!   most seven eighths ([`Share::Users`]), so mail from outside still gets
//!   in while every phone of the house is connected.
//!
//! 50 addresses × 20 idle connections to port 25 then fill port 25's half
//! and leave IMAP logins working (tests/cli.rs `smtp_flood_leaves_imap`).
//!
//! Everything runs on the one executor thread, so plain `Cell`/`RefCell`
//! counters suffice; a [`Slot`] gives its place back when the connection's
//! task ends, however it ends.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

use crate::config::Service;
use crate::net::ClientAddr;

/// Which share of the places a service draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Port 25: mail from anywhere.
    Mx,
    /// Submission, IMAP, POP3: the house's own users.
    Users,
    /// HTTP and HTTPS.
    Web,
}

impl Share {
    pub fn of(service: Service) -> Share {
        match service {
            Service::Smtp => Share::Mx,
            Service::Http | Service::Https => Share::Web,
            _ => Share::Users,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

pub struct Limits {
    max_total: u32,
    max_per_ip: u32,
    /// Most places each [`Share`] may hold.
    share_max: [u32; 3],
    share_open: [Cell<u32>; 3],
    total: Cell<u32>,
    /// Open connections per [`ClientAddr::group`].
    per_ip: RefCell<HashMap<IpAddr, u32>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    /// The service's share of the total is taken.
    Service,
    PerIp,
}

/// A held connection place.
pub struct Slot {
    limits: Rc<Limits>,
    ip: IpAddr,
    share: Share,
}

impl Limits {
    pub fn new(max_total: u32, max_per_ip: u32) -> Rc<Limits> {
        let mx = (max_total / 2).max(1);
        let users = (max_total - max_total / 8).max(1);
        Rc::new(Limits {
            max_total,
            max_per_ip,
            share_max: [mx, users, (max_total / 4).max(1)],
            share_open: [Cell::new(0), Cell::new(0), Cell::new(0)],
            total: Cell::new(0),
            per_ip: RefCell::new(HashMap::new()),
        })
    }

    pub fn acquire(self: &Rc<Limits>, client: ClientAddr, share: Share) -> Result<Slot, Refusal> {
        let ip = client.group();
        if self.total.get() >= self.max_total {
            return Err(Refusal::Total);
        }
        let open = &self.share_open[share.index()];
        if open.get() >= self.share_max[share.index()] {
            return Err(Refusal::Service);
        }
        let mut per_ip = self.per_ip.borrow_mut();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *count += 1;
        self.total.set(self.total.get() + 1);
        open.set(open.get() + 1);
        Ok(Slot {
            limits: self.clone(),
            ip,
            share,
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
        let open = &limits.share_open[self.share.index()];
        open.set(open.get().saturating_sub(1));
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

    fn users(limits: &Rc<Limits>, c: ClientAddr) -> Result<Slot, Refusal> {
        limits.acquire(c, Share::Users)
    }

    #[test]
    fn total_and_per_ip() {
        let limits = Limits::new(3, 2);
        let a = client("10.0.0.1");
        let b = client("10.0.0.2");
        let s1 = users(&limits, a).unwrap();
        let _s2 = users(&limits, a).unwrap();
        assert_eq!(users(&limits, a).err(), Some(Refusal::PerIp));
        let _s3 = users(&limits, b).unwrap();
        assert_eq!(users(&limits, b).err(), Some(Refusal::Total));
        drop(s1);
        assert_eq!(limits.open(), 2);
        assert!(users(&limits, a).is_ok());
    }

    #[test]
    fn one_client_however_it_arrives() {
        let limits = Limits::new(100, 2);
        // IPv4 through a dual-stack listener is the same client.
        let _a = users(&limits, client("192.0.2.1")).unwrap();
        let _b = users(&limits, client("::ffff:192.0.2.1")).unwrap();
        assert_eq!(
            users(&limits, client("192.0.2.1")).err(),
            Some(Refusal::PerIp)
        );
        // An IPv6 host is counted by its /64, whatever address it picks.
        let _c = users(&limits, client("2001:db8::1")).unwrap();
        let d = users(&limits, client("2001:db8::2")).unwrap();
        assert_eq!(
            users(&limits, client("2001:db8::ffff:3")).err(),
            Some(Refusal::PerIp)
        );
        assert!(users(&limits, client("2001:db8:0:1::1")).is_ok());
        drop(d);
        assert!(users(&limits, client("2001:db8::3")).is_ok());
    }

    #[test]
    fn port_25_cannot_take_every_place() {
        let limits = Limits::new(8, 100);
        let flood = client("203.0.113.9");
        let held: Vec<Slot> = (0..4)
            .map(|_| limits.acquire(flood, Share::Mx).unwrap())
            .collect();
        assert_eq!(
            limits.acquire(flood, Share::Mx).err(),
            Some(Refusal::Service)
        );
        // The house's users still get in, up to the total.
        let user = client("192.168.1.20");
        let _u: Vec<Slot> = (0..4).map(|_| users(&limits, user).unwrap()).collect();
        assert_eq!(users(&limits, user).err(), Some(Refusal::Total));
        drop(held);
        assert!(limits.acquire(flood, Share::Mx).is_ok());
    }

    #[test]
    fn web_takes_at_most_a_quarter() {
        let limits = Limits::new(8, 100);
        let flood = client("203.0.113.9");
        let _w: Vec<Slot> = (0..2)
            .map(|_| limits.acquire(flood, Share::Web).unwrap())
            .collect();
        assert_eq!(
            limits.acquire(flood, Share::Web).err(),
            Some(Refusal::Service)
        );
        assert!(limits.acquire(flood, Share::Mx).is_ok());
        assert!(users(&limits, client("192.168.1.20")).is_ok());
    }

    #[test]
    fn users_leave_room_for_mail_from_outside() {
        let limits = Limits::new(8, 100);
        let user = client("192.168.1.20");
        let _u: Vec<Slot> = (0..7).map(|_| users(&limits, user).unwrap()).collect();
        assert_eq!(users(&limits, user).err(), Some(Refusal::Service));
        assert!(limits.acquire(client("198.51.100.1"), Share::Mx).is_ok());
    }
}
