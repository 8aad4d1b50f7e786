//! Password hashes: creating our own argon2id hashes and verifying every
//! scheme a Dovecot passwd-file may carry over.
//!
//! Stored values use Dovecot's `{SCHEME}value` notation so that hashes
//! imported from Dovecot and the ones we create share one format. The scheme
//! name is case-insensitive and may carry Dovecot's `.HEX` / `.B64` encoding
//! suffix (e.g. `{SHA256.HEX}`) for the digest and plain schemes.
//!
//! Everything here is synchronous and some of it is deliberately slow
//! (argon2 takes tens of milliseconds and ~19 MiB); async callers go through
//! [`super::Verifier`], which moves the work off the executor thread.

use argon2::{Algorithm, Argon2, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT as BASE64;
use ring::digest;
use std::borrow::Cow;

/// Argon2 memory cost in KiB for new hashes: OWASP's minimum recommendation
/// for argon2id, small enough that a Raspberry Pi 3 (1 GiB RAM) can run a
/// couple of verifications at once.
const ARGON2_M_KIB: u32 = 19_456;
/// Argon2 passes over memory for new hashes (OWASP's pairing with 19 MiB).
const ARGON2_T: u32 = 2;
/// Argon2 lanes for new hashes: one, since verifications run one per
/// blocking thread and the Pi has few cores to spare.
const ARGON2_P: u32 = 1;
/// Argon2 output length in bytes (the usual 256-bit tag).
const ARGON2_OUTPUT_LEN: usize = 32;

// Upper bounds on the cost parameters we agree to run for a *stored* hash.
// A hash comes from a file an administrator imported; a typo or a hash made
// for a bigger machine must not let one login pin a Pi's CPU for minutes or
// exhaust its memory. Each bound still admits what Dovecot, glibc and
// passlib produce by default.

/// Largest argon2 memory cost (KiB) we will allocate: 256 MiB, libsodium's
/// "moderate" level. Dovecot's own ARGON2ID default is 64 MiB.
const MAX_ARGON2_M_KIB: u32 = 256 * 1024;
/// Largest argon2 total work, memory × passes in KiB (256 MiB × 4).
const MAX_ARGON2_WORK: u64 = 1024 * 1024;
/// Largest argon2 lane count; lanes run one after another here.
const MAX_ARGON2_P: u32 = 16;
/// Largest SHA-crypt round count (passlib's default is 656 000).
const MAX_SHA_CRYPT_ROUNDS: u32 = 1_000_000;
/// Largest bcrypt cost (2^14 rounds; Dovecot's default is 5, passlib's 12).
const MAX_BCRYPT_COST: u32 = 14;

/// Create a new stored hash for `password`: argon2id with a random 16-byte
/// salt, in Dovecot's notation
/// `{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// # Panics
/// Only if the operating system's random number generator fails, in which
/// case no safe salt can be made and carrying on would be worse.
#[must_use]
pub fn hash(password: &str) -> String {
    let params = argon2::Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(ARGON2_OUTPUT_LEN))
        .expect("argon2 parameters are compile-time constants within range");
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    // `hash_password` draws a 16-byte salt from the OS (getrandom). With
    // constant, valid parameters the only way it can fail is the RNG.
    let phc = hasher
        .hash_password(password.as_bytes())
        .expect("the operating system's random number generator failed");
    format!("{{ARGON2ID}}{phc}")
}

/// Check `password` against a stored value.
///
/// Returns false for a wrong password, and also (with a `log::warn` naming
/// only the scheme, never the hash or password) for an unknown scheme, a
/// malformed hash, or cost parameters beyond what we agree to run.
#[must_use]
pub fn verify(stored: &str, password: &str) -> bool {
    match Stored::parse(stored) {
        Ok(parsed) => parsed.matches(password.as_bytes()),
        Err(why) => {
            log::warn!(
                "cannot verify password hash with scheme {}: {why}",
                scheme_for_log(stored)
            );
            false
        }
    }
}

/// The scheme name of a stored value, as written: the text inside a leading
/// `{...}`, or `"CRYPT"` for a bare crypt(3)-style `$id$...` value (which we
/// treat like Dovecot's CRYPT). `None` when the value has neither.
#[must_use]
pub fn scheme_of(stored: &str) -> Option<&str> {
    match split_prefix(stored) {
        Some((name, _)) if !name.is_empty() => Some(name),
        Some(_) => None,
        None if stored.starts_with('$') => Some("CRYPT"),
        None => None,
    }
}

/// Whether `verify` can check this value at all: the scheme is one we
/// implement and the value is well formed and within our cost bounds.
/// `user import-passwd` uses this to refuse lines it could never verify.
#[must_use]
pub fn is_supported(stored: &str) -> bool {
    Stored::parse(stored).is_ok()
}

