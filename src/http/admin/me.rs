//! `/admin/me`: a mail user's own page (their quota and usage, a new
//! password) and, for the operator, the admin password. A change needs the
//! current password again (checked through the limiter like a login), so
//! a session left open on a shared screen cannot take the account over.

use std::fmt::Write as _;

use super::form::Form;
use super::sessions::Role;
use super::{Cx, html, login};
use crate::auth::LoginResult;
use crate::http::Response;

pub fn page(cx: &Cx<'_>) -> Response {
    let (title, usage) = match &cx.session.role {
        Role::Admin => ("Administrator password".to_string(), None),
        Role::User(address) => {
            let row = crate::admin::users(&cx.ctx.store)
                .ok()
                .and_then(|rows| rows.into_iter().find(|r| r.address == *address));
            (format!("Account {address}"), Some(row))
        }
    };
    cx.page(&title, |out| {
        if let Some(row) = usage {
            out.push_str("<p>Mail stored: ");
            match row {
                Some(r) => html::usage(out, r.used, r.quota),
                None => out.push_str("unknown"),
            }
            out.push_str("</p>");
        }
        out.push_str("<h2>Change the password</h2>");
        html::form_open(out, "/admin/me", cx.csrf(), "");
        out.push_str("<fieldset><input type=hidden name=op value=passwd>");
        html::input(out, "Current password", "current", "password", "");
        out.push_str("<br>");
        html::input(out, "New password", "new", "password", "");
        html::input(out, "Again", "again", "password", "");
        let _ = write!(out, "<br><button>Change</button></fieldset></form>");
    })
}

pub async fn act(cx: &Cx<'_>, form: &Form) -> Result<String, String> {
    if form.text("op") != "passwd" {
        return Err("unknown change".into());
    }
    let new = form.get("new");
    if new != form.get("again") {
        return Err("the new passwords differ; nothing changed".into());
    }
    if new.is_empty() || new.len() > crate::auth::MAX_PASSWORD {
        return Err(format!(
            "a password has 1 to {} bytes; nothing changed",
            crate::auth::MAX_PASSWORD
        ));
    }
    let (ctx, ip) = (cx.ctx, cx.ip());
    let current = form.get("current").to_string();
    let checked = match &cx.session.role {
        Role::Admin => login::admin_login(ctx, ip, current).await.map(drop),
        Role::User(address) => match ctx.login(ip, address, current).await {
            LoginResult::Ok(_) => Ok(()),
            other => Err(other),
        },
    };
    if let Err(e) = checked {
        return Err(match e {
            LoginResult::Blocked(_) => "too many failed attempts; try again later".into(),
            _ => "the current password is wrong; nothing changed".into(),
        });
    }
    let hash = super::users::hash(new).await;
    let text = match &cx.session.role {
        Role::Admin => {
            ctx.store
                .set_admin_password(&hash, false)
                .await
                .map_err(|e| e.to_string())?;
            "changed the admin password".to_string()
        }
        Role::User(address) => crate::admin::set_password(&ctx.store, address, &hash).await?,
    };
    // Other sessions of the same role were opened with the old password;
    // this one goes on with the new.
    ctx.admin_sessions
        .remove_role(&cx.session.role, &cx.session.token);
    ctx.admin_sessions
        .set_fingerprint(&cx.session.token, super::sessions::fingerprint(&hash));
    Ok(text)
}
