//! Accounts and sessions: register, sign in and out, profiles, the directory.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use chinwag_proto::notify::{NotifyChange, NotifySettings};
use chinwag_proto::rest::{LoginRequest, RegisterRequest, SessionResponse, UpdateProfileRequest};
use chinwag_proto::{validate, ApiError, DirectoryEntry, ErrorCode, HubInfo, User, UserId};
use chinwag_store::queries;

use super::{read, write};
use crate::{auth, HubState};

/// The hub's public facts, with how many people are online.
pub(crate) fn hub_info(hub: &HubState) -> HubInfo {
    HubInfo {
        online: Some(hub.fanout.online_count()),
        first_account: !hub.accounts_exist.load(Ordering::Relaxed),
        ..hub.info.clone()
    }
}

/// Creates an account (with the join code, when the hub has one) and signs it in.
pub(crate) async fn register(
    hub: &HubState,
    req: RegisterRequest,
    ip: Option<IpAddr>,
) -> Result<SessionResponse, ApiError> {
    if let Some(code) = &hub.config.join_code {
        hub.join_codes.check(ip)?;
        let given = req.join_code.as_deref().unwrap_or("");
        if !chinwag_web::constant_time_eq(given.trim().as_bytes(), code.as_bytes()) {
            if !given.is_empty() {
                hub.join_codes.failed(ip);
            }
            return Err(ApiError::new(
                ErrorCode::JoinCodeRequired,
                if given.is_empty() {
                    "This hub needs a join code to register; ask its admin."
                } else {
                    "That join code is not right; ask the hub's admin."
                },
            ));
        }
    }
    let username = validate::username(&req.username)?;
    let display_name = validate::display_name(req.display_name.as_deref().unwrap_or(&username))?;
    validate::password(&req.password)?;
    let hash = auth::hash_password(&hub.hashing, req.password).await?;
    let token = auth::new_token();
    let token_hash = auth::token_hash(&token);
    let user = write(hub, move |tx| {
        let user = tx.register(&username, &display_name, &hash)?;
        tx.create_session(user.id, &token_hash)?;
        Ok(user)
    })
    .await?;
    hub.accounts_exist.store(true, Ordering::Relaxed);
    tracing::info!(user = user.id.get(), "registered {}", user.username);
    Ok(SessionResponse { token, user })
}

/// Signs in with a username and password, within the login throttle's allowance.
pub(crate) async fn login(
    hub: &HubState,
    req: LoginRequest,
    ip: Option<IpAddr>,
) -> Result<SessionResponse, ApiError> {
    hub.throttle.check(&req.username, ip)?;
    let username = req.username.clone();
    let found = read(hub, move |c| queries::user_for_login(c, &username)).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let verified = auth::verify_password(&hub.hashing, req.password, hash).await;
    let user = match (verified, user) {
        (true, Some(user)) => user,
        _ => {
            hub.throttle.failed(&req.username, ip);
            return Err(ApiError::new(
                ErrorCode::BadCredentials,
                "Wrong username or password.",
            ));
        }
    };
    hub.throttle.succeeded(&req.username);
    if user.disabled {
        return Err(ApiError::forbidden(
            "This account is disabled; ask the hub's admin.",
        ));
    }
    let token = auth::new_token();
    let token_hash = auth::token_hash(&token);
    let user_id = user.id;
    write(hub, move |tx| tx.create_session(user_id, &token_hash)).await?;
    Ok(SessionResponse { token, user })
}

/// Ends the session `session` (a token's hash), closing its connections.
pub(crate) async fn logout(hub: &HubState, session: Vec<u8>) -> Result<(), ApiError> {
    let revoked = session.clone();
    write(hub, move |tx| tx.delete_session(&revoked)).await?;
    hub.fanout.kick_session(&session);
    Ok(())
}

/// The user of a live session: one that exists, was used within the hub's idle limit and
/// belongs to an enabled account. A session last marked used over an hour ago is marked
/// again, in the background (the answer does not wait for that write).
pub(crate) async fn session_user(
    hub: &HubState,
    token_hash: &[u8],
) -> Result<Option<User>, ApiError> {
    let now = chinwag_store::now_millis();
    let used_since = hub.config.session_idle_cutoff(now);
    let lookup = token_hash.to_vec();
    let found = read(hub, move |c| {
        queries::user_for_session(c, &lookup, used_since)
    })
    .await?;
    let Some((user, used_at)) = found else {
        return Ok(None);
    };
    if now - used_at > crate::SESSION_TOUCH_MS {
        let store = hub.store.clone();
        let hash = vec![token_hash.to_vec()];
        tokio::spawn(async move {
            if let Err(err) = store.write(move |tx| tx.touch_sessions(&hash)).await {
                tracing::debug!("cannot mark a session as used: {err}");
            }
        });
    }
    Ok(Some(user))
}

pub(crate) async fn update_profile(
    hub: &HubState,
    me: UserId,
    req: UpdateProfileRequest,
) -> Result<User, ApiError> {
    write(hub, move |tx| {
        tx.update_profile(me, req.display_name.as_deref(), req.status_text.as_deref())
    })
    .await
}

/// My notification settings, kept on the hub so that they follow me to every device.
pub(crate) async fn notify_settings(
    hub: &HubState,
    me: UserId,
) -> Result<NotifySettings, ApiError> {
    read(hub, move |c| queries::notify_settings(c, me)).await
}

/// Changes my notification settings.
pub(crate) async fn set_notify(
    hub: &HubState,
    me: UserId,
    change: NotifyChange,
) -> Result<NotifySettings, ApiError> {
    write(hub, move |tx| tx.set_notify(me, change)).await
}

/// Everyone on the hub, with their presence.
pub(crate) async fn directory(hub: &HubState) -> Result<Vec<DirectoryEntry>, ApiError> {
    let users = read(hub, queries::users).await?;
    Ok(users
        .into_iter()
        .map(|user| DirectoryEntry {
            presence: hub.fanout.presence_of(user.id),
            user,
        })
        .collect())
}

pub(crate) async fn user(hub: &HubState, id: UserId) -> Result<DirectoryEntry, ApiError> {
    let user = read(hub, move |c| queries::user(c, id)).await?;
    Ok(DirectoryEntry {
        presence: hub.fanout.presence_of(user.id),
        user,
    })
}
