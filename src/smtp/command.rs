//! SMTP command lines (RFC 5321 §4.1) and their ESMTP parameters, parsed
//! as pure functions over the line's bytes.
//!
//! Paths follow RFC 5321 §4.1.2: a source route (`@a,@b:`) is accepted and
//! ignored as §4.1.1.3 and Appendix C ask; quoted local parts are kept as
//! written, so `"user@other"@home` stays one (unknown) local address and can
//! never be re-read as a relay request. `%` and `!` in a local part are
//! ordinary characters: no percent hack, no bang paths.

use crate::dsn::{self, notify};

/// One parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Ehlo(&'a str),
    Helo(&'a str),
    Mail(ReversePath, MailParams),
    Rcpt(Path, RcptParams),
    Data,
    /// RFC 3030 CHUNKING.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    /// RFC 4954: mechanism and optional initial response (base64, or `=`).
    Auth {
        mechanism: &'a str,
        initial: Option<&'a [u8]>,
    },
}

/// A mailbox address as given in a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The local part as written (quoted strings keep their quotes).
    pub local: String,
    /// The domain, lower-cased; an address literal keeps its brackets.
    pub domain: String,
}

impl Path {
    /// `local@domain` as written (for logs, headers, the queue); the
    /// domainless `<Postmaster>` (RFC 5321 §4.1.1.3) stays domainless.
    pub fn address(&self) -> String {
        match self.domain.is_empty() {
            true => "Postmaster".into(),
            false => format!("{}@{}", self.local, self.domain),
        }
    }

    /// The form the store looks up: lower-case, and a quoted local part
    /// whose content needs no quoting is unquoted (RFC 5321 §4.1.2 says
    /// `"abc"` and `abc` are the same mailbox).
    pub fn canonical(&self) -> String {
        format!("{}@{}", self.canonical_local(), self.domain)
    }

    /// The local part of [`Self::canonical`].
    pub fn canonical_local(&self) -> String {
        let local = match self
            .local
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
        {
            Some(inner) if !inner.is_empty() && is_dot_string(inner.as_bytes()) => inner,
            _ => &self.local,
        };
        local.to_lowercase()
    }

    /// Whether the domain is an address literal like `[192.0.2.1]`.
    pub fn is_literal(&self) -> bool {
        self.domain.starts_with('[')
    }
}

/// MAIL FROM's path: a mailbox or the null sender `<>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    Null,
    Mailbox(Path),
}

impl ReversePath {
    pub fn address(&self) -> String {
        match self {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(p) => p.address(),
        }
    }
}

/// RFC 6152 BODY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    #[default]
    SevenBit,
    EightBitMime,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// RFC 1870 SIZE.
    pub size: Option<u64>,
    pub body: Body,
    /// RFC 6531.
    pub smtputf8: bool,
    /// RFC 3461 RET and ENVID.
    pub ret: dsn::Ret,
    pub envid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptParams {
    /// RFC 3461 NOTIFY as `dsn::notify` bits; 0 when absent.
    pub notify: u8,
    /// RFC 3461 ORCPT, decoded from xtext.
    pub orcpt: Option<String>,
}

/// Why a line was not accepted, with the reply it earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// 500 5.5.2: not a command we know.
    Unknown,
    /// 501 with the enhanced code and text given.
    Syntax(&'static str, &'static str),
    /// 555 5.5.4: a MAIL/RCPT parameter we do not know or cannot accept.
    Parameter(&'static str),
}

impl ParseError {
    pub fn reply(&self) -> String {
        match self {
            ParseError::Unknown => "500 5.5.2 Error: command not recognized\r\n".into(),
            ParseError::Syntax(code, text) => format!("501 {code} {text}\r\n"),
            ParseError::Parameter(text) => format!("555 5.5.4 {text}\r\n"),
        }
    }
}

const BAD_SENDER: ParseError = ParseError::Syntax("5.1.7", "Bad sender address syntax");
const BAD_RECIPIENT: ParseError = ParseError::Syntax("5.1.3", "Bad recipient address syntax");

