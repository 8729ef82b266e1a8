//! Logs go to standard error, as text (coloured on a terminal) or JSON lines; `RUST_LOG`
//! picks the levels.
//!
//! A log that cannot be written (its disk is full, its pipe closed) must never cost a
//! request: tracing-subscriber would report the failed write with `eprintln!`, which panics
//! when standard error is the thing failing, and the panic takes down the request being
//! served. So lines go through [`Lossy`], which counts what it could not write and, at the
//! first line that goes through again, writes first how many were lost.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use chinwag_node::config::LogFormat;

/// Log lines that could not be written since the last one that could.
static LOST: AtomicU64 = AtomicU64::new(0);

pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,warp=warn,hyper=warn".into());
    let json = matches!(format, LogFormat::Json);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .log_internal_errors(false)
        .with_writer(move || Lossy { json });
    match format {
        LogFormat::Text => builder
            .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

/// Standard error that never fails: a line it cannot write is counted, not reported.
struct Lossy {
    json: bool,
}

impl Write for Lossy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut err = io::stderr().lock();
        let lost = LOST.load(Ordering::Relaxed);
        if lost > 0 {
            if err
                .write_all(lost_line(lost, self.json).as_bytes())
                .is_err()
            {
                LOST.fetch_add(1, Ordering::Relaxed);
                return Ok(buf.len());
            }
            LOST.fetch_sub(lost, Ordering::Relaxed);
        }
        if err.write_all(buf).is_err() {
            LOST.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().lock().flush();
        Ok(())
    }
}

/// The line that says how many were lost, in the log's own format.
fn lost_line(lost: u64, json: bool) -> String {
    let message = format!(
        "{lost} log lines could not be written (is the log's disk full?); requests were \
         served meanwhile"
    );
    if !json {
        return format!("WARN chinwag: {message}\n");
    }
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let line = serde_json::json!({
        "timestamp": timestamp,
        "level": "WARN",
        "target": "chinwag",
        "message": message,
        "lost": lost,
    });
    format!("{line}\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lost_line_is_in_the_log_s_format() {
        let line = super::lost_line(3, true);
        let entry: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
        assert_eq!(entry["level"], "WARN");
        assert_eq!(entry["lost"], 3);
        assert!(entry["timestamp"].is_string());
        assert!(super::lost_line(3, false).starts_with("WARN chinwag: 3 log lines"));
    }
}