/// Whether the value should be replaced by a fresh [`hash`] when the
/// password is known: true for the cleartext schemes (PLAIN, CLEARTEXT,
/// CLEAR), which import re-hashes with argon2id (see [`cleartext`]).
#[must_use]
pub fn needs_rehash(stored: &str) -> bool {
    split_prefix(stored)
        .and_then(|(name, _)| Scheme::from_name(name))
        .is_some_and(|(scheme, _)| scheme == Scheme::Plain)
}

/// The password held by a cleartext-scheme value, decoded (`{PLAIN}pw`,
/// `{CLEAR}pw`, `{PLAIN.B64}cHc=`, ...), so import can re-hash it without
/// knowing Dovecot's encodings. `None` for any other scheme, or when the
/// decoded password is not UTF-8 (we could not hash it as a `&str`).
#[must_use]
pub fn cleartext(stored: &str) -> Option<String> {
    match Stored::parse(stored) {
        Ok(Stored::Plain(bytes)) => String::from_utf8(bytes.into_owned()).ok(),
        _ => None,
    }
}

/// A Dovecot scheme that `verify` implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Argon2id,
    Argon2i,
    Sha512Crypt,
    Sha256Crypt,
    BlfCrypt,
    /// crypt(3): the algorithm is named by the value's own `$id$` prefix.
    Crypt,
    /// A plain digest of the password, optionally followed by a salt.
    Digest(DigestKind),
    Plain,
}

/// The digest schemes: which hash, and whether a salt follows the digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DigestKind {
    algorithm: &'static digest::Algorithm,
    salted: bool,
}

/// How the value of a digest or plain scheme is encoded (Dovecot's
/// `.HEX` / `.B64` scheme suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// No suffix: the scheme's default (base64 for digests, which Dovecot
    /// also accepts as hex when the length says so; raw for PLAIN).
    Default,
    Hex,
    Base64,
}

impl Scheme {
    /// Look up a scheme name (case-insensitive, optionally with an
    /// encoding suffix).
    fn from_name(name: &str) -> Option<(Scheme, Encoding)> {
        let (base, encoding) = match name.rsplit_once('.') {
            Some((base, enc)) if enc.eq_ignore_ascii_case("HEX") => (base, Encoding::Hex),
            Some((base, enc)) if enc.eq_ignore_ascii_case("B64") => (base, Encoding::Base64),
            Some((base, enc)) if enc.eq_ignore_ascii_case("BASE64") => (base, Encoding::Base64),
            Some(_) => return None,
            None => (name, Encoding::Default),
        };
        let digest = |algorithm, salted| Scheme::Digest(DigestKind { algorithm, salted });
        let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
        let scheme = match base.to_ascii_uppercase().as_str() {
            "ARGON2ID" => Scheme::Argon2id,
            "ARGON2I" => Scheme::Argon2i,
            "SHA512-CRYPT" => Scheme::Sha512Crypt,
            "SHA256-CRYPT" => Scheme::Sha256Crypt,
            "BLF-CRYPT" => Scheme::BlfCrypt,
            "CRYPT" => Scheme::Crypt,
            "SSHA512" => digest(&digest::SHA512, true),
            "SSHA256" => digest(&digest::SHA256, true),
            "SSHA" => digest(sha1, true),
            "SHA512" => digest(&digest::SHA512, false),
            "SHA256" => digest(&digest::SHA256, false),
            // Dovecot lists SHA1 as an alias of SHA.
            "SHA" | "SHA1" => digest(sha1, false),
            // CLEAR is Dovecot's other alias of PLAIN.
            "PLAIN" | "CLEARTEXT" | "CLEAR" => Scheme::Plain,
            _ => return None,
        };
        // An encoding suffix only means something for values that are raw
        // bytes; the crypt formats have their own fixed encodings.
        let encodable = matches!(scheme, Scheme::Digest(_) | Scheme::Plain);
        (encoding == Encoding::Default || encodable).then_some((scheme, encoding))
    }
}

