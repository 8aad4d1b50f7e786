//! The DKIM key record (RFC 6376 §3.6.1, `k=ed25519` from RFC 8463 §4):
//! parsed from the TXT text at `SELECTOR._domainkey.DOMAIN` for verifying,
//! and written for `smolmail dkim add` and `smolmail dns-records`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Algorithm, tags};

/// RFC 8301 §3.2: verifiers MUST NOT consider signatures with RSA keys
/// under 1024 bits valid.
pub const MIN_RSA_BITS: usize = 1024;

/// A usable public key from a key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub algorithm: Algorithm,
    /// Ed25519: the 32-byte public key; RSA: the RSAPublicKey DER that
    /// `ring` takes (unwrapped from the record's SubjectPublicKeyInfo).
    pub public: Vec<u8>,
    /// `t=y`: the domain is testing DKIM (§3.6.1).
    pub testing: bool,
    /// `t=s`: `i=` must be in `d=` itself, not a subdomain.
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Syntax(tags::TagError),
    TooLong,
    /// `v=` other than DKIM1, or not the first tag.
    Version,
    /// `k=` not rsa or ed25519.
    KeyType(String),
    /// `h=` leaves out sha256, the only hash we verify.
    Hash,
    /// `s=` does not cover email.
    Service,
    /// An empty `p=`: the key was revoked (§3.6.1).
    Revoked,
    /// An RSA key under [`MIN_RSA_BITS`] (RFC 8301 §3.2).
    TooSmall(usize),
    /// `p=` is not base64 or not a key of its type.
    BadKey,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Syntax(e) => write!(f, "key record: {e}"),
            KeyError::TooLong => {
                write!(f, "key record longer than {} bytes", super::MAX_KEY_RECORD)
            }
            KeyError::Version => f.write_str("key record: v= is not DKIM1 first"),
            KeyError::KeyType(k) => write!(f, "key record: unknown key type k={k}"),
            KeyError::Hash => f.write_str("key record: h= excludes sha256"),
            KeyError::Service => f.write_str("key record: s= excludes email"),
            KeyError::Revoked => f.write_str("key revoked (empty p=)"),
            KeyError::TooSmall(bits) => write!(f, "RSA key of {bits} bits, under {MIN_RSA_BITS}"),
            KeyError::BadKey => f.write_str("key record: p= is not a usable key"),
        }
    }
}

/// Does a colon-separated list hold `want` (or `*` if `star`)?
fn list_has(value: &[u8], want: &[u8], star: bool) -> bool {
    value
        .split(|&b| b == b':')
        .map(|item| item.trim_ascii())
        .any(|item| item.eq_ignore_ascii_case(want) || (star && item == b"*"))
}

/// Parses a key record's text.
pub fn parse(text: &[u8]) -> Result<KeyRecord, KeyError> {
    if text.len() > super::MAX_KEY_RECORD {
        return Err(KeyError::TooLong);
    }
    let list = tags::parse(text).map_err(KeyError::Syntax)?;
    if let Some(v) = list.get("v")
        && (v != b"DKIM1" || list.tags[0].0 != "v")
    {
        return Err(KeyError::Version);
    }
    let algorithm = match list.get("k").unwrap_or(b"rsa") {
        b"rsa" => Algorithm::RsaSha256,
        b"ed25519" => Algorithm::Ed25519Sha256,
        other => return Err(KeyError::KeyType(String::from_utf8_lossy(other).into())),
    };
    if let Some(h) = list.get("h")
        && !list_has(h, b"sha256", false)
    {
        return Err(KeyError::Hash);
    }
    if let Some(s) = list.get("s")
        && !list_has(s, b"email", true)
    {
        return Err(KeyError::Service);
    }
    let flags = list.get("t").unwrap_or_default();
    let p = tags::without_fws(list.get("p").ok_or(KeyError::BadKey)?);
    if p.is_empty() {
        return Err(KeyError::Revoked);
    }
    let p = STANDARD.decode(&p).map_err(|_| KeyError::BadKey)?;
    let public = match algorithm {
        Algorithm::Ed25519Sha256 if p.len() == 32 => p,
        Algorithm::Ed25519Sha256 => return Err(KeyError::BadKey),
        Algorithm::RsaSha256 => {
            let key = super::der::rsa_public_key(&p).ok_or(KeyError::BadKey)?;
            let bits = super::der::rsa_modulus_bits(key).ok_or(KeyError::BadKey)?;
            if bits < MIN_RSA_BITS {
                return Err(KeyError::TooSmall(bits));
            }
            key.to_vec()
        }
    };
    Ok(KeyRecord {
        algorithm,
        public,
        testing: list_has(flags, b"y", false),
        strict: list_has(flags, b"s", false),
    })
}

