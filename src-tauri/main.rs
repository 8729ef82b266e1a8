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

use chinwag_node::join::JoinOptions;
use chinwag_node::{ServerOptions, DEFAULT_PORT};
use clap::Parser;

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

    /// Do not advertise the hub on the LAN with mDNS (with --join: do not browse for hubs).
    #[arg(long, env = "CHINWAG_NO_MDNS")]
    no_mdns: bool,

    /// Advertise on loopback too (one-machine setups and tests in a network namespace).
    #[arg(long, hide = true, env = "CHINWAG_MDNS_LOOPBACK")]
    mdns_loopback: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SyncMode {
    Full,
    Normal,
}

/// Admin commands on a data directory (`--data-dir`, or the default one).
#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
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

/// Runs an admin command; prints one line of outcome on success, one clear error otherwise.
fn admin(command: AdminCommand, data_dir: Option<PathBuf>) -> ExitCode {
    use chinwag_store::admin;
    let dir = match data_dir.map_or_else(chinwag_node::default_data_dir, Ok) {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("chinwag: {err}");
            return ExitCode::FAILURE;
        }
    };
    let db = dir.join(chinwag_node::DB_FILE);
    let outcome = match command {
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
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,warp=warn,hyper=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    if let Some(command) = cli.command {
        return admin(command, cli.data_dir);
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

    let mut options = ServerOptions {
        bind: cli
            .bind
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))),
        data_dir: cli.data_dir,
        ..ServerOptions::default()
    };
    options.mdns = match (cli.no_mdns, cli.mdns_loopback) {
        (true, _) => chinwag_node::Mdns::Off,
        (false, true) => chinwag_node::Mdns::IncludingLoopback,
        (false, false) => chinwag_node::Mdns::On,
    };
    options.hub.name = cli.name.trim().to_owned();
    if options.hub.name.is_empty() {
        eprintln!("chinwag: --name must not be empty");
        return ExitCode::from(2);
    }
    options.hub.join_code = cli
        .join_code
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let max = cli.max_message_bytes as usize;
    options.hub.max_message_bytes = max;
    // A frame carries the message plus its JSON envelope (escaping can double the size).
    options.hub.max_frame_bytes = options.hub.max_frame_bytes.max(max * 2 + 4096);
    options.hub.max_body_bytes = options.hub.max_body_bytes.max(max * 2 + 4096);
    options.hub.messages_per_second = cli.messages_per_second;
    options.hub.max_upload_bytes = cli.max_upload_mb * 1024 * 1024;
    options.hub.store.durability = match cli.sync {
        SyncMode::Full => chinwag_store::Durability::Full,
        SyncMode::Normal => chinwag_store::Durability::Normal,
    };
    options.hub.message_burst = options.hub.message_burst.max(cli.messages_per_second * 3);
    options.hub.allowed_origins = cli
        .allow_origins
        .into_iter()
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();

    run(chinwag_node::run_server(options))
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
