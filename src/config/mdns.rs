//! `--mdns` and `--mdns-name`: whether the server answers for its name
//! on the local link by multicast DNS (RFC 6762) and announces its
//! services by DNS-SD (RFC 6763), and under which name. The responder
//! itself is `crate::mdns`.

use super::{ConfigError, ServeArgs, parse_bool, pick};

/// `Some(label)`: answer `label.local`; `None`: mDNS off. On by default
/// with the first label of the hostname, as a home server is found by its
/// short name (`mail.local`) before any DNS zone exists.
pub(super) fn resolve_mdns(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    hostname: &str,
) -> Result<Option<String>, ConfigError> {
    if let Some(raw) = pick(&args.mdns, "mdns", env) {
        match parse_bool(&raw.value) {
            Some(true) => {}
            Some(false) => return Ok(None),
            None => return Err(raw.error("must be on or off")),
        }
    }
    match pick(&args.mdns_name, "mdns-name", env) {
        Some(raw) => check_label(&raw.value).map(Some).map_err(|e| raw.error(e)),
        // The hostname's first label passes the same check as a given
        // name (a hostname may hold `_`, capitals or 64 bytes); one that
        // fails, and a box never given a name (`localhost`, whose
        // `.local` would be found by no one), is announced as `smolmail`.
        None => match hostname.split('.').next().map(check_label) {
            Some(Ok(label)) if label != "localhost" => Ok(Some(label)),
            _ => Ok(Some("smolmail".to_string())),
        },
    }
}

/// One host-name label (RFC 952/1123: letters, digits, inner hyphens, at
/// most 63 bytes), lower-cased; `.local` is added by the responder. Room
/// is left for the `-N` a name conflict adds (RFC 6762 §9).
pub fn check_label(text: &str) -> Result<String, String> {
    let label = text.trim().trim_end_matches(".local").to_ascii_lowercase();
    let ok = (1..=59).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if ok {
        Ok(label)
    } else {
        Err("must be one host-name label: letters, digits and inner hyphens, at most 59".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: ServeArgs, env: &[(&str, &str)]) -> Result<Option<String>, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        resolve_mdns(&args, &lookup, "mail.example.org")
    }

    #[test]
    fn on_by_default_with_the_hostnames_first_label() {
        assert_eq!(resolve(ServeArgs::default(), &[]), Ok(Some("mail".into())));
        let named = ServeArgs {
            mdns_name: Some("Post-Box".into()),
            ..Default::default()
        };
        assert_eq!(resolve(named, &[]), Ok(Some("post-box".into())));
        let env = [("SMOLMAIL_MDNS_NAME", "home.local")];
        assert_eq!(resolve(ServeArgs::default(), &env), Ok(Some("home".into())));
        let unnamed = resolve_mdns(&ServeArgs::default(), &|_| None, "localhost");
        assert_eq!(unnamed, Ok(Some("smolmail".into())));
    }

    #[test]
    fn a_hostname_that_is_no_valid_label_gives_the_default_name() {
        let from_host = |h: &str| resolve_mdns(&ServeArgs::default(), &|_| None, h);
        assert_eq!(from_host("Post-Box.lan"), Ok(Some("post-box".into())));
        for bad in ["my_box.lan", &"x".repeat(64), "-box", ".lan"] {
            assert_eq!(from_host(bad), Ok(Some("smolmail".into())), "{bad}");
        }
    }

    #[test]
    fn off_by_flag_or_variable_and_bad_values_named() {
        assert_eq!(
            resolve(ServeArgs::default(), &[("SMOLMAIL_MDNS", "off")]),
            Ok(None)
        );
        let on = ServeArgs {
            mdns: Some("on".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(on, &[("SMOLMAIL_MDNS", "off")]),
            Ok(Some("mail".into()))
        );
        let bad = ServeArgs {
            mdns: Some("maybe".into()),
            ..Default::default()
        };
        assert!(
            resolve(bad, &[])
                .unwrap_err()
                .0
                .contains("--mdns=\"maybe\"")
        );
        for name in ["two.labels", "-x", "a_b", ""] {
            let args = ServeArgs {
                mdns_name: Some(name.into()),
                ..Default::default()
            };
            let err = resolve(args, &[]).unwrap_err().0;
            assert!(err.contains("--mdns-name"), "{name}: {err}");
        }
    }
}
