//! Files: uploads streamed to disk and named by their SHA-256, downloads with `Range`, and
//! thumbnails of images.
//!
//! Layout under the data directory's `files/`: `tmp/` (uploads in progress; emptied at
//! start), `ab/cdef…` (content, by hash: identical files are kept once) and `thumbs/<hash>`.
//! An upload is written to `tmp/`, hashed as it streams, flushed, then renamed into place, so
//! a file under its hash is always complete; an upload that fails or is cut off removes its
//! temporary file (`TempFile`'s `Drop`). Who may read a file is the store's question
//! ([`queries::file_for`]); this module only moves bytes.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::Buf;
use chinwag_proto::{validate, ConversationId, ErrorCode, FileId, ImageInfo, UserId};
use chinwag_store::{queries, NewFile, StoreError};
use futures_util::StreamExt;
use rand::Rng;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

use crate::api::messages::check_send_rate;
use crate::http::{ApiResult, BodyStream, Caller, Request};
use crate::HubState;
use chinwag_proto::ApiError;

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIZE: u32 = 320;
/// Images larger than this on either side are kept as plain files.
const MAX_IMAGE_SIDE: u32 = 16_384;
/// Memory one image decode may take.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 200;
const GENERIC: &str = "application/octet-stream";

/// The hub's file directory.
pub(crate) struct Files {
    root: PathBuf,
    /// Decoding an image takes a core and up to [`MAX_DECODE_BYTES`]: one at a time.
    thumbnailing: Semaphore,
    /// Held shared by an upload from placing its content until its record is committed, and
    /// exclusively by retention while it removes content no record names: so retention never
    /// removes bytes an upload is about to record.
    pub content: tokio::sync::RwLock<()>,
}

impl Files {
    /// Opens (creating) `root`, and removes uploads a crash left half-written.
    pub fn open(root: &Path) -> std::io::Result<Files> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        std::fs::create_dir_all(root.join("thumbs"))?;
        for entry in std::fs::read_dir(&tmp)? {
            let path = entry?.path();
            if let Err(err) = std::fs::remove_file(&path) {
                tracing::warn!(
                    "cannot remove the unfinished upload {}: {err}",
                    path.display()
                );
            }
        }
        Ok(Files {
            root: root.to_owned(),
            thumbnailing: Semaphore::new(1),
            content: tokio::sync::RwLock::new(()),
        })
    }

    fn content_path(&self, sha256: &str) -> PathBuf {
        let (dir, rest) = sha256.split_at(2);
        self.root.join(dir).join(rest)
    }

    fn thumbnail_path(&self, sha256: &str) -> PathBuf {
        self.root.join("thumbs").join(sha256)
    }

    /// Removes content (and its thumbnail) that no file record names. The caller holds
    /// `content` exclusively and has checked the records. Returns the files removed.
    pub fn remove_content(&self, hashes: &[String]) -> usize {
        let mut removed = 0;
        for hash in hashes {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue; // Never a path from anything but a hash.
            }
            for path in [self.content_path(hash), self.thumbnail_path(hash)] {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => tracing::warn!("cannot remove {}: {err}", path.display()),
                }
            }
        }
        removed
    }

    /// Decodes the image stored under `sha256` and writes its thumbnail, on the blocking
    /// pool. `None` (logged) when it is not a decodable image within the limits.
    async fn thumbnail(&self, sha256: &str) -> Option<(ImageInfo, String)> {
        let _permit = self.thumbnailing.acquire().await.ok()?;
        let source = self.content_path(sha256);
        let target = self.thumbnail_path(sha256);
        let made = tokio::task::spawn_blocking(move || make_thumbnail(&source, &target)).await;
        match made {
            Ok(Ok(made)) => Some(made),
            Ok(Err(err)) => {
                tracing::info!("file {sha256} is kept as a plain file: {err}");
                None
            }
            Err(err) => {
                tracing::error!("thumbnailing {sha256} failed: {err}");
                None
            }
        }
    }
}

