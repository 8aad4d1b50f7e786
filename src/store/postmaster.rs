//! The implicit `postmaster` of every local domain (RFC 5321 §4.5.1: a
//! server MUST accept mail for `postmaster` at each of its domains). A
//! fresh server has no alias for it, so when nothing names
//! `postmaster@D` — no alias, no account of that name, no catch-all for D
//! — its mail goes to the oldest account of the server (the lowest account
//! id, i.e. the first user created): on a home server that is the person
//! who set it up. An explicit alias always wins; `smolmail alias list`
//! shows the implicit route so the operator sees where the mail lands.

use super::read::{Reader, Recipient};
use super::{Account, StoreError};

/// How `postmaster@domain` is routed.
#[derive(Debug, Clone, PartialEq)]
pub enum PostmasterRoute {
    /// An alias, an account or the domain's catch-all names it.
    Explicit,
    /// Nothing names it: the oldest account takes it.
    Implicit(Account),
    /// Nothing names it and the server has no account yet.
    Nobody,
}

/// Whether `local` is the postmaster local part (case-insensitive, RFC
/// 5321 §4.5.1: "Postmaster" in any case).
pub fn is_postmaster(local: &str) -> bool {
    local.eq_ignore_ascii_case("postmaster")
}

impl Reader {
    /// Where `postmaster@domain` goes; only meaningful for a local domain.
    pub fn postmaster_route(&self, domain: &str) -> Result<PostmasterRoute, StoreError> {
        let domain = domain.trim_end_matches('.').to_lowercase();
        let source = format!("postmaster@{domain}");
        if self.alias(&source)?.is_some()
            || self.account(&source)?.is_some()
            || self.alias(&format!("@{domain}"))?.is_some()
        {
            return Ok(PostmasterRoute::Explicit);
        }
        Ok(match self.oldest_account()? {
            Some(account) => PostmasterRoute::Implicit(account),
            None => PostmasterRoute::Nobody,
        })
    }

    /// The first account created: the lowest id (ids only grow).
    pub fn oldest_account(&self) -> Result<Option<Account>, StoreError> {
        Ok(self.accounts()?.into_iter().min_by_key(|a| a.id))
    }

    /// The implicit route's recipient for `address` (normalized), if it is
    /// a local domain's postmaster that nothing else names.
    pub(super) fn implicit_postmaster(
        &self,
        address: &str,
    ) -> Result<Option<Recipient>, StoreError> {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Ok(None);
        };
        if !is_postmaster(local) || !self.is_local_domain(domain)? {
            return Ok(None);
        }
        Ok(match self.postmaster_route(domain)? {
            PostmasterRoute::Implicit(account) => Some(Recipient::Local {
                account_id: account.id,
                address: account.address,
            }),
            PostmasterRoute::Explicit | PostmasterRoute::Nobody => None,
        })
    }
}
