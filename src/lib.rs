//! smolmail: a complete home mail server in one static binary.
//!
//! The binary (`src/main.rs`) is only the command tree; everything it runs
//! lives here so that the integration tests in `tests/` reach the same code.
//! DESIGN.md (shared with the team) is the map of how the pieces fit.

pub mod acme;
pub mod address;
pub mod admin;
pub mod auth;
pub mod config;
pub mod context;
pub mod delivery;
pub mod dkim;
pub mod dmarc;
pub mod dns_check;
pub mod dns_records;
pub mod dsn;
pub mod fetch;
pub mod http;
pub mod imap;
pub mod logsink;
pub mod mdns;
pub mod metrics;
pub mod migrate;
pub mod mime;
pub mod net;
pub mod pop3;
pub mod secret;
pub mod server;
pub mod smtp;
pub mod spf;
pub mod store;
pub mod time;
pub mod tls;
pub mod update;
pub mod wire;
