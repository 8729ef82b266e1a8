//! The hub's settings: what a TOML file may say ([`FileSettings`]), and the effective
//! settings after flags, environment and file are merged ([`Settings`]), which
//! `chinwag --server --print-config` prints back as TOML.
//!
//! Precedence, highest first: a command-line flag, its `CHINWAG_*` environment variable, the
//! config file (`--config FILE`), the built-in default. The merge itself happens where the
//! command line is parsed (the binary); this module owns the shapes, the checks on values a
//! file brings, and the rendering.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

/// Whether log lines are for people or for a log collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line (timestamp, level, target, fields).
    Json,
}

/// When a message counts as saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Every commit is flushed to the disk (survives a power cut).
    Full,
    /// The OS flushes commits (survives a crash of Chinwag; faster on slow disks).
    Normal,
}

/// Allowed ranges, shared by the flags and the file.
pub const MAX_MESSAGE_BYTES: std::ops::RangeInclusive<u32> = 1..=1_048_576;
pub const MAX_UPLOAD_MB: std::ops::RangeInclusive<u64> = 1..=1_000_000;
pub const MESSAGES_PER_SECOND: std::ops::RangeInclusive<u32> = 1..=1_000_000;
pub const CONNECTIONS_PER_ADDRESS: std::ops::RangeInclusive<u32> = 1..=100_000;
pub const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 0..=36_500;
pub const SESSION_IDLE_DAYS: std::ops::RangeInclusive<u32> = 0..=36_500;

/// What a config file may contain. Every key is optional; an unknown key is an error (a typo
/// must not be silently ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub name: Option<String>,
    pub join_code: Option<String>,
    pub mdns: Option<bool>,
    pub log_format: Option<LogFormat>,
    pub sync: Option<SyncMode>,
    pub allow_origins: Option<Vec<String>>,
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub retention: FileRetention,
    #[serde(default)]
    pub sessions: FileSessions,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_message_bytes: Option<u32>,
    pub max_upload_mb: Option<u64>,
    pub messages_per_second: Option<u32>,
    pub connections_per_address: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRetention {
    /// Delete messages (and their files) older than this many days; 0 keeps everything.
    pub days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSessions {
    /// Sign out sessions not used for this many days; 0 keeps them until sign-out.
    pub idle_days: Option<u32>,
}

impl FileSettings {
    /// Reads and checks a config file; errors name the file, and the line for syntax errors.
    pub fn load(path: &Path) -> Result<FileSettings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<FileSettings> {
        let settings: FileSettings = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<()> {
        fn within<T: PartialOrd + std::fmt::Display + Copy>(
            key: &str,
            value: Option<T>,
            range: std::ops::RangeInclusive<T>,
        ) -> Result<()> {
            match value {
                Some(v) if !range.contains(&v) => Err(anyhow!(
                    "{key} = {v} is out of range: it must be between {} and {}",
                    range.start(),
                    range.end()
                )),
                _ => Ok(()),
            }
        }
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(anyhow!("name must not be empty"));
        }
        within(
            "limits.max_message_bytes",
            self.limits.max_message_bytes,
            MAX_MESSAGE_BYTES,
        )?;
        within(
            "limits.max_upload_mb",
            self.limits.max_upload_mb,
            MAX_UPLOAD_MB,
        )?;
        within(
            "limits.messages_per_second",
            self.limits.messages_per_second,
            MESSAGES_PER_SECOND,
        )?;
        within(
            "limits.connections_per_address",
            self.limits.connections_per_address,
            CONNECTIONS_PER_ADDRESS,
        )?;
        within("retention.days", self.retention.days, RETENTION_DAYS)?;
        within(
            "sessions.idle_days",
            self.sessions.idle_days,
            SESSION_IDLE_DAYS,
        )?;
        Ok(())
    }
}

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Flag => "command line",
            Source::Env => "environment",
            Source::File => "config file",
            Source::Default => "default",
        }
    }
}

