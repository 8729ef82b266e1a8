//! The `chinwag` binary: glue that reads the command line and starts a node.
//!
//! `chinwag --server` runs a headless hub; `chinwag --join HOST:PORT` uses a hub elsewhere on
//! the LAN and serves its UI on loopback. Without either the desktop window opens (`desktop/`,
//! with the `desktop` feature); a headless build says so and points at the other two. This
//! file parses and dispatches; the options, admin commands and settings merge are in `cli/`.

mod cli;
#[cfg(feature = "desktop")]
mod desktop;

use std::process::ExitCode;

use chinwag_node::config::FileSettings;
use chinwag_node::join::JoinOptions;
use clap::{CommandFactory, FromArgMatches};

use cli::{admin, discover, doctor, hub_admin, init_logging, settings, AdminCommand, Cli};

fn main() -> ExitCode {
    // Whatever umask it was started with, what Chinwag writes is its owner's alone.
    chinwag_node::private_by_default();
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
    // Connections are bounded by the hub's caps, not by a soft limit of 1,024 files.
    if let Err(err) = chinwag_web::serve::raise_open_files() {
        eprintln!("chinwag: cannot raise the open-files limit (keeping it): {err}");
    }

    match cli.command {
        Some(AdminCommand::Admin { what }) => return run(hub_admin(what, settings.data_dir)),
        Some(AdminCommand::Doctor { address, json }) => {
            return match runtime() {
                Ok(rt) => doctor(
                    &rt.block_on(chinwag_node::doctor::check_address(&address)),
                    json,
                ),
                Err(code) => code,
            };
        }
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
