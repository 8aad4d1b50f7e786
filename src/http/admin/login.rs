//! Logging in and out. The operator logs in with the admin password (an
//! argon2id hash in the store, `smolmail admin passwd`); a mail user with
//! their own address and password. Both go through the failed-login
//! limiter every protocol shares (`auth::limiter`), keyed by the client
//! address and the name tried, and through the verifier's bounded line on
//! the blocking pool: the executor never hashes.

use std::net::IpAddr;

use super::form::Form;
use super::sessions::{self, Current, Role};
use super::{Cx, html, html_response, redirect};
use crate::auth::LoginResult;
use crate::auth::password::needs_rehash;
use crate::context::Context;
use crate::http::{Request, Response};
use crate::store::StoreError;

/// The name the operator's failures count under in the limiter.
const ADMIN_NAME: &str = "admin";
/// Characters of a typed user name that reach the log (an address is
/// rarely longer; a whole password pasted there is not kept).
const MAX_LOGGED_USER: usize = 64;

/// The login form, with what went wrong last time.
pub fn page(error: Option<&str>) -> Response {
    let status = if error.is_some() { 403 } else { 200 };
    let body = html::page("Log in", html::Nav::None, "", error, |out| {
        out.push_str(
            "<form method=post action=\"/admin/login\"><fieldset>\
             <p><label>User <input type=text name=user autocomplete=username placeholder=\"empty for the administrator\"></label></p>\
             <p><label>Password <input type=password name=password autocomplete=current-password></label></p>\
             <p><button>Log in</button></p></fieldset></form>\
             <p>The administrator leaves the user empty; a mail user gives their address to change their own password.</p>",
        );
    });
    html_response(status, body)
}

/// A login attempt: a session and its cookie, or the form again.
pub async fn post(ctx: &Context, req: &Request<'_>, form: &Form) -> Response {
    let ip = req.peer.ip();
    let user = form.text("user");
    let password = form.get("password").to_string();
    // What was typed as the user may be a password typed in the wrong
    // field, or a forged log line: quoted, escaped and cut.
    let shown = format!("{:?}", super::cut(user, MAX_LOGGED_USER));
    let result = if user.is_empty() || user.eq_ignore_ascii_case(ADMIN_NAME) {
        admin_login(ctx, ip, password)
            .await
            .map(|hash| (Role::Admin, Some(sessions::fingerprint(&hash))))
    } else {
        match ctx.login(ip, user, password).await {
            LoginResult::Ok(account) => {
                // An imported hash is replaced right after this login
                // (auth's upgrade): the session takes the new one's
                // fingerprint once it is there.
                let hash = &account.password_hash;
                let fp = (!needs_rehash(hash)).then(|| sessions::fingerprint(hash));
                Ok((Role::User(account.address), fp))
            }
            other => Err(other),
        }
    };
    let (role, fingerprint) = match result {
        Ok(found) => found,
        Err(LoginResult::Blocked(b)) => {
            log::warn!("admin: {ip} login as {shown} refused: too many failures");
            let text = format!(
                "error: too many failed logins; try again in {} seconds",
                b.retry_after.as_secs().max(1)
            );
            let mut answer = page(Some(&text));
            answer.status = 429;
            return answer.with_header("Retry-After", b.retry_after.as_secs().max(1).to_string());
        }
        Err(LoginResult::Busy | LoginResult::Unavailable(_)) => {
            return page(Some("error: the server is busy; try again in a moment"));
        }
        Err(_) => {
            log::warn!("admin: {ip} login as {shown} failed");
            return page(Some("error: wrong user or password"));
        }
    };
    let token = match ctx.admin_sessions.create(role.clone(), fingerprint) {
        Ok(token) => token,
        Err(sessions::NoSession::NoRandom) => {
            log::error!("admin: no random bytes for a session token");
            return page(Some("error: the server could not start a session"));
        }
        Err(sessions::NoSession::Full) => {
            log::warn!(
                "admin: {ip} login as {} refused: every session place is taken",
                role.name()
            );
            let mut answer = page(Some(
                "error: too many people are logged in to these pages right now; try again later",
            ));
            answer.status = 503;
            return answer;
        }
    };
    // The session this browser had is replaced, not left behind.
    if let Some(old) = req.header("cookie").and_then(sessions::token_in) {
        ctx.admin_sessions.remove(old);
    }
    log::info!("admin: {ip} logged in as {}", role.name());
    let home = match role {
        Role::Admin => "/admin",
        Role::User(_) => "/admin/me",
    };
    redirect(home).with_header("Set-Cookie", sessions::set_cookie(&token))
}

/// Checks the admin password for a login from `ip`, limiter included;
/// gives the stored hash it matched.
pub async fn admin_login(
    ctx: &Context,
    ip: IpAddr,
    password: String,
) -> Result<String, LoginResult> {
    let attempt = ctx
        .limiter
        .begin(ip, ADMIN_NAME, ctx.config.is_trusted(ip))
        .map_err(LoginResult::Blocked)?;
    if password.len() > crate::auth::MAX_PASSWORD {
        // As auth::login: no password is that long; a failure, counted
        // and slowed like any other, that costs no hash.
        log::info!(
            "admin: {ip}: a password over the size limit ({} bytes)",
            password.len()
        );
        smol::Timer::after(attempt.delay).await;
        return Err(LoginResult::Failed);
    }
    let stored = match ctx.store.read().and_then(|r| r.admin_password()) {
        Ok(stored) => stored,
        Err(e) => {
            ctx.limiter.cancel(&attempt);
            return Err(LoginResult::Unavailable(e));
        }
    };
    let verified = match &stored {
        Some(stored) => ctx.verifier.verify(ip, stored.clone(), password).await,
        None => {
            log::warn!(
                "admin: no admin password is set (smolmail admin passwd, or SMOLMAIL_ADMIN_PASSWORD)"
            );
            Ok(false)
        }
    };
    match verified {
        Ok(true) => {
            ctx.limiter.success(&attempt);
            Ok(stored.unwrap_or_default())
        }
        Ok(false) => {
            smol::Timer::after(attempt.delay).await;
            Err(LoginResult::Failed)
        }
        Err(_) => {
            ctx.limiter.cancel(&attempt);
            Err(LoginResult::Busy)
        }
    }
}

/// Whether `session` still stands for its principal's password: the
/// account (or the admin password) is there and its hash is the one the
/// session was opened with. One short read transaction per request.
pub fn still_valid(ctx: &Context, session: &Current) -> Result<bool, StoreError> {
    let current = {
        let reader = ctx.store.read()?;
        match &session.role {
            Role::Admin => reader.admin_password()?,
            Role::User(address) => reader.account(address)?.map(|a| a.password_hash),
        }
    };
    let Some(current) = current else {
        return Ok(false);
    };
    let now = sessions::fingerprint(&current);
    Ok(match session.fingerprint {
        Some(then) => then == now,
        // Opened with an imported hash whose upgrade is still under way.
        None if needs_rehash(&current) => true,
        None => {
            ctx.admin_sessions.set_fingerprint(&session.token, now);
            true
        }
    })
}

/// Ends the session here and in the browser.
pub fn logout(cx: &Cx<'_>) -> Response {
    cx.ctx.admin_sessions.remove(&cx.session.token);
    log::info!("admin: {} {} logged out", cx.ip(), cx.session.role.name());
    redirect("/admin/login").with_header("Set-Cookie", sessions::clear_cookie())
}
