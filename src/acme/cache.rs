//! rustls-acme's cache traits over our store: the account key and the
//! certificate (PKCS#8 key then chain, PEM) are kept through
//! `Store::set_acme`, never in files beside it, so `smolmail backup`
//! carries them and a restart serves the certificate without a new order.
//!
//! Every certificate the cache sees (loaded at start, or stored after an
//! order) is also installed into the TLS listeners' resolver: this is the
//! one place the PEM passes through, so the swap happens here.

use async_trait::async_trait;
use rustls_acme::{AccountCache, CertCache};

use crate::store::Store;
use crate::tls::CertSlot;

pub struct StoreCache {
    pub store: Store,
    pub slot: CertSlot,
}

/// Entry names: per directory (a LAN CA and Let's Encrypt each get their
/// own account) and, for certificates, per list of names (adding a name
/// orders a new certificate rather than serving one without it).
pub fn cert_name(domains: &[String], directory: &str) -> String {
    format!("cert {directory} {}", domains.join(","))
}

pub fn account_name(contact: &[String], directory: &str) -> String {
    format!("account {directory} {}", contact.join(","))
}

impl StoreCache {
    fn install(&self, pem: &[u8], how: &str) {
        match self.slot.install_pem(pem) {
            Ok(print) => log::info!(
                "acme: {how} certificate now served on every TLS listener, sha256 {print}"
            ),
            Err(e) => log::warn!("acme: {how} certificate not served: {e}"),
        }
    }
}

#[async_trait]
impl CertCache for StoreCache {
    type EC = String;

    async fn load_cert(
        &self,
        domains: &[String],
        directory: &str,
    ) -> Result<Option<Vec<u8>>, String> {
        let pem = self
            .store
            .read()
            .and_then(|r| r.acme(&cert_name(domains, directory)))
            .map_err(|e| e.to_string())?;
        if let Some(pem) = &pem {
            self.install(pem, "stored");
        }
        Ok(pem)
    }

    async fn store_cert(
        &self,
        domains: &[String],
        directory: &str,
        cert: &[u8],
    ) -> Result<(), String> {
        // Served first: the certificate is valid whether or not the
        // commit succeeds; a failed commit only costs an order at restart.
        self.install(cert, "new");
        self.store
            .set_acme(&cert_name(domains, directory), cert.to_vec())
            .await
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl AccountCache for StoreCache {
    type EA = String;

    async fn load_account(
        &self,
        contact: &[String],
        directory: &str,
    ) -> Result<Option<Vec<u8>>, String> {
        self.store
            .read()
            .and_then(|r| r.acme(&account_name(contact, directory)))
            .map_err(|e| e.to_string())
    }

    async fn store_account(
        &self,
        contact: &[String],
        directory: &str,
        account: &[u8],
    ) -> Result<(), String> {
        self.store
            .set_acme(&account_name(contact, directory), account.to_vec())
            .await
            .map_err(|e| e.to_string())
    }
}
