//! Client commands: RFC 3501 §6 (§9 formal syntax `command`) and the
//! extensions smolmail advertises — IDLE (RFC 2177), UIDPLUS's UID EXPUNGE
//! (RFC 4315 §2.1), MOVE (RFC 6851), NAMESPACE (RFC 2342), ID (RFC 2971),
//! ENABLE (RFC 5161), UNSELECT (RFC 3691), SPECIAL-USE (RFC 6154),
//! LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CONDSTORE and QRESYNC
//! (RFC 7162) and SASL-IR (RFC 4959). The argument grammars shared with
//! other commands live in `mailbox`, `fetch`, `search`, `sequence` and
//! `datetime`.
//!
//! The parser checks syntax only; whether a command is allowed in the
//! session's state, or an extension is enabled, is the session's call.

use std::borrow::Cow;

use super::datetime::{self, DateTime};
use super::fetch::{self, FetchItem};
use super::lexer::{Lexer, PResult, Upper};
use super::mailbox::{
    self, ListArgs, Mailbox, SelectArgs, SpecialUse, StatusItem, sp_mailbox, status_items,
};
use super::search::{self, SearchKey};
use super::sequence::{self, SequenceSet};
use super::sort::{self, SearchReturn, SortCriterion, ThreadAlgorithm};
use super::{MAX_ID_PAIRS, MAX_LIST_ITEMS, MAX_SMALL_LIST};

/// One parsed client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The tag, to be echoed in the tagged response.
    pub tag: &'a [u8],
    pub kind: CommandKind<'a>,
}

