//! `chinwag --server` on the LAN: it advertises itself with mDNS (unless `--no-mdns`) and says
//! goodbye on shutdown. Runs inside a private user + network namespace that the test makes, so
//! nothing is multicast on the real network.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chinwag_discovery::test_support::in_private_netns;
use chinwag_discovery::{Browser, HubEvent, Options};

/// Starts the binary; returns it and its port.
fn hub(extra: &[&str], dir: &std::path::Path) -> (std::process::Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args([
            "--server",
            "--bind",
            "0.0.0.0:0",
            "--name",
            "Namespace Office",
            "--mdns-loopback",
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("http://127.0.0.1:")
                .map(|p| p.trim_end_matches('/').parse::<u16>().expect("port"))
        })
        .expect("prints its URL");
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

fn wait_for(
    browser: &mut Browser,
    within: Duration,
    want: impl Fn(&HubEvent) -> bool,
) -> Option<HubEvent> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(event) = browser.next_timeout(Duration::from_millis(200)) {
            if want(&event) {
                return Some(event);
            }
        }
    }
    None
}

#[test]
fn the_server_advertises_itself_and_says_goodbye() {
    if in_private_netns("discovery::the_server_advertises_itself_and_says_goodbye") {
        return;
    }
    let mut browser = Browser::start(Options {
        include_loopback: true,
    })
    .expect("browser");
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, port) = hub(&[], dir.path());
    let found = wait_for(&mut browser, Duration::from_secs(5), |e| {
        matches!(e, HubEvent::Added(_))
    })
    .expect("the hub is found within seconds");
    let HubEvent::Added(found) = found else {
        unreachable!()
    };
    assert_eq!(found.name, "Namespace Office");
    assert_eq!(found.port, port);
    assert_eq!(found.protocol, Some(chinwag_proto::PROTOCOL_VERSION));
    // The advertised id is the hub's own, stable id.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let info: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/api/v1/hub"))
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(info["id"], found.id.as_str());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let gone = wait_for(&mut browser, Duration::from_secs(5), |e| {
        *e == HubEvent::Removed(found.id.clone())
    });
    assert!(gone.is_some(), "a clean shutdown removes the hub");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(child.wait().expect("exits").code(), Some(0));
}

#[test]
fn no_mdns_keeps_the_hub_off_the_lan() {
    if in_private_netns("discovery::no_mdns_keeps_the_hub_off_the_lan") {
        return;
    }
    let mut browser = Browser::start(Options {
        include_loopback: true,
    })
    .expect("browser");
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, _) = hub(&["--no-mdns"], dir.path());
    let seen = wait_for(&mut browser, Duration::from_secs(3), |e| {
        matches!(e, HubEvent::Added(_))
    });
    assert_eq!(seen, None, "nothing advertised");
    let _ = child.kill();
    let _ = child.wait();
}
