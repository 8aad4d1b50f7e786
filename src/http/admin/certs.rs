//! `/admin/certs`: the certificate in service (names, issuer, validity,
//! fingerprint, days left) and where it comes from: files, the generated
//! self-signed pair, or ACME (RFC 8555) with its directory and challenge.

use std::fmt::Write as _;

use super::{Cx, html};
use crate::http::Response;

/// What the page shows of a certificate.
struct Shown {
    subject: String,
    issuer: String,
    names: Vec<String>,
    not_before: i64,
    not_after: i64,
}

fn read(der: &[u8]) -> Option<Shown> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Shown {
        subject: common_name(cert.subject()),
        issuer: common_name(cert.issuer()),
        names,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A name's common name (or organisation), without x509-parser's generic
/// name formatting and its table of every OID's name (34 KiB of the
/// release binary, measured).
fn common_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    name.iter_common_name()
        .chain(name.iter_organization())
        .find_map(|a| a.as_str().ok())
        .unwrap_or("?")
        .to_string()
}

pub fn page(cx: &Cx<'_>) -> Response {
    let ctx = cx.ctx;
    let shown = ctx.tls.end_entity().and_then(|der| read(&der));
    let now = crate::time::now();
    cx.page("Certificates", |out| {
        out.push_str("<table id=cert>");
        let row = |out: &mut String, k: &str, v: &str| {
            let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", html::e(k), html::e(v));
        };
        let source = match (&ctx.config.acme, &ctx.config.tls_files) {
            (Some(_), _) if ctx.tls.from_acme() => "ACME (obtained and renewed by smolmail)".to_string(),
            (Some(_), _) => "ACME: not obtained yet; the self-signed or file certificate serves meanwhile".to_string(),
            (None, Some((cert, _))) => format!("the file {}", cert.display()),
            (None, None) => "self-signed, generated in the data directory (clients warn)".to_string(),
        };
        row(out, "Source", &source);
        match &shown {
            Some(c) => {
                row(out, "Subject", &c.subject);
                row(out, "Names", &c.names.join(", "));
                row(out, "Issuer", &c.issuer);
                row(out, "Valid from", &crate::time::rfc5322(c.not_before));
                row(out, "Expires", &crate::time::rfc5322(c.not_after));
                let days = (c.not_after - now).div_euclid(86400);
                row(out, "Days left", &days.to_string());
            }
            None => row(out, "Certificate", "cannot be read"),
        }
        row(out, "SHA-256", &ctx.tls.fingerprint());
        if let Some(acme) = &ctx.config.acme {
            row(out, "ACME directory", &acme.directory);
            row(out, "ACME names", &acme.domains.join(", "));
            row(out, "ACME challenge", &format!("{:?}", acme.challenge));
            row(out, "ACME contact", acme.email.as_deref().unwrap_or("none"));
        }
        out.push_str("</table>");
        out.push_str("<p>ACME renews by itself well before expiry; a file certificate is re-read on SIGHUP.</p>");
    })
}
