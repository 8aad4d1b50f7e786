//! `smolmail alias import-postfix FILE`: the aliases of a Postfix
//! `virtual` alias map (virtual(5), the text file `postmap` compiles).
//!
//! Each line is `pattern result[, result ...]`; a line starting with white
//! space continues the one before; `#` begins a comment line. A pattern
//! `user@domain` is an alias, `@domain` a catch-all; a pattern without `@`
//! is a virtual alias domain (its result is ignored, as Postfix does) when
//! it has a dot, else a local name completed with `--domain`. A result
//! without `@` is completed with `--domain` too. Regular-expression maps
//! (`regexp:`, `pcre:`) are not this format and are not read.

use std::path::Path;

use crate::store::{Store, StoreError};

/// One entry of the map: what it asks for.
#[derive(Debug, PartialEq)]
pub enum Entry {
    Domain(String),
    Alias {
        source: String,
        targets: Vec<String>,
    },
}

/// The logical lines (continuations joined), with their first line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.1.push(' ');
            last.1.push_str(trimmed);
            continue;
        }
        out.push((n + 1, trimmed.to_string()));
    }
    out
}

fn complete(name: &str, domain: Option<&str>) -> Result<String, String> {
    if name.contains('@') {
        return Ok(name.to_string());
    }
    match domain {
        Some(d) => Ok(format!("{name}@{d}")),
        None => Err(format!("{name:?} has no domain; give --domain")),
    }
}

/// Reads one logical line.
pub fn parse_line(line: &str, domain: Option<&str>) -> Result<Entry, String> {
    let mut words = line.splitn(2, [' ', '\t']);
    let pattern = words.next().unwrap_or_default();
    let results: Vec<&str> = words
        .next()
        .unwrap_or_default()
        .split([',', ' ', '\t'])
        .filter(|r| !r.is_empty())
        .collect();
    if results.is_empty() {
        return Err(format!("{pattern} has no result"));
    }
    // virtual(5): `domain anything` names a virtual alias domain (its
    // result is ignored, so it is not an address); `user address` with a
    // dotted user name (john.smith) is an alias of a local name.
    if !pattern.contains('@') && pattern.contains('.') && !results.iter().any(|r| r.contains('@')) {
        return Ok(Entry::Domain(pattern.to_ascii_lowercase()));
    }
    let source = if pattern.starts_with('@') {
        pattern.to_string()
    } else {
        complete(pattern, domain)?
    };
    let targets = results
        .iter()
        .map(|r| complete(r, domain))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Entry::Alias { source, targets })
}

/// Imports the map: every line it can, reporting the others, and failing
/// at the end if any was skipped (so a script notices).
pub fn import(store: &Store, file: &Path, domain: Option<&str>) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let (mut aliases, mut domains, mut problems) = (0, 0, Vec::new());
    for (n, line) in logical_lines(&text) {
        let done = parse_line(&line, domain).and_then(|entry| {
            smol::block_on(async {
                match entry {
                    Entry::Domain(d) => match store.add_domain(&d).await {
                        Ok(()) | Err(StoreError::Exists(_)) => {
                            domains += 1;
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    Entry::Alias { source, targets } => {
                        store
                            .add_alias(&source, &targets)
                            .await
                            .map_err(|e| e.to_string())?;
                        println!("{source} -> {}", targets.join(", "));
                        aliases += 1;
                        Ok(())
                    }
                }
            })
        });
        if let Err(why) = done {
            problems.push(format!("{}:{n}: {why}", file.display()));
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    let summary = format!("imported {aliases} aliases and {domains} domains");
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!(
            "{summary}; {} lines skipped (listed above)",
            problems.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_local_name_with_an_address_is_an_alias() {
        assert_eq!(
            parse_line("john.smith  john@example.net", Some("home.arpa")).unwrap(),
            Entry::Alias {
                source: "john.smith@home.arpa".into(),
                targets: vec!["john@example.net".into()],
            }
        );
        assert_eq!(
            parse_line("example.com  anything", None).unwrap(),
            Entry::Domain("example.com".into())
        );
    }

    #[test]
    fn virtual_map_lines() {
        let text = "# comment\nexample.com  anything\ninfo@example.com  a@example.com,\n  b@example.net\n@example.com catchall\npostmaster root\n";
        let lines = logical_lines(text);
        assert_eq!(lines.len(), 4);
        assert_eq!(
            parse_line(&lines[0].1, None),
            Ok(Entry::Domain("example.com".into()))
        );
        assert_eq!(
            parse_line(&lines[1].1, None),
            Ok(Entry::Alias {
                source: "info@example.com".into(),
                targets: vec!["a@example.com".into(), "b@example.net".into()]
            })
        );
        assert!(parse_line(&lines[2].1, None).is_err());
        assert_eq!(
            parse_line(&lines[2].1, Some("example.com")),
            Ok(Entry::Alias {
                source: "@example.com".into(),
                targets: vec!["catchall@example.com".into()]
            })
        );
        assert_eq!(
            parse_line(&lines[3].1, Some("example.com")),
            Ok(Entry::Alias {
                source: "postmaster@example.com".into(),
                targets: vec!["root@example.com".into()]
            })
        );
    }
}
