//! `chinwag admin …`, `backup`, `restore` and `export`: what they print, on a running hub or a
//! stopped one.

use std::path::PathBuf;
use std::process::ExitCode;

use super::*;

/// A password to hand to someone: 16 characters from an unambiguous alphabet (about 90
/// bits), or the first line of standard input.
pub(crate) fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    let token = chinwag_hub::auth::new_token();
    let password: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(*c))
        .take(16)
        .collect();
    Ok((password, true))
}

pub(crate) fn when(millis: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis.max(0) as u64);
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Days since the epoch to a civil date (Howard Hinnant's algorithm), UTC.
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

/// Runs `chinwag admin ...` against the hub on `dir` (live) or its store (stopped).
pub(crate) async fn hub_admin(command: HubAdmin, dir: PathBuf) -> anyhow::Result<()> {
    use chinwag_proto::admin::{CreateUserRequest, UpdateUserRequest};
    let target = chinwag_node::admin::Target::open(&dir).await?;
    let via = if target.is_live() {
        "through the running hub"
    } else {
        "on the stopped hub's store"
    };
    let result = async {
        match command {
            HubAdmin::Users { action } => match action {
                UsersAction::List { json } => {
                    let users = target.users().await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&users)?);
                    } else {
                        println!("ID\tUSERNAME\tNAME\tROLE\tSTATE\tSESSIONS\tPRESENCE");
                        for u in &users {
                            println!(
                                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                                u.user.id,
                                u.user.username,
                                u.user.display_name,
                                if u.user.is_admin { "admin" } else { "member" },
                                if u.user.disabled {
                                    "disabled"
                                } else {
                                    "active"
                                },
                                u.sessions,
                                serde_json::to_value(u.presence)?.as_str().unwrap_or("")
                            );
                        }
                    }
                    eprintln!("users: {} accounts ({via})", users.len());
                }
                UsersAction::Create {
                    username,
                    display_name,
                    admin,
                    password_stdin,
                } => {
                    let (password, generated) = new_password(password_stdin)?;
                    let user = target
                        .create_user(CreateUserRequest {
                            username,
                            display_name,
                            password: password.clone(),
                            admin,
                        })
                        .await?;
                    if generated {
                        println!("{password}");
                    }
                    eprintln!(
                        "users: created {} (id {}{}){}, {via}",
                        user.user.username,
                        user.user.id,
                        if user.user.is_admin {
                            ", hub admin"
                        } else {
                            ""
                        },
                        if generated {
                            "; its password is printed above, hand it over privately"
                        } else {
                            ""
                        }
                    );
                }
                UsersAction::ResetPassword {
                    username,
                    password_stdin,
                } => {
                    let user = target.user(&username).await?;
                    let (password, generated) = new_password(password_stdin)?;
                    let body = UpdateUserRequest {
                        password: Some(password.clone()),
                        ..Default::default()
                    };
                    let user = target.update_user(user.user.id, body).await?;
                    if generated {
                        println!("{password}");
                    }
                    eprintln!(
                        "users: new password for {}; signed out everywhere ({via})",
                        user.user.username
                    );
                }
                switch => {
                    let (username, disabled, admin, done) = match switch {
                        UsersAction::Disable { username } => (
                            username,
                            Some(true),
                            None,
                            "disabled; its sessions are closed",
                        ),
                        UsersAction::Enable { username } => {
                            (username, Some(false), None, "enabled")
                        }
                        UsersAction::Promote { username } => {
                            (username, None, Some(true), "is now a hub admin")
                        }
                        UsersAction::Demote { username } => {
                            (username, None, Some(false), "is no longer a hub admin")
                        }
                        _ => unreachable!("handled above"),
                    };
                    let body = UpdateUserRequest {
                        disabled,
                        admin,
                        password: None,
                    };
                    let user = target.user(&username).await?;
                    let user = target.update_user(user.user.id, body).await?;
                    eprintln!("users: {} {done} ({via})", user.user.username);
                }
            },
            HubAdmin::Conversations {
                action: ConversationsAction::List { json },
            } => {
                let list = target.conversations().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    println!("ID\tKIND\tNAME\tMEMBERS\tMESSAGES\tFILES\tLAST ACTIVITY");
                    for c in &list {
                        let conv = &c.conversation;
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            conv.id,
                            serde_json::to_value(conv.kind)?.as_str().unwrap_or(""),
                            conv.name.as_deref().unwrap_or("-"),
                            c.members,
                            c.messages,
                            c.files,
                            when(conv.last_activity_at)
                        );
                    }
                }
                eprintln!("conversations: {} ({via})", list.len());
            }
            HubAdmin::Stats { json } => {
                let s = target.stats().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&s)?);
                } else {
                    let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1_048_576.0);
                    println!(
                        "users          {} ({} admins, {} disabled)",
                        s.users, s.admins, s.disabled_users
                    );
                    println!(
                        "online         {} people on {} connections",
                        s.users_online, s.connections
                    );
                    println!("conversations  {}", s.conversations);
                    println!("messages       {}", s.messages);
                    println!(
                        "files          {} ({} of content)",
                        s.files,
                        mib(s.file_bytes)
                    );
                    println!("store          {}", mib(s.store_bytes));
                    println!("open reports   {}", s.open_reports);
                    println!(
                        "retention      {}",
                        if s.retention_days == 0 {
                            "off (everything is kept)".to_owned()
                        } else {
                            format!("{} days", s.retention_days)
                        }
                    );
                    println!(
                        "sessions       {}",
                        if s.session_idle_days == 0 {
                            "kept until sign-out".to_owned()
                        } else {
                            format!("signed out after {} idle days", s.session_idle_days)
                        }
                    );
                }
                eprintln!("stats: {} ({via})", dir.display());
            }
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    target.close().await;
    result
}

