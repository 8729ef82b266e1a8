//! A stand-in desktop notification service for tests (`org.freedesktop.Notifications` on the
//! session bus, as a notification daemon would provide).
//!
//! Each notification received is printed on stdout as one JSON line:
//! `{"id":1,"app":"Chinwag","summary":"…","body":"…","actions":["default","Open"]}`.
//! After the bus name is taken it prints `{"ready":true}`. Lines on stdin act as the user:
//! `click ID` (or `click ID ACTION`) emits `ActionInvoked`, `close ID` emits
//! `NotificationClosed`. It exits when stdin closes.
//!
//! Run it inside `dbus-run-session` (or with `DBUS_SESSION_BUS_ADDRESS` pointing at a private
//! bus); it will not replace a notification service that already owns the name.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use zbus::OwnedVariant;

const PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";

struct Spy {
    next_id: u32,
}

fn print(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Spy {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedVariant>,
        expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            self.next_id += 1;
            self.next_id
        };
        let mut hint_names: Vec<&String> = hints.keys().collect();
        hint_names.sort();
        print(serde_json::json!({
            "id": id,
            "app": app_name,
            "icon": app_icon,
            "summary": summary,
            "body": body,
            "actions": actions,
            "hints": hint_names,
            "expire_timeout": expire_timeout,
        }));
        id
    }

    fn close_notification(&self, id: u32) {
        print(serde_json::json!({"closed": id}));
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    #[zbus(out_args("name", "vendor", "version", "spec_version"))]
    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "chinwag-notify-spy".into(),
            "Chinwag".into(),
            env!("CARGO_PKG_VERSION").into(),
            "1.2".into(),
        )
    }
}

fn main() -> ExitCode {
    let connection = zbus::block_on(async {
        zbus::connection::Builder::session()
            .name(INTERFACE)
            .serve_at(PATH, Spy { next_id: 0 })
            .build()
            .await
    });
    let connection = match connection {
        Ok(c) => c,
        Err(err) => {
            eprintln!("chinwag-notify-spy: cannot serve {INTERFACE}: {err}");
            return ExitCode::FAILURE;
        }
    };
    print(serde_json::json!({"ready": true}));

    // The connection is driven while this thread waits in `block_on`; stdin is read beside it.
    let driver = connection.clone();
    std::thread::spawn(move || {
        zbus::block_on(async move {
            let _keep = driver;
            std::future::pending::<()>().await
        })
    });
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let sent = match words.as_slice() {
            ["click", id, rest @ ..] => id.parse::<u32>().ok().map(|id| {
                let action = rest.first().copied().unwrap_or("default").to_owned();
                zbus::block_on(connection.emit_signal(
                    None::<()>,
                    PATH,
                    INTERFACE,
                    "ActionInvoked",
                    &(id, action),
                ))
            }),
            ["close", id] => id.parse::<u32>().ok().map(|id| {
                zbus::block_on(connection.emit_signal(
                    None::<()>,
                    PATH,
                    INTERFACE,
                    "NotificationClosed",
                    &(id, 2u32),
                ))
            }),
            _ => None,
        };
        match sent {
            Some(Ok(())) => print(serde_json::json!({"done": line})),
            Some(Err(err)) => print(serde_json::json!({"failed": line, "error": err.to_string()})),
            None => print(serde_json::json!({"unknown": line})),
        }
    }
    ExitCode::SUCCESS
}
