//! The ground floor: every byte on a socket, server side and client side.
//!
//! The protocol rooms (smtp, imap, pop3 serving; delivery and fetch
//! calling out) meet the network only through this module, so the rules
//! that must hold everywhere are written once:
//!
//! - [`Stream`]: one connection, plain or TLS, accepted or dialled, and
//!   upgraded in place; [`starttls`] for the server side of STARTTLS/STLS,
//!   which throws away plaintext pipelined behind the command;
//! - [`Input`]: bounded lines and bulk reads with an idle timeout;
//!   [`Output`]: buffered replies written with a time limit;
//! - [`timed`]: the one way a wait gets a deadline;
//! - [`connect`] and [`resolve`]: a host name (IP literal, /etc/hosts, then
//!   the DNS of [`dns`]) to a connected stream;
//! - [`dane`]: the certificate verifier of DANE for SMTP (RFC 7672);
//! - [`https_get`]: one bounded, verified HTTPS GET (MTA-STS policies);
//! - [`tls`]: the rustls configurations, server and client, with one
//!   crypto provider, and the client's certificate policies;
//! - [`ClientAddr`]: who a client is for every limit and rule that asks;
//! - [`Budget`]: the one memory budget for message bytes in flight.
//!
//! Nothing here knows the store, the configuration or any protocol.

mod addr;
mod budget;
mod connect;
pub mod dane;
mod deflate;
pub mod dns;
pub mod https_get;
mod input;
mod output;
mod stream;
pub mod tls;
mod verify;

use std::future::Future;
use std::io;
use std::time::Duration;

pub use addr::ClientAddr;
pub use budget::{Budget, Reservation};
pub use connect::{
    ConnectError, HEAD_START, ResolveError, connect, connect_racing, hosts_lookup, resolve,
};
pub use deflate::STATE_BYTES as DEFLATE_STATE_BYTES;
pub use input::{Input, ReadError};
pub use output::Output;
pub use stream::{Stream, starttls};

/// How long a server-side TLS handshake may take (implicit TLS ports and
/// STARTTLS alike) before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `work`, or gives `on_timeout()` once `limit` has passed: every
/// network wait in the server has a deadline, so a silent peer costs a
/// timer, never a stuck task.
pub async fn timed<T, E>(
    limit: Duration,
    on_timeout: impl FnOnce() -> E,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    smol::future::or(work, async {
        smol::Timer::after(limit).await;
        Err(on_timeout())
    })
    .await
}

/// The error of an I/O wait that ran out of time (`timed`'s usual
/// `on_timeout` for socket work).
pub fn timed_out() -> io::Error {
    io::Error::from(io::ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_gives_the_work_or_the_timeout() {
        smol::block_on(async {
            let quick = timed(Duration::from_secs(5), timed_out, async {
                Ok::<_, io::Error>(7)
            });
            assert_eq!(quick.await.unwrap(), 7);
            let slow = timed(Duration::from_millis(10), || "late", async {
                smol::Timer::after(Duration::from_secs(5)).await;
                Ok(1)
            });
            assert_eq!(slow.await, Err("late"));
            let failed = timed(Duration::from_secs(5), || "late", async {
                Err::<(), _>("no")
            });
            assert_eq!(failed.await, Err("no"));
        });
        assert_eq!(timed_out().kind(), io::ErrorKind::TimedOut);
    }
}