/// Every command smolmail understands, with its arguments. Byte strings are
/// what the client sent once quoting and literals are undone; mailbox names
/// are still modified UTF-7 (see `mutf7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind<'a> {
    Capability,
    Noop,
    Logout,
    StartTls,
    /// RFC 3501 §6.2.2 with RFC 4959's initial response.
    Authenticate {
        /// The SASL mechanism name as sent (compare case-insensitively).
        mechanism: &'a [u8],
        /// The initial response, still base64 (checked to be well-formed);
        /// `Some(b"")` when the client sent `=`, an empty response.
        initial: Option<&'a [u8]>,
    },
    Login {
        user: Cow<'a, [u8]>,
        password: Cow<'a, [u8]>,
    },
    Select(SelectArgs<'a>),
    Examine(SelectArgs<'a>),
    Create {
        mailbox: Mailbox<'a>,
        /// RFC 6154 §3 `USE (...)`.
        special_use: Vec<SpecialUse<'a>>,
    },
    Delete(Mailbox<'a>),
    Rename {
        from: Mailbox<'a>,
        to: Mailbox<'a>,
    },
    Subscribe(Mailbox<'a>),
    Unsubscribe(Mailbox<'a>),
    List(ListArgs<'a>),
    Lsub {
        reference: Cow<'a, [u8]>,
        pattern: Cow<'a, [u8]>,
    },
    Status {
        mailbox: Mailbox<'a>,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: Mailbox<'a>,
        flags: Vec<Flag<'a>>,
        date: Option<DateTime>,
        /// The message, exactly the literal's bytes.
        message: &'a [u8],
        /// RFC 3502 MULTIAPPEND: the messages after the first.
        more: Vec<AppendMessage<'a>>,
        /// RFC 6855 §4: the first message came as `UTF8 (~{n}...)`.
        utf8: bool,
        /// RFC 4469 §5: the first message is these parts joined (then
        /// `message` is empty).
        catenate: Vec<CatPart<'a>>,
    },
    Check,
    Close,
    Unselect,
    Expunge,
    /// RFC 4315 §2.1 `UID EXPUNGE set`.
    UidExpunge(SequenceSet),
    Search {
        uid: bool,
        /// RFC 4731 ESEARCH result options; `None` for a plain SEARCH.
        ret: Option<SearchReturn>,
        /// The CHARSET the strings are in; `None` means US-ASCII
        /// (RFC 3501 §6.4.4), in practice UTF-8 too.
        charset: Option<Cow<'a, [u8]>>,
        /// Several top-level keys come as [`SearchKey::And`].
        key: SearchKey<'a>,
    },
    Fetch(FetchArgs<'a>),
    Store(StoreArgs<'a>),
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox<'a>,
    },
    /// RFC 6851.
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox<'a>,
    },
    /// RFC 2177; the session then waits for a line that [`super::is_done`].
    Idle,
    Namespace,
    /// RFC 2971: `None` for `ID NIL`, else field/value pairs (a value may
    /// be NIL).
    Id(Option<Vec<IdPair<'a>>>),
    /// RFC 5161: capability names as sent (compare case-insensitively).
    Enable(Vec<&'a [u8]>),
    /// RFC 9208 §4.2: `GETQUOTA root`.
    GetQuota(Cow<'a, [u8]>),
    /// RFC 9208 §4.3: `GETQUOTAROOT mailbox`.
    GetQuotaRoot(Mailbox<'a>),
    /// RFC 9208 §4.1: `SETQUOTA root (resource limit ...)`; only parsed
    /// so it can be refused (limits are the administrator's).
    SetQuota(Cow<'a, [u8]>),
    /// RFC 4978 §3: the compression mechanism's name as sent.
    Compress(&'a [u8]),
    /// RFC 5267 §4.2 `CANCELUPDATE 1*(SP tag-string)`: the tags of the
    /// search contexts to stop updating.
    CancelUpdate(Vec<Cow<'a, [u8]>>),
    /// RFC 5256 §3 SORT / UID SORT, with RFC 5267 ESORT's RETURN.
    Sort {
        uid: bool,
        ret: Option<SearchReturn>,
        criteria: Vec<SortCriterion>,
        charset: Cow<'a, [u8]>,
        key: SearchKey<'a>,
    },
    /// RFC 5256 §4 THREAD / UID THREAD.
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: Cow<'a, [u8]>,
        key: SearchKey<'a>,
    },
}

impl CommandKind<'_> {
    /// The command's name in capitals, for logs and `BAD`/`NO` texts.
    pub fn name(&self) -> &'static str {
        use CommandKind::*;
        match self {
            Capability => "CAPABILITY",
            Noop => "NOOP",
            Logout => "LOGOUT",
            StartTls => "STARTTLS",
            Authenticate { .. } => "AUTHENTICATE",
            Login { .. } => "LOGIN",
            Select(_) => "SELECT",
            Examine(_) => "EXAMINE",
            Create { .. } => "CREATE",
            Delete(_) => "DELETE",
            Rename { .. } => "RENAME",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            List(_) => "LIST",
            Lsub { .. } => "LSUB",
            Status { .. } => "STATUS",
            Append { .. } => "APPEND",
            Check => "CHECK",
            Close => "CLOSE",
            Unselect => "UNSELECT",
            Expunge => "EXPUNGE",
            UidExpunge(_) => "UID EXPUNGE",
            Search { uid: false, .. } => "SEARCH",
            Search { uid: true, .. } => "UID SEARCH",
            Fetch(FetchArgs { uid: false, .. }) => "FETCH",
            Fetch(FetchArgs { uid: true, .. }) => "UID FETCH",
            Store(StoreArgs { uid: false, .. }) => "STORE",
            Store(StoreArgs { uid: true, .. }) => "UID STORE",
            Copy { uid: false, .. } => "COPY",
            Copy { uid: true, .. } => "UID COPY",
            Move { uid: false, .. } => "MOVE",
            Move { uid: true, .. } => "UID MOVE",
            Idle => "IDLE",
            Namespace => "NAMESPACE",
            Id(_) => "ID",
            Enable(_) => "ENABLE",
            GetQuota(_) => "GETQUOTA",
            GetQuotaRoot(_) => "GETQUOTAROOT",
            SetQuota(_) => "SETQUOTA",
            Compress(_) => "COMPRESS",
            CancelUpdate(_) => "CANCELUPDATE",
            Sort { uid: false, .. } => "SORT",
            Sort { uid: true, .. } => "UID SORT",
            Thread { uid: false, .. } => "THREAD",
            Thread { uid: true, .. } => "UID THREAD",
        }
    }
}

/// FETCH / UID FETCH. UID FETCH answers with UID whether asked or not
/// (RFC 3501 §6.4.8), and CHANGEDSINCE implies MODSEQ (RFC 7162
/// §3.1.4.1): both are the session's to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchArgs<'a> {
    pub uid: bool,
    pub set: SequenceSet,
    pub items: Vec<FetchItem<'a>>,
    /// RFC 7162 §3.1.4.1 CHANGEDSINCE.
    pub changed_since: Option<u64>,
    /// RFC 7162 §3.2.6 VANISHED; only with UID FETCH and CHANGEDSINCE,
    /// which the parser enforces.
    pub vanished: bool,
    /// RFC 9394 §3.3 PARTIAL: only this window, by position, of the
    /// messages the set (and CHANGEDSINCE) selects.
    pub partial: Option<super::Window>,
}

/// STORE / UID STORE (RFC 3501 §6.4.6, RFC 7162 §3.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArgs<'a> {
    pub uid: bool,
    pub set: SequenceSet,
    pub mode: StoreMode,
    /// `.SILENT`: no untagged FETCH for the new flags.
    pub silent: bool,
    pub flags: Vec<Flag<'a>>,
    /// RFC 7162 §3.1.3 UNCHANGEDSINCE.
    pub unchanged_since: Option<u64>,
}

/// One RFC 2971 ID field and its value (`None` for NIL).
pub type IdPair<'a> = (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>);

/// A message flag a client may set (RFC 3501 §2.3.2, §9 `flag`). \Recent is
/// not one: only the server sets it, so it is refused as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag<'a> {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// A keyword (flag-keyword, an atom) as sent; keywords compare
    /// case-insensitively.
    Keyword(&'a [u8]),
}

impl Flag<'_> {
    /// The flag as written on the wire (`\Seen`, or the keyword).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Flag::Seen => b"\\Seen",
            Flag::Answered => b"\\Answered",
            Flag::Flagged => b"\\Flagged",
            Flag::Deleted => b"\\Deleted",
            Flag::Draft => b"\\Draft",
            Flag::Keyword(k) => k,
        }
    }
}

/// How STORE combines the given flags with the message's (RFC 3501 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// Parses what follows `tag SP`.
pub(super) fn parse<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    use CommandKind as C;
    let name = Upper::new(lex.keyword());
    Ok(match name.as_bytes() {
        b"CAPABILITY" => C::Capability,
        b"NOOP" => C::Noop,
        b"LOGOUT" => C::Logout,
        b"STARTTLS" => C::StartTls,
        b"CHECK" => C::Check,
        b"CLOSE" => C::Close,
        b"UNSELECT" => C::Unselect,
        b"EXPUNGE" => C::Expunge,
        b"IDLE" => C::Idle,
        b"NAMESPACE" => C::Namespace,
        b"AUTHENTICATE" => authenticate(lex)?,
        b"LOGIN" => {
            lex.sp()?;
            let user = lex.astring()?;
            lex.sp()?;
            C::Login {
                user,
                password: lex.astring()?,
            }
        }
        b"SELECT" => C::Select(mailbox::select(lex)?),
        b"EXAMINE" => C::Examine(mailbox::select(lex)?),
        b"CREATE" => mailbox::create(lex)?,
        b"DELETE" => C::Delete(sp_mailbox(lex)?),
        b"RENAME" => {
            let from = sp_mailbox(lex)?;
            C::Rename {
                from,
                to: sp_mailbox(lex)?,
            }
        }
        b"SUBSCRIBE" => C::Subscribe(sp_mailbox(lex)?),
        b"UNSUBSCRIBE" => C::Unsubscribe(sp_mailbox(lex)?),
        b"LIST" => C::List(mailbox::list(lex)?),
        b"LSUB" => {
            lex.sp()?;
            let reference = lex.astring()?;
            lex.sp()?;
            C::Lsub {
                reference,
                pattern: lex.list_mailbox()?,
            }
        }
        b"STATUS" => {
            let mailbox = sp_mailbox(lex)?;
            lex.sp()?;
            C::Status {
                mailbox,
                items: status_items(lex)?,
            }
        }
        b"APPEND" => append(lex)?,
        b"SEARCH" => search(lex, false)?,
        b"FETCH" => fetch(lex, false)?,
        b"STORE" => store(lex, false)?,
        b"COPY" => {
            let (set, mailbox) = set_and_mailbox(lex)?;
            C::Copy {
                uid: false,
                set,
                mailbox,
            }
        }
        b"MOVE" => {
            let (set, mailbox) = set_and_mailbox(lex)?;
            C::Move {
                uid: false,
                set,
                mailbox,
            }
        }
        b"UID" => uid(lex)?,
        b"ID" => id(lex)?,
        b"ENABLE" => {
            // enable = "ENABLE" 1*(SP capability)
            let mut caps = Vec::new();
            while lex.eat(b' ') {
                if caps.len() >= MAX_SMALL_LIST {
                    return Err("too many capabilities");
                }
                caps.push(lex.atom()?);
            }
            if caps.is_empty() {
                return Err("ENABLE needs a capability");
            }
            C::Enable(caps)
        }
        b"GETQUOTA" => {
            lex.sp()?;
            C::GetQuota(lex.astring()?)
        }
        b"GETQUOTAROOT" => C::GetQuotaRoot(sp_mailbox(lex)?),
        b"SETQUOTA" => setquota(lex)?,
        b"COMPRESS" => {
            // compress = "COMPRESS" SP algorithm (RFC 4978 §3)
            lex.sp()?;
            C::Compress(lex.atom()?)
        }
        b"SORT" => sort_command(lex, false)?,
        b"THREAD" => thread_command(lex, false)?,
        b"CANCELUPDATE" => {
            // RFC 5267 §5: command-select =/ "CANCELUPDATE" 1*(SP tag-string)
            let mut tags = Vec::new();
            while lex.eat(b' ') {
                if tags.len() >= MAX_SMALL_LIST {
                    return Err("too many CANCELUPDATE tags");
                }
                tags.push(lex.string()?);
            }
            if tags.is_empty() {
                return Err("CANCELUPDATE needs a tag");
            }
            C::CancelUpdate(tags)
        }
        b"" => return Err("missing command"),
        _ => return Err("unknown command"),
    })
}

/// `SP sequence-set SP mailbox`, for COPY and MOVE.
fn set_and_mailbox<'a>(lex: &mut Lexer<'a>) -> PResult<(SequenceSet, Mailbox<'a>)> {
    lex.sp()?;
    let set = sequence::parse(lex, true)?;
    Ok((set, sp_mailbox(lex)?))
}

/// RFC 3501 §6.4.8 `UID SP (copy / move / fetch / search / store /
/// uid-expunge)`.
fn uid<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    use CommandKind as C;
    lex.sp()?;
    Ok(match Upper::new(lex.keyword()).as_bytes() {
        b"COPY" => {
            let (set, mailbox) = set_and_mailbox(lex)?;
            C::Copy {
                uid: true,
                set,
                mailbox,
            }
        }
        b"MOVE" => {
            let (set, mailbox) = set_and_mailbox(lex)?;
            C::Move {
                uid: true,
                set,
                mailbox,
            }
        }
        b"FETCH" => fetch(lex, true)?,
        b"SEARCH" => search(lex, true)?,
        b"STORE" => store(lex, true)?,
        b"SORT" => sort_command(lex, true)?,
        b"THREAD" => thread_command(lex, true)?,
        b"EXPUNGE" => {
            lex.sp()?;
            C::UidExpunge(sequence::parse(lex, true)?)
        }
        _ => return Err("unknown UID command"),
    })
}

/// RFC 3501 §6.2.2 + RFC 4959 §7: `SP auth-type [SP (base64 / "=")]`.
fn authenticate<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    lex.sp()?;
    let mechanism = lex.atom()?;
    let initial = if lex.eat(b' ') {
        let text = lex.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if text == b"=" {
            Some(&text[..0])
        } else if is_base64(text) {
            Some(text)
        } else {
            return Err("bad base64 initial response");
        }
    } else {
        None
    };
    Ok(CommandKind::Authenticate { mechanism, initial })
}

