//! SASL mechanisms the servers offer: PLAIN (RFC 4616) and LOGIN
//! (draft-murchison-sasl-login; what Outlook and many devices still use).
//! Pure functions over the client's base64 lines.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Credentials a client presented.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Why a SASL exchange cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslError {
    /// Not base64, or not the mechanism's layout.
    Malformed,
    /// The client sent `*` (RFC 4954 §4).
    Cancelled,
    /// An authorization identity other than the user (proxy login) is not
    /// offered.
    AuthzidMismatch,
}

/// The server's LOGIN prompts, already base64: "Username:" and "Password:".
pub const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// Decodes one base64 client line (`=` alone is an empty response, RFC 4954 §4).
pub fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    let line = line.trim_ascii();
    match line {
        b"*" => Err(SaslError::Cancelled),
        b"=" => Ok(Vec::new()),
        _ => STANDARD.decode(line).map_err(|_| SaslError::Malformed),
    }
}

/// PLAIN: `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
pub fn plain(response: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = response.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    let (authzid, username, password) = (text(authzid)?, text(authcid)?, text(passwd)?);
    if username.is_empty() {
        return Err(SaslError::Malformed);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&username) {
        return Err(SaslError::AuthzidMismatch);
    }
    Ok(Credentials { username, password })
}

/// One decoded LOGIN answer as text.
pub fn login_field(response: &[u8]) -> Result<String, SaslError> {
    String::from_utf8(response.to_vec()).map_err(|_| SaslError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn plain_forms() {
        let c = plain(&decode_response(b64(b"\0alice@home.arpa\0pw").as_bytes()).unwrap()).unwrap();
        assert_eq!(
            c,
            Credentials {
                username: "alice@home.arpa".into(),
                password: "pw".into()
            }
        );
        assert!(plain(b"alice@home.arpa\0alice@home.arpa\0pw").is_ok());
        assert_eq!(plain(b"bob\0alice\0pw"), Err(SaslError::AuthzidMismatch));
        assert_eq!(plain(b"\0alice"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0\0pw"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0a\0b\0c"), Err(SaslError::Malformed));
    }

    #[test]
    fn responses() {
        assert_eq!(decode_response(b"*"), Err(SaslError::Cancelled));
        assert_eq!(decode_response(b"="), Ok(vec![]));
        assert_eq!(decode_response(b"!!!"), Err(SaslError::Malformed));
        assert_eq!(
            decode_response(LOGIN_USERNAME_PROMPT.as_bytes()).unwrap(),
            b"Username:"
        );
        assert_eq!(
            decode_response(LOGIN_PASSWORD_PROMPT.as_bytes()).unwrap(),
            b"Password:"
        );
    }
}
