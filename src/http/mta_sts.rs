//! The MTA-STS policy file (RFC 8461 §3.2), served only over HTTPS at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` for each local
//! domain: `key: value` lines ending in CRLF, as text/plain.

use crate::config::MtaSts;

pub const PATH: &str = "/.well-known/mta-sts.txt";

/// The policy body.
pub fn policy(settings: &MtaSts) -> String {
    let mut text = format!("version: STSv1\r\nmode: {}\r\n", settings.mode.as_str());
    for mx in &settings.mx {
        text.push_str(&format!("mx: {mx}\r\n"));
    }
    text.push_str(&format!("max_age: {}\r\n", settings.max_age));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MtaStsMode;

    #[test]
    fn rfc8461_3_2_policy_lines() {
        let p = policy(&MtaSts {
            mode: MtaStsMode::Enforce,
            mx: vec!["mail.example.org".into(), "*.backup.example.org".into()],
            max_age: 604_800,
        });
        assert_eq!(
            p,
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmx: *.backup.example.org\r\nmax_age: 604800\r\n"
        );
    }
}