/// RFC 3501 §9 base64: groups of four, `=` padding only at the end.
fn is_base64(text: &[u8]) -> bool {
    let body_len = text.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    let padding = text.len() - body_len;
    !text.is_empty()
        && text.len().is_multiple_of(4)
        && padding <= 2
        && text[..body_len]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// RFC 3501 §9 flag: a system flag or a keyword. `\Recent` and unknown
/// `\Name`s (flag-extension) are refused: a client cannot set them.
fn flag<'a>(lex: &mut Lexer<'a>) -> PResult<Flag<'a>> {
    if !lex.eat(b'\\') {
        return Ok(Flag::Keyword(lex.atom()?));
    }
    Ok(match Upper::new(lex.atom()?).as_bytes() {
        b"SEEN" => Flag::Seen,
        b"ANSWERED" => Flag::Answered,
        b"FLAGGED" => Flag::Flagged,
        b"DELETED" => Flag::Deleted,
        b"DRAFT" => Flag::Draft,
        b"RECENT" => return Err("\\Recent cannot be set by a client"),
        _ => return Err("unknown system flag"),
    })
}

/// RFC 3501 §9 flag-list: `"(" [flag *(SP flag)] ")"`.
fn flag_list<'a>(lex: &mut Lexer<'a>) -> PResult<Vec<Flag<'a>>> {
    lex.paren_list(true, MAX_LIST_ITEMS, flag)
}

