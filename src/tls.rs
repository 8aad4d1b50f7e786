//! The server's TLS certificate: loaded from files, reloaded, or a
//! self-signed one made at first start (the rustls configuration around
//! it, and every client configuration, are `crate::net::tls`).
//!
//! The certificate is served through a resolver holding the current
//! certificate behind a lock, so SIGHUP can swap in renewed files (e.g. after
//! certbot/acme.sh) without dropping a connection: handshakes already done
//! keep their keys, new ones get the new certificate. With no files given,
//! a self-signed certificate for the host name is generated once into the
//! data directory and its SHA-256 fingerprint logged, so a user can pin it
//! in a mail client.
//!
//! With ACME on (`crate::acme`), the ACME client installs each certificate
//! it obtains through a [`CertSlot`] into the same resolver, so every TLS
//! listener serves it from its next handshake, as after SIGHUP; SIGHUP
//! then leaves the ACME certificate alone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};

use crate::net::tls::{provider, server_config};
use rustls::sign::CertifiedKey;

/// Where the certificate comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Operator-supplied PEM files, re-read on reload.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated into the data directory on first start.
    SelfSigned { cert: PathBuf, key: PathBuf },
}

/// The server's TLS state: one shared rustls config and its certificate.
pub struct Tls {
    source: Source,
    resolver: Arc<Resolver>,
    config: Arc<ServerConfig>,
    /// The TLS-ALPN-01 validation configuration, with ACME on.
    challenge: Option<Arc<ServerConfig>>,
}

/// Serves whatever certificate is current.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
    /// ACME has installed a certificate: SIGHUP must not replace it.
    acme: AtomicBool,
}

/// Where the ACME client puts a new certificate: the listeners' resolver.
#[derive(Debug, Clone)]
pub struct CertSlot(Arc<Resolver>);

impl CertSlot {
    /// Installs a certificate in rustls-acme's layout, the PKCS#8 key
    /// then the chain in PEM; returns its SHA-256 fingerprint.
    pub fn install_pem(&self, pem: &[u8]) -> Result<String, String> {
        let chain = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("ACME certificate: {e}"))?;
        if chain.is_empty() {
            return Err("ACME certificate: no CERTIFICATE block".into());
        }
        let private =
            PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("ACME certificate key: {e}"))?;
        let certified = CertifiedKey::from_der(chain, private, &provider())
            .map_err(|e| format!("ACME certificate does not fit its key: {e}"))?;
        let print = fingerprint(&certified);
        self.0.acme.store(true, Ordering::Relaxed);
        *self.0.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        Ok(print)
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

