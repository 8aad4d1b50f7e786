//! Verifying one DKIM signature (RFC 6376 §6.1.3), given its key record
//! already fetched: the body hash over the canonical body (`l=` honoured:
//! §8.2 warns about it, and a longer `l=` than the body fails), the header
//! hash over the fields `h=` names, each taken from the bottom up, then the
//! signature field with `b=` emptied (§3.7); the crypto is `ring`'s.
//! RSA keys from 1024 to 8192 bits are taken (RFC 8301 §3.2: verifiers
//! MUST take 1024 to 4096).

use ring::signature::{ED25519, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};

use super::Algorithm;
use super::canon;
use super::fields::{Field, Split};
use super::record::KeyRecord;
use super::signature::Signature;

/// Why a signature did not verify: `dkim=fail` or `dkim=permerror`
/// (RFC 8601 §2.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The signature or the body hash does not match, or it expired.
    Fail(String),
    /// The signature and key cannot be used together.
    PermError(String),
}

/// The DKIM-Signature fields of a message, with their index in
/// `split.fields`, top first (§5.4 adds them on top), parsed.
pub fn signatures<'a>(split: &Split<'a>) -> Vec<(usize, Result<Signature<'a>, String>)> {
    split
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.name
                .trim_ascii_end()
                .eq_ignore_ascii_case(b"dkim-signature")
        })
        .map(|(i, f)| (i, super::signature::parse(f.value)))
        .collect()
}

/// The bytes of `raw` (a DKIM-Signature field) with the value of its `b=`
/// tag removed (§3.7), the rest as is.
pub fn without_b(raw: &[u8]) -> Vec<u8> {
    let colon = raw
        .iter()
        .position(|&b| b == b':')
        .map_or(raw.len(), |i| i + 1);
    let mut out = raw[..colon].to_vec();
    let mut at = colon;
    for spec in raw[colon..].split(|&b| b == b';') {
        let end = at + spec.len();
        match spec.iter().position(|&b| b == b'=') {
            Some(eq) if spec[..eq].trim_ascii() == b"b" => {
                out.extend_from_slice(&raw[at..at + eq + 1]);
                // Keep the final line end, if this is the last tag.
                let line_end = spec.len() - spec.trim_ascii_end().len();
                let tail = &raw[end - line_end..end];
                if tail.contains(&b'\n') && end == raw.len() {
                    out.extend_from_slice(b"\r\n");
                }
            }
            _ => out.extend_from_slice(&raw[at..end]),
        }
        if end < raw.len() {
            out.push(b';');
        }
        at = end + 1;
    }
    out
}

