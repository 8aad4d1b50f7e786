//! The client's certificate verifier: rustls's webpki verifier, and what
//! to do when it refuses.
//!
//! - [`Fallback::Pinned`], for relay hosts and the fetcher's servers:
//!   webpki against Mozilla's roots plus the operator's file; when that
//!   fails, a certificate that is byte for byte one of the file's is
//!   accepted as that exact certificate. A homelab server's own
//!   self-signed certificate, as `openssl req -x509` makes it, is a v3
//!   certificate with `basicConstraints CA:TRUE`: webpki takes it as a
//!   root but refuses it as the server's own (`CaUsedAsEndEntity`, RFC
//!   5280 §4.2.1.9 read strictly), while mbsync and fetchmail accept it
//!   when told to trust that file. Pinning is the stronger statement —
//!   this key and no other — so neither the chain nor the name matters
//!   then.
//! - [`Fallback::Anything`], for MX hosts: a refusal is logged and the
//!   session goes on (opportunistic TLS, RFC 7435; see `tls.rs`).
//!
//! Either way the handshake signature must verify with the end-entity
//! certificate's key, or anyone could replay a certificate.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What a certificate webpki refuses may still be.
#[derive(Debug)]
pub enum Fallback {
    /// Exactly one of these certificates.
    Pinned(Vec<CertificateDer<'static>>),
    /// Anything: logged, not refused.
    Anything,
}

/// Verifies as webpki does, then falls back as told.
#[derive(Debug)]
pub struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    fallback: Fallback,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    pub fn new(
        inner: Arc<WebPkiServerVerifier>,
        fallback: Fallback,
        provider: Arc<CryptoProvider>,
    ) -> Verifier {
        Verifier {
            inner,
            fallback,
            provider,
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refusal =
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Ok(verified) => return Ok(verified),
                Err(e) => e,
            };
        let name = server_name.to_str();
        match &self.fallback {
            Fallback::Pinned(pins)
                if pins.iter().any(|pin| pin.as_ref() == end_entity.as_ref()) =>
            {
                log::debug!(
                    "tls: the certificate of {name} is one given as trusted ({refusal}); accepted as pinned"
                );
                Ok(ServerCertVerified::assertion())
            }
            Fallback::Pinned(_) => Err(refusal),
            Fallback::Anything => {
                log::info!(
                    "delivery: TLS certificate of {name} does not verify ({refusal}); delivering anyway (opportunistic TLS)"
                );
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    // rustls calls these with the certificate verify_server_cert accepted,
    // whichever way it was accepted.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::RootCertStore;

    /// A self-signed certificate with `basicConstraints CA:TRUE`, as
    /// `openssl req -x509` makes one.
    fn self_signed_ca(name: &str) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn pinned(certs: &[CertificateDer<'static>]) -> Verifier {
        let provider = super::super::tls::provider();
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in certs {
            roots.add(cert.clone()).unwrap();
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        Verifier::new(inner, Fallback::Pinned(certs.to_vec()), provider)
    }

    fn check(verifier: &Verifier, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let name = ServerName::try_from("nas.lan").unwrap();
        verifier
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn a_self_signed_ca_certificate_is_trusted_as_itself_only() {
        let own = self_signed_ca("nas.lan");
        let other = self_signed_ca("nas.lan");
        let verifier = pinned(std::slice::from_ref(&own));
        // webpki alone refuses the server's own CA:TRUE certificate ...
        let webpki = verifier
            .inner
            .verify_server_cert(
                &own,
                &[],
                &ServerName::try_from("nas.lan").unwrap(),
                &[],
                UnixTime::now(),
            )
            .unwrap_err();
        assert!(
            format!("{webpki:?}").contains("CaUsedAsEndEntity"),
            "{webpki:?}"
        );
        // ... the pin accepts exactly that certificate, whatever the name,
        assert!(check(&verifier, &own).is_ok());
        let elsewhere = ServerName::try_from("192.0.2.9").unwrap();
        assert!(
            verifier
                .verify_server_cert(&own, &[], &elsewhere, &[], UnixTime::now())
                .is_ok()
        );
        // ... and no other self-signed one, same name or not.
        assert!(check(&verifier, &other).is_err());
        assert!(check(&pinned(&[]), &own).is_err());
    }

    #[test]
    fn a_certificate_issued_by_the_file_verifies_as_before() {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["nas.lan".to_string()])
            .unwrap()
            .signed_by(&server_key, &*ca)
            .unwrap();
        let verifier = pinned(&[ca.der().clone()]);
        assert!(check(&verifier, server.der()).is_ok());
        // The name still matters for a certificate that is not pinned.
        let wrong = ServerName::try_from("other.lan").unwrap();
        assert!(
            verifier
                .verify_server_cert(server.der(), &[], &wrong, &[], UnixTime::now())
                .is_err()
        );
    }

    #[test]
    fn opportunistic_takes_anything() {
        let provider = super::super::tls::provider();
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let verifier = Verifier::new(inner, Fallback::Anything, provider);
        assert!(check(&verifier, &self_signed_ca("mx.example")).is_ok());
    }
}
