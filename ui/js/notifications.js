// @ts-check
// Browser notifications, for the web UI outside the desktop app (whose node notifies). They
// follow the person's settings kept on the hub (`/me/notifications`: all, direct and
// mentions, or nothing; previews; "mute all for an hour") and the hub's per-conversation
// mute, as the desktop does. Only a secure context (https, or 127.0.0.1) may notify; the
// page asks for permission when the person has just sent a message or turns it on in their
// profile, never on load. `noticeFor` is pure (tests/e2e/unit).

import { $ } from './dom.js';
import { state } from './state.js';
import { userName, convName, isMuted, filesSummary, mentionsUser } from './model.js';
import { plainText } from './format.js';

/** Characters of message text a notification shows (as the desktop's). */
const PREVIEW_CHARS = 140;

const ASKED_KEY = 'chinwag.notifications-asked';

/** Whether this page may show notifications at all (a secure context with the API). */
export function canNotify() {
  return window.isSecureContext && 'Notification' in window;
}

/**
 * The notification a new message makes, or null: none for my own, for the conversation I
 * am looking at in a focused window, for one older than a minute (caught up on
 * reconnecting), for a muted one, while "mute all" lasts, or below the level. The same rules as the desktop's (crates/node/src/join/notify.rs, `decide`).
 * @param {import('./model.js').State} s
 * @param {import('../types/proto').Message} m
 * @param {{now: number, lookingAt: number|null}} here  the time, and the conversation in view
 * @returns {{title: string, body: string, convId: number}|null}
 */
export function noticeFor(s, m, here) {
  const settings = s.notify;
  const conv = s.convs.get(m.conversation_id);
  if (!settings || !conv || m.sender_id === s.me.id || m.deleted || m.edited_at) return null;
  if (here.lookingAt === m.conversation_id) return null;
  // Caught up after a while offline: what is old news makes no sound.
  if (here.now - m.created_at > 60_000) return null;
  if (isMuted(s, conv.id) || (settings.muted_until && here.now < settings.muted_until)) return null;
  if (settings.level === 'nothing') return null;
  if (settings.level === 'direct_and_mentions' && conv.kind !== 'direct' && !mentionsUser(m, s.me.id)) return null;
  const sender = userName(s, m.sender_id);
  const title = conv.kind === 'direct' ? sender : `${sender} in ${convName(s, conv)}`;
  let body = 'New message';
  if (settings.previews) {
    const text = m.body.trim() ? plainText(m.body, true) : filesSummary(m.attachments || []);
    body = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  }
  return { title, body, convId: conv.id };
}

/**
 * Shows the notification for `m`, if any, when permission was given.
 * @param {import('../types/proto').Message} m @param {(convId: number) => void} open
 */
export function notifyMessage(m, open) {
  if (state.desktop || !canNotify() || Notification.permission !== 'granted') return;
  const looking = document.hasFocus() && !document.hidden ? state.active : null;
  const notice = noticeFor(state, m, { now: Date.now(), lookingAt: looking });
  if (!notice) return;
  const shown = new Notification(notice.title, { body: notice.body, tag: `conv-${notice.convId}` });
  shown.addEventListener('click', () => {
    window.focus();
    open(notice.convId);
    shown.close();
  });
}

/** Whether to offer turning notifications on (asked once, after the person acted). */
export function shouldOffer() {
  return !state.desktop && canNotify() && Notification.permission === 'default'
    && localStorage.getItem(ASKED_KEY) !== 'yes';
}

/** Asks the browser for permission (from a click: browsers want a gesture). */
export async function askPermission() {
  localStorage.setItem(ASKED_KEY, 'yes');
  if (!canNotify()) return 'unsupported';
  return Notification.requestPermission();
}

/** Not now: the offer is not made again in this browser. */
export function declineOffer() {
  localStorage.setItem(ASKED_KEY, 'yes');
}

/** What the settings say about this browser's notifications, when it cannot show them. */
export function whyNot() {
  if (!window.isSecureContext) {
    return 'This page was opened over plain http, and browsers only let https pages (or the desktop app) notify. Ask your admin for the https address, or use the desktop app.';
  }
  if (!('Notification' in window)) return 'This browser cannot show notifications.';
  if (Notification.permission === 'denied') return 'Notifications are blocked for this site in your browser\'s settings.';
  if (Notification.permission === 'default') return 'Your browser has not been asked yet.';
  return '';
}

/** @type {(convId: number) => void} opens a conversation (app.js sets it: no import circle) */
let opener = () => {};

/** Says how a notification's click opens its conversation. */
export function setOpener(/** @type {(convId: number) => void} */ open) {
  opener = open;
}

/** A new message from someone else arrived: notify if the settings say so. */
export function onArrival(/** @type {import('../types/proto').Message} */ m) {
  notifyMessage(m, opener);
}

/** After I sent a message: the moment to offer notifications, once. */
export function maybeOffer() {
  if (shouldOffer()) $('notify-offer').hidden = false;
}

/** Wires the offer's buttons. */
export function wireNotifications(/** @type {() => void} */ afterChange) {
  $('notify-allow').addEventListener('click', async () => {
    $('notify-offer').hidden = true;
    await askPermission();
    afterChange();
  });
  $('notify-later').addEventListener('click', () => {
    $('notify-offer').hidden = true;
    declineOffer();
  });
}
