//! The envelope of a transaction: MAIL FROM (sender checks, submission's
//! AUTH requirement, SIZE) and RCPT TO (relay control, routing to local
//! accounts or the outbound queue). Its own file because this is where the
//! relay and sender policy is applied, apart from the command loop.

use super::{Session, Transaction};
use crate::config::Service;
use crate::smtp::command::{self, Body, MailParams, ReversePath};
use crate::smtp::policy;
use crate::store::OutboundRecipient;

impl Session {
    fn trusted(&self) -> bool {
        self.ctx.config.is_trusted(self.peer.ip())
    }

    pub(super) fn mail(&mut self, sender: ReversePath, params: MailParams) {
        if self.helo.is_none() {
            self.refuse("503 5.5.1 Error: send HELO/EHLO first\r\n");
            return;
        }
        if self.tx.is_some() {
            self.refuse("503 5.5.1 Error: nested MAIL command\r\n");
            return;
        }
        let extended = params.size.is_some()
            || params.body != Body::SevenBit
            || params.smtputf8
            || params.envid.is_some()
            || params.ret != Default::default();
        if extended && !self.esmtp {
            self.refuse("555 5.5.4 Error: parameters need EHLO\r\n");
            return;
        }
        // RFC 6409 §4.3 / §6.1: submission needs AUTH (trusted networks
        // excepted, as Postfix's permit_mynetworks).
        if self.service != Service::Smtp && self.account.is_none() && !self.trusted() {
            self.refuse("530 5.7.0 Authentication required\r\n");
            return;
        }
        let limit = self.ctx.config.max_message_size;
        if params.size.is_some_and(|s| s > limit) {
            self.refuse("552 5.3.4 Message size exceeds fixed limit\r\n");
            return;
        }
        if let ReversePath::Mailbox(path) = &sender {
            let check = self.ctx.store.read().and_then(|r| match &self.account {
                Some(account) => policy::sender_owned(&r, account, path),
                None if self.service != Service::Smtp => policy::sender_is_local(&r, path),
                None => Ok(true),
            });
            match check {
                Ok(true) => {}
                Ok(false) => {
                    let reply = match &self.account {
                        Some(a) => format!(
                            "553 5.7.1 <{}>: Sender address rejected: not owned by user {}\r\n",
                            path.address(),
                            a.address
                        ),
                        None => format!(
                            "553 5.7.1 <{}>: Sender address rejected: not in a local domain\r\n",
                            path.address()
                        ),
                    };
                    self.refuse(&reply);
                    return;
                }
                Err(e) => {
                    self.store_trouble(&e);
                    return;
                }
            }
        }
        self.tx = Some(Transaction {
            queue_id: crate::store::new_queue_id(),
            sender,
            params,
            recipients: Vec::new(),
            rejected: 0,
            local: Vec::new(),
            accounts: Vec::new(),
            remote: Vec::new(),
            notify_delivered: Vec::new(),
            chunks: None,
        });
        self.reply("250 2.1.0 Ok\r\n");
    }

    /// Whether this client may send to other domains with `sender`.
    /// Relaying needs AUTH, or a trusted client sending as one of our
    /// domains (a trusted printer may not forge outside senders, README).
    /// An authenticated user may use `<>` as Postfix allows: mail clients
    /// send read receipts with it (RFC 5321 §4.5.5, RFC 8098), it claims
    /// no one's address (what the ownership rule in `mail` guards), and
    /// the login answers for it. A trusted client without AUTH has no such
    /// name behind it, so its `<>` reaches local recipients only.
    fn relay(&self, sender: &ReversePath) -> policy::Relay {
        if self.account.is_some() {
            return policy::Relay::Allowed;
        }
        if !self.trusted() {
            return policy::Relay::Denied;
        }
        match sender {
            ReversePath::Null => policy::Relay::NullSender,
            ReversePath::Mailbox(s) => {
                let local = self
                    .ctx
                    .store
                    .read()
                    .and_then(|r| r.is_local_domain(&s.domain));
                match local.unwrap_or(false) {
                    true => policy::Relay::Allowed,
                    false => policy::Relay::Denied,
                }
            }
        }
    }

    pub(super) fn rcpt(&mut self, path: command::Path, params: command::RcptParams) {
        let Some(tx) = &self.tx else {
            self.refuse("503 5.5.1 Error: need MAIL command\r\n");
            return;
        };
        if tx.chunks.is_some() {
            self.refuse("503 5.5.1 Error: BDAT in progress\r\n");
            return;
        }
        // RFC 5321 §4.5.3.1.10: 452 for too many recipients.
        if tx.recipients.len() >= self.ctx.config.max_recipients as usize {
            self.reply("452 4.5.3 Error: too many recipients\r\n");
            return;
        }
        let relay = self.relay(&tx.sender);
        let routed = self
            .ctx
            .store
            .read()
            .and_then(|r| policy::route(&r, &path, &self.ctx.config.hostname, relay));
        let route = match routed {
            Ok(Ok(route)) => route,
            Ok(Err(refusal)) => {
                if let Some(tx) = &mut self.tx {
                    tx.rejected += 1;
                }
                self.refuse(&refusal);
                return;
            }
            Err(e) => {
                self.store_trouble(&e);
                return;
            }
        };
        // RFC 3463 X.2.2, with the size MAIL FROM declared (RFC 1870).
        let declared = self.tx.as_ref().and_then(|t| t.params.size).unwrap_or(0);
        match self.quota_refusal(&path.address(), &route.accounts, declared) {
            Ok(None) => {}
            Ok(Some(reply)) => return self.reply(&reply),
            Err(e) => return self.store_trouble(&e),
        }
        if !route.remote.is_empty() && self.ctx.queue_full() {
            self.reply("452 4.3.1 Insufficient system storage: the outbound queue is full\r\n");
            return;
        }
        let Some(tx) = &mut self.tx else { return };
        if !route.local.is_empty() && params.notify & crate::dsn::notify::SUCCESS != 0 {
            tx.notify_delivered
                .push((path.address(), params.orcpt.clone()));
        }
        for account in route.local {
            if !tx.local.contains(&account) {
                tx.local.push(account);
            }
        }
        for address in route.accounts {
            if !tx.accounts.contains(&address) {
                tx.accounts.push(address);
            }
        }
        for address in route.remote {
            if !tx.remote.iter().any(|r| r.address == address) {
                tx.remote.push(OutboundRecipient {
                    address,
                    notify: params.notify,
                    orcpt: params.orcpt.clone(),
                    ..Default::default()
                });
            }
        }
        tx.recipients.push(path.address());
        self.reply("250 2.1.5 Ok\r\n");
    }
}
