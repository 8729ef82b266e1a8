//! The floor: the least a WebSocket broadcast server can do. tokio-tungstenite, one
//! `tokio::sync::broadcast` for the room, 4 KiB read buffers, no persistence, no auth, no
//! JSON. Every text frame a client sends goes to every connected client as it is.
//!
//! It runs as `chinwag-bench floor-server` in its own process so it can be pinned to the
//! same core the hub gets, and prints `listening on ADDR`.

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("floor: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("floor: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let (room, _) = broadcast::channel::<Utf8Bytes>(4096);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(connection(stream, room.clone()));
    }
}

async fn connection(stream: TcpStream, room: broadcast::Sender<Utf8Bytes>) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let mut inbox = room.subscribe();
    let write = async {
        loop {
            match inbox.recv().await {
                Ok(text) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                    // Write what else is already waiting in one go.
                    while let Ok(text) = inbox.try_recv() {
                        if sink.feed(Message::Text(text)).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    let read = async {
        while let Some(Ok(message)) = source.next().await {
            if let Message::Text(text) = message {
                let _ = room.send(text);
            }
        }
    };
    tokio::select! {
        _ = write => {}
        _ = read => {}
    }
}