impl Tls {
    /// Loads `files` (certificate chain, key) or the self-signed pair in
    /// `data_dir/tls/`, generating it for `hostname` if it is missing.
    pub fn load(
        files: Option<(&Path, &Path)>,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<Tls, String> {
        let source = match files {
            Some((cert, key)) => Source::Files {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
            None => {
                let dir = data_dir.join("tls");
                let (cert, key) = (
                    dir.join("selfsigned-cert.pem"),
                    dir.join("selfsigned-key.pem"),
                );
                if !cert.exists() || !key.exists() {
                    generate_self_signed(&dir, &cert, &key, hostname)?;
                }
                Source::SelfSigned { cert, key }
            }
        };
        let certified = load_pair(&source)?;
        log_certificate(&source, &certified);
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(certified)),
            acme: AtomicBool::new(false),
        });
        let config = server_config(resolver.clone())?;
        Ok(Tls {
            source,
            resolver,
            config,
            challenge: None,
        })
    }

    /// Whether ACME has installed the certificate in service.
    pub fn from_acme(&self) -> bool {
        self.resolver.acme.load(Ordering::Relaxed)
    }

    /// Where ACME puts the certificates it obtains.
    pub fn cert_slot(&self) -> CertSlot {
        CertSlot(self.resolver.clone())
    }

    /// Turns TLS-ALPN-01 on: a ClientHello offering `acme-tls/1` gets
    /// `challenge` (see `net::tls::Acceptor`).
    pub fn enable_acme(&mut self, challenge: Arc<ServerConfig>) {
        self.challenge = Some(challenge);
    }

    /// Re-reads the certificate files (SIGHUP). On error the old
    /// certificate stays in service and the error is returned for the log.
    pub fn reload(&self) -> Result<(), String> {
        if self.resolver.acme.load(Ordering::Relaxed) {
            return Err(
                "the certificate comes from ACME and renews itself; nothing to reload".into(),
            );
        }
        let certified = load_pair(&self.source)?;
        log_certificate(&self.source, &certified);
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        Ok(())
    }

    pub fn acceptor(&self) -> crate::net::tls::Acceptor {
        crate::net::tls::Acceptor::new(self.config.clone(), self.challenge.clone())
    }

    /// The end-entity certificate in service, DER (the certificates page
    /// reads its names and expiry from it).
    pub fn end_entity(&self) -> Option<Vec<u8>> {
        self.in_service().cert.first().map(|c| c.as_ref().to_vec())
    }

    /// SHA-256 of the end-entity certificate, as `AB:CD:…`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.in_service())
    }

    /// The certificate and key in service now (ACME may swap them).
    fn in_service(&self) -> Arc<CertifiedKey> {
        self.resolver
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn fingerprint(key: &CertifiedKey) -> String {
    let Some(der) = key.cert.first() else {
        return String::new();
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn log_certificate(source: &Source, key: &CertifiedKey) {
    match source {
        Source::Files { cert, .. } => log::info!(
            "tls: certificate {} sha256 {}",
            cert.display(),
            fingerprint(key)
        ),
        Source::SelfSigned { cert, .. } => log::info!(
            "tls: self-signed certificate {} sha256 {} (clients will warn; give --tls-cert/--tls-key for a trusted one)",
            cert.display(),
            fingerprint(key)
        ),
    }
}

fn load_pair(source: &Source) -> Result<CertifiedKey, String> {
    let (cert, key) = match source {
        Source::Files { cert, key } | Source::SelfSigned { cert, key } => (cert, key),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {}: no CERTIFICATE block in the file",
            cert.display()
        ));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|e| {
        format!(
            "TLS key {} does not fit certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })
}

/// Writes a self-signed certificate for `hostname` (and localhost); the
/// key file is created readable by the owner only.
fn generate_self_signed(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    hostname: &str,
) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".to_string());
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate a certificate: {e}"))?;
    // The key first: a certificate on disk always has its key beside it.
    write_durably(
        key_path,
        generated.signing_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_durably(cert_path, generated.cert.pem().as_bytes(), 0o644)?;
    log::info!(
        "tls: generated a self-signed certificate for {hostname} in {}",
        dir.display()
    );
    Ok(())
}

/// Writes a file so that after a power cut it is either absent or
/// complete: a temporary file, fsync, rename over the name, fsync of the
/// directory. (A half-written certificate would stop the server starting.)
fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let temp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temp)
        .map_err(failed)?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(failed)?;
    fs::rename(&temp, path).map_err(failed)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smolmail-tls-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn self_signed_is_generated_once_and_reused() {
        let dir = temp_dir("selfsigned");
        let first = Tls::load(None, &dir, "mail.home.arpa")
            .unwrap()
            .fingerprint();
        let second = Tls::load(None, &dir, "mail.home.arpa")
            .unwrap()
            .fingerprint();
        assert_eq!(first, second);
        assert_eq!(first.len(), 32 * 3 - 1);
        let mode = fs::metadata(dir.join("tls/selfsigned-key.pem")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            mode.permissions().mode() & 0o077,
            0,
            "key readable by others"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reload_swaps_certificate_and_keeps_old_on_error() {
        let dir = temp_dir("reload");
        fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        let write = |name: &str| {
            let g = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
            fs::write(&cert, g.cert.pem()).unwrap();
            fs::write(&key, g.signing_key.serialize_pem()).unwrap();
        };
        write("a.example");
        let tls = Tls::load(Some((&cert, &key)), &dir, "x").unwrap();
        let before = tls.fingerprint();
        write("b.example");
        tls.reload().unwrap();
        let after = tls.fingerprint();
        assert_ne!(before, after);
        fs::write(&key, "not a key").unwrap();
        assert!(tls.reload().is_err());
        assert_eq!(tls.fingerprint(), after);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mismatched_or_missing_files_are_clear_errors() {
        let dir = temp_dir("bad");
        fs::create_dir_all(&dir).unwrap();
        let err = Tls::load(
            Some((&dir.join("none.pem"), &dir.join("none.key"))),
            &dir,
            "x",
        )
        .err()
        .unwrap();
        assert!(err.contains("none.pem"), "{err}");
        let a = rcgen::generate_simple_self_signed(vec!["a".to_string()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b".to_string()]).unwrap();
        fs::write(dir.join("c.pem"), a.cert.pem()).unwrap();
        fs::write(dir.join("k.pem"), b.signing_key.serialize_pem()).unwrap();
        let err = Tls::load(Some((&dir.join("c.pem"), &dir.join("k.pem"))), &dir, "x")
            .err()
            .unwrap();
        assert!(err.contains("does not fit"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
