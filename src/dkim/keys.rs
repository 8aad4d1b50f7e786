//! Signing keys: generated for `smolmail dkim add`, kept in the store as
//! PKCS#8 DER, loaded into `ring` to sign. Ed25519 (RFC 8463) and RSA-2048
//! (RFC 8301 §3.2: at least 1024 bits, 2048 recommended; 2048 still fits
//! one TXT record's practical size).
//!
//! `ring` cannot make RSA keys, so RSA generation is the `rsa` crate's
//! (see Cargo.toml); signing with the key is `ring`'s all the same.

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

use super::Algorithm;

/// RSA modulus size of new keys.
pub const RSA_BITS: usize = 2048;

/// A key ready to sign.
pub enum SigningKey {
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "SigningKey({})", self.algorithm().name())
    }
}

/// Makes a new private key, as PKCS#8 DER.
pub fn generate(algorithm: Algorithm) -> Result<Vec<u8>, String> {
    match algorithm {
        Algorithm::Ed25519Sha256 => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| "cannot generate an Ed25519 key".to_string()),
        Algorithm::RsaSha256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
            key.to_pkcs8_der()
                .map(|doc| doc.as_bytes().to_vec())
                .map_err(|e| format!("cannot encode the RSA key: {e}"))
        }
    }
}

impl SigningKey {
    /// Loads a PKCS#8 key of the given algorithm.
    pub fn from_pkcs8(algorithm: Algorithm, pkcs8: &[u8]) -> Result<SigningKey, String> {
        match algorithm {
            Algorithm::Ed25519Sha256 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map(SigningKey::Ed25519)
                .map_err(|e| format!("bad Ed25519 key: {e}")),
            Algorithm::RsaSha256 => RsaKeyPair::from_pkcs8(pkcs8)
                .map(SigningKey::Rsa)
                .map_err(|e| format!("bad RSA key: {e}")),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519(_) => Algorithm::Ed25519Sha256,
            SigningKey::Rsa(_) => Algorithm::RsaSha256,
        }
    }

    /// The public key as the key record takes it ([`super::record::build`]).
    pub fn public_key(&self) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => k.public_key().as_ref().to_vec(),
            SigningKey::Rsa(k) => k.public().as_ref().to_vec(),
        }
    }

    /// The key record to publish for this key.
    pub fn record(&self) -> String {
        super::record::build(self.algorithm(), &self.public_key())
    }

    /// Signs the canonical header data (RFC 6376 §3.7). Ed25519 signs the
    /// SHA-256 of the data, not the data (RFC 8463 §3).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            SigningKey::Ed25519(k) => {
                let hash = ring::digest::digest(&ring::digest::SHA256, data);
                Ok(k.sign(hash.as_ref()).as_ref().to_vec())
            }
            SigningKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .map_err(|_| "RSA signing failed".to_string())?;
                Ok(sig)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::record;

    #[test]
    fn rfc8301_new_keys_load_sign_and_publish() {
        for algorithm in [Algorithm::Ed25519Sha256, Algorithm::RsaSha256] {
            let pkcs8 = generate(algorithm).unwrap();
            let key = SigningKey::from_pkcs8(algorithm, &pkcs8).unwrap();
            let published = record::parse(key.record().as_bytes()).unwrap();
            assert_eq!(published.algorithm, algorithm);
            let sig = key.sign(b"data").unwrap();
            if algorithm == Algorithm::RsaSha256 {
                // RSA-2048: 256-byte signatures; the SPKI record is ~400 chars.
                assert_eq!(sig.len(), RSA_BITS / 8);
                assert!(key.record().len() < 420);
            }
            assert!(SigningKey::from_pkcs8(algorithm, &pkcs8[1..]).is_err());
        }
    }
}
