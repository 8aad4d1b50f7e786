//! The admin pages at `https://HOST/admin` (issue "administer the box
//! from a browser"): the operator's face of the same operations the CLI
//! runs (`crate::admin`, `delivery::admin`, `fetch::admin`, `dkim::admin`),
//! and a mail user's page for their own password and quota.
//!
//! Every request passes, in order: the client address (`--admin-from`,
//! else the trusted networks and loopback: others get 403 and a log line);
//! HTTPS only (the session cookie is `Secure`); for a POST, no cross-site
//! origin (`Origin`, `Sec-Fetch-Site`, RFC 6454 §7 and Fetch Metadata);
//! then the session cookie ([`sessions`]) and, for a POST, the session's
//! CSRF token in the form. A mail user's session reaches `/admin/me` and
//! nothing else. GET and HEAD change nothing; each change is a form POST
//! answered by a redirect to its page (no JavaScript needed anywhere), and
//! is logged with who made it.

mod backup;
mod certs;
mod dns;
mod domains;
mod fetch;
pub mod form;
pub mod html;
mod login;
mod me;
mod queue;
pub mod sessions;
mod status;
mod users;

use std::net::IpAddr;

use form::Form;
pub use sessions::Sessions;
use sessions::{Current, Role};

use super::{Request, Response};
use crate::context::Context;

/// What a page handler is given.
pub struct Cx<'a> {
    pub ctx: &'a Context,
    pub req: &'a Request<'a>,
    pub session: Current,
}

impl Cx<'_> {
    pub fn ip(&self) -> IpAddr {
        self.req.peer.ip()
    }

    /// A page for the operator, with the navigation and the flash line.
    pub fn page(&self, title: &str, body: impl FnOnce(&mut String)) -> Response {
        let nav = match self.session.role {
            Role::Admin => html::Nav::Admin,
            Role::User(_) => html::Nav::User,
        };
        let bytes = html::page(
            title,
            nav,
            &self.session.csrf,
            self.session.flash.as_deref(),
            body,
        );
        html_response(200, bytes)
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

/// An HTML answer with the headers every admin page carries: no caching
/// (the pages show passwords' owners and mail state), no framing, and a
/// policy that runs no script at all.
pub fn html_response(status: u16, body: Vec<u8>) -> Response {
    Response::new(status, "text/html; charset=utf-8", body)
        .with_header("Cache-Control", "no-store")
        .with_header("X-Frame-Options", "DENY")
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "same-origin")
        .with_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
}

/// A refusal page (403 and the like), also for clients without a session.
pub fn refusal(status: u16, why: &str) -> Response {
    html_response(
        status,
        html::page("Refused", html::Nav::None, "", None, |out| {
            out.push_str("<p>");
            html::esc(out, why);
            out.push_str("</p><p><a href=\"/admin/login\">Log in</a></p>");
        }),
    )
}

/// 303 See Other to `path` (RFC 9110 §15.4.4): after a POST, the browser
/// GETs the page, so reloading it does not repeat the change.
pub fn redirect(path: &str) -> Response {
    Response::new(303, "text/plain; charset=utf-8", "see other\n").with_header("Location", path)
}

/// `https://HOST[:PORT]/admin/...` for a plain-HTTP request, when the HTTPS
/// listener is on and the request's Host is a plain name or address (it
/// goes into a header: nothing else is let through).
fn https_location(ctx: &Context, req: &Request<'_>) -> Option<String> {
    let port = ctx.config.listen.https?.port();
    let host = req.host()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if host.is_empty() || host.len() > 255 || !host.chars().all(plain) {
        return None;
    }
    let path = req.path();
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(if port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    })
}

