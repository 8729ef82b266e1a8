//! Files and images over the real hub: upload, the message that carries them, downloads with
//! `Range`, identical files kept once, thumbnails, the limits, and every bad input.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chinwag_hub::HubConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{config, Api, Session, TestHub, Ws, WAIT};

/// An image of `w`×`h` in `format`, with a gradient so that it is not trivially small.
pub fn image_bytes(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    if format == image::ImageFormat::Gif || format == image::ImageFormat::WebP {
        image::DynamicImage::ImageRgb8(img)
            .to_rgba8()
            .write_to(&mut out, format)
            .expect("encodes");
    } else {
        img.write_to(&mut out, format).expect("encodes");
    }
    out.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Pseudo-random bytes (xorshift), so that sizes are real and content is not compressible.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Files stored under their hash (not temporary ones, not thumbnails).
fn stored_contents(dir: &Path) -> Vec<PathBuf> {
    let root = dir.join("files");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&root).expect("files dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name.len() == 2 {
            for inner in std::fs::read_dir(&path).expect("hash dir") {
                found.push(inner.expect("entry").path());
            }
        }
    }
    found
}

fn temporary_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("files/tmp"))
        .expect("tmp dir")
        .count()
}

async fn upload_ok(
    api: &Api,
    me: &Session,
    conversation: i64,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> Value {
    let reply = api.upload(me, conversation, name, mime, bytes).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_screenshot_reaches_the_other_person_inline() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let direct = api.direct(&alice, &bob).await;
    let mut bob_ws = Ws::connect(&hub, &bob).await;

    let png = image_bytes(1280, 720, image::ImageFormat::Png);
    let file = upload_ok(
        &api,
        &alice,
        direct,
        "screenshot.png",
        "image/png",
        png.clone(),
    )
    .await;
    assert_eq!(file["name"], "screenshot.png");
    assert_eq!(file["size"], png.len());
    assert_eq!(file["mime"], "image/png");
    assert_eq!(file["sha256"], sha256(&png));
    assert_eq!(file["image"], json!({"width": 1280, "height": 720}));
    let id = file["id"].as_i64().expect("file id");

    // Sent with no text at all: the file is the message.
    let sent = api.send_files(&alice, direct, "s1", "", &[id]).await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    assert_eq!(sent.body["attachments"][0], file);

    let event = bob_ws.event("message_new").await;
    let attachment = &event["message"]["attachments"][0];
    assert_eq!(attachment, &file, "Bob's event carries the file");

    let (status, headers, thumb) = api
        .fetch(Some(&bob.token), &format!("/files/{id}/thumbnail"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg", "opaque: a JPEG");
    let small = image::load_from_memory(&thumb).expect("the thumbnail decodes");
    assert_eq!((small.width(), small.height()), (320, 180), "aspect kept");

    let (status, headers, full) = api
        .fetch(Some(&bob.token), &format!("/files/{id}"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(full, png, "the same bytes");
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-disposition"]
        .to_str()
        .expect("ascii")
        .starts_with("inline; filename=\"screenshot.png\""));

    // History has it too, after a restart.
    let dir = hub.stop().await;
    let hub = TestHub::start_in(config(), dir).await;
    let api = hub.api();
    let history = api.history(&bob, direct).await;
    assert_eq!(history[0]["attachments"][0], file);
    let (status, _, again) = api
        .fetch(Some(&bob.token), &format!("/files/{id}"), &[])
        .await;
    assert_eq!((status, again.len()), (200, png.len()));
}

#[tokio::test]
async fn every_image_type_gets_a_thumbnail_and_transparency_is_kept() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    for (format, mime) in [
        (image::ImageFormat::Jpeg, "image/jpeg"),
        (image::ImageFormat::Gif, "image/gif"),
        (image::ImageFormat::WebP, "image/webp"),
    ] {
        let bytes = image_bytes(400, 1000, format);
        let file = upload_ok(&api, &alice, 1, "picture", mime, bytes).await;
        assert_eq!(file["mime"], mime);
        assert_eq!(
            file["image"],
            json!({"width": 400, "height": 1000}),
            "{mime}"
        );
        let id = file["id"].as_i64().expect("id");
        let (status, _, thumb) = api
            .fetch(Some(&alice.token), &format!("/files/{id}/thumbnail"), &[])
            .await;
        assert_eq!(status, 200, "{mime}: the uploader sees her unsent file");
        let small = image::load_from_memory(&thumb).expect("decodes");
        assert_eq!((small.width(), small.height()), (128, 320), "{mime}");
    }

    // A translucent PNG keeps its alpha: the thumbnail is a PNG.
    let rgba =
        image::RgbaImage::from_fn(640, 640, |x, _| image::Rgba([255, 0, 0, (x % 256) as u8]));
    let mut png = Cursor::new(Vec::new());
    rgba.write_to(&mut png, image::ImageFormat::Png)
        .expect("encodes");
    let file = upload_ok(&api, &alice, 1, "alpha.png", "image/png", png.into_inner()).await;
    let id = file["id"].as_i64().expect("id");
    let (_, headers, _) = api
        .fetch(Some(&alice.token), &format!("/files/{id}/thumbnail"), &[])
        .await;
    assert_eq!(headers["content-type"], "image/png");

    // A small image is its own thumbnail's size (never enlarged).
    let tiny = image_bytes(16, 8, image::ImageFormat::Png);
    let file = upload_ok(&api, &alice, 1, "tiny.png", "image/png", tiny).await;
    let id = file["id"].as_i64().expect("id");
    let (_, _, thumb) = api
        .fetch(Some(&alice.token), &format!("/files/{id}/thumbnail"), &[])
        .await;
    let small = image::load_from_memory(&thumb).expect("decodes");
    assert_eq!((small.width(), small.height()), (16, 8));
}

#[tokio::test]
async fn content_that_is_not_the_claimed_image_is_a_plain_file() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;

    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let fake = upload_ok(&api, &alice, 1, "cat.png", "image/png", html).await;
    assert_eq!(fake["mime"], "application/octet-stream");
    assert!(fake.get("image").is_none(), "{fake:?}");

    let mut broken = image_bytes(64, 64, image::ImageFormat::Png);
    broken.truncate(40); // A real PNG signature, then nothing decodable.
    let broken = upload_ok(&api, &alice, 1, "broken.png", "image/png", broken).await;
    assert_eq!(broken["mime"], "application/octet-stream");
    assert!(broken.get("image").is_none());

    let jpeg_as_png = image_bytes(32, 32, image::ImageFormat::Jpeg);
    let mismatched = upload_ok(&api, &alice, 1, "x.png", "image/png", jpeg_as_png).await;
    assert_eq!(mismatched["mime"], "application/octet-stream");

    // An SVG is never an inline image (it can carry script): served as opaque bytes.
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec();
    let svg = upload_ok(&api, &alice, 1, "logo.svg", "image/svg+xml", svg).await;
    assert_eq!(svg["mime"], "image/svg+xml");
    assert!(svg.get("image").is_none());

    for file in [&fake, &broken, &svg] {
        let id = file["id"].as_i64().expect("id");
        let (status, _, _) = api
            .fetch(Some(&alice.token), &format!("/files/{id}/thumbnail"), &[])
            .await;
        assert_eq!(status, 404, "no thumbnail for {file:?}");
        let (status, headers, _) = api
            .fetch(Some(&alice.token), &format!("/files/{id}"), &[])
            .await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert!(headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment;"));
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; sandbox"
        );
    }
}

#[tokio::test]
async fn downloads_resume_with_range() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let direct = api.direct(&alice, &bob).await;
    let bytes = noise(3 * 1024 * 1024 + 17, 7);
    let file = upload_ok(
        &api,
        &alice,
        direct,
        "logs.tar",
        "application/x-tar",
        bytes.clone(),
    )
    .await;
    let id = file["id"].as_i64().expect("id");
    assert_eq!(file["mime"], "application/x-tar");
    api.send_files(&alice, direct, "f", "the logs", &[id]).await;
    let path = format!("/files/{id}");
    let len = bytes.len();

    let (status, headers, body) = api
        .fetch(Some(&bob.token), &path, &[("range", "bytes=1000000-")])
        .await;
    assert_eq!(status, 206);
    assert_eq!(
        headers["content-range"],
        format!("bytes 1000000-{}/{len}", len - 1).as_str()
    );
    assert_eq!(body, &bytes[1_000_000..], "the rest of the file");

    let (status, _, body) = api
        .fetch(Some(&bob.token), &path, &[("range", "bytes=10-19")])
        .await;
    assert_eq!((status, body.as_slice()), (206, &bytes[10..20]));
    let (status, _, body) = api
        .fetch(Some(&bob.token), &path, &[("range", "bytes=-5")])
        .await;
    assert_eq!((status, body.as_slice()), (206, &bytes[len - 5..]));

    let (status, headers, body) = api
        .fetch(Some(&bob.token), &path, &[("range", "bytes=99999999-")])
        .await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], format!("bytes */{len}").as_str());
    let error: Value = serde_json::from_slice(&body).expect("JSON error");
    assert_eq!(error["error"]["code"], "range_not_satisfiable");

    // A resume against a changed file gets the whole file; the same file, the range.
    let etag = format!("\"{}\"", sha256(&bytes));
    let (status, headers, body) = api
        .fetch(
            Some(&bob.token),
            &path,
            &[("range", "bytes=10-19"), ("if-range", "\"something-else\"")],
        )
        .await;
    assert_eq!((status, body.len()), (200, len));
    assert_eq!(headers["etag"], etag.as_str());
    assert_eq!(headers["accept-ranges"], "bytes");
    let (status, _, _) = api
        .fetch(
            Some(&bob.token),
            &path,
            &[("range", "bytes=10-19"), ("if-range", etag.as_str())],
        )
        .await;
    assert_eq!(status, 206);
    let (status, _, body) = api
        .fetch(Some(&bob.token), &path, &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!((status, body.len()), (304, 0));
    // Several ranges at once are answered with the whole file.
    let (status, _, body) = api
        .fetch(Some(&bob.token), &path, &[("range", "bytes=0-1,5-6")])
        .await;
    assert_eq!((status, body.len()), (200, len));
}