/// Parses one command line (with or without its CRLF).
pub fn parse(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line)
        .map_err(|_| ParseError::Syntax("5.5.2", "Syntax error: not UTF-8"))?;
    let (verb, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let verb = verb.to_ascii_uppercase();
    let no_args = |cmd: Command<'static>| -> Result<Command<'static>, ParseError> {
        if rest.trim().is_empty() {
            Ok(cmd)
        } else {
            Err(ParseError::Syntax(
                "5.5.4",
                "Syntax error: no arguments allowed",
            ))
        }
    };
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let name = rest.trim();
            if name.is_empty() || name.contains(' ') {
                return Err(ParseError::Syntax("5.5.4", "Syntax: EHLO hostname"));
            }
            Ok(if verb == "EHLO" {
                Command::Ehlo(name)
            } else {
                Command::Helo(name)
            })
        }
        "MAIL" => {
            let args = strip_prefix_ci(rest, "FROM:")
                .ok_or(ParseError::Syntax("5.5.4", "Syntax: MAIL FROM:<address>"))?;
            let (path, params) = split_path(args).ok_or(BAD_SENDER)?;
            let path = if path == "<>" {
                ReversePath::Null
            } else {
                ReversePath::Mailbox(parse_path(path).ok_or(BAD_SENDER)?)
            };
            Ok(Command::Mail(path, parse_mail_params(params)?))
        }
        "RCPT" => {
            let args = strip_prefix_ci(rest, "TO:")
                .ok_or(ParseError::Syntax("5.5.4", "Syntax: RCPT TO:<address>"))?;
            let (path, params) = split_path(args).ok_or(BAD_RECIPIENT)?;
            // RFC 5321 §4.1.1.3: <Postmaster> without a domain is valid.
            let path = match path.eq_ignore_ascii_case("<postmaster>") {
                true => Path {
                    local: "postmaster".into(),
                    domain: String::new(),
                },
                false => parse_path(path).ok_or(BAD_RECIPIENT)?,
            };
            Ok(Command::Rcpt(path, parse_rcpt_params(params)?))
        }
        "BDAT" => {
            let mut words = rest.split_ascii_whitespace();
            let size = words
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(ParseError::Syntax("5.5.4", "Syntax: BDAT size [LAST]"))?;
            let last = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(ParseError::Syntax("5.5.4", "Syntax: BDAT size [LAST]")),
            };
            if words.next().is_some() {
                return Err(ParseError::Syntax("5.5.4", "Syntax: BDAT size [LAST]"));
            }
            Ok(Command::Bdat { size, last })
        }
        "AUTH" => {
            let mut words = rest.split_ascii_whitespace();
            let mechanism = words.next().ok_or(ParseError::Syntax(
                "5.5.4",
                "Syntax: AUTH mechanism [initial-response]",
            ))?;
            let initial = words.next().map(str::as_bytes);
            if words.next().is_some() {
                return Err(ParseError::Syntax(
                    "5.5.4",
                    "Syntax: AUTH mechanism [initial-response]",
                ));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        "DATA" => no_args(Command::Data),
        "RSET" => no_args(Command::Rset),
        "QUIT" => no_args(Command::Quit),
        "STARTTLS" => no_args(Command::StartTls),
        // RFC 5321 §4.1.1.9: NOOP may carry a string, which is ignored.
        "NOOP" => Ok(Command::Noop),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        _ => Err(ParseError::Unknown),
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Splits `<path> params` (one space after the colon is tolerated, as
/// every MTA does for old clients).
fn split_path(args: &str) -> Option<(&str, &str)> {
    let args = args.strip_prefix(' ').unwrap_or(args);
    if !args.starts_with('<') {
        return None;
    }
    // The path ends at the first '>' outside a quoted string.
    let bytes = args.as_bytes();
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => {
                let rest = &args[i + 1..];
                if !rest.is_empty() && !rest.starts_with(' ') {
                    return None;
                }
                return Some((&args[..=i], rest.trim_start()));
            }
            _ => {}
        }
    }
    None
}

/// RFC 5322 atext, plus UTF-8 (RFC 6531 extends atext with UTF8-non-ascii).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// Dot-string: atoms separated by single dots.
fn is_dot_string(s: &[u8]) -> bool {
    !s.is_empty()
        && s.split(|&b| b == b'.')
            .all(|atom| !atom.is_empty() && atom.iter().all(|&b| is_atext(b)))
}

/// RFC 5321 Quoted-string: qtextSMTP or quoted-pairSMTP between quotes.
fn is_quoted_string(s: &[u8]) -> bool {
    let Some(inner) = s.strip_prefix(b"\"").and_then(|s| s.strip_suffix(b"\"")) else {
        return false;
    };
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => {
                if !inner.get(i + 1).is_some_and(|&c| (32..=126).contains(&c)) {
                    return false;
                }
                i += 2;
            }
            b'"' => return false,
            c if c == 32
                || c == 33
                || (35..=91).contains(&c)
                || (93..=126).contains(&c)
                || c >= 0x80 =>
            {
                i += 1
            }
            _ => return false,
        }
    }
    true
}

