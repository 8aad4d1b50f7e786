//! `/admin/dns`: each local domain's DKIM keys and the DNS records to
//! publish (the zone text of `smolmail dns-records`), with the check of
//! what DNS serves now (`dns-records --check`, on `?check=DOMAIN`: it only
//! reads, so a GET); make, rotate and delete keys as `smolmail dkim ...`.

use super::form::Form;
use super::{Cx, html};
use crate::http::Response;

pub async fn page(cx: &Cx<'_>) -> Response {
    let ctx = cx.ctx;
    let domains = ctx
        .store
        .read()
        .and_then(|r| r.domains())
        .unwrap_or_default();
    let mut sections = Vec::with_capacity(domains.len());
    let check = cx.req.query_param("check");
    for domain in &domains {
        let keys = crate::dkim::admin::list(&ctx.store, Some(domain)).unwrap_or_else(|e| e);
        let zone = crate::dkim::admin::dns_records_in(&ctx.store, domain)
            .map(|dkim| crate::dns_records::render(domain, &ctx.config, &dkim))
            .unwrap_or_else(|e| format!("; {e}"));
        let report = match &check {
            Some(c) if c == domain => {
                let resolver = crate::net::dns::Resolver::new(&ctx.config.delivery.dns_servers);
                Some(crate::dns_check::check(&resolver, &zone).await)
            }
            _ => None,
        };
        sections.push((domain, keys, zone, report));
    }
    cx.page("DKIM keys & DNS records", |out| {
        let csrf = cx.csrf();
        if sections.is_empty() {
            out.push_str("<p>No local domains yet.</p>");
        }
        for (domain, keys, zone, report) in &sections {
            out.push_str("<h2>");
            html::esc(out, domain);
            out.push_str("</h2><p>DKIM keys:</p>");
            html::pre(out, if keys.is_empty() { "none" } else { keys });
            let d = domain.as_str();
            html::button(out, "/admin/dns", csrf, "dkim-add", &[("domain", d)], "Make keys");
            html::button(out, "/admin/dns", csrf, "dkim-rotate", &[("domain", d)], "Rotate keys");
            html::form_open(out, "/admin/dns", csrf, "row");
            out.push_str("<input type=hidden name=op value=dkim-del>");
            out.push_str("<input type=hidden name=domain value=\"");
            html::esc(out, d);
            out.push_str("\"><input type=text name=selector placeholder=selector><button>Delete key</button></form>");
            out.push_str("<p>Records to publish:</p>");
            html::pre(out, zone);
            out.push_str("<p><a href=\"/admin/dns?check=");
            html::esc(out, d);
            out.push_str("\">Check what DNS serves now</a></p>");
            if let Some(r) = report {
                html::pre(out, r);
            }
        }
        out.push_str("<p>The same as <code>smolmail dkim add|rotate|list|del</code> and <code>smolmail dns-records [--check]</code>.</p>");
    })
}

pub async fn act(cx: &Cx<'_>, form: &Form) -> Result<String, String> {
    let store = &cx.ctx.store;
    let domain = form.text("domain");
    match form.text("op") {
        "dkim-add" => crate::dkim::admin::make(store, domain, None, false).await,
        "dkim-rotate" => crate::dkim::admin::make(store, domain, None, true).await,
        "dkim-del" => {
            let selector = Some(form.text("selector")).filter(|s| !s.is_empty());
            crate::dkim::admin::del(store, domain, selector).await
        }
        _ => Err("unknown change".into()),
    }
}
