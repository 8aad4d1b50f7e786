//! Command dispatch: which commands each state allows (RFC 3501 §3, §6),
//! and the handler each command goes to. The handlers live with what they
//! work on: the session's own commands (login, STARTTLS, ENABLE, IDLE) in
//! `session`, mailbox commands in `mailboxes`, FETCH in `fetch`, the other
//! message commands in `messages`.
//!
//! After a command that may change the selected mailbox's view, the
//! untagged updates (`selected`) go out before its tagged reply.

use super::parse::{Command, CommandKind};
use super::rev2;
use super::session::{Flow, Session};
use crate::net::Stream;

impl Session {
    /// Runs one parsed command.
    pub(super) async fn dispatch(&mut self, command: Command<'_>, stream: &mut Stream) -> Flow {
        let Command { tag, kind } = command;
        if let Err(why) = self.allowed(&kind) {
            self.bad(
                tag,
                &format!("{} not valid in this state: {why}", kind.name()),
            );
            return Flow::Continue;
        }
        if let Some(why) = rev2::refused(&kind, self.rev()) {
            log::info!("[{}] imap: refused in IMAP4rev2: {why}", self.id());
            if let (
                CommandKind::Search { ret: Some(r), .. } | CommandKind::Sort { ret: Some(r), .. },
                Some(sel),
            ) = (&kind, self.selected_mut())
                && r.save
            {
                // RFC 5182 §2.1: a failed SEARCH or SORT with SAVE empties `$`.
                sel.forget_saved();
            }
            self.bad(tag, why);
            return Flow::Continue;
        }
        use CommandKind as K;
        match kind {
            K::Capability => self.capability(tag),
            K::Noop | K::Check => {
                self.sync(true).await;
                self.tagged(tag, "OK", "NOOP completed");
            }
            K::Logout => {
                self.put("* BYE Logging out\r\n");
                self.tagged(tag, "OK", "LOGOUT completed");
                return Flow::Close;
            }
            K::StartTls => return self.starttls(tag),
            K::Login { user, password } => {
                let credentials = crate::auth::sasl::Credentials {
                    username: String::from_utf8_lossy(&user).into_owned(),
                    password: String::from_utf8_lossy(&password).into_owned(),
                    authzid: None,
                };
                return self.login(tag, credentials, "LOGIN", stream).await;
            }
            K::Authenticate { mechanism, initial } => {
                return self.authenticate(tag, mechanism, initial, stream).await;
            }
            K::Id(_) => {
                // RFC 2971 §3.1: the server's own ID; the client's is ignored.
                self.put(&format!(
                    "* ID (\"name\" \"smolmail\" \"version\" \"{}\")\r\n",
                    env!("CARGO_PKG_VERSION")
                ));
                self.tagged(tag, "OK", "ID completed");
            }
            K::Namespace => {
                // RFC 2342 §5: one personal namespace, "/" as delimiter.
                self.put("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                self.tagged(tag, "OK", "NAMESPACE completed");
            }
            K::Enable(caps) => self.enable(tag, &caps),
            K::Idle => return self.idle(tag, stream).await,
            K::Compress(mechanism) => return self.compress(tag, mechanism, stream),
            other => return self.on_mailbox(tag, other, stream).await,
        }
        Flow::Continue
    }

    /// Whether the session's state allows `kind`; if not, why.
    fn allowed(&self, kind: &CommandKind<'_>) -> Result<(), &'static str> {
        use CommandKind as K;
        let authenticated = self.authenticated();
        let selected = self.selected().is_some();
        let allowed = match kind {
            K::Capability | K::Noop | K::Logout | K::Id(_) => true,
            K::StartTls | K::Login { .. } | K::Authenticate { .. } => !authenticated,
            K::Check
            | K::Close
            | K::Unselect
            | K::Expunge
            | K::UidExpunge(_)
            | K::Search { .. }
            | K::Sort { .. }
            | K::Thread { .. }
            | K::CancelUpdate(_)
            | K::Fetch(_) => selected,
            K::Store(_) | K::Copy { .. } | K::Move { .. } => selected,
            // RFC 4978 §3: authenticated or selected state.
            K::Compress(_) => authenticated,
            _ => authenticated,
        };
        match allowed {
            true => Ok(()),
            false if authenticated => Err("No mailbox selected"),
            false => Err("Log in first"),
        }
    }

    /// The commands on mailboxes and messages, each followed by the
    /// selected mailbox's untagged updates.
    async fn on_mailbox(
        &mut self,
        tag: &[u8],
        mut kind: CommandKind<'_>,
        stream: &mut Stream,
    ) -> Flow {
        use CommandKind as K;
        // RFC 5182 §2.1: `$` is the saved result as the command starts.
        if let Some(sel) = self.selected() {
            sel.expand_saved(&mut kind);
        }
        // EXPUNGE responses may not interrupt FETCH, STORE, SEARCH or COPY
        // by sequence number (RFC 3501 §7.4.1); UID forms allow them.
        let mut expunges = true;
        match kind {
            K::Select(args) => self.select(tag, args, false).await,
            K::Examine(args) => self.select(tag, args, true).await,
            K::Create {
                mailbox,
                special_use,
            } => self.create(tag, &mailbox, &special_use).await,
            K::Delete(mailbox) => self.delete(tag, &mailbox).await,
            K::Rename { from, to } => self.rename(tag, &from, &to).await,
            K::Subscribe(mailbox) => self.subscribe(tag, &mailbox, true).await,
            K::Unsubscribe(mailbox) => self.subscribe(tag, &mailbox, false).await,
            K::List(mut args) => {
                args.utf8 = self.utf8();
                self.list(tag, &args, false).await
            }
            K::Lsub { reference, pattern } => self.lsub(tag, reference, pattern).await,
            K::Status { mailbox, items } => self.status(tag, &mailbox, &items).await,
            K::Append { utf8, ref more, .. }
                if (utf8 || more.iter().any(|m| m.utf8)) && !self.utf8_accept() =>
            {
                // RFC 6855 §4: the UTF8 data item is for a client that
                // enabled UTF8=ACCEPT.
                self.bad(tag, "APPEND UTF8 needs ENABLE UTF8=ACCEPT")
            }
            K::Append {
                mailbox,
                flags,
                date,
                message,
                more,
                utf8,
                catenate,
            } if !more.is_empty() || !catenate.is_empty() => {
                let cat = !catenate.is_empty() || more.iter().any(|m| !m.catenate.is_empty());
                let mut all = vec![crate::imap::parse::AppendMessage {
                    flags,
                    date,
                    message,
                    utf8,
                    catenate,
                }];
                all.extend(more);
                match cat {
                    // RFC 4469: some message is built from parts first.
                    true => self.catenate(tag, &mailbox, all).await,
                    false => self.multiappend(tag, &mailbox, all).await,
                }
            }
            K::Append {
                mailbox,
                flags,
                date,
                message,
                ..
            } => {
                self.append(tag, &mailbox, &flags, date.map(|d| d.unix), message)
                    .await
            }
            K::Close => self.close(tag, true).await,
            K::Unselect => self.close(tag, false).await,
            K::Expunge => self.expunge(tag, None).await,
            K::UidExpunge(set) => self.expunge(tag, Some(&set)).await,
            K::Fetch(args) => {
                expunges = args.uid;
                if !self.fetch(tag, args, stream).await {
                    return Flow::Close;
                }
            }
            K::Store(args) => {
                expunges = args.uid;
                self.store_flags(tag, &args).await;
            }
            K::Search {
                uid,
                ret,
                charset,
                key,
            } => {
                expunges = uid;
                let ret = rev2::search_return(ret, self.rev());
                self.search(tag, uid, ret, charset.as_deref(), &key).await;
            }
            K::Copy { uid, set, mailbox } => {
                expunges = uid;
                self.copy(tag, uid, &set, &mailbox, false).await;
            }
            K::Move { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, true).await,
            K::GetQuota(root) => self.getquota(tag, &root),
            K::GetQuotaRoot(mailbox) => self.getquotaroot(tag, &mailbox),
            K::SetQuota(_) => self.setquota(tag),
            K::Sort {
                uid,
                ret,
                criteria,
                charset,
                key,
            } => {
                expunges = uid;
                self.sort(tag, uid, ret, &criteria, &charset, &key).await;
            }
            K::Thread {
                uid,
                algorithm,
                charset,
                key,
            } => {
                expunges = uid;
                self.thread(tag, uid, algorithm, &charset, &key).await;
            }
            K::CancelUpdate(tags) => self.cancel_update(tag, &tags),
            other => self.bad(tag, &format!("{} is not supported", other.name())),
        }
        // Untagged updates go before the tagged reply (already queued):
        // move the tagged line after them.
        let tagged = split_last_line(self.out());
        self.sync(expunges).await;
        self.out().extend_from_slice(&tagged);
        Flow::Continue
    }
}

/// Takes the last line (the tagged reply) off the output, so untagged
/// updates can go before it. Our tagged lines never contain a newline.
fn split_last_line(out: &mut Vec<u8>) -> Vec<u8> {
    let body = &out[..out.len().saturating_sub(2)];
    let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    out.split_off(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tagged_line_comes_off_the_end() {
        let mut out = b"* 3 EXISTS\r\n* OK [X] y\r\na1 OK done\r\n".to_vec();
        assert_eq!(split_last_line(&mut out), b"a1 OK done\r\n");
        assert_eq!(out, b"* 3 EXISTS\r\n* OK [X] y\r\n");
        let mut only = b"a1 OK done\r\n".to_vec();
        assert_eq!(split_last_line(&mut only), b"a1 OK done\r\n");
        assert!(only.is_empty());
    }
}
