//! What Chinwag's fuzz targets (`fuzz/`, run with `cargo fuzz`) check for each input, in one
//! place so that the corpus they build, and every crash they ever found (`fuzz/regressions/`),
//! is replayed by an ordinary `cargo test` (`tests/corpus.rs`).
//!
//! Each function panics when the hub breaks a promise for that input; libFuzzer records the
//! input as a crash.

use chinwag_proto::{ConversationId, UserId};
use std::sync::OnceLock;

use chinwag_hub::auth::{new_token, token_hash};
use chinwag_hub::{Hub, HubConfig};
use chinwag_proto::parse_client_frame;
use chinwag_proto::ClientFrame;

/// The WebSocket frame decoder: any text a client sends is either a frame, which then
/// survives a round trip, or a clear error that can itself be sent. Never a panic.
pub fn ws_frame(data: &[u8]) {
    // The hub closes a connection that sends a non-UTF-8 text frame before decoding; what
    // reaches the decoder is always a str.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_frame(text) {
        Ok(frame) => {
            let json = serde_json::to_string(&frame).expect("a parsed frame serialises");
            let again: ClientFrame = serde_json::from_str(&json).expect("and parses again");
            assert_eq!(again, frame);
        }
        Err((error, reference)) => {
            assert!(!error.message.is_empty(), "an error always says something");
            if let Some(reference) = &reference {
                assert!(text.contains(reference.as_str()) || text.contains('\\'));
            }
            let frame = serde_json::to_string(&error.frame(reference)).expect("serialises");
            assert!(frame.contains("\"type\":\"error\""));
        }
    }
}

struct World {
    runtime: tokio::runtime::Runtime,
    hub: Hub,
    /// Tokens of alice (hub admin, in the group), bob (in the group), carol (in neither).
    tokens: Vec<String>,
    users: Vec<chinwag_proto::UserId>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("dir");
        // Let the fuzzer reach the handlers rather than the throttles.
        let config = HubConfig {
            messages_per_second: 1_000_000,
            message_burst: 1_000_000,
            login_failures_per_user: 1_000_000,
            login_failures_per_addr: 1_000_000,
            ..HubConfig::default()
        };
        let (hub, tokens, users) = runtime.block_on(async {
            let hub = Hub::open(config, &dir.path().join("chinwag.db"))
                .await
                .expect("hub opens");
            let tokens: Vec<String> = (0..3).map(|_| new_token()).collect();
            let hashes: Vec<Vec<u8>> = tokens.iter().map(|t| token_hash(t)).collect();
            let users = hub
                .store()
                .write(move |tx| {
                    let mut ids = Vec::new();
                    for (name, hash) in ["alice", "bob", "carol"].iter().zip(&hashes) {
                        let user = tx.register(name, name, "no-password")?;
                        tx.create_session(user.id, hash)?;
                        ids.push(user.id);
                    }
                    tx.create_group(ids[0], "group", &[ids[1]])?;
                    tx.send_message(ids[0], ConversationId(1), "seed", "hello", 16 * 1024)?;
                    Ok(ids)
                })
                .await
                .expect("seeded");
            (hub, tokens, users)
        });
        World {
            runtime,
            hub,
            tokens,
            users,
            _dir: dir,
        }
    })
}

/// Percent-encodes what may not appear raw in a request target.
fn encode(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if b.is_ascii_alphanumeric() || b"/?&=-_.~%+,:;".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The REST API, in-process: a real hub (SQLite on disk in a temporary directory) behind its
/// real warp routes. The input is two bytes (method, caller) then `PATH[?QUERY]\nBODY`.
/// Whatever arrives, the hub answers below 500 (or 503) with a JSON error envelope for every
/// error, and never panics.
pub fn rest_request(data: &[u8]) {
    let [method, caller, rest @ ..] = data else {
        return;
    };
    let world = world();
    let method = ["GET", "POST", "PATCH", "DELETE", "PUT"][*method as usize % 5];
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (target, body) = rest.split_at(split);
    let body = body.get(1..).unwrap_or_default().to_vec();
    let path = format!("/api/v1/{}", encode(target));
    // 0: no token; 1–3: alice, bob, carol; 4: a forged token.
    let token = match caller % 5 {
        0 => None,
        4 => Some("not-a-real-token".to_owned()),
        n if path.contains("logout") => {
            // Signing out revokes the session; give this request a session of its own.
            let fresh = new_token();
            let hash = token_hash(&fresh);
            let user = world.users[usize::from(n - 1)];
            world
                .runtime
                .block_on(
                    world
                        .hub
                        .store()
                        .write(move |tx| tx.create_session(UserId(user.into()), &hash)),
                )
                .expect("session");
            Some(fresh)
        }
        n => Some(world.tokens[usize::from(n - 1)].clone()),
    };
    let mut request = warp::test::request()
        .method(method)
        .path(&path)
        .extension(chinwag_web::serve::Peer(([127, 0, 0, 1], 40000).into()))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = &token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let routes = world.hub.routes();
    let response = world.runtime.block_on(request.reply(&routes));
    let status = response.status().as_u16();
    assert!(
        status < 500 || status == 503,
        "{method} {path} answered {status}: {:?}",
        response.body()
    );
    if status >= 400 {
        let value: serde_json::Value =
            serde_json::from_slice(response.body()).expect("an error body is JSON");
        assert!(
            value["error"]["code"].is_string() && value["error"]["message"].is_string(),
            "{method} {path} answered {status} without an error envelope: {value}"
        );
    }
}