/// Appends the canonical fields `names` select, each name taking the
/// bottom-most instance not yet taken (§5.4.2); a name with no instance
/// left adds nothing.
pub fn signed_fields(fields: &[Field<'_>], names: &[&[u8]], c: canon::Canon, out: &mut Vec<u8>) {
    let mut taken = vec![false; fields.len()];
    for name in names {
        let found = (0..fields.len())
            .rev()
            .find(|&i| !taken[i] && fields[i].name.trim_ascii_end().eq_ignore_ascii_case(name));
        if let Some(i) = found {
            taken[i] = true;
            canon::header(c, fields[i].raw, true, out);
        }
    }
}

/// Verifies the signature at `split.fields[index]` with `key` at Unix time
/// `now`.
pub fn verify(
    split: &Split<'_>,
    index: usize,
    sig: &Signature<'_>,
    key: &KeyRecord,
    now: u64,
) -> Result<(), Failure> {
    if key.algorithm != sig.algorithm {
        return Err(Failure::PermError("key type does not match a=".into()));
    }
    if key.strict
        && let Some(i) = sig.auid
        && !i
            .to_ascii_lowercase()
            .ends_with(format!("@{}", sig.domain).as_bytes())
    {
        // §3.6.1 t=s: i= must be in d= itself.
        return Err(Failure::PermError(
            "i= is a subdomain of d= and the key says t=s".into(),
        ));
    }
    if sig.expires.is_some_and(|x| now > x) {
        return Err(Failure::Fail("signature expired".into()));
    }
    let (bh, total) = canon::body_hash(sig.body_canon, split.body, sig.length);
    if sig.length.is_some_and(|l| l > total) {
        return Err(Failure::Fail("l= is longer than the body".into()));
    }
    if bh.as_ref() != sig.bh.as_slice() {
        return Err(Failure::Fail("body hash did not verify".into()));
    }
    let mut data = Vec::with_capacity(1024);
    signed_fields(&split.fields, &sig.signed, sig.header_canon, &mut data);
    let own = without_b(split.fields[index].raw);
    canon::header(sig.header_canon, &own, false, &mut data);
    let ok = match sig.algorithm {
        Algorithm::RsaSha256 => {
            UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, &key.public)
                .verify(&data, &sig.b)
        }
        Algorithm::Ed25519Sha256 => {
            let hash = ring::digest::digest(&ring::digest::SHA256, &data);
            UnparsedPublicKey::new(&ED25519, &key.public).verify(hash.as_ref(), &sig.b)
        }
    };
    ok.map_err(|_| Failure::Fail("signature did not verify".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::{fields, record};

    /// RFC 8463 Appendix A.3, as published (continuation lines start with
    /// one space).
    const SIGNED: &str = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r
 d=football.example.com; i=@football.example.com;\r
 q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r
 subject : date : message-id : from : subject : date;\r
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r
 b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r
 Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r
 d=football.example.com; i=@football.example.com;\r
 q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r
 date : message-id : from : subject : date;\r
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r
 b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r
 DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r
 dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r
From: Joe SixPack <joe@football.example.com>\r
To: Suzie Q <suzie@shopping.example.net>\r
Subject: Is dinner ready?\r
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r
\r
Hi.\r
\r
We lost the game.  Are you hungry yet?\r
\r
Joe.\r
\r
";

    /// RFC 8463 Appendix A.2: the two key records.
    const BRISBANE: &[u8] = b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    const TEST: &[u8] = b"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

    fn check(message: &[u8]) -> Vec<Result<(), Failure>> {
        let split = fields::split(message).unwrap();
        signatures(&split)
            .into_iter()
            .map(|(i, sig)| {
                let sig = sig.unwrap();
                let key = match sig.selector.as_str() {
                    "brisbane" => record::parse(BRISBANE).unwrap(),
                    _ => record::parse(TEST).unwrap(),
                };
                verify(&split, i, &sig, &key, 1528637909)
            })
            .collect()
    }

    #[test]
    fn rfc8463_appendix_a_both_signatures_verify() {
        assert_eq!(check(SIGNED.as_bytes()), vec![Ok(()), Ok(())]);
    }

    #[test]
    fn rfc8463_appendix_a_tampered_copies_fail() {
        let body = SIGNED.replace("hungry", "thirsty");
        for r in check(body.as_bytes()) {
            assert_eq!(r, Err(Failure::Fail("body hash did not verify".into())));
        }
        let header = SIGNED.replace("Is dinner ready?", "Is lunch ready?");
        for r in check(header.as_bytes()) {
            assert_eq!(r, Err(Failure::Fail("signature did not verify".into())));
        }
        // A second From added on top: From is signed twice (oversigned),
        // so the extra one is covered and breaks the signature.
        let extra = SIGNED.replace("From: Joe", "From: Mallory <m@evil.example>\r\nFrom: Joe");
        for r in check(extra.as_bytes()) {
            assert!(r.is_err());
        }
    }

    #[test]
    fn rfc6376_3_7_b_value_is_emptied_only() {
        assert_eq!(
            without_b(b"DKIM-Signature: a=1; bh=xx; b=abc\r\n def\r\n"),
            b"DKIM-Signature: a=1; bh=xx; b=\r\n"
        );
        assert_eq!(
            without_b(b"DKIM-Signature: b= abc ; d=x\r\n"),
            b"DKIM-Signature: b=; d=x\r\n"
        );
    }
}