#[tokio::test]
async fn identical_files_are_stored_once_and_the_hash_is_checked() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let direct = api.direct(&alice, &bob).await;
    let bytes = noise(200_000, 3);
    let first = upload_ok(
        &api,
        &alice,
        1,
        "a.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    let second = upload_ok(
        &api,
        &bob,
        direct,
        "b.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    assert_ne!(first["id"], second["id"], "two uploads, two files");
    assert_eq!(first["sha256"], second["sha256"]);
    let stored = stored_contents(hub.dir.path());
    assert_eq!(stored.len(), 1, "kept once: {stored:?}");
    let hash = sha256(&bytes);
    assert!(stored[0].ends_with(format!("{}/{}", &hash[..2], &hash[2..])));

    // The client's own hash is checked at the end; a mismatch keeps nothing.
    let other = noise(1000, 9);
    let reply = api
        .http
        .post(format!("{}/conversations/1/files", api.base))
        .query(&[("name", "x"), ("sha256", &"0".repeat(64))])
        .bearer_auth(&alice.token)
        .body(other.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains(&sha256(&other)));
    assert_eq!(stored_contents(hub.dir.path()).len(), 1);
    assert_eq!(temporary_files(hub.dir.path()), 0);

    let reply = api
        .http
        .post(format!("{}/conversations/1/files", api.base))
        .query(&[("name", "x"), ("sha256", sha256(&other).as_str())])
        .bearer_auth(&alice.token)
        .body(other)
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 201, "the right hash is accepted");
}

