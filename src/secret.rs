//! [`Secret`]: a password held in memory, for every module that holds one
//! (the relay and fetch-account passwords of the configuration and the
//! store, a password being checked by `auth`).
//!
//! It lives outside `config`, `auth` and `store` so that each can use it
//! without depending on the others.

use std::fmt;

/// A password: kept out of `Debug` output (and so out of logs), and
/// overwritten when dropped so that it does not linger in freed heap
/// memory. The wiping is best effort: copies made before the password
/// reached us (line buffers, base64 decoding) are out of our hands.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keep the otherwise dead stores from being optimised away.
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_hides_the_password() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(
            format!("{:?}", Some(("u", s.clone()))),
            "Some((\"u\", Secret(..)))"
        );
        assert_eq!(s, Secret("hunter2".into()));
    }
}
