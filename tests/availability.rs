//! One host on the LAN must not take the hub off the air: connections are capped per address
//! (HTTP and WebSocket alike), request headers and bodies must arrive in time, and someone
//! else can still load the page, sign in and chat (issue 21, item 1).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{config, connect_from, Api, TestHub, Ws, WAIT};
use crate::observability::scrape;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const TRICKLER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
const COLLEAGUE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// What a connection says before the hub closes it, read until the close (or `wait`).
async fn answer(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_trickling_connections_from_one_address_leave_the_hub_to_everyone_else() {
    const IDLE: usize = 3000;
    // This process holds both ends of every connection.
    let limit = chinwag_web::serve::raise_open_files().expect("raises the open-files limit");
    assert!(
        limit >= 4 * IDLE as u64,
        "the hard open-files limit ({limit}) is too low for this test"
    );
    let mut cfg = config();
    cfg.header_timeout = Duration::from_secs(2);
    cfg.body_timeout = Duration::from_secs(2);
    let per_addr = cfg.max_connections_per_addr;
    let hub = TestHub::start_with(cfg).await;

    // One address opens 3,000 connections and sends nothing.
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(connect_from(hub.addr, ATTACKER).await.expect("connects"));
    }
    let opened = Instant::now();
    // Another trickles a request's headers, one line every 300 ms.
    let mut trickle = connect_from(hub.addr, TRICKLER).await.expect("connects");
    let trickling = tokio::spawn(async move {
        let started = Instant::now();
        if trickle.write_all(b"GET / HTTP/1.1\r\n").await.is_err() {
            return (started.elapsed(), 0);
        }
        let mut lines = 0;
        while lines < 100 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if trickle.write_all(b"X-Slow: yes\r\n").await.is_err() {
                break;
            }
            lines += 1;
        }
        (started.elapsed(), lines)
    });

    // Meanwhile a colleague on another machine loads the page, signs in and chats.
    let started = Instant::now();
    let page = reqwest::Client::builder()
        .local_address(COLLEAGUE)
        .build()
        .expect("client")
        .get(format!("http://{}/", hub.addr))
        .send()
        .await
        .expect("the page loads");
    assert_eq!(page.status(), 200);
    let page_ms = started.elapsed().as_millis();
    let api = Api::from_address(hub.addr, COLLEAGUE);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let alice = api.login(&alice.username).await;
    let direct = api.direct(&alice, &bob).await;
    let mut a = Ws::connect_from(&hub, &alice, COLLEAGUE).await;
    let mut b = Ws::connect_from(&hub, &bob, COLLEAGUE).await;
    let ack = a.say(direct, "c1", "still here?").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    b.message("still here?").await;
    let chat_ms = started.elapsed().as_millis();

    // The hub held at most its per-address cap of the idle ones and turned the rest away at
    // once, with a JSON 429.
    let metrics = scrape(&hub).await;
    let refused = metrics["chinwag_connections_refused_total"] as usize;
    assert_eq!(refused, IDLE - per_addr, "{metrics:?}");
    let mut turned_away = 0;
    for stream in idle.iter_mut().rev().take(10) {
        let said = answer(stream, WAIT).await.expect("answered at once");
        assert!(said.starts_with("HTTP/1.1 429"), "{said}");
        assert!(said.contains(r#""code":"rate_limited""#), "{said}");
        assert!(said.contains("retry-after: 5"), "{said}");
        turned_away += 1;
    }
    assert_eq!(turned_away, 10);

    // The headers never finished: the hub closed the trickle after its header timeout.
    let (trickled_for, lines) = trickling.await.expect("trickler");
    assert!(lines < 100, "a trickled header is cut off");
    // And every idle connection it held is closed after the header timeout too.
    for stream in idle.iter_mut().take(per_addr) {
        let said = answer(stream, WAIT)
            .await
            .expect("the idle connection is closed");
        assert!(!said.starts_with("HTTP/1.1 2"), "{said}");
    }
    let idle_closed = opened.elapsed().as_secs_f64();
    drop(idle);

    // A JSON request whose body never comes is answered 408 when the body deadline passes.
    let mut post = connect_from(hub.addr, TRICKLER).await.expect("connects");
    post.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n\
          Content-Length: 60\r\n\r\n{\"username\":",
    )
    .await
    .expect("sent the start");
    let said = answer(&mut post, WAIT).await.expect("answered");
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("did not arrive within 2 seconds"), "{said}");

    // The colleague is still connected and chatting.
    let ack = b.say(direct, "c2", "yes").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    a.message("yes").await;
    println!(
        "flood: {IDLE} idle connections from one address: {per_addr} held, {refused} refused at \
         accept; a header trickled a line every 300 ms cut off after {:.1} s ({lines} lines); \
         the held ones closed within {idle_closed:.1} s (header timeout 2 s); meanwhile \
         another address loaded the page in {page_ms} ms and signed in and chatted in \
         {chat_ms} ms",
        trickled_for.as_secs_f64()
    );
}

#[tokio::test]
async fn every_connection_counts_towards_the_per_address_cap() {
    let mut cfg = config();
    cfg.max_connections_per_addr = 2;
    let hub = TestHub::start_with(cfg).await;
    // Two plain TCP connections from one address take its places...
    let first = connect_from(hub.addr, ATTACKER).await.expect("connects");
    let _second = connect_from(hub.addr, ATTACKER).await.expect("connects");
    // ...so its WebSocket upgrade is refused at once, as is any page load...
    let mut third = connect_from(hub.addr, ATTACKER).await.expect("connects");
    let said = answer(&mut third, WAIT).await.expect("answered");
    assert!(said.starts_with("HTTP/1.1 429"), "{said}");
    assert!(said.contains("the limit is 2"), "{said}");
    // ...while another address is served.
    let api = Api::from_address(hub.addr, COLLEAGUE);
    let alice = api.register("alice").await;
    let _ws = Ws::connect_from(&hub, &alice, COLLEAGUE).await;
    // A place frees when its connection closes.
    drop(first);
    let mut freed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stream = connect_from(hub.addr, ATTACKER).await.expect("connects");
        let mut stream = stream;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            .await
            .expect("sent");
        let said = answer(&mut stream, WAIT).await.expect("answered");
        if said.starts_with("HTTP/1.1 200") {
            freed = true;
            break;
        }
    }
    assert!(freed, "a freed place can be used again");
}