/// RFC 3501 §6.3.11: `SP mailbox [SP flag-list] [SP date-time] SP literal`.
fn append<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    let mailbox = sp_mailbox(lex)?;
    lex.sp()?;
    let AppendMessage {
        flags,
        date,
        message,
        utf8,
        catenate,
    } = append_message(lex)?;
    // RFC 3502 §6.3.11: `append = "APPEND" SP mailbox 1*append-message`.
    let mut more = Vec::new();
    while lex.eat(b' ') {
        if more.len() >= MAX_LIST_ITEMS {
            return Err("too many messages in one APPEND");
        }
        more.push(append_message(lex)?);
    }
    Ok(CommandKind::Append {
        mailbox,
        flags,
        date,
        message,
        more,
        utf8,
        catenate,
    })
}

/// One message of an APPEND (RFC 3502 §6.3.11 `append-message`, without
/// the leading SP): `[flag-list SP] [date-time SP] literal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage<'a> {
    pub flags: Vec<Flag<'a>>,
    pub date: Option<DateTime>,
    pub message: &'a [u8],
    /// RFC 6855 §4 `"UTF8" SP "(" literal8 ")"`.
    pub utf8: bool,
    /// RFC 4469 §5 `"CATENATE" SP "(" cat-part *(SP cat-part) ")"`: the
    /// parts the message is made of; empty for a plain literal.
    pub catenate: Vec<CatPart<'a>>,
}