/// An upload in progress under `tmp/`, removed when dropped unless it was moved into place.
struct TempFile {
    path: PathBuf,
    file: tokio::fs::File,
    kept: bool,
}

impl TempFile {
    async fn create(files: &Files) -> std::io::Result<TempFile> {
        let name: [u8; 12] = rand::thread_rng().gen();
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let path = files.root.join("tmp").join(name);
        let file = tokio::fs::File::create_new(&path).await?;
        Ok(TempFile {
            path,
            file,
            kept: false,
        })
    }

    /// Moves the finished upload to `target` unless identical bytes are there already.
    async fn keep_as(mut self, target: &Path) -> std::io::Result<()> {
        self.file.sync_all().await?;
        if tokio::fs::try_exists(target).await? {
            return Ok(()); // Dropping self removes the duplicate.
        }
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&self.path, target).await?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            if let Err(err) = std::fs::remove_file(&self.path) {
                tracing::warn!("cannot remove {}: {err}", self.path.display());
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    name: Option<String>,
    sha256: Option<String>,
}

/// `POST /api/v1/conversations/{id}/files?name=…[&sha256=…]`: the raw bytes as the body,
/// the file's type as `Content-Type`. Answers `201` with the [`chinwag_proto::Attachment`],
/// which a send then carries by id.
pub(crate) async fn upload(req: Request, me: Caller, body: BodyStream) -> ApiResult {
    let state = req.hub.clone();
    let headers = &req.headers;
    let conversation_id: ConversationId = req.id();
    let me = me.user;
    let q: UploadQuery = req.query()?;
    let name = sanitize_name(q.name.as_deref().unwrap_or(""));
    let expected = match q.sha256 {
        Some(hash) if is_sha256(&hash) => Some(hash.to_ascii_lowercase()),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "`sha256` must be 64 hexadecimal digits.",
            ))
        }
        None => None,
    };
    let limit = state.config.max_upload_bytes;
    let too_large = || validate::upload_too_large(limit);
    chinwag_web::check_declared_upload(headers, limit)?;
    let member = state
        .store
        .read(move |c| queries::membership(c, conversation_id, me.id))
        .await?;
    if member.is_none() {
        return Err(StoreError::NotFound("conversation").into());
    }
    check_send_rate(&state, me.id)?;

    let files = &state.files;
    let mut tmp = TempFile::create(files).await.map_err(disk_error)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let pace = chinwag_web::Pace {
        window: state.config.upload_idle_timeout,
        min_bytes: state.config.upload_min_bytes,
        deadline: None,
    };
    let mut body = std::pin::pin!(chinwag_web::paced(body, pace));
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk?;
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let n = piece.len();
            size += n as u64;
            if size > limit {
                return Err(too_large());
            }
            hasher.update(piece);
            if head.len() < SNIFF_BYTES {
                let take = (SNIFF_BYTES - head.len()).min(n);
                head.extend_from_slice(&piece[..take]);
            }
            tmp.file.write_all(piece).await.map_err(disk_error)?;
            chunk.advance(n);
        }
    }
    if size == 0 {
        return Err(validate::empty_file());
    }
    let sha256 = format!("{:x}", hasher.finalize());
    if let Some(expected) = expected {
        if expected != sha256 {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                format!(
                    "The file's SHA-256 is {sha256}, not the {expected} given: it changed on \
                     the way. Nothing was kept."
                ),
            ));
        }
    }
    // From placing the content until its record is committed, retention must not remove it.
    let _placing = files.content.read().await;
    tmp.keep_as(&files.content_path(&sha256))
        .await
        .map_err(disk_error)?;

    let claimed = claimed_mime(headers);
    let (mut mime, image_format) = believe(&claimed, sniff_image(&head));
    let mut image = None;
    if image_format.is_some() {
        let hash = sha256.clone();
        let known = state
            .store
            .read(move |c| queries::image_of_file(c, &hash))
            .await?;
        image = match known {
            Some(known) if files.thumbnail_path(&sha256).exists() => Some(known),
            _ => files.thumbnail(&sha256).await,
        };
        if image.is_none() {
            mime = GENERIC.to_owned();
        }
    }
    let record = NewFile {
        sha256,
        name,
        size,
        mime,
        image,
    };
    let stored = state
        .store
        .write(move |tx| tx.add_file(me.id, conversation_id, &record))
        .await?;
    state.metrics.uploaded(size);
    tracing::info!(
        user = me.id.get(),
        conversation = conversation_id.get(),
        file = stored.attachment.id.get(),
        size,
        "file uploaded"
    );
    Ok(
        warp::reply::with_status(warp::reply::json(&stored.attachment), StatusCode::CREATED)
            .into_response(),
    )
}

