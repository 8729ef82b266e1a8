//! The window's placement, kept in `window.json` per data directory, and bringing the window forward.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tauri::Manager;

use super::*;

/// Where the window was, remembered across launches (logical pixels).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub(super) struct Placement {
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) x: Option<f64>,
    pub(super) y: Option<f64>,
    pub(super) maximized: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            width: 1100.0,
            height: 720.0,
            x: None,
            y: None,
            maximized: false,
        }
    }
}

impl Placement {
    /// A hand-edited or corrupt file cannot put the window out of reach.
    fn sane(self) -> Placement {
        let within = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
        if !within(self.width, 360.0, 16_384.0) || !within(self.height, 480.0, 16_384.0) {
            return Placement::default();
        }
        let on_screen = |v: Option<f64>| v.is_some_and(|v| within(v, -1_000.0, 16_384.0));
        if on_screen(self.x) && on_screen(self.y) {
            self
        } else {
            Placement {
                x: None,
                y: None,
                ..self
            }
        }
    }
}

pub(super) fn load_placement(path: &Path) -> Placement {
    std::fs::read(path)
        .ok()
        .and_then(|raw| serde_json::from_slice::<Placement>(&raw).ok())
        .map(Placement::sane)
        .unwrap_or_default()
}

pub(super) fn save_placement(path: &Path, window: &tauri::Window) {
    let placement = (|| -> tauri::Result<Placement> {
        let scale = window.scale_factor()?;
        let maximized = window.is_maximized()?;
        let size = window.inner_size()?.to_logical::<f64>(scale);
        let position = window.outer_position()?.to_logical::<f64>(scale);
        Ok(Placement {
            width: size.width,
            height: size.height,
            x: Some(position.x),
            y: Some(position.y),
            maximized,
        })
    })();
    let Ok(placement) = placement else {
        return;
    };
    // A maximized window keeps the size it had before, where it is known.
    let placement = if placement.maximized {
        Placement {
            maximized: true,
            ..load_placement(path)
        }
    } else {
        placement.sane()
    };
    write_json(path, &placement);
}

pub(super) fn placement_path(dir: &Path) -> PathBuf {
    dir.join("window.json")
}

pub(super) fn write_json<T: Serialize>(path: &Path, value: &T) {
    let tmp = path.with_extension("json.tmp");
    let written = serde_json::to_vec_pretty(value)
        .map_err(std::io::Error::other)
        .and_then(|raw| std::fs::write(&tmp, raw))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(err) = written {
        tracing::warn!("cannot write {}: {err}", path.display());
    }
}

pub(super) fn show_window(shared: &Shared) {
    if let Some(window) = shared.app.get().and_then(|a| a.get_webview_window("main")) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
