//! The server under test as a separate process (the real `chinwag --server` binary, or the
//! floor), pinned to its own core, and the accounts it serves created ahead in its store.

use chinwag_proto::{ConversationId, UserId};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chinwag_store::{Store, StoreConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Options;

/// An account the load generator connects as.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: UserId,
    pub token: String,
}

/// Creates `n` users (all members of `general`) with a session each, straight in the store
/// before the hub starts: registering through the API would spend most of the run hashing
/// passwords with argon2.
pub async fn seed_users(dir: &Path, prefix: &str, n: usize) -> Result<Vec<Account>> {
    let store = open_store(dir)?;
    let mut accounts = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(1000) {
        let chunk: Vec<(String, String)> = (chunk_start..n.min(chunk_start + 1000))
            .map(|i| (format!("{prefix}{i}"), chinwag_hub::auth::new_token()))
            .collect();
        let hashes: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|(name, token)| (name.clone(), chinwag_hub::auth::token_hash(token)))
            .collect();
        let ids = store
            .write(move |tx| {
                let mut ids = Vec::with_capacity(hashes.len());
                for (name, hash) in &hashes {
                    let user = tx.register(name, name, "benchmark account: no password")?;
                    tx.create_session(user.id, hash)?;
                    ids.push(user.id);
                }
                Ok(ids)
            })
            .await
            .context("creating accounts")?;
        accounts.extend(
            ids.into_iter()
                .zip(chunk)
                .map(|(id, (_, token))| Account { id, token }),
        );
    }
    store.close().await;
    Ok(accounts)
}

/// Gives each of `senders` a group with `size` members: itself and `size - 1` of `others`
/// (taken in turn). Returns the group ids in the senders' order. With `size` 1 each sender
/// is alone, so what it sends is delivered to no one else: for measuring the store rather
/// than fan-out.
pub async fn seed_groups(
    dir: &Path,
    senders: &[Account],
    others: &[Account],
    size: usize,
) -> Result<Vec<ConversationId>> {
    let store = open_store(dir)?;
    let senders: Vec<UserId> = senders.iter().map(|a| a.id).collect();
    let others: Vec<UserId> = others.iter().map(|a| a.id).collect();
    let groups = store
        .write(move |tx| {
            let mut next = others.iter().cycle();
            senders
                .iter()
                .map(|&id| {
                    let members: Vec<UserId> = next.by_ref().take(size - 1).copied().collect();
                    Ok(tx
                        .create_group(id, &format!("team {id}"), &members)?
                        .conversation
                        .id)
                })
                .collect::<chinwag_store::Result<Vec<ConversationId>>>()
        })
        .await
        .context("creating groups")?;
    store.close().await;
    Ok(groups)
}

/// Stores `total` messages in `general` from `senders`, in transactions of 10,000.
pub async fn seed_messages(dir: &Path, senders: &[Account], total: usize) -> Result<()> {
    let store = open_store(dir)?;
    let senders: Arc<Vec<UserId>> = Arc::new(senders.iter().map(|a| a.id).collect());
    let mut done = 0;
    while done < total {
        let count = (total - done).min(10_000);
        let senders = senders.clone();
        let start = done;
        store
            .write(move |tx| {
                for n in start..start + count {
                    let me = senders[n % senders.len()];
                    let body = format!("history line {n}: {}", words(n as u64, 8));
                    tx.send_message(
                        me,
                        ConversationId(1),
                        &format!("seed-{n}"),
                        &body,
                        16 * 1024,
                    )?;
                }
                Ok(())
            })
            .await
            .context("storing messages")?;
        done += count;
    }
    // Index them for search now, as a hub would have while they arrived.
    while store
        .write(|tx| tx.index_pending(50_000))
        .await
        .context("indexing messages")?
        > 0
    {}
    store.close().await;
    Ok(())
}

/// Syllables of the benchmark's made-up vocabulary: 16³ = 4,096 words of three syllables.
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "va", "we", "xi", "yo", "zu", "be", "do", "fi",
];

/// The vocabulary's `k`th word (`k` below 4,096).
pub fn word(k: u64) -> String {
    (0..3)
        .map(|i| SYLLABLES[((k >> (4 * i)) & 15) as usize])
        .collect()
}

/// `count` words for message `n`, drawn so that a few words are common and most are rare
/// (the square of a uniform draw favours low indices), as in real text.
pub fn words(n: u64, count: usize) -> String {
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state % 4096) as f64 / 4096.0;
            word((uniform * uniform * 4096.0) as u64)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn open_store(dir: &Path) -> Result<Store> {
    let config = StoreConfig {
        max_batch: 1,
        ..StoreConfig::default()
    };
    Store::open(&dir.join("chinwag.db"), config, Arc::new(|_| {}))
        .with_context(|| format!("opening the store in {}", dir.display()))
}

/// A server under test, running in its own process.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// From spawn to its "listening" line.
    pub started_in: Duration,
}

impl Server {
    /// `chinwag --server` on a loopback port with the given data directory. Limits meant for
    /// people (messages per second, connections per address) are opened up: the load comes
    /// from one machine.
    pub async fn hub(options: &Options, dir: &Path) -> Result<Server> {
        let bin = options.hub_bin.to_string_lossy().into_owned();
        let dir = dir.to_string_lossy().into_owned();
        let mut args = vec![
            bin.as_str(),
            "--server",
            "--no-mdns",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            &dir,
            "--messages-per-second",
            "1000000",
        ];
        args.extend(options.hub_args.iter().map(String::as_str));
        Self::spawn(options, &args, "http://127.0.0.1:").await
    }

    /// The floor server (`chinwag-bench floor-server`).
    pub async fn floor(options: &Options) -> Result<Server> {
        let me = std::env::current_exe().context("finding this binary")?;
        let me = me.to_string_lossy().into_owned();
        Self::spawn(options, &[me.as_str(), "floor-server"], "listening on ").await
    }

    async fn spawn(options: &Options, args: &[&str], marker: &str) -> Result<Server> {
        let mut command = match &options.pin {
            Some((server_cpus, _)) => {
                let mut c = Command::new("taskset");
                c.args(["-c", server_cpus]).args(args);
                c
            }
            None => {
                let mut c = Command::new(args[0]);
                c.args(&args[1..]);
                c
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", args[0]))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("the server did not start within 30 s")??;
            let Some(line) = line else {
                bail!("{} exited before listening", args[0]);
            };
            if let Some(at) = line.find(marker) {
                let rest = &line[at + marker.len()..];
                let rest = rest.trim_end_matches('/');
                let addr = if marker.starts_with("http") {
                    format!("127.0.0.1:{rest}")
                } else {
                    rest.to_owned()
                };
                break addr
                    .parse::<SocketAddr>()
                    .context("the listening address")?;
            }
        };
        let started_in = started.elapsed();
        // Keep reading stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            addr,
            started_in,
        })
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    pub fn http_base(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.child.id().map_or(0, rss_kib)
    }

    /// CPU time the server process has used (user and system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let Some(pid) = self.child.id() else {
            return 0.0;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return 0.0;
        };
        // Fields after the command's closing parenthesis; utime and stime are the 14th and
        // 15th of the line, in clock ticks (100 a second on Linux).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        ticks as f64 / 100.0
    }

    /// SIGTERM, then wait (the hub shuts down gracefully).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// VmRSS of a process, in KiB (0 if it cannot be read). With `taskset` in front, the pid is
/// the server's own: taskset execs it.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}
