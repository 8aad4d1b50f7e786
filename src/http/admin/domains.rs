//! `/admin/domains`: the local domains, the aliases and catch-alls
//! (`@domain` as the source) with where each domain's postmaster mail
//! lands; add and delete. The same operations as `smolmail domain ...` and
//! `smolmail alias ...` (`crate::admin`).

use std::fmt::Write as _;

use super::form::Form;
use super::{Cx, html};
use crate::http::Response;

pub fn page(cx: &Cx<'_>) -> Response {
    let read = cx
        .ctx
        .store
        .read()
        .and_then(|r| Ok((r.domains()?, r.aliases()?)));
    let notes = crate::admin::alias_lines(&cx.ctx.store).unwrap_or_default();
    cx.page("Domains & aliases", |out| {
        let csrf = cx.csrf();
        let (domains, aliases) = match read {
            Ok(both) => both,
            Err(e) => return html::pre(out, &format!("cannot read the store: {e}")),
        };
        out.push_str("<h2>Domains</h2><table id=domains><tr><th>Domain</th><th></th></tr>");
        for d in &domains {
            let _ = write!(out, "<tr><td>{}</td><td>", html::e(d));
            html::button(out, "/admin/domains", csrf, "domain-del", &[("domain", d)], "Delete");
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
        html::form_open(out, "/admin/domains", csrf, "");
        out.push_str("<fieldset><input type=hidden name=op value=domain-add>");
        html::input(out, "Domain", "domain", "text", "home.arpa");
        out.push_str("<button>Add domain</button></fieldset></form>");
        out.push_str("<h2>Aliases and catch-alls</h2><table id=aliases><tr><th>Address</th><th>Delivered to</th><th></th></tr>");
        for (source, targets) in &aliases {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>",
                html::e(source),
                html::e(&targets.join(", "))
            );
            html::button(out, "/admin/domains", csrf, "alias-del", &[("source", source)], "Delete");
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
        for note in notes.iter().filter(|l| l.contains("(implicit")) {
            out.push_str("<p>");
            html::esc(out, note);
            out.push_str("</p>");
        }
        html::form_open(out, "/admin/domains", csrf, "");
        out.push_str("<fieldset><input type=hidden name=op value=alias-add>");
        html::input(out, "Address (@domain for a catch-all)", "source", "text", "info@home.arpa");
        html::input(out, "Deliver to (comma-separated)", "targets", "text", "you@home.arpa");
        out.push_str("<button>Add alias</button></fieldset></form>");
        out.push_str("<p>The same as <code>smolmail domain add|del|list</code> and <code>smolmail alias add|del|list</code>.</p>");
    })
}

pub async fn act(cx: &Cx<'_>, form: &Form) -> Result<String, String> {
    let store = &cx.ctx.store;
    match form.text("op") {
        "domain-add" => crate::admin::add_domain(store, form.text("domain")).await,
        "domain-del" => crate::admin::del_domain(store, form.text("domain")).await,
        "alias-add" => {
            let targets: Vec<String> = form
                .text("targets")
                .split([',', ' '])
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            if targets.is_empty() {
                return Err("give at least one address to deliver to".into());
            }
            crate::admin::add_alias(store, form.text("source"), &targets).await
        }
        "alias-del" => crate::admin::del_alias(store, form.text("source")).await,
        _ => Err("unknown change".into()),
    }
}
