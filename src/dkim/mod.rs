//! DKIM (RFC 6376) with the algorithms of RFC 8301 and RFC 8463:
//! rsa-sha256 and ed25519-sha256. The parsers, canonicalization, signing
//! and verifying are pure functions over bytes (no DNS, no sockets, no
//! store): the caller brings the message and, for verification, the key
//! record's text; crypto is `ring`'s. `admin.rs`, `outbound.rs` and
//! `inbound.rs` connect them to the store, the queue and DNS.
//!
//! Files: `tags.rs` (the §3.2 tag-list), `fields.rs` (a header section cut
//! into fields), `canon.rs` (§3.4 canonicalization), `signature.rs` (the
//! DKIM-Signature field, §3.5), `record.rs` (the key record, §3.6.1),
//! `der.rs` (the few DER shapes RSA public keys come in), `keys.rs` (key
//! generation and signing keys), `sign.rs` and `verify.rs`, `inbound.rs`
//! (port-25 mail judged, RFC 8601 Authentication-Results), `admin.rs`
//! (`smolmail dkim ...`), `outbound.rs` (signing mail as it is queued).
//!
//! Limits, each bounding work an outside message can cause:
//! - [`MAX_FIELDS`] header fields are looked at (a hostile header section
//!   of 100,000 one-byte fields would otherwise make `h=` lookups
//!   quadratic);
//! - [`tags::MAX_TAGS`] tags in one tag-list (RFC 6376 defines 14 for a
//!   signature, 6 for a key record);
//! - [`signature::MAX_SIGNED_FIELDS`] names in `h=`;
//! - [`MAX_SIGNATURE_FIELD`] bytes in a DKIM-Signature field and
//!   [`MAX_KEY_RECORD`] in a key record (an RSA-4096 key is ~740 base64
//!   characters; 4 KiB is a TXT answer's practical size).

pub mod admin;
pub mod canon;
pub mod der;
pub mod fields;
pub mod inbound;
pub mod keys;
pub mod outbound;
pub mod record;
pub mod sign;
pub mod signature;
pub mod tags;
pub mod verify;

/// Header fields of one message that signing and verifying look at.
pub const MAX_FIELDS: usize = 1000;
/// Longest DKIM-Signature field value accepted.
pub const MAX_SIGNATURE_FIELD: usize = 8 << 10;
/// Longest key record (TXT text, the strings joined) accepted.
pub const MAX_KEY_RECORD: usize = 4 << 10;

/// The signing algorithms (RFC 6376 §3.3, RFC 8463 §3). rsa-sha1 is not
/// here: RFC 8301 §3.1 says it MUST NOT be used for signing or verifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl Algorithm {
    /// The `a=` value.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The key record's `k=` value.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }
}
