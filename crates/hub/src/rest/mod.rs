//! The REST handlers under `/api/v1`, one file per feature. Each is a thin adapter over a use
//! case in [`crate::api`]: it takes the typed body or query, calls the use case, and chooses
//! the status. Their routes are in [`crate::routes`], one line each.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod conversations;
pub(crate) mod messages;
pub(crate) mod moderation;
