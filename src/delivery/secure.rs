//! How each MX host of a domain must be spoken to, by DANE (RFC 7672)
//! and MTA-STS (RFC 8461), decided before connecting:
//!
//! 1. DANE per MX host: a TLSA answer for `_PORT._tcp.HOST` (PORT: the
//!    one connected to, 25 in real use; RFC 6698 §3) with the AD bit
//!    (RFC 7672 §2.2; believed only from resolvers on this host, the one
//!    secure path a stub has, RFC 4035 §4.9.3: `net::dns::ad_trusted`;
//!    with a remote resolver DANE is off, logged once) makes TLS
//!    mandatory and the certificate must match a usable record (§3).
//!    A secure set with no usable record still demands TLS, unauthenticated
//!    (§2.2; Postfix's "encrypt" level). DANE beats MTA-STS (RFC 8461 §2)
//!    only for hosts an `enforce` policy names: an unsigned MX answer does
//!    not protect against redirection (§2.2.1), so an enforce policy first
//!    drops the hosts it does not name, signed TLSA or not, and a set of
//!    only unusable records falls back to the policy's verified TLS. Simplification: the
//!    security of the host's A/AAAA records (§2.2.2) is not asked, and a
//!    failed TLSA lookup counts as no TLSA rather than deferring the host,
//!    which a resolver that cannot answer TLSA would otherwise turn into
//!    mail that never leaves. An MX host name that is a CNAME is not
//!    expanded for the TLSA lookup (§2.2.2 would try the expanded name
//!    first): the TLSA records are asked at the MX name only.
//! 2. Otherwise the domain's MTA-STS policy: `enforce` keeps only MX hosts
//!    the policy names and requires TLS with a certificate valid for the
//!    host name (§4.1, §4.2, §5.1); `testing` logs what would fail and
//!    delivers as before (§5.2); `none` or no policy: as before.
//! 3. Neither: opportunistic TLS, as for every MX.
//!
//! A host left with no way to be reached is dropped with a log line; a
//! domain left with no host is deferred (4.7.5): RFC 8461 §5.1 says
//! temporary, so a fixed certificate or policy gets the mail through.

use std::sync::Arc;

use rustls::ClientConfig;

use super::client::{Hop, TlsPolicy, Transport};
use super::mta_sts::Sts;
use super::route::RouteError;
use crate::net::dns::{Answer, Qtype, Record, Resolver};
use crate::wire::mta_sts::{Mode, Policy};
use crate::wire::tlsa::{self, Parsed, Tlsa};

/// What the secure settings need from the runner.
pub struct Security {
    pub sts: Sts,
    /// Verifying configuration for MX hosts of an `enforce` domain.
    pub verified: Arc<ClientConfig>,
}

/// What the DNS says about one MX host's TLSA records.
enum Dane {
    /// No secure answer: DANE does not apply.
    Off,
    /// Secure, but nothing usable: TLS without authentication.
    Unusable,
    Records(Vec<Tlsa>),
}

/// At most this many records of one host are used (a bound on work in
/// every handshake; real sets have one to four).
const MAX_TLSA: usize = 16;

/// RFC 6698 §3: the TLSA name carries the port actually connected to
/// (25 in real use, RFC 7672 §2.2; another with `--smtp-port-out`).
fn tlsa_name(host: &str, port: u16) -> String {
    format!("_{port}._tcp.{host}")
}

async fn dane(host: &str, port: u16, resolver: &Resolver) -> Dane {
    let name = tlsa_name(host, port);
    match resolver.lookup_secure(&name, Qtype::Tlsa).await {
        Ok((Answer::Records(records), true)) => {
            let usable: Vec<Tlsa> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Tlsa(data) => match tlsa::parse(data) {
                        Some(Parsed::Usable(t)) => Some(t),
                        _ => None,
                    },
                    _ => None,
                })
                .take(MAX_TLSA)
                .collect();
            if usable.is_empty() {
                Dane::Unusable
            } else {
                Dane::Records(usable)
            }
        }
        Ok((Answer::Records(_), false)) => {
            log::info!(
                "delivery: TLSA records of {name} are not DNSSEC-validated (no AD bit); DANE not used"
            );
            Dane::Off
        }
        Ok(_) => Dane::Off,
        Err(e) => {
            log::info!("delivery: TLSA lookup of {name}: {e}; DANE not used");
            Dane::Off
        }
    }
}

fn required(base: &Transport, tls: Arc<ClientConfig>, why: String) -> Transport {
    Transport {
        tls,
        policy: TlsPolicy::Required { implicit: false },
        required_by: Some(why),
        ..base.clone()
    }
}

