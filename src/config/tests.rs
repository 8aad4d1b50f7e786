//! Tests of flag and environment resolution: each bad value gives one
//! line that names its flag or variable.

use super::*;
use std::collections::HashMap;
use std::time::Duration;

fn resolve(args: ServeArgs, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::resolve(&args, &|k| env.get(k).cloned())
}

/// Arguments, environment, and the text the error must contain.
type Case = (ServeArgs, Vec<(&'static str, &'static str)>, &'static str);

#[test]
fn defaults() {
    let c = resolve(ServeArgs::default(), &[("HOME", "/home/u")]).unwrap();
    // Dual-stack by default: IPv6 and IPv4 on one socket (issue #21).
    assert_eq!(c.listen.smtp, Some("[::]:25".parse().unwrap()));
    assert_eq!(c.listen.pop3s, Some("[::]:995".parse().unwrap()));
    assert_eq!(c.max_message_size, 25 << 20);
    assert!(c.is_trusted("127.0.0.1".parse().unwrap()));
    assert!(c.is_trusted("::1".parse().unwrap()));
    assert!(c.is_trusted("::ffff:127.0.0.1".parse().unwrap()));
    assert!(!c.is_trusted("2001:db8::1".parse().unwrap()));
    assert!(!c.is_trusted("192.168.1.5".parse().unwrap()));
    assert_eq!(c.tls_files, None);
}

#[test]
fn flag_beats_env_and_env_beats_default() {
    let args = ServeArgs {
        smtp: Some("127.0.0.1:2525".into()),
        ..Default::default()
    };
    let c = resolve(
        args,
        &[("SMOLMAIL_SMTP", "127.0.0.1:9"), ("SMOLMAIL_IMAP", "off")],
    )
    .unwrap();
    assert_eq!(c.listen.smtp, Some("127.0.0.1:2525".parse().unwrap()));
    assert_eq!(c.listen.imap, None);
}

#[test]
fn port_offset_moves_defaults_only() {
    let args = ServeArgs {
        port_offset: Some("10000".into()),
        pop3: Some(":1110".into()),
        ..Default::default()
    };
    let c = resolve(args, &[]).unwrap();
    assert_eq!(c.listen.smtp, Some("[::]:10025".parse().unwrap()));
    assert_eq!(c.listen.submission.unwrap().port(), 10587);
    assert_eq!(c.listen.pop3.unwrap().port(), 1110);
}

#[test]
fn listen_forms() {
    assert_eq!(parse_listen("off").unwrap(), None);
    assert_eq!(
        parse_listen("2525").unwrap(),
        Some("[::]:2525".parse().unwrap())
    );
    assert_eq!(
        parse_listen("[::1]:25").unwrap(),
        Some("[::1]:25".parse().unwrap())
    );
    assert_eq!(
        parse_listen("localhost:25").unwrap(),
        Some("127.0.0.1:25".parse().unwrap())
    );
}

/// Each bad value gives one message that names the flag or variable.
#[test]
fn bad_values_name_their_origin() {
    let cases: Vec<Case> = vec![
        (
            ServeArgs {
                smtp: Some("nonsense".into()),
                ..Default::default()
            },
            vec![],
            "--smtp=\"nonsense\": not an address",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_IMAPS", "1.2.3.4:99999")],
            "SMOLMAIL_IMAPS=\"1.2.3.4:99999\": not an address",
        ),
        (
            ServeArgs {
                pop3: Some("99999".into()),
                ..Default::default()
            },
            vec![],
            "--pop3=\"99999\": port 99999 is not 0 to 65535",
        ),
        (
            ServeArgs {
                max_message_size: Some("lots".into()),
                ..Default::default()
            },
            vec![],
            "--max-message-size=\"lots\": must be a size",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_MAX_MESSAGE_SIZE", "10")],
            "SMOLMAIL_MAX_MESSAGE_SIZE=\"10\": must be a size",
        ),
        (
            ServeArgs {
                max_connections: Some("0".into()),
                ..Default::default()
            },
            vec![],
            "--max-connections=\"0\": must be a whole number",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_MAX_CONNECTIONS_PER_IP", "-3")],
            "SMOLMAIL_MAX_CONNECTIONS_PER_IP=\"-3\"",
        ),
        (
            ServeArgs {
                trusted_network: vec!["10.0.0.0/33".into()],
                ..Default::default()
            },
            vec![],
            "--trusted-network=\"10.0.0.0/33\": prefix length",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_TRUSTED_NETWORK", "10.0.0.0/8, banana")],
            "SMOLMAIL_TRUSTED_NETWORK=\"banana\": \"banana\" is not an IP address",
        ),
        (
            ServeArgs {
                tls_cert: Some("/x.pem".into()),
                ..Default::default()
            },
            vec![],
            "--tls-cert=\"/x.pem\": needs --tls-key",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_TLS_KEY", "/k.pem")],
            "SMOLMAIL_TLS_KEY=\"/k.pem\": needs --tls-cert",
        ),
        (
            ServeArgs {
                hostname: Some("bad host".into()),
                ..Default::default()
            },
            vec![],
            "--hostname=\"bad host\"",
        ),
        (
            ServeArgs {
                map_size: Some("12".into()),
                ..Default::default()
            },
            vec![],
            "--map-size=\"12\": must be a size",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_SMTP_AUTH", "maybe")],
            "SMOLMAIL_SMTP_AUTH=\"maybe\": must be yes or no",
        ),
        (
            ServeArgs {
                max_recipients: Some("0".into()),
                ..Default::default()
            },
            vec![],
            "--max-recipients=\"0\"",
        ),
        (
            ServeArgs {
                log_level: Some("loud".into()),
                ..Default::default()
            },
            vec![],
            "--log-level=\"loud\": must be error",
        ),
        (
            ServeArgs {
                port_offset: Some("70000".into()),
                ..Default::default()
            },
            vec![],
            "--port-offset=\"70000\"",
        ),
        (
            ServeArgs {
                port_offset: Some("65000".into()),
                ..Default::default()
            },
            vec![],
            "pushes the",
        ),
        (
            ServeArgs {
                data: Some(" ".into()),
                ..Default::default()
            },
            vec![],
            "--data=\" \": must name a directory",
        ),
        (
            ServeArgs {
                imap: Some("127.0.0.1:2000".into()),
                pop3: Some("127.0.0.1:2000".into()),
                ..Default::default()
            },
            vec![],
            "--imap and --pop3 both listen on 127.0.0.1:2000",
        ),
    ];
    for (args, env, expected) in cases {
        let err = resolve(args, &env).expect_err(expected);
        assert!(
            err.0.contains(expected),
            "{:?} does not contain {expected:?}",
            err.0
        );
        assert!(!err.0.contains('\n'), "one line: {:?}", err.0);
    }
}

#[test]
fn cidr_matching() {
    // IPv6 networks, and IPv4 ones written IPv4-mapped, match canonically.
    let lan6 = Cidr::parse("2001:db8:1::/48").unwrap();
    assert!(lan6.contains("2001:db8:1:2::7".parse().unwrap()));
    assert!(!lan6.contains("2001:db8:2::7".parse().unwrap()));
    let mapped = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
    assert_eq!(mapped.to_string(), "10.0.0.0/8");
    assert!(mapped.contains("10.9.8.7".parse().unwrap()));
    assert!(mapped.contains("::ffff:10.9.8.7".parse().unwrap()));
    let net = Cidr::parse("192.168.1.0/24").unwrap();
    assert!(net.contains("192.168.1.77".parse().unwrap()));
    assert!(net.contains("::ffff:192.168.1.77".parse().unwrap()));
    assert!(!net.contains("192.168.2.1".parse().unwrap()));
    let v6 = Cidr::parse("fd00::/8").unwrap();
    assert!(v6.contains("fd12::1".parse().unwrap()));
    assert!(!v6.contains("fe80::1".parse().unwrap()));
    assert!(
        Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap())
    );
    assert!(
        Cidr::parse("10.1.2.3/13")
            .unwrap()
            .contains("10.7.0.0".parse().unwrap())
    );
    assert!(
        !Cidr::parse("10.1.2.3/13")
            .unwrap()
            .contains("10.8.0.0".parse().unwrap())
    );
}