/// Whether `path` is one of the admin pages'.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Answers one request under `/admin`.
pub async fn route(ctx: &Context, req: &Request<'_>) -> Response {
    let ip = req.peer.ip();
    let path = req.path();
    // For the log: visible ASCII (the parser's rule), but up to 8 KiB.
    let shown = cut(path, MAX_LOGGED_PATH);
    if !ctx.config.may_admin(ip) {
        // The HTTPS listener is public: scanners probe /admin all day, and
        // warnings would push the real ones out of the status page.
        if let Some(more) = ctx.repeated_line(ip) {
            log::info!("admin: {ip} refused {shown}: not in --admin-from{more}");
        }
        return refusal(
            403,
            "The admin pages are not served to this network address.",
        );
    }
    let method = req.method();
    if !req.tls {
        // Plain HTTP, where mDNS's `_http._tcp` points browsers (RFC 6763
        // has no HTTPS type): a GET is sent to the same page over HTTPS;
        // nothing is served or taken in the clear.
        return match https_location(ctx, req) {
            Some(location) if matches!(method, "GET" | "HEAD") => {
                Response::new(308, "text/plain; charset=utf-8", "over HTTPS\n")
                    .with_header("Location", &location)
            }
            _ => refusal(403, "The admin pages are served over HTTPS only."),
        };
    }
    if !matches!(method, "GET" | "HEAD" | "POST") {
        return Response::method_not_allowed("GET, HEAD, POST");
    }
    let post = method == "POST";
    if post && let Some(why) = cross_site(req) {
        log::warn!("admin: {ip} refused a cross-site POST to {shown}: {why}");
        return refusal(403, "A change must come from the admin pages themselves.");
    }
    let form = if post {
        match Form::parse(req.body) {
            Some(form) => Some(form),
            None => return refusal(400, "The form could not be read."),
        }
    } else {
        None
    };
    if path == "/admin/login" {
        return match &form {
            Some(form) => login::post(ctx, req, form).await,
            None => login::page(None),
        };
    }
    let session = req
        .header("cookie")
        .and_then(sessions::token_in)
        .and_then(|token| ctx.admin_sessions.get(token));
    let session = match session.map(|s| (login::still_valid(ctx, &s), s)) {
        None => None,
        Some((Ok(true), s)) => Some(s),
        Some((Ok(false), s)) => {
            log::info!(
                "admin: {ip} {}: session ended: its password was changed or the account deleted",
                s.role.name()
            );
            ctx.admin_sessions.remove(&s.token);
            None
        }
        Some((Err(e), _)) => {
            log::error!("admin: cannot read the store to check a session: {e}");
            return refusal(503, "The server cannot read its store; try again later.");
        }
    };
    let Some(session) = session else {
        if post {
            log::warn!("admin: {ip} POST {shown} without a session refused");
            return refusal(403, "Your session has ended; log in again.");
        }
        return redirect("/admin/login");
    };
    if let Some(form) = &form
        && !sessions::same_token(form.get("csrf"), &session.csrf)
    {
        log::warn!(
            "admin: {ip} {}: POST {shown} without the page's CSRF token refused",
            session.role.name()
        );
        return refusal(
            403,
            "The form is stale or was not sent by the admin pages; reload the page.",
        );
    }
    let cx = Cx { ctx, req, session };
    if path == "/admin/logout" {
        return match form {
            Some(_) => login::logout(&cx),
            None => Response::method_not_allowed("POST"),
        };
    }
    if let Role::User(_) = cx.session.role
        && path != "/admin/me"
    {
        log::warn!(
            "admin: {ip} {}: a mail user's session refused {shown}",
            cx.session.role.name()
        );
        return refusal(403, "This page is for the administrator.");
    }
    match form {
        Some(form) => change(&cx, path, &form).await,
        None => show(&cx, path).await,
    }
}

