//! The two DER shapes an RSA public key takes in DKIM: the key record's
//! `p=` holds a SubjectPublicKeyInfo (RFC 6376 §3.6.1, RFC 5280 §4.1), and
//! `ring` verifies with the bare RSAPublicKey inside it (RFC 8017 A.1.1).
//! Only these shapes are read or written: lengths of up to two bytes (keys
//! up to 16 kbit, far past RFC 8301's 4096-bit ceiling for verifiers).

/// The AlgorithmIdentifier of rsaEncryption (OID 1.2.840.113549.1.1.1,
/// NULL parameters), as it appears in every RSA SubjectPublicKeyInfo.
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// Reads one DER element with tag `tag`: its contents and what follows.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (n as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 => (
            u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize,
            rest.get(2..)?,
        ),
        _ => return None,
    };
    Some((rest.get(..len)?, &rest[len..]))
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..0x80 => out.push(len as u8),
        0x80..0x100 => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
}

/// The RSAPublicKey inside a key record's `p=`: a SubjectPublicKeyInfo
/// with the rsaEncryption algorithm, or (as some publishers write it) the
/// bare RSAPublicKey SEQUENCE.
pub fn rsa_public_key(p: &[u8]) -> Option<&[u8]> {
    let (spki, after) = element(p, 0x30)?;
    if !after.is_empty() {
        return None;
    }
    if spki.starts_with(RSA_ALGORITHM) {
        let (bits, after) = element(&spki[RSA_ALGORITHM.len()..], 0x03)?;
        // No unused bits: the key is whole bytes.
        let (&0, key) = bits.split_first()? else {
            return None;
        };
        return (after.is_empty() && is_rsa_public_key(key)).then_some(key);
    }
    is_rsa_public_key(p).then_some(p)
}

/// Is `der` exactly an RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }?
fn is_rsa_public_key(der: &[u8]) -> bool {
    let Some((seq, after)) = element(der, 0x30) else {
        return false;
    };
    let integers = element(seq, 0x02).and_then(|(_, rest)| element(rest, 0x02));
    after.is_empty() && matches!(integers, Some((_, rest)) if rest.is_empty())
}

/// The modulus size in bits of an RSAPublicKey (RFC 8301 §3.2 sets a
/// floor for verifiers).
pub fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Option<usize> {
    let (seq, _) = element(rsa_public_key, 0x30)?;
    let (n, _) = element(seq, 0x02)?;
    let n = match n.iter().position(|&b| b != 0) {
        Some(i) => &n[i..],
        None => return Some(0),
    };
    Some(n.len() * 8 - n[0].leading_zeros() as usize)
}

/// Wraps an RSAPublicKey in a SubjectPublicKeyInfo, for `p=`.
pub fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    let mut bits = vec![0x03];
    push_len(&mut bits, rsa_public_key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(rsa_public_key);
    let mut out = vec![0x30];
    push_len(&mut out, RSA_ALGORITHM.len() + bits.len());
    out.extend_from_slice(RSA_ALGORITHM);
    out.extend_from_slice(&bits);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_wraps_and_unwraps_and_bare_keys_pass() {
        // A toy RSAPublicKey: SEQUENCE { INTEGER 0x00c1, INTEGER 3 }.
        let key = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc1, 0x02, 0x01, 0x03];
        let spki = rsa_spki(&key);
        assert_eq!(rsa_public_key(&spki), Some(&key[..]));
        assert_eq!(rsa_public_key(&key), Some(&key[..]));
        assert_eq!(rsa_public_key(&spki[..spki.len() - 1]), None);
        assert_eq!(rsa_public_key(b""), None);
        assert_eq!(rsa_public_key(&[0x30, 0x84, 0, 0, 0, 1]), None);
        let big = vec![0u8; 300];
        assert_eq!(rsa_public_key(&rsa_spki(&big)), None, "not a key inside");
        let mut long = vec![0x30, 0x82, 0x01, 0x2c];
        long.extend_from_slice(&[0x02, 0x82, 0x01, 0x25]);
        long.extend_from_slice(&[1u8; 0x125]);
        long.extend_from_slice(&[0x02, 0x01, 0x03]);
        assert_eq!(rsa_public_key(&rsa_spki(&long)), Some(&long[..]));
        assert_eq!(rsa_modulus_bits(&key), Some(8));
        assert_eq!(rsa_modulus_bits(&long), Some(0x124 * 8 + 1));
    }
}
