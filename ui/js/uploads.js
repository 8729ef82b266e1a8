// @ts-check
// Files: uploads to the open conversation (picked, pasted or dropped; each is sent as a
// message once it is up), attachments as messages show them, and the full-size picture view.

import { newClientId } from './hub.js';
import { h, svg, $, utf8Length } from './dom.js';
import { messageLimit } from './model.js';
import { upload, thumbnailUrl, blobUrl, save, humanSize, fileKind, nameParts, fitted } from './files.js';
import { state, on, changed, wantScroll } from './state.js';
import { sendItem, signedOut } from './session.js';

/** @typedef {import('../types/proto').Attachment} Attachment */
/** @typedef {import('./model.js').Upload} Upload */

/** A picture's thumbnail at quote size (a reply's original). */
export function smallThumb(/** @type {Attachment} */ file) {
  const img = /** @type {HTMLImageElement} */ (h('img', { alt: '', width: 32, height: 32 }));
  thumbnailUrl(state.token, file.id).then((url) => { img.src = url; }, () => {});
  return img;
}

/** An attachment in a message: an image inline (click for full size), anything else as a card. */
export function attachmentNode(/** @type {Attachment} */ file) {
  if (file.image) {
    const size = fitted(file.image);
    const img = /** @type {HTMLImageElement} */ (h('img', { alt: file.name, width: size.width, height: size.height }));
    thumbnailUrl(state.token, file.id).then((url) => { img.src = url; }, () => {
      img.alt = `${file.name} (the picture could not be loaded)`;
    });
    return h('button', { type: 'button', class: 'thumb', title: `${file.name} · ${humanSize(file.size)}`,
      'aria-label': `Open picture ${file.name}`, onclick: () => openImage(file), dataset: { fileId: String(file.id) } }, img);
  }
  const { family, kind, ext } = fileKind(file.name, file.mime);
  const facts = `${humanSize(file.size)} · ${kind}`;
  const status = h('span', { class: 'muted facts', title: file.mime }, facts);
  const button = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', 'aria-label': `Download ${file.name}` }, 'Download'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await save(state.token, file, (loaded, total) => {
        status.textContent = `Downloading… ${total ? Math.floor((loaded / total) * 100) : 0}%`;
      });
      status.textContent = `${facts} · saved`;
    } catch (err) {
      status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  const [start, end] = nameParts(file.name);
  return h('div', { class: 'file-card', dataset: { fileId: String(file.id), family } },
    h('span', { class: `type ${family}`, 'aria-hidden': 'true' }, fileIcon(family), ext ? h('span', { class: 'ext' }, ext) : null),
    h('span', { class: 'name-wrap' },
      // Cut in the middle when long, so the end and the extension stay; the whole on hover.
      h('span', { class: 'name', title: file.name }, h('span', { class: 'start' }, start), end ? h('span', { class: 'end' }, end) : null),
      status),
    button);
}

/** Each family's mark drawn on a page (24×24, stroked in the family's colour). */
const GLYPHS = {
  document: 'M9.5 11h5M9.5 14h5M9.5 17h3.5',
  spreadsheet: 'M9 10.5h6v7H9zM9 14h6M12 10.5v7',
  slides: 'M9 11h6v4.5H9zM12 15.5V18',
  pdf: 'M9 18c1.5-1.2 2.5-3.5 3-6.5.5 3 1.5 5.3 3 6.5M10.2 15.5h3.6',
  archive: 'M12 3v2M11 5v2M12 7v2M11 9v2M10.5 12.5h2.5v3h-2.5z',
  audio: 'M12 16.5V10.5l3-1M12 16.5a1.5 1.5 0 1 1-3 0 1.5 1.5 0 0 1 3 0',
  video: 'M10.5 11v6l5-3z',
  image: 'M8.5 17.5l2.5-3 2 2 1.5-1.5 1.5 2.5zM14 10.5h.01',
  code: 'M10.5 11.5l-2 2.5 2 2.5M13.5 11.5l2 2.5-2 2.5',
  text: 'M9.5 11h5M9.5 14h5M9.5 17h5',
  file: '',
};

/** A file family's icon: a page with a folded corner and the family's mark. */
function fileIcon(/** @type {string} */ family) {
  const marks = ['M7 3h7l4 4v14H7z', 'M14 3v4h4', GLYPHS[family]].filter(Boolean);
  return svg('svg', { viewBox: '0 0 24 24' }, marks.map((d) => svg('path', { d })));
}

/** @type {{file: Attachment, url: string|null}|null} the full-size view */
let shownImage = null;

async function openImage(/** @type {Attachment} */ file) {
  closeImage();
  shownImage = { file, url: null };
  const shown = shownImage;
  const facts = `${file.image.width} × ${file.image.height} · ${humanSize(file.size)}`;
  $('image-title').textContent = file.name;
  $('image-status').textContent = `${facts} · loading…`;
  const img = /** @type {HTMLImageElement} */ ($('image-full'));
  img.removeAttribute('src');
  img.alt = file.name;
  /** @type {HTMLDialogElement} */ ($('image-dialog')).showModal();
  try {
    const url = await blobUrl(state.token, `/files/${file.id}`);
    if (shownImage !== shown) {
      URL.revokeObjectURL(url);
      return;
    }
    shown.url = url;
    img.src = url;
    $('image-status').textContent = facts;
  } catch (err) {
    $('image-status').textContent = err.message;
  }
}

function closeImage() {
  if (shownImage && shownImage.url) URL.revokeObjectURL(shownImage.url);
  shownImage = null;
}

let uploadKeys = 0;

