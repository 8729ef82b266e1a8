//! Fuzz target: the WebSocket frame decoder (see `chinwag_fuzz_checks::ws_frame`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_fuzz_checks::ws_frame(data));
