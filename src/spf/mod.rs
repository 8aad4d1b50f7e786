//! SPF (RFC 7208): is the client allowed to send for the domain of MAIL
//! FROM (and of HELO)? `record.rs` parses records, `macros.rs` expands
//! §7 macros (both pure and fuzzed), `eval.rs` is `check_host()` over the
//! async resolver with the §4.6.4 limits. [`check`] runs both identities
//! (§2.3, §2.4) for one incoming message, bounded by [`CHECK_TIME`].

pub mod eval;
pub mod macros;
pub mod record;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

pub use eval::Dns;

/// §4.6.4 suggests at least 20 seconds for the whole check; it is also
/// the most a client waits for it.
pub const CHECK_TIME: Duration = Duration::from_secs(20);

/// §2.6's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    /// The name in Authentication-Results (RFC 8601 §2.7.2).
    pub fn name(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

/// The verdicts for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// MAIL FROM's domain (HELO's for a null sender, §2.4).
    pub mailfrom_domain: String,
    pub mailfrom: SpfResult,
    pub mailfrom_reason: String,
    /// `None` when HELO is not a domain (an address literal, §2.3).
    pub helo: Option<SpfResult>,
}

/// Checks MAIL FROM (`sender`, empty for `<>`) and HELO of a client at
/// `ip`, the two concurrently; past [`CHECK_TIME`] the unfinished ones are
/// temperror.
pub async fn check<D: Dns>(dns: &D, ip: IpAddr, sender: &str, helo: &str) -> Verdict {
    let helo = helo.trim_end_matches('.');
    let postmaster = format!("postmaster@{helo}");
    // §2.4: a null sender is checked as postmaster@HELO.
    let sender = if sender.is_empty() {
        postmaster.as_str()
    } else {
        sender
    };
    let domain = sender.rsplit_once('@').map_or(helo, |(_, d)| d).to_string();
    let timeout = || async {
        async_io::Timer::after(CHECK_TIME).await;
        (SpfResult::TempError, "SPF check timed out".to_string())
    };
    let from = smol::future::or(
        async {
            eval::Eval::new(dns, ip, sender, helo)
                .check_host(&domain)
                .await
        },
        timeout(),
    );
    // §2.3: HELO is checked when it is a domain at all.
    let helo_check = async {
        if !eval::valid_domain(helo) {
            return None;
        }
        let run = async {
            eval::Eval::new(dns, ip, &postmaster, helo)
                .check_host(helo)
                .await
        };
        Some(smol::future::or(run, timeout()).await.0)
    };
    let ((mailfrom, mailfrom_reason), helo) = smol::future::zip(from, helo_check).await;
    Verdict {
        mailfrom_domain: domain.to_ascii_lowercase(),
        mailfrom,
        mailfrom_reason,
        helo,
    }
}