/// RFC 4469 §5 cat-part: `"TEXT" SP literal` or `"URL" SP astring` (an
/// RFC 5092 IMAP URL, resolved by `imap::catenate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart<'a> {
    Text(&'a [u8]),
    Url(Cow<'a, [u8]>),
}

/// Most parts in one CATENATE: a message built of more pieces than this
/// is not a draft being edited.
const MAX_CAT_PARTS: usize = 256;

/// RFC 4469 §5: the parenthesised cat-part list after `CATENATE SP`.
fn cat_parts<'a>(lex: &mut Lexer<'a>) -> PResult<Vec<CatPart<'a>>> {
    lex.paren_list(false, MAX_CAT_PARTS, |lex| {
        match Upper::new(lex.keyword()).as_bytes() {
            b"TEXT" => {
                lex.sp()?;
                // RFC 3516 §4.4 lets the text be a literal8.
                let eight = lex.eat(b'~');
                if lex.peek() != Some(b'{') {
                    return Err("CATENATE TEXT needs a literal");
                }
                Ok(CatPart::Text(lex.literal(eight)?))
            }
            b"URL" => {
                lex.sp()?;
                Ok(CatPart::Url(lex.astring()?))
            }
            _ => Err("a CATENATE part is TEXT or URL"),
        }
    })
}

