//! One app per data directory: a second launch asks the first, over a Unix socket in the data directory, to show its window. Not `tauri-plugin-single-instance`, which keys on the app identifier (D-Bus on Linux): two Chinwags on two data directories, which tests and people hosting beside a joined app use, would be refused.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use super::*;

/// A second launch on the same data directory asks the first to show its window.
pub(super) fn single_instance(dir: &Path) -> Result<Option<UnixListener>, String> {
    let path = dir.join("desktop.sock");
    if let Ok(mut stream) = UnixStream::connect(&path) {
        let _ = stream.write_all(b"focus\n");
        return Ok(None);
    }
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path)
        .map(Some)
        .map_err(|err| format!("cannot create {}: {err}", path.display()))
}

pub(super) fn listen_for_others(listener: UnixListener, shared: Arc<Shared>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            if line.trim() == "focus" {
                show_window(&shared);
            }
        }
    });
}
