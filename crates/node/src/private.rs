//! Chinwag's files are private to the account that runs it: the database holds every
//! message, and a joined node's store holds a session token.
//!
//! [`private_by_default`] sets the process's umask to `077` at start, so everything Chinwag
//! creates (the data directory and its database, WAL and SHM, uploads, the joined node's sled
//! store, backups and exports) is `0700`/`0600` whatever umask it was started with.
//! [`prepare_data_dir`] refuses a data directory that belongs to someone else and takes away
//! what others could read in an existing one, saying so in one log line.

use std::path::Path;

use anyhow::{anyhow, Context, Result};

/// Sets the umask to `077`: files Chinwag creates from now on are its owner's alone.
pub fn private_by_default() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

/// Creates the data directory if needed (`0700`), refuses one that another user owns, makes
/// what is in it private, and proves it is writable.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    create_private_dir(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        check_owner(dir)?;
        let fixed = make_private(dir)
            .with_context(|| format!("cannot make the data directory {} private", dir.display()))?;
        if fixed > 0 {
            tracing::warn!(
                fixed,
                "the data directory {} was readable by other users; made private ({fixed} \
                 files and folders are now 0600/0700)",
                dir.display()
            );
        }
    }
    let probe = dir.join(".chinwag-write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("the data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A data directory that belongs to another user is refused (root may use any: it runs the
/// admin commands on a service's directory).
#[cfg(unix)]
fn check_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?
        .uid();
    let me = rustix::process::geteuid();
    if me.is_root() || owner == me.as_raw() {
        return Ok(());
    }
    Err(anyhow!(
        "the data directory {} belongs to another user (uid {owner}; you are uid {}): run \
         Chinwag as its owner, or choose another with --data-dir",
        dir.display(),
        me.as_raw()
    ))
}

/// Takes group and other permissions away from `dir` and everything in it (not following
/// symbolic links); returns how many entries it changed. A directory that is already its
/// owner's alone is left unwalked: nobody else can reach what is in it, and a hub's uploads
/// would otherwise be visited at every start.
#[cfg(unix)]
fn make_private(dir: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::symlink_metadata(dir)?.permissions().mode() & 0o077 == 0 {
        return Ok(0);
    }
    let mut fixed = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700))?;
            fixed += 1;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(fixed)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn an_open_data_directory_is_made_private() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("data");
        std::fs::create_dir_all(dir.join("files/ab")).expect("dirs");
        std::fs::write(dir.join("chinwag.db"), b"x").expect("db");
        std::fs::write(dir.join("files/ab/cd"), b"x").expect("file");
        for (path, m) in [
            (dir.clone(), 0o755),
            (dir.join("files"), 0o775),
            (dir.join("chinwag.db"), 0o644),
            (dir.join("files/ab/cd"), 0o664),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        prepare_data_dir(&dir).expect("prepared");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("files")), 0o700);
        assert_eq!(mode(&dir.join("files/ab")), 0o700);
        assert_eq!(mode(&dir.join("chinwag.db")), 0o600);
        assert_eq!(mode(&dir.join("files/ab/cd")), 0o600);
        assert_eq!(make_private(&dir).expect("again"), 0, "nothing left to fix");
    }

    #[test]
    fn a_new_data_directory_is_created_private() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("a/b/data");
        prepare_data_dir(&dir).expect("prepared");
        assert_eq!(mode(&dir), 0o700);
    }
}
