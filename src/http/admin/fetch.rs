//! `/admin/fetch`: the outside IMAP accounts pulled into local mailboxes,
//! with each one's folders, state and last run (or error); add (after a
//! test connection, unless unticked), run now, delete. The same operations
//! as `smolmail fetch add|list|run|del` (`fetch::admin`); the password is
//! typed into the form instead of a file, and a private CA pasted.

use std::fmt::Write as _;

use super::form::Form;
use super::{Cx, html};
use crate::fetch::admin::{self as ops, AddOptions};
use crate::fetch::sync::Env;
use crate::http::Response;
use crate::net::dns::Resolver;
use crate::secret::Secret;

pub fn page(cx: &Cx<'_>) -> Response {
    let accounts = cx.ctx.store.read().and_then(|r| r.fetch_accounts());
    let text = ops::list_text(&cx.ctx.store);
    cx.page("Fetch accounts", |out| {
        let csrf = cx.csrf();
        if let Ok(accounts) = &accounts
            && !accounts.is_empty()
        {
            out.push_str("<table id=fetch><tr><th>#</th><th>Account</th><th></th></tr>");
            for a in accounts {
                let id = a.id.to_string();
                let _ = write!(
                    out,
                    "<tr><td>{id}</td><td>{}</td><td>",
                    html::e(&crate::fetch::describe(a))
                );
                html::button(out, "/admin/fetch", csrf, "run", &[("id", &id)], "Run now");
                html::button(out, "/admin/fetch", csrf, "del", &[("id", &id)], "Delete");
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
        match text {
            Ok(t) => html::pre(out, &t),
            Err(e) => html::pre(out, &format!("cannot read the fetch accounts: {e}")),
        }
        out.push_str("<h2>Add a fetch account</h2>");
        html::form_open(out, "/admin/fetch", csrf, "");
        out.push_str("<fieldset><input type=hidden name=op value=add>");
        html::input(out, "Local user", "local_user", "text", "you@home.arpa");
        out.push_str("<br>");
        html::input(out, "IMAP server", "host", "text", "imap.example.com");
        html::input(out, "Port", "port", "text", "993 (TLS) or 143");
        out.push_str("<label>Security <select name=security><option value=tls>TLS</option><option value=starttls>STARTTLS</option></select></label><br>");
        html::input(out, "Remote user", "user", "text", "");
        html::input(out, "Remote password", "password", "password", "");
        out.push_str("<br>");
        html::input(out, "Folders", "folders", "text", "INBOX (or REMOTE=LOCAL, spaces between)");
        html::input(out, "Every", "every", "text", "5m");
        out.push_str("<label><input type=checkbox name=idle value=1> IDLE on INBOX</label><br>");
        out.push_str("<label>Private CA certificate (PEM, optional; the whole form at most 16 KiB)<textarea name=ca></textarea></label>");
        out.push_str("<label><input type=checkbox name=test value=1 checked> Test the connection first</label> ");
        out.push_str("<button>Add</button></fieldset></form>");
        out.push_str("<p>The same as <code>smolmail fetch add|list|run|del</code>.</p>");
    })
}

/// The account the add form describes.
fn account(form: &Form) -> Result<crate::store::FetchAccount, String> {
    let port = match form.text("port") {
        "" => None,
        p => Some(
            p.parse::<u16>()
                .map_err(|_| format!("port {p:?} is not 1 to 65535"))?,
        ),
    };
    let options = AddOptions {
        local_user: form.text("local_user").to_string(),
        host: form.text("host").to_string(),
        port,
        starttls: form.text("security") == "starttls",
        user: form.text("user").to_string(),
        folders: form
            .text("folders")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        every: Some(form.text("every"))
            .filter(|e| !e.is_empty())
            .map(str::to_string),
        idle: form.checked("idle"),
        ..AddOptions::default()
    };
    let ca = form.text("ca").as_bytes().to_vec();
    ops::account(
        &options,
        Secret(form.get("password").to_string()),
        ca,
        "the CA field",
    )
}

pub async fn act(cx: &Cx<'_>, form: &Form) -> Result<String, String> {
    let ctx = cx.ctx;
    let resolver = Resolver::new(&ctx.config.delivery.dns_servers);
    match form.text("op") {
        "add" => {
            let fetch = account(form)?;
            let tested = if form.checked("test") {
                let line = ops::test_connection(&fetch, &resolver, ctx.config.max_message_size)
                    .await
                    .map_err(|e| format!("test connection failed, nothing added: {e}"))?;
                format!("{line}; ")
            } else {
                String::new()
            };
            let (fetch, created) = ops::add_account(&ctx.store, fetch).await?;
            Ok(format!("{tested}{}", ops::added_text(&fetch, &created)))
        }
        "run" => {
            let env = Env {
                store: &ctx.store,
                resolver: &resolver,
                max_message_size: ctx.config.max_message_size,
                budget: &ctx.budget,
                hostname: &ctx.config.hostname,
            };
            ops::run_now(&env, Some(form.text("id")), false).await
        }
        "del" => {
            let id = form
                .text("id")
                .parse::<u64>()
                .map_err(|_| "not a fetch account id".to_string())?;
            ops::delete(&ctx.store, id).await
        }
        _ => Err("unknown change".into()),
    }
}
