//! The command line: `chinwag` and its options (each also an environment variable), the
//! admin subcommands, the settings merge and `--discover`.

mod admin;
mod discover;
mod logging;
mod settings;

pub(crate) use admin::{admin, hub_admin};
pub(crate) use discover::{discover, doctor};
pub(crate) use logging::init_logging;
pub(crate) use settings::settings;

use std::net::SocketAddr;
use std::path::PathBuf;

/// An address people open to reach the hub (`--url`): http or https, a host, no spaces.
pub(crate) fn parse_url(text: &str) -> Result<String, String> {
    let url = text.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// address"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || url.len() > 200
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{url:?} is not an address people can open (a host, at most 200 characters, no spaces)"
        ));
    }
    Ok(url.to_owned())
}

use chinwag_node::config::{LogFormat, SyncMode};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "chinwag",
    version,
    about = "A self-contained LAN messenger: host a chat or join one, in one binary."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<AdminCommand>,

    /// Run a headless hub (no window) that browsers and apps on the LAN can join.
    #[arg(long, conflicts_with = "join")]
    pub(crate) server: bool,

    /// Use the hub at HOST[:PORT] (port 7117 unless given) and open its UI locally; messages
    /// sent while it is unreachable are kept and delivered when it is back.
    #[arg(long, env = "CHINWAG_JOIN", value_name = "HOST:PORT")]
    pub(crate) join: Option<String>,

    /// List the hubs advertised on the LAN (one per line: ADDRESS, NAME, ID, tab-separated)
    /// and exit.
    #[arg(long, conflicts_with_all = ["server", "join"])]
    pub(crate) discover: bool,

    /// With --discover: stop at the first hub found.
    #[arg(long, requires = "discover")]
    pub(crate) first: bool,

    /// With --discover: how long to listen, in seconds.
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    pub(crate) timeout: f64,

    /// Read settings from this TOML file (see docs/operations.md); flags and CHINWAG_*
    /// environment variables override what it says.
    #[arg(long, env = "CHINWAG_CONFIG", value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,

    /// With --server: print the effective settings (as TOML, each with where it came from)
    /// and exit.
    #[arg(long, requires = "server")]
    pub(crate) print_config: bool,

    /// Address and port to listen on (default 0.0.0.0:7117 for --server, 127.0.0.1:7118
    /// for --join).
    #[arg(long, env = "CHINWAG_BIND", value_name = "ADDR:PORT")]
    pub(crate) bind: Option<SocketAddr>,

    /// Where the database lives (default: the platform's data directory).
    #[arg(long, env = "CHINWAG_DATA_DIR", value_name = "DIR", global = true)]
    pub(crate) data_dir: Option<PathBuf>,

    /// The hub's name, shown to people who join.
    #[arg(long, env = "CHINWAG_NAME", default_value = "Chinwag")]
    pub(crate) name: String,

    /// Require this code to register an account.
    #[arg(long, env = "CHINWAG_JOIN_CODE", value_name = "CODE")]
    pub(crate) join_code: Option<String>,

    /// Largest message, in bytes of UTF-8.
    #[arg(long, env = "CHINWAG_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub(crate) max_message_bytes: u32,

    /// Largest file upload, in megabytes (1 MB = 1,048,576 bytes).
    #[arg(long, env = "CHINWAG_MAX_UPLOAD_MB", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) max_upload_mb: u64,

    /// Messages one user may send per second (bursts of three seconds' worth are allowed).
    #[arg(long, env = "CHINWAG_MESSAGES_PER_SECOND", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) messages_per_second: u32,

    /// Connections (HTTP and WebSocket) the hub takes from one address; more get 429.
    #[arg(long, env = "CHINWAG_CONNECTIONS_PER_ADDRESS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) connections_per_address: u32,

    /// Delete messages and their files older than this many days (0: keep everything).
    #[arg(long, env = "CHINWAG_RETENTION_DAYS", default_value_t = 0, value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub(crate) retention_days: u32,

    /// Sign out sessions not used for this many days; an open connection counts as use
    /// (0: sessions last until sign-out).
    #[arg(long, env = "CHINWAG_SESSION_IDLE_DAYS", default_value_t = 90, value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub(crate) session_idle_days: u32,

    /// Another web origin allowed to open WebSockets (repeatable), e.g. http://intranet:8080.
    #[arg(
        long = "allow-origin",
        env = "CHINWAG_ALLOW_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub(crate) allow_origins: Vec<String>,

    /// The address people open to reach this hub (repeatable), e.g. http://chat.office.lan:7117/,
    /// shown to admins to hand out (with a QR code). Default: the LAN addresses it listens on.
    #[arg(long = "url", env = "CHINWAG_URLS", value_delimiter = ',', value_name = "URL",
          value_parser = parse_url)]
    pub(crate) urls: Vec<String>,

    /// When a message counts as saved: `full` flushes every commit to the disk (survives a
    /// power cut); `normal` lets the OS flush it (survives a crash of Chinwag; faster on
    /// disks with slow flushes).
    #[arg(long, env = "CHINWAG_SYNC", value_enum, default_value_t = SyncMode::Full)]
    pub(crate) sync: SyncMode,

    /// Log lines as text for people, or as one JSON object per line for a log collector.
    #[arg(long, env = "CHINWAG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text,
          global = true)]
    pub(crate) log_format: LogFormat,

    /// Do not advertise the hub on the LAN with mDNS (with --join: do not browse for hubs).
    #[arg(long, env = "CHINWAG_NO_MDNS")]
    pub(crate) no_mdns: bool,

    /// Advertise on loopback too (one-machine setups and tests in a network namespace).
    #[arg(long, hide = true, env = "CHINWAG_MDNS_LOOPBACK")]
    pub(crate) mdns_loopback: bool,
}

/// Admin commands on a data directory (`--data-dir`, or the default one).
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AdminCommand {
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
    /// Why a hub at ADDRESS can or cannot be reached: its name, a connection, the hub's
    /// answer and version, each with what to do. Exits 1 when a check fails.
    Doctor {
        /// As you would type it to join: 192.168.1.20, office-pc.local, host:7117.
        #[arg(value_name = "ADDRESS")]
        address: String,
        /// The verdicts as JSON (an array of {check, ok, says, fix}), for scripts.
        #[arg(long)]
        json: bool,
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
pub(crate) enum HubAdmin {
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
pub(crate) enum UsersAction {
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
pub(crate) enum ConversationsAction {
    /// Every conversation: id, kind, name, members, messages, files, last activity.
    List {
        #[arg(long)]
        json: bool,
    },
}
