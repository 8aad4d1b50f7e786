//! Settings of the web face that are more than a listen address: the
//! MTA-STS policy served to other mail servers (RFC 8461 §3.2).

use super::{ConfigError, ServeArgs, env_name, pick};

/// The policy's mode (RFC 8461 §5): what senders do when our MX fails the
/// policy. `none` is served too: it is how a domain withdraws a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtaStsMode {
    Enforce,
    Testing,
    None,
}

impl MtaStsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MtaStsMode::Enforce => "enforce",
            MtaStsMode::Testing => "testing",
            MtaStsMode::None => "none",
        }
    }
}

/// The MTA-STS policy served at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`.
#[derive(Debug, Clone, PartialEq)]
pub struct MtaSts {
    pub mode: MtaStsMode,
    /// MX host names or `*.` patterns (RFC 8461 §4.1).
    pub mx: Vec<String>,
    /// Seconds a sender may cache the policy (at most 31557600, §3.2).
    pub max_age: u32,
}

/// `--mta-sts-mode` (off by default: no policy served), `--mta-sts-mx`
/// (default: the hostname), `--mta-sts-max-age` (default one week).
pub(super) fn resolve_mta_sts(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    hostname: &str,
) -> Result<Option<MtaSts>, ConfigError> {
    let mode = match pick(&args.mta_sts_mode, "mta-sts-mode", env) {
        None => return Ok(None),
        Some(raw) => match raw.value.trim().to_ascii_lowercase().as_str() {
            "off" => return Ok(None),
            "enforce" => MtaStsMode::Enforce,
            "testing" => MtaStsMode::Testing,
            "none" => MtaStsMode::None,
            _ => return Err(raw.error("must be enforce, testing, none or off")),
        },
    };
    let (list, origin) = if args.mta_sts_mx.is_empty() {
        let var = env_name("mta-sts-mx");
        match env(&var) {
            Some(v) => (v.split(',').map(str::to_string).collect(), var),
            None => (vec![hostname.to_string()], String::new()),
        }
    } else {
        (args.mta_sts_mx.clone(), "--mta-sts-mx".to_string())
    };
    let mut mx = Vec::new();
    for pattern in list.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (wild, name) = match pattern.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", pattern),
        };
        let name = crate::address::normalize_domain(name)
            .map_err(|e| ConfigError(format!("{origin}={pattern:?}: {e}")))?;
        mx.push(format!("{wild}{name}"));
    }
    if mx.is_empty() {
        return Err(ConfigError(format!("{origin}: names no MX host")));
    }
    let max_age = match pick(&args.mta_sts_max_age, "mta-sts-max-age", env) {
        Some(raw) => raw
            .value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 31_557_600)
            .ok_or_else(|| raw.error("must be seconds from 0 to 31557600 (RFC 8461 §3.2)"))?,
        None => 604_800,
    };
    Ok(Some(MtaSts { mode, mx, max_age }))
}