/// The key record to publish for a public key (Ed25519: the 32 raw bytes;
/// RSA: the RSAPublicKey DER, published as a SubjectPublicKeyInfo).
pub fn build(algorithm: Algorithm, public: &[u8]) -> String {
    let p = match algorithm {
        Algorithm::Ed25519Sha256 => STANDARD.encode(public),
        Algorithm::RsaSha256 => STANDARD.encode(super::der::rsa_spki(public)),
    };
    format!("v=DKIM1; k={}; p={p}", algorithm.key_type())
}

/// A TXT record's text in zone-file form: quoted strings of at most 255
/// bytes each (RFC 1035 §3.3.14), which resolvers join again (RFC 6376
/// §3.6.2.2). The text is ASCII without quotes or backslashes.
pub fn zone_strings(text: &str) -> String {
    text.as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8463 Appendix A.2: the Ed25519 key record of brisbane._domainkey.
    const RFC8463_ED25519: &[u8] =
        b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    #[test]
    fn rfc8463_a_2_ed25519_key_record() {
        let k = parse(RFC8463_ED25519).unwrap();
        assert_eq!(k.algorithm, Algorithm::Ed25519Sha256);
        assert_eq!(k.public.len(), 32);
        assert_eq!(build(k.algorithm, &k.public).as_bytes(), RFC8463_ED25519);
    }

    #[test]
    fn rfc6376_3_6_1_record_rules() {
        assert_eq!(parse(b"v=DKIM1; k=rsa; p="), Err(KeyError::Revoked));
        assert_eq!(parse(b"k=ed25519; v=DKIM1; p=AAAA"), Err(KeyError::Version));
        assert_eq!(parse(b"v=DKIM2; p=AAAA"), Err(KeyError::Version));
        assert!(matches!(parse(b"k=dsa; p=AAAA"), Err(KeyError::KeyType(_))));
        assert_eq!(parse(b"h=sha1; k=ed25519; p=AAAA"), Err(KeyError::Hash));
        assert_eq!(parse(b"s=other; k=ed25519; p=AAAA"), Err(KeyError::Service));
        assert_eq!(parse(b"k=ed25519; p=AAAA"), Err(KeyError::BadKey));
        assert_eq!(parse(b"k=rsa; p=!!"), Err(KeyError::BadKey));
        // RFC 8301 §3.2: a 512-bit RSA key is refused.
        let mut small = vec![0x30, 0x46, 0x02, 0x41, 0x00];
        small.extend_from_slice(&[0xc1; 64]);
        small.extend_from_slice(&[0x02, 0x01, 0x03]);
        let p = STANDARD.encode(crate::dkim::der::rsa_spki(&small));
        assert_eq!(
            parse(format!("k=rsa; p={p}").as_bytes()),
            Err(KeyError::TooSmall(512))
        );
        let k = parse(b"k=ed25519; t=y:s; s=email:*; h=sha1:sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
        assert!(k.testing && k.strict);
        assert_eq!(
            parse(&vec![b' '; crate::dkim::MAX_KEY_RECORD + 1]),
            Err(KeyError::TooLong)
        );
    }

    #[test]
    fn zone_strings_split_at_255() {
        let text = "a".repeat(300);
        let z = zone_strings(&text);
        assert_eq!(z, format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45)));
    }
}