#[tokio::test]
async fn limits_empty_files_and_hostile_names() {
    let hub = TestHub::start_with(HubConfig {
        max_upload_bytes: 1024 * 1024,
        ..config()
    })
    .await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let info = api.get("/hub", &alice.token).await;
    assert_eq!(info.body["limits"]["max_upload_bytes"], 1024 * 1024);
    assert_eq!(info.body["limits"]["max_attachments"], 10);

    // Declared too large: refused from the headers, before the body is read.
    let reply = api
        .upload(
            &alice,
            1,
            "big.bin",
            "application/zip",
            noise(2 * 1024 * 1024, 1),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.code(), "too_large");
    assert!(reply.message().contains("1 MB"), "{}", reply.message());

    // Not declared (chunked): refused as soon as the limit is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|i| Ok(noise(64 * 1024, i + 1))).collect();
    let reply = api
        .http
        .post(format!(
            "{}/conversations/1/files?name=stream.bin",
            api.base
        ))
        .bearer_auth(&alice.token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The hub may answer before taking the whole body, or close while it is still sent.
    if let Ok(reply) = reply {
        assert_eq!(reply.status(), 413);
    }
    // Exactly at the limit is fine.
    upload_ok(
        &api,
        &alice,
        1,
        "edge.bin",
        "application/zip",
        noise(1024 * 1024, 2),
    )
    .await;

    let empty = api
        .upload(&alice, 1, "empty.txt", "text/plain", Vec::new())
        .await;
    assert_eq!((empty.status, empty.code()), (400, "invalid_field"));
    assert!(empty.message().contains("empty"), "{}", empty.message());

    for (given, kept) in [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..", "file"),
        ("", "file"),
        ("bell\u{7}\nname.txt", "bellname.txt"),
        ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
        ("ünïcödé 名前.txt", "ünïcödé 名前.txt"),
    ] {
        let file = upload_ok(&api, &alice, 1, given, "text/plain", b"x".to_vec()).await;
        assert_eq!(file["name"], kept, "{given:?}");
    }

    let bad_query = api
        .http
        .post(format!(
            "{}/conversations/1/files?name=a&owner=root",
            api.base
        ))
        .bearer_auth(&alice.token)
        .body("x")
        .send()
        .await
        .expect("sent");
    assert_eq!(bad_query.status(), 400);
    let bad_hash = api
        .http
        .post(format!("{}/conversations/1/files?sha256=xyz", api.base))
        .bearer_auth(&alice.token)
        .body("x")
        .send()
        .await
        .expect("sent");
    assert_eq!(bad_hash.status(), 400);

    // Nothing refused was kept, and no upload was left half-written.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(temporary_files(hub.dir.path()), 0);
    let sizes: Vec<u64> = stored_contents(hub.dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).expect("meta").len())
        .collect();
    assert!(
        sizes.iter().all(|s| *s <= 1024 * 1024),
        "no oversized file kept: {sizes:?}"
    );
}