#[test]
fn sizes() {
    assert_eq!(parse_size("25M"), Some(25 << 20));
    assert_eq!(parse_size("1024k"), Some(1 << 20));
    assert_eq!(parse_size("12345"), Some(12345));
    assert_eq!(parse_size("M"), None);
    assert_eq!(parse_size("99999999999999G"), None);
}

#[test]
fn delivery_settings() {
    let c = resolve(ServeArgs::default(), &[]).unwrap();
    assert_eq!(c.delivery, DeliveryConfig::default());
    let dir = std::env::temp_dir().join(format!("smolmail-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pw = dir.join("pw");
    std::fs::write(&pw, "s3cret pass\nignored\n").unwrap();
    let args = ServeArgs {
        relay_host: Some("[smtp.example.net]:465".into()),
        relay_user: Some("me@example.net".into()),
        relay_password_file: Some(pw.display().to_string()),
        route: vec!["lan.example=10.0.0.5:25".into(), "friend.example=mx".into()],
        dns_server: vec!["127.0.0.1:5353".into(), "::1".into()],
        retry_base: Some("1s".into()),
        ..Default::default()
    };
    let env = [
        ("SMOLMAIL_QUEUE_LIFETIME", "2d"),
        ("SMOLMAIL_DELAY_WARNING", "off"),
        ("SMOLMAIL_MAX_OUTBOUND", "3"),
        ("SMOLMAIL_OUTBOUND_IP", "4"),
    ];
    let d = resolve(args, &env).unwrap().delivery;
    let relay = d.relay.unwrap();
    assert_eq!((relay.host.as_str(), relay.port), ("smtp.example.net", 465));
    assert!(relay.implicit_tls, "port 465 means implicit TLS");
    let (user, password) = relay.auth.unwrap();
    assert_eq!(
        (user.as_str(), password.0.as_str()),
        ("me@example.net", "s3cret pass")
    );
    assert!(!format!("{password:?}").contains("s3cret"));
    assert_eq!(d.routes.len(), 2);
    assert_eq!(d.routes[1].target, RouteTarget::Mx);
    assert_eq!(d.dns_servers[1], "[::1]:53".parse().unwrap());
    assert_eq!(d.retry_base, Duration::from_secs(1));
    assert_eq!(d.queue_lifetime, Duration::from_secs(2 * 86_400));
    assert_eq!(d.delay_warning, None);
    assert_eq!(d.max_outbound, 3);
    assert_eq!(d.outbound_ip, crate::config::OutboundIp::V4);
    let args = ServeArgs {
        relay_host: Some("smtp.example.net:465".into()),
        relay_tls: Some("starttls".into()),
        ..Default::default()
    };
    assert!(
        !resolve(args, &[])
            .unwrap()
            .delivery
            .relay
            .unwrap()
            .implicit_tls
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn delivery_bad_values_name_their_origin() {
    let relay = |f: fn(&mut ServeArgs)| {
        let mut a = ServeArgs {
            relay_host: Some("smtp.example.net:587".into()),
            ..Default::default()
        };
        f(&mut a);
        a
    };
    let cases: Vec<Case> = vec![
        (
            ServeArgs {
                relay_host: Some("smtp.example.net".into()),
                ..Default::default()
            },
            vec![],
            "--relay-host=\"smtp.example.net\": expected HOST:PORT",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_RELAY_HOST", "smtp.example.net:0")],
            "SMOLMAIL_RELAY_HOST=\"smtp.example.net:0\": port",
        ),
        (
            relay(|a| a.relay_tls = Some("maybe".into())),
            vec![],
            "--relay-tls=\"maybe\": must be implicit or starttls",
        ),
        (
            relay(|a| a.relay_user = Some("me".into())),
            vec![],
            "--relay-user=\"me\": needs --relay-password-file",
        ),
        (
            relay(|a| a.relay_user = Some("me".into())),
            vec![("SMOLMAIL_RELAY_PASSWORD_FILE", "/nonexistent/pw")],
            "SMOLMAIL_RELAY_PASSWORD_FILE=\"/nonexistent/pw\": cannot read",
        ),
        (
            relay(|a| a.relay_ca = Some("/nonexistent/ca.pem".into())),
            vec![],
            "--relay-ca=\"/nonexistent/ca.pem\": no such file",
        ),
        (
            ServeArgs {
                relay_user: Some("me".into()),
                ..Default::default()
            },
            vec![],
            "--relay-user=\"me\": needs --relay-host",
        ),
        (
            ServeArgs {
                route: vec!["example.org".into()],
                ..Default::default()
            },
            vec![],
            "--route=\"example.org\": expected DOMAIN=HOST:PORT",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_ROUTE", "ok.example=mx, bad domain=mx")],
            "SMOLMAIL_ROUTE=\"bad domain=mx\"",
        ),
        (
            ServeArgs {
                dns_server: vec!["dns.example".into()],
                ..Default::default()
            },
            vec![],
            "--dns-server=\"dns.example\": expected an IP address",
        ),
        (
            ServeArgs {
                smtp_port_out: Some("0".into()),
                ..Default::default()
            },
            vec![],
            "--smtp-port-out=\"0\": must be a port",
        ),
        (
            ServeArgs {
                outbound_ip: Some("5".into()),
                ..Default::default()
            },
            vec![],
            "--outbound-ip=\"5\": expected 4, 6 or both",
        ),
        (
            ServeArgs {
                retry_base: Some("soon".into()),
                ..Default::default()
            },
            vec![],
            "--retry-base=\"soon\": must be a time",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_RETRY_BASE", "5h")],
            "SMOLMAIL_RETRY_BASE=\"5h\": must be a time from 1s to 4h",
        ),
        (
            ServeArgs {
                queue_lifetime: Some("0".into()),
                ..Default::default()
            },
            vec![],
            "--queue-lifetime=\"0\": must be a time",
        ),
        (
            ServeArgs {
                delay_warning: Some("later".into()),
                ..Default::default()
            },
            vec![],
            "--delay-warning=\"later\": must be a time",
        ),
        (
            ServeArgs {
                max_outbound: Some("0".into()),
                ..Default::default()
            },
            vec![],
            "--max-outbound=\"0\": must be a whole number",
        ),
        (
            ServeArgs::default(),
            vec![("SMOLMAIL_MAX_OUTBOUND_PER_DESTINATION", "many")],
            "SMOLMAIL_MAX_OUTBOUND_PER_DESTINATION=\"many\"",
        ),
        (
            ServeArgs {
                max_queue: Some("-1".into()),
                ..Default::default()
            },
            vec![],
            "--max-queue=\"-1\"",
        ),
    ];
    for (args, env, expected) in cases {
        let err = resolve(args, &env).expect_err(expected);
        assert!(
            err.0.contains(expected),
            "{:?} does not contain {expected:?}",
            err.0
        );
        assert!(!err.0.contains('\n'), "one line: {:?}", err.0);
    }
}

#[test]
fn durations_and_hosts() {
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
    assert_eq!(parse_duration("5d"), Some(Duration::from_secs(432_000)));
    assert_eq!(parse_duration("m"), None);
    assert_eq!(
        parse_host_port("[::1]:25").unwrap(),
        ("::1".to_string(), 25)
    );
    assert_eq!(
        parse_host_port("Smtp.Example.NET:587").unwrap(),
        ("smtp.example.net".to_string(), 587)
    );
    assert!(parse_host_port("bad host:25").is_err());
}

/// The memory budget: twice --max-message-size by default (50M), at least 32M,
/// and never below one message.
#[test]
fn memory_budget() {
    let home = [("HOME", "/home/u")];
    let c = resolve(ServeArgs::default(), &home).unwrap();
    assert_eq!(c.memory_budget, 50 << 20);
    let c = resolve(
        ServeArgs::default(),
        &[("HOME", "/home/u"), ("SMOLMAIL_MAX_MESSAGE_SIZE", "1M")],
    )
    .unwrap();
    assert_eq!(c.memory_budget, 32 << 20);
    let c = resolve(
        ServeArgs::default(),
        &[("HOME", "/home/u"), ("SMOLMAIL_MAX_MESSAGE_SIZE", "100M")],
    )
    .unwrap();
    assert_eq!(c.memory_budget, 200 << 20);
    let args = ServeArgs {
        memory_budget: Some("256M".into()),
        ..Default::default()
    };
    assert_eq!(resolve(args, &home).unwrap().memory_budget, 256 << 20);
    let args = ServeArgs {
        memory_budget: Some("10M".into()),
        ..Default::default()
    };
    let e = resolve(args, &home).unwrap_err();
    assert!(
        e.to_string()
            .contains("--memory-budget=\"10M\": must be a size of at least --max-message-size"),
        "{e}"
    );
}

#[test]
fn auth_cache_ttl() {
    let home = ("HOME", "/home/u");
    let c = resolve(ServeArgs::default(), &[home]).unwrap();
    assert_eq!(c.auth_cache_ttl, Duration::from_secs(3600));
    let c = resolve(
        ServeArgs::default(),
        &[home, ("SMOLMAIL_AUTH_CACHE_TTL", "0")],
    )
    .unwrap();
    assert_eq!(c.auth_cache_ttl, Duration::ZERO);
    let args = ServeArgs {
        auth_cache_ttl: Some("10m".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve(args, &[home]).unwrap().auth_cache_ttl,
        Duration::from_secs(600)
    );
    let args = ServeArgs {
        auth_cache_ttl: Some("2d".into()),
        ..Default::default()
    };
    let err = resolve(args, &[home]).unwrap_err().0;
    assert!(err.contains("--auth-cache-ttl"), "{err}");
}

/// --received-auth: off by default (Postfix's
/// smtpd_sasl_authenticated_header=no), on by flag or yes/no variable.
#[test]
fn received_auth() {
    let home = ("HOME", "/home/u");
    assert!(
        !resolve(ServeArgs::default(), &[home])
            .unwrap()
            .received_auth
    );
    let on = resolve(
        ServeArgs::default(),
        &[home, ("SMOLMAIL_RECEIVED_AUTH", "yes")],
    );
    assert!(on.unwrap().received_auth);
    let args = ServeArgs {
        received_auth: true,
        ..Default::default()
    };
    assert!(resolve(args, &[home]).unwrap().received_auth);
    let err = resolve(
        ServeArgs::default(),
        &[home, ("SMOLMAIL_RECEIVED_AUTH", "maybe")],
    )
    .unwrap_err()
    .0;
    assert!(err.contains("SMOLMAIL_RECEIVED_AUTH"), "{err}");
}

#[test]
fn mta_sts_policy_settings() {
    let c = resolve(ServeArgs::default(), &[("HOME", "/h")]).unwrap();
    assert_eq!(c.mta_sts, None, "off unless asked");
    let args = ServeArgs {
        hostname: Some("mx.example.org".into()),
        mta_sts_mode: Some("enforce".into()),
        ..Default::default()
    };
    let c = resolve(args, &[]).unwrap();
    assert_eq!(
        c.mta_sts,
        Some(MtaSts {
            mode: MtaStsMode::Enforce,
            mx: vec!["mx.example.org".into()],
            max_age: 604_800
        })
    );
    let env = [
        ("SMOLMAIL_MTA_STS_MODE", "testing"),
        ("SMOLMAIL_MTA_STS_MX", "a.example, *.b.example"),
        ("SMOLMAIL_MTA_STS_MAX_AGE", "86400"),
    ];
    let c = resolve(ServeArgs::default(), &env)
        .unwrap()
        .mta_sts
        .unwrap();
    assert_eq!(c.mode, MtaStsMode::Testing);
    assert_eq!(c.mx, ["a.example", "*.b.example"]);
    assert_eq!(c.max_age, 86400);
    for (env, expected) in [
        (("SMOLMAIL_MTA_STS_MODE", "strict"), "SMOLMAIL_MTA_STS_MODE"),
        (
            ("SMOLMAIL_MTA_STS_MAX_AGE", "31557601"),
            "SMOLMAIL_MTA_STS_MAX_AGE",
        ),
        (("SMOLMAIL_MTA_STS_MX", "bad host"), "SMOLMAIL_MTA_STS_MX"),
    ] {
        let mut both = vec![env];
        if env.0 != "SMOLMAIL_MTA_STS_MODE" {
            both.push(("SMOLMAIL_MTA_STS_MODE", "enforce"));
        }
        let err = resolve(ServeArgs::default(), &both).unwrap_err();
        assert!(err.0.contains(expected), "{err}");
    }
}

#[test]
fn http_listeners_default_dual_stack_move_with_offset_and_turn_off() {
    let c = resolve(ServeArgs::default(), &[("HOME", "/h")]).unwrap();
    assert_eq!(c.listen.http, Some("[::]:80".parse().unwrap()));
    assert_eq!(c.listen.https, Some("[::]:443".parse().unwrap()));
    let env = [("SMOLMAIL_PORT_OFFSET", "10000"), ("SMOLMAIL_HTTPS", "off")];
    let c = resolve(ServeArgs::default(), &env).unwrap();
    assert_eq!(c.listen.http, Some("[::]:10080".parse().unwrap()));
    assert_eq!(c.listen.https, None);
    let clash = ServeArgs {
        http: Some("127.0.0.1:2000".into()),
        https: Some("127.0.0.1:2000".into()),
        ..Default::default()
    };
    let err = resolve(clash, &[]).unwrap_err();
    assert!(err.0.contains("--http and --https both listen"), "{err}");
}

#[test]
fn dmarc_policy_setting() {
    use crate::config::DmarcPolicy;
    let policy = |args: ServeArgs, env: &[(&str, &str)]| resolve(args, env).map(|c| c.dmarc_policy);
    assert_eq!(
        policy(ServeArgs::default(), &[]).unwrap(),
        DmarcPolicy::Reject
    );
    let env = [("SMOLMAIL_DMARC_POLICY", "junk")];
    assert_eq!(
        policy(ServeArgs::default(), &env).unwrap(),
        DmarcPolicy::Junk
    );
    let args = ServeArgs {
        dmarc_policy: Some("none".into()),
        ..Default::default()
    };
    assert_eq!(policy(args, &env).unwrap(), DmarcPolicy::None);
    let err = policy(
        ServeArgs::default(),
        &[("SMOLMAIL_DMARC_POLICY", "quarantine")],
    )
    .unwrap_err();
    assert!(
        err.0.contains("SMOLMAIL_DMARC_POLICY") && err.0.contains("reject, junk or none"),
        "{err}"
    );
}
