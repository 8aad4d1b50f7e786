//! `/admin/users`: the users with their usage and quota; add, delete, set
//! a password or a quota. The same operations as `smolmail user ...`
//! (`crate::admin`); passwords are hashed on the blocking pool.

use std::fmt::Write as _;

use super::form::Form;
use super::{Cx, html};
use crate::http::Response;

/// argon2id of `password`, computed off the executor.
pub async fn hash(password: &str) -> String {
    let password = crate::secret::Secret(password.to_string());
    smol::unblock(move || crate::auth::password::hash(&password.0)).await
}

pub fn page(cx: &Cx<'_>) -> Response {
    let rows = crate::admin::users(&cx.ctx.store);
    cx.page("Users", |out| {
        let csrf = cx.csrf();
        match rows {
            Err(e) => html::pre(out, &format!("cannot read the users: {e}")),
            Ok(rows) if rows.is_empty() => out.push_str("<p>No users yet.</p>"),
            Ok(rows) => {
                out.push_str("<table id=users><tr><th>User</th><th>Mail stored</th><th>Quota</th><th>Password</th><th></th></tr>");
                for r in &rows {
                    let a = r.address.as_str();
                    let _ = write!(out, "<tr><td>{}</td><td>", html::e(a));
                    html::usage(out, r.used, r.quota);
                    out.push_str("</td><td>");
                    html::form_open(out, "/admin/users", csrf, "row");
                    let _ = write!(
                        out,
                        "<input type=hidden name=op value=quota><input type=hidden name=address value=\"{}\"><input type=text name=quota size=5 style=\"width:5em\" placeholder=\"{}\"><button>Set</button></form></td><td>",
                        html::e(a),
                        html::e(&crate::admin::show_size(r.quota))
                    );
                    html::form_open(out, "/admin/users", csrf, "row");
                    let _ = write!(
                        out,
                        "<input type=hidden name=op value=passwd><input type=hidden name=address value=\"{}\"><input type=password name=password placeholder=\"new password\"><button>Set</button></form></td><td>",
                        html::e(a)
                    );
                    html::button(out, "/admin/users", csrf, "del", &[("address", a)], "Delete");
                    out.push_str("</td></tr>");
                }
                out.push_str("</table>");
            }
        }
        out.push_str("<h2>Add a user</h2>");
        html::form_open(out, "/admin/users", csrf, "");
        out.push_str("<fieldset><input type=hidden name=op value=add>");
        html::input(out, "Address", "address", "text", "you@home.arpa");
        html::input(out, "Password", "password", "password", "");
        html::input(out, "Quota", "quota", "text", "e.g. 2G; empty: none");
        out.push_str("<button>Add</button></fieldset></form>");
        out.push_str("<p>The same as <code>smolmail user add|del|passwd|quota|list</code>.</p>");
    })
}

fn quota(form: &Form) -> Result<Option<u64>, String> {
    match form.text("quota") {
        "" => Ok(None),
        q => crate::admin::parse_quota(q).map(Some),
    }
}

fn password(form: &Form) -> Result<&str, String> {
    let p = form.get("password");
    if p.is_empty() || p.len() > crate::auth::MAX_PASSWORD {
        return Err(format!(
            "a password has 1 to {} bytes",
            crate::auth::MAX_PASSWORD
        ));
    }
    Ok(p)
}

/// A user deleted or given a new password is logged out of these pages
/// too (their session was opened with the old password).
fn end_sessions(cx: &Cx<'_>, address: &str) {
    if let Ok(address) = crate::address::normalize(address) {
        let role = super::sessions::Role::User(address);
        cx.ctx.admin_sessions.remove_role(&role, "");
    }
}

pub async fn act(cx: &Cx<'_>, form: &Form) -> Result<String, String> {
    let store = &cx.ctx.store;
    let address = form.text("address");
    match form.text("op") {
        "add" => {
            let quota = quota(form)?;
            let hash = hash(password(form)?).await;
            crate::admin::add_user(store, address, &hash, quota).await
        }
        "del" => {
            let done = crate::admin::del_user(store, address).await?;
            end_sessions(cx, address);
            Ok(done)
        }
        "passwd" => {
            let hash = hash(password(form)?).await;
            let done = crate::admin::set_password(store, address, &hash).await?;
            end_sessions(cx, address);
            Ok(done)
        }
        "quota" => {
            let q = quota(form)?.unwrap_or(0);
            crate::admin::set_quota(store, address, q).await
        }
        _ => Err("unknown change".into()),
    }
}