/** Uploads files to the open conversation; each is sent as a message once it is up. */
function startUploads(/** @type {File[]} */ fileList) {
  const convId = state.active;
  if (convId === null) return;
  const max = state.hub && state.hub.limits.max_upload_bytes;
  // What was typed goes with the first file, as its caption.
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  let caption = input.value.trim() && utf8Length(input.value) <= messageLimit(state) && fileList.length ? input.value : '';
  if (caption) {
    input.value = '';
    input.dispatchEvent(new Event('input')); // the draft goes, and the typing indicator
  }
  for (const file of fileList) {
    /** @type {Upload} */
    const up = {
      key: ++uploadKeys, convId, name: file.name || 'file', size: file.size, loaded: 0,
      state: 'uploading', error: '', cancel: null,
    };
    state.uploads.push(up);
    if (file.size === 0) fail(up, 'This file is empty; there is nothing to send.');
    else if (max && file.size > max) fail(up, `This file is ${humanSize(file.size)}; the hub takes files up to ${humanSize(max)}.`);
    else {
      up.caption = caption; // the first file that goes carries it
      caption = '';
      send(up, file);
    }
  }
  if (caption) {
    input.value = caption; // no file went: the text stays the draft
    input.dispatchEvent(new Event('input'));
  }
  changed('uploads');
}

function send(/** @type {Upload} */ up, /** @type {File} */ file) {
  const transfer = upload(state.token, up.convId, file, (loaded, total) => {
    up.loaded = loaded;
    up.size = total || up.size;
    showProgress(up);
  });
  up.cancel = transfer.cancel;
  transfer.promise.then((attachment) => {
    dropUpload(up);
    const item = {
      client_id: newClientId(), conversation_id: up.convId, body: up.caption || '', attachments: [attachment.id],
      files: [attachment], created_at: Date.now(), state: 'pending',
    };
    state.outbox.add(item);
    if (up.convId === state.active) wantScroll({ bottom: true });
    sendItem(item);
  }, (err) => {
    if (err.code === 'cancelled') dropUpload(up);
    else if (err.status === 401) signedOut();
    else fail(up, err.message);
  });
}

function fail(/** @type {Upload} */ up, /** @type {string} */ message) {
  up.state = 'failed';
  up.error = message;
  up.cancel = null;
  changed('uploads');
}

function dropUpload(/** @type {Upload} */ up) {
  state.uploads = state.uploads.filter((u) => u !== up);
  changed('uploads');
}

function uploadStatus(/** @type {Upload} */ up) {
  if (up.state === 'failed') return up.error;
  const percent = up.size ? Math.floor((up.loaded / up.size) * 100) : 0;
  return `${humanSize(up.loaded)} of ${humanSize(up.size)} · ${percent}%`;
}

/** Updates one upload's bar in place (progress events come many times a second). */
function showProgress(/** @type {Upload} */ up) {
  const row = document.querySelector(`.upload[data-key="${up.key}"]`);
  if (!row) return;
  const bar = /** @type {HTMLProgressElement} */ (row.querySelector('progress'));
  bar.value = up.loaded;
  bar.max = up.size || 1;
  row.querySelector('.status').textContent = uploadStatus(up);
}

function renderUploads() {
  const rows = state.uploads.filter((u) => u.convId === state.active).map((up) => {
    const failed = up.state === 'failed';
    const action = failed
      ? h('button', { type: 'button', onclick: () => dropUpload(up), 'aria-label': `Dismiss ${up.name}` }, 'Dismiss')
      : h('button', { type: 'button', onclick: () => up.cancel && up.cancel(), 'aria-label': `Cancel upload of ${up.name}` }, 'Cancel');
    return h('div', { class: `upload${failed ? ' failed' : ''}`, dataset: { key: String(up.key) } },
      h('span', { class: 'name', title: up.name }, up.name),
      failed ? null : h('progress', { max: up.size || 1, value: up.loaded, 'aria-label': `Uploading ${up.name}` }),
      h('span', { class: 'status', role: failed ? 'alert' : null }, uploadStatus(up)),
      action);
  });
  $('uploads').replaceChildren(...rows);
}

/** Files dragged over the chat are dropped into the open conversation. */
function wireDrop() {
  const chat = $('chat');
  const carriesFiles = (/** @type {DragEvent} */ event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
  let depth = 0; // dragenter/dragleave fire for every child crossed
  chat.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event) || state.active === null) return;
    event.preventDefault();
    depth += 1;
    chat.classList.add('dropping');
  });
  chat.addEventListener('dragover', (event) => {
    if (!carriesFiles(event) || state.active === null) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  chat.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) chat.classList.remove('dropping');
  });
  chat.addEventListener('drop', (event) => {
    depth = 0;
    chat.classList.remove('dropping');
    if (!carriesFiles(event) || state.active === null) return;
    event.preventDefault();
    startUploads([...event.dataTransfer.files]);
  });
}

/** Wires the attach button, pasting, dropping and the picture view. */
export function wireUploads() {
  const picker = /** @type {HTMLInputElement} */ ($('file-input'));
  $('attach').addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => {
    startUploads([...picker.files]);
    picker.value = '';
  });
  $('composer-input').addEventListener('paste', (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (!files.length) return;
    event.preventDefault();
    startUploads(files);
  });
  wireDrop();
  $('image-dialog').addEventListener('close', closeImage);
  $('image-download').addEventListener('click', async () => {
    if (!shownImage) return;
    try {
      await save(state.token, shownImage.file);
    } catch (err) {
      $('image-status').textContent = err.message;
    }
  });
  on('uploads', renderUploads);
}