fn disk_error(err: std::io::Error) -> ApiError {
    tracing::error!("cannot write an upload: {err}");
    ApiError::new(
        ErrorCode::Unavailable,
        "The hub cannot store files right now (its disk may be full); try again later.",
    )
}

/// `GET /api/v1/files/{file}`: for members of the file's conversation
/// (404 for anyone else, as for a file that does not exist), with `Range` and `ETag`.
pub(crate) async fn download(req: Request, me: Caller) -> ApiResult {
    serve_file(&req.hub, me.id(), req.id(), false, &req.headers).await
}

/// `GET /api/v1/files/{file}/thumbnail`: an image attachment's thumbnail, for the same
/// people as the file.
pub(crate) async fn thumbnail(req: Request, me: Caller) -> ApiResult {
    serve_file(&req.hub, me.id(), req.id(), true, &req.headers).await
}

async fn serve_file(
    state: &HubState,
    me: UserId,
    id: FileId,
    thumbnail: bool,
    headers: &HeaderMap,
) -> ApiResult {
    let stored = state
        .store
        .read(move |c| queries::file_for(c, me, id))
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    let sha256 = &stored.attachment.sha256;
    let (path, mime, etag) = if thumbnail {
        let mime = stored
            .thumbnail
            .clone()
            .ok_or_else(|| ApiError::not_found("thumbnail: this file is not an image"))?;
        (
            state.files.thumbnail_path(sha256),
            mime,
            format!("\"{sha256}-t\""),
        )
    } else {
        (
            state.files.content_path(sha256),
            served_mime(&stored.attachment),
            format!("\"{sha256}\""),
        )
    };
    let mut file = tokio::fs::File::open(&path).await.map_err(|err| {
        tracing::error!("file {id} ({}) cannot be read: {err}", path.display());
        ApiError::internal()
    })?;
    let len = file.metadata().await.map_err(disk_error)?.len();

    let mut response = Response::default();
    let h = response.headers_mut();
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    let disposition = if is_inline_image(&mime) {
        "inline"
    } else {
        "attachment"
    };
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(disposition, &stored.attachment.name)),
    );
    h.insert(header::CONTENT_TYPE, header_value(&mime));

    // `If-Range` with another validator means "the file changed": send all of it.
    let range_applies = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = headers
        .get(header::RANGE)
        .filter(|_| range_applies)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (start, count) = match range {
        None | Some(Range::Ignored) => (0, len),
        Some(Range::Unsatisfiable) => {
            let err = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!("The file has {len} bytes; the range asked for is outside them."),
            );
            let mut refused = chinwag_web::error_response(&err);
            refused.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{len}")),
            );
            return Ok(refused);
        }
        Some(Range::Bytes { start, end }) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{end}/{len}")),
            );
            (start, end - start + 1)
        }
    };
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(disk_error)?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(count), 64 * 1024);
    let (parts, _) = response.into_parts();
    let body = warp::reply::stream(stream).into_response().into_body();
    Ok(Response::from_parts(parts, body))
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The type a download is served as: a verified image as itself, anything else as opaque
/// bytes, so that no upload can run as a page of the hub's origin.
fn served_mime(attachment: &chinwag_proto::Attachment) -> String {
    if attachment.image.is_some() && is_inline_image(&attachment.mime) {
        attachment.mime.clone()
    } else {
        GENERIC.to_owned()
    }
}

