//! Tauri reads `tauri.conf.json` at build time (only for the desktop feature).
fn main() {
    #[cfg(feature = "desktop")]
    tauri_build::build();
}
