//! The `chinwag` binary: glue that reads the command line and starts a node.
//!
//! `chinwag --server` runs a headless hub; `chinwag --join HOST:PORT` uses a hub elsewhere on
//! the LAN and serves its UI on loopback. Without either the desktop window opens; until the
//! desktop issue lands, that build says so and points at the other two.

#[cfg(feature = "desktop")]
mod desktop;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chinwag_node::config::{FileSettings, LogFormat, Settings, Source, SyncMode};
use chinwag_node::join::JoinOptions;
use chinwag_node::DEFAULT_PORT;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

#[derive(Debug, Parser)]
#[command(
    name = "chinwag",
    version,
    about = "A self-contained LAN messenger: host a chat or join one, in one binary."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<AdminCommand>,

    /// Run a headless hub (no window) that browsers and apps on the LAN can join.
    #[arg(long, conflicts_with = "join")]
    server: bool,

    /// Use the hub at HOST[:PORT] (port 7117 unless given) and open its UI locally; messages
    /// sent while it is unreachable are kept and delivered when it is back.
    #[arg(long, env = "CHINWAG_JOIN", value_name = "HOST:PORT")]
    join: Option<String>,

    /// List the hubs advertised on the LAN (one per line: ADDRESS, NAME, ID, tab-separated)
    /// and exit.
    #[arg(long, conflicts_with_all = ["server", "join"])]
    discover: bool,

    /// With --discover: stop at the first hub found.
    #[arg(long, requires = "discover")]
    first: bool,

    /// With --discover: how long to listen, in seconds.
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    timeout: f64,

    /// Read settings from this TOML file (see docs/operations.md); flags and CHINWAG_*
    /// environment variables override what it says.
    #[arg(long, env = "CHINWAG_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,

    /// With --server: print the effective settings (as TOML, each with where it came from)
    /// and exit.
    #[arg(long, requires = "server")]
    print_config: bool,

    /// Address and port to listen on (default 0.0.0.0:7117 for --server, 127.0.0.1:7118
    /// for --join).
    #[arg(long, env = "CHINWAG_BIND", value_name = "ADDR:PORT")]
    bind: Option<SocketAddr>,

    /// Where the database lives (default: the platform's data directory).
    #[arg(long, env = "CHINWAG_DATA_DIR", value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,

    /// The hub's name, shown to people who join.
    #[arg(long, env = "CHINWAG_NAME", default_value = "Chinwag")]
    name: String,

    /// Require this code to register an account.
    #[arg(long, env = "CHINWAG_JOIN_CODE", value_name = "CODE")]
    join_code: Option<String>,

    /// Largest message, in bytes of UTF-8.
    #[arg(long, env = "CHINWAG_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    max_message_bytes: u32,

    /// Largest file upload, in megabytes (1 MB = 1,048,576 bytes).
    #[arg(long, env = "CHINWAG_MAX_UPLOAD_MB", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_upload_mb: u64,

    /// Messages one user may send per second (bursts of three seconds' worth are allowed).
    #[arg(long, env = "CHINWAG_MESSAGES_PER_SECOND", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    messages_per_second: u32,

    /// Delete messages and their files older than this many days (0: keep everything).
    #[arg(long, env = "CHINWAG_RETENTION_DAYS", default_value_t = 0, value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    retention_days: u32,

    /// Sign out sessions not used for this many days; an open connection counts as use
    /// (0: sessions last until sign-out).
    #[arg(long, env = "CHINWAG_SESSION_IDLE_DAYS", default_value_t = 90, value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    session_idle_days: u32,

    /// Another web origin allowed to open WebSockets (repeatable), e.g. http://intranet:8080.
    #[arg(
        long = "allow-origin",
        env = "CHINWAG_ALLOW_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allow_origins: Vec<String>,

    /// When a message counts as saved: `full` flushes every commit to the disk (survives a
    /// power cut); `normal` lets the OS flush it (survives a crash of Chinwag; faster on
    /// disks with slow flushes).
    #[arg(long, env = "CHINWAG_SYNC", value_enum, default_value_t = SyncMode::Full)]
    sync: SyncMode,

    /// Log lines as text for people, or as one JSON object per line for a log collector.
    #[arg(long, env = "CHINWAG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text,
          global = true)]
    log_format: LogFormat,

    /// Do not advertise the hub on the LAN with mDNS (with --join: do not browse for hubs).
    #[arg(long, env = "CHINWAG_NO_MDNS")]
    no_mdns: bool,

    /// Advertise on loopback too (one-machine setups and tests in a network namespace).
    #[arg(long, hide = true, env = "CHINWAG_MDNS_LOOPBACK")]
    mdns_loopback: bool,
}