/// A connection that has sent the head of an upload into `general` declaring `length`
/// bytes, and none of the body yet.
async fn raw_upload(
    hub: &TestHub,
    who: &Session,
    name: &str,
    length: usize,
) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(hub.addr)
        .await
        .expect("connects");
    let head = format!(
        "POST /api/v1/conversations/1/files?name={name} HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        hub.addr, who.token
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    socket
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing_behind() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let mut socket = raw_upload(&hub, &alice, "cut.bin", 5_000_000).await;
    socket
        .write_all(&noise(300_000, 5))
        .await
        .expect("part of the body");
    socket.flush().await.expect("flush");
    // The upload is under way: its temporary file exists.
    let deadline = tokio::time::Instant::now() + WAIT;
    while temporary_files(hub.dir.path()) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "upload never began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(socket); // The cable is pulled.
    while temporary_files(hub.dir.path()) != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the partial upload is still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stored_contents(hub.dir.path()).is_empty());

    // A crash mid-upload leaves a temporary file; the next start removes it.
    let dir = hub.stop().await;
    std::fs::write(dir.path().join("files/tmp/leftover"), b"half").expect("write");
    let hub = TestHub::start_in(config(), dir).await;
    assert_eq!(temporary_files(hub.dir.path()), 0);
}

#[tokio::test]
async fn a_stalled_upload_is_answered_408_and_leaves_nothing_behind() {
    let mut cfg = config();
    cfg.upload_idle_timeout = Duration::from_millis(500);
    cfg.upload_min_bytes = 500;
    let hub = TestHub::start_with(cfg).await;
    let alice = hub.api().register("alice").await;
    let mut socket = raw_upload(&hub, &alice, "slow.bin", 100_000).await;
    socket.write_all(&noise(1000, 9)).await.expect("a little");
    socket.flush().await.expect("flush");
    // Then nothing more: the client holds the connection open without sending.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(WAIT, socket.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the hub never gave up on the stalled upload");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "answered: {answer}");
    assert!(answer.contains(r#""code":"timeout""#), "answered: {answer}");
    assert!(
        answer.contains("fewer than 500 bytes arrived in 0.5 seconds"),
        "{answer}"
    );
    assert_eq!(temporary_files(hub.dir.path()), 0);
    assert!(stored_contents(hub.dir.path()).is_empty());

    // An upload that keeps its pace is not cut off: the limit is on each half second, not on
    // the whole transfer (five pieces, 300 ms apart, take longer than one).
    let mut socket = raw_upload(&hub, &alice, "trickle.bin", 5000).await;
    for piece in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        socket
            .write_all(&noise(1000, piece))
            .await
            .expect("a piece");
        socket.flush().await.expect("flush");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, socket.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "answered: {answer}");

    // One that never stops but trickles under the pace (10 bytes every 100 ms) is let go.
    let mut socket = raw_upload(&hub, &alice, "drip.bin", 100_000).await;
    let dripping = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if socket.write_all(&[7; 10]).await.is_err() || socket.flush().await.is_err() {
                break;
            }
        }
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        answer
    });
    let answer = tokio::time::timeout(WAIT, dripping)
        .await
        .expect("the hub let the drip go")
        .expect("drip");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "answered: {answer}");
    assert_eq!(temporary_files(hub.dir.path()), 0);
}