/// RFC 5321 Domain (letters, digits, hyphens; UTF-8 labels for SMTPUTF8).
fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `[IPv4]` or `[IPv6:...]` (RFC 5321 §4.1.3).
fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// `<[@route,...:]local@domain>` → the mailbox.
pub fn parse_path(path: &str) -> Option<Path> {
    let inner = path.strip_prefix('<')?.strip_suffix('>')?;
    // RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
    if inner.len() > 254 {
        return None;
    }
    let mailbox = match inner.starts_with('@') {
        true => {
            let (route, mailbox) = inner.split_once(':')?;
            let hops_ok = route
                .split(',')
                .all(|hop| hop.strip_prefix('@').is_some_and(is_domain));
            if !hops_ok {
                return None;
            }
            mailbox
        }
        false => inner,
    };
    let at = mailbox.rfind('@')?;
    let (local, domain) = (&mailbox[..at], &mailbox[at + 1..]);
    // RFC 5321 §4.5.3.1.1: 64 octets of local part.
    if local.len() > 64 || !(is_dot_string(local.as_bytes()) || is_quoted_string(local.as_bytes()))
    {
        return None;
    }
    // The domain is checked in the lower-cased form it is kept in, which
    // a later parse of the address sees: `İ` lower-cases to `i` and a
    // combining dot, which is no domain character.
    let domain = domain.to_lowercase();
    if !(is_domain(&domain) || is_address_literal(&domain)) {
        return None;
    }
    Some(Path {
        local: local.to_string(),
        domain,
    })
}

/// Splits `KEY[=VALUE]` parameters; keys are case-insensitive.
fn params(text: &str) -> impl Iterator<Item = (String, Option<&str>)> {
    text.split_ascii_whitespace()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
            None => (p.to_ascii_uppercase(), None),
        })
}

fn parse_mail_params(text: &str) -> Result<MailParams, ParseError> {
    let mut p = MailParams::default();
    let mut seen = Vec::new();
    for (key, value) in params(text) {
        if seen.contains(&key) {
            return Err(ParseError::Syntax("5.5.4", "Duplicate MAIL parameter"));
        }
        match (key.as_str(), value) {
            ("SIZE", Some(v)) => {
                p.size = Some(
                    v.parse()
                        .map_err(|_| ParseError::Parameter("Bad SIZE value"))?,
                )
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => p.body = Body::SevenBit,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => p.body = Body::EightBitMime,
            ("BODY", _) => return Err(ParseError::Parameter("Unsupported BODY type")),
            ("SMTPUTF8", None) => p.smtputf8 = true,
            ("RET", v) => {
                p.ret = v
                    .and_then(dsn::Ret::parse)
                    .ok_or(ParseError::Parameter("Bad RET value"))?
            }
            ("ENVID", Some(v)) if v.len() <= 100 => {
                p.envid =
                    Some(dsn::decode_xtext(v).ok_or(ParseError::Parameter("Bad ENVID value"))?)
            }
            // RFC 4954 §5: AUTH=<mailbox> is for trusted relays; we accept
            // and ignore it, as the session knows who authenticated.
            ("AUTH", Some(_)) => {}
            _ => return Err(ParseError::Parameter("Unsupported MAIL parameter")),
        }
        seen.push(key);
    }
    Ok(p)
}

fn parse_rcpt_params(text: &str) -> Result<RcptParams, ParseError> {
    let mut p = RcptParams::default();
    let mut seen = Vec::new();
    for (key, value) in params(text) {
        if seen.contains(&key) {
            return Err(ParseError::Syntax("5.5.4", "Duplicate RCPT parameter"));
        }
        match (key.as_str(), value) {
            ("NOTIFY", Some(v)) => {
                p.notify = notify::parse(v).ok_or(ParseError::Parameter("Bad NOTIFY value"))?
            }
            ("ORCPT", Some(v)) => {
                // addr-type ";" xtext, e.g. rfc822;user+40example.org
                let orcpt = dsn::decode_orcpt(v).ok_or(ParseError::Parameter("Bad ORCPT value"))?;
                p.orcpt = Some(orcpt);
            }
            _ => return Err(ParseError::Parameter("Unsupported RCPT parameter")),
        }
        seen.push(key);
    }
    Ok(p)
}

#[cfg(test)]
mod tests;
