//! Multicast DNS (RFC 6762) and DNS-Based Service Discovery (RFC 6763) on
//! the local link: the board answers `NAME.local` (A and AAAA) and
//! announces the mail services it actually listens for (`_imaps._tcp`,
//! `_imap._tcp`, `_submissions._tcp`, `_submission._tcp`, `_pop3s._tcp`)
//! and the web face (`_http._tcp`, path `/admin`), so that a phone or a
//! laptop finds the server before any DNS zone names it.
//!
//! One task on the executor (`responder`), no thread: a query is parsed
//! and answered at once (`answer`, pure), names are probed and defended
//! (`probe`, pure), interfaces are read every few seconds (`iface`) and
//! the sockets are `socket`'s. Started by the server; `--mdns off`
//! leaves it out.

pub mod answer;
pub mod iface;
pub mod probe;
mod responder;
mod socket;
pub mod zone;

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use smol::LocalExecutor;

pub use responder::Responder;
use zone::{Advert, Zone};

use crate::config::{Config, Service};

/// Starts the responder as one task on `ex` when `--mdns` is on and some
/// service listens beyond loopback; `None` otherwise, or when port 5353
/// cannot be had (logged: mDNS is a convenience, never a reason not to
/// serve mail).
pub fn start(ex: &Rc<LocalExecutor<'static>>, config: &Config) -> Option<Rc<Responder>> {
    let label = config.mdns.as_deref()?;
    let adverts = adverts(config);
    if !config
        .listen
        .services()
        .iter()
        .any(|(_, at)| at.is_some_and(|a| !is_loopback(a.ip())))
    {
        log::info!("mdns: off: no service listens beyond loopback");
        return None;
    }
    match Responder::new(Zone::new(label, adverts)) {
        Ok(responder) => {
            let responder = Rc::new(responder);
            ex.spawn(responder.clone().run()).detach();
            Some(responder)
        }
        Err(e) => {
            log::warn!("mdns: off: cannot use UDP port 5353: {e}");
            None
        }
    }
}

/// The DNS-SD service types (RFC 6763 §7, names from the IANA service
/// registry, RFC 6335) of the listeners that are on and reachable from
/// the network, with their real ports. SMTP on port 25 is for other mail
/// servers, found by MX, and plain POP3 has no users worth inviting, so
/// neither is announced.
pub fn adverts(config: &Config) -> Vec<Advert> {
    let reachable = |at: Option<SocketAddr>| at.filter(|a| !is_loopback(a.ip())).map(|a| a.port());
    let mut out = Vec::new();
    for (service, at) in config.listen.services() {
        let (kind, txt) = match service {
            Service::Imaps => ("_imaps._tcp", vec![]),
            Service::Imap => ("_imap._tcp", vec![]),
            Service::Submissions => ("_submissions._tcp", vec![]),
            Service::Submission => ("_submission._tcp", vec![]),
            Service::Pop3s => ("_pop3s._tcp", vec![]),
            // RFC 6763 §6 and the DNS-SD http registration: `path` is
            // where on the server the page is.
            Service::Http => ("_http._tcp", vec!["path=/admin".to_string()]),
            Service::Smtp | Service::Pop3 | Service::Https => continue,
        };
        if let Some(port) = reachable(at) {
            out.push(Advert { kind, port, txt });
        }
    }
    out
}

/// Loopback, IPv4-mapped included (`::ffff:127.0.0.1`).
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

#[cfg(test)]
mod tests;
