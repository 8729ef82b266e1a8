//! Uploaded files and who may read them.

use chinwag_proto::{Attachment, FileId, ImageInfo, UserId};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::*;
use crate::Result;

/// A stored file as the hub serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub attachment: Attachment,
    /// The thumbnail's media type, when there is one.
    pub thumbnail: Option<String>,
}

pub(crate) fn file_from_row(row: &Row<'_>) -> rusqlite::Result<StoredFile> {
    let width: Option<u32> = row.get(5)?;
    let height: Option<u32> = row.get(6)?;
    let thumbnail: Option<String> = row.get(7)?;
    Ok(StoredFile {
        attachment: Attachment {
            id: row.get(0)?,
            name: row.get(1)?,
            size: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
            mime: row.get(3)?,
            sha256: row.get(4)?,
            image: match (width, height, &thumbnail) {
                (Some(width), Some(height), Some(_)) => Some(ImageInfo { width, height }),
                _ => None,
            },
        },
        thumbnail,
    })
}

/// The file `me` may download: one attached to a message that is not deleted, in a
/// conversation `me` is an active member of, or `me`'s own upload not sent yet. `None`
/// otherwise, with no difference between "missing" and "not yours" (the hub answers 404).
pub fn file_for(conn: &Connection, me: UserId, id: FileId) -> Result<Option<StoredFile>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {} FROM files f
             JOIN members mb ON mb.conversation_id = f.conversation_id
                 AND mb.user_id = ?2 AND mb.active = 1
             LEFT JOIN messages m ON m.id = f.message_id
             WHERE f.id = ?1
               AND ((m.id IS NOT NULL AND m.deleted = 0 AND {})
                    OR (f.message_id IS NULL AND f.uploader_id = ?2))",
            prefixed(FILE_COLUMNS, "f."),
            super::visible("mb", "m.seq")
        ))?
        .query_row(params![id, me], file_from_row)
        .optional()?)
}

/// `a, b` → `f.a, f.b`.
pub(crate) fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an earlier upload of the same bytes learned about them as an image (its size and
/// thumbnail type), so that a repeated upload need not decode them again.
pub fn image_of_file(conn: &Connection, sha256: &str) -> Result<Option<(ImageInfo, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT width, height, thumbnail FROM files
             WHERE sha256 = ?1 AND thumbnail IS NOT NULL LIMIT 1",
        )?
        .query_row([sha256], |r| {
            Ok((
                ImageInfo {
                    width: r.get(0)?,
                    height: r.get(1)?,
                },
                r.get(2)?,
            ))
        })
        .optional()?)
}

/// Whether any file record names the content with this SHA-256.
pub fn content_referenced(conn: &Connection, sha256: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ?1)")?
        .query_row([sha256], |r| r.get(0))?)
}
