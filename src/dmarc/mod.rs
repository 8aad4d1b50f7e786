//! DMARC (RFC 7489): does the domain in From agree with a domain that SPF
//! or DKIM vouched for, and what does its owner want done when it does not?
//! `record.rs` parses `_dmarc` records (pure, fuzzed); this file finds them
//! and judges one message; `inbound.rs` joins SPF, DKIM and DMARC for
//! port-25 mail.
//!
//! The organisational domain (§3.2) comes from the DNS tree walk of
//! DMARCbis (the method RFC 9091 started): `_dmarc` is asked for at the
//! name and up the tree, at most [`MAX_WALK`] names. No public-suffix list
//! is compiled in: it is ~230 KB on a board whose binary is budgeted in
//! KB, and a copy frozen into a firmware image goes stale while the image
//! runs for years; the walk asks the domains' owners instead.

pub mod inbound;
pub mod record;

use crate::net::dns::{Answer, Qtype, Record as DnsRecord};
use crate::spf::{Dns, SpfResult};
pub use record::Policy;

/// DMARCbis §4.10: names asked in one walk (the name, then up to 7 of its
/// parents).
pub const MAX_WALK: usize = 8;

/// RFC 8601 §2.7.5 results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcResult {
    None,
    Pass,
    Fail,
    TempError,
    PermError,
}

impl DmarcResult {
    pub fn name(self) -> &'static str {
        match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub result: DmarcResult,
    /// The From domain (empty when there was none to judge).
    pub from: String,
    /// The policy the domain asks for this message (after sp= and pct=);
    /// only meaningful for `Fail`.
    pub policy: Policy,
    pub reason: String,
}

/// The names a walk asks about, bottom first: the domain, then its
/// parents from the seventh-level one down to the top label (§4.10 of
/// DMARCbis: long names jump straight to seven labels).
pub fn walk_names(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let mut out = vec![domain.to_string()];
    let first = labels.len().saturating_sub(1).min(MAX_WALK - 1);
    for keep in (1..=first).rev() {
        out.push(labels[labels.len() - keep..].join("."));
    }
    out
}

/// The walk's findings: each name with its record, bottom first.
type Walk = Vec<(String, Option<record::Record>)>;

async fn walk<D: Dns>(dns: &D, domain: &str) -> Result<Walk, String> {
    let mut out = Vec::new();
    for name in walk_names(domain) {
        let found = match dns.lookup(&format!("_dmarc.{name}"), Qtype::Txt).await {
            Ok(Answer::Records(rs)) => {
                let texts: Vec<String> = rs
                    .into_iter()
                    .filter_map(|r| match r {
                        DnsRecord::Txt(t) if record::is_dmarc(&t) => Some(t),
                        _ => None,
                    })
                    .collect();
                // §6.6.3: none or several: no policy here.
                match &texts[..] {
                    [one] => record::parse(one).ok(),
                    _ => None,
                }
            }
            Ok(_) => None,
            Err(e) => return Err(format!("_dmarc.{name}: {e}")),
        };
        out.push((name, found));
    }
    Ok(out)
}

/// The organisational domain from a walk (DMARCbis §4.10.2): the record
/// nearest the root wins; `psd=y` there makes it a public suffix, so the
/// name one label below is the organisation; `psd=n` stops the climb.
pub fn org_domain(domain: &str, walk: &Walk) -> String {
    let mut best: Option<String> = None;
    for (i, (name, rec)) in walk.iter().enumerate() {
        let Some(rec) = rec else { continue };
        match rec.psd {
            Some(false) => return name.clone(),
            Some(true) => {
                // The name one label longer on the path to `domain`.
                let below = walk[..i].iter().rev().map(|(n, _)| n).next();
                best = Some(below.cloned().unwrap_or_else(|| domain.to_string()));
            }
            None => best = Some(name.clone()),
        }
    }
    best.unwrap_or_else(|| domain.to_string())
}

