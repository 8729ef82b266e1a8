//! Hub administration and moderation: what `/api/v1/admin/...` serves to hub admins, and
//! what `chinwag admin` does on a data directory (through the running hub's API, or on a
//! [`Hub`] it opens itself when none runs). One implementation for both.
//!
//! Who may: a signed-in hub admin, or the holder of the hub's local admin token (written to
//! the data directory for `chinwag admin`; see `chinwag-node`).

use chinwag_proto::admin::{
    AdminConversation, AdminUser, CreateUserRequest, HubStats, Report, UpdateUserRequest,
};
use chinwag_proto::validate;
use chinwag_proto::{ErrorCode, UserId};
use chinwag_store::queries;

use crate::{auth, Hub, HubState};
use chinwag_proto::ApiError;

/// Most reports listed at once.
const REPORTS_PAGE: u32 = 500;

impl Hub {
    /// Every account, with sessions and presence.
    pub async fn admin_users(&self) -> Result<Vec<AdminUser>, ApiError> {
        users(&self.state).await
    }

    pub async fn admin_create_user(&self, body: CreateUserRequest) -> Result<AdminUser, ApiError> {
        create_user(&self.state, body).await
    }

    pub async fn admin_update_user(
        &self,
        id: UserId,
        body: UpdateUserRequest,
    ) -> Result<AdminUser, ApiError> {
        update_user(&self.state, id, body).await
    }

    pub async fn admin_conversations(&self) -> Result<Vec<AdminConversation>, ApiError> {
        conversations(&self.state).await
    }

    pub async fn admin_stats(&self) -> Result<HubStats, ApiError> {
        stats(&self.state).await
    }

    pub async fn admin_reports(&self) -> Result<Vec<Report>, ApiError> {
        reports(&self.state).await
    }
}

pub(crate) async fn users(state: &HubState) -> Result<Vec<AdminUser>, ApiError> {
    let rows = state.store.read(queries::admin_users).await?;
    Ok(rows
        .into_iter()
        .map(|(user, sessions)| AdminUser {
            presence: state.fanout.presence_of(user.id),
            user,
            sessions,
        })
        .collect())
}

async fn admin_user(state: &HubState, id: UserId) -> Result<AdminUser, ApiError> {
    users(state)
        .await?
        .into_iter()
        .find(|u| u.user.id == id)
        .ok_or_else(|| ApiError::not_found("user"))
}

pub(crate) async fn create_user(
    state: &HubState,
    body: CreateUserRequest,
) -> Result<AdminUser, ApiError> {
    let username = validate::username(&body.username)?;
    let display_name = validate::display_name(body.display_name.as_deref().unwrap_or(&username))?;
    validate::password(&body.password)?;
    let hash = auth::hash_password(&state.hashing, body.password).await?;
    let admin = body.admin;
    let user = state
        .store
        .write(move |tx| {
            let user = tx.register(&username, &display_name, &hash)?;
            if admin && !user.is_admin {
                return tx.set_hub_admin(user.id, true);
            }
            Ok(user)
        })
        .await?;
    tracing::info!(
        user = user.id.get(),
        admin = user.is_admin,
        "account created by an admin"
    );
    admin_user(state, user.id).await
}

pub(crate) async fn update_user(
    state: &HubState,
    id: UserId,
    body: UpdateUserRequest,
) -> Result<AdminUser, ApiError> {
    if body.disabled.is_none() && body.admin.is_none() && body.password.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "Give `disabled`, `admin` or `password`.",
        ));
    }
    let hash = match body.password {
        Some(password) => {
            validate::password(&password)?;
            Some(auth::hash_password(&state.hashing, password).await?)
        }
        None => None,
    };
    let (disabled, admin) = (body.disabled, body.admin);
    let new_password = hash.is_some();
    let user = state
        .store
        .write(move |tx| {
            let mut user = chinwag_store::queries::user(tx.conn(), id)?;
            if let Some(admin) = admin {
                user = tx.set_hub_admin(id, admin)?;
            }
            if let Some(disabled) = disabled {
                user = tx.set_disabled(id, disabled)?;
            }
            if let Some(hash) = &hash {
                user = tx.set_password(id, hash)?;
            }
            Ok(user)
        })
        .await?;
    // Signed out everywhere: the live connections close too, at once.
    if user.disabled || new_password {
        let closed = state.fanout.kick_user(id);
        tracing::info!(user = id.get(), closed, "sessions closed by an admin");
    }
    tracing::info!(
        user = id.get(),
        disabled = user.disabled,
        admin = user.is_admin,
        "account changed by an admin"
    );
    admin_user(state, id).await
}

pub(crate) async fn conversations(state: &HubState) -> Result<Vec<AdminConversation>, ApiError> {
    let rows = state.store.read(queries::admin_conversations).await?;
    Ok(rows
        .into_iter()
        .map(
            |(conversation, members, messages, files)| AdminConversation {
                conversation,
                members,
                messages: messages.max(0) as u64,
                files: files.max(0) as u64,
            },
        )
        .collect())
}

pub(crate) async fn stats(state: &HubState) -> Result<HubStats, ApiError> {
    let counts = state.store.read(queries::admin_counts).await?;
    let [users, admins, disabled_users, conversations, messages, files, file_bytes, open_reports] =
        counts.map(|n| n.max(0) as u64);
    Ok(HubStats {
        users,
        admins,
        disabled_users,
        conversations,
        messages,
        files,
        file_bytes,
        store_bytes: crate::metrics::store_bytes(&state.db_path),
        open_reports,
        connections: state.fanout.connection_count() as u64,
        users_online: state.fanout.online_count(),
        retention_days: state.config.retention_days,
        session_idle_days: state.config.session_idle_days,
        join_code: state.config.join_code.clone(),
    })
}

pub(crate) async fn reports(state: &HubState) -> Result<Vec<Report>, ApiError> {
    let rows = state
        .store
        .read(|c| queries::reports(c, REPORTS_PAGE))
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, message, reporter_id, reason, created_at, resolved_by, resolved_at)| Report {
                id,
                message,
                reporter_id,
                reason,
                created_at,
                resolved_by,
                resolved_at,
            },
        )
        .collect())
}
