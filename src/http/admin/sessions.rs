//! Who is logged in to the admin pages: a server-side table of sessions,
//! each named by a random 128-bit token in a cookie (`Secure; HttpOnly;
//! SameSite=Strict; Path=/admin`, RFC 6265 §4.1 and RFC 6265bis §4.1.2.7),
//! with its own CSRF token for every form, an idle timeout and an absolute
//! one. The table is bounded: one principal (the operator, or one mail
//! account) keeps at most [`MAX_PER_PRINCIPAL`] sessions, a new one
//! dropping its own oldest, so logging in over and over costs nothing and
//! pushes nobody else out; when the whole table ([`MAX_SESSIONS`]) is full
//! the operator's login drops the least recently used mail user's session,
//! and a mail user's login is refused: an operator is never logged out to
//! make room for a user.
//!
//! Each session also keeps a [`Fingerprint`] of the password hash it was
//! opened with; every request compares it with the store's current hash
//! (`super::login::still_valid`), so a password changed or an account
//! deleted anywhere (`smolmail admin passwd`, `user passwd`, `user del`,
//! another session) ends the sessions opened before.
//!
//! Lives on the executor thread (the `Context`), so a `RefCell` suffices.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

/// Sessions kept at once.
pub const MAX_SESSIONS: usize = 64;
/// Sessions kept at once for one principal.
pub const MAX_PER_PRINCIPAL: usize = 4;
/// A session unused this long is gone.
pub const IDLE: Duration = Duration::from_secs(15 * 60);
/// A session this old is gone however busy.
pub const ABSOLUTE: Duration = Duration::from_secs(8 * 3600);
/// The cookie's name; the `__Secure-` prefix makes browsers refuse it
/// unless set `Secure` from an HTTPS page (RFC 6265bis §4.1.3.1), so a
/// plain-HTTP answer on the network cannot plant one.
pub const COOKIE: &str = "__Secure-smolmail_admin";

/// What a session may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The operator: every page.
    Admin,
    /// A mail user: their own password and quota, nothing else.
    User(String),
}

impl Role {
    /// For the log.
    pub fn name(&self) -> &str {
        match self {
            Role::Admin => "admin",
            Role::User(address) => address,
        }
    }
}

/// 128 bits of SHA-256 over a password hash: enough to notice that it
/// changed, without keeping copies of hashes in the table.
pub type Fingerprint = [u8; 16];

pub fn fingerprint(password_hash: &str) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, password_hash.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

struct Session {
    role: Role,
    /// Of the hash the session was opened with; `None` while an imported
    /// hash is being upgraded to argon2id after the login (see
    /// `super::login::still_valid`).
    fingerprint: Option<Fingerprint>,
    csrf: String,
    created: Instant,
    seen: Instant,
    /// What the last change said, shown once on the next page.
    flash: Option<String>,
}

/// One logged-in session as a request sees it.
#[derive(Debug, Clone)]
pub struct Current {
    pub token: String,
    pub role: Role,
    pub fingerprint: Option<Fingerprint>,
    pub csrf: String,
    pub flash: Option<String>,
}

/// The table, plus the backup download's one-at-a-time flag.
#[derive(Default)]
pub struct Sessions {
    table: RefCell<HashMap<String, Session>>,
    /// A backup copy is being made or sent (at most one at a time: each
    /// is a whole copy of the store on the data partition); cleared on the
    /// blocking pool once the copy is deleted.
    pub backup_busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Why no session was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// The system's random source failed.
    NoRandom,
    /// The table is full of other principals' sessions (a mail user's
    /// login never pushes the operator out).
    Full,
}

/// 128 random bits as 32 hex digits.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// A new session for `role`: its token, or why there is none.
    pub fn create(
        &self,
        role: Role,
        fingerprint: Option<Fingerprint>,
    ) -> Result<String, NoSession> {
        self.create_at(role, fingerprint, Instant::now())
    }

    fn create_at(
        &self,
        role: Role,
        fingerprint: Option<Fingerprint>,
        now: Instant,
    ) -> Result<String, NoSession> {
        let token = random_token().ok_or(NoSession::NoRandom)?;
        let csrf = random_token().ok_or(NoSession::NoRandom)?;
        let mut table = self.table.borrow_mut();
        table.retain(|_, s| live(s, now));
        let least_used = |table: &HashMap<String, Session>, pick: &dyn Fn(&Role) -> bool| {
            table
                .iter()
                .filter(|(_, s)| pick(&s.role))
                .min_by_key(|(_, s)| s.seen)
                .map(|(t, _)| t.clone())
        };
        // The same principal's own oldest first.
        if table.values().filter(|s| s.role == role).count() >= MAX_PER_PRINCIPAL
            && let Some(oldest) = least_used(&table, &|r| *r == role)
        {
            table.remove(&oldest);
        }
        if table.len() >= MAX_SESSIONS {
            if role != Role::Admin {
                return Err(NoSession::Full);
            }
            // MAX_PER_PRINCIPAL < MAX_SESSIONS: there is a user's to drop.
            match least_used(&table, &|r| *r != Role::Admin) {
                Some(oldest) => drop(table.remove(&oldest)),
                None => return Err(NoSession::Full),
            }
        }
        table.insert(
            token.clone(),
            Session {
                role,
                fingerprint,
                csrf,
                created: now,
                seen: now,
                flash: None,
            },
        );
        Ok(token)
    }

    /// The live session named by `token` (marked used now), its flash
    /// line taken.
    pub fn get(&self, token: &str) -> Option<Current> {
        self.get_at(token, Instant::now())
    }

    fn get_at(&self, token: &str, now: Instant) -> Option<Current> {
        let mut table = self.table.borrow_mut();
        let session = table.get_mut(token)?;
        if !live(session, now) {
            table.remove(token);
            return None;
        }
        session.seen = now;
        Some(Current {
            token: token.to_string(),
            role: session.role.clone(),
            fingerprint: session.fingerprint,
            csrf: session.csrf.clone(),
            flash: session.flash.take(),
        })
    }

    /// Keeps `text` to show on the session's next page.
    pub fn flash(&self, token: &str, text: String) {
        if let Some(s) = self.table.borrow_mut().get_mut(token) {
            s.flash = Some(text);
        }
    }

    /// The session now stands for the password hash fingerprinted `fp`
    /// (its own password change, or an imported hash upgraded).
    pub fn set_fingerprint(&self, token: &str, fp: Fingerprint) {
        if let Some(s) = self.table.borrow_mut().get_mut(token) {
            s.fingerprint = Some(fp);
        }
    }

    pub fn remove(&self, token: &str) {
        self.table.borrow_mut().remove(token);
    }

    /// Ends every session of `role` (after its password changed).
    pub fn remove_role(&self, role: &Role, except: &str) {
        self.table
            .borrow_mut()
            .retain(|t, s| s.role != *role || t == except);
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
}