/// Why a POST looks cross-site, if it does: an `Origin` that is not this
/// host over HTTPS, or `Sec-Fetch-Site` other than same-origin (or none,
/// typed by the user). Browsers send at least one of them on a form POST.
fn cross_site(req: &Request<'_>) -> Option<&'static str> {
    if let Some(site) = req.header("sec-fetch-site")
        && !matches!(site, b"same-origin" | b"none")
    {
        return Some("Sec-Fetch-Site is not same-origin");
    }
    if let Some(origin) = req.header("origin") {
        let host = req.header("host").unwrap_or_default();
        let expected = [b"https://".as_slice(), host].concat();
        if !origin.eq_ignore_ascii_case(&expected) {
            return Some("Origin is another site");
        }
    }
    None
}

/// A GET of a page.
async fn show(cx: &Cx<'_>, path: &str) -> Response {
    match path {
        "/admin" | "/admin/" => status::page(cx),
        "/admin/users" => users::page(cx),
        "/admin/domains" => domains::page(cx),
        "/admin/fetch" => fetch::page(cx),
        "/admin/queue" => queue::page(cx),
        "/admin/dns" => dns::page(cx).await,
        "/admin/certs" => certs::page(cx),
        "/admin/backup" => backup::page(cx),
        "/admin/me" => me::page(cx),
        _ => Response::not_found(),
    }
}

/// A POST: the change, logged, its outcome kept for the next page, and a
/// redirect there. The backup download answers with the file instead.
async fn change(cx: &Cx<'_>, path: &str, form: &Form) -> Response {
    let op = loggable_word(form.text("op"), MAX_LOGGED_OP);
    let outcome = match path {
        "/admin/users" => users::act(cx, form).await,
        "/admin/domains" => domains::act(cx, form).await,
        "/admin/fetch" => fetch::act(cx, form).await,
        "/admin/queue" => queue::act(cx, form).await,
        "/admin/dns" => dns::act(cx, form).await,
        "/admin/me" => me::act(cx, form).await,
        "/admin/backup" => return backup::download(cx).await,
        _ => return Response::not_found(),
    };
    let (ip, who) = (cx.ip(), cx.session.role.name());
    let text = match outcome {
        Ok(text) => {
            log::info!(
                "admin: {ip} {who}: {path} {op}: {}",
                loggable_line(first_line(&text))
            );
            text
        }
        Err(why) => {
            log::info!(
                "admin: {ip} {who}: {path} {op} failed: {}",
                loggable_line(first_line(&why))
            );
            format!("error: {why}")
        }
    };
    cx.ctx.admin_sessions.flash(&cx.session.token, text);
    redirect(path)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Longest form `op` value logged as it is (the pages' own are short words).
const MAX_LOGGED_OP: usize = 32;
/// Longest request path logged.
const MAX_LOGGED_PATH: usize = 100;
/// Longest outcome text logged.
const MAX_LOGGED_LINE: usize = 200;

/// The first `max` characters of `text`.
pub fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Client-supplied `text` fit for one log line: a short plain word (the
/// pages' `op` values) as it is, anything else quoted and escaped (a CR or
/// LF cannot start a forged line) and cut to `max` characters.
pub fn loggable_word(text: &str, max: usize) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !text.is_empty() && text.len() <= max && text.bytes().all(plain) {
        return text.to_string();
    }
    format!("{:?}", cut(text, max))
}

/// An outcome line (which may quote what the form said) with control
/// characters escaped and cut to [`MAX_LOGGED_LINE`] characters.
fn loggable_line(text: &str) -> String {
    let mut out = String::new();
    for c in cut(text, MAX_LOGGED_LINE).chars() {
        match c.is_control() {
            true => out.extend(c.escape_debug()),
            false => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_in_the_log_is_one_escaped_bounded_line() {
        assert_eq!(loggable_word("alias-add", 32), "alias-add");
        assert_eq!(
            loggable_word("add\r\nadmin: 1.2.3.4 logged in as admin", 32),
            "\"add\\r\\nadmin: 1.2.3.4 logged in as\""
        );
        assert_eq!(loggable_word("", 32), "\"\"");
        assert_eq!(loggable_word(&"x".repeat(5000), 32).len(), 34);
        assert_eq!(loggable_line("a\rb\u{1b}[2J"), "a\\rb\\u{1b}[2J");
        assert_eq!(
            loggable_line(&"é".repeat(500)).chars().count(),
            MAX_LOGGED_LINE
        );
    }
}
