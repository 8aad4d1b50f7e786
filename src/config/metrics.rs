//! `--metrics ADDR` and `--metrics-trusted-only`: where Prometheus scrapes
//! `/metrics` (issue "web face", point 5).
//!
//! The listener is apart from the mail services and from `--http`: it
//! answers nothing but `GET /metrics`, and by default only on loopback
//! (`127.0.0.1:9154`, 9154 being free in Prometheus's list of exporter
//! ports), so a board on a LAN shows its counters to nobody until the
//! operator says otherwise. `--metrics-trusted-only` keeps a wider address
//! to the `--trusted-network` clients (others get `403`), for a Prometheus
//! elsewhere on the LAN without opening the figures to every device.

use std::net::SocketAddr;

use super::listen::{Listen, parse_listen};
use super::{ConfigError, ServeArgs, env_name, parse_bool, pick};

/// The metrics port before `--port-offset`.
pub const DEFAULT_PORT: u16 = 9154;

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `None`: off.
    pub addr: Option<SocketAddr>,
    /// Answer only clients in `--trusted-network`.
    pub trusted_only: bool,
}

pub(super) fn resolve_metrics(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
    listen: &Listen,
) -> Result<MetricsConfig, ConfigError> {
    let addr = match pick(&args.metrics, "metrics", env) {
        Some(raw) => parse_listen(&raw.value).map_err(|e| raw.error(e))?,
        None => {
            // resolve_listen has already refused a bad offset.
            let offset = pick(&args.port_offset, "port-offset", env)
                .and_then(|raw| raw.value.trim().parse::<u16>().ok())
                .unwrap_or(0);
            let port = DEFAULT_PORT.checked_add(offset).ok_or_else(|| {
                ConfigError(format!(
                    "--port-offset={offset} pushes the metrics port past 65535"
                ))
            })?;
            Some(SocketAddr::from(([127, 0, 0, 1], port)))
        }
    };
    if let Some(addr) = addr
        && addr.port() != 0
        && let Some((service, _)) = listen
            .services()
            .into_iter()
            .find(|(_, a)| *a == Some(addr))
    {
        return Err(ConfigError(format!(
            "--metrics and --{} both listen on {addr}; give one of them another address or \"off\"",
            service.name()
        )));
    }
    let trusted_only = match (
        args.metrics_trusted_only,
        env(&env_name("metrics-trusted-only")),
    ) {
        (true, _) => true,
        (false, None) => false,
        (false, Some(value)) => parse_bool(&value).ok_or_else(|| {
            ConfigError(format!(
                "SMOLMAIL_METRICS_TRUSTED_ONLY={value:?}: must be yes or no"
            ))
        })?,
    };
    Ok(MetricsConfig { addr, trusted_only })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn resolve(args: ServeArgs, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::resolve(&args, &|k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn loopback_9154_by_default_moved_by_the_port_offset() {
        let c = resolve(ServeArgs::default(), &[("HOME", "/home/u")]).unwrap();
        assert_eq!(c.metrics.addr, Some("127.0.0.1:9154".parse().unwrap()));
        assert!(!c.metrics.trusted_only);
        let c = resolve(
            ServeArgs::default(),
            &[("HOME", "/h"), ("SMOLMAIL_PORT_OFFSET", "10000")],
        )
        .unwrap();
        assert_eq!(c.metrics.addr, Some("127.0.0.1:19154".parse().unwrap()));
    }

    #[test]
    fn off_address_trusted_only_and_clashes() {
        let args = ServeArgs {
            metrics: Some("off".into()),
            ..Default::default()
        };
        assert_eq!(resolve(args, &[("HOME", "/h")]).unwrap().metrics.addr, None);
        let c = resolve(
            ServeArgs::default(),
            &[
                ("HOME", "/h"),
                ("SMOLMAIL_METRICS", "[::]:9100"),
                ("SMOLMAIL_METRICS_TRUSTED_ONLY", "yes"),
            ],
        )
        .unwrap();
        assert_eq!(c.metrics.addr, Some("[::]:9100".parse().unwrap()));
        assert!(c.metrics.trusted_only);
        let err = resolve(
            ServeArgs::default(),
            &[("HOME", "/h"), ("SMOLMAIL_METRICS_TRUSTED_ONLY", "maybe")],
        )
        .unwrap_err();
        assert!(err.0.contains("SMOLMAIL_METRICS_TRUSTED_ONLY"), "{}", err.0);
        let clash = ServeArgs {
            metrics: Some("[::]:25".into()),
            ..Default::default()
        };
        let err = resolve(clash, &[("HOME", "/h")]).unwrap_err();
        assert!(err.0.contains("--metrics and --smtp"), "{}", err.0);
        let bad = ServeArgs {
            metrics: Some("nowhere".into()),
            ..Default::default()
        };
        let err = resolve(bad, &[("HOME", "/h")]).unwrap_err();
        assert!(err.0.starts_with("--metrics="), "{}", err.0);
    }
}