/// The session token in a `Cookie` field (RFC 6265 §5.4: `a=b; c=d`).
pub fn token_in(cookie: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(cookie).ok()?;
    text.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(value)
    })
}

/// The `Set-Cookie` value for a new session.
pub fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Secure; HttpOnly; SameSite=Strict; Path=/admin; Max-Age={}",
        ABSOLUTE.as_secs()
    )
}

/// The `Set-Cookie` value that ends the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/admin; Max-Age=0")
}

/// Constant-time comparison of a submitted CSRF token with the session's.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle() {
        let sessions = Sessions::new();
        let t0 = Instant::now();
        let token = sessions.create_at(Role::Admin, None, t0).unwrap();
        assert_eq!(token.len(), 32);
        let s = sessions
            .get_at(&token, t0 + Duration::from_secs(60))
            .unwrap();
        assert_eq!(s.role, Role::Admin);
        assert!(
            sessions
                .get_at(&token, t0 + Duration::from_secs(60) + IDLE)
                .is_none()
        );
    }

    #[test]
    fn a_user_logging_in_again_and_again_never_evicts_the_operator() {
        let sessions = Sessions::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let admin = sessions.create_at(Role::Admin, None, t0).unwrap();
        let ann = Role::User("ann@b".into());
        let mut ann_tokens = Vec::new();
        for i in 0..MAX_SESSIONS as u64 * 2 {
            ann_tokens.push(sessions.create_at(ann.clone(), None, at(1 + i)).unwrap());
        }
        // Ann keeps her newest few; the operator is still logged in.
        let n = ann_tokens.len();
        let now = at(1000);
        assert!(
            ann_tokens[..n - MAX_PER_PRINCIPAL]
                .iter()
                .all(|t| sessions.get_at(t, now).is_none())
        );
        assert!(
            ann_tokens[n - MAX_PER_PRINCIPAL..]
                .iter()
                .all(|t| sessions.get_at(t, now).is_some())
        );
        assert!(sessions.get_at(&admin, now).is_some());
        // Many distinct users fill the table: the next user is refused,
        // the operator still gets in (a user's session makes room).
        for i in 0..MAX_SESSIONS {
            let _ = sessions.create_at(Role::User(format!("u{i}@b")), None, at(1001));
        }
        assert!(sessions.table.borrow().len() <= MAX_SESSIONS);
        assert!(sessions.get_at(&admin, at(1002)).is_some());
        assert_eq!(
            sessions.create_at(Role::User("late@b".into()), None, at(1003)),
            Err(NoSession::Full)
        );
        let admin2 = sessions.create_at(Role::Admin, None, at(1004)).unwrap();
        assert!(sessions.get_at(&admin, at(1005)).is_some());
        assert!(sessions.get_at(&admin2, at(1005)).is_some());
        assert!(sessions.table.borrow().len() <= MAX_SESSIONS);
    }

    #[test]
    fn absolute_timeout_holds_for_a_busy_session() {
        let sessions = Sessions::new();
        let t0 = Instant::now();
        let token = sessions.create_at(Role::Admin, None, t0).unwrap();
        let mut t = t0;
        while t < t0 + ABSOLUTE - Duration::from_secs(600) {
            t += Duration::from_secs(600);
            assert!(sessions.get_at(&token, t).is_some());
        }
        assert!(sessions.get_at(&token, t0 + ABSOLUTE).is_none());
    }

    #[test]
    fn cookie_token_and_csrf_comparison() {
        let t = "0123456789abcdef0123456789abcdef";
        let header = format!("x=1; {COOKIE}={t}; y=2");
        assert_eq!(token_in(header.as_bytes()), Some(t));
        assert_eq!(token_in(format!("{COOKIE}=short").as_bytes()), None);
        assert!(same_token(t, t) && !same_token(t, "x") && !same_token(t, &t.replace('0', "1")));
        assert!(set_cookie(t).contains("Secure; HttpOnly; SameSite=Strict; Path=/admin"));
    }
}