fn is_inline_image(mime: &str) -> bool {
    IMAGE_TYPES.iter().any(|(t, _)| *t == mime)
}

// ----- pure helpers -----

/// Bytes read to recognise an image.
const SNIFF_BYTES: usize = 16;

/// The image types the hub thumbnails, with their `image` crate format.
const IMAGE_TYPES: [(&str, image::ImageFormat); 4] = [
    ("image/png", image::ImageFormat::Png),
    ("image/jpeg", image::ImageFormat::Jpeg),
    ("image/gif", image::ImageFormat::Gif),
    ("image/webp", image::ImageFormat::WebP),
];

/// The image type the first bytes announce, if any of [`IMAGE_TYPES`].
fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The type to record and whether to try thumbnailing: a claimed image type is believed
/// only when the bytes say the same; a file claimed as generic that is plainly an image is
/// taken as that image (a pasted screenshot can arrive without a type).
fn believe(claimed: &str, sniffed: Option<&'static str>) -> (String, Option<&'static str>) {
    let claims_image = is_inline_image(claimed);
    match sniffed {
        Some(real) if real == claimed => (claimed.to_owned(), Some(real)),
        Some(real) if claimed == GENERIC => (real.to_owned(), Some(real)),
        _ if claims_image => (GENERIC.to_owned(), None),
        _ => (claimed.to_owned(), None),
    }
}

/// The `Content-Type` of an upload, lower-cased, without parameters; generic when absent
/// or not a plain `type/subtype`.
fn claimed_mime(headers: &HeaderMap) -> String {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match raw.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => raw,
        _ => GENERIC.to_owned(),
    }
}

/// A file name safe to show and to offer for saving: the last path component only, no
/// control or invisible characters (`validate::is_invisible`: `invoice` + U+202E + `fdp.exe`
/// would show as `invoiceexe.pdf`), no `..`, at most [`MAX_NAME_CHARS`]
/// characters (the extension kept), and `file` when nothing is left.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !validate::is_invisible(*c))
        .collect();
    let mut name = cleaned.trim().to_owned();
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name = name.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if name.is_empty() {
        return "file".into();
    }
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= 16)
        .unwrap_or("");
    let keep = MAX_NAME_CHARS - ext.chars().count() - usize::from(!ext.is_empty());
    let stem: String = name.chars().take(keep).collect();
    if ext.is_empty() {
        stem
    } else {
        format!("{stem}.{ext}")
    }
}

/// `Content-Disposition` with an ASCII fallback and the exact name (RFC 6266 / 8187).
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Not a single byte range we serve (several ranges, another unit, garbage): the whole
    /// file is sent, as RFC 9110 allows.
    Ignored,
    Unsatisfiable,
    /// Inclusive.
    Bytes {
        start: u64,
        end: u64,
    },
}

/// One `Range: bytes=…` against a file of `len` bytes.
fn parse_range(value: &str, len: u64) -> Range {
    if len == 0 {
        return Range::Unsatisfiable;
    }
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Ignored;
    };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Ignored;
    };
    let number = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Some)
        } else {
            None
        }
    };
    let (Some(first), Some(last)) = (number(first), number(last)) else {
        return Range::Ignored;
    };
    match (first, last) {
        (Some(start), _) if start >= len => Range::Unsatisfiable,
        (Some(start), None) => Range::Bytes {
            start,
            end: len - 1,
        },
        (Some(start), Some(end)) if end >= start => Range::Bytes {
            start,
            end: end.min(len - 1),
        },
        (Some(_), Some(_)) => Range::Ignored,
        (None, Some(0)) => Range::Unsatisfiable,
        (None, Some(suffix)) => Range::Bytes {
            start: len.saturating_sub(suffix),
            end: len - 1,
        },
        (None, None) => Range::Ignored,
    }
}

