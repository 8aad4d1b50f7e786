//! The web admin pages' settings (`crate::http::admin`): who may reach
//! them (`--admin-from`) and the operator's first password
//! (`--admin-password`, hashed at start and kept only as the hash).

use super::{Cidr, ConfigError, Secret, ServeArgs, parse_networks, pick};

/// `--admin-from`, else the trusted networks plus loopback (the pages hand
/// out every user's mailbox; a stranger should not even see the login).
pub fn resolve_admin_from(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    trusted: &[Cidr],
) -> Result<Vec<Cidr>, ConfigError> {
    match pick(&args.admin_from, "admin-from", env) {
        Some(raw) => parse_networks(
            raw.value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty()),
            &raw.origin,
        ),
        None => {
            let mut nets = trusted.to_vec();
            for loopback in ["127.0.0.0/8", "::1/128"] {
                let net = Cidr::parse(loopback).expect("a valid network");
                if !nets.contains(&net) {
                    nets.push(net);
                }
            }
            Ok(nets)
        }
    }
}

/// `--admin-password` (on the board: `SMOLMAIL_ADMIN_PASSWORD` in
/// smolmail.env): set as the admin password at start when none is set yet.
pub fn resolve_admin_password(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    match pick(&args.admin_password, "admin-password", env) {
        Some(raw) if raw.value.is_empty() => Ok(None),
        Some(raw) if raw.value.len() > crate::auth::MAX_PASSWORD => Err(ConfigError(format!(
            "{}: longer than {} bytes",
            raw.origin,
            crate::auth::MAX_PASSWORD
        ))),
        Some(raw) => Ok(Some(Secret(raw.value))),
        None => Ok(None),
    }
}
