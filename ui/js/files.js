// @ts-check
// File transfers. Uploads use XMLHttpRequest because fetch cannot report upload progress;
// downloads are fetched with the session token (an <img> or a link cannot send it) and shown
// through blob: URLs. Everything here follows docs/protocol.md ("Files").
import { ApiError } from './hub.js';

/** 1536 → "1.5 KB". */
export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let n = bytes / 1024;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[unit]}`;
}

/** Families of files with their own icon, and the extensions in each (lower case). */
const FAMILIES = {
  document: { doc: 'Word document', docx: 'Word document', odt: 'OpenDocument text', rtf: 'Rich text document', pages: 'Pages document' },
  spreadsheet: {
    xls: 'Excel spreadsheet', xlsx: 'Excel spreadsheet', xlsm: 'Excel spreadsheet', ods: 'OpenDocument spreadsheet',
    csv: 'CSV spreadsheet', tsv: 'TSV spreadsheet', numbers: 'Numbers spreadsheet',
  },
  slides: {
    ppt: 'PowerPoint presentation', pptx: 'PowerPoint presentation', odp: 'OpenDocument presentation', key: 'Keynote presentation',
  },
  pdf: { pdf: 'PDF document' },
  archive: {
    zip: 'ZIP archive', '7z': '7-Zip archive', rar: 'RAR archive', tar: 'Tar archive', gz: 'Gzip archive',
    tgz: 'Tar archive', bz2: 'Bzip2 archive', xz: 'XZ archive', zst: 'Zstandard archive',
  },
  audio: { mp3: 'MP3 audio', wav: 'WAV audio', ogg: 'Ogg audio', oga: 'Ogg audio', m4a: 'M4A audio', flac: 'FLAC audio', aac: 'AAC audio', opus: 'Opus audio' },
  video: { mp4: 'MP4 video', m4v: 'MP4 video', mov: 'QuickTime video', mkv: 'Matroska video', webm: 'WebM video', avi: 'AVI video' },
  image: {
    png: 'PNG image', jpg: 'JPEG image', jpeg: 'JPEG image', gif: 'GIF image', webp: 'WebP image', svg: 'SVG image',
    heic: 'HEIC image', bmp: 'BMP image', tif: 'TIFF image', tiff: 'TIFF image',
  },
  code: {
    js: 'JavaScript source', mjs: 'JavaScript source', ts: 'TypeScript source', py: 'Python source', rs: 'Rust source',
    go: 'Go source', c: 'C source', h: 'C header', cpp: 'C++ source', cs: 'C# source', java: 'Java source',
    kt: 'Kotlin source', swift: 'Swift source', rb: 'Ruby source', php: 'PHP source', sh: 'Shell script',
    ps1: 'PowerShell script', sql: 'SQL', html: 'HTML', css: 'CSS', json: 'JSON', xml: 'XML',
    yaml: 'YAML', yml: 'YAML', toml: 'TOML', ini: 'Settings file',
  },
  text: { txt: 'Text file', md: 'Markdown text', log: 'Log file' },
};

/** The family of a media type the extension did not place (the hub sniffs pictures). */
function familyOfMime(/** @type {string} */ mime) {
  if (mime === 'application/pdf') return 'pdf';
  if (/^application\/(zip|x-7z-compressed|x-rar|x-tar|gzip|x-bzip2|x-xz|zstd)/.test(mime)) return 'archive';
  const kind = mime.split('/')[0];
  return ['audio', 'video', 'image', 'text'].includes(kind) ? kind : 'file';
}

/**
 * What a file is, for its card: `family` picks the icon (document, spreadsheet, slides,
 * pdf, archive, audio, video, image, code, text or file), `kind` is the friendly type
 * ("PowerPoint presentation"), `ext` the extension shown on the icon ("PPTX", or "").
 * @param {string} name @param {string} mime
 */
export function fileKind(name, mime) {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toLowerCase() : '';
  for (const [family, kinds] of Object.entries(FAMILIES)) {
    if (Object.hasOwn(kinds, ext)) return { family, kind: kinds[ext], ext: ext.toUpperCase() };
  }
  const family = familyOfMime((mime || '').toLowerCase());
  const shortExt = /^[a-z0-9]{1,5}$/.test(ext) ? ext.toUpperCase() : '';
  const kind = { pdf: 'PDF document', archive: 'Archive', audio: 'Audio', video: 'Video', image: 'Image', text: 'Text file' }[family]
    || (shortExt ? `${shortExt} file` : 'File');
  return { family, kind, ext: shortExt };
}

/**
 * A long name cut in the middle, so the end (which often tells versions apart, and the
 * extension) stays: [start, end], shown as "Quarterly revi…v3 final.pptx" by CSS.
 * @param {string} name
 */
export function nameParts(name, keep = 10) {
  const chars = [...name];
  if (chars.length <= keep + 2) return [name, ''];
  return [chars.slice(0, -keep).join(''), chars.slice(-keep).join('')];
}

/** Size an image is shown at inline: within `box`×`box`, never enlarged. */
export function fitted({ width, height }, box = 320) {
  const scale = Math.min(1, box / width, box / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Uploads `file` to a conversation. Returns `{ promise, cancel }`; the promise resolves to the
 * hub's attachment or rejects with an ApiError (code `cancelled` after `cancel()`).
 * `onProgress(loaded, total)` follows the bytes sent.
 */
export function upload(token, conversationId, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const name = file.name || 'file';
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `/api/v1/conversations/${conversationId}/files?name=${encodeURIComponent(name)}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 201 && data) {
        resolve(data);
        return;
      }
      const err = (data && data.error) || {};
      reject(new ApiError(xhr.status, err.code || 'internal',
        err.message || `The hub answered ${xhr.status}.`, err.retry_after_ms));
    };
    xhr.onerror = () => reject(new ApiError(0, 'unreachable',
      'The upload did not reach the hub. Check the network and try again.'));
    xhr.onabort = () => reject(new ApiError(0, 'cancelled', 'Cancelled.'));
    xhr.send(file);
  });
  return { promise, cancel: () => xhr.abort() };
}

/** Fetches a file with the token into a blob: URL. `onProgress(loaded, total)` if given. */
export async function blobUrl(token, path, onProgress) {
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError(0, 'unreachable', 'Cannot reach the hub. Check the network and try again.');
  }
  if (!response.ok) {
    const gone = response.status === 404;
    throw new ApiError(response.status, gone ? 'not_found' : 'internal',
      gone ? 'This file is no longer available.' : `The hub answered ${response.status}.`);
  }
  const total = Number(response.headers.get('content-length')) || 0;
  if (!onProgress || !response.body) return URL.createObjectURL(await response.blob());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress(loaded, total);
  }
  const type = response.headers.get('content-type') || 'application/octet-stream';
  return URL.createObjectURL(new Blob(chunks, { type }));
}

const thumbnails = new Map(); // file id → Promise of a blob: URL, kept for the session

/** The thumbnail of an image attachment, fetched once. */
export function thumbnailUrl(token, id) {
  if (!thumbnails.has(id)) {
    const url = blobUrl(token, `/files/${id}/thumbnail`);
    url.catch(() => thumbnails.delete(id)); // a later render tries again
    thumbnails.set(id, url);
  }
  return thumbnails.get(id);
}

/** Downloads an attachment and hands it to the browser to save under its name. */
export async function save(token, attachment, onProgress) {
  const url = await blobUrl(token, `/files/${attachment.id}`, onProgress);
  const link = document.createElement('a');
  link.href = url;
  link.download = attachment.name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
