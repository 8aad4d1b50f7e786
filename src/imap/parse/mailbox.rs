//! Arguments of the commands on mailboxes (RFC 3501 §6.3): names,
//! SELECT/EXAMINE parameters (CONDSTORE and QRESYNC, RFC 7162), CREATE's
//! special-use attributes (RFC 6154), LIST with LIST-EXTENDED (RFC 5258),
//! SPECIAL-USE and LIST-STATUS (RFC 5819), and STATUS items.

use std::borrow::Cow;

use super::command::CommandKind;
use super::lexer::{Lexer, PResult, Upper};
use super::sequence::{self, SequenceSet};
use super::{MAX_LIST_ITEMS, MAX_SMALL_LIST};

/// A mailbox name as sent (modified UTF-7, RFC 3501 §5.1.3), except that
/// INBOX in any case is normalised to `INBOX` (RFC 3501 §5.1). Only the
/// whole name is: whether `inbox/child` means `INBOX/child` depends on the
/// hierarchy separator, which is the mailbox-name module's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox<'a>(Cow<'a, [u8]>);

impl<'a> Mailbox<'a> {
    pub fn new(name: Cow<'a, [u8]>) -> Self {
        if name.eq_ignore_ascii_case(b"INBOX") {
            Mailbox(Cow::Borrowed(b"INBOX"))
        } else {
            Mailbox(name)
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_inbox(&self) -> bool {
        *self.0 == *b"INBOX"
    }

    pub fn into_inner(self) -> Cow<'a, [u8]> {
        self.0
    }
}

/// STATUS data items (RFC 3501 §6.3.10, RFC 7162 §3.1.6 HIGHESTMODSEQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    HighestModSeq,
    /// RFC 7889 §4: the largest message APPEND takes into the mailbox.
    AppendLimit,
    /// RFC 8438 §3: the octets the mailbox's messages occupy.
    Size,
    /// RFC 9208 §4.3: messages with \Deleted.
    Deleted,
    /// RFC 9208 §4.3: the octets EXPUNGE would free.
    DeletedStorage,
    /// RFC 8474 §4.
    MailboxId,
}

/// SELECT / EXAMINE arguments (RFC 3501 §6.3.1, RFC 7162 §3.1.8, §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectArgs<'a> {
    pub mailbox: Mailbox<'a>,
    /// The `(CONDSTORE)` parameter.
    pub condstore: bool,
    /// The `(QRESYNC (...))` parameter.
    pub qresync: Option<QresyncParams>,
}

/// RFC 7162 §3.2.5 QRESYNC select parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    /// The UIDVALIDITY the client's cache is for.
    pub uid_validity: u32,
    /// The last HIGHESTMODSEQ the client saw.
    pub mod_seq: u64,
    /// UIDs the client knows (no `*`).
    pub known_uids: Option<SequenceSet>,
    /// Message sequence numbers and the UIDs they map to, for working out
    /// expunges cheaply (no `*`).
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// A special-use attribute (RFC 6154 §2) in `CREATE ... (USE (...))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialUse<'a> {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
    /// Another `\atom` (the atom, without the backslash); RFC 6154 §3 has
    /// the server answer `NO [USEATTR]`.
    Other(&'a [u8]),
}

/// LIST arguments: RFC 3501 §6.3.8 plus RFC 5258 options and patterns and
/// RFC 5819 STATUS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListArgs<'a> {
    /// The reference name (not INBOX-normalised: it is a prefix).
    pub reference: Cow<'a, [u8]>,
    /// One or more patterns, with `*` and `%` wildcards; a single empty
    /// pattern asks for the hierarchy delimiter.
    pub patterns: Vec<Cow<'a, [u8]>>,
    pub selection: ListSelection,
    pub returns: ListReturn,
    /// The client used RFC 5258 syntax (selection or return options, or
    /// a parenthesised pattern list), so the response may carry extended
    /// data such as CHILDINFO.
    pub extended: bool,
    /// Names are UTF-8 on the wire, not modified UTF-7: the session
    /// enabled UTF8=ACCEPT (RFC 6855 §3). Never set by the parser.
    pub utf8: bool,
}

