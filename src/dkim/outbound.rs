//! Signing mail that leaves (RFC 6376 §5): a message whose From domain is
//! a local domain with active keys gets one DKIM-Signature per key (Ed25519
//! and RSA, RFC 8463 §6), for direct MX delivery and a relay host alike.
//!
//! `d=` is the From domain (RFC 5322.From), not the envelope sender's: DMARC
//! (RFC 7489 §3.1.1) passes on a signature whose `d=` aligns with From, and
//! a signature for another domain earns nothing there. A From with more
//! than one address, or none, is not signed (RFC 7489 §6.6.1 has receivers
//! reject such mail anyway).
//!
//! When: once, as the message is queued, not at each delivery attempt. The
//! stored message is what is sent (the client streams it as stored, minus
//! the leading Return-Path, with no rewriting), so one signature serves
//! every retry and every relay route, and an RSA signature (milliseconds
//! on a Pi) is not redone per attempt. The fields go below this server's
//! own Received field, at the top of the message as submitted; local
//! recipients of the same message see them too (one stored copy), which
//! does them no harm.

use crate::store::{DkimKey, Reader};

use super::keys::SigningKey;
use super::sign::{Signer, sign};

/// The From domain of `content` (a message without trace fields) and its
/// active keys, if it is to be signed: only when `may_sign_as` allows the
/// From address (local part, domain) to this client. A signature with
/// `d=` a domain of ours is our word that the domain sent the mail, and
/// DMARC (RFC 7489 §3.1) trusts From on it; a user who may send only as
/// themselves must not get it for `From: ceo@` another of our domains.
pub fn keys_for(
    reader: &Reader,
    content: &[u8],
    may_sign_as: impl FnOnce(&Reader, &str, &str) -> bool,
) -> Option<(String, Vec<DkimKey>)> {
    let (local, domain) = from_address(content)?;
    let keys: Vec<DkimKey> = reader
        .dkim_keys(Some(&domain))
        .ok()?
        .into_iter()
        .filter(|k| k.active)
        .collect();
    (!keys.is_empty() && may_sign_as(reader, &local, &domain)).then_some((domain, keys))
}

/// The domain of the only address in the only From field, lower-cased.
pub fn from_domain(content: &[u8]) -> Option<String> {
    from_address(content).map(|(_, domain)| domain)
}

/// The only address in the only From field: its local part as written
/// and its domain, lower-cased.
pub fn from_address(content: &[u8]) -> Option<(String, String)> {
    let header = &content[..crate::mime::header_len(content)];
    let split = super::fields::split(header).ok()?;
    let mut from = split
        .fields
        .iter()
        .filter(|f| f.name.trim_ascii_end().eq_ignore_ascii_case(b"from"));
    let (field, None) = (from.next()?, from.next()) else {
        return None;
    };
    let (parsed, _) = mailparse::parse_header(field.raw).ok()?;
    let list = mailparse::addrparse_header(&parsed).ok()?;
    let [mailparse::MailAddr::Single(single)] = &list[..] else {
        return None;
    };
    let (local, domain) = single.addr.rsplit_once('@')?;
    let domain = crate::address::normalize_domain(domain).ok()?;
    Some((local.to_string(), domain))
}

/// The DKIM-Signature fields for `content` with `keys` (all of `domain`).
/// CPU work (RSA): callers on the executor run it on the blocking pool.
pub fn signatures(content: &[u8], keys: &[DkimKey], now: i64) -> Result<String, String> {
    let loaded: Vec<(String, SigningKey)> = keys
        .iter()
        .map(|k| {
            Ok((
                k.selector.clone(),
                SigningKey::from_pkcs8(k.algorithm, &k.pkcs8)?,
            ))
        })
        .collect::<Result<_, String>>()?;
    let signers: Vec<Signer<'_>> = loaded
        .iter()
        .zip(keys)
        .map(|((selector, key), k)| Signer {
            domain: &k.domain,
            selector,
            key,
        })
        .collect();
    sign(content, &signers, now.max(0) as u64)
}

/// Signs `message` (its content starting at `base`, after the trace
/// fields) if its From domain has keys: the fields go in at `base`. Any
/// trouble leaves the message unsigned, with a log line: unsigned mail
/// may still be delivered, a refused one would not be.
pub async fn sign_queued(
    reader: Option<Reader>,
    mut message: Vec<u8>,
    base: usize,
    log_prefix: &str,
    may_sign_as: impl FnOnce(&Reader, &str, &str) -> bool,
) -> Vec<u8> {
    let found = reader.and_then(|r| keys_for(&r, &message[base..], may_sign_as));
    let Some((domain, keys)) = found else {
        return message;
    };
    let (message_back, result) = smol::unblock(move || {
        let result = signatures(&message[base..], &keys, crate::time::now());
        let selectors: Vec<String> = keys.into_iter().map(|k| k.selector).collect();
        (message, result.map(|f| (f, selectors)))
    })
    .await;
    message = message_back;
    match result {
        Ok((fields, selectors)) => {
            message.splice(base..base, fields.into_bytes());
            log::info!(
                "{log_prefix}: DKIM-signed d={domain} s={}",
                selectors.join(",")
            );
        }
        Err(e) => log::warn!("{log_prefix}: not DKIM-signed for {domain}: {e}"),
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7489_from_domain_is_the_only_from_address() {
        let d = |m: &[u8]| from_domain(m);
        assert_eq!(
            d(b"From: Joe <joe@Example.ORG>\r\n\r\nx"),
            Some("example.org".into())
        );
        assert_eq!(
            d(b"from: joe@example.org\r\n\r\n"),
            Some("example.org".into())
        );
        assert_eq!(d(b"From: a@x.org, b@y.org\r\n\r\n"), None);
        assert_eq!(d(b"From: a@x.org\r\nFrom: b@y.org\r\n\r\n"), None);
        assert_eq!(d(b"Subject: none\r\n\r\n"), None);
        assert_eq!(d(b"From: undisclosed:;\r\n\r\n"), None);
    }
}
