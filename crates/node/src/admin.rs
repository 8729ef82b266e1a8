//! `chinwag admin` on a data directory, whether or not a hub is running on it.
//!
//! A running hub holds an exclusive lock on `chinwag.lock` in its data directory and writes
//! `admin.json` (owner-only) there: its loopback URL and a fresh admin token, valid for
//! that run only. `chinwag admin` tries the lock: if a hub holds it, the command goes
//! through that hub's admin API (so its effects are live: a disabled user's connections
//! close at once); if not, it opens the store itself (holding the lock, so no hub starts
//! meanwhile) and runs the same code in-process.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chinwag_hub::{Hub, HubConfig};
use chinwag_proto::admin::{
    AdminConversation, AdminUser, CreateUserRequest, HubStats, UpdateUserRequest,
};
use chinwag_proto::UserId;
use serde::{Deserialize, Serialize};

/// The lock a running hub holds in its data directory.
pub const LOCK_FILE: &str = "chinwag.lock";
/// Where a running hub tells `chinwag admin` how to reach it.
pub const ADMIN_FILE: &str = "admin.json";

/// A data directory held by a hub: the lock, and the admin file while it serves. Dropping
/// it removes the admin file and releases the lock.
pub struct DataDirGuard {
    _lock: File,
    admin_file: Option<PathBuf>,
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct AdminFile {
    url: String,
    token: String,
}

impl DataDirGuard {
    /// Takes the data directory's lock, or says which directory is in use.
    pub fn take(dir: &Path) -> Result<DataDirGuard> {
        Self::try_take(dir)?.ok_or_else(|| {
            anyhow!(
                "another Chinwag is already using the data directory {}; stop it, or choose \
                 another with --data-dir",
                dir.display()
            )
        })
    }

    /// The lock if nobody holds it, `None` if a hub does.
    fn try_take(dir: &Path) -> Result<Option<DataDirGuard>> {
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DataDirGuard {
                _lock: file,
                admin_file: None,
                dir: dir.to_owned(),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => {
                Err(err).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// Writes the admin file (readable by this OS user only) for a hub serving on `addr`.
    pub fn publish(&mut self, addr: SocketAddr, token: &str) -> Result<()> {
        let ip = match addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let body = serde_json::to_vec_pretty(&AdminFile {
            url: format!("http://{}", SocketAddr::new(ip, addr.port())),
            token: token.to_owned(),
        })?;
        let path = self.dir.join(ADMIN_FILE);
        let _ = std::fs::remove_file(&path);
        let mut options = File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::io::Write::write_all(&mut file, &body)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.admin_file = Some(path);
        Ok(())
    }
}

impl Drop for DataDirGuard {
    fn drop(&mut self) {
        if let Some(path) = self.admin_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where admin commands go: a running hub's API, or a hub opened in this process.
pub enum Target {
    Running {
        url: String,
        token: String,
        http: reqwest::Client,
    },
    Offline {
        hub: Hub,
        _guard: DataDirGuard,
    },
}

impl Target {
    /// Finds out whether a hub runs on `dir` and connects to it, or opens the store.
    pub async fn open(dir: &Path) -> Result<Target> {
        if !dir.join(crate::DB_FILE).is_file() {
            bail!(
                "there is no Chinwag store in {} (pass the hub's --data-dir or --config)",
                dir.display()
            );
        }
        match DataDirGuard::try_take(dir)? {
            Some(guard) => {
                let db = dir.join(crate::DB_FILE);
                let hub = Hub::open(HubConfig::default(), &db)
                    .await
                    .with_context(|| format!("cannot open the database {}", db.display()))?;
                Ok(Target::Offline { hub, _guard: guard })
            }
            None => {
                let path = dir.join(ADMIN_FILE);
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "a hub is running on {} but its {} cannot be read (run this as the \
                         hub's user)",
                        dir.display(),
                        path.display()
                    )
                })?;
                let file: AdminFile = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not valid", path.display()))?;
                Ok(Target::Running {
                    url: file.url,
                    token: file.token,
                    http: reqwest::Client::builder()
                        .timeout(std::time::Duration::from_secs(30))
                        .build()?,
                })
            }
        }
    }

    /// Whether the commands go through a running hub.
    pub fn is_live(&self) -> bool {
        matches!(self, Target::Running { .. })
    }

    /// Lets an offline store commit and close.
    pub async fn close(self) {
        if let Target::Offline { hub, .. } = self {
            hub.store().close().await;
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T> {
        let Target::Running { url, token, http } = self else {
            bail!("not a running hub");
        };
        let mut req = http
            .request(method, format!("{url}/api/v1{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("the hub running at {url} does not answer"))?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{message}");
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn users(&self) -> Result<Vec<AdminUser>> {
        match self {
            Target::Offline { hub, .. } => Ok(hub.admin_users().await.map_err(api)?),
            _ => self.call(reqwest::Method::GET, "/admin/users", None).await,
        }
    }

    /// The account called `username` (case-insensitive), or a clear error.
    pub async fn user(&self, username: &str) -> Result<AdminUser> {
        self.users()
            .await?
            .into_iter()
            .find(|u| u.user.username.eq_ignore_ascii_case(username.trim()))
            .ok_or_else(|| anyhow!("there is no user called {username:?}"))
    }

    pub async fn create_user(&self, body: CreateUserRequest) -> Result<AdminUser> {
        match self {
            Target::Offline { hub, .. } => Ok(hub.admin_create_user(body).await.map_err(api)?),
            _ => {
                let body = serde_json::to_value(body)?;
                self.call(reqwest::Method::POST, "/admin/users", Some(body))
                    .await
            }
        }
    }

    pub async fn update_user(&self, id: UserId, body: UpdateUserRequest) -> Result<AdminUser> {
        match self {
            Target::Offline { hub, .. } => {
                Ok(hub.admin_update_user(id, body).await.map_err(api)?)
            }
            _ => {
                let body = serde_json::to_value(body)?;
                self.call(
                    reqwest::Method::PATCH,
                    &format!("/admin/users/{id}"),
                    Some(body),
                )
                .await
            }
        }
    }

    pub async fn conversations(&self) -> Result<Vec<AdminConversation>> {
        match self {
            Target::Offline { hub, .. } => Ok(hub.admin_conversations().await.map_err(api)?),
            _ => {
                self.call(reqwest::Method::GET, "/admin/conversations", None)
                    .await
            }
        }
    }

    pub async fn stats(&self) -> Result<HubStats> {
        match self {
            Target::Offline { hub, .. } => Ok(hub.admin_stats().await.map_err(api)?),
            _ => self.call(reqwest::Method::GET, "/admin/stats", None).await,
        }
    }
}

fn api(err: chinwag_proto::ApiError) -> anyhow::Error {
    anyhow!("{}", err.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().expect("dir");
        let mut held = DataDirGuard::take(dir.path()).expect("free");
        let err = DataDirGuard::take(dir.path())
            .err()
            .expect("held by the first");
        assert!(err.to_string().contains("already using"), "{err}");
        held.publish("0.0.0.0:7117".parse().expect("addr"), "t0k3n")
            .expect("writes");
        let admin = dir.path().join(ADMIN_FILE);
        let text = std::fs::read_to_string(&admin).expect("reads");
        assert!(text.contains("http://127.0.0.1:7117"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&admin)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner only: {mode:o}");
        }
        drop(held);
        assert!(!admin.exists(), "removed with the guard");
        DataDirGuard::take(dir.path()).expect("free again");
    }
}
