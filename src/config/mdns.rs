//! `--mdns` and `--mdns-name`: whether the server answers for its name
//! on the local link by multicast DNS (RFC 6762) and announces its
//! services by DNS-SD (RFC 6763), and under which name. The responder
//! itself is `crate::mdns`.

use super::{ConfigError, ServeArgs, parse_bool, pick};

/// `Some(label)`: answer `label.local`; `None`: mDNS off. On by default
/// with the first label of the hostname, as a home server is found by its
/// short name (`mail.local`) before any DNS zone exists.
pub(super) fn resolve_mdns(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    hostname: &str,
) -> Result<Option<String>, ConfigError> {
    if let Some(raw) = pick(&args.mdns, "mdns", env) {
        match parse_bool(&raw.value) {
            Some(true) => {}
            Some(false) => return Ok(None),
            None => return Err(raw.error("must be on or off")),
        }
    }
    match pick(&args.mdns_name, "mdns-name", env) {
        Some(raw) => check_label(&raw.value).map(Some).map_err(|e| raw.error(e)),
        // A hostname's first label is already a valid DNS label.
        None => Ok(Some(
            hostname.split('.').next().unwrap_or(hostname).to_string(),
        )),
    }
}

/// One host-name label (RFC 952/1123: letters, digits, inner hyphens, at
/// most 63 bytes), lower-cased; `.local` is added by the responder. Room
/// is left for the `-N` a name conflict adds (RFC 6762 §9).
pub fn check_label(text: &str) -> Result<String, String> {
    let label = text.trim().trim_end_matches(".local").to_ascii_lowercase();
    let ok = (1..=59).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if ok {
        Ok(label)
    } else {
        Err("must be one host-name label: letters, digits and inner hyphens, at most 59".into())
    }
}
