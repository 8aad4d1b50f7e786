//! Subscriptions by mailbox name (RFC 3501 §6.3.6-7): the `subscriptions`
//! database, account id ‖ name → nothing.
//!
//! A subscription is a name, not a property of a mailbox: it outlives the
//! mailbox's deletion (RFC 3501 §6.3.6: a server MUST NOT remove it
//! unilaterally; LIST (SUBSCRIBED) then shows it `\NonExistent`, RFC 5258
//! §3), and CREATE does not make one. Schema 2 kept it as a flag in the
//! mailbox record, lost with the record; schema 3 moved it here
//! ([`upgrade`]). RENAME carries the subscriptions of the renamed names
//! along, as the flag did.

use heed::RwTxn;

use super::read::Reader;
use super::schema::Dbs;
use super::writer::Outcome;
use super::{StoreError, keys, records};

/// Most subscriptions one account may hold: each LIST/LSUB reads them all.
pub const MAX_PER_ACCOUNT: usize = 10_000;

/// Subscribes (or unsubscribes) `name`; unsubscribing a name that is not
/// subscribed is fine (Dovecot answers OK too).
pub fn set(
    txn: &mut RwTxn,
    dbs: &Dbs,
    account_id: u64,
    name: &str,
    subscribed: bool,
) -> Result<Outcome, StoreError> {
    let key = keys::mailbox(account_id, name);
    if !subscribed {
        dbs.subscriptions.delete(txn, &key)?;
        return Ok(Outcome::Done);
    }
    if dbs.subscriptions.get(txn, &key)?.is_some() {
        return Ok(Outcome::Done);
    }
    let held = dbs
        .subscriptions
        .prefix_iter(txn, &keys::mailboxes_of(account_id))?
        .take(MAX_PER_ACCOUNT)
        .count();
    if held >= MAX_PER_ACCOUNT {
        return Err(StoreError::Limit(format!(
            "an account may subscribe to at most {MAX_PER_ACCOUNT} names"
        )));
    }
    dbs.subscriptions.put(txn, &key, &[])?;
    Ok(Outcome::Done)
}

/// RENAME of `from` to `to`: the subscriptions of `from` and of the names
/// below it move with the mailboxes.
pub fn rename(
    txn: &mut RwTxn,
    dbs: &Dbs,
    account_id: u64,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let mut moving = Vec::new();
    for entry in dbs
        .subscriptions
        .prefix_iter(txn, &keys::mailbox(account_id, from))?
    {
        let name = keys::mailbox_name(entry?.0).into_owned();
        if name.len() == from.len() || name.as_bytes()[from.len()] == b'/' {
            moving.push(name);
        }
    }
    for name in moving {
        dbs.subscriptions
            .delete(txn, &keys::mailbox(account_id, &name))?;
        let renamed = format!("{to}{}", &name[from.len()..]);
        dbs.subscriptions
            .put(txn, &keys::mailbox(account_id, &renamed), &[])?;
    }
    Ok(())
}

/// Removes every subscription of a deleted account.
pub fn remove_account(txn: &mut RwTxn, dbs: &Dbs, account_id: u64) -> Result<(), StoreError> {
    let keys: Vec<Vec<u8>> = dbs
        .subscriptions
        .prefix_iter(txn, &keys::mailboxes_of(account_id))?
        .map(|e| e.map(|(k, _)| k.to_vec()))
        .collect::<Result<_, _>>()?;
    for key in keys {
        dbs.subscriptions.delete(txn, &key)?;
    }
    Ok(())
}

/// Schema 3: the subscribed flag of every mailbox record becomes a
/// subscription by name.
pub fn upgrade(txn: &mut RwTxn, dbs: &Dbs) -> Result<(), StoreError> {
    let mut found = Vec::new();
    for entry in dbs.mailboxes.iter(txn)? {
        let (key, value) = entry?;
        if records::legacy_subscribed(value)? {
            found.push(key.to_vec());
        }
    }
    for key in found {
        dbs.subscriptions.put(txn, &key, &[])?;
    }
    Ok(())
}

