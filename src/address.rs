//! Mail addresses as smolmail stores and compares them.
//!
//! RFC 5321 §2.4 lets a server treat local parts case-sensitively, but no
//! home user expects `Alice@` and `alice@` to be two people (DESIGN.md:
//! "local parts too, in practice"), so every address is kept lower-case.
//! Domains compare case-insensitively by RFC 5321 §2.4. Full SMTP path
//! syntax (quoted local parts, source routes) is the SMTP parser's job; this
//! module validates the plain `local@domain` form that accounts, aliases and
//! the CLI use.

/// Longest address we accept: RFC 5321 §4.5.3.1.3 limits a path to 256
/// octets including the angle brackets.
pub const MAX_ADDRESS: usize = 254;

/// Lower-cases and validates `local@domain`; the error says what is wrong.
pub fn normalize(address: &str) -> Result<String, String> {
    let address = address.trim();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(format!(
            "{address:?} is not an address: expected local@domain"
        ));
    };
    if address.len() > MAX_ADDRESS {
        return Err(format!("{address:?} is longer than {MAX_ADDRESS} octets"));
    }
    // RFC 5321 §4.5.3.1.1: a local part has at most 64 octets.
    if local.is_empty() || local.len() > 64 {
        return Err(format!(
            "{address:?}: the local part must be 1 to 64 octets"
        ));
    }
    if let Some(c) = local.chars().find(|c| {
        c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '@' | '"' | ',' | ':' | ';')
    }) {
        return Err(format!("{address:?}: the local part may not contain {c:?}"));
    }
    let domain = normalize_domain(domain)?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}

/// Lower-cases and validates a domain name (RFC 1035 §2.3.1 labels, UTF-8
/// labels allowed for SMTPUTF8 domains).
pub fn normalize_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_empty() || domain.len() > 253 {
        return Err(format!(
            "{domain:?} is not a domain name: it must be 1 to 253 octets"
        ));
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-');
        if !ok {
            return Err(format!(
                "{domain:?} is not a domain name: bad label {label:?}"
            ));
        }
    }
    Ok(domain.to_lowercase())
}

/// The domain part of a normalized address.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// `user+tag@domain` → `user@domain` (sub-addressing, as Postfix's
/// `recipient_delimiter = +`); `None` when there is no tag.
pub fn without_tag(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    let (base, _) = local.split_once('+')?;
    (!base.is_empty()).then(|| format!("{base}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_trailing_dot() {
        assert_eq!(normalize(" Alice@Home.ARPA. ").unwrap(), "alice@home.arpa");
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "alice",
            "@home.arpa",
            "alice@",
            "a b@home.arpa",
            "a@-x.org",
            "a@x..org",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize(&format!("{}@x.org", "a".repeat(65))).is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(without_tag("bob+lists@x.org").as_deref(), Some("bob@x.org"));
        assert_eq!(without_tag("bob@x.org"), None);
        assert_eq!(without_tag("+x@x.org"), None);
    }
}