/// RFC 5258 §3 selection options (and RFC 6154 §5's SPECIAL-USE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListSelection {
    pub subscribed: bool,
    pub remote: bool,
    pub recursive_match: bool,
    pub special_use: bool,
}

/// RFC 5258 §3 return options (with RFC 6154 SPECIAL-USE and RFC 5819
/// STATUS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    pub subscribed: bool,
    pub children: bool,
    pub special_use: bool,
    pub status: Option<Vec<StatusItem>>,
}

/// `SP mailbox`.
pub(super) fn sp_mailbox<'a>(lex: &mut Lexer<'a>) -> PResult<Mailbox<'a>> {
    lex.sp()?;
    Ok(Mailbox::new(lex.astring()?))
}

/// SELECT / EXAMINE: `SP mailbox [SP "(" select-param *(SP ...) ")"]`
/// (RFC 4466 §2.1 select-params, RFC 7162 §7 CONDSTORE and QRESYNC).
pub(super) fn select<'a>(lex: &mut Lexer<'a>) -> PResult<SelectArgs<'a>> {
    let mailbox = sp_mailbox(lex)?;
    let mut args = SelectArgs {
        mailbox,
        condstore: false,
        qresync: None,
    };
    if lex.eat(b' ') {
        lex.paren_list(true, MAX_SMALL_LIST, |lex| {
            match Upper::new(lex.keyword()).as_bytes() {
                b"CONDSTORE" if !args.condstore => {
                    args.condstore = true;
                    Ok(())
                }
                b"QRESYNC" if args.qresync.is_none() => {
                    lex.sp()?;
                    args.qresync = Some(qresync(lex)?);
                    Ok(())
                }
                _ => Err("unknown or repeated SELECT parameter"),
            }
        })?;
    }
    Ok(args)
}

/// RFC 7162 §7: `"(" uidvalidity SP mod-sequence-value [SP known-uids]
/// [SP seq-match-data] ")"`.
fn qresync(lex: &mut Lexer<'_>) -> PResult<QresyncParams> {
    lex.expect(b'(', "expected '('")?;
    let uid_validity = lex.nz_number()?;
    lex.sp()?;
    // Strictly 1 or more; 0 ("nothing cached") is harmless and accepted.
    let mod_seq = lex.mod_seq()?;
    let mut params = QresyncParams {
        uid_validity,
        mod_seq,
        known_uids: None,
        seq_match: None,
    };
    if lex.eat(b' ') {
        if lex.peek() != Some(b'(') {
            params.known_uids = Some(sequence::parse(lex, false)?);
            if lex.eat(b' ') {
                params.seq_match = Some(seq_match(lex)?);
            }
        } else {
            params.seq_match = Some(seq_match(lex)?);
        }
    }
    lex.expect(b')', "expected ')'")?;
    Ok(params)
}

/// seq-match-data = "(" known-sequence-set SP known-uid-set ")"
fn seq_match(lex: &mut Lexer<'_>) -> PResult<(SequenceSet, SequenceSet)> {
    lex.expect(b'(', "expected '('")?;
    let seqs = sequence::parse(lex, false)?;
    lex.sp()?;
    let uids = sequence::parse(lex, false)?;
    lex.expect(b')', "expected ')'")?;
    Ok((seqs, uids))
}

/// CREATE: `SP mailbox [SP "(" create-param *(SP create-param) ")"]`
/// (RFC 4466 §2.2), with RFC 6154 §3's `USE (use-attr ...)` the only
/// parameter known.
pub(super) fn create<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    let mailbox = sp_mailbox(lex)?;
    let mut special_use = Vec::new();
    if lex.eat(b' ') {
        let mut seen_use = false;
        lex.paren_list(false, MAX_SMALL_LIST, |lex| {
            if seen_use || !lex.keyword().eq_ignore_ascii_case(b"USE") {
                return Err("unknown or repeated CREATE parameter");
            }
            seen_use = true;
            lex.sp()?;
            special_use = lex.paren_list(true, MAX_SMALL_LIST, use_attr)?;
            Ok(())
        })?;
    }
    Ok(CommandKind::Create {
        mailbox,
        special_use,
    })
}

