//! The operator's password for the web admin pages (`crate::http::admin`):
//! one argon2id hash in `meta` under `admin_password` (`keys::ADMIN_PASSWORD`),
//! set by `smolmail admin passwd`, by the admin pages themselves, or at
//! first start from `--admin-password`. No new database and no schema
//! change: an absent entry means "no admin password yet", and the admin
//! pages then let nobody in as the operator.

use heed::RwTxn;

use super::read::Reader;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{Store, StoreError, keys};

/// Longest stored hash accepted: an argon2id PHC string is ~100 bytes.
const MAX_HASH: usize = 512;

pub fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    hash: &str,
    only_if_unset: bool,
) -> Result<Outcome, StoreError> {
    check(hash)?;
    if only_if_unset
        && dbs
            .meta
            .get(txn, keys::ADMIN_PASSWORD.as_bytes())?
            .is_some()
    {
        return Ok(Outcome::Done);
    }
    dbs.meta
        .put(txn, keys::ADMIN_PASSWORD.as_bytes(), hash.as_bytes())?;
    Ok(Outcome::Done)
}

fn check(hash: &str) -> Result<(), StoreError> {
    if hash.is_empty() || hash.len() > MAX_HASH {
        return Err(StoreError::Invalid(format!(
            "an admin password hash has 1 to {MAX_HASH} bytes"
        )));
    }
    Ok(())
}

impl Store {
    /// Keeps `hash` (from `auth::password::hash`) as the admin password;
    /// with `only_if_unset`, only when none is kept yet (the first-start
    /// setting must not undo a password changed later). Resolves once on disk.
    pub async fn set_admin_password(
        &self,
        hash: &str,
        only_if_unset: bool,
    ) -> Result<(), StoreError> {
        check(hash)?;
        self.write(WriteOp::SetAdminPassword {
            hash: hash.to_string(),
            only_if_unset,
        })
        .await
        .map(drop)
    }
}

impl Reader {
    /// The admin password's hash, if one was set.
    pub fn admin_password(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .dbs
            .meta
            .get(&self.txn, keys::ADMIN_PASSWORD.as_bytes())?
            .map(|v| String::from_utf8_lossy(v).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_password_set_once_then_replaced() {
        let dir = std::env::temp_dir().join(format!("smolmail-admin-ops-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, &Default::default()).unwrap();
        smol::block_on(async {
            assert_eq!(store.read().unwrap().admin_password().unwrap(), None);
            store.set_admin_password("h1", true).await.unwrap();
            store.set_admin_password("h2", true).await.unwrap();
            assert_eq!(
                store.read().unwrap().admin_password().unwrap().as_deref(),
                Some("h1")
            );
            store.set_admin_password("h3", false).await.unwrap();
            assert_eq!(
                store.read().unwrap().admin_password().unwrap().as_deref(),
                Some("h3")
            );
            assert!(store.set_admin_password("", false).await.is_err());
        });
        store.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
