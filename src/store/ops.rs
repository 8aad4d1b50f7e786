//! How each [`WriteOp`] changes the databases, inside the writer's nested
//! transaction. An error leaves nothing behind: the writer aborts the nested
//! transaction, so a half-applied request is impossible.

use heed::RwTxn;

use super::message_ops::{self, remove_all_messages};
use super::records;
use super::schema::Dbs;
use super::writer::{Outcome, WriteOp};
use super::{DEFAULT_MAILBOXES, Mailbox, SpecialUse, StoreError, keys, mailbox_ops};
use crate::address;

pub fn apply(
    txn: &mut RwTxn,
    dbs: &Dbs,
    op: &WriteOp,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    match op {
        WriteOp::AddDomain(domain) => {
            let domain = address::normalize_domain(domain).map_err(StoreError::Invalid)?;
            if dbs.domains.get(txn, domain.as_bytes())?.is_some() {
                return Err(StoreError::Exists(format!(
                    "domain {domain} exists already"
                )));
            }
            dbs.domains.put(txn, domain.as_bytes(), &[])?;
            Ok(Outcome::Done)
        }
        WriteOp::DelDomain(domain) => del_domain(txn, dbs, domain),
        WriteOp::AddAccount {
            address,
            password_hash,
        } => add_account(txn, dbs, address, password_hash),
        WriteOp::DelAccount(address) => del_account(txn, dbs, address, touched),
        WriteOp::SetPassword {
            address,
            password_hash,
            only_if,
        } => {
            let address = address::normalize(address).map_err(StoreError::Invalid)?;
            let account = account(txn, dbs, &address)?;
            if only_if
                .as_ref()
                .is_some_and(|old| *old != account.password_hash)
            {
                return Err(StoreError::Invalid(format!(
                    "the password of {address} changed meanwhile"
                )));
            }
            let value =
                records::encode_account(account.id, account.flags, account.quota, password_hash);
            dbs.accounts.put(txn, address.as_bytes(), &value)?;
            Ok(Outcome::Done)
        }
        WriteOp::SetQuota { address, quota } => {
            let address = address::normalize(address).map_err(StoreError::Invalid)?;
            let account = account(txn, dbs, &address)?;
            let value =
                records::encode_account(account.id, account.flags, *quota, &account.password_hash);
            dbs.accounts.put(txn, address.as_bytes(), &value)?;
            Ok(Outcome::Done)
        }
        WriteOp::AddAlias { source, targets } => add_alias(txn, dbs, source, targets),
        WriteOp::DelAlias(source) => {
            let source = alias_source(source)?;
            if !dbs.aliases.delete(txn, source.as_bytes())? {
                return Err(StoreError::NotFound(format!("no alias {source}")));
            }
            Ok(Outcome::Done)
        }
        WriteOp::CreateMailbox {
            account_id,
            name,
            special_use,
        } => create_mailbox(txn, dbs, *account_id, name, *special_use).map(Outcome::Created),
        WriteOp::Deliver(delivery) => {
            message_ops::deliver(txn, dbs, delivery, touched).map(Outcome::Delivered)
        }
        // One nested transaction for the whole op (writer::apply_batch):
        // a failure of any message aborts them all.
        WriteOp::DeliverAll(all) => all
            .iter()
            .map(|s| message_ops::deliver(txn, dbs, s, touched))
            .collect::<Result<Vec<_>, _>>()
            .map(Outcome::DeliveredAll),
        WriteOp::SetFlags(change) => {
            message_ops::set_flags(txn, dbs, change, touched).map(Outcome::FlagsSet)
        }
        WriteOp::Expunge { mailbox_id, uids } => {
            message_ops::expunge(txn, dbs, *mailbox_id, uids, touched).map(Outcome::Expunged)
        }
        WriteOp::Queue(op) => super::queue_ops::apply(txn, dbs, op, touched),
        WriteOp::Fetch(op) => super::fetch_ops::apply(txn, dbs, op, touched),
        WriteOp::Import(m) => super::import_ops::apply(txn, dbs, m, touched),
        WriteOp::DeleteMailbox { mailbox_id } => {
            mailbox_ops::delete(txn, dbs, *mailbox_id, touched)
        }
        WriteOp::RenameMailbox {
            mailbox_id,
            new_name,
        } => mailbox_ops::rename(txn, dbs, *mailbox_id, new_name, touched),
        WriteOp::SetSubscribed {
            account_id,
            name,
            subscribed,
        } => super::subscriptions::set(txn, dbs, *account_id, name, *subscribed),
        WriteOp::Copy {
            from,
            uids,
            to,
            remove,
        } => mailbox_ops::copy(txn, dbs, *from, uids, *to, *remove, touched),
        WriteOp::ClaimRecent { mailbox_id } => mailbox_ops::claim_recent(txn, dbs, *mailbox_id),
        WriteOp::SetAcme { name, value } => super::acme_ops::apply(txn, dbs, name, value),
        WriteOp::Dkim(op) => super::dkim_ops::apply(txn, dbs, op),
        WriteOp::SetAdminPassword {
            hash,
            only_if_unset,
        } => super::admin_ops::apply(txn, dbs, hash, *only_if_unset),
        WriteOp::SetMtaSts {
            domain,
            expires,
            value,
        } => super::mta_sts_ops::apply(txn, dbs, domain, *expires, value),
    }
}

