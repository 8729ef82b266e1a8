//! A joined node in the test process (warp + sled on disk) that uses a test hub: what
//! `chinwag --join` runs, with a fast link backoff.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chinwag_node::join::{self, Directory, HubAddress, Joined, LinkState};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Api, WAIT};

/// A joined node serving its UI and WebSocket on `127.0.0.1:0`.
pub struct TestNode {
    pub addr: SocketAddr,
    pub joined: Arc<Joined>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl TestNode {
    pub async fn start(dir: &Path, hub: SocketAddr) -> TestNode {
        Self::start_keeping(dir, hub, None).await
    }

    /// Like [`TestNode::start`], with a log of `keep` events instead of the default.
    pub async fn start_keeping(dir: &Path, hub: SocketAddr, keep: Option<usize>) -> TestNode {
        let address = HubAddress::parse(&hub.to_string()).expect("address");
        // sled holds a lock until every handle of the last run is gone; wait for it.
        let mut store = None;
        for _ in 0..100 {
            match join::open_store(dir, &address) {
                Ok(s) => {
                    store = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let mut store = store.expect("node state opens");
        if let Some(keep) = keep {
            store = store.with_log_keep(keep);
        }
        let joined = Joined::open_with_backoff(
            store,
            address,
            (Duration::from_millis(50), Duration::from_millis(400)),
        )
        .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(join::serve(
            listener,
            joined.clone(),
            Directory::new(Vec::new()),
            async move {
                let _ = rx.await;
            },
        ));
        TestNode {
            addr,
            joined,
            stop,
            task,
        }
    }

    pub fn api(&self) -> Api {
        Api::new(self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    pub async fn online(&self) {
        tokio::time::timeout(WAIT, self.joined.wait_for(|s| *s == LinkState::Online))
            .await
            .expect("the node reaches the hub");
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("node stops")
            .expect("node task");
    }
}