#[tokio::test]
async fn files_are_for_members_only() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let direct = api.direct(&alice, &bob).await;
    let group = api.group(&alice, "team", &[&bob]).await;
    let png = image_bytes(50, 50, image::ImageFormat::Png);

    // A stranger cannot upload into a conversation she is not in; no token, no upload.
    let refused = api
        .upload(&carol, direct, "x.png", "image/png", png.clone())
        .await;
    assert_eq!((refused.status, refused.code()), (404, "not_found"));
    let anonymous = api
        .http
        .post(format!("{}/conversations/1/files?name=x", api.base))
        .body("x")
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401);
    let nowhere = api
        .upload(&alice, 9999, "x", "text/plain", b"x".to_vec())
        .await;
    assert_eq!(nowhere.status, 404);

    let file = upload_ok(&api, &alice, direct, "plan.png", "image/png", png).await;
    let id = file["id"].as_i64().expect("id");
    let paths = [format!("/files/{id}"), format!("/files/{id}/thumbnail")];

    // Until it is sent, only the uploader sees it.
    for path in &paths {
        assert_eq!(api.fetch(Some(&alice.token), path, &[]).await.0, 200);
        assert_eq!(api.fetch(Some(&bob.token), path, &[]).await.0, 404);
    }

    // Only the uploader can send it, only where it was uploaded, and only once.
    let theft = api.send_files(&bob, direct, "b1", "mine now", &[id]).await;
    assert_eq!((theft.status, theft.code()), (400, "invalid_field"));
    let elsewhere = api.send_files(&alice, group, "a0", "", &[id]).await;
    assert_eq!(elsewhere.status, 400);
    let sent = api.send_files(&alice, direct, "a1", "", &[id]).await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let twice = api.send_files(&alice, direct, "a2", "again", &[id]).await;
    assert_eq!(twice.status, 400);
    let unknown = api.send_files(&alice, direct, "a3", "", &[987654]).await;
    assert_eq!(unknown.status, 400);
    let too_many = api
        .send_files(
            &alice,
            direct,
            "a4",
            "",
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        )
        .await;
    assert_eq!(too_many.status, 400);
    assert!(
        too_many.message().contains("at most 10"),
        "{}",
        too_many.message()
    );
    let blank = api.send_files(&alice, direct, "a5", " ", &[]).await;
    assert_eq!(blank.status, 400, "without files a body is needed");
    // A failed send leaves its files unsent and usable.
    let spare = upload_ok(&api, &alice, direct, "s.txt", "text/plain", b"s".to_vec()).await;
    let spare = spare["id"].as_i64().expect("id");
    let mixed = api.send_files(&alice, direct, "a6", "", &[spare, id]).await;
    assert_eq!(mixed.status, 400);
    let retry = api.send_files(&alice, direct, "a7", "", &[spare]).await;
    assert_eq!(retry.status, 201, "{:?}", retry.body);

    // Sent: members see it, strangers get the same 404 as for no file at all.
    for path in &paths {
        assert_eq!(api.fetch(Some(&bob.token), path, &[]).await.0, 200);
        let (status, _, body) = api.fetch(Some(&carol.token), path, &[]).await;
        assert_eq!(status, 404);
        let missing = api
            .fetch(
                Some(&carol.token),
                &path.replace(&id.to_string(), "987654"),
                &[],
            )
            .await;
        assert_eq!((missing.0, missing.2), (404, body), "indistinguishable");
        assert_eq!(api.fetch(None, path, &[]).await.0, 401);
    }
    assert_eq!(api.fetch(Some(&bob.token), "/files/abc", &[]).await.0, 400);
    assert_eq!(api.fetch(Some(&bob.token), "/files/0", &[]).await.0, 400);

    // A message with files may lose its text, and its files when it is deleted.
    let message = sent.body["id"].as_i64().expect("message id");
    let edited = api
        .patch(
            &format!("/messages/{message}"),
            &alice.token,
            json!({"body": "the plan"}),
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(
        edited.body["attachments"][0]["id"], id,
        "edits keep the files"
    );
    let deleted = api
        .delete(&format!("/messages/{message}"), &alice.token)
        .await;
    assert_eq!(deleted.status, 200);
    assert!(
        deleted.body.get("attachments").is_none(),
        "{:?}",
        deleted.body
    );
    for path in &paths {
        assert_eq!(api.fetch(Some(&bob.token), path, &[]).await.0, 404);
        assert_eq!(api.fetch(Some(&alice.token), path, &[]).await.0, 404);
    }

    // Someone who leaves a group loses its files.
    let shared = upload_ok(&api, &alice, group, "team.txt", "text/plain", b"t".to_vec()).await;
    let shared = shared["id"].as_i64().expect("id");
    api.send_files(&alice, group, "g1", "", &[shared]).await;
    let path = format!("/files/{shared}");
    assert_eq!(api.fetch(Some(&bob.token), &path, &[]).await.0, 200);
    api.leave(&bob, group).await;
    assert_eq!(api.fetch(Some(&bob.token), &path, &[]).await.0, 404);
}

