//! TLS client settings for outbound SMTP (rustls with the ring provider).
//!
//! Two policies, as Postfix's `may` and `secure` levels:
//! - to MX hosts, opportunistic TLS (RFC 3207, RFC 7435): STARTTLS when
//!   offered; a certificate that does not verify is logged and the message
//!   still goes, encrypted — refusing would only push it to plaintext;
//! - to a relay host, TLS is required and its certificate must verify
//!   against Mozilla's roots (compiled in: the board has no CA bundle) plus
//!   the operator's `--relay-ca`; otherwise nothing is sent.
//!
//! The fetcher (`crate::fetch`) uses the second policy for IMAP servers,
//! with an account's own CA certificates ([`verified_pem`]).

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(extra: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra {
        let origin = format!("--relay-ca {}", path.display());
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("{origin}: {e}"))?
            .collect::<Result<Vec<_>, _>>();
        add_certs(&mut store, certs, &origin)?;
    }
    Ok(store)
}

/// Adds parsed PEM certificates to the trusted roots; `origin` (a flag and
/// file) names them in errors.
fn add_certs(
    store: &mut RootCertStore,
    certs: Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error>,
    origin: &str,
) -> Result<(), String> {
    let certs = certs.map_err(|e| format!("{origin}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{origin}: no CERTIFICATE block in the file"));
    }
    for cert in certs {
        store.add(cert).map_err(|e| format!("{origin}: {e}"))?;
    }
    Ok(())
}

fn verifier(extra: Option<&Path>) -> Result<Arc<WebPkiServerVerifier>, String> {
    built(roots(extra)?)
}

fn built(roots: RootCertStore) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("TLS verifier: {e}"))
}

/// As [`verified`], with the extra CA certificates given as PEM text
/// rather than a file (the fetcher keeps an account's `--ca` in the
/// store); `origin` names them in errors. Empty `pem`: Mozilla's roots only.
pub fn verified_pem(pem: &[u8], origin: &str) -> Result<Arc<ClientConfig>, String> {
    let mut store = roots(None)?;
    if !pem.is_empty() {
        let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>();
        add_certs(&mut store, certs, origin)?;
    }
    config(built(store)?)
}

fn config(verifier: Arc<dyn ServerCertVerifier>) -> Result<Arc<ClientConfig>, String> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// For relay hosts: the certificate must verify.
pub fn verified(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    config(verifier(extra_ca)?)
}

/// For MX hosts: verify, and on failure log and go on (signatures are
/// still checked, so the session is encrypted to whoever holds the key).
pub fn opportunistic() -> Result<Arc<ClientConfig>, String> {
    config(Arc::new(Opportunistic {
        inner: verifier(None)?,
    }))
}

#[derive(Debug)]
struct Opportunistic {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for Opportunistic {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Ok(verified) => Ok(verified),
            Err(e) => {
                log::info!(
                    "delivery: TLS certificate of {} does not verify ({e}); delivering anyway (opportunistic TLS)",
                    server_name.to_str()
                );
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_and_bad_ca_files_are_named() {
        assert!(opportunistic().is_ok());
        assert!(verified(None).is_ok());
        let dir = std::env::temp_dir().join(format!("smolmail-dtls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let err = verified(Some(&empty)).unwrap_err();
        assert!(
            err.contains("empty.pem") && err.contains("no CERTIFICATE"),
            "{err}"
        );
        let ca = rcgen::generate_simple_self_signed(vec!["relay.example".into()]).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        assert!(verified(Some(&good)).is_ok());
        assert!(verified_pem(ca.cert.pem().as_bytes(), "--ca").is_ok());
        assert!(verified_pem(b"", "--ca").is_ok());
        let err = verified_pem(b"junk", "--ca x.pem").unwrap_err();
        assert!(err.starts_with("--ca x.pem: no CERTIFICATE"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