impl Reader {
    /// The names an account subscribed to, sorted by their bytes.
    pub fn subscriptions(&self, account_id: u64) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        for entry in self.prefix(self.dbs.subscriptions, &keys::mailboxes_of(account_id))? {
            names.push(keys::mailbox_name(entry?.0).into_owned());
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{MAX_DBS, open};
    use super::super::{Options, SpecialUse, Store};
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("smolmail-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// RFC 3501 §6.3.6: a subscription outlives its mailbox; CREATE does
    /// not subscribe; RENAME carries it along; UNSUBSCRIBE of any name.
    #[test]
    fn rfc3501_6_3_6_subscriptions_are_names() {
        let dir = temp("subscriptions");
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        smol::block_on(async {
            let account = store.add_account("a@home.arpa", "x").await.unwrap();
            let subs = || store.read().unwrap().subscriptions(account).unwrap();
            // The server's own mailboxes start subscribed.
            assert!(subs().contains(&"INBOX".to_string()), "{:?}", subs());
            let id = store
                .create_mailbox(account, "Work", SpecialUse::None)
                .await
                .unwrap();
            store
                .create_mailbox(account, "Work/a", SpecialUse::None)
                .await
                .unwrap();
            assert!(!subs().contains(&"Work".to_string()));
            store.set_subscribed(account, "Work", true).await.unwrap();
            store.set_subscribed(account, "Work/a", true).await.unwrap();
            store.rename_mailbox(id, "Job").await.unwrap();
            let after = subs();
            assert!(after.contains(&"Job".to_string()) && after.contains(&"Job/a".to_string()));
            assert!(!after.iter().any(|s| s.starts_with("Work")), "{after:?}");
            let job = store
                .read()
                .unwrap()
                .mailbox(account, "Job")
                .unwrap()
                .unwrap();
            store.delete_mailbox(job.id).await.unwrap();
            assert!(subs().contains(&"Job".to_string()));
            store.set_subscribed(account, "Job", false).await.unwrap();
            store.set_subscribed(account, "Never", false).await.unwrap();
            assert!(!subs().contains(&"Job".to_string()));
            // A deleted account leaves no subscriptions behind.
            store.del_account("a@home.arpa").await.unwrap();
            assert!(subs().is_empty());
        });
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Schema 2 kept the flag in the mailbox record; the upgrade to 3
    /// turns each set flag into a subscription by name.
    #[test]
    fn schema_two_subscribed_flags_are_upgraded() {
        let dir = temp("schema3");
        {
            let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
            options.map_size(64 << 20).max_dbs(MAX_DBS);
            // SAFETY: a fresh directory, opened once, closed below.
            let env = unsafe { options.open(&dir) }.unwrap();
            let dbs = open(&env).unwrap();
            let mut txn = env.write_txn().unwrap();
            let version = keys::SCHEMA_VERSION.as_bytes();
            dbs.meta
                .put(&mut txn, version, &2u32.to_be_bytes())
                .unwrap();
            let id = super::super::ops::create_mailbox(&mut txn, &dbs, 7, "Old", SpecialUse::None)
                .unwrap();
            super::super::ops::create_mailbox(&mut txn, &dbs, 7, "Plain", SpecialUse::None)
                .unwrap();
            // Schema 2's flag: the byte after the special use.
            let key = keys::mailbox(7, "Old");
            let mut value = dbs.mailboxes.get(&txn, &key).unwrap().unwrap().to_vec();
            value[8 + 4 + 4 + 8 + 1] = 1;
            dbs.mailboxes.put(&mut txn, &key, &value).unwrap();
            assert!(id > 0);
            txn.commit().unwrap();
            env.prepare_for_closing().wait();
        }
        let store = Store::open(&dir, &Options { map_size: 64 << 20 }).unwrap();
        assert_eq!(store.read().unwrap().subscriptions(7).unwrap(), ["Old"]);
        store.shutdown();
        let _ = std::fs::remove_dir_all(dir);
    }
}