fn append_message<'a>(lex: &mut Lexer<'a>) -> PResult<AppendMessage<'a>> {
    let mut flags = Vec::new();
    if lex.peek() == Some(b'(') {
        flags = flag_list(lex)?;
        lex.sp()?;
    }
    let mut date = None;
    if lex.peek() == Some(b'"') {
        date = Some(datetime::parse_date_time(lex)?);
        lex.sp()?;
    }
    // RFC 6855 §4: `append-data =/ "UTF8" SP "(" literal8 ")"`.
    let mark = lex.mark();
    if lex.keyword().eq_ignore_ascii_case(b"UTF8") {
        lex.sp()?;
        lex.expect(b'(', "expected ( after UTF8")?;
        lex.expect(b'~', "UTF8 wants a literal8")?;
        let message = lex.literal(true)?;
        lex.expect(b')', "expected ) after the UTF8 literal")?;
        return Ok(AppendMessage {
            flags,
            date,
            message,
            utf8: true,
            catenate: Vec::new(),
        });
    }
    lex.reset(mark);
    if lex.keyword().eq_ignore_ascii_case(b"CATENATE") {
        lex.sp()?;
        let catenate = cat_parts(lex)?;
        return Ok(AppendMessage {
            flags,
            date,
            message: &[],
            utf8: false,
            catenate,
        });
    }
    lex.reset(mark);
    // RFC 3516 §4.4: literal8 (`~{n}`) for a message that holds NULs.
    lex.eat(b'~');
    if lex.peek() != Some(b'{') {
        return Err("APPEND needs the message as a literal");
    }
    let message = lex.literal(true)?;
    Ok(AppendMessage {
        flags,
        date,
        message,
        utf8: false,
        catenate: Vec::new(),
    })
}

/// RFC 3501 §6.4.4: `SP ["CHARSET" SP astring SP] search-key *(SP ...)`.
fn search<'a>(lex: &mut Lexer<'a>, uid: bool) -> PResult<CommandKind<'a>> {
    lex.sp()?;
    // RFC 4731 §3.1: `[SP search-return-opts]` comes first.
    let ret = sort::search_return(lex)?;
    let mark = lex.mark();
    let charset = if lex.keyword().eq_ignore_ascii_case(b"CHARSET") {
        lex.sp()?;
        let charset = lex.astring()?;
        lex.sp()?;
        Some(charset)
    } else {
        lex.reset(mark);
        None
    };
    let key = search::parse_keys(lex)?;
    Ok(CommandKind::Search {
        uid,
        ret,
        charset,
        key,
    })
}

/// RFC 5256 §3 SORT (RFC 5267 §3.1 RETURN options).
fn sort_command<'a>(lex: &mut Lexer<'a>, uid: bool) -> PResult<CommandKind<'a>> {
    let (ret, criteria, charset, key) = sort::sort(lex)?;
    Ok(CommandKind::Sort {
        uid,
        ret,
        criteria,
        charset,
        key,
    })
}

/// RFC 5256 §4 THREAD.
fn thread_command<'a>(lex: &mut Lexer<'a>, uid: bool) -> PResult<CommandKind<'a>> {
    let (algorithm, charset, key) = sort::thread(lex)?;
    Ok(CommandKind::Thread {
        uid,
        algorithm,
        charset,
        key,
    })
}

