//! The `--metrics` listener: `GET /metrics` (and `HEAD`) answered with
//! the text exposition format, nothing else.
//!
//! HTTP itself is `crate::http`'s (request bounds, timeouts, keep-alive);
//! this module is the accept loop and the router. It has its own small
//! connection cap instead of a share of `--max-connections`: a scraper
//! needs one connection, and the mail services' places should not be
//! spent on it; one client address holds at most two of them. `--metrics-trusted-only` answers clients outside
//! `--trusted-network` with `403` (the figures tell an outsider what the
//! server does; the default loopback address already keeps them private).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use smol::{Async, LocalExecutor, Timer};

use super::render::{CONTENT_TYPE, render};
use super::{CONNECTIONS_REFUSED, Open, Svc, collect::collect};
use crate::config::Service;
use crate::context::{Conn, Context};
use crate::http::{Request, Response};
use crate::net::{ClientAddr, Stream};

/// Connections open at once on the metrics listener.
pub const MAX_CONNECTIONS: usize = 8;
/// Of those, from one client address: one client (a refused outsider
/// keeping its connections alive, say) cannot take every place.
pub const MAX_PER_CLIENT: u32 = 2;

/// Connections open per client address; an entry leaves with its last.
type PerClient = Rc<RefCell<HashMap<IpAddr, u32>>>;

/// One connection counted in [`PerClient`] while it lives.
struct ClientPlace(PerClient, IpAddr);

impl Drop for ClientPlace {
    fn drop(&mut self) {
        let mut map = self.0.borrow_mut();
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Accepts scrapers until the executor stops.
pub async fn serve(ex: Rc<LocalExecutor<'static>>, ctx: Rc<Context>, listener: Async<TcpListener>) {
    // Each connection's task holds a clone: the count of clones beyond
    // this one is the connections open, however their tasks ended.
    let open = Rc::new(());
    let per_client: PerClient = Rc::default();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("metrics: accept failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        if Rc::strong_count(&open) > MAX_CONNECTIONS {
            CONNECTIONS_REFUSED.get(Svc::Metrics).inc();
            continue; // dropping the socket closes it
        }
        let peer = SocketAddr::new(ClientAddr::from(peer).ip(), peer.port());
        let client = {
            let mut map = per_client.borrow_mut();
            let n = map.entry(peer.ip()).or_insert(0);
            if *n >= MAX_PER_CLIENT {
                drop(map);
                CONNECTIONS_REFUSED.get(Svc::Metrics).inc();
                continue;
            }
            *n += 1;
            ClientPlace(per_client.clone(), peer.ip())
        };
        let local = tcp.get_ref().local_addr().unwrap_or(peer);
        let _ = tcp.get_ref().set_nodelay(true);
        let conn = Conn {
            id: ctx.next_session_id(),
            // The HTTP session names its log lines by the service.
            service: Service::Http,
            peer,
            local,
            stream: Stream::Plain(tcp),
        };
        let (ctx, place) = (ctx.clone(), open.clone());
        ex.spawn(async move {
            let _place = place;
            let _client = client;
            let _counted = Open::new(Svc::Metrics);
            crate::http::session(conn, &ctx.shutdown, async |request| route(&ctx, request)).await;
        })
        .detach();
    }
}

/// The one resource, for allowed clients.
fn route(ctx: &Context, request: &Request<'_>) -> Response {
    let ip = request.peer.ip();
    if ctx.config.metrics.trusted_only && !ctx.config.is_trusted(ip) {
        if let Some(more) = ctx.repeated_line(ip) {
            log::warn!("metrics: {ip} is not in --trusted-network: 403{more}");
        }
        return Response::text(403, "forbidden: not in --trusted-network\n");
    }
    if request.path() != "/metrics" {
        return Response::not_found();
    }
    match request.method() {
        "GET" | "HEAD" => Response::new(200, CONTENT_TYPE, render(&collect(&ctx.store))).routine(),
        _ => Response::method_not_allowed("GET, HEAD"),
    }
}
