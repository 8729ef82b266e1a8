//! The effective settings: the command line (flags and their environment variables) over
//! the config file, over the defaults, each with where it came from.

use std::net::SocketAddr;

use chinwag_node::config::{FileSettings, Settings, Source};
use chinwag_node::DEFAULT_PORT;
use clap::parser::ValueSource;
use clap::ArgMatches;

use super::*;

/// Merges the command line (flags and their environment variables, which clap has already
/// read) over the config file, over the defaults, noting where each value came from.
pub(crate) struct Merge<'a> {
    pub(crate) matches: &'a ArgMatches,
    pub(crate) sources: std::collections::BTreeMap<&'static str, Source>,
}

impl Merge<'_> {
    /// The command line's value if it was given there or in the environment, else the
    /// file's, else the command line's default. `key` is the file's name for it, `id` clap's.
    fn take<T>(&mut self, key: &'static str, id: &str, file: Option<T>, cli: T) -> T {
        let (source, value) = match (self.matches.value_source(id), file) {
            (Some(ValueSource::CommandLine), _) => (Source::Flag, cli),
            (Some(ValueSource::EnvVariable), _) => (Source::Env, cli),
            (_, Some(value)) => (Source::File, value),
            (_, None) => (Source::Default, cli),
        };
        self.sources.insert(key, source);
        value
    }
}

pub(crate) fn settings(
    cli: &Cli,
    matches: &ArgMatches,
    file: Option<FileSettings>,
) -> anyhow::Result<Settings> {
    let file = file.unwrap_or_default();
    let mut m = Merge {
        matches,
        sources: std::collections::BTreeMap::new(),
    };
    let bind = m
        .take("bind", "bind", file.bind.map(Some), cli.bind)
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)));
    let data_dir = match m.take(
        "data_dir",
        "data_dir",
        file.data_dir.map(Some),
        cli.data_dir.clone(),
    ) {
        Some(dir) => dir,
        None => chinwag_node::default_data_dir()?,
    };
    let name = m.take("name", "name", file.name, cli.name.clone());
    if name.trim().is_empty() {
        anyhow::bail!("--name must not be empty");
    }
    let join_code = m
        .take(
            "join_code",
            "join_code",
            file.join_code.map(Some),
            cli.join_code.clone(),
        )
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let mdns = m.take("mdns", "no_mdns", file.mdns, !cli.no_mdns);
    let log_format = m.take("log_format", "log_format", file.log_format, cli.log_format);
    let sync = m.take("sync", "sync", file.sync, cli.sync);
    let allow_origins = m.take(
        "allow_origins",
        "allow_origins",
        file.allow_origins,
        cli.allow_origins.clone(),
    );
    let urls = m.take("urls", "urls", file.urls, cli.urls.clone());
    for url in &urls {
        parse_url(url).map_err(|err| match (&cli.config, m.sources.get("urls")) {
            (Some(file), Some(Source::File)) => anyhow::anyhow!("{}: urls: {err}", file.display()),
            _ => anyhow::anyhow!("urls: {err}"),
        })?;
    }
    let limits = &file.limits;
    let max_message_bytes = m.take(
        "limits.max_message_bytes",
        "max_message_bytes",
        limits.max_message_bytes,
        cli.max_message_bytes,
    );
    let max_upload_mb = m.take(
        "limits.max_upload_mb",
        "max_upload_mb",
        limits.max_upload_mb,
        cli.max_upload_mb,
    );
    let messages_per_second = m.take(
        "limits.messages_per_second",
        "messages_per_second",
        limits.messages_per_second,
        cli.messages_per_second,
    );
    let connections_per_address = m.take(
        "limits.connections_per_address",
        "connections_per_address",
        limits.connections_per_address,
        cli.connections_per_address,
    );
    let retention_days = m.take(
        "retention.days",
        "retention_days",
        file.retention.days,
        cli.retention_days,
    );
    let session_idle_days = m.take(
        "sessions.idle_days",
        "session_idle_days",
        file.sessions.idle_days,
        cli.session_idle_days,
    );
    Ok(Settings {
        bind,
        data_dir,
        name,
        join_code,
        mdns,
        log_format,
        sync,
        allow_origins,
        urls,
        max_message_bytes,
        max_upload_mb,
        messages_per_second,
        connections_per_address,
        retention_days,
        session_idle_days,
        sources: m.sources,
        file: cli.config.clone(),
    })
}
