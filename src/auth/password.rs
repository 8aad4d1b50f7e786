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
/// Largest SHA-crypt work we run for one login, in rounds × (password
/// length + 128): each round hashes the password plus about 128 bytes'
/// worth of fixed work. The budget is our round limit with a 64-byte
/// password (~2.5 s on x86): a 1 KiB password against a million-round hash
/// would take ~14 s and hold a verifier slot all that time. Dovecot's
/// default 5000 rounds admit any password up to `auth::MAX_PASSWORD`.
const MAX_SHA_CRYPT_WORK: u64 = MAX_SHA_CRYPT_ROUNDS as u64 * (64 + SHA_CRYPT_ROUND_BYTES);
/// The fixed part of one SHA-crypt round, in password bytes (measured:
/// 7.7 ms for 16 bytes, 72.5 ms for 1 KiB at 5000 rounds, release build).
const SHA_CRYPT_ROUND_BYTES: u64 = 128;
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
/// password is known: true for every scheme but ARGON2ID, i.e. the ones a
/// Dovecot import carries over (SHA512-CRYPT, BLF-CRYPT, SSHA, ARGON2I,
/// PLAIN...), which are cheaper to attack if the store leaks. A successful
/// login upgrades them (see [`super::Verifier`]); import already re-hashes
/// the cleartext ones (see [`cleartext`]). An ARGON2ID hash with other cost
/// parameters (Dovecot's 64 MiB) is kept: it is no weaker.
#[must_use]
pub fn needs_rehash(stored: &str) -> bool {
    let crypt_value = match split_prefix(stored) {
        Some((name, value)) => match Scheme::from_name(name) {
            Some((Scheme::Argon2id, _)) | None => return false,
            Some((Scheme::Crypt, _)) => value,
            Some(_) => return true,
        },
        None if stored.starts_with('$') => stored,
        None => return false,
    };
    // crypt(3) style: the `$id$` prefix names the algorithm.
    !crypt_value.starts_with("$argon2id$")
}

/// Whether the value is a cleartext scheme (PLAIN, CLEARTEXT, CLEAR).
#[cfg(test)]
fn is_cleartext_scheme(stored: &str) -> bool {
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
    /// A checked `$5$` / `$6$` string and its round count.
    ShaCrypt(&'a str, u32),
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
            Stored::ShaCrypt(_, rounds)
                if u64::from(*rounds) * (password.len() as u64 + SHA_CRYPT_ROUND_BYTES)
                    > MAX_SHA_CRYPT_WORK =>
            {
                log::warn!(
                    "refused to verify a {}-byte password against a SHA-crypt hash of {rounds} rounds: over our work limit",
                    password.len()
                );
                false
            }
            Stored::ShaCrypt(mcf, _) => sha_crypt::ShaCrypt::default()
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
pub(crate) fn scheme_for_log(stored: &str) -> &str {
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
    let mut sha_rounds = 5000; // the default when the value names none
    let rest = match rest.strip_prefix("rounds=") {
        Some(with_rounds) => {
            let (rounds, rest) = with_rounds.split_once('$').ok_or("malformed SHA-crypt")?;
            let rounds: u32 = rounds.parse().map_err(|_| "bad SHA-crypt rounds")?;
            // Below 1000 glibc silently clamps, sha-crypt refuses; such
            // hashes do not occur in practice, so refuse them up front.
            if !(1000..=MAX_SHA_CRYPT_ROUNDS).contains(&rounds) {
                return Err("SHA-crypt rounds outside our limits");
            }
            sha_rounds = rounds;
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
    Ok(Stored::ShaCrypt(value, sha_rounds))
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
mod tests;
