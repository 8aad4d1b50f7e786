//! `smolmail update-verify`: whether a system update for the appliance comes
//! from whoever holds the release key.
//!
//! An update (made by `scripts/make-update.sh`) carries `SHA256SUMS`, the
//! SHA-256 of each of its files, and `SHA256SUMS.sig`, an Ed25519 signature
//! (RFC 8032) of that list by the release key. The image carries the public
//! half in `/etc/smolmail/update-key`: the base64 of the 32-byte key, one
//! line, `#` comments allowed. This command checks the signature; the
//! board's update script then checks every file against the signed list
//! with `sha256sum -c`. The arithmetic is ring's.

use std::path::{Path, PathBuf};

use argh::FromArgs;
use base64::Engine;

#[derive(FromArgs)]
#[argh(subcommand, name = "update-verify")]
/// check an appliance update's signed file list against the release key
pub struct UpdateVerifyCmd {
    /// the release public key: base64 of the 32-byte Ed25519 key
    #[argh(option)]
    key: PathBuf,
    /// the signature: 64 bytes (Ed25519)
    #[argh(option)]
    signature: PathBuf,
    /// the signed file (the update's SHA256SUMS)
    #[argh(positional)]
    file: PathBuf,
}

/// An update's file list is a line per file; anything this large is not one.
const MAX_LIST: u64 = 1 << 20;

pub fn run(cmd: &UpdateVerifyCmd) -> Result<String, String> {
    let key = read_small(&cmd.key, 4096)?;
    let key = parse_public_key(&String::from_utf8_lossy(&key))
        .map_err(|e| format!("{}: {e}", cmd.key.display()))?;
    let signature = read_small(&cmd.signature, 4096)?;
    let list = read_small(&cmd.file, MAX_LIST)?;
    verify(&key, &list, &signature)?;
    Ok(format!(
        "{}: good signature by release key {}",
        cmd.file.display(),
        key_id(&key)
    ))
}

fn read_small(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > max {
        return Err(format!(
            "{}: {} bytes, more than the {max} such a file can hold",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The key file's text: the first line that is neither empty nor a `#`
/// comment, base64 of exactly 32 bytes.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or("no key in the file")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|e| format!("the key is not base64: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("an Ed25519 key is 32 bytes, this one {}", b.len()))
}

/// RFC 8032 §5.1.7 verification of `signature` over `message`.
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8]) -> Result<(), String> {
    if signature.len() != 64 {
        return Err(format!(
            "an Ed25519 signature is 64 bytes, this one {}",
            signature.len()
        ));
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(message, signature)
        .map_err(|_| "BAD signature: not made by the release key, or the list was changed".into())
}

/// A short name for a key in messages: the first 8 bytes of its SHA-256.
fn key_id(key: &[u8; 32]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn pair() -> Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn key_of(pair: &Ed25519KeyPair) -> [u8; 32] {
        pair.public_key().as_ref().try_into().unwrap()
    }

    #[test]
    fn rfc8032_signature_by_the_key_verifies() {
        let pair = pair();
        let list = b"0123  vmlinuz\n4567  initramfs.gz\n";
        let sig = pair.sign(list);
        assert!(verify(&key_of(&pair), list, sig.as_ref()).is_ok());
    }

    #[test]
    fn a_changed_list_or_another_key_is_refused() {
        let pair = pair();
        let list = b"0123  vmlinuz\n";
        let sig = pair.sign(list);
        assert!(verify(&key_of(&pair), b"0124  vmlinuz\n", sig.as_ref()).is_err());
        assert!(verify(&key_of(&super::tests::pair()), list, sig.as_ref()).is_err());
        assert!(verify(&key_of(&pair), list, &sig.as_ref()[..63]).is_err());
    }

    #[test]
    fn key_file_is_base64_of_32_bytes_after_comments() {
        let key = [7u8; 32];
        let text = format!(
            "# smolmail release key\n\n{}\n",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        assert_eq!(parse_public_key(&text).unwrap(), key);
        assert!(parse_public_key("# nothing\n").is_err());
        assert!(parse_public_key("AAAA\n").is_err());
        assert!(parse_public_key("not base64!\n").is_err());
    }
}
