//! The top floor: the server process's listeners, the dispatch of each
//! accepted connection to its protocol room (smtp, imap, pop3), the start
//! of the outbound rooms (delivery, fetch), signals and shutdown. Nothing
//! imports `server`; it imports the rooms, and they get what they need
//! through `crate::context` (sessions) or their own `Env` (delivery,
//! fetch). Bytes on the socket are `crate::net`'s.
//!
//! One `smol::LocalExecutor` on the main thread runs every connection (see
//! DESIGN.md, "Shape of the process"); the store's writer thread and the
//! bounded password-hash pool are the only other threads. SIGHUP reloads
//! the TLS certificate; SIGTERM/SIGINT stop accepting, give open sessions a
//! moment to finish, then let every queued store write commit before exit.

mod bind;
mod fds;
mod limits;
mod refusals;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use smol::io::AsyncWriteExt;
use smol::stream::StreamExt;
use smol::{Async, LocalExecutor, Timer};

pub use bind::{bind, bind_metrics};
pub use limits::{Limits, Refusal, Share, Slot};
use refusals::Refusals;

use crate::config::{Config, Service};
use crate::context::{Conn, Context};
use crate::net::{ClientAddr, Stream};
use crate::store::{self, Store};
use crate::tls::Tls;

/// How long open sessions get to finish after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until SIGTERM/SIGINT.
pub fn run(config: Config) -> Result<(), String> {
    crate::auth::return_large_allocations();
    crate::metrics::started();
    let store = Store::open(
        &config.data_dir,
        &store::Options {
            map_size: config.map_size,
        },
    )
    .map_err(|e| format!("store in {}: {e}", config.data_dir.display()))?;
    let mut tls = Tls::load(
        config
            .tls_files
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path())),
        &config.data_dir,
        &config.hostname,
    )?;
    // ACME (RFC 8555) before the context: it turns TLS-ALPN-01 on in `tls`.
    let acme = match &config.acme {
        Some(settings) => Some(crate::acme::Acme::new(settings, store.clone(), &mut tls)?),
        None => None,
    };
    let listeners = bind(&config)?;
    let metrics = bind_metrics(&config)?;
    let accounts = store
        .read()
        .and_then(|r| r.accounts())
        .map_err(|e| e.to_string())?;
    log::info!(
        "smolmail {} serving as {} with data in {} ({} users)",
        env!("CARGO_PKG_VERSION"),
        config.hostname,
        config.data_dir.display(),
        accounts.len()
    );
    if let Some(at) = metrics.as_ref().and_then(|l| l.get_ref().local_addr().ok()) {
        log::info!("metrics: listening on {at} (GET /metrics)");
    }
    for (service, listener) in &listeners {
        let at = listener
            .get_ref()
            .local_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string());
        log::info!(
            "{}: listening on {at}{}",
            service.name(),
            if service.implicit_tls() { " (TLS)" } else { "" }
        );
    }
    if accounts.is_empty() {
        log::warn!(
            "no users yet: add one with `smolmail user add you@your.domain` (give it the same --data, or SMOLMAIL_DATA={})",
            config.data_dir.display()
        );
    }
    if let Some(password) = &config.admin_password {
        crate::admin::admin_password_at_start(&store, password)?;
    }
    let max_connections = fds::effective_max_connections(config.max_connections);
    let limits = Limits::new(max_connections, config.max_connections_per_ip);
    let ctx = Rc::new(Context::new(config, store.clone(), tls));
    let ex = Rc::new(LocalExecutor::new());
    crate::delivery::start(&ex, delivery_env(&ctx))?;
    crate::fetch::start(&ex, fetch_env(&ctx));
    if let Some((acme, http01)) = acme {
        // HTTP-01 answers (RFC 8555 §8.3) come from the ACME client's state.
        crate::http::challenge::set_lookup(std::sync::Arc::new(move |token: &str| {
            http01.key_authorization(token)
        }));
        ex.spawn(acme.run()).detach();
    }
    if let Some(listener) = metrics {
        ex.spawn(crate::metrics::listener::serve(
            ex.clone(),
            ctx.clone(),
            listener,
        ))
        .detach();
    }
    // mDNS (RFC 6762/6763): one task answering NAME.local and announcing
    // the services just bound; says goodbye at shutdown.
    let mdns = crate::mdns::start(&ex, &ctx.config);
    let result = smol::block_on(ex.run(serve(ex.clone(), ctx.clone(), listeners, limits, mdns)));
    store.shutdown();
    log::info!("smolmail stopped");
    result
}

async fn serve(
    ex: Rc<LocalExecutor<'static>>,
    ctx: Rc<Context>,
    listeners: Vec<(Service, Async<TcpListener>)>,
    limits: Rc<Limits>,
    mdns: Option<Rc<crate::mdns::Responder>>,
) -> Result<(), String> {
    use async_signal::{Signal, Signals};
    let mut signals = Signals::new([Signal::Term, Signal::Int, Signal::Hup])
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    let refusals = Rc::new(Refusals::new());
    let mut accepting: Vec<_> = listeners
        .into_iter()
        .map(|(service, listener)| {
            ex.spawn(accept_loop(
                ex.clone(),
                ctx.clone(),
                service,
                listener,
                limits.clone(),
                refusals.clone(),
            ))
        })
        .collect();
    let report = refusals.clone();
    accepting.push(ex.spawn(async move {
        loop {
            Timer::after(refusals::WINDOW).await;
            report.report();
        }
    }));
    while let Some(signal) = signals.next().await {
        match signal {
            Ok(Signal::Hup) if ctx.tls.from_acme() => {
                log::info!(
                    "tls: SIGHUP: the certificate comes from ACME and renews itself; nothing to reload"
                )
            }
            Ok(Signal::Hup) => match ctx.tls.reload() {
                Ok(()) => log::info!("tls: certificate reloaded (SIGHUP)"),
                Err(e) => log::error!("tls: reload failed, keeping the old certificate: {e}"),
            },
            Ok(other) => {
                log::info!("{other:?}: shutting down; no new connections");
                break;
            }
            Err(e) => log::warn!("signal stream: {e}"),
        }
    }
    drop(accepting); // cancels the accept loops and closes the listeners
    if let Some(mdns) = mdns {
        mdns.goodbye(); // RFC 6762 §10.1: the services are gone
    }
    ctx.shutdown.begin();
    let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
    while limits.open() > 0 && std::time::Instant::now() < deadline {
        Timer::after(Duration::from_millis(50)).await;
    }
    if limits.open() > 0 {
        log::warn!(
            "{} sessions still open after {:?}; closing them",
            limits.open(),
            SHUTDOWN_GRACE
        );
    }
    Ok(())
}

