//! Tests of the password schemes: Dovecot-made vectors for every scheme
//! read, our own hashes, and argon2's cost on this machine.

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
const DOVECOT_CRYPT: &str = "{CRYPT}$2y$05$C4LJ7h4zL4CoIdfWOWxz3.lkULTg85mOe9.kYx9UNNJAoIzNOpvqa";
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
            if !is_cleartext_scheme(truncated) && cut < unpadded {
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
fn long_passwords_against_many_rounds_are_refused_before_running() {
    let many_rounds = DOVECOT_SHA512_CRYPT_ROUNDS.replace("rounds=10000", "rounds=1000000");
    assert!(is_supported(&many_rounds));
    // A million rounds with a 1 KiB password would take ~14 s (minutes in
    // a debug build); refused at once instead.
    let start = std::time::Instant::now();
    assert!(!verify(&many_rounds, &"x".repeat(1024)));
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    // Dovecot's default rounds admit the longest password a login may use.
    let long = "x".repeat(crate::auth::MAX_PASSWORD);
    assert!(u64::from(5000u32) * (long.len() as u64 + SHA_CRYPT_ROUND_BYTES) <= MAX_SHA_CRYPT_WORK);
    // The right password still verifies at its own rounds.
    assert!(verify(DOVECOT_SHA512_CRYPT_ROUNDS, PW));
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
fn every_scheme_but_argon2id_needs_rehash() {
    for stored in [
        DOVECOT_PLAIN,
        DOVECOT_CLEARTEXT,
        DOVECOT_CLEAR,
        "{PLAIN.B64}eA==",
        DOVECOT_SSHA,
        DOVECOT_SHA512_CRYPT,
        DOVECOT_BLF_CRYPT,
        PY_BCRYPT_2B,
    ] {
        assert!(needs_rehash(stored), "{stored}");
    }
    for stored in [DOVECOT_ARGON2ID, PY_ARGON2ID, "", "plain", "{UNKNOWN}x"] {
        assert!(!needs_rehash(stored), "{stored}");
    }
    assert!(!needs_rehash(&hash("pw")));
    assert!(is_cleartext_scheme(DOVECOT_PLAIN));
    assert!(!is_cleartext_scheme(DOVECOT_SSHA));
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

/// How long one SHA512-CRYPT verification takes at the longest password a
/// login may present (`auth::MAX_PASSWORD`, 1 KiB) against Dovecot's
/// default 5000 rounds, next to a 16-byte one: SHA-crypt's cost grows with
/// the password's length (the P sequence is quadratic in it). Run by
/// `scripts/bench-password.sh`.
#[test]
#[ignore = "timing measurement, run by scripts/bench-password.sh"]
fn sha512_crypt_long_password_timing() {
    let median = |password: &str| {
        let mut millis: Vec<f64> = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                assert!(!verify(DOVECOT_SHA512_CRYPT, password));
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        millis.sort_by(f64::total_cmp);
        millis[2]
    };
    let long = "x".repeat(crate::auth::MAX_PASSWORD);
    eprintln!(
        "sha512-crypt rounds=5000 verify: median {:.1} ms with a {}-byte password, {:.1} ms with 16 bytes",
        median(&long),
        long.len(),
        median("0123456789abcdef")
    );
}
