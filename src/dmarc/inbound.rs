//! Port-25 mail from outside judged: SPF (RFC 7208) of MAIL FROM and
//! HELO and the DKIM signatures (RFC 6376) checked concurrently, then
//! DMARC (RFC 7489) from both; the verdicts go into one
//! `Authentication-Results:` field (RFC 8601 §2.7) and the DMARC verdict
//! back to the SMTP session, which applies the policy.
//!
//! Time: SPF is bounded by `spf::CHECK_TIME`, DKIM's key lookups by
//! `dkim::inbound::LOOKUP_TIME`, DMARC's walks by [`DMARC_TIME`]; the
//! first two run side by side, so a client waits at most ~30 s.

use std::net::IpAddr;
use std::time::Duration;

use super::{DmarcResult, Policy, Verdict};
use crate::dkim::inbound as dkim;
use crate::net::dns::Resolver;
use crate::spf::{self, SpfResult};

/// All `_dmarc` lookups of one message.
pub const DMARC_TIME: Duration = Duration::from_secs(10);

/// The envelope of the message being judged.
pub struct Envelope<'a> {
    pub ip: IpAddr,
    pub helo: &'a str,
    /// MAIL FROM, empty for `<>`.
    pub sender: &'a str,
}

/// Judges `message[base..]`, replaces Authentication-Results fields that
/// claim `authserv_id` (RFC 8601 §5) with ours at `base`, logs one line,
/// and returns the message and the DMARC verdict.
pub async fn annotate(
    resolver: &Resolver,
    authserv_id: &str,
    message: Vec<u8>,
    base: usize,
    env: &Envelope<'_>,
    log_prefix: &str,
) -> (Vec<u8>, Verdict) {
    let now = crate::time::now().max(0) as u64;
    // Every lookup of the checks goes through the answer cache.
    let resolver = &crate::net::dns::cache::Cached(resolver);
    let spf_check = spf::check(resolver, env.ip, env.sender, env.helo);
    let dkim_check = dkim::check(resolver, message, base, now);
    let (spf, (mut message, dkim_verdicts)) = smol::future::zip(spf_check, dkim_check).await;
    let from = crate::dkim::outbound::from_domain(&message[base..]);
    let passes: Vec<(&str, &str)> = dkim_verdicts
        .iter()
        .map(|v| (v.result, v.domain.as_str()))
        .collect();
    let judged = super::evaluate(
        resolver,
        from.as_deref(),
        (spf.mailfrom, &spf.mailfrom_domain),
        &passes,
        roll(),
    );
    let timeout = async {
        async_io::Timer::after(DMARC_TIME).await;
        Verdict {
            result: DmarcResult::TempError,
            from: from.clone().unwrap_or_default(),
            policy: Policy::None,
            reason: "DMARC lookups timed out".into(),
        }
    };
    let dmarc = smol::future::or(judged, timeout).await;

    dkim::strip_own_results(&mut message, base, authserv_id, log_prefix);
    let mut summary: Vec<String> = dkim_verdicts
        .iter()
        .map(|v| format!("dkim={} d={} s={}", v.result, v.domain, v.selector))
        .collect();
    if summary.is_empty() {
        summary.push("dkim=none".into());
    }
    log::info!(
        "{log_prefix}: spf={} ({}), {}, dmarc={} header.from={} ({})",
        spf.mailfrom.name(),
        spf.mailfrom_reason,
        summary.join(", "),
        dmarc.result.name(),
        dmarc.from,
        dmarc.reason
    );
    let field = results_field(authserv_id, &dkim_verdicts, &spf, &dmarc, env.helo);
    message.splice(base..base, field.into_bytes());
    (message, dmarc)
}

/// A number in 0..100 for pct= sampling (RFC 7489 §6.6.4).
fn roll() -> u8 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 1];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[0] % 100
}

/// RFC 8601's field: the DKIM results, then `spf=` for MAIL FROM (and
/// HELO, §2.7.2) and `dmarc=` (RFC 7489 §11.2).
pub fn results_field(
    authserv_id: &str,
    dkim_verdicts: &[dkim::Verdict],
    spf: &spf::Verdict,
    dmarc: &Verdict,
    helo: &str,
) -> String {
    let mut field = dkim::results_field(authserv_id, dkim_verdicts);
    field.truncate(field.len() - 2);
    field.push_str(&format!(
        ";\r\n\tspf={} smtp.mailfrom={}",
        spf.mailfrom.name(),
        property(&spf.mailfrom_domain)
    ));
    if let Some(h) = spf.helo
        && h != SpfResult::None
    {
        field.push_str(&format!(
            ";\r\n\tspf={} smtp.helo={}",
            h.name(),
            property(helo)
        ));
    }
    field.push_str(&format!(";\r\n\tdmarc={}", dmarc.result.name()));
    if dmarc.result == DmarcResult::Fail {
        field.push_str(&format!(" (p={})", dmarc.policy.name()));
    }
    if !dmarc.from.is_empty() {
        field.push_str(&format!(" header.from={}", property(&dmarc.from)));
    }
    field.push_str("\r\n");
    field
}

/// A property value: the client chose it, so only a domain's characters
/// are kept (no `;`, comments or line breaks can be smuggled in).
fn property(v: &str) -> String {
    let clean: String = v
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
        .take(253)
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8601_2_7_spf_and_dmarc_in_the_field() {
        let spf = spf::Verdict {
            mailfrom_domain: "example.com".into(),
            mailfrom: SpfResult::SoftFail,
            mailfrom_reason: String::new(),
            helo: Some(SpfResult::Pass),
        };
        let dmarc = Verdict {
            result: DmarcResult::Fail,
            from: "example.com".into(),
            policy: Policy::Reject,
            reason: String::new(),
        };
        let f = results_field("mx.example.org", &[], &spf, &dmarc, "mx;x(.example.com");
        assert_eq!(
            f,
            "Authentication-Results: mx.example.org;\r\n\tdkim=none;\r\n\tspf=softfail smtp.mailfrom=example.com;\r\n\tspf=pass smtp.helo=mxx.example.com;\r\n\tdmarc=fail (p=reject) header.from=example.com\r\n"
        );
    }
}
