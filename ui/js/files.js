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

/** A short label for a file's type icon: its extension, or the kind of its media type. */
export function typeLabel(name, mime) {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1) : '';
  if (/^[a-z0-9]{1,4}$/i.test(ext)) return ext.toUpperCase();
  const kind = (mime || '').split('/')[0];
  return { image: 'IMG', video: 'VID', audio: 'AUD', text: 'TXT' }[kind] || 'FILE';
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
