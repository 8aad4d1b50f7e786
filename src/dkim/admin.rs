//! `smolmail dkim add|list|del|rotate`: the domain's signing keys in the
//! store (`store::DkimKey`), and the TXT records (RFC 6376 §3.6.2.1, at
//! `SELECTOR._domainkey.DOMAIN`) that publish them.
//!
//! `add` makes two keys, Ed25519 (RFC 8463) and RSA-2048 (RFC 8301), each
//! with its own selector (one key record per selector): `BASE-ed25519` and
//! `BASE-rsa`. Receivers that know Ed25519 check that one, the others the
//! RSA one (RFC 8463 §6 suggests signing with both). BASE defaults to
//! `sYYYYMMDD`, so that a rotation gets a new name and the old record can
//! stay published while mail signed with it is still on its way
//! (`rotate` leaves the old keys listed, not signing, until `dkim del`).

use std::path::PathBuf;

use argh::FromArgs;

use super::Algorithm;
use super::keys::{self, SigningKey};
use crate::store::{DkimKey, DkimOp, Store};

#[derive(FromArgs)]
#[argh(subcommand, name = "dkim")]
/// make, list, rotate and delete DKIM signing keys (RFC 6376, RFC 8463)
pub struct DkimCmd {
    #[argh(subcommand)]
    action: DkimAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DkimAction {
    Add(Add),
    List(List),
    Del(Del),
    Rotate(Rotate),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// make an Ed25519 and an RSA-2048 key for a local domain and print their
/// TXT records
struct Add {
    #[argh(positional)]
    domain: String,
    /// selector base: the keys are BASE-ed25519 and BASE-rsa (default
    /// sYYYYMMDD)
    #[argh(option)]
    selector: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "rotate")]
/// make new keys for a domain; the old ones stop signing but stay listed
/// until `dkim del`
struct Rotate {
    #[argh(positional)]
    domain: String,
    /// selector base of the new keys (default sYYYYMMDD, or with -2, -3
    /// if taken)
    #[argh(option)]
    selector: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list the DKIM keys (of one domain or all) with their state
struct List {
    #[argh(positional)]
    domain: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// delete a domain's DKIM keys: all, or one selector (or both of a base)
struct Del {
    #[argh(positional)]
    domain: String,
    /// a selector, or a base whose -ed25519 and -rsa keys go
    #[argh(option)]
    selector: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

/// Runs a `dkim` command; `data_dir` turns a `--data` flag into the
/// directory.
pub fn run(cmd: DkimCmd, data_dir: &dyn Fn(&Option<String>) -> PathBuf) -> Result<String, String> {
    match cmd.action {
        DkimAction::Add(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            smol::block_on(make(&store, &a.domain, a.selector.as_deref(), false))
        }
        DkimAction::Rotate(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            smol::block_on(make(&store, &a.domain, a.selector.as_deref(), true))
        }
        DkimAction::List(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            let domain = a
                .domain
                .as_deref()
                .map(crate::address::normalize_domain)
                .transpose()?;
            list(&store, domain.as_deref())
        }
        DkimAction::Del(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            smol::block_on(del(&store, &a.domain, a.selector.as_deref()))
        }
    }
}

/// The two selectors of a base.
fn selectors(base: &str) -> [(Algorithm, String); 2] {
    [
        (Algorithm::Ed25519Sha256, format!("{base}-ed25519")),
        (Algorithm::RsaSha256, format!("{base}-rsa")),
    ]
}

/// Makes both keys under `base` (or a dated one) and prints their records.
/// `dkim add` (or, with `rotate`, `dkim rotate`) and the DNS page's
/// "make keys": key generation runs on the blocking pool (RSA-2048 takes
/// a while on a board).
pub async fn make(
    store: &Store,
    domain: &str,
    base: Option<&str>,
    rotate: bool,
) -> Result<String, String> {
    let domain = crate::address::normalize_domain(domain)?;
    let reader = store.read().map_err(|e| e.to_string())?;
    if !reader.is_local_domain(&domain).map_err(|e| e.to_string())? {
        return Err(format!(
            "{domain} is not a local domain (smolmail domain add {domain})"
        ));
    }
    let existing = reader.dkim_keys(Some(&domain)).map_err(|e| e.to_string())?;
    drop(reader);
    if !rotate && existing.iter().any(|k| k.active) {
        return Err(format!(
            "{domain} has DKIM keys already (smolmail dkim rotate {domain} makes new ones)"
        ));
    }
    let base = match base {
        Some(b) => b.to_ascii_lowercase(),
        None => {
            let (y, m, d) = crate::time::civil_from_days(crate::time::now().div_euclid(86400));
            let dated = format!("s{y:04}{m:02}{d:02}");
            let taken = |b: &str| {
                selectors(b)
                    .iter()
                    .any(|(_, s)| existing.iter().any(|k| k.selector == *s))
            };
            (1..)
                .map(|n| {
                    if n == 1 {
                        dated.clone()
                    } else {
                        format!("{dated}-{n}")
                    }
                })
                .find(|b| !taken(b))
                .unwrap_or(dated)
        }
    };
    let now = crate::time::now();
    let mut made = Vec::new();
    for (algorithm, selector) in selectors(&base) {
        made.push(DkimKey {
            domain: domain.clone(),
            selector,
            algorithm,
            active: true,
            created: now,
            pkcs8: smol::unblock(move || keys::generate(algorithm)).await?,
        });
    }
    let mut text = records(&made)?;
    store
        .dkim(DkimOp::Add {
            keys: made,
            retire_others: rotate,
        })
        .await
        .map_err(|e| e.to_string())?;
    if rotate && !existing.is_empty() {
        text.push_str(&format!(
            "\n; the older keys of {domain} no longer sign; keep their records published for a few days, then: smolmail dkim del {domain} --selector OLD"
        ));
    }
    Ok(format!("; publish in the zone of {domain}:\n{text}"))
}

/// The TXT records of `keys`, one zone-file line each.
pub fn records(keys: &[DkimKey]) -> Result<String, String> {
    let mut out = String::new();
    for k in keys {
        let key = SigningKey::from_pkcs8(k.algorithm, &k.pkcs8)?;
        out.push_str(&crate::dns_records::txt_line(
            &format!("{}._domainkey.{}", k.selector, k.domain),
            &key.record(),
        ));
    }
    Ok(out.trim_end().to_string())
}

/// `dkim list`: one line per key.
pub fn list(store: &Store, domain: Option<&str>) -> Result<String, String> {
    let keys = store
        .read()
        .and_then(|r| r.dkim_keys(domain))
        .map_err(|e| e.to_string())?;
    Ok(keys
        .iter()
        .map(|k| {
            let (y, m, d) = crate::time::civil_from_days(k.created.div_euclid(86400));
            format!(
                "{} {} {} {} created {y:04}-{m:02}-{d:02}",
                k.domain,
                k.selector,
                k.algorithm.name(),
                if k.active { "signing" } else { "retired" },
            )
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `dkim del`: one selector's keys (both algorithms of a base), or all.
pub async fn del(store: &Store, domain: &str, selector: Option<&str>) -> Result<String, String> {
    let domain = crate::address::normalize_domain(domain)?;
    let keys = store
        .read()
        .and_then(|r| r.dkim_keys(Some(&domain)))
        .map_err(|e| e.to_string())?;
    let doomed: Vec<&DkimKey> = keys
        .iter()
        .filter(|k| match selector {
            None => true,
            Some(s) => k.selector == s || selectors(s).iter().any(|(_, n)| *n == k.selector),
        })
        .collect();
    if doomed.is_empty() {
        return Err(format!("no such DKIM key for {domain}"));
    }
    let mut out = Vec::new();
    for k in doomed {
        store
            .dkim(DkimOp::Del {
                domain: domain.clone(),
                selector: Some(k.selector.clone()),
            })
            .await
            .map_err(|e| e.to_string())?;
        out.push(format!(
            "deleted {}._domainkey.{} (remove its TXT record too)",
            k.selector, domain
        ));
    }
    Ok(out.join("\n"))
}

/// The records of `domain`'s keys for `smolmail dns-records`. A data
/// directory without a store has no keys; none is made for asking.
pub fn dns_records(
    data: &std::path::Path,
    domain: &str,
) -> Result<Vec<crate::dns_records::DkimRecord>, String> {
    if !data.join("data.mdb").exists() {
        return Ok(Vec::new());
    }
    dns_records_in(&crate::admin::open(data)?, domain)
}

/// [`dns_records`] from an open store (the DNS page's).
pub fn dns_records_in(
    store: &Store,
    domain: &str,
) -> Result<Vec<crate::dns_records::DkimRecord>, String> {
    let keys = store
        .read()
        .and_then(|r| r.dkim_keys(Some(domain)))
        .map_err(|e| e.to_string())?;
    keys.iter()
        .map(|k| {
            Ok(crate::dns_records::DkimRecord {
                selector: k.selector.clone(),
                text: SigningKey::from_pkcs8(k.algorithm, &k.pkcs8)?.record(),
                active: k.active,
            })
        })
        .collect()
}
