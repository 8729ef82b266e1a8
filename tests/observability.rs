//! What an admin's monitoring sees: `/healthz` and `/metrics` (Prometheus text format).

use std::collections::HashMap;

use crate::common::{TestHub, Ws};

/// A scrape parsed as the Prometheus text format: every sample line is `name{labels} value`
/// with a numeric value, and every sample belongs to a family declared by `# TYPE`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut declared: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}"
            );
            declared.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("number in {line:?}"));
        let name = key.split('{').next().expect("name");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| declared.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(declared.contains_key(family), "{name} has no # TYPE");
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "metric name {name}"
        );
        samples.insert(key.to_owned(), value);
    }
    samples
}

pub(crate) async fn scrape(hub: &TestHub) -> HashMap<String, f64> {
    let reply = reqwest::get(format!("http://{}/metrics", hub.addr))
        .await
        .expect("scraped");
    assert_eq!(reply.status(), 200);
    assert!(reply.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain; version=0.0.4"));
    parse(&reply.text().await.expect("text"))
}

#[tokio::test]
async fn healthz_says_the_hub_and_its_store_work() {
    let hub = TestHub::start().await;
    let reply = reqwest::get(format!("http://{}/healthz", hub.addr))
        .await
        .expect("probed");
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], "writable");
    let post = reqwest::Client::new()
        .post(format!("http://{}/healthz", hub.addr))
        .send()
        .await
        .expect("sent");
    assert_eq!(post.status(), 405, "only GET");
}

#[tokio::test]
async fn metrics_parse_and_move_when_messages_flow() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let before = scrape(&hub).await;
    assert_eq!(before["chinwag_connections"], 0.0);
    assert_eq!(before["chinwag_messages_sent_total"], 0.0);
    assert!(before["chinwag_store_bytes"] > 0.0);

    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    for i in 0..3 {
        a.say(1, &format!("m{i}"), "hello").await;
        b.message("hello").await;
    }
    a.say(1, "m0", "hello").await; // a resend: no new message
    api.send(&bob, 1, "rest-1", "over REST").await;
    api.upload(&alice, 1, "a.txt", "text/plain", b"12345".to_vec())
        .await;

    let after = scrape(&hub).await;
    assert_eq!(after["chinwag_connections"], 2.0);
    assert_eq!(after["chinwag_users_online"], 2.0);
    assert_eq!(after["chinwag_messages_sent_total"], 4.0);
    assert!(
        after["chinwag_deliveries_total"] >= 8.0,
        "four messages to two connections: {}",
        after["chinwag_deliveries_total"]
    );
    assert_eq!(after["chinwag_uploads_total"], 1.0);
    assert_eq!(after["chinwag_upload_bytes_total"], 5.0);
    assert_eq!(after["chinwag_send_ack_seconds_count"], 4.0);
    assert_eq!(after["chinwag_send_ack_seconds_bucket{le=\"+Inf\"}"], 4.0);
    assert!(after["chinwag_send_ack_seconds_sum"] > 0.0);
    let mut buckets: Vec<(f64, f64)> = after
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix("chinwag_send_ack_seconds_bucket{le=\"")?;
            let le = le.strip_suffix("\"}")?;
            Some((le.parse::<f64>().unwrap_or(f64::INFINITY), *v))
        })
        .collect();
    buckets.sort_by(|x, y| x.0.total_cmp(&y.0));
    assert!(buckets.len() >= 10);
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative buckets: {buckets:?}"
    );
    assert_eq!(after["chinwag_resyncs_total"], 0.0);
}
