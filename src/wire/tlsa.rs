//! TLSA records (RFC 6698 §2.1) as DANE for SMTP uses them (RFC 7672):
//! the record data read from bytes, and whether a certificate (or its
//! SubjectPublicKeyInfo) is the one a record names. Pure; fuzzed.
//!
//! RFC 7672 §3.1.3 limits SMTP to usages DANE-TA(2) and DANE-EE(3):
//! PKIX-TA(0) and PKIX-EE(1) records, and unknown selectors or matching
//! types, are "unusable" and left out, which is why parsing says
//! `Unusable` rather than failing.

/// §2.1.1 certificate usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// 2: the record names a trust anchor of the server's chain.
    DaneTa,
    /// 3: the record names the server's own certificate or key.
    DaneEe,
}

/// §2.1.2 selector: what is hashed or compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// 0: the whole certificate (DER).
    Cert,
    /// 1: its SubjectPublicKeyInfo (DER).
    Spki,
}

/// §2.1.3 matching type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    Exact,
    Sha256,
    Sha512,
}

/// One usable TLSA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: Usage,
    pub selector: Selector,
    pub matching: Matching,
    pub data: Vec<u8>,
}

/// What the record data said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Usable(Tlsa),
    /// Well-formed but not for us (RFC 7672 §3.1.3), or a digest of the
    /// wrong length (RFC 7671 §5.4 treats that as unusable too).
    Unusable,
}

/// Largest association data taken: a full certificate with a long chain
/// is a few KiB; DNS itself stops at 64 KiB.
pub const MAX_DATA: usize = 16 << 10;

/// RFC 6698 §2.1: one octet each of usage, selector and matching type,
/// then the association data. `None` for data too short to be a record.
pub fn parse(rdata: &[u8]) -> Option<Parsed> {
    let [usage, selector, matching, data @ ..] = rdata else {
        return None;
    };
    if data.is_empty() {
        return None;
    }
    let usage = match usage {
        2 => Usage::DaneTa,
        3 => Usage::DaneEe,
        _ => return Some(Parsed::Unusable),
    };
    let selector = match selector {
        0 => Selector::Cert,
        1 => Selector::Spki,
        _ => return Some(Parsed::Unusable),
    };
    let matching = match matching {
        0 if data.len() <= MAX_DATA => Matching::Exact,
        1 if data.len() == 32 => Matching::Sha256,
        2 if data.len() == 64 => Matching::Sha512,
        _ => return Some(Parsed::Unusable),
    };
    Some(Parsed::Usable(Tlsa {
        usage,
        selector,
        matching,
        data: data.to_vec(),
    }))
}

impl Tlsa {
    /// Does this record name the certificate `cert_der`, whose
    /// SubjectPublicKeyInfo is `spki_der`?
    pub fn matches(&self, cert_der: &[u8], spki_der: &[u8]) -> bool {
        let selected = match self.selector {
            Selector::Cert => cert_der,
            Selector::Spki => spki_der,
        };
        let digest = |alg| ring::digest::digest(alg, selected);
        match self.matching {
            Matching::Exact => self.data == selected,
            Matching::Sha256 => self.data == digest(&ring::digest::SHA256).as_ref(),
            Matching::Sha512 => self.data == digest(&ring::digest::SHA512).as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(u: u8, s: u8, m: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![u, s, m];
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn rfc6698_2_1_record_fields() {
        let sha = [7u8; 32];
        let Some(Parsed::Usable(t)) = parse(&record(3, 1, 1, &sha)) else {
            panic!()
        };
        assert_eq!(
            (t.usage, t.selector, t.matching),
            (Usage::DaneEe, Selector::Spki, Matching::Sha256)
        );
        assert!(matches!(
            parse(&record(2, 0, 2, &[1; 64])),
            Some(Parsed::Usable(_))
        ));
        assert!(matches!(
            parse(&record(2, 0, 0, &[1; 300])),
            Some(Parsed::Usable(_))
        ));
        assert_eq!(parse(&[3, 1]), None);
        assert_eq!(parse(&[3, 1, 1]), None);
    }

    #[test]
    fn rfc7672_3_1_3_pkix_usages_and_odd_parameters_are_unusable() {
        let sha = [7u8; 32];
        for rdata in [
            record(0, 0, 1, &sha),
            record(1, 1, 1, &sha),
            record(3, 2, 1, &sha),
            record(3, 1, 3, &sha),
            record(3, 1, 1, &sha[..31]),
            record(3, 1, 2, &sha),
        ] {
            assert_eq!(parse(&rdata), Some(Parsed::Unusable), "{rdata:?}");
        }
    }

    #[test]
    fn rfc6698_2_1_3_matching_types() {
        let (cert, spki) = (b"certificate bytes".as_slice(), b"spki bytes".as_slice());
        let sha256 = ring::digest::digest(&ring::digest::SHA256, spki);
        let sha512 = ring::digest::digest(&ring::digest::SHA512, cert);
        let t = |s, m, data: &[u8]| Tlsa {
            usage: Usage::DaneEe,
            selector: s,
            matching: m,
            data: data.to_vec(),
        };
        assert!(t(Selector::Spki, Matching::Sha256, sha256.as_ref()).matches(cert, spki));
        assert!(!t(Selector::Cert, Matching::Sha256, sha256.as_ref()).matches(cert, spki));
        assert!(t(Selector::Cert, Matching::Sha512, sha512.as_ref()).matches(cert, spki));
        assert!(t(Selector::Cert, Matching::Exact, cert).matches(cert, spki));
        assert!(!t(Selector::Spki, Matching::Exact, cert).matches(cert, spki));
    }
}
