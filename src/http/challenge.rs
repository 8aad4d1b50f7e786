//! ACME HTTP-01 challenge answers (RFC 8555 §8.3), process-wide: the ACME
//! client [`set`]s a token's key authorization before it tells the CA to
//! validate, the `--http` listener serves it at
//! `/.well-known/acme-challenge/TOKEN`, and the client [`remove`]s it once
//! the challenge is decided.
//!
//! Bounded: at most [`MAX_ENTRIES`] tokens (an order has one per name), and
//! a token must be base64url as RFC 8555 §8.3 defines it, so a request
//! path can never name anything else. A thread-safe map: the ACME client
//! may run on another thread than the listener.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Most challenges waiting at once.
pub const MAX_ENTRIES: usize = 256;
/// Longest token accepted (Let's Encrypt's are 43 characters).
pub const MAX_TOKEN: usize = 128;
/// Longest key authorization: token "." base64url(SHA-256 thumbprint).
pub const MAX_KEY_AUTHORIZATION: usize = MAX_TOKEN + 1 + 64;

static TOKENS: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

fn tokens() -> MutexGuard<'static, Option<HashMap<String, String>>> {
    // A panic while holding the lock leaves a map that is still whole.
    TOKENS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `token` is a base64url string (RFC 8555 §8.3: the token's
/// characters), not empty and not too long.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Serves `key_authorization` for `token` until [`remove`]d. Refused when
/// the token is malformed, the answer too long, or [`MAX_ENTRIES`] other
/// tokens are waiting.
pub fn set(token: &str, key_authorization: &str) -> Result<(), String> {
    if !valid_token(token) {
        return Err(format!("ACME token {token:?} is not base64url"));
    }
    if key_authorization.len() > MAX_KEY_AUTHORIZATION
        || !key_authorization.starts_with(token)
        || key_authorization.bytes().any(|b| !b.is_ascii_graphic())
    {
        return Err("ACME key authorization is not TOKEN.THUMBPRINT".into());
    }
    let mut guard = tokens();
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_ENTRIES && !map.contains_key(token) {
        return Err(format!("{MAX_ENTRIES} ACME challenges already waiting"));
    }
    map.insert(token.to_string(), key_authorization.to_string());
    Ok(())
}

/// Stops serving `token`.
pub fn remove(token: &str) {
    if let Some(map) = tokens().as_mut() {
        map.remove(token);
    }
}

/// The key authorization for `token`, if one is set.
pub fn get(token: &str) -> Option<String> {
    tokens().as_ref()?.get(token).cloned()
}

/// The answer to `GET /.well-known/acme-challenge/TOKEN`: the key
/// authorization as `application/octet-stream` (RFC 8555 §8.3: the body
/// is exactly the key authorization; the content type is the one the RFC's
/// example uses), else 404.
pub fn answer(path: &str) -> Option<super::Response> {
    let token = path.strip_prefix("/.well-known/acme-challenge/")?;
    Some(match get(token).filter(|_| valid_token(token)) {
        Some(key_authorization) => {
            super::Response::new(200, "application/octet-stream", key_authorization)
        }
        None => super::Response::not_found(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_and_bounds() {
        set("tok-A_1", "tok-A_1.thumb").unwrap();
        assert_eq!(get("tok-A_1").as_deref(), Some("tok-A_1.thumb"));
        let served = answer("/.well-known/acme-challenge/tok-A_1").unwrap();
        assert_eq!(
            (served.status, served.body),
            (200, b"tok-A_1.thumb".to_vec())
        );
        remove("tok-A_1");
        assert_eq!(get("tok-A_1"), None);
        assert_eq!(
            answer("/.well-known/acme-challenge/tok-A_1")
                .unwrap()
                .status,
            404
        );
        assert!(answer("/other").is_none());
        // Only base64url tokens; the answer must be the token's.
        assert!(set("../x", "../x.y").is_err());
        assert!(set("a", "b.c").is_err());
        assert!(set("a", "a.b\r\nX: y").is_err());
        // At most MAX_ENTRIES waiting (this test owns the "cap" prefix).
        let mut added = Vec::new();
        for i in 0..=MAX_ENTRIES {
            let token = format!("cap{i}");
            match set(&token, &format!("{token}.k")) {
                Ok(()) => added.push(token),
                Err(e) => {
                    assert!(e.contains("already waiting"), "{e}");
                    break;
                }
            }
        }
        assert!(added.len() <= MAX_ENTRIES);
        assert!(
            set(&added[0], &format!("{}.k2", added[0])).is_ok(),
            "replacing is fine"
        );
        for token in &added {
            remove(token);
        }
    }
}