async fn accept_loop(
    ex: Rc<LocalExecutor<'static>>,
    ctx: Rc<Context>,
    service: Service,
    listener: Async<TcpListener>,
    limits: Rc<Limits>,
    refusals: Rc<Refusals>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            // From here on the client is its canonical address: on the
            // dual-stack listener an IPv4 client arrives as ::ffff:a.b.c.d,
            // and every log line, rule and Received header must see
            // a.b.c.d (issue #21).
            Ok((tcp, peer)) => (tcp, canonical(peer)),
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn!("{}: accept failed: {e}", service.name());
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match limits.acquire(ClientAddr::from(peer), Share::of(service)) {
            Ok(slot) => slot,
            Err(why) => {
                refusals.refused(service, peer, why);
                crate::metrics::CONNECTIONS_REFUSED.get(service).inc();
                ex.spawn(refuse(service, tcp, ctx.config.hostname.clone()))
                    .detach();
                continue;
            }
        };
        let id = ctx.next_session_id();
        let ctx = ctx.clone();
        ex.spawn(async move {
            let _slot = slot;
            let _open = crate::metrics::Open::new(service);
            connection(ctx, service, tcp, peer, id).await;
        })
        .detach();
    }
}

/// `addr` with an IPv4-mapped address as the IPv4 one (`ClientAddr`).
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(ClientAddr::from(addr).ip(), addr.port())
}

/// Sets the connection up (TLS first on implicit-TLS ports) and runs the
/// service's session on it.
async fn connection(
    ctx: Rc<Context>,
    service: Service,
    tcp: Async<TcpStream>,
    peer: SocketAddr,
    id: u64,
) {
    let _ = tcp.get_ref().set_nodelay(true);
    let local = tcp.get_ref().local_addr().map_or(peer, canonical);
    log::info!("[{id}] {}: connect from {peer}", service.name());
    let mut stream = Stream::Plain(tcp);
    if service.implicit_tls() {
        match stream.accept_tls(&ctx.tls.acceptor()).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                log::info!("[{id}] {}: TLS handshake timed out", service.name());
                return;
            }
            Err(e) => {
                log::info!("[{id}] {}: TLS handshake failed: {e}", service.name());
                return;
            }
        }
    }
    let conn = Conn {
        id,
        service,
        peer,
        local,
        stream,
    };
    match service {
        Service::Smtp | Service::Submission | Service::Submissions => {
            crate::smtp::session(conn, ctx.clone()).await
        }
        Service::Pop3 | Service::Pop3s => crate::pop3::session(conn, ctx.clone()).await,
        Service::Imap | Service::Imaps => crate::imap::session(conn, ctx.clone()).await,
        Service::Http | Service::Https => {
            let route =
                async |r: &crate::http::Request<'_>| crate::http::site::route(&ctx, r).await;
            crate::http::session(conn, &ctx.shutdown, route).await
        }
    }
    log::info!("[{id}] {}: disconnect from {peer}", service.name());
}

/// Tells a client over the connection limit to come back later, in its
/// protocol's words, then closes. Implicit-TLS ports are just closed: the
/// handshake would cost more than the refusal is worth.
async fn refuse(service: Service, mut tcp: Async<TcpStream>, hostname: String) {
    let line = match service {
        Service::Smtp | Service::Submission => {
            format!("421 4.7.0 {hostname} too many connections, try again later\r\n")
        }
        Service::Imap => "* BYE [UNAVAILABLE] too many connections, try again later\r\n".into(),
        Service::Pop3 => "-ERR [SYS/TEMP] too many connections, try again later\r\n".into(),
        Service::Http => {
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .into()
        }
        Service::Submissions | Service::Imaps | Service::Pop3s | Service::Https => return,
    };
    let write = tcp.write_all(line.as_bytes());
    let _ = crate::net::timed(Duration::from_secs(5), crate::net::timed_out, write).await;
}

/// What outbound delivery needs of the server: the store, its settings,
/// the queue kick and shutdown.
fn delivery_env(ctx: &Context) -> crate::delivery::Env {
    crate::delivery::Env {
        store: ctx.store.clone(),
        hostname: ctx.config.hostname.clone(),
        settings: ctx.config.delivery.clone(),
        kick: ctx.queue_kick.clone(),
        shutdown: ctx.shutdown.clone(),
    }
}

/// What the fetcher needs of the server: the store, two settings and the
/// memory budget.
fn fetch_env(ctx: &Context) -> crate::fetch::Env {
    crate::fetch::Env {
        store: ctx.store.clone(),
        dns_servers: ctx.config.delivery.dns_servers.clone(),
        max_message_size: ctx.config.max_message_size,
        budget: ctx.budget.clone(),
        hostname: ctx.config.hostname.clone(),
    }
}
