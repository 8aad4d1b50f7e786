//! imapflow (npm) against a running `smolmail serve`: a real client that
//! turns COMPRESS=DEFLATE (RFC 4978) on by itself, ENABLEs QRESYNC (RFC
//! 7162), IDLEs, and uses BINARY (RFC 3516) for literal8 APPEND and
//! decoded part downloads; the script is tests/clients/imapflow.js. Node and npm
//! are Debian packages; imapflow is installed by scripts/setup.sh into
//! target/nodedeps.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, TempDir, add_user, require_tool};

fn nodedeps() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/nodedeps");
    assert!(
        dir.join("node_modules/imapflow").is_dir(),
        "imapflow is missing: run scripts/setup.sh (npm install --prefix target/nodedeps imapflow)"
    );
    dir
}

/// Runs the script; returns its `ok` lines, failing on a `fail` line.
fn imapflow(server: &Server, user: &str, password: &str) -> String {
    let node = require_tool("node", "nodejs");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/imapflow.js");
    let port = server.port("imap").to_string();
    let out = Command::new(node)
        .arg(script)
        .arg(nodedeps())
        .args([port.as_str(), user, password])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "imapflow failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    stdout
}

/// COMPRESS on (imapflow's own choice), QRESYNC enabled, APPEND, FETCH,
/// and an IDLE that gets another session's EXISTS and VANISHED promptly
/// through the compressed stream (RFC 4978 §4's sync flush); then
/// BINARY: a NUL kept through literal8, a base64 part fetched decoded.
#[test]
fn imapflow_compress_qresync_idle_binary() {
    let data = TempDir::new("imapflow");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    let out = imapflow(&server, "alice@home.arpa", "pw");
    eprintln!("{out}");
    for want in [
        "ok compress DEFLATE",
        "ok qresync enabled",
        "ok select exists=2",
        "ok fetch subject=flow bytes=",
        "ok idle-exists count=3",
        "ok idle-vanished uid=2",
        "ok changedsince uids=1,3",
        "ok binary-append nul-kept",
        "ok binary-fetch bytes=10",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
}
