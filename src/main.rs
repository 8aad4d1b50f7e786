//! `smolmail`: the command tree and its dispatch; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use smolmail::admin;
use smolmail::config::{self, Config, ServeArgs};

#[derive(FromArgs)]
/// smolmail: a complete home mail server (SMTP, submission, IMAP, POP3) in one binary.
struct Cli {
    #[argh(subcommand)]
    command: Command,
}

// Parsed once per run; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(ServeArgs),
    User(UserCmd),
    Domain(DomainCmd),
    Alias(AliasCmd),
    Backup(BackupCmd),
    Queue(QueueCmd),
    Version(VersionCmd),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "user")]
/// add, delete, list users and change passwords
struct UserCmd {
    #[argh(subcommand)]
    action: UserAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum UserAction {
    Add(UserAdd),
    Del(UserDel),
    List(UserList),
    Passwd(UserPasswd),
    ImportPasswd(UserImport),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// add a user (and its domain if new); asks for the password
struct UserAdd {
    #[argh(positional)]
    address: String,
    /// read the password from the first line of stdin instead of a prompt
    #[argh(switch)]
    password_stdin: bool,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// delete a user and all their mail
struct UserDel {
    #[argh(positional)]
    address: String,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list users
struct UserList {
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
/// set a user's password
struct UserPasswd {
    #[argh(positional)]
    address: String,
    /// read the password from the first line of stdin instead of a prompt
    #[argh(switch)]
    password_stdin: bool,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "import-passwd")]
/// import users from a Dovecot passwd-file (user:{SCHEME}hash:...)
struct UserImport {
    #[argh(positional)]
    file: PathBuf,
    /// domain for user names without one
    #[argh(option)]
    domain: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "domain")]
/// add, delete and list the local domains
struct DomainCmd {
    #[argh(subcommand)]
    action: DomainAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum DomainAction {
    Add(DomainAdd),
    Del(DomainDel),
    List(DomainList),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// add a local domain
struct DomainAdd {
    #[argh(positional)]
    domain: String,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// delete a local domain (it must have no users or aliases)
struct DomainDel {
    #[argh(positional)]
    domain: String,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list the local domains
struct DomainList {
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "alias")]
/// add, delete and list aliases (@domain as source is a catch-all)
struct AliasCmd {
    #[argh(subcommand)]
    action: AliasAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum AliasAction {
    Add(AliasAdd),
    Del(AliasDel),
    List(AliasList),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// add or replace an alias: SOURCE TARGET...
struct AliasAdd {
    #[argh(positional)]
    source: String,
    #[argh(positional, greedy)]
    targets: Vec<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// delete an alias
struct AliasDel {
    #[argh(positional)]
    source: String,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list aliases
struct AliasList {
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
/// copy the store consistently (also while the server runs) into DEST
struct BackupCmd {
    #[argh(positional)]
    dest: PathBuf,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "queue")]
/// the outbound queue: list (like mailq), flush (retry all now), delete ID|ALL
struct QueueCmd {
    #[argh(subcommand)]
    action: QueueAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum QueueAction {
    List(QueueList),
    Flush(QueueFlush),
    Delete(QueueDelete),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list queued messages, their recipients and last errors
struct QueueList {
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "flush")]
/// make every queued message due now (a running server sends within 5 s)
struct QueueFlush {
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "delete")]
/// delete a queued message by queue id, or ALL
struct QueueDelete {
    #[argh(positional)]
    id: String,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "version")]
/// print the version
struct VersionCmd {}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The data directory of an administrative command: flag, SMOLMAIL_DATA,
/// or the same default `serve` uses.
fn data_dir(flag: &Option<String>) -> PathBuf {
    match flag
        .clone()
        .or_else(|| env("SMOLMAIL_DATA"))
        .filter(|s| !s.trim().is_empty())
    {
        Some(dir) => PathBuf::from(dir),
        None => config::default_data_dir(&env),
    }
}

fn init_logging(level: log::LevelFilter) {
    env_logger::Builder::new()
        .filter_level(level)
        .format_timestamp_millis()
        .format_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli: Cli = argh::from_env();
    let result = match cli.command {
        Command::Serve(args) => match Config::resolve(&args, &env) {
            Ok(config) => {
                init_logging(config.log_level);
                smolmail::server::run(config).map(|()| String::new())
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Version(_) => Ok(format!("smolmail {}", env!("CARGO_PKG_VERSION"))),
        other => {
            let level = env("SMOLMAIL_LOG_LEVEL").and_then(|l| config::parse_log_level(&l));
            init_logging(level.unwrap_or(log::LevelFilter::Warn));
            admin_command(other)
        }
    };
    match result {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smolmail: {e}");
            ExitCode::FAILURE
        }
    }
}

fn admin_command(command: Command) -> Result<String, String> {
    match command {
        Command::User(UserCmd { action }) => match action {
            UserAction::Add(a) => {
                let password = admin::read_password(a.password_stdin)?;
                admin::user_add(&data_dir(&a.data), &a.address, &password)
            }
            UserAction::Del(a) => admin::user_del(&data_dir(&a.data), &a.address),
            UserAction::List(a) => admin::user_list(&data_dir(&a.data)),
            UserAction::Passwd(a) => {
                let password = admin::read_password(a.password_stdin)?;
                admin::user_passwd(&data_dir(&a.data), &a.address, &password)
            }
            UserAction::ImportPasswd(a) => {
                admin::user_import_passwd(&data_dir(&a.data), &a.file, a.domain.as_deref())
            }
        },
        Command::Domain(DomainCmd { action }) => match action {
            DomainAction::Add(a) => admin::domain_add(&data_dir(&a.data), &a.domain),
            DomainAction::Del(a) => admin::domain_del(&data_dir(&a.data), &a.domain),
            DomainAction::List(a) => admin::domain_list(&data_dir(&a.data)),
        },
        Command::Alias(AliasCmd { action }) => match action {
            AliasAction::Add(a) => admin::alias_add(&data_dir(&a.data), &a.source, &a.targets),
            AliasAction::Del(a) => admin::alias_del(&data_dir(&a.data), &a.source),
            AliasAction::List(a) => admin::alias_list(&data_dir(&a.data)),
        },
        Command::Backup(b) => admin::backup(&data_dir(&b.data), &b.dest),
        Command::Queue(QueueCmd { action }) => match action {
            QueueAction::List(a) => smolmail::delivery::admin::queue_list(&data_dir(&a.data)),
            QueueAction::Flush(a) => smolmail::delivery::admin::queue_flush(&data_dir(&a.data)),
            QueueAction::Delete(a) => {
                smolmail::delivery::admin::queue_delete(&data_dir(&a.data), &a.id)
            }
        },
        Command::Serve(_) | Command::Version(_) => unreachable!("dispatched in main"),
    }
}