/// Admin commands on a data directory (`--data-dir`, or the default one).
#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Manage accounts and see conversations and stats, on a running or stopped hub.
    Admin {
        #[command(subcommand)]
        what: HubAdmin,
    },
    /// Copy the store to FILE, consistently, even while the hub runs. FILE must not exist.
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Replace the store with the backup FILE, after checking it. Stop the hub first; the
    /// store it replaces is kept beside it as chinwag.db.before-restore-TIME.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write one user's account, conversations and messages as JSON (a data export request).
    Export {
        /// The username.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// Where to write (default: standard output). Must not exist.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `chinwag admin ...`: works on a running hub's data directory as well as a stopped one.
#[derive(Debug, clap::Subcommand)]
enum HubAdmin {
    /// Accounts: list, create, disable, enable, reset-password, promote, demote.
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Conversations, with member, message and file counts (never their contents).
    Conversations {
        #[command(subcommand)]
        action: ConversationsAction,
    },
    /// Users, conversations, messages, files, store size, connections.
    Stats {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum UsersAction {
    /// Every account: id, username, name, role, state, sessions, presence.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create an account (it joins #general); prints a generated password unless
    /// --password-stdin is given.
    Create {
        username: String,
        /// Shown to others (default: the username).
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// Make it a hub admin.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: it cannot sign in, and its open sessions close at once.
    Disable { username: String },
    /// Enable a disabled account again.
    Enable { username: String },
    /// Set a new password (generated and printed, or from --password-stdin) and sign the
    /// account out everywhere.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Make an account a hub admin.
    Promote { username: String },
    /// Take hub admin away from an account (the hub keeps at least one admin).
    Demote { username: String },
}

#[derive(Debug, clap::Subcommand)]
enum ConversationsAction {
    /// Every conversation: id, kind, name, members, messages, files, last activity.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// A password to hand to someone: 16 characters from an unambiguous alphabet (about 90
/// bits), or the first line of standard input.
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    let token = chinwag_hub::auth::new_token();
    let password: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(*c))
        .take(16)
        .collect();
    Ok((password, true))
}

fn when(millis: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis.max(0) as u64);
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Days since the epoch to a civil date (Howard Hinnant's algorithm), UTC.
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

/// Runs `chinwag admin ...` against the hub on `dir` (live) or its store (stopped).
async fn hub_admin(command: HubAdmin, dir: PathBuf) -> anyhow::Result<()> {
    use chinwag_proto::admin::{CreateUserRequest, UpdateUserRequest};
    let target = chinwag_node::admin::Target::open(&dir).await?;
    let via = if target.is_live() {
        "through the running hub"
    } else {
        "on the stopped hub's store"
    };
    let result = async {
        match command {
            HubAdmin::Users { action } => match action {
                UsersAction::List { json } => {
                    let users = target.users().await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&users)?);
                    } else {
                        println!("ID\tUSERNAME\tNAME\tROLE\tSTATE\tSESSIONS\tPRESENCE");
                        for u in &users {
                            println!(
                                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                                u.user.id,
                                u.user.username,
                                u.user.display_name,
                                if u.user.is_admin { "admin" } else { "member" },
                                if u.user.disabled {
                                    "disabled"
                                } else {
                                    "active"
                                },
                                u.sessions,
                                serde_json::to_value(u.presence)?.as_str().unwrap_or("")
                            );
                        }
                    }
                    eprintln!("users: {} accounts ({via})", users.len());
                }
                UsersAction::Create {
                    username,
                    display_name,
                    admin,
                    password_stdin,
                } => {
                    let (password, generated) = new_password(password_stdin)?;
                    let user = target
                        .create_user(CreateUserRequest {
                            username,
                            display_name,
                            password: password.clone(),
                            admin,
                        })
                        .await?;
                    if generated {
                        println!("{password}");
                    }
                    eprintln!(
                        "users: created {} (id {}{}){}, {via}",
                        user.user.username,
                        user.user.id,
                        if user.user.is_admin {
                            ", hub admin"
                        } else {
                            ""
                        },
                        if generated {
                            "; its password is printed above, hand it over privately"
                        } else {
                            ""
                        }
                    );
                }
                UsersAction::ResetPassword {
                    username,
                    password_stdin,
                } => {
                    let user = target.user(&username).await?;
                    let (password, generated) = new_password(password_stdin)?;
                    let body = UpdateUserRequest {
                        password: Some(password.clone()),
                        ..Default::default()
                    };
                    let user = target.update_user(user.user.id, body).await?;
                    if generated {
                        println!("{password}");
                    }
                    eprintln!(
                        "users: new password for {}; signed out everywhere ({via})",
                        user.user.username
                    );
                }
                switch => {
                    let (username, disabled, admin, done) = match switch {
                        UsersAction::Disable { username } => (
                            username,
                            Some(true),
                            None,
                            "disabled; its sessions are closed",
                        ),
                        UsersAction::Enable { username } => {
                            (username, Some(false), None, "enabled")
                        }
                        UsersAction::Promote { username } => {
                            (username, None, Some(true), "is now a hub admin")
                        }
                        UsersAction::Demote { username } => {
                            (username, None, Some(false), "is no longer a hub admin")
                        }
                        _ => unreachable!("handled above"),
                    };
                    let body = UpdateUserRequest {
                        disabled,
                        admin,
                        password: None,
                    };
                    let user = target.user(&username).await?;
                    let user = target.update_user(user.user.id, body).await?;
                    eprintln!("users: {} {done} ({via})", user.user.username);
                }
            },
            HubAdmin::Conversations {
                action: ConversationsAction::List { json },
            } => {
                let list = target.conversations().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    println!("ID\tKIND\tNAME\tMEMBERS\tMESSAGES\tFILES\tLAST ACTIVITY");
                    for c in &list {
                        let conv = &c.conversation;
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            conv.id,
                            serde_json::to_value(conv.kind)?.as_str().unwrap_or(""),
                            conv.name.as_deref().unwrap_or("-"),
                            c.members,
                            c.messages,
                            c.files,
                            when(conv.last_activity_at)
                        );
                    }
                }
                eprintln!("conversations: {} ({via})", list.len());
            }
            HubAdmin::Stats { json } => {
                let s = target.stats().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&s)?);
                } else {
                    let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1_048_576.0);
                    println!(
                        "users          {} ({} admins, {} disabled)",
                        s.users, s.admins, s.disabled_users
                    );
                    println!(
                        "online         {} people on {} connections",
                        s.users_online, s.connections
                    );
                    println!("conversations  {}", s.conversations);
                    println!("messages       {}", s.messages);
                    println!(
                        "files          {} ({} of content)",
                        s.files,
                        mib(s.file_bytes)
                    );
                    println!("store          {}", mib(s.store_bytes));
                    println!("open reports   {}", s.open_reports);
                    println!(
                        "retention      {}",
                        if s.retention_days == 0 {
                            "off (everything is kept)".to_owned()
                        } else {
                            format!("{} days", s.retention_days)
                        }
                    );
                    println!(
                        "sessions       {}",
                        if s.session_idle_days == 0 {
                            "kept until sign-out".to_owned()
                        } else {
                            format!("signed out after {} idle days", s.session_idle_days)
                        }
                    );
                }
                eprintln!("stats: {} ({via})", dir.display());
            }
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    target.close().await;
    result
}

