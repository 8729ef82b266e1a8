//! Uploaded files, recorded before a message carries them.

use chinwag_proto::{ConversationId, UserId};
use rusqlite::params;

use super::*;
use crate::queries::{self, StoredFile};
use crate::{Result, StoreError};

impl Tx<'_> {
    /// Records a file uploaded to a conversation I am in; a send attaches it later.
    pub fn add_file(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        file: &NewFile,
    ) -> Result<StoredFile> {
        if queries::membership(self.conn, conversation_id, me)?.is_none() {
            return Err(StoreError::NotFound("conversation"));
        }
        let (width, height, thumbnail) = match &file.image {
            Some((info, mime)) => (Some(info.width), Some(info.height), Some(mime.as_str())),
            None => (None, None, None),
        };
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO files (conversation_id, uploader_id, sha256, name, size, mime,
                                    width, height, thumbnail, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 RETURNING {}",
                queries::FILE_COLUMNS
            ))?
            .query_row(
                params![
                    conversation_id,
                    me,
                    file.sha256,
                    file.name,
                    i64::try_from(file.size).unwrap_or(i64::MAX),
                    file.mime,
                    width,
                    height,
                    thumbnail,
                    self.now
                ],
                queries::file_from_row,
            )
            .map_err(StoreError::from)
    }
}
