//! Chinwag's files are private to the account that runs it, whatever its umask (issue 21,
//! item 6): the data directory is 0700 and everything in it 0600 (database, WAL, SHM,
//! uploads, backups, a joined node's sled store with its session token); an existing open
//! directory is made private at start, with one log line; another user's is refused.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{can_run, start_logged, Api, Need};

const NOBODY: u32 = 65534;

/// `chinwag ARGS` as the user `nobody`, with the usual umask of 022.
fn as_nobody(args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "sh",
            "-c",
            r#"umask 022 && exec "$0" "$@""#,
            env!("CARGO_BIN_EXE_chinwag"),
        ])
        .args(args)
        .env("RUST_LOG", "info");
    command
}

fn hub_as_nobody(data: &Path) -> Command {
    as_nobody(&[
        "--server",
        "--no-mdns",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().expect("utf-8"),
    ])
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file and folder under `dir` (and `dir` itself) that others may read or enter.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if mode(&path) & 0o077 != 0 {
            open.push(format!("{} {:o}", path.display(), mode(&path)));
        }
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                stack.push(entry.expect("entry").path());
            }
        }
    }
    open
}

fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::test]
async fn what_chinwag_writes_is_private_to_the_account_that_runs_it() {
    if !can_run(
        "data privacy",
        Need::Root("to run the binary as another user"),
    ) {
        return;
    }
    let root = tempfile::tempdir().expect("dir");
    std::os::unix::fs::chown(root.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data = root.path().join("data");

    // A hub run by a normal user with umask 022: a message, an upload and a backup later,
    // nothing in its data directory is open to other users.
    let (mut hub, addr, log) = start_logged(hub_as_nobody(&data));
    let api = Api::new(addr.parse().expect("addr"));
    let alice = api.register("alice").await;
    assert_eq!(api.send(&alice, 1, "m1", "private words").await.status, 201);
    let upload = api
        .upload(
            &alice,
            1,
            "notes.txt",
            "text/plain",
            b"private file".to_vec(),
        )
        .await;
    assert_eq!(upload.status, 201, "{:?}", upload.body);
    let backup = root.path().join("backup.db");
    let out = as_nobody(&[
        "backup",
        backup.to_str().expect("utf-8"),
        "--data-dir",
        data.to_str().expect("utf-8"),
    ])
    .output()
    .expect("backup runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A joined node run the same way: its sled store holds the session token.
    let node_data = root.path().join("node");
    let mut node = as_nobody(&[
        "--join",
        &addr,
        "--no-mdns",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        node_data.to_str().expect("utf-8"),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("node starts");
    let stdout = node.stdout.take().expect("stdout");
    let running = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("is running"));
    assert!(running, "the node started");

    assert_eq!(mode(&data), 0o700);
    for file in ["chinwag.db", "chinwag.db-wal", "chinwag.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&backup), 0o600, "the backup");
    assert_eq!(
        open_to_others(&data),
        Vec::<String>::new(),
        "the hub's data"
    );
    assert_eq!(mode(&node_data), 0o700);
    assert_eq!(
        open_to_others(&node_data),
        Vec::<String>::new(),
        "the node's data"
    );
    stop(&mut node);
    stop(&mut hub);
    let _ = log.join();

    // A directory left open by an older version is made private at start, saying so once.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(
        data.join("chinwag.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let (mut hub, _addr, log) = start_logged(hub_as_nobody(&data));
    stop(&mut hub);
    let log = log.join().expect("log");
    assert!(
        log.contains("was readable by other users; made private (2 files and folders"),
        "{log}"
    );
    assert_eq!(open_to_others(&data), Vec::<String>::new());

    // Another user's data directory is refused, even one it could write to.
    let theirs = root.path().join("theirs");
    std::fs::create_dir(&theirs).expect("dir");
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = hub_as_nobody(&theirs).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("belongs to another user (uid 0; you are uid 65534)"),
        "{stderr}"
    );
    println!(
        "secrets at rest: a hub and a joined node run as a normal user with umask 022 keep \
         their data directories 0700 and every file 0600 (database, WAL, SHM, uploads, \
         backup, sled); an open directory is made private at start; another user's is refused"
    );
}