#[tokio::test]
async fn files_are_sent_over_the_websocket_too() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let mut ws = Ws::connect(&hub, &alice).await;
    let file = upload_ok(
        &api,
        &alice,
        1,
        "notes.txt",
        "text/plain",
        b"notes".to_vec(),
    )
    .await;
    ws.send(json!({
        "type": "send", "ref": "r1", "conversation_id": 1, "client_id": "w1", "body": "",
        "attachments": [file["id"]]
    }))
    .await;
    let ack = ws.expect("ack", |f| f["ref"] == "r1").await;
    assert_eq!(ack["type"], "ack", "{ack:?}");
    assert_eq!(ack["message"]["attachments"][0], file);
    // A resend with the same client id is the same message, files included.
    ws.send(json!({
        "type": "send", "ref": "r2", "conversation_id": 1, "client_id": "w1", "body": "",
        "attachments": [file["id"]]
    }))
    .await;
    let again = ws.expect("ack", |f| f["ref"] == "r2").await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["message"]["attachments"][0], file);
    // Attachments that are not a list of ids are a bad frame.
    ws.send(json!({
        "type": "send", "ref": "r3", "conversation_id": 1, "client_id": "w2", "body": "x",
        "attachments": ["../etc"]
    }))
    .await;
    let bad = ws.expect("error", |f| f["ref"] == "r3").await;
    assert_eq!(bad["code"], "bad_request", "{bad:?}");
    // A file named twice, or one already sent, is refused, and nothing of the send is kept:
    // the file can still be sent, and the conversation has no gap in its numbering.
    let other = upload_ok(&api, &alice, 1, "more.txt", "text/plain", b"more".to_vec()).await;
    ws.send(json!({
        "type": "send", "ref": "r4", "conversation_id": 1, "client_id": "w3", "body": "twice",
        "attachments": [other["id"], other["id"]]
    }))
    .await;
    let twice = ws.expect("error", |f| f["ref"] == "r4").await;
    assert_eq!(twice["code"], "invalid_field", "{twice:?}");
    assert!(
        twice["message"].as_str().unwrap_or("").contains("twice"),
        "{twice:?}"
    );
    ws.send(json!({
        "type": "send", "ref": "r5", "conversation_id": 1, "client_id": "w4", "body": "again",
        "attachments": [other["id"], file["id"]]
    }))
    .await;
    let sent_before = ws.expect("error", |f| f["ref"] == "r5").await;
    assert_eq!(sent_before["code"], "invalid_field", "{sent_before:?}");
    ws.send(json!({
        "type": "send", "ref": "r6", "conversation_id": 1, "client_id": "w5", "body": "now",
        "attachments": [other["id"]]
    }))
    .await;
    let ok = ws.expect("ack", |f| f["ref"] == "r6").await;
    assert_eq!(ok["type"], "ack", "{ok:?}");
    assert_eq!(ok["message"]["attachments"][0], other);
    assert_eq!(
        ok["message"]["seq"],
        again["message"]["seq"].as_i64().expect("a seq") + 1
    );
}
