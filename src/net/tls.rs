//! The rustls configurations, server side and client side, all on one
//! crypto provider (ring: aws-lc does not cross-build for the board).
//!
//! The server's certificate (files, reload, self-signed bootstrap) is
//! `crate::tls`; here is only the configuration around it.
//!
//! The client side has two policies, as Postfix's `may` and `secure`
//! levels:
//! - [`opportunistic`], to MX hosts (RFC 3207, RFC 7435): TLS when
//!   offered; a certificate that does not verify is logged and the
//!   message still goes, encrypted — refusing would only push it to
//!   plaintext;
//! - [`verified`] and [`verified_pem`], to a relay host (`--relay-ca`) and
//!   to the fetcher's IMAP servers (an account's `--ca`): the certificate
//!   must verify against Mozilla's roots (compiled in: the board has no CA
//!   bundle) plus the operator's file, or be exactly a certificate of that
//!   file (pinning, as mbsync and fetchmail accept a server's own
//!   self-signed certificate: see `verify.rs`).

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::{ResolvesServerCert, ServerConfig};
use rustls::{ClientConfig, RootCertStore};

use super::verify::{Fallback, Verifier};

/// The one crypto provider of every TLS configuration.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The IANA name of a cipher suite (the TLS Cipher Suites registry, the
/// names OpenSSL-based servers such as Postfix print in Received:), for
/// the suites ring offers; rustls's own names differ for TLS 1.3
/// (`TLS13_AES_256_GCM_SHA384`). Another code prints as hex.
pub fn suite_name(code: u16) -> String {
    let name = match code {
        // RFC 8446 §B.4.
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        // RFC 5289 §3.2, RFC 7905 §2.
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return format!("0x{code:04X}"),
    };
    name.to_string()
}

/// The server configuration: TLS 1.2 and 1.3, no client certificates, the
/// certificate from `certificates` at each handshake (so a reload takes
/// effect for new connections only).
pub fn server_config(
    certificates: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, String> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    Ok(Arc::new(config))
}

/// ALPN protocol of an ACME TLS-ALPN-01 validation (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The server side of every handshake. Normally one configuration; with
/// ACME on, a ClientHello offering `acme-tls/1` gets the challenge
/// configuration instead (RFC 8737 §3: that ALPN negotiated and the
/// validation certificate for the SNI name). A separate configuration
/// because one that lists `acme-tls/1` would refuse mail clients offering
/// some other ALPN (rustls answers `no_application_protocol`).
#[derive(Clone)]
pub struct Acceptor {
    normal: Arc<ServerConfig>,
    challenge: Option<Arc<ServerConfig>>,
}

impl Acceptor {
    pub fn new(normal: Arc<ServerConfig>, challenge: Option<Arc<ServerConfig>>) -> Acceptor {
        Acceptor { normal, challenge }
    }

    /// The handshake. A TLS-ALPN-01 validation ends after its handshake
    /// (RFC 8737 §3: no application data follows), reported as an error
    /// that says so, for the log.
    pub async fn accept<IO>(&self, io: IO) -> std::io::Result<futures_rustls::server::TlsStream<IO>>
    where
        IO: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin,
    {
        let Some(challenge) = &self.challenge else {
            return futures_rustls::TlsAcceptor::from(self.normal.clone())
                .accept(io)
                .await;
        };
        let start =
            futures_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io)
                .await?;
        let validation = start
            .client_hello()
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if !validation {
            return start.into_stream(self.normal.clone()).await;
        }
        let mut stream = start.into_stream(challenge.clone()).await?;
        let _ = smol::io::AsyncWriteExt::close(&mut stream).await;
        Err(std::io::Error::other(
            "answered an ACME TLS-ALPN-01 validation (RFC 8737)",
        ))
    }
}

/// `host` as the name a client sends (SNI) and checks the certificate for.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host} is not a valid TLS server name"))
}

/// For relay hosts: the certificate must verify against Mozilla's roots
/// plus `extra_ca` (`--relay-ca`), or be one of `extra_ca`'s certificates.
pub fn verified(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    verified_for(extra_ca, "--relay-ca")
}

/// As [`verified`], naming `flag` in errors (`--acme-ca` for the ACME
/// directory of a LAN CA).
pub fn verified_for(extra_ca: Option<&Path>, flag: &str) -> Result<Arc<ClientConfig>, String> {
    let extra = match extra_ca {
        Some(path) => {
            let origin = format!("{flag} {}", path.display());
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{origin}: {e}"))?
                .collect::<Result<Vec<_>, _>>();
            checked(certs, &origin)?
        }
        None => Vec::new(),
    };
    client(pinned(extra)?)
}

/// As [`verified`], with the extra certificates given as PEM text rather
/// than a file (the fetcher keeps an account's `--ca` in the store);
/// `origin` names them in errors. Empty `pem`: Mozilla's roots only.
pub fn verified_pem(pem: &[u8], origin: &str) -> Result<Arc<ClientConfig>, String> {
    let extra = if pem.is_empty() {
        Vec::new()
    } else {
        checked(
            CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>(),
            origin,
        )?
    };
    client(pinned(extra)?)
}

