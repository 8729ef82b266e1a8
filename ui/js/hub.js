// @ts-check
// Talking to the hub: REST calls, the WebSocket connection (reconnect with backoff and
// resume), and the outbox that keeps unsent messages across reloads until the hub acks them.
// Everything here follows docs/protocol.md.

export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A REST call. Throws ApiError (code "unreachable" when the hub cannot be reached).
 * @param {string} method
 * @param {string} path  under `/api/v1`
 * @param {{token?: string|null, body?: unknown}} [options]
 */
export async function api(method, path, { token, body } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'Cannot reach the hub. Check the network and try again.');
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(response.status, err.code || 'internal',
      err.message || `The hub answered ${response.status}.`, err.retry_after_ms);
  }
  return data;
}

const BACKOFF_MIN_MS = 500;
// The hub is on the LAN (or this machine): a refused connection costs next to nothing, so
// the retries stay frequent and the page is back within about a second of the hub.
const BACKOFF_MAX_MS = 1500;

/**
 * One WebSocket to the hub that keeps itself connected. Emits (as DOM events with `detail`):
 * `ready`, `synced`, `event`, `typing`, `presence`, `watching`, `reply` (ack/ok/error with a ref),
 * `error` (errors without a ref), `state` ({online, retryInMs}), `unauthorized`.
 */
export class Connection extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.cursor = null; // last durable event id processed
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.online = false;
    this.synced = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'bye');
  }

  /** Reconnect at once (the "Reconnect now" button, or the network coming back). */
  retryNow() {
    if (this.online || this.stopped) return;
    clearTimeout(this.timer);
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onopen = () => {
      const auth = { type: 'auth', token: this.token };
      if (this.cursor !== null) auth.resume_from = this.cursor;
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (msg) => this.receive(msg.data);
    ws.onclose = (closed) => this.closed(closed);
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case 'ready':
        this.attempt = 0;
        this.online = true;
        this.synced = false;
        if (this.cursor === null) this.cursor = frame.last_event_id;
        this.emit('ready', frame);
        this.emit('state', { online: true });
        break;
      case 'event':
        if (this.cursor !== null && frame.id <= this.cursor) return; // already applied
        this.cursor = frame.id;
        this.emit('event', frame);
        break;
      case 'synced':
        // A joined node that no longer keeps the events after our cursor says `reset`:
        // nothing was replayed, so follow from its newest and reload (the app does).
        if (frame.reset) this.cursor = frame.last_event_id;
        this.synced = true;
        this.emit('synced', frame);
        break;
      case 'ack':
      case 'ok':
      case 'pong':
        this.emit('reply', frame);
        break;
      case 'error':
        this.emit(frame.ref ? 'reply' : 'error', frame);
        break;
      case 'typing':
      case 'presence':
      case 'watching':
      case 'muted': // I (un)muted a conversation, on this device or another
      case 'blocked': // I (un)blocked someone, likewise
      case 'link': // only from a joined node: whether it reaches the hub
      case 'open': // only from the desktop app: a notification was clicked
        this.emit(frame.type, frame);
        break;
      default:
        break; // newer hubs may send frames we do not know yet
    }
  }

  closed(closed) {
    this.ws = null;
    const wasOnline = this.online;
    this.online = false;
    this.synced = false;
    if (this.stopped) return;
    if (closed.code === 4401) {
      this.emit('unauthorized', {});
      return;
    }
    // Exponential backoff with jitter; the first retry after a clean run is quick.
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempt += 1;
    this.timer = setTimeout(() => this.open(), delay);
    this.emit('state', { online: false, retryInMs: delay, wasOnline });
  }

  /** Sends a frame if connected; returns whether it went out. */
  send(frame) {
    if (!this.online || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * Messages the user sent that the hub has not acknowledged yet, kept in localStorage so they
 * survive a reload. Each keeps its client_id, so resending can never duplicate it.
 */
export class Outbox {
  constructor(userId) {
    this.key = `chinwag.outbox.${userId}`;
    try {
      this.items = JSON.parse(localStorage.getItem(this.key) || '[]');
    } catch {
      this.items = [];
    }
  }

  save() {
    localStorage.setItem(this.key, JSON.stringify(this.items));
  }

  add(item) {
    this.items.push(item);
    this.save();
  }

  /** Forgets an item; storage is written only when there was one (my messages' events
   * come after their acks and find nothing to remove). */
  remove(clientId) {
    const kept = this.items.filter((i) => i.client_id !== clientId);
    if (kept.length === this.items.length) return;
    this.items = kept;
    this.save();
  }

  update(clientId, changes) {
    const item = this.items.find((i) => i.client_id === clientId);
    if (item) Object.assign(item, changes);
    this.save();
  }

  forConversation(conversationId) {
    return this.items.filter((i) => i.conversation_id === conversationId);
  }
}

export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
