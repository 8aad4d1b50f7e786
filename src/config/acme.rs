//! The ACME settings (`crate::acme`, RFC 8555): which names, which
//! directory (Let's Encrypt's by default, or a LAN CA such as step-ca),
//! which root to trust for it, the contact address and the challenge.

use std::path::PathBuf;

use super::{ConfigError, Raw, ServeArgs, pick};

/// Let's Encrypt's production directory (RFC 8555 §7.1.1).
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Most names in one certificate: Let's Encrypt's limit.
pub const MAX_NAMES: usize = 100;

/// How the CA checks that we control a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// RFC 8737: a special certificate on port 443.
    TlsAlpn01,
    /// RFC 8555 §8.3: a file under /.well-known/acme-challenge/ on port 80.
    Http01,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AcmeConfig {
    /// The certificate's names: the hostname first, then --acme-domain.
    pub domains: Vec<String>,
    pub directory: String,
    /// PEM root(s) also trusted for the directory (`--acme-ca`).
    pub ca: Option<PathBuf>,
    /// Contact address for the account (RFC 8555 §7.3), as `mailto:`.
    pub email: Option<String>,
    pub challenge: AcmeChallenge,
}

/// ACME is on when `--acme-domain` or `--acme-directory` is given; the
/// other ACME settings alone are a mistake worth stopping for.
pub(super) fn resolve_acme(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    hostname: &str,
    tls_files: bool,
    listen: &super::Listen,
) -> Result<Option<AcmeConfig>, ConfigError> {
    let domain = pick(&args.acme_domain, "acme-domain", env);
    let directory = pick(&args.acme_directory, "acme-directory", env);
    let ca = pick(&args.acme_ca, "acme-ca", env);
    let email = pick(&args.acme_email, "acme-email", env);
    let challenge = pick(&args.acme_challenge, "acme-challenge", env);
    let on = domain.as_ref().or(directory.as_ref()).map(|raw| Raw {
        value: raw.value.clone(),
        origin: raw.origin.clone(),
    });
    let Some(on) = on else {
        if let Some(raw) = [ca, email, challenge].into_iter().flatten().next() {
            return Err(raw.error("needs --acme-domain or --acme-directory"));
        }
        return Ok(None);
    };
    if tls_files {
        return Err(on.error("ACME and --tls-cert both choose the certificate: give one"));
    }
    let domains = names(hostname, domain.as_ref())?;
    let directory = match directory {
        Some(raw) if !raw.value.starts_with("https://") => {
            return Err(raw.error("must be an https:// URL (RFC 8555 §6.1)"));
        }
        Some(raw) => raw.value,
        None => LETS_ENCRYPT.to_string(),
    };
    let ca = match ca {
        Some(raw) if !std::path::Path::new(&raw.value).is_file() => {
            return Err(raw.error("no such file"));
        }
        Some(raw) => Some(PathBuf::from(raw.value)),
        None => None,
    };
    let email = match email {
        Some(raw) => Some(
            crate::address::normalize(raw.value.trim())
                .map(|a| format!("mailto:{a}"))
                .map_err(|e| raw.error(e))?,
        ),
        None => None,
    };
    let challenge = match challenge {
        None => AcmeChallenge::TlsAlpn01,
        Some(raw) => match raw.value.trim().to_ascii_lowercase().as_str() {
            "tls-alpn-01" => AcmeChallenge::TlsAlpn01,
            "http-01" => AcmeChallenge::Http01,
            _ => return Err(raw.error("must be tls-alpn-01 or http-01")),
        },
    };
    // A challenge nothing can answer would only fail, retried for ever.
    // RFC 8737 §3: the CA connects to port 443 only, so TLS-ALPN-01 needs
    // the HTTPS listener (on any port: a router may forward 443 to it).
    match challenge {
        AcmeChallenge::Http01 if listen.http.is_none() => {
            return Err(on.error("http-01 needs the --http listener (it is off)"));
        }
        AcmeChallenge::TlsAlpn01 if listen.https.is_none() => {
            return Err(on.error(
                "tls-alpn-01 needs the --https listener (the CA connects to port 443; it is off)",
            ));
        }
        _ => {}
    }
    Ok(Some(AcmeConfig {
        domains,
        directory,
        ca,
        email,
        challenge,
    }))
}

