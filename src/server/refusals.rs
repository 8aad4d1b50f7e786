//! The log of refused connections, bounded per client: a flood of
//! connections from one address (or one IPv6 /64) writes a few lines, then
//! one line a minute with the count ("refused N more connections from ...
//! in the last minute"), never a line per connection (DESIGN.md "Budgets":
//! the log is not the attacker's to fill).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Refusal;
use crate::config::Service;
use crate::logsink::{Limiter, Verdict};
use crate::net::ClientAddr;

/// The window over which refusals are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Refusals from one client logged one by one in each window.
const LINES_PER_WINDOW: u32 = 3;

pub struct Refusals {
    limiter: RefCell<Limiter>,
}

impl Refusals {
    pub fn new() -> Refusals {
        Refusals {
            limiter: RefCell::new(Limiter::new(LINES_PER_WINDOW, WINDOW)),
        }
    }

    /// Logs the refusal of `peer`, unless this client's lines are used up.
    pub fn refused(&self, service: Service, peer: SocketAddr, why: Refusal) {
        let group = ClientAddr::from(peer).group();
        let verdict = self.limiter.borrow_mut().allow(group, Instant::now());
        if let Verdict::Log { suppressed } = verdict {
            let before = if suppressed > 0 {
                format!(" ({suppressed} earlier refusals not logged)")
            } else {
                String::new()
            };
            log::warn!(
                "{}: refused {peer}: too many connections ({why:?} limit){before}",
                service.name()
            );
        }
    }

    /// Writes the counts of the windows that ended; the accept side calls
    /// it once per [`WINDOW`].
    pub fn report(&self) {
        let ended = self.limiter.borrow_mut().take_ended(Instant::now());
        for (group, count) in ended {
            log::warn!(
                "refused {count} more connections from {group} in the last minute (too many connections)"
            );
        }
    }
}

impl Default for Refusals {
    fn default() -> Refusals {
        Refusals::new()
    }
}