/// Whether two domains share their last two labels: relaxed alignment
/// is impossible otherwise, so no walk is needed.
fn may_align(a: &str, b: &str) -> bool {
    fn tail(d: &str) -> Vec<&str> {
        d.rsplitn(3, '.').take(2).collect()
    }
    a.contains('.') && tail(a) == tail(b)
}

/// §3.1: `id` aligned with `from`, strictly (equal) or relaxed (same
/// organisational domain).
async fn aligned<D: Dns>(dns: &D, id: &str, from: &str, from_org: &str, strict: bool) -> bool {
    if id.eq_ignore_ascii_case(from) {
        return true;
    }
    if strict || !may_align(id, from) {
        return false;
    }
    match walk(dns, id).await {
        Ok(w) => org_domain(id, &w) == from_org,
        Err(_) => false,
    }
}

/// §4.2, §6.6: judges a message whose From domain is `from` (`None` when
/// From is missing or names several addresses), given SPF's result for
/// the MAIL FROM domain and the DKIM verdicts `(result, d=)`. `roll` is a
/// number in 0..100 for pct= (random in use, fixed in tests).
pub async fn evaluate<D: Dns>(
    dns: &D,
    from: Option<&str>,
    spf: (SpfResult, &str),
    dkim: &[(&str, &str)],
    roll: u8,
) -> Verdict {
    let verdict = |result, from: &str, policy, reason: String| Verdict {
        result,
        from: from.to_string(),
        policy,
        reason,
    };
    let Some(from) = from else {
        // §6.6.1: a message without exactly one From domain cannot be
        // judged.
        let why = "no single From domain".to_string();
        return verdict(DmarcResult::PermError, "", Policy::None, why);
    };
    let from = from.to_ascii_lowercase();
    let w = match walk(dns, &from).await {
        Ok(w) => w,
        Err(e) => return verdict(DmarcResult::TempError, &from, Policy::None, e),
    };
    let Some((at, rec)) = w.iter().find_map(|(n, r)| Some((n.clone(), r.clone()?))) else {
        let why = "no DMARC record".to_string();
        return verdict(DmarcResult::None, &from, Policy::None, why);
    };
    let org = org_domain(&from, &w);
    if spf.0 == SpfResult::Pass && aligned(dns, spf.1, &from, &org, rec.strict_spf).await {
        return verdict(
            DmarcResult::Pass,
            &from,
            Policy::None,
            format!("SPF {} aligned", spf.1),
        );
    }
    for (result, d) in dkim {
        if *result == "pass" && aligned(dns, d, &from, &org, rec.strict_dkim).await {
            let why = format!("DKIM d={d} aligned");
            return verdict(DmarcResult::Pass, &from, Policy::None, why);
        }
    }
    // §6.6.3: sp= applies when the record was found above the From domain.
    let mut policy = if at == from {
        rec.p
    } else {
        rec.sp.unwrap_or(rec.p)
    };
    // §6.6.4: only pct% of failures get the policy; the rest the next
    // weaker one.
    if roll >= rec.pct {
        policy = policy.weaker();
    }
    let why = format!(
        "no aligned SPF or DKIM pass (policy of {at}: {})",
        policy.name()
    );
    verdict(DmarcResult::Fail, &from, policy, why)
}

/// What the SMTP session does with a judged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deliver,
    /// `550 5.7.1` at the end of DATA.
    Refuse,
    /// Into the recipients' Junk mailboxes.
    Junk,
}

/// RFC 7489 §6.7 leaves the last word to the receiver: `setting` is the
/// operator's `--dmarc-policy`, applied only to a real `fail` (a
/// temperror or permerror is delivered, marked).
pub fn action(setting: crate::config::DmarcPolicy, v: &Verdict) -> Action {
    use crate::config::DmarcPolicy as Setting;
    if v.result != DmarcResult::Fail {
        return Action::Deliver;
    }
    match (setting, v.policy) {
        (Setting::None, _) | (_, Policy::None) => Action::Deliver,
        (Setting::Reject, Policy::Reject) => Action::Refuse,
        (Setting::Reject | Setting::Junk, _) => Action::Junk,
    }
}

#[cfg(test)]
mod tests;
