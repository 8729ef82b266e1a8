//! Fuzz target: the REST API in-process (see `chinwag_fuzz_checks::rest_request`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_fuzz_checks::rest_request(data));
