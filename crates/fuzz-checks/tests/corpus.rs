//! Replays every input the fuzzers kept (`fuzz/corpus/`) and every crash they ever found
//! (`fuzz/regressions/`) through the same checks, so a fixed crash stays fixed without
//! running a fuzzer.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "the {target} corpus is in the repository"
    );
    for file in &files {
        let data = std::fs::read(file).expect("readable");
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} breaks a promise", file.display());
    }
    println!(
        "fuzz corpus: {} {target} inputs replayed, all held",
        files.len()
    );
}

#[test]
fn ws_frame_corpus_holds() {
    replay("ws_frame", chinwag_fuzz_checks::ws_frame);
}

#[test]
fn rest_request_corpus_holds() {
    replay("rest_request", chinwag_fuzz_checks::rest_request);
}