/// A stored value parsed far enough to know it can be verified, without
/// doing any of the expensive work yet.
enum Stored<'a> {
    /// argon2i / argon2id in PHC notation.
    Argon2(Box<PasswordHash>),
    /// A checked `$5$` / `$6$` string.
    ShaCrypt(&'a str),
    /// A checked `$2a$` / `$2b$` / `$2y$` string.
    Bcrypt(&'a str),
    /// The decoded digest, followed by the salt for salted schemes.
    Digest { kind: DigestKind, decoded: Vec<u8> },
    /// The cleartext password.
    Plain(Cow<'a, [u8]>),
}

impl<'a> Stored<'a> {
    /// Parse a stored value; the error says (for the log) what is wrong,
    /// without quoting the value.
    fn parse(stored: &'a str) -> Result<Stored<'a>, &'static str> {
        let Some((name, value)) = split_prefix(stored) else {
            // No `{SCHEME}`: only a self-describing `$id$` value makes sense.
            return if stored.starts_with('$') {
                parse_crypt(stored)
            } else {
                Err("no {SCHEME} prefix")
            };
        };
        let (scheme, encoding) = Scheme::from_name(name).ok_or("unknown scheme")?;
        match scheme {
            Scheme::Argon2id => parse_argon2(value, "argon2id"),
            Scheme::Argon2i => parse_argon2(value, "argon2i"),
            Scheme::Sha512Crypt if value.starts_with("$6$") => parse_sha_crypt(value),
            Scheme::Sha256Crypt if value.starts_with("$5$") => parse_sha_crypt(value),
            Scheme::Sha512Crypt | Scheme::Sha256Crypt => Err("wrong crypt id for scheme"),
            Scheme::BlfCrypt => parse_bcrypt(value),
            Scheme::Crypt => parse_crypt(value),
            Scheme::Digest(kind) => parse_digest(kind, encoding, value),
            Scheme::Plain => Ok(Stored::Plain(match encoding {
                Encoding::Default => Cow::Borrowed(value.as_bytes()),
                Encoding::Hex => Cow::Owned(decode_hex(value).ok_or("bad hex")?),
                Encoding::Base64 => Cow::Owned(BASE64.decode(value).map_err(|_| "bad base64")?),
            })),
        }
    }

    /// Whether `password` matches; this is where the cost is paid.
    fn matches(&self, password: &[u8]) -> bool {
        match self {
            // The PHC verifier takes algorithm, version and parameters from
            // the hash itself and compares outputs in constant time.
            Stored::Argon2(phc) => Argon2::default().verify_password(password, &**phc).is_ok(),
            // sha-crypt compares in constant time (ctutils).
            Stored::ShaCrypt(mcf) => sha_crypt::ShaCrypt::default()
                .verify_password(password, *mcf)
                .is_ok(),
            // bcrypt compares in constant time (subtle). Like every bcrypt,
            // it only looks at the first 72 bytes of the password.
            Stored::Bcrypt(mcf) => bcrypt::verify(password, mcf).unwrap_or(false),
            Stored::Digest { kind, decoded } => {
                let digest_len = kind.algorithm.output_len();
                let (expected, salt) = decoded.split_at(digest_len);
                let mut ctx = digest::Context::new(kind.algorithm);
                ctx.update(password);
                ctx.update(salt);
                ct_eq(ctx.finish().as_ref(), expected)
            }
            // Compare digests rather than the strings so that neither the
            // timing nor an early length mismatch tells how long the stored
            // password is.
            Stored::Plain(expected) => ct_eq(
                digest::digest(&digest::SHA256, password).as_ref(),
                digest::digest(&digest::SHA256, expected).as_ref(),
            ),
        }
    }
}

/// Split `{NAME}value` into `("NAME", "value")`; `None` without a prefix.
fn split_prefix(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix('{')?.split_once('}')
}

/// The scheme name fit for a log line: it comes from imported data, so only
/// a short token of scheme-like characters is printed, never anything that
/// might be part of a hash or password.
fn scheme_for_log(stored: &str) -> &str {
    match scheme_of(stored) {
        Some(name)
            if name.len() <= 32
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
        {
            name
        }
        Some(_) => "<invalid name>",
        None => "<none>",
    }
}

/// Dispatch a crypt(3)-style value on its `$id$` prefix, the way Dovecot's
/// CRYPT scheme hands it to the C library. The argon2 PHC ids are accepted
/// too because they are just as self-describing.
fn parse_crypt(value: &str) -> Result<Stored<'_>, &'static str> {
    if value.starts_with("$6$") || value.starts_with("$5$") {
        parse_sha_crypt(value)
    } else if ["$2y$", "$2b$", "$2a$"]
        .iter()
        .any(|id| value.starts_with(id))
    {
        parse_bcrypt(value)
    } else if value.starts_with("$argon2id$") {
        parse_argon2(value, "argon2id")
    } else if value.starts_with("$argon2i$") {
        parse_argon2(value, "argon2i")
    } else {
        Err("unsupported crypt algorithm")
    }
}

/// Parse an argon2 PHC string of the expected variant (argon2d is never
/// accepted), checking the cost bounds before any memory is allocated.
fn parse_argon2(value: &str, variant: &str) -> Result<Stored<'static>, &'static str> {
    let phc = PasswordHash::new(value).map_err(|_| "malformed argon2 hash")?;
    if phc.algorithm.as_str() != variant {
        return Err("argon2 variant does not match scheme");
    }
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err("argon2 hash lacks salt or output");
    }
    let params = argon2::Params::try_from(&phc).map_err(|_| "bad argon2 parameters")?;
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAX_ARGON2_M_KIB
        || work > MAX_ARGON2_WORK
        || params.p_cost() > MAX_ARGON2_P
    {
        return Err("argon2 cost above our limits");
    }
    Ok(Stored::Argon2(Box::new(phc)))
}

/// Check the shape of a `$5$` / `$6$` string ourselves: sha-crypt would
/// happily run up to 999 999 999 rounds, and a bad shape is better reported
/// by `is_supported` than discovered at login.
fn parse_sha_crypt(value: &str) -> Result<Stored<'_>, &'static str> {
    let (rest, hash_len) = if let Some(rest) = value.strip_prefix("$6$") {
        (rest, 86)
    } else if let Some(rest) = value.strip_prefix("$5$") {
        (rest, 43)
    } else {
        return Err("not a SHA-crypt hash");
    };
    let rest = match rest.strip_prefix("rounds=") {
        Some(with_rounds) => {
            let (rounds, rest) = with_rounds.split_once('$').ok_or("malformed SHA-crypt")?;
            let rounds: u32 = rounds.parse().map_err(|_| "bad SHA-crypt rounds")?;
            // Below 1000 glibc silently clamps, sha-crypt refuses; such
            // hashes do not occur in practice, so refuse them up front.
            if !(1000..=MAX_SHA_CRYPT_ROUNDS).contains(&rounds) {
                return Err("SHA-crypt rounds outside our limits");
            }
            rest
        }
        None => rest,
    };
    let (salt, hash) = rest.split_once('$').ok_or("malformed SHA-crypt")?;
    let crypt_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
    if salt.is_empty() || salt.len() > 16 || salt.contains(['$', ':', '\n']) {
        return Err("bad SHA-crypt salt");
    }
    if hash.len() != hash_len || !hash.bytes().all(crypt_b64) {
        return Err("bad SHA-crypt hash length or alphabet");
    }
    Ok(Stored::ShaCrypt(value))
}

/// Check a bcrypt string's shape and cost (the crate parses it for us).
fn parse_bcrypt(value: &str) -> Result<Stored<'_>, &'static str> {
    if !["$2y$", "$2b$", "$2a$"]
        .iter()
        .any(|id| value.starts_with(id))
    {
        return Err("not a bcrypt hash");
    }
    let parts: bcrypt::HashParts = value.parse().map_err(|_| "malformed bcrypt hash")?;
    if !(4..=MAX_BCRYPT_COST).contains(&parts.get_cost()) {
        return Err("bcrypt cost outside our limits");
    }
    Ok(Stored::Bcrypt(value))
}

/// Decode a `{SHA*}` / `{SSHA*}` value and check its length.
fn parse_digest(
    kind: DigestKind,
    encoding: Encoding,
    value: &str,
) -> Result<Stored<'static>, &'static str> {
    let digest_len = kind.algorithm.output_len();
    // Dovecot writes base64 by default but also accepts hex for the unsalted
    // schemes, telling them apart by length; a salted value's length varies,
    // so there only the explicit `.HEX` suffix selects hex.
    let looks_hex = !kind.salted && value.len() == 2 * digest_len;
    let decoded = match encoding {
        Encoding::Hex => decode_hex(value),
        Encoding::Base64 => BASE64.decode(value).ok(),
        Encoding::Default if looks_hex => decode_hex(value),
        Encoding::Default => BASE64.decode(value).ok(),
    }
    .ok_or("bad digest encoding")?;
    let length_ok = if kind.salted {
        decoded.len() > digest_len
    } else {
        decoded.len() == digest_len
    };
    if !length_ok {
        return Err("wrong digest length");
    }
    Ok(Stored::Digest { kind, decoded })
}

/// Decode hex (either case); `None` on odd length or a non-hex character.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| (c as char).to_digit(16);
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| u8::try_from(nibble(pair[0])? * 16 + nibble(pair[1])?).ok())
        .collect()
}