/// The settings a hub runs with, after the merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub name: String,
    pub join_code: Option<String>,
    pub mdns: bool,
    pub log_format: LogFormat,
    pub sync: SyncMode,
    pub allow_origins: Vec<String>,
    /// The addresses people open to reach the hub, when not the LAN addresses it listens on.
    pub urls: Vec<String>,
    pub max_message_bytes: u32,
    pub max_upload_mb: u64,
    pub messages_per_second: u32,
    pub connections_per_address: u32,
    pub retention_days: u32,
    pub session_idle_days: u32,
    /// Where each key's value came from, by the key's name in the file.
    pub sources: BTreeMap<&'static str, Source>,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
}

/// A TOML string (JSON's escapes are a subset of TOML basic strings').
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Settings {
    /// The settings as a TOML config file, each key commented with its source. Reading it
    /// back as a config file gives the same settings.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str("# Chinwag hub: effective settings.\n");
        out.push_str(
            "# Precedence: command line > environment (CHINWAG_*) > config file > default.\n",
        );
        match &self.file {
            Some(f) => out.push_str(&format!("# Config file: {}\n", f.display())),
            None => out.push_str("# Config file: none (pass --config FILE)\n"),
        }
        let line = |out: &mut String, key: &'static str, short: &str, value: String| {
            let source = self.sources.get(key).copied().unwrap_or(Source::Default);
            let text = format!("{short} = {value}");
            out.push_str(&format!("{text:<44} # {}\n", source.describe()));
        };
        out.push('\n');
        line(&mut out, "bind", "bind", quoted(&self.bind.to_string()));
        line(
            &mut out,
            "data_dir",
            "data_dir",
            quoted(&self.data_dir.to_string_lossy()),
        );
        line(&mut out, "name", "name", quoted(&self.name));
        match &self.join_code {
            Some(code) => line(&mut out, "join_code", "join_code", quoted(code)),
            None => out.push_str("# join_code: not set, anyone who reaches the hub may register\n"),
        }
        line(&mut out, "mdns", "mdns", self.mdns.to_string());
        let log = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        line(&mut out, "log_format", "log_format", quoted(log));
        let sync = match self.sync {
            SyncMode::Full => "full",
            SyncMode::Normal => "normal",
        };
        line(&mut out, "sync", "sync", quoted(sync));
        let origins: Vec<String> = self.allow_origins.iter().map(|o| quoted(o)).collect();
        line(
            &mut out,
            "allow_origins",
            "allow_origins",
            format!("[{}]", origins.join(", ")),
        );
        let urls: Vec<String> = self.urls.iter().map(|u| quoted(u)).collect();
        line(&mut out, "urls", "urls", format!("[{}]", urls.join(", ")));
        out.push_str("\n[limits]\n");
        line(
            &mut out,
            "limits.max_message_bytes",
            "max_message_bytes",
            self.max_message_bytes.to_string(),
        );
        line(
            &mut out,
            "limits.max_upload_mb",
            "max_upload_mb",
            self.max_upload_mb.to_string(),
        );
        line(
            &mut out,
            "limits.messages_per_second",
            "messages_per_second",
            self.messages_per_second.to_string(),
        );
        line(
            &mut out,
            "limits.connections_per_address",
            "connections_per_address",
            self.connections_per_address.to_string(),
        );
        out.push_str("\n[retention]\n");
        out.push_str("# Messages and their files older than this many days are deleted; 0 keeps everything.\n");
        line(
            &mut out,
            "retention.days",
            "days",
            self.retention_days.to_string(),
        );
        out.push_str("\n[sessions]\n");
        out.push_str("# Sign out sessions not used for this many days (an open connection counts as use); 0: never.\n");
        line(
            &mut out,
            "sessions.idle_days",
            "idle_days",
            self.session_idle_days.to_string(),
        );
        out
    }

    /// What `run_server` needs.
    pub fn server_options(&self) -> crate::ServerOptions {
        let mut options = crate::ServerOptions {
            bind: self.bind,
            data_dir: Some(self.data_dir.clone()),
            ..crate::ServerOptions::default()
        };
        options.mdns = if self.mdns {
            crate::Mdns::On
        } else {
            crate::Mdns::Off
        };
        let hub = &mut options.hub;
        hub.name = self.name.trim().to_owned();
        hub.join_code = self
            .join_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let max = self.max_message_bytes as usize;
        hub.max_message_bytes = max;
        // A frame carries the message plus its JSON envelope (escaping can double the size).
        hub.max_frame_bytes = hub.max_frame_bytes.max(max * 2 + 4096);
        hub.max_body_bytes = hub.max_body_bytes.max(max * 2 + 4096);
        hub.messages_per_second = self.messages_per_second;
        hub.message_burst = hub.message_burst.max(self.messages_per_second * 3);
        hub.max_upload_bytes = self.max_upload_mb * 1024 * 1024;
        hub.max_connections_per_addr = self.connections_per_address as usize;
        hub.store.durability = match self.sync {
            SyncMode::Full => chinwag_store::Durability::Full,
            SyncMode::Normal => chinwag_store::Durability::Normal,
        };
        hub.retention_days = self.retention_days;
        hub.session_idle_days = self.session_idle_days;
        hub.allowed_origins = self
            .allow_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        hub.urls = self
            .urls
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let s = FileSettings::parse(
            r#"
            bind = "127.0.0.1:9000"
            data_dir = "/var/lib/chinwag"
            name = "Office"
            join_code = "tea"
            mdns = false
            log_format = "json"
            sync = "normal"
            allow_origins = ["http://intranet:8080"]
            [limits]
            max_message_bytes = 4096
            max_upload_mb = 20
            messages_per_second = 5
            [retention]
            days = 90
            [sessions]
            idle_days = 30
            "#,
        )
        .expect("parses");
        assert_eq!(s.bind, Some("127.0.0.1:9000".parse().expect("addr")));
        assert_eq!(s.log_format, Some(LogFormat::Json));
        assert_eq!(s.sync, Some(SyncMode::Normal));
        assert_eq!(s.limits.max_upload_mb, Some(20));
        assert_eq!(s.retention.days, Some(90));
        assert_eq!(s.sessions.idle_days, Some(30));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |text: &str| format!("{:#}", FileSettings::parse(text).expect_err(text));
        assert!(err("nmae = \"x\"").contains("unknown field `nmae`"));
        assert!(err("[limits]\nmax_upload = 3").contains("unknown field `max_upload`"));
        assert!(err("bind = \"nowhere\"").contains("bind"));
        assert!(err("name = \"  \"").contains("name must not be empty"));
        assert!(err("[limits]\nmax_upload_mb = 0").contains("between 1 and 1000000"));
        assert!(err("[limits]\nmax_message_bytes = -5").contains("max_message_bytes"));
        assert!(err("log_format = \"xml\"").contains("log_format"));
        assert!(err("name = \"unterminated").contains("line 1"));
        assert!(err("[retention]\ndays = 99999").contains("retention.days"));
        assert!(err("[sessions]\nidle_days = 99999").contains("sessions.idle_days"));
        assert!(err("[sessions]\nidle = 3").contains("unknown field `idle`"));
    }

    #[test]
    fn the_documented_example_parses() {
        let s = FileSettings::parse(include_str!("../../../docs/chinwag.toml"))
            .expect("docs/chinwag.toml is a valid config file");
        assert_eq!(s.name.as_deref(), Some("Office chat"));
        assert_eq!(s.retention.days, Some(0));
    }

    #[test]
    fn an_empty_file_sets_nothing() {
        let s = FileSettings::parse("").expect("parses");
        assert!(s.bind.is_none() && s.name.is_none() && s.retention.days.is_none());
    }
}