/// Runs an admin command; prints one line of outcome on success, one clear error otherwise.
pub(crate) fn admin(command: AdminCommand, dir: PathBuf) -> ExitCode {
    use chinwag_store::admin;
    let db = dir.join(chinwag_node::DB_FILE);
    let outcome = match command {
        AdminCommand::Admin { .. } | AdminCommand::Doctor { .. } => {
            unreachable!("run by hub_admin and doctor")
        }
        AdminCommand::Backup { file } => {
            admin::backup(&db, &file).map(|s| {
                format!(
                "backup: {} users, {} conversations, {} messages (schema {}) copied from {} to {}",
                s.users, s.conversations, s.messages, s.schema_version, db.display(), file.display()
            )
            })
        }
        AdminCommand::Restore { file } => admin::restore(&file, &db).map(|(s, kept)| {
            let kept = kept.map_or(String::new(), |k| {
                format!("; the previous store is kept at {}", k.display())
            });
            format!(
                "restore: {} users, {} conversations, {} messages from {} into {}{kept}",
                s.users,
                s.conversations,
                s.messages,
                file.display(),
                db.display()
            )
        }),
        AdminCommand::Export { user, out } => admin::export_user(&db, &user).and_then(|export| {
            let json = serde_json::to_string_pretty(&export)?;
            let messages: usize = export
                .conversations
                .iter()
                .map(|c| c.messages.len())
                .sum::<usize>()
                + export.sent_elsewhere.len();
            match &out {
                None => {
                    println!("{json}");
                    Ok(format!(
                        "export: {user}: {} conversations, {messages} messages",
                        export.conversations.len()
                    ))
                }
                Some(path) => {
                    use std::io::Write;
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)
                        .and_then(|mut f| f.write_all(json.as_bytes()))
                        .map_err(|e| {
                            chinwag_store::StoreError::Unavailable(format!(
                                "cannot write {}: {e}",
                                path.display()
                            ))
                        })?;
                    Ok(format!(
                        "export: {user}: {} conversations, {messages} messages written to {}",
                        export.conversations.len(),
                        path.display()
                    ))
                }
            }
        }),
    };
    match outcome {
        Ok(line) => {
            eprintln!("{line}");
            ExitCode::SUCCESS
        }
        Err(chinwag_store::StoreError::NotFound(what)) => {
            eprintln!("chinwag: no such {what} in {}", db.display());
            ExitCode::FAILURE
        }
        Err(chinwag_store::StoreError::Invalid { reason, .. }) => {
            eprintln!("chinwag: {reason}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("chinwag: {err}");
            ExitCode::FAILURE
        }
    }
}