fn meta_u64(txn: &RwTxn, dbs: &Dbs, key: &str) -> Result<u64, StoreError> {
    Ok(dbs
        .meta
        .get(txn, key.as_bytes())?
        .and_then(keys::read_id)
        .unwrap_or(0))
}

/// Allocates the next id from a counter in `meta` (ids start at 1).
pub(super) fn next_id(txn: &mut RwTxn, dbs: &Dbs, key: &str) -> Result<u64, StoreError> {
    let id = meta_u64(txn, dbs, key)? + 1;
    dbs.meta.put(txn, key.as_bytes(), &id.to_be_bytes())?;
    Ok(id)
}

fn account(txn: &RwTxn, dbs: &Dbs, address: &str) -> Result<super::Account, StoreError> {
    let value = dbs
        .accounts
        .get(txn, address.as_bytes())?
        .ok_or_else(|| StoreError::NotFound(format!("no user {address}")))?;
    records::decode_account(address, value)
}

fn add_account(
    txn: &mut RwTxn,
    dbs: &Dbs,
    address: &str,
    hash: &str,
) -> Result<Outcome, StoreError> {
    let address = address::normalize(address).map_err(StoreError::Invalid)?;
    if dbs.accounts.get(txn, address.as_bytes())?.is_some() {
        return Err(StoreError::Exists(format!("user {address} exists already")));
    }
    // "adding a user for a new domain adds the domain"
    let domain = address::domain_of(&address);
    if dbs.domains.get(txn, domain.as_bytes())?.is_none() {
        dbs.domains.put(txn, domain.as_bytes(), &[])?;
    }
    let id = next_id(txn, dbs, keys::NEXT_ACCOUNT)?;
    dbs.accounts.put(
        txn,
        address.as_bytes(),
        &records::encode_account(id, 0, 0, hash),
    )?;
    // The server made these, not a client's CREATE: subscribed, so that
    // clients showing only subscribed folders show them.
    for (name, special_use) in DEFAULT_MAILBOXES {
        create_mailbox(txn, dbs, id, name, special_use)?;
        super::subscriptions::set(txn, dbs, id, name, true)?;
    }
    Ok(Outcome::Created(id))
}

fn del_account(
    txn: &mut RwTxn,
    dbs: &Dbs,
    address: &str,
    touched: &mut Vec<u64>,
) -> Result<Outcome, StoreError> {
    let address = address::normalize(address).map_err(StoreError::Invalid)?;
    let account = account(txn, dbs, &address)?;
    let mut mailboxes = Vec::new();
    for entry in dbs
        .mailboxes
        .prefix_iter(txn, &keys::mailboxes_of(account.id))?
    {
        let (key, value) = entry?;
        let name = keys::mailbox_name(key);
        let mailbox = records::decode_mailbox(account.id, &name, value)?;
        mailboxes.push((key.to_vec(), mailbox.id));
    }
    for (key, mailbox_id) in mailboxes {
        remove_all_messages(txn, dbs, mailbox_id)?;
        dbs.mailboxes.delete(txn, &key)?;
        dbs.mailbox_ids.delete(txn, &keys::id(mailbox_id))?;
        touched.push(mailbox_id);
    }
    super::subscriptions::remove_account(txn, dbs, account.id)?;
    dbs.accounts.delete(txn, address.as_bytes())?;
    super::fetch_ops::delete_for_user(txn, dbs, &address)?;
    super::import_ops::forget_account(txn, dbs, account.id)?;
    Ok(Outcome::Done)
}