/// The hops of `domain` that may be tried, each with its transport, under
/// `policy` (looked up by the caller before it takes a connection permit,
/// which also filtered the MX names with it: `route::hops`).
pub async fn plan(
    domain: &str,
    hops: Vec<Hop>,
    base: &Transport,
    security: &Security,
    policy: Option<&Policy>,
    resolver: &Resolver,
) -> Result<(Vec<Hop>, Vec<Transport>), RouteError> {
    let mut kept = Vec::with_capacity(hops.len());
    let mut transports: Vec<Transport> = Vec::with_capacity(hops.len());
    let mut refused = Vec::new();
    let mut by_host: Vec<(String, Option<Transport>)> = Vec::new();
    for hop in hops {
        if let Some((_, t)) = by_host.iter().find(|(h, _)| *h == hop.name) {
            if let Some(t) = t.clone() {
                kept.push(hop);
                transports.push(t);
            }
            continue;
        }
        let enforce = policy.filter(|p| p.mode == Mode::Enforce);
        // RFC 7672 §2.2.1: an unsigned MX RRset does not protect against
        // redirection, so a host the enforce policy does not name is not
        // used even when its own TLSA records are signed; RFC 8461 §2 only
        // forbids MTA-STS to override a *failing* DANE check.
        if enforce.is_some_and(|p| !p.allows(&hop.name)) {
            log::warn!(
                "delivery: MX host {} of {domain} is not in its MTA-STS policy (enforce): not used (RFC 8461 §4.1)",
                hop.name
            );
            refused.push(hop.name.clone());
            by_host.push((hop.name.clone(), None));
            continue;
        }
        let tlsa = tlsa_name(&hop.name, hop.addr.port());
        let transport = match dane(&hop.name, hop.addr.port(), resolver).await {
            Dane::Records(records) => match crate::net::dane::config(records) {
                Ok(tls) => Some({
                    log::info!(
                        "delivery: DANE for MX host {}: DNSSEC-validated TLSA records of {tlsa}: TLS required, certificate checked against them (RFC 7672 §3)",
                        hop.name
                    );
                    required(base, tls, format!("DANE (TLSA of {tlsa}, RFC 7672)"))
                }),
                Err(e) => {
                    log::warn!("delivery: DANE for {}: {e}", hop.name);
                    None
                }
            },
            // Unusable records authenticate nothing: an enforce policy
            // still demands its verified TLS (RFC 8461 §4.2).
            Dane::Unusable if enforce.is_some() => Some(required(
                base,
                security.verified.clone(),
                format!("the MTA-STS policy of {domain} (enforce, RFC 8461 §4.2)"),
            )),
            Dane::Unusable => {
                log::info!(
                    "delivery: TLSA records of {} are all unusable: TLS required, certificate not checked (RFC 7672 §2.2)",
                    hop.name
                );
                Some(required(
                    base,
                    base.tls.clone(),
                    format!("DANE (unusable TLSA of {tlsa})"),
                ))
            }
            Dane::Off => match policy {
                Some(p) if p.mode == Mode::Enforce => Some(required(
                    base,
                    security.verified.clone(),
                    format!("the MTA-STS policy of {domain} (enforce, RFC 8461 §4.2)"),
                )),
                Some(p) if p.mode == Mode::Testing && !p.allows(&hop.name) => {
                    log::warn!(
                        "delivery: MX host {} of {domain} is not in its MTA-STS policy (testing): delivering anyway (RFC 8461 §5.2)",
                        hop.name
                    );
                    Some(base.clone())
                }
                _ => Some(base.clone()),
            },
        };
        by_host.push((hop.name.clone(), transport.clone()));
        if let Some(t) = transport {
            kept.push(hop);
            transports.push(t);
        }
    }
    if kept.is_empty() {
        let text = if refused.is_empty() {
            format!("no MX host of {domain} can be reached securely")
        } else {
            format!(
                "no MX host of {domain} matches its MTA-STS policy (enforce): {}",
                refused.join(", ")
            )
        };
        return Err(RouteError {
            permanent: false,
            status: "4.7.5",
            text,
        });
    }
    Ok((kept, transports))
}

#[cfg(test)]
mod tests {
    /// RFC 6698 §3: the TLSA name is made from the port connected to.
    #[test]
    fn rfc6698_3_tlsa_name_carries_the_port_used() {
        assert_eq!(super::tlsa_name("mx.example", 25), "_25._tcp.mx.example");
        assert_eq!(
            super::tlsa_name("mx.example", 2525),
            "_2525._tcp.mx.example"
        );
    }
}
