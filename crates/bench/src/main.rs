//! `chinwag-bench`: measures a real Chinwag hub on loopback, driven by the project's own
//! client (`chinwag_link::raw`) over real WebSockets, beside a minimal tokio-tungstenite
//! broadcast server (the floor) measured in the same run.
//!
//! ```text
//! cargo build --release --no-default-features --bin chinwag
//! cargo run --release -p chinwag-bench -- all
//! ```
//!
//! Each scenario prints a human summary and one JSON line per run (lines starting with
//! `{"bench":`). Load only ever goes to loopback; every loop is bounded in count and time.

mod floor;
mod hub;
mod load;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: chinwag-bench [SCENARIO...] [--smoke] [--hub PATH] [--hub-arg ARG]...

scenarios: fanout saturation connections persistence history footprint all (the default)
  --smoke     a few seconds per scenario, to check the tool works (CI runs this)
  --hub PATH  the chinwag binary to measure (default: the one next to this binary, built
              with `cargo build --release --no-default-features --bin chinwag`)
  --hub-arg ARG  one more argument for the hub, e.g. --hub-arg=--sync=normal";

#[derive(Debug, Clone)]
pub struct Options {
    pub smoke: bool,
    pub hub_bin: PathBuf,
    pub hub_args: Vec<String>,
    /// `taskset` CPU lists for the server under test and for this load generator, when the
    /// machine has at least two cores.
    pub pin: Option<(String, String)>,
    pub cores: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("floor-server") {
        return floor::main();
    }
    let mut scenarios = Vec::new();
    let mut smoke = false;
    let mut hub_bin = None;
    let mut hub_args = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--hub" => match it.next() {
                Some(path) => hub_bin = Some(PathBuf::from(path)),
                None => return usage("--hub needs a path"),
            },
            "--hub-arg" => match it.next() {
                Some(value) => hub_args.push(value),
                None => return usage("--hub-arg needs a value"),
            },
            s if s.starts_with("--hub-arg=") => hub_args.push(s["--hub-arg=".len()..].to_owned()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "all" => scenarios.extend(scenarios::ALL.iter().map(|s| s.to_string())),
            s if scenarios::ALL.contains(&s) => scenarios.push(s.to_owned()),
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    if scenarios.is_empty() {
        scenarios.extend(scenarios::ALL.iter().map(|s| s.to_string()));
    }
    let hub_bin = hub_bin.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("chinwag")))
            .unwrap_or_else(|| PathBuf::from("target/release/chinwag"))
    });
    if !hub_bin.is_file() {
        eprintln!(
            "chinwag-bench: no hub binary at {}; build it first with \
             `cargo build --release --no-default-features --bin chinwag` (or pass --hub PATH)",
            hub_bin.display()
        );
        return ExitCode::from(2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The server under test gets core 0, the load generator the next one: they do not
    // compete, and the figures say how many cores each had.
    let pin = (cores >= 2).then(|| ("0".to_owned(), "1".to_owned()));
    if let Some((_, load)) = &pin {
        let pid = std::process::id().to_string();
        let pinned = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", load, &pid])
            .stdout(std::process::Stdio::null())
            .status();
        if !pinned.is_ok_and(|s| s.success()) {
            eprintln!("chinwag-bench: taskset is missing; install util-linux");
            return ExitCode::from(2);
        }
    }
    let options = Options {
        smoke,
        hub_bin,
        hub_args,
        pin,
        cores,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("chinwag-bench: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    report::machine(&options);
    let mut failed = false;
    for scenario in &scenarios {
        if let Err(err) = runtime.block_on(scenarios::run(scenario, &options)) {
            eprintln!("chinwag-bench: {scenario}: {err:#}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("chinwag-bench: {problem}\n{USAGE}");
    ExitCode::from(2)
}
