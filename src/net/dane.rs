//! DANE for SMTP (RFC 7672 §3): a certificate verifier that accepts an
//! MX host's certificate only as its DNSSEC-validated TLSA records say.
//!
//! - DANE-EE(3) (§3.1.1, §3.2.1): the server's own certificate or public
//!   key is named; nothing else is checked — not the name, not the
//!   expiry, not the issuer — because the DNS itself vouches for the key.
//! - DANE-TA(2) (§3.1.2, §3.2.2): a certificate of the chain the server
//!   sent is named as its trust anchor; the chain must verify up to it
//!   (webpki, that anchor as the only root) and the certificate must be
//!   valid for the MX host name (§3.2.3).
//!
//! Records the parser found unusable never reach here (the caller decides
//! what an all-unusable set means). The handshake signature is checked
//! with the end-entity key, as in `verify.rs`.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::wire::tlsa::{Tlsa, Usage};

/// Verifies against a TLSA record set.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    provider: Arc<CryptoProvider>,
}

/// A client configuration that takes only certificates `records` name.
pub fn config(records: Vec<Tlsa>) -> Result<Arc<ClientConfig>, String> {
    let provider = super::tls::provider();
    let verifier = Arc::new(DaneVerifier {
        records,
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The DER SubjectPublicKeyInfo of a certificate (selector 1).
fn spki(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(parsed.subject_public_key_info().as_ref().to_vec())
}

fn matches(record: &Tlsa, cert: &CertificateDer<'_>) -> bool {
    spki(cert).is_some_and(|spki| record.matches(cert.as_ref(), &spki))
}

impl DaneVerifier {
    /// §3.2.2: the chain up to `anchor` and the name, by webpki.
    fn chain_to(
        &self,
        anchor: &CertificateDer<'_>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots
            .add(anchor.clone().into_owned())
            .map_err(|e| rustls::Error::General(format!("DANE-TA anchor: {e}")))?;
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(format!("DANE-TA: {e}")))?
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)
            .map(drop)
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut why = String::from("no TLSA record matches the certificate chain");
        for record in &self.records {
            match record.usage {
                Usage::DaneEe if matches(record, end_entity) => {
                    return Ok(ServerCertVerified::assertion());
                }
                Usage::DaneEe => {}
                Usage::DaneTa => {
                    // The anchor is one the server sent (§3.1.2 asks servers
                    // to include it), possibly a self-signed end entity.
                    let chain = std::iter::once(end_entity).chain(intermediates);
                    for anchor in chain.filter(|c| matches(record, c)) {
                        match self.chain_to(anchor, end_entity, intermediates, server_name, now) {
                            Ok(()) => return Ok(ServerCertVerified::assertion()),
                            Err(e) => why = format!("DANE-TA anchor matched, chain refused: {e}"),
                        }
                    }
                }
            }
        }
        Err(rustls::Error::General(why))
    }

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
    use crate::wire::tlsa::{Matching, Selector};

    fn sha256(bytes: &[u8]) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, bytes)
            .as_ref()
            .to_vec()
    }

    fn check(
        v: &DaneVerifier,
        ee: &CertificateDer<'_>,
        chain: &[CertificateDer<'_>],
        name: &str,
    ) -> bool {
        let name = ServerName::try_from(name.to_string()).unwrap();
        v.verify_server_cert(ee, chain, &name, &[], UnixTime::now())
            .is_ok()
    }

    fn verifier(records: Vec<Tlsa>) -> DaneVerifier {
        DaneVerifier {
            records,
            provider: super::super::tls::provider(),
        }
    }

    /// RFC 7672 §3.2.1: DANE-EE 3 1 1 matches the key, whatever the name.
    #[test]
    fn rfc7672_3_1_1_dane_ee_spki_sha256() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let spki_digest = sha256(&rcgen::PublicKeyData::subject_public_key_info(&key));
        let ee = |s, data: Vec<u8>| Tlsa {
            usage: Usage::DaneEe,
            selector: s,
            matching: Matching::Sha256,
            data,
        };
        let good = verifier(vec![ee(Selector::Spki, spki_digest.clone())]);
        assert!(check(&good, &der, &[], "other.example"));
        let full = verifier(vec![ee(Selector::Cert, sha256(der.as_ref()))]);
        assert!(check(&full, &der, &[], "mx.example"));
        let wrong = verifier(vec![ee(Selector::Spki, sha256(b"another key"))]);
        assert!(!check(&wrong, &der, &[], "mx.example"));
    }

    /// RFC 7672 §3.2.2: DANE-TA 2 0 1 names the issuer; the chain and the
    /// MX name are then checked.
    #[test]
    fn rfc7672_3_2_2_dane_ta_chain_and_name() {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .unwrap()
            .signed_by(&key, &*ca)
            .unwrap();
        let ta = verifier(vec![Tlsa {
            usage: Usage::DaneTa,
            selector: Selector::Cert,
            matching: Matching::Sha256,
            data: sha256(ca.der().as_ref()),
        }]);
        let chain = [ca.der().clone()];
        assert!(check(&ta, server.der(), &chain, "mx.example"));
        assert!(
            !check(&ta, server.der(), &chain, "evil.example"),
            "name checked"
        );
        assert!(
            !check(&ta, server.der(), &[], "mx.example"),
            "anchor not sent"
        );
    }
}
