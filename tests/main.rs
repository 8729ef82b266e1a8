//! Chinwag's integration tests, one binary (see `autotests = false` in Cargo.toml): the real
//! hub on `127.0.0.1:0` with a temporary database, real HTTP and WebSocket clients, and the
//! real `chinwag` binary where process behaviour is the point.

mod common;

mod admin;
mod authz;
mod availability;
mod chat;
mod discovery;
mod faults;
mod files;
mod history;
mod join;
mod lifecycle;
mod mentions;
mod observability;
mod operations;
mod privacy;
mod protocol;
mod reactions;
mod replies;
mod search;
mod security;
mod unread;