/// Compare two byte strings without branching on their contents, so the
/// time taken does not reveal how many leading bytes of a digest matched.
/// (ring's `constant_time` module is deprecated and not meant for outside
/// use, and `subtle` is not a dependency.) Lengths are not secret here: they
/// are fixed digest sizes.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The password behind every vector below unless a test says otherwise.
    const PW: &str = "correct horse battery staple";
    /// A non-ASCII password, to check bytes are hashed as UTF-8 like Dovecot.
    const PW_UTF8: &str = "pässwörd";

    // Vectors made with Dovecot 2.3.19.1 (Debian bookworm's dovecot-core):
    //   doveadm pw -s <SCHEME> -p 'correct horse battery staple'
    // (with `-r N` where a rounds/cost is shown).
    const DOVECOT_ARGON2ID: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$zqZBK6l1x5GE105oHFdmOQ$TN9CNV1pglUKS2tJlhKX53Sw4WMQk8FTZTXg6sctzTs";
    const DOVECOT_ARGON2I: &str = "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$a4vD7XRnFH62g9kPaJzYqg$hFq4G3enZarqfPwVCKfItCSqV7lrRs8EKFVDaKo5Feg";
    const DOVECOT_SHA512_CRYPT: &str = "{SHA512-CRYPT}$6$jiVccoCSmk2brNrH$6InIRp3nb.s6OioleBsGYcPsvy3/Qg7TKiBUXp5ynciYvugi34NpP9u8pHrsv3bPaFRsra5c4sX8atskzOCtp.";
    /// `-r 10000`
    const DOVECOT_SHA512_CRYPT_ROUNDS: &str = "{SHA512-CRYPT}$6$rounds=10000$cZFt6jSrRZwohuRD$QSFIVqptT//8bRV2sTjsZjYoXpBbLM.HnM1WPAAPE/S3SdxmPHhRSgLf7eMCh5/pdu.Qc8rvA2QO5z62CW2it0";
    const DOVECOT_SHA256_CRYPT: &str =
        "{SHA256-CRYPT}$5$bfXvipylt5iFoVB8$PxTEyLC.qCK66nDrtDhrdTljCASZPL9S5wGDInNQb32";
    /// `-r 2000`
    const DOVECOT_SHA256_CRYPT_ROUNDS: &str =
        "{SHA256-CRYPT}$5$rounds=2000$yPcQvwezRSlx9bCY$glumcfNwO4o.PHQAOj4Xoi04461xE77SM3LXtYyLsHD";
    const DOVECOT_BLF_CRYPT: &str =
        "{BLF-CRYPT}$2y$05$AnKw8Xob.RKg4Zcmh6s7V.rDBLkWmmzypc4k27cY35HpSVgnCkmOy";
    /// Dovecot's CRYPT defaults to bcrypt.
    const DOVECOT_CRYPT: &str =
        "{CRYPT}$2y$05$C4LJ7h4zL4CoIdfWOWxz3.lkULTg85mOe9.kYx9UNNJAoIzNOpvqa";
    const DOVECOT_SSHA512: &str = "{SSHA512}DQ/HJcR5oY1IEkLV9ByRgv5zHgKCoAN89EbDaJVjD1NrZYmI2aKlk0wN45Wbi9negNnWgK/6p7S1fC6oi4HLIvhOKwY=";
    const DOVECOT_SSHA512_B64: &str = "{SSHA512.B64}knEp4o59+qlgdTWYbFEDdF6euEb/hzARz7A8eMKgbqjUw0KY/H5lppY8SwhD3gUMtZe1BFVyU3gyn+opvvg57D3C8F0=";
    const DOVECOT_SSHA256: &str = "{SSHA256}MSd/LID6DhHgXYK6aKynwOLZQ09N8L+fQqKp+M8TgZXdK1op";
    const DOVECOT_SSHA256_HEX: &str =
        "{SSHA256.HEX}d6c2c934fb29f2db5417deaf65e1f725a33858ca8742801e4082f76742798f67a22601f8";
    const DOVECOT_SSHA: &str = "{SSHA}JlCyuG9khuRaQSu+By16nF513iMRsx6t";
    const DOVECOT_SSHA_HEX: &str = "{SSHA.HEX}90984abb428bd0c0de61be2bc50af4db499b6ab026c3c764";
    const DOVECOT_SHA512: &str = "{SHA512}vl73Z52Iq5qQRfYmflX15XhLS4zXZLXNhVpSRPkcYmlTzUbEPXZohz/W7707IhJJMVWAAxljRyoHh4H+BG5irg==";
    const DOVECOT_SHA512_HEX: &str = "{SHA512.HEX}be5ef7679d88ab9a9045f6267e55f5e5784b4b8cd764b5cd855a5244f91c626953cd46c43d7668873fd6efbd3b221249315580031963472a078781fe046e62ae";
    const DOVECOT_SHA256: &str = "{SHA256}xLvLH77JnWW/WdhcjLYu4tuWPw/hBvSD2a+nO9Tjmoo=";
    const DOVECOT_SHA256_HEX: &str =
        "{SHA256.HEX}c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a";
    const DOVECOT_SHA: &str = "{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=";
    const DOVECOT_SHA1: &str = "{SHA1}q/eq1kOINtvlJqojGr3i0O73TUI=";
    const DOVECOT_SHA_HEX: &str = "{SHA.HEX}abf7aad6438836dbe526aa231abde2d0eef74d42";
    const DOVECOT_PLAIN: &str = "{PLAIN}correct horse battery staple";
    const DOVECOT_CLEARTEXT: &str = "{CLEARTEXT}correct horse battery staple";
    const DOVECOT_CLEAR: &str = "{CLEAR}correct horse battery staple";

    // Dovecot vectors for PW_UTF8 (same commands, `-p 'pässwörd'`).
    const DOVECOT_UTF8_ARGON2ID: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$qyeB79RsCkpAMNAdrCze2Q$ajuoeJ+TuXElkL+1bINh29uvj3tg2NR1dRd56Kt+0tw";
    const DOVECOT_UTF8_BLF_CRYPT: &str =
        "{BLF-CRYPT}$2y$04$bYW141iHDbT22PBoYtWFturr/2Piwu2gBhuuwwCz8U4OJcOspyvRu";
    const DOVECOT_UTF8_SSHA512: &str = "{SSHA512}iKT75o4e9MbEcHpeH07x/Tm1ish9GjgNmcOaYOCRh+KjnlPi3iO3g/3BZSvpbPIe3+GwukzqdO0AvDFBuyZr2y+1J6k=";
    const DOVECOT_UTF8_PLAIN: &str = "{PLAIN}pässwörd";

    // Bare values, made with Python 3.11 (PyPI bcrypt 5.0.0, argon2-cffi
    // 25.1.0, stdlib crypt over glibc 2.36):
    //   bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4, prefix=b"2b"))   (and b"2a")
    //   argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1,
    //       hash_len=32, salt_len=16, type=argon2.Type.ID).hash(PW)
    //   crypt.crypt(PW, crypt.mksalt(crypt.METHOD_SHA512))          (and SHA256)
    const PY_BCRYPT_2B: &str = "$2b$04$0FJyLvjiMLGQ5zlhoW9tYOsjZjiKGVAY4Ew7ipkG1FavhNjm9r8Vu";
    const PY_BCRYPT_2A: &str = "$2a$04$FDZ5JHrF7EREnfbpdr2QfuHzY9GnlgZGh5u1Y5qGRdP0nyIr0dwii";
    const PY_ARGON2ID: &str = "$argon2id$v=19$m=19456,t=2,p=1$f4gZVcS6muUd51r6Rlebpg$2sYlaua6RafC33KIo9FRb8UkWQL6LguiJLL85KomadU";
    const PY_SHA512_CRYPT: &str = "$6$QmUC44Mx3Xo0zfGZ$pQsXQf7ket9mtt6sFt/PAF4k3VdVODPjleFpsMHqQJx4bTgtJ3lh0M494/zHAwu5G9DeLjqgi5Gw.q9EKS3Fq0";
    const PY_SHA256_CRYPT: &str = "$5$VhTBZ0RjYMovs01Y$bClvl16zQKn2ircdPt1XmkLxZUZUUrUM3rR719r5xV4";

    /// Made by our own `hash(PW)` and accepted by Dovecot:
    /// `doveadm pw -t '<this>' -p 'correct horse battery staple'` printed
    /// "(verified)".
    const OWN_ARGON2ID: &str = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$a64fQZp2Rm+thucFnWNZzg$G1DSr2CG3lFSjx/c4BiaPobKzJUSmWvtfSGpru0g3ds";

    /// Every vector for PW, cheap ones first.
    const PW_VECTORS: &[&str] = &[
        DOVECOT_PLAIN,
        DOVECOT_CLEARTEXT,
        DOVECOT_CLEAR,
        DOVECOT_SHA,
        DOVECOT_SHA1,
        DOVECOT_SHA_HEX,
        DOVECOT_SHA256,
        DOVECOT_SHA256_HEX,
        DOVECOT_SHA512,
        DOVECOT_SHA512_HEX,
        DOVECOT_SSHA,
        DOVECOT_SSHA_HEX,
        DOVECOT_SSHA256,
        DOVECOT_SSHA256_HEX,
        DOVECOT_SSHA512,
        DOVECOT_SSHA512_B64,
        DOVECOT_SHA256_CRYPT,
        DOVECOT_SHA256_CRYPT_ROUNDS,
        DOVECOT_SHA512_CRYPT,
        DOVECOT_SHA512_CRYPT_ROUNDS,
        PY_SHA256_CRYPT,
        PY_SHA512_CRYPT,
        DOVECOT_BLF_CRYPT,
        DOVECOT_CRYPT,
        PY_BCRYPT_2B,
        PY_BCRYPT_2A,
        DOVECOT_ARGON2I,
        DOVECOT_ARGON2ID,
        PY_ARGON2ID,
        OWN_ARGON2ID,
    ];

    #[test]
    fn every_vector_accepts_its_password_and_rejects_others() {
        for stored in PW_VECTORS {
            assert!(is_supported(stored), "{stored}");
            assert!(verify(stored, PW), "{stored}");
            assert!(!verify(stored, "correct horse battery stapler"), "{stored}");
            assert!(!verify(stored, ""), "{stored}");
        }
    }

    #[test]
    fn non_ascii_passwords_are_hashed_as_utf8() {
        for stored in [
            DOVECOT_UTF8_PLAIN,
            DOVECOT_UTF8_SSHA512,
            DOVECOT_UTF8_BLF_CRYPT,
            DOVECOT_UTF8_ARGON2ID,
        ] {
            assert!(verify(stored, PW_UTF8), "{stored}");
            assert!(!verify(stored, "passwort"), "{stored}");
        }
    }

    #[test]
    fn own_hash_has_dovecot_format_and_round_trips() {
        let stored = hash(PW);
        let phc = stored
            .strip_prefix("{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$")
            .expect("format");
        let (salt, tag) = phc.split_once('$').expect("salt and hash");
        // 16-byte salt and 32-byte tag in unpadded base64.
        assert_eq!((salt.len(), tag.len()), (22, 43));
        assert!(verify(&stored, PW));
        assert!(!verify(&stored, "Correct horse battery staple"));
        assert_ne!(stored, hash(PW), "salts must differ");
        assert!(!needs_rehash(&stored));
        assert_eq!(scheme_of(&stored), Some("ARGON2ID"));
    }

    #[test]
    fn scheme_names_are_case_insensitive() {
        let lower = DOVECOT_SHA512_CRYPT.replace("{SHA512-CRYPT}", "{sha512-crypt}");
        assert!(verify(&lower, PW));
        assert!(verify(&DOVECOT_PLAIN.replace("PLAIN", "Plain"), PW));
        assert!(verify(&DOVECOT_SSHA256_HEX.replace(".HEX", ".hex"), PW));
        assert!(needs_rehash("{cleartext}x"));
    }

    #[test]
    fn bare_values_dispatch_on_their_crypt_id() {
        for stored in [PY_SHA512_CRYPT, PY_SHA256_CRYPT, PY_BCRYPT_2B] {
            assert_eq!(scheme_of(stored), Some("CRYPT"));
            assert!(verify(stored, PW));
        }
        let bare = DOVECOT_SHA512_CRYPT.trim_start_matches("{SHA512-CRYPT}");
        assert!(verify(bare, PW));
        // CRYPT with an explicit prefix dispatches the same way.
        assert!(verify(&format!("{{CRYPT}}{PY_SHA256_CRYPT}"), PW));
        // A bare value that is not `$id$` is not a plaintext password.
        assert!(!is_supported(PW));
        assert!(!verify(PW, PW));
        assert_eq!(scheme_of(PW), None);
    }

    #[test]
    fn scheme_and_crypt_id_must_agree() {
        // A SHA-256 crypt string under the SHA512-CRYPT name, and so on.
        let swapped = format!("{{SHA512-CRYPT}}{PY_SHA256_CRYPT}");
        let argon_as_i = DOVECOT_ARGON2ID.replace("{ARGON2ID}", "{ARGON2I}");
        let sha_as_blf = format!("{{BLF-CRYPT}}{PY_SHA512_CRYPT}");
        for stored in [swapped.as_str(), &argon_as_i, &sha_as_blf] {
            assert!(!is_supported(stored), "{stored}");
            assert!(!verify(stored, PW), "{stored}");
        }
    }

    #[test]
    fn malformed_and_unknown_values_fail_without_panic() {
        let cases = [
            "",
            "{",
            "{}",
            "{}x",
            "{PLAIN",
            "{ARGON2ID}",
            "{ARGON2ID}$argon2id$v=19$m=19456",
            "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "{ARGON2ID}$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "{ARGON2ID}$argon2id$v=19$m=x,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "{SHA512-CRYPT}$6$salt$short",
            "{SHA512-CRYPT}$6$rounds=abc$salt$x",
            "{SHA256-CRYPT}$5$$bClvl16zQKn2ircdPt1XmkLxZUZUUrUM3rR719r5xV4",
            "{BLF-CRYPT}$2y$05$tooshort",
            "{BLF-CRYPT}$2x$04$0FJyLvjiMLGQ5zlhoW9tYOsjZjiKGVAY4Ew7ipkG1FavhNjm9r8Vu",
            "{BLF-CRYPT}$2b$04$0FJyLvjiMLGQ5zlhoW9tYOsjZjiKGVAY4Ew7ipkG1FavhNjm9r8V£",
            "{SSHA}!!!!",
            // Exactly one SHA-1 digest and no salt.
            "{SSHA}q/eq1kOINtvlJqojGr3i0O73TUI=",
            "{SHA256}abcd",
            "{SHA256.HEX}c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8",
            "{SHA256.ROT13}xLvLH77JnWW/WdhcjLYu4tuWPw/hBvSD2a+nO9Tjmoo=",
            "{SHA512-CRYPT.HEX}abcd",
            "{PLAIN.HEX}xyz",
            "{MD5-CRYPT}$1$abcdefgh$0123456789012345678901",
            "{UNKNOWN}whatever",
            // yescrypt (Debian's /etc/shadow default) and DES crypt.
            "{CRYPT}$y$j9T$abcdefghijklmnop$0123456789012345678901234567890123456789012",
            "{CRYPT}abcdefghijklm",
            "$1$abcdefgh$0123456789012345678901",
        ];
        for stored in cases {
            assert!(!is_supported(stored), "{stored}");
            assert!(!verify(stored, PW), "{stored}");
        }
        // Every truncation of the cheap vectors (argon2 is left out: some
        // of its truncations are valid hashes and would cost seconds).
        for stored in PW_VECTORS.iter().filter(|s| !s.contains("argon2")) {
            for (cut, _) in stored.char_indices().skip(1) {
                let truncated = &stored[..cut];
                let _ = is_supported(truncated);
                // Only the plain schemes, or base64 shorn of its optional
                // `=` padding, can still match a shortened value.
                let unpadded = stored.trim_end_matches('=').len();
                if !needs_rehash(truncated) && cut < unpadded {
                    assert!(!verify(truncated, PW), "{truncated}");
                }
            }
        }
    }

    #[test]
    fn costs_beyond_our_limits_are_refused_before_running() {
        // Each of these would take minutes or gigabytes if run.
        let huge_argon = DOVECOT_ARGON2ID.replace("m=65536,t=3", "m=4194304,t=3");
        let long_argon = DOVECOT_ARGON2ID.replace("m=65536,t=3", "m=65536,t=100");
        let many_rounds = DOVECOT_SHA512_CRYPT_ROUNDS.replace("rounds=10000", "rounds=999999999");
        let few_rounds = DOVECOT_SHA512_CRYPT_ROUNDS.replace("rounds=10000", "rounds=999");
        let high_cost = DOVECOT_BLF_CRYPT.replace("$2y$05$", "$2y$31$");
        for stored in [huge_argon, long_argon, many_rounds, few_rounds, high_cost] {
            assert!(!is_supported(&stored), "{stored}");
            assert!(!verify(&stored, PW), "{stored}");
        }
    }

    #[test]
    fn scheme_of_reports_the_name_as_written() {
        assert_eq!(scheme_of(DOVECOT_SSHA256_HEX), Some("SSHA256.HEX"));
        assert_eq!(scheme_of("{md5-crypt}$1$x"), Some("md5-crypt"));
        assert_eq!(scheme_of(PY_ARGON2ID), Some("CRYPT"));
        assert_eq!(scheme_of("{}x"), None);
        assert_eq!(scheme_of(""), None);
        assert!(!is_supported("{md5-crypt}$1$x"));
    }

    #[test]
    fn only_cleartext_needs_rehash() {
        for stored in [
            DOVECOT_PLAIN,
            DOVECOT_CLEARTEXT,
            DOVECOT_CLEAR,
            "{PLAIN.B64}eA==",
        ] {
            assert!(needs_rehash(stored), "{stored}");
        }
        for stored in [
            DOVECOT_SSHA,
            DOVECOT_SHA512_CRYPT,
            PY_BCRYPT_2B,
            "",
            "plain",
        ] {
            assert!(!needs_rehash(stored), "{stored}");
        }
    }

    #[test]
    fn cleartext_decodes_only_plain_schemes() {
        assert_eq!(cleartext(DOVECOT_CLEAR).as_deref(), Some(PW));
        assert_eq!(cleartext(DOVECOT_UTF8_PLAIN).as_deref(), Some(PW_UTF8));
        assert_eq!(cleartext("{plain.b64}cHc=").as_deref(), Some("pw"));
        assert_eq!(cleartext("{PLAIN.HEX}ff"), None, "not UTF-8");
        assert_eq!(cleartext(DOVECOT_SHA), None);
        assert_eq!(cleartext("{PLAIN.B64}!"), None);
        assert_eq!(cleartext(PW), None);
    }

    #[test]
    fn plain_accepts_encoded_values() {
        // "correct horse battery staple" in base64 and hex.
        assert!(verify(
            "{PLAIN.B64}Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==",
            PW
        ));
        assert!(verify(
            "{PLAIN.HEX}636f727265637420686f727365206261747465727920737461706c65",
            PW
        ));
        // An empty stored plaintext matches only the empty password.
        assert!(verify("{PLAIN}", ""));
        assert!(!verify("{PLAIN}", "x"));
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert_eq!(decode_hex("00fF10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }

    /// Measure one argon2id verification at our parameters: hashes once,
    /// times five verifications and prints the median. Run by
    /// `scripts/bench-password.sh` natively and under qemu for aarch64.
    #[test]
    #[ignore = "timing measurement, run by scripts/bench-password.sh"]
    fn argon2_verify_timing() {
        let stored = hash(PW);
        let mut millis: Vec<f64> = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                assert!(verify(&stored, PW));
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        millis.sort_by(f64::total_cmp);
        eprintln!(
            "argon2id m={ARGON2_M_KIB} t={ARGON2_T} p={ARGON2_P} verify: median {:.1} ms (runs: {millis:.1?})",
            millis[2]
        );
    }
}