/// Runs an admin command; prints one line of outcome on success, one clear error otherwise.
fn admin(command: AdminCommand, dir: PathBuf) -> ExitCode {
    use chinwag_store::admin;
    let db = dir.join(chinwag_node::DB_FILE);
    let outcome = match command {
        AdminCommand::Admin { .. } => unreachable!("run by hub_admin"),
        AdminCommand::Backup { file } => {
            admin::backup(&db, &file).map(|s| {
                format!(
                "backup: {} users, {} conversations, {} messages (schema {}) copied from {} to {}",
                s.users, s.conversations, s.messages, s.schema_version, db.display(), file.display()
            )
            })
        }
        AdminCommand::Restore { file } => admin::restore(&file, &db).map(|(s, kept)| {
            let kept = kept.map_or(String::new(), |k| {
                format!("; the previous store is kept at {}", k.display())
            });
            format!(
                "restore: {} users, {} conversations, {} messages from {} into {}{kept}",
                s.users,
                s.conversations,
                s.messages,
                file.display(),
                db.display()
            )
        }),
        AdminCommand::Export { user, out } => admin::export_user(&db, &user).and_then(|export| {
            let json = serde_json::to_string_pretty(&export)?;
            let messages: usize = export
                .conversations
                .iter()
                .map(|c| c.messages.len())
                .sum::<usize>()
                + export.sent_elsewhere.len();
            match &out {
                None => {
                    println!("{json}");
                    Ok(format!(
                        "export: {user}: {} conversations, {messages} messages",
                        export.conversations.len()
                    ))
                }
                Some(path) => {
                    use std::io::Write;
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)
                        .and_then(|mut f| f.write_all(json.as_bytes()))
                        .map_err(|e| {
                            chinwag_store::StoreError::Unavailable(format!(
                                "cannot write {}: {e}",
                                path.display()
                            ))
                        })?;
                    Ok(format!(
                        "export: {user}: {} conversations, {messages} messages written to {}",
                        export.conversations.len(),
                        path.display()
                    ))
                }
            }
        }),
    };
    match outcome {
        Ok(line) => {
            eprintln!("{line}");
            ExitCode::SUCCESS
        }
        Err(chinwag_store::StoreError::NotFound(what)) => {
            eprintln!("chinwag: no such {what} in {}", db.display());
            ExitCode::FAILURE
        }
        Err(chinwag_store::StoreError::Invalid { reason, .. }) => {
            eprintln!("chinwag: {reason}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("chinwag: {err}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let file = match &cli.config {
        Some(path) => match FileSettings::load(path) {
            Ok(file) => Some(file),
            Err(err) => {
                eprintln!("chinwag: {err:#}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let settings = match settings(&cli, &matches, file) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("chinwag: {err:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);

    match cli.command {
        Some(AdminCommand::Admin { what }) => return run(hub_admin(what, settings.data_dir)),
        Some(command) => return admin(command, settings.data_dir),
        None => {}
    }
    if cli.discover {
        return discover(cli.timeout, cli.first, cli.mdns_loopback);
    }
    if let Some(hub) = cli.join {
        let options = JoinOptions {
            hub,
            bind: cli.bind.unwrap_or(JoinOptions::default().bind),
            data_dir: cli.data_dir,
            browse: !cli.no_mdns,
            browse_loopback: cli.mdns_loopback,
        };
        return run(chinwag_node::join::run_join(options));
    }
    #[cfg(feature = "desktop")]
    if !cli.server {
        return desktop::run(cli.data_dir, cli.mdns_loopback);
    }
    if !cli.server {
        eprintln!(
            "chinwag: this build has no desktop window; run `chinwag --server` to host a hub, \
             or `chinwag --join HOST:PORT` to use one, and open the printed address in a browser."
        );
        return ExitCode::from(2);
    }
    if cli.print_config {
        print!("{}", settings.to_toml());
        return ExitCode::SUCCESS;
    }
    let mut options = settings.server_options();
    if cli.mdns_loopback && settings.mdns {
        options.mdns = chinwag_node::Mdns::IncludingLoopback;
    }
    run(chinwag_node::run_server(options))
}

/// Logs go to standard error, as text (coloured on a terminal) or JSON lines; `RUST_LOG`
/// picks the levels.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,warp=warn,hyper=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

/// Merges the command line (flags and their environment variables, which clap has already
/// read) over the config file, over the defaults, noting where each value came from.
struct Merge<'a> {
    matches: &'a ArgMatches,
    sources: std::collections::BTreeMap<&'static str, Source>,
}

impl Merge<'_> {
    /// The command line's value if it was given there or in the environment, else the
    /// file's, else the command line's default. `key` is the file's name for it, `id` clap's.
    fn take<T>(&mut self, key: &'static str, id: &str, file: Option<T>, cli: T) -> T {
        let (source, value) = match (self.matches.value_source(id), file) {
            (Some(ValueSource::CommandLine), _) => (Source::Flag, cli),
            (Some(ValueSource::EnvVariable), _) => (Source::Env, cli),
            (_, Some(value)) => (Source::File, value),
            (_, None) => (Source::Default, cli),
        };
        self.sources.insert(key, source);
        value
    }
}

fn settings(
    cli: &Cli,
    matches: &ArgMatches,
    file: Option<FileSettings>,
) -> anyhow::Result<Settings> {
    let file = file.unwrap_or_default();
    let mut m = Merge {
        matches,
        sources: std::collections::BTreeMap::new(),
    };
    let bind = m
        .take("bind", "bind", file.bind.map(Some), cli.bind)
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)));
    let data_dir = match m.take(
        "data_dir",
        "data_dir",
        file.data_dir.map(Some),
        cli.data_dir.clone(),
    ) {
        Some(dir) => dir,
        None => chinwag_node::default_data_dir()?,
    };
    let name = m.take("name", "name", file.name, cli.name.clone());
    if name.trim().is_empty() {
        anyhow::bail!("--name must not be empty");
    }
    let join_code = m
        .take(
            "join_code",
            "join_code",
            file.join_code.map(Some),
            cli.join_code.clone(),
        )
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let mdns = m.take("mdns", "no_mdns", file.mdns, !cli.no_mdns);
    let log_format = m.take("log_format", "log_format", file.log_format, cli.log_format);
    let sync = m.take("sync", "sync", file.sync, cli.sync);
    let allow_origins = m.take(
        "allow_origins",
        "allow_origins",
        file.allow_origins,
        cli.allow_origins.clone(),
    );
    let limits = &file.limits;
    let max_message_bytes = m.take(
        "limits.max_message_bytes",
        "max_message_bytes",
        limits.max_message_bytes,
        cli.max_message_bytes,
    );
    let max_upload_mb = m.take(
        "limits.max_upload_mb",
        "max_upload_mb",
        limits.max_upload_mb,
        cli.max_upload_mb,
    );
    let messages_per_second = m.take(
        "limits.messages_per_second",
        "messages_per_second",
        limits.messages_per_second,
        cli.messages_per_second,
    );
    let retention_days = m.take(
        "retention.days",
        "retention_days",
        file.retention.days,
        cli.retention_days,
    );
    let session_idle_days = m.take(
        "sessions.idle_days",
        "session_idle_days",
        file.sessions.idle_days,
        cli.session_idle_days,
    );
    Ok(Settings {
        bind,
        data_dir,
        name,
        join_code,
        mdns,
        log_format,
        sync,
        allow_origins,
        max_message_bytes,
        max_upload_mb,
        messages_per_second,
        retention_days,
        session_idle_days,
        sources: m.sources,
        file: cli.config.clone(),
    })
}

/// Browses for `seconds` and prints each hub once, as soon as it is resolved.
fn discover(seconds: f64, first: bool, loopback: bool) -> ExitCode {
    if !(0.0..=3600.0).contains(&seconds) {
        eprintln!("chinwag: --timeout must be between 0 and 3600 seconds");
        return ExitCode::from(2);
    }
    let options = chinwag_discovery::Options {
        include_loopback: loopback,
    };
    let mut browser = match chinwag_discovery::Browser::start(options) {
        Ok(browser) => browser,
        Err(err) => {
            eprintln!("chinwag: cannot browse the LAN: {err}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let mut seen = std::collections::HashSet::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        if let Some(
            chinwag_discovery::HubEvent::Added(hub) | chinwag_discovery::HubEvent::Updated(hub),
        ) = browser.next_timeout(left)
        {
            if seen.insert(hub.id.clone()) {
                let address = match hub.addresses.first() {
                    Some(ip @ std::net::IpAddr::V6(_)) => format!("[{ip}]:{}", hub.port),
                    Some(ip) => format!("{ip}:{}", hub.port),
                    None => continue,
                };
                println!("{address}\t{}\t{}", hub.name, hub.id);
                if first {
                    break;
                }
            }
        }
    }
    if seen.is_empty() {
        eprintln!("chinwag: no hub answered within {seconds} s");
    }
    ExitCode::SUCCESS
}

/// The async runtime, or a one-line error for the user.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The blocking pool runs store reads and password hashing. Tokio's default allows 512
        // threads, which a connect storm can start; a few dozen keep the cores busy as well.
        .max_blocking_threads(32)
        .build()
        .map_err(|err| {
            eprintln!("chinwag: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        })
}

fn run(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chinwag: {err:#}");
            ExitCode::FAILURE
        }
    }
}
