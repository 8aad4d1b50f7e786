//! The client's certificate verifiers, around rustls's webpki verifier.
//!
//! - [`Pinned`]: webpki against Mozilla's roots plus the operator's file;
//!   when that fails, a certificate that is byte for byte one of the
//!   file's is accepted as that exact certificate. A homelab server's own
//!   self-signed certificate, as `openssl req -x509` makes it, is a v3
//!   certificate with `basicConstraints CA:TRUE`: webpki takes it as a
//!   root but refuses it as the server's own (`CaUsedAsEndEntity`, RFC
//!   5280 §4.2.1.9 read strictly), while mbsync and fetchmail accept it
//!   when told to trust that file. Pinning is the stronger statement —
//!   this key and no other — so neither the chain nor the name matters
//!   then; the handshake signature must still verify with the pinned
//!   certificate's key, or anyone could replay it.
//! - [`Opportunistic`]: webpki, and on failure a log line and on: the MX
//!   policy of RFC 7435 (see `tls.rs`).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Verifies as webpki does, or accepts a pinned certificate exactly.
#[derive(Debug)]
pub struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    pub fn new(
        inner: Arc<WebPkiServerVerifier>,
        pins: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Pinned {
        Pinned {
            inner,
            pins,
            provider,
        }
    }
}

impl ServerCertVerifier for Pinned {
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
        if self
            .pins
            .iter()
            .any(|pin| pin.as_ref() == end_entity.as_ref())
        {
            log::debug!(
                "tls: the certificate of {} is one given as trusted ({refusal}); accepted as pinned",
                server_name.to_str()
            );
            return Ok(ServerCertVerified::assertion());
        }
        Err(refusal)
    }

    // The handshake signature is checked with the end-entity certificate's
    // key whichever way the certificate was accepted (rustls calls these
    // with the certificate verify_server_cert accepted).
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

/// Verifies as webpki does; a failure is logged, not fatal.
#[derive(Debug)]
pub struct Opportunistic {
    inner: Arc<WebPkiServerVerifier>,
}

impl Opportunistic {
    pub fn new(inner: Arc<WebPkiServerVerifier>) -> Opportunistic {
        Opportunistic { inner }
    }
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
    use rustls::RootCertStore;

    /// A self-signed certificate with `basicConstraints CA:TRUE`, as
    /// `openssl req -x509` makes one.
    fn self_signed_ca(name: &str) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn pinned(certs: &[CertificateDer<'static>]) -> Pinned {
        let provider = super::super::tls::provider();
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in certs {
            roots.add(cert.clone()).unwrap();
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        Pinned::new(inner, certs.to_vec(), provider)
    }

    fn check(verifier: &Pinned, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
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
}