/// Decodes `source` within the limits and writes a thumbnail at most [`THUMBNAIL_SIZE`] on
/// a side to `target`: PNG when the image has transparency, JPEG otherwise.
fn make_thumbnail(source: &Path, target: &Path) -> Result<(ImageInfo, String), String> {
    let mut reader = image::ImageReader::open(source)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let info = ImageInfo {
        width: img.width(),
        height: img.height(),
    };
    let small = if img.width() <= THUMBNAIL_SIZE && img.height() <= THUMBNAIL_SIZE {
        img
    } else {
        img.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    };
    let tmp = target.with_extension("part");
    let mime = if small.color().has_alpha() {
        small
            .save_with_format(&tmp, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        "image/png"
    } else {
        small
            .to_rgb8()
            .save_with_format(&tmp, image::ImageFormat::Jpeg)
            .map_err(|e| e.to_string())?;
        "image/jpeg"
    };
    std::fs::rename(&tmp, target).map_err(|e| e.to_string())?;
    Ok((info, mime.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\Users\\bob\\notes.txt"), "notes.txt");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(""), "file");
        assert_eq!(sanitize_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(sanitize_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize_name("x..y"), "x.y");
        assert_eq!(sanitize_name("  .hidden "), "hidden");
        let long = format!("{}.png", "é".repeat(500));
        let kept = sanitize_name(&long);
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".png"));
    }

    #[test]
    fn images_are_believed_only_when_the_bytes_agree() {
        let png = sniff_image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert_eq!(png, Some("image/png"));
        assert_eq!(
            believe("image/png", png),
            ("image/png".into(), Some("image/png"))
        );
        assert_eq!(believe("image/jpeg", png), (GENERIC.into(), None));
        assert_eq!(believe("image/png", None), (GENERIC.into(), None));
        assert_eq!(
            believe(GENERIC, png),
            ("image/png".into(), Some("image/png"))
        );
        assert_eq!(
            believe("application/pdf", None),
            ("application/pdf".into(), None)
        );
        assert_eq!(believe("text/plain", png), ("text/plain".into(), None));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"<svg"), None);
    }

    #[test]
    fn claimed_types_are_plain_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(claimed_mime(&h), GENERIC);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Image/PNG; x=1"),
        );
        assert_eq!(claimed_mime(&h), "image/png");
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html\"<x>"),
        );
        assert_eq!(claimed_mime(&h), GENERIC);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("nonsense"));
        assert_eq!(claimed_mime(&h), GENERIC);
    }

    #[test]
    fn ranges() {
        let r = |v| parse_range(v, 100);
        assert_eq!(r("bytes=0-9"), Range::Bytes { start: 0, end: 9 });
        assert_eq!(r("bytes=90-"), Range::Bytes { start: 90, end: 99 });
        assert_eq!(r("bytes=-10"), Range::Bytes { start: 90, end: 99 });
        assert_eq!(r("bytes=-1000"), Range::Bytes { start: 0, end: 99 });
        assert_eq!(r("bytes=50-5000"), Range::Bytes { start: 50, end: 99 });
        assert_eq!(r("bytes=100-"), Range::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Range::Unsatisfiable);
        assert_eq!(r("bytes=9-0"), Range::Ignored);
        assert_eq!(r("bytes=0-1,5-6"), Range::Ignored);
        assert_eq!(r("items=0-1"), Range::Ignored);
        assert_eq!(r("bytes=a-b"), Range::Ignored);
        assert_eq!(r("bytes=-"), Range::Ignored);
        assert_eq!(r("bytes=+1-2"), Range::Ignored);
        assert_eq!(
            r("bytes=99999999999999999999999-"),
            Range::Ignored,
            "overflow is not a range"
        );
    }

    #[test]
    fn dispositions_quote_safely() {
        assert_eq!(
            content_disposition("attachment", "a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22.txt"
        );
        assert_eq!(
            content_disposition("inline", "é.png"),
            "inline; filename=\"_.png\"; filename*=UTF-8''%C3%A9.png"
        );
    }
}
