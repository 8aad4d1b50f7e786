//! Certificates by ACME (RFC 8555) from Let's Encrypt or a LAN CA
//! (step-ca), validated by TLS-ALPN-01 (RFC 8737) on the TLS listeners or
//! HTTP-01 (RFC 8555 §8.3) on the HTTP listener.
//!
//! The protocol (JWS, nonces, orders, authorizations, polling, CSR,
//! renewal at two thirds of the lifetime with exponential backoff) is the
//! rustls-acme crate's state machine, a stream polled on our executor;
//! here are the wiring and the log. Its account key and certificate live
//! in the store (`cache`); each certificate is swapped into the listeners'
//! resolver (`crate::tls::CertSlot`) without a restart.

mod cache;

use std::sync::Arc;
use std::time::Duration;

use rustls_acme::{
    AcmeConfig, AcmeState, EventError, EventOk, ResolvesServerCertAcme, UseChallenge,
};
use smol::stream::StreamExt;

use crate::config::{AcmeChallenge, AcmeConfig as Settings};
use crate::net::tls::provider;
use crate::store::Store;
use crate::tls::Tls;

/// The running ACME client: poll it with [`Acme::run`].
pub struct Acme {
    state: AcmeState<String, String>,
}

/// Answers HTTP-01 validations (RFC 8555 §8.3) for the HTTP listener.
#[derive(Clone)]
pub struct Http01(Arc<ResolvesServerCertAcme>);

impl Http01 {
    /// The key authorization to serve at
    /// `/.well-known/acme-challenge/TOKEN`, while that validation runs.
    pub fn key_authorization(&self, token: &str) -> Option<String> {
        self.0.get_http_01_key_auth(token)
    }
}

impl Acme {
    /// Sets up the client for `settings` and turns on the TLS-ALPN-01
    /// path of `tls`'s listeners. Nothing is fetched until [`Acme::run`].
    pub fn new(settings: &Settings, store: Store, tls: &mut Tls) -> Result<(Acme, Http01), String> {
        let client = crate::net::tls::verified_for(settings.ca.as_deref(), "--acme-ca")?;
        let challenge = match settings.challenge {
            AcmeChallenge::TlsAlpn01 => UseChallenge::TlsAlpn01,
            AcmeChallenge::Http01 => UseChallenge::Http01,
        };
        let state = AcmeConfig::new_with_client_config(&settings.domains, client)
            .directory(&settings.directory)
            .contact(settings.email.iter())
            .challenge_type(challenge)
            .cache(cache::StoreCache {
                store,
                slot: tls.cert_slot(),
            })
            .state();
        tls.enable_acme(state.challenge_rustls_config_with_provider(provider()));
        log::info!(
            "acme: certificate for {} from {} by {}",
            settings.domains.join(", "),
            settings.directory,
            match settings.challenge {
                AcmeChallenge::TlsAlpn01 => "tls-alpn-01",
                AcmeChallenge::Http01 => "http-01",
            }
        );
        let http01 = Http01(state.resolver());
        Ok((Acme { state }, http01))
    }

    /// Drives orders and renewals forever, logging each step. Failed
    /// orders are retried by rustls-acme after 1, 2, 4 … s (at most
    /// 2^16 s); the log says when.
    pub async fn run(mut self) {
        let mut failures: u32 = 0;
        while let Some(event) = self.state.next().await {
            match event {
                Ok(EventOk::DeployedNewCert) => {
                    failures = 0;
                    log::info!("acme: new certificate issued");
                }
                Ok(EventOk::DeployedCachedCert) => log::info!("acme: stored certificate loaded"),
                Ok(EventOk::CertCacheStore) => log::info!("acme: certificate kept in the store"),
                Ok(EventOk::AccountCacheStore) => log::info!("acme: account key kept in the store"),
                Err(EventError::Order(e)) => {
                    let retry = Duration::from_secs(1 << failures.min(16));
                    failures += 1;
                    log::warn!(
                        "acme: order failed (attempt {failures}), next try in {retry:?}: {e}"
                    );
                }
                Err(e) => log::warn!("acme: {e}"),
            }
        }
    }
}