/// RFC 3501 §6.4.5 with RFC 7162 modifiers: `SP sequence-set SP items
/// [SP fetch-modifiers]`.
fn fetch<'a>(lex: &mut Lexer<'a>, uid: bool) -> PResult<CommandKind<'a>> {
    lex.sp()?;
    let set = sequence::parse(lex, true)?;
    lex.sp()?;
    let items = fetch::parse_items(lex)?;
    let modifiers = if lex.eat(b' ') {
        fetch::parse_modifiers(lex)?
    } else {
        fetch::Modifiers::default()
    };
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with
    // CHANGEDSINCE; anything else is a BAD.
    if modifiers.vanished && !uid {
        return Err("VANISHED needs UID FETCH");
    }
    if modifiers.vanished && modifiers.changed_since.is_none() {
        return Err("VANISHED needs CHANGEDSINCE");
    }
    Ok(CommandKind::Fetch(FetchArgs {
        uid,
        set,
        items,
        changed_since: modifiers.changed_since,
        vanished: modifiers.vanished,
        partial: modifiers.partial,
    }))
}

/// RFC 3501 §6.4.6 with RFC 7162 §3.1.3: `SP sequence-set
/// [SP "(" UNCHANGEDSINCE n ")"] SP ["+"/"-"] "FLAGS" [".SILENT"] SP
/// (flag-list / flag *(SP flag))`.
fn store<'a>(lex: &mut Lexer<'a>, uid: bool) -> PResult<CommandKind<'a>> {
    lex.sp()?;
    let set = sequence::parse(lex, true)?;
    lex.sp()?;
    let mut unchanged_since = None;
    if lex.peek() == Some(b'(') {
        lex.paren_list(false, MAX_SMALL_LIST, |lex| {
            if unchanged_since.is_some() || !lex.keyword().eq_ignore_ascii_case(b"UNCHANGEDSINCE") {
                return Err("unknown or repeated STORE modifier");
            }
            lex.sp()?;
            unchanged_since = Some(lex.mod_seq()?);
            Ok(())
        })?;
        lex.sp()?;
    }
    let mode = if lex.eat(b'+') {
        StoreMode::Add
    } else if lex.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let silent = match Upper::new(lex.keyword()).as_bytes() {
        b"FLAGS" => false,
        b"FLAGS.SILENT" => true,
        _ => return Err("expected FLAGS or FLAGS.SILENT"),
    };
    lex.sp()?;
    let flags = if lex.peek() == Some(b'(') {
        flag_list(lex)?
    } else {
        let mut flags = vec![flag(lex)?];
        while lex.eat(b' ') {
            if flags.len() >= MAX_LIST_ITEMS {
                return Err("too many flags");
            }
            flags.push(flag(lex)?);
        }
        flags
    };
    Ok(CommandKind::Store(StoreArgs {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    }))
}

/// RFC 2971 §4: `SP ("(" *(string SP nstring) ")" / nil)`. Pairs are
/// separated by SP as every client sends them (the RFC's `#` list
/// notation reads as commas but is not what is used).
fn id<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    lex.sp()?;
    if lex.peek() != Some(b'(') {
        return if lex.keyword().eq_ignore_ascii_case(b"NIL") {
            Ok(CommandKind::Id(None))
        } else {
            Err("expected a parameter list or NIL")
        };
    }
    let pairs = lex.paren_list(true, MAX_ID_PAIRS, |lex| {
        let field = lex.string()?;
        lex.sp()?;
        Ok((field, lex.nstring()?))
    })?;
    Ok(CommandKind::Id(Some(pairs)))
}

/// `setquota = "SETQUOTA" SP quota-root SP setquota-list` (RFC 9208 §7):
/// `"(" [setquota-resource *(SP setquota-resource)] ")"`, each resource
/// an atom and a number.
fn setquota<'a>(lex: &mut Lexer<'a>) -> PResult<CommandKind<'a>> {
    lex.sp()?;
    let root = lex.astring()?;
    lex.sp()?;
    lex.expect(b'(', "expected (")?;
    let mut count = 0;
    while !lex.eat(b')') {
        if count > 0 {
            lex.sp()?;
        }
        count += 1;
        if count > MAX_SMALL_LIST {
            return Err("too many quota resources");
        }
        lex.atom()?;
        lex.sp()?;
        lex.take_while(|b| b.is_ascii_digit())
            .first()
            .ok_or("expected a quota limit")?;
    }
    Ok(CommandKind::SetQuota(root))
}