/// RFC 6154 §6 use-attr: `\All` ... `\Trash`, or another `\atom`.
fn use_attr<'a>(lex: &mut Lexer<'a>) -> PResult<SpecialUse<'a>> {
    lex.expect(b'\\', "expected a special-use attribute")?;
    let atom = lex.atom()?;
    Ok(match Upper::new(atom).as_bytes() {
        b"ALL" => SpecialUse::All,
        b"ARCHIVE" => SpecialUse::Archive,
        b"DRAFTS" => SpecialUse::Drafts,
        b"FLAGGED" => SpecialUse::Flagged,
        b"JUNK" => SpecialUse::Junk,
        b"SENT" => SpecialUse::Sent,
        b"TRASH" => SpecialUse::Trash,
        _ => SpecialUse::Other(atom),
    })
}

/// RFC 5258 §6: `LIST [SP list-select-opts] SP mailbox SP mbox-or-pat
/// [SP list-return-opts]`.
pub(super) fn list<'a>(lex: &mut Lexer<'a>) -> PResult<ListArgs<'a>> {
    lex.sp()?;
    let mut selection = ListSelection::default();
    let mut extended = false;
    if lex.peek() == Some(b'(') {
        extended = true;
        lex.paren_list(true, MAX_SMALL_LIST, |lex| {
            let flag = match Upper::new(lex.keyword()).as_bytes() {
                b"SUBSCRIBED" => &mut selection.subscribed,
                b"REMOTE" => &mut selection.remote,
                b"RECURSIVEMATCH" => &mut selection.recursive_match,
                b"SPECIAL-USE" => &mut selection.special_use,
                // RFC 5258 §3: unknown selection options are a BAD.
                _ => return Err("unknown LIST selection option"),
            };
            *flag = true;
            Ok(())
        })?;
        // RFC 5258 §3.1: RECURSIVEMATCH needs an option it can modify;
        // with nothing else (or only REMOTE) it is a BAD.
        if selection.recursive_match && !selection.subscribed && !selection.special_use {
            return Err("RECURSIVEMATCH needs another selection option");
        }
        lex.sp()?;
    }
    let reference = lex.astring()?;
    lex.sp()?;
    let patterns = if lex.peek() == Some(b'(') {
        extended = true;
        lex.paren_list(false, MAX_LIST_ITEMS, |l| l.list_mailbox())?
    } else {
        vec![lex.list_mailbox()?]
    };
    let mut returns = ListReturn::default();
    if lex.eat(b' ') {
        extended = true;
        if !lex.keyword().eq_ignore_ascii_case(b"RETURN") {
            return Err("expected RETURN");
        }
        lex.sp()?;
        lex.paren_list(true, MAX_SMALL_LIST, |lex| {
            let flag = match Upper::new(lex.keyword()).as_bytes() {
                b"SUBSCRIBED" => &mut returns.subscribed,
                b"CHILDREN" => &mut returns.children,
                b"SPECIAL-USE" => &mut returns.special_use,
                b"STATUS" if returns.status.is_none() => {
                    lex.sp()?;
                    returns.status = Some(status_items(lex)?);
                    return Ok(());
                }
                _ => return Err("unknown or repeated LIST return option"),
            };
            *flag = true;
            Ok(())
        })?;
    }
    Ok(ListArgs {
        reference,
        patterns,
        selection,
        returns,
        extended,
        utf8: false,
    })
}

/// `"(" status-att *(SP status-att) ")"` (RFC 3501 §9, RFC 7162 §7).
pub(super) fn status_items(lex: &mut Lexer<'_>) -> PResult<Vec<StatusItem>> {
    lex.paren_list(false, MAX_SMALL_LIST, |lex| {
        Ok(match Upper::new(lex.keyword()).as_bytes() {
            b"MESSAGES" => StatusItem::Messages,
            b"RECENT" => StatusItem::Recent,
            b"UIDNEXT" => StatusItem::UidNext,
            b"UIDVALIDITY" => StatusItem::UidValidity,
            b"UNSEEN" => StatusItem::Unseen,
            b"HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            b"APPENDLIMIT" => StatusItem::AppendLimit,
            b"SIZE" => StatusItem::Size,
            b"DELETED" => StatusItem::Deleted,
            b"DELETED-STORAGE" => StatusItem::DeletedStorage,
            b"MAILBOXID" => StatusItem::MailboxId,
            _ => return Err("unknown STATUS item"),
        })
    })
}