/// For MX hosts: verify, and on failure log and go on (signatures are
/// still checked, so the session is encrypted to whoever holds the key).
pub fn opportunistic() -> Result<Arc<ClientConfig>, String> {
    let inner = webpki(roots(&[])?)?;
    client(Arc::new(Verifier::new(
        inner,
        Fallback::Anything,
        provider(),
    )))
}

/// Parsed PEM certificates, or an error naming `origin` (a flag and file).
fn checked(
    certs: Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error>,
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = certs.map_err(|e| format!("{origin}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{origin}: no CERTIFICATE block in the file"));
    }
    // A certificate webpki cannot take as a root is refused now, with
    // the file's name, rather than at the first handshake.
    roots(&certs).map_err(|e| format!("{origin}: {e}"))?;
    Ok(certs)
}

/// Mozilla's roots plus `extra`.
fn roots(extra: &[CertificateDer<'static>]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        store.add(cert.clone()).map_err(|e| e.to_string())?;
    }
    Ok(store)
}

fn webpki(roots: RootCertStore) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("TLS verifier: {e}"))
}

/// The verifying policy: `extra` as roots, and as pins.
fn pinned(extra: Vec<CertificateDer<'static>>) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let inner = webpki(roots(&extra)?)?;
    Ok(Arc::new(Verifier::new(
        inner,
        Fallback::Pinned(extra),
        provider(),
    )))
}

fn client(verifier: Arc<dyn ServerCertVerifier>) -> Result<Arc<ClientConfig>, String> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_and_bad_ca_files_are_named() {
        assert!(opportunistic().is_ok());
        assert!(verified(None).is_ok());
        let dir = std::env::temp_dir().join(format!("smolmail-ntls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let err = verified(Some(&empty)).unwrap_err();
        assert!(
            err.contains("empty.pem") && err.contains("no CERTIFICATE"),
            "{err}"
        );
        let missing = verified(Some(&dir.join("missing.pem"))).unwrap_err();
        assert!(missing.starts_with("--relay-ca "), "{missing}");
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

    /// A single-certificate server configuration for `name`, offering
    /// `alpn`; the certificate's DER for comparison.
    fn single(name: &str, alpn: &[u8]) -> (Arc<ServerConfig>, Vec<u8>) {
        let made = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key)
            .unwrap();
        if !alpn.is_empty() {
            config.alpn_protocols = vec![alpn.to_vec()];
        }
        (Arc::new(config), made.cert.der().to_vec())
    }

    /// RFC 8737 §3: a ClientHello offering `acme-tls/1` gets the challenge
    /// certificate with that ALPN negotiated, and the connection ends
    /// there; a mail client offering another ALPN still gets the normal
    /// certificate (not `no_application_protocol`).
    #[test]
    fn rfc8737_acme_tls_alpn_gets_challenge_config_others_the_normal_one() {
        use smol::Async;
        use std::net::TcpListener;
        let (normal, normal_der) = single("mail.lan", b"");
        let (challenge, challenge_der) = single("mail.lan", ACME_TLS_ALPN);
        let acceptor = Acceptor::new(normal, Some(challenge));
        for (alpn, expect_der, is_validation) in [
            (&b"imap"[..], &normal_der, false),
            (ACME_TLS_ALPN, &challenge_der, true),
        ] {
            let listener = Async::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let server = async {
                let (tcp, _) = listener.accept().await.unwrap();
                acceptor.accept(tcp).await.map(drop)
            };
            let client = async {
                let mut config = (*opportunistic().unwrap()).clone();
                config.alpn_protocols = vec![alpn.to_vec()];
                let tcp = Async::<std::net::TcpStream>::connect(addr).await.unwrap();
                let tls = futures_rustls::TlsConnector::from(Arc::new(config))
                    .connect(server_name("mail.lan").unwrap(), tcp)
                    .await
                    .unwrap();
                let (_, conn) = tls.get_ref();
                let served = conn.peer_certificates().unwrap()[0].to_vec();
                (served, conn.alpn_protocol().map(<[u8]>::to_vec))
            };
            let (accepted, (served, negotiated)) =
                smol::block_on(smol::future::zip(server, client));
            assert_eq!(&served, expect_der, "ALPN {alpn:?}");
            if is_validation {
                let err = accepted.unwrap_err().to_string();
                assert!(err.contains("TLS-ALPN-01"), "{err}");
                assert_eq!(negotiated.as_deref(), Some(ACME_TLS_ALPN));
            } else {
                assert!(accepted.is_ok());
                assert_eq!(negotiated, None);
            }
        }
    }

    #[test]
    fn server_names() {
        assert!(server_name("mail.example.org").is_ok());
        assert!(server_name("192.0.2.1").is_ok());
        let err = server_name("not a name").unwrap_err();
        assert_eq!(err, "not a name is not a valid TLS server name");
    }

    /// Every suite the provider can negotiate has its IANA name, so no
    /// Received: header shows a rustls name or a bare code.
    #[test]
    fn every_offered_suite_has_its_iana_name() {
        for suite in provider().cipher_suites.iter() {
            let name = suite_name(u16::from(suite.suite()));
            assert!(name.starts_with("TLS_"), "{:?} has no name", suite.suite());
        }
        assert_eq!(suite_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(suite_name(0x00ff), "0x00FF");
    }
}
