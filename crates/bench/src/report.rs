//! Printing: a human line per figure and one JSON line per run.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::Options;

/// Prints what the figures were measured on.
pub fn machine(options: &Options) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let pinning = match &options.pin {
        Some((server, load)) => {
            format!("server under test on CPU {server}, load generator on CPU {load}")
        }
        None => "one core: server and load share it (figures are pessimistic)".into(),
    };
    println!(
        "machine: {} cores ({cpu}); {pinning}; hub binary {} {}{}",
        options.cores,
        options.hub_bin.display(),
        options.hub_args.join(" "),
        if options.smoke {
            "; SMOKE RUN: sizes and durations cut down, figures not comparable"
        } else {
            ""
        }
    );
    emit(
        "machine",
        json!({
            "cores": options.cores,
            "cpu": cpu,
            "server_cpus": options.pin.as_ref().map(|p| p.0.clone()),
            "load_cpus": options.pin.as_ref().map(|p| p.1.clone()),
            "smoke": options.smoke,
            "hub_args": options.hub_args,
        }),
    );
}

/// p50, p90, p99 and max in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> [f64; 4] {
    if h.is_empty() {
        return [0.0; 4];
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    [
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    ]
}

pub fn latency_json(h: &Histogram<u64>) -> Value {
    let [p50, p90, p99, max] = percentiles(h);
    json!({ "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max })
}

pub fn latency_text(h: &Histogram<u64>) -> String {
    let [p50, p90, p99, max] = percentiles(h);
    format!("p50 {p50:.2} / p90 {p90:.2} / p99 {p99:.2} / max {max:.2} ms")
}

/// One JSON line: `{"bench":SCENARIO, ...fields}`.
pub fn emit(scenario: &str, fields: Value) {
    let mut line = json!({ "bench": scenario });
    merge(&mut line, fields);
    println!("{line}");
}

/// Adds the fields of the object `from` to the object `into`.
pub fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// `a / b`, or 0 when `b` is 0.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
