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
    Fetch(FetchCmd),
    Version(VersionCmd),
    Import(smolmail::migrate::ImportCmd),
    Export(smolmail::migrate::ExportCmd),
    DnsRecords(DnsRecordsCmd),
    Dkim(smolmail::dkim::admin::DkimCmd),
    UpdateVerify(smolmail::update::UpdateVerifyCmd),
    Admin(AdminCmd),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "admin")]
/// the web admin pages (https://HOST/admin)
struct AdminCmd {
    #[argh(subcommand)]
    action: AdminAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum AdminAction {
    Passwd(AdminPasswd),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
/// set the administrator's password for the web admin pages
struct AdminPasswd {
    /// read the password from the first line of stdin instead of a prompt
    #[argh(switch)]
    password_stdin: bool,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "dns-records")]
/// print the DNS records to publish for a mail domain (zone-file form),
/// from the same SMOLMAIL_* settings serve reads
struct DnsRecordsCmd {
    #[argh(positional)]
    domain: String,
    /// also ask DNS (SMOLMAIL_DNS_SERVER, else /etc/resolv.conf) whether each record is published and right
    #[argh(switch)]
    check: bool,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "user")]
/// add, delete, list users, change passwords and quotas
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
    Quota(UserQuota),
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
    /// bytes the user's mail may take (500M, 2G; 0 = unlimited, the default)
    #[argh(option)]
    quota: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "quota")]
/// set the bytes a user's mail may take (500M, 2G; 0 = unlimited)
struct UserQuota {
    #[argh(positional)]
    address: String,
    #[argh(positional)]
    size: String,
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
/// list users with the mail they hold and their quota
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
    ImportPostfix(AliasImportPostfix),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "import-postfix")]
