//! `/admin`: the status page. Services and their connections (from the
//! metrics counters), messages received today and since the server
//! started, deliveries, the queue, users, the store's size and the free space under
//! it, and the last warnings and errors of the log (`logsink`'s ring).

use std::fmt::Write as _;

use super::{Cx, html};
use crate::http::Response;
use crate::metrics::{self, Svc};

pub fn page(cx: &Cx<'_>) -> Response {
    let ctx = cx.ctx;
    let space = ctx.store.space().ok();
    let (users, queued) = ctx
        .store
        .read()
        .and_then(|r| Ok((r.accounts()?.len(), r.queue_len()?)))
        .unwrap_or_default();
    let warnings = crate::logsink::recent_warnings();
    cx.page("Status", |out| {
        out.push_str("<h2>Services</h2><table id=services><tr><th>Service</th><th>Listening on</th><th>Open connections</th><th>Accepted since start</th></tr>");
        for (service, addr) in ctx.config.listen.services() {
            let Some(addr) = addr else { continue };
            let svc = Svc::from(service);
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                svc.label(),
                html::e(&addr.to_string()),
                metrics::CONNECTIONS_OPEN.get(svc).get(),
                metrics::CONNECTIONS_ACCEPTED.get(svc).get()
            );
        }
        out.push_str("</table><h2>Mail</h2><table id=mail>");
        let received: u64 = Svc::ALL
            .iter()
            .map(|s| metrics::MESSAGES_RECEIVED.get(*s).get())
            .sum();
        let outbound: u64 = metrics::OUTBOUND.iter().map(|c| c.get()).sum();
        let mut row = |k: &str, v: String| {
            let _ = write!(out, "<tr><th>{k}</th><td>{}</td></tr>", html::e(&v));
        };
        let today = metrics::RECEIVED_TODAY.on(crate::time::now());
        row("Messages received today (UTC)", today.to_string());
        row("Messages received since start", received.to_string());
        row("Local deliveries since start", metrics::LOCAL_DELIVERIES.get().to_string());
        row("Outbound attempts since start", outbound.to_string());
        row("Messages in the outbound queue", queued.to_string());
        row("Fetched messages since start", metrics::FETCH_MESSAGES.get().to_string());
        row("Users", users.to_string());
        if let Some(s) = space {
            let size = crate::admin::show_size;
            row("Store size", format!("{} of a {} map", size(s.map_used), size(s.map_size)));
            row(
                "Free space on the data partition",
                s.disk_free.map_or("unknown".into(), size),
            );
        }
        out.push_str("</table><h2>Recent warnings</h2>");
        if warnings.is_empty() {
            out.push_str("<p>None since the server started.</p>");
        } else {
            html::pre(out, &warnings.join("\n"));
        }
    })
}