/// The hostname, then each comma-separated name once, normalized.
fn names(hostname: &str, raw: Option<&Raw>) -> Result<Vec<String>, ConfigError> {
    let mut names = vec![hostname.to_string()];
    let Some(raw) = raw else {
        return Ok(names);
    };
    for name in raw
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let name = crate::address::normalize_domain(name).map_err(|e| raw.error(e))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.len() > MAX_NAMES {
        return Err(raw.error(format!("at most {MAX_NAMES} names in one certificate")));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: ServeArgs, files: bool) -> Result<Option<AcmeConfig>, ConfigError> {
        let listen =
            super::super::listen::resolve_listen(&ServeArgs::default(), &|_| None).unwrap();
        resolve_acme(&args, &|_| None, "mail.home.arpa", files, &listen)
    }

    #[test]
    fn acme_settings_resolve_and_refuse_nonsense() {
        assert_eq!(resolve(ServeArgs::default(), false), Ok(None));
        let on = resolve(
            ServeArgs {
                acme_domain: Some("autoconfig.home.arpa, MAIL.home.arpa".into()),
                ..Default::default()
            },
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(on.domains, ["mail.home.arpa", "autoconfig.home.arpa"]);
        assert_eq!(on.directory, LETS_ENCRYPT);
        assert_eq!(on.challenge, AcmeChallenge::TlsAlpn01);
        let err = resolve(
            ServeArgs {
                acme_email: Some("me@home.arpa".into()),
                ..Default::default()
            },
            false,
        )
        .unwrap_err();
        assert!(err.0.contains("needs --acme-domain"), "{err}");
        let err = resolve(
            ServeArgs {
                acme_directory: Some("http://ca.lan/dir".into()),
                ..Default::default()
            },
            false,
        )
        .unwrap_err();
        assert!(err.0.contains("https://"), "{err}");
        let err = resolve(
            ServeArgs {
                acme_domain: Some("x.home.arpa".into()),
                acme_challenge: Some("dns-01".into()),
                ..Default::default()
            },
            false,
        )
        .unwrap_err();
        assert!(err.0.contains("tls-alpn-01 or http-01"), "{err}");
        let err = resolve(
            ServeArgs {
                acme_domain: Some("x.home.arpa".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap_err();
        assert!(err.0.contains("--tls-cert"), "{err}");
        let email = resolve(
            ServeArgs {
                acme_directory: Some("https://ca.lan/acme/acme/directory".into()),
                acme_email: Some("me@home.arpa".into()),
                ..Default::default()
            },
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(email.email.as_deref(), Some("mailto:me@home.arpa"));
        assert_eq!(email.domains, ["mail.home.arpa"]);
        let http_off = ServeArgs {
            http: Some("off".into()),
            ..Default::default()
        };
        let listen = super::super::listen::resolve_listen(&http_off, &|_| None).unwrap();
        let args = ServeArgs {
            acme_domain: Some("x.home.arpa".into()),
            acme_challenge: Some("http-01".into()),
            ..Default::default()
        };
        let err = resolve_acme(&args, &|_| None, "mail.home.arpa", false, &listen).unwrap_err();
        assert!(err.0.contains("needs the --http listener"), "{err}");
        // RFC 8737 §3: validation comes to port 443 only; IMAPS being on
        // does not help.
        let https_off = ServeArgs {
            https: Some("off".into()),
            ..Default::default()
        };
        let listen = super::super::listen::resolve_listen(&https_off, &|_| None).unwrap();
        assert!(listen.imaps.is_some());
        let args = ServeArgs {
            acme_domain: Some("x.home.arpa".into()),
            ..Default::default()
        };
        let err = resolve_acme(&args, &|_| None, "mail.home.arpa", false, &listen).unwrap_err();
        assert!(err.0.contains("needs the --https listener"), "{err}");
    }
}