fn del_domain(txn: &mut RwTxn, dbs: &Dbs, domain: &str) -> Result<Outcome, StoreError> {
    let domain = address::normalize_domain(domain).map_err(StoreError::Invalid)?;
    if dbs.domains.get(txn, domain.as_bytes())?.is_none() {
        return Err(StoreError::NotFound(format!("no domain {domain}")));
    }
    let in_domain =
        |key: &[u8]| std::str::from_utf8(key).is_ok_and(|k| address::domain_of(k) == domain);
    let mut users = 0;
    for entry in dbs.accounts.iter(txn)? {
        users += in_domain(entry?.0) as usize;
    }
    let mut aliases = 0;
    for entry in dbs.aliases.iter(txn)? {
        aliases += in_domain(entry?.0) as usize;
    }
    if users + aliases > 0 {
        return Err(StoreError::Invalid(format!(
            "domain {domain} still has {users} user(s) and {aliases} alias(es); delete them first"
        )));
    }
    dbs.domains.delete(txn, domain.as_bytes())?;
    Ok(Outcome::Done)
}

/// `@domain` (catch-all) or an address, normalized.
fn alias_source(source: &str) -> Result<String, StoreError> {
    match source.trim().strip_prefix('@') {
        Some(domain) => Ok(format!(
            "@{}",
            address::normalize_domain(domain).map_err(StoreError::Invalid)?
        )),
        None => address::normalize(source).map_err(StoreError::Invalid),
    }
}

fn add_alias(
    txn: &mut RwTxn,
    dbs: &Dbs,
    source: &str,
    targets: &[String],
) -> Result<Outcome, StoreError> {
    let source = alias_source(source)?;
    if targets.is_empty() {
        return Err(StoreError::Invalid(
            "an alias needs at least one target address".into(),
        ));
    }
    let mut normalized = Vec::with_capacity(targets.len());
    for t in targets {
        let t = address::normalize(t).map_err(StoreError::Invalid)?;
        if !normalized.contains(&t) {
            normalized.push(t);
        }
    }
    let domain = address::domain_of(&source);
    if dbs.domains.get(txn, domain.as_bytes())?.is_none() {
        dbs.domains.put(txn, domain.as_bytes(), &[])?;
    }
    dbs.aliases.put(
        txn,
        source.as_bytes(),
        &records::encode_targets(&normalized),
    )?;
    Ok(Outcome::Done)
}

/// Creates a mailbox with a fresh UIDVALIDITY (RFC 3501 §2.3.1.1: it must
/// never repeat for a name, so it is the creation time, kept increasing).
pub(super) fn create_mailbox(
    txn: &mut RwTxn,
    dbs: &Dbs,
    account_id: u64,
    name: &str,
    special_use: SpecialUse,
) -> Result<u64, StoreError> {
    if name.is_empty() || name.len() > 1024 {
        return Err(StoreError::Invalid(
            "a mailbox name must be 1 to 1024 bytes".into(),
        ));
    }
    let key = keys::mailbox(account_id, name);
    if dbs.mailboxes.get(txn, &key)?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {name} exists already")));
    }
    let id = next_id(txn, dbs, keys::NEXT_MAILBOX)?;
    let last = meta_u64(txn, dbs, keys::LAST_UIDVALIDITY)?;
    let uidvalidity = (crate::time::now().clamp(1, u32::MAX as i64) as u64)
        .max(last + 1)
        .min(u32::MAX as u64);
    dbs.meta.put(
        txn,
        keys::LAST_UIDVALIDITY.as_bytes(),
        &uidvalidity.to_be_bytes(),
    )?;
    let mailbox = Mailbox {
        id,
        account_id,
        name: name.to_string(),
        uidvalidity: uidvalidity as u32,
        uidnext: 1,
        highest_modseq: 1,
        special_use,
        messages: 0,
        unseen: 0,
        recent: 0,
        bytes: 0,
    };
    dbs.mailboxes
        .put(txn, &key, &records::encode_mailbox(&mailbox))?;
    dbs.mailbox_ids.put(
        txn,
        &keys::id(id),
        &records::encode_mailbox_index(account_id, name),
    )?;
    Ok(id)
}

/// Loads a mailbox by id, with the key to write it back under.
pub(super) fn mailbox_by_id(
    txn: &RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
) -> Result<(Vec<u8>, Mailbox), StoreError> {
    let index = dbs
        .mailbox_ids
        .get(txn, &keys::id(mailbox_id))?
        .ok_or_else(|| {
            StoreError::NotFound(format!("mailbox {mailbox_id} does not exist (deleted?)"))
        })?;
    let (account_id, name) = records::decode_mailbox_index(index)?;
    let key = keys::mailbox(account_id, &name);
    let value = dbs
        .mailboxes
        .get(txn, &key)?
        .ok_or_else(|| StoreError::Corrupt(format!("mailbox index {mailbox_id} points nowhere")))?;
    let mailbox = records::decode_mailbox(account_id, &name, value)?;
    Ok((key, mailbox))
}
