//! The router of the `--http` and `--https` listeners: which path answers
//! what.
//!
//! - `/.well-known/acme-challenge/TOKEN`, plain HTTP only (RFC 8555 §8.3:
//!   the CA fetches it from port 80);
//! - Thunderbird's `/mail/config-v1.1.xml` and
//!   `/.well-known/autoconfig/mail/config-v1.1.xml` (`?emailaddress=`);
//! - Outlook's `POST /autodiscover/autodiscover.xml` (any case);
//! - Apple's `/apple/ADDRESS.mobileconfig`;
//! - `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, HTTPS only (RFC 8461
//!   §3.3: a policy fetched otherwise must not be used);
//! - the admin pages under `/admin` (`super::admin`), HTTPS only.
//!
//! Mail settings are given only for the server's own domains (those with
//! users or aliases): any other domain gets 404, so the server does not
//! tell strangers about domains it does not serve.

use super::autoconfig::{self, Endpoints};
use super::{Request, Response, autodiscover, challenge, mobileconfig, mta_sts};
use crate::context::Context;

const XML: &str = "application/xml; charset=utf-8";

/// Answers one request to the HTTP or HTTPS listener.
pub async fn route(ctx: &Context, request: &Request<'_>) -> Response {
    let path = request.path();
    if super::admin::is_admin_path(path) {
        return super::admin::route(ctx, request).await;
    }
    let method = request.method();
    if !matches!(method, "GET" | "HEAD" | "POST") {
        // RFC 9110 §9.1: a method the server does not implement.
        return Response::text(501, "method not implemented\n");
    }
    let read_only = |answer: &dyn Fn() -> Response| {
        if method == "POST" {
            Response::method_not_allowed("GET, HEAD")
        } else {
            answer()
        }
    };
    if path.starts_with("/.well-known/acme-challenge/") && !request.tls {
        return read_only(&|| challenge::answer(path).unwrap_or_else(Response::not_found));
    }
    if path == "/mail/config-v1.1.xml" || path == "/.well-known/autoconfig/mail/config-v1.1.xml" {
        return read_only(&|| thunderbird(ctx, request));
    }
    if path.eq_ignore_ascii_case("/autodiscover/autodiscover.xml") {
        if method != "POST" {
            return Response::method_not_allowed("POST");
        }
        return outlook(ctx, request);
    }
    if let Some(name) = path
        .strip_prefix("/apple/")
        .and_then(|p| p.strip_suffix(".mobileconfig"))
    {
        return read_only(&|| apple(ctx, name));
    }
    if path == mta_sts::PATH && request.tls {
        return read_only(&|| mta_sts_policy(ctx, request));
    }
    Response::not_found()
}

/// Whether `domain` is one the server receives mail for.
fn is_ours(ctx: &Context, domain: &str) -> bool {
    match ctx.store.read().and_then(|r| r.is_local_domain(domain)) {
        Ok(ours) => ours,
        Err(e) => {
            log::error!("http: cannot read the domains: {e}");
            false
        }
    }
}

/// `address` normalised, if its domain is ours.
fn our_address(ctx: &Context, address: &str) -> Option<String> {
    let address = crate::address::normalize(address).ok()?;
    is_ours(ctx, crate::address::domain_of(&address)).then_some(address)
}

fn thunderbird(ctx: &Context, request: &Request<'_>) -> Response {
    let domain = match request.query_param("emailaddress") {
        Some(address) => {
            our_address(ctx, &address).map(|a| crate::address::domain_of(&a).to_string())
        }
        // Without the parameter, the domain the client asked (autoconfig.DOMAIN).
        None => request.host().and_then(|h| {
            let d = h.strip_prefix("autoconfig.").unwrap_or(&h).to_string();
            is_ours(ctx, &d).then_some(d)
        }),
    };
    let endpoints = Endpoints::of(&ctx.config);
    match domain {
        Some(d) if !endpoints.incoming.is_empty() => {
            Response::new(200, XML, autoconfig::thunderbird(&d, &endpoints))
        }
        _ => Response::not_found(),
    }
}

fn outlook(ctx: &Context, request: &Request<'_>) -> Response {
    let Some(address) = autodiscover::email_address(request.body) else {
        return Response::text(400, "no EMailAddress in the request\n");
    };
    let endpoints = Endpoints::of(&ctx.config);
    match our_address(ctx, &address) {
        Some(a) if !endpoints.incoming.is_empty() => {
            Response::new(200, XML, autodiscover::response(&a, &endpoints))
        }
        _ => Response::not_found(),
    }
}

fn apple(ctx: &Context, name: &str) -> Response {
    let profile = super::percent_decode(name, false)
        .and_then(|a| our_address(ctx, &a))
        .and_then(|a| Some((mobileconfig::profile(&a, &Endpoints::of(&ctx.config))?, a)));
    match profile {
        Some((body, address)) => Response::new(200, mobileconfig::CONTENT_TYPE, body).with_header(
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}.mobileconfig\"",
                address.replace(['"', '\\'], "_")
            ),
        ),
        None => Response::not_found(),
    }
}

fn mta_sts_policy(ctx: &Context, request: &Request<'_>) -> Response {
    let domain = request
        .host()
        .and_then(|h| h.strip_prefix("mta-sts.").map(str::to_string));
    match (&ctx.config.mta_sts, domain) {
        (Some(settings), Some(d)) if is_ours(ctx, &d) => {
            Response::text(200, mta_sts::policy(settings))
        }
        _ => Response::not_found(),
    }
}