/// import the aliases of a Postfix virtual alias map (the text file)
struct AliasImportPostfix {
    #[argh(positional)]
    file: PathBuf,
    /// domain for names without one
    #[argh(option)]
    domain: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
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
#[argh(subcommand, name = "fetch")]
/// pull mail from outside IMAP accounts: add, list, del, run
struct FetchCmd {
    #[argh(subcommand)]
    action: FetchAction,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum FetchAction {
    Add(FetchAdd),
    List(FetchList),
    Del(FetchDel),
    Run(FetchRun),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
/// add an outside IMAP account whose mail LOCAL-USER gets (the remote copy is left as it is)
struct FetchAdd {
    #[argh(positional)]
    local_user: String,
    /// IMAP server name or address
    #[argh(option)]
    host: String,
    /// IMAP server port [default 993, or 143 with --starttls]
    #[argh(option)]
    port: Option<u16>,
    /// STARTTLS on a plain port instead of TLS from the first byte
    #[argh(switch)]
    starttls: bool,
    /// user name at the IMAP server
    #[argh(option)]
    user: String,
    /// file whose first line is the password at the IMAP server
    #[argh(option)]
    password_file: PathBuf,
    /// remote folder, REMOTE or REMOTE=LOCAL-MAILBOX, repeatable [default INBOX]
    #[argh(option)]
    folder: Vec<String>,
    /// local mailbox for folders given without =LOCAL-MAILBOX [default INBOX]
    #[argh(option)]
    into: Option<String>,
    /// time between runs, s/m/h suffix [default 5m]
    #[argh(option)]
    every: Option<String>,
    /// wait for new mail with IMAP IDLE on INBOX between runs
    #[argh(switch)]
    idle: bool,
    /// PEM file of CA certificates also trusted for this server (a private CA)
    #[argh(option)]
    ca: Option<PathBuf>,
    /// most messages taken in one run [default 1000]
    #[argh(option)]
    max_per_run: Option<u32>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list fetch accounts, their folders and last runs (never the password)
struct FetchList {
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "del")]
/// delete a fetch account by id (the mail already fetched stays)
struct FetchDel {
    #[argh(positional)]
    id: String,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
/// fetch now, once, from one account or all (progress on a terminal)
struct FetchRun {
    #[argh(positional)]
    id: Option<String>,
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

/// The log goes through a bounded buffer drained by its own thread: a slow
/// reader of stderr never blocks the server (see `smolmail::logsink`).
fn init_logging(level: log::LevelFilter) {
    smolmail::logsink::init(level);
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
        // The settings as `serve` would take them from the environment (on
        // the board: smolmail.env), so the ports printed are the ones served.
        Command::DnsRecords(c) => match Config::resolve(&ServeArgs::default(), &env) {
            Ok(config) => smolmail::address::normalize_domain(&c.domain)
                .map_err(|e| format!("{}: {e}", c.domain))
                .and_then(|domain| {
                    let dkim = smolmail::dkim::admin::dns_records(&config.data_dir, &domain)?;
                    let mut zone = smolmail::dns_records::render(&domain, &config, &dkim);
                    if c.check {
                        let resolver =
                            smolmail::net::dns::Resolver::new(&config.delivery.dns_servers);
                        let report = smol::block_on(smolmail::dns_check::check(&resolver, &zone));
                        zone.push_str(&report);
                    }
                    Ok(zone)
                }),
            Err(e) => Err(e.to_string()),
        },
        other => {
            let level = env("SMOLMAIL_LOG_LEVEL").and_then(|l| config::parse_log_level(&l));
            init_logging(level.unwrap_or(log::LevelFilter::Warn));
            admin_command(other)
        }
    };
    // The log's last lines ("smolmail stopped") are out before exit.
    smolmail::logsink::flush();
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
                // A bad size is refused before the password is asked for.
                let quota = a.quota.as_deref().map(admin::parse_quota).transpose()?;
                let password = admin::read_password(a.password_stdin)?;
                admin::user_add(&data_dir(&a.data), &a.address, &password, quota)
            }
            UserAction::Del(a) => admin::user_del(&data_dir(&a.data), &a.address),
            UserAction::List(a) => admin::user_list(&data_dir(&a.data)),
            UserAction::Passwd(a) => {
                let password = admin::read_password(a.password_stdin)?;
                admin::user_passwd(&data_dir(&a.data), &a.address, &password)
            }
            UserAction::Quota(a) => {
                let quota = admin::parse_quota(&a.size)?;
                admin::user_quota(&data_dir(&a.data), &a.address, quota)
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
            AliasAction::ImportPostfix(a) => smolmail::migrate::postfix::import(
                &admin::open(&data_dir(&a.data))?,
                &a.file,
                a.domain.as_deref(),
            ),
        },
        Command::Backup(b) => admin::backup(&data_dir(&b.data), &b.dest),
        Command::Queue(QueueCmd { action }) => match action {
            QueueAction::List(a) => smolmail::delivery::admin::queue_list(&data_dir(&a.data)),
            QueueAction::Flush(a) => smolmail::delivery::admin::queue_flush(&data_dir(&a.data)),
            QueueAction::Delete(a) => {
                smolmail::delivery::admin::queue_delete(&data_dir(&a.data), &a.id)
            }
        },
        Command::Fetch(FetchCmd { action }) => match action {
            FetchAction::Add(a) => {
                let options = smolmail::fetch::admin::AddOptions {
                    local_user: a.local_user,
                    host: a.host,
                    port: a.port,
                    starttls: a.starttls,
                    user: a.user,
                    password_file: a.password_file,
                    folders: a.folder,
                    into: a.into,
                    every: a.every,
                    idle: a.idle,
                    ca: a.ca,
                    max_per_run: a.max_per_run,
                };
                smolmail::fetch::admin::add(&data_dir(&a.data), &options)
            }
            FetchAction::List(a) => smolmail::fetch::admin::list(&data_dir(&a.data)),
            FetchAction::Del(a) => smolmail::fetch::admin::del(&data_dir(&a.data), &a.id),
            FetchAction::Run(a) => smolmail::fetch::admin::run(&data_dir(&a.data), a.id.as_deref()),
        },
        Command::Import(c) => smolmail::migrate::import(c, &data_dir),
        Command::Export(c) => smolmail::migrate::export(c, &data_dir),
        Command::Dkim(c) => smolmail::dkim::admin::run(c, &data_dir),
        Command::UpdateVerify(c) => smolmail::update::run(&c),
        Command::Admin(AdminCmd {
            action: AdminAction::Passwd(a),
        }) => {
            let password = admin::read_password(a.password_stdin)?;
            admin::admin_passwd(&data_dir(&a.data), &password)
        }
        Command::Serve(_) | Command::Version(_) | Command::DnsRecords(_) => {
            unreachable!("dispatched in main")
        }
    }
}
