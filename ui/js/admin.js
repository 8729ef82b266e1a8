// @ts-check
// The hub admins' panel: reported messages to act on, and the people on the hub (disable,
// enable, promote, demote, create). Everything goes through the `/admin` endpoints of
// docs/protocol.md; the hub refuses them to anyone but a hub admin.

import { h, avatar, shortWhen, $ } from './dom.js';
import { confirmAction } from './ask.js';

const POLL_MS = 60000;

let ctx = null; // { call, me: () => user, userName(id), convName(id) }
let tab = 'reports';
let data = { reports: [], users: [], convs: new Map(), stats: null };
let pollTimer = null;

/** Wires the panel once; `context` gives it the app's REST call and names. */
export function wireAdmin(context) {
  ctx = context;
  $('open-admin').addEventListener('click', openAdmin);
  $('admin-tab-reports').addEventListener('click', () => showTab('reports'));
  $('admin-tab-people').addEventListener('click', () => showTab('people'));
  $('admin-dialog').addEventListener('close', refreshBadge);
}

/** Shows or hides the panel's button as my admin flag changes, and keeps its badge fresh. */
export function adminChanged() {
  const admin = Boolean(ctx && ctx.me() && ctx.me().is_admin);
  $('open-admin').hidden = !admin;
  clearInterval(pollTimer);
  pollTimer = null;
  if (!admin) {
    if ($('admin-dialog').open) $('admin-dialog').close();
    return;
  }
  refreshBadge();
  pollTimer = setInterval(() => { if (!document.hidden) refreshBadge(); }, POLL_MS);
}

/** The number of open reports on the panel's button. */
async function refreshBadge() {
  if (!ctx.me() || !ctx.me().is_admin) return;
  try {
    data.stats = await ctx.call('GET', '/admin/stats');
  } catch {
    return; // offline or no longer an admin: the next change says so
  }
  const open = data.stats.open_reports;
  const badge = $('admin-count');
  badge.hidden = open === 0;
  badge.textContent = open > 99 ? '99+' : String(open);
  $('open-admin').setAttribute('aria-label', open ? `Administration, ${open} open reports` : 'Administration');
}

async function openAdmin() {
  $('admin-error').textContent = '';
  await load();
  render();
  if (!$('admin-dialog').open) $('admin-dialog').showModal();
}

async function load() {
  try {
    const [reports, users, convs, stats] = await Promise.all([
      ctx.call('GET', '/admin/reports'),
      ctx.call('GET', '/admin/users'),
      ctx.call('GET', '/admin/conversations'),
      ctx.call('GET', '/admin/stats'),
    ]);
    data = { reports, users, convs: new Map(convs.map((c) => [c.id, c])), stats };
  } catch (err) {
    $('admin-error').textContent = err.message;
  }
}

function showTab(which) {
  tab = which;
  render();
}

function render() {
  const reports = tab === 'reports';
  $('admin-tab-reports').setAttribute('aria-selected', String(reports));
  $('admin-tab-people').setAttribute('aria-selected', String(!reports));
  $('admin-reports-panel').hidden = !reports;
  $('admin-people-panel').hidden = reports;
  const s = data.stats;
  $('admin-stats').textContent = s
    ? `${count(s.users, 'person', 'people')} (${s.users_online} online), ${count(s.conversations, 'conversation')}, `
      + `${count(s.messages, 'message')}${s.retention_days ? ` · messages are kept ${count(s.retention_days, 'day')}` : ''}`
    : '';
  const open = data.reports.filter((r) => !r.resolved_at).length;
  $('admin-tab-reports').textContent = open ? `Reports (${open})` : 'Reports';
  $('admin-reports').replaceChildren(...(data.reports.length
    ? data.reports.map(reportRow)
    : [h('li', { class: 'muted' }, 'No reported messages.')]));
  $('admin-people').replaceChildren(createRow(), ...data.users.map(personRow));
}

function count(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

function nameOf(id) {
  const user = data.users.find((u) => u.id === id);
  return user ? user.display_name : ctx.userName(id);
}

function placeOf(convId) {
  const conv = data.convs.get(convId);
  if (!conv) return ctx.convName(convId);
  if (conv.kind === 'general') return `# ${conv.name || 'general'}`;
  if (conv.kind === 'direct') return 'a direct chat';
  return conv.name || 'a group';
}

function reportRow(report) {
  const m = report.message;
  const files = m.attachments || [];
  const text = m.deleted ? 'This message was deleted'
    : m.body.trim() || (files.length === 1 ? `File: ${files[0].name}` : `${files.length} files`);
  const actions = h('span', { class: 'row-actions' });
  if (!m.deleted) {
    actions.append(h('button', {
      type: 'button',
      class: 'danger',
      onclick: () => act(async () => {
        if (!await confirmAction({
          title: 'Delete message?',
          text: `Delete this message by ${nameOf(m.sender_id)} for everyone? This cannot be undone.`,
          action: 'Delete message',
        })) return false;
        await ctx.call('DELETE', `/messages/${m.id}`);
        if (!report.resolved_at) await ctx.call('PATCH', `/admin/reports/${report.id}`);
        return true;
      }),
    }, 'Delete message'));
  }
  if (!report.resolved_at) {
    actions.append(h('button', {
      type: 'button',
      onclick: () => act(() => ctx.call('PATCH', `/admin/reports/${report.id}`)),
    }, 'Resolve'));
  }
  return h('li', { class: `report${report.resolved_at ? ' resolved' : ''}`, dataset: { report: String(report.id) } },
    h('div', { class: 'report-main' },
      h('p', { class: 'small' },
        h('strong', {}, nameOf(m.sender_id)), ` in ${placeOf(m.conversation_id)} · ${shortWhen(m.created_at)}`),
      // It scrolls when long: focusable, so the keyboard can scroll it too.
      h('blockquote', { class: `report-quote${m.deleted ? ' deleted' : ''}`, tabindex: '0' }, text),
      h('p', { class: 'muted small' },
        `Reported by ${nameOf(report.reporter_id)} ${shortWhen(report.created_at)}`,
        report.reason ? `: “${report.reason}”` : ''),
      report.resolved_at
        ? h('p', { class: 'muted small' }, `Resolved by ${report.resolved_by ? nameOf(report.resolved_by) : 'an admin'}`)
        : null),
    actions);
}

function personRow(user) {
  const me = ctx.me();
  const facts = [`@${user.username}`, user.is_admin ? 'hub admin' : '', user.disabled ? 'disabled' : '',
    user.disabled ? '' : user.presence, user.sessions ? `signed in on ${user.sessions}` : ''].filter(Boolean);
  const actions = h('span', { class: 'row-actions' });
  if (user.id !== me.id) {
    actions.append(h('button', {
      type: 'button',
      class: user.disabled ? '' : 'danger',
      onclick: () => act(async () => {
        if (!user.disabled && !await confirmAction({
          title: `Disable ${user.display_name}?`,
          text: 'They are signed out everywhere at once and cannot sign in until an admin enables them again.',
          action: `Disable ${user.display_name}`,
        })) return false;
        await ctx.call('PATCH', `/admin/users/${user.id}`, { disabled: !user.disabled });
        return true;
      }),
    }, user.disabled ? 'Enable' : 'Disable'));
  }
  actions.append(h('button', {
    type: 'button',
    onclick: () => act(() => ctx.call('PATCH', `/admin/users/${user.id}`, { admin: !user.is_admin })),
  }, user.is_admin ? 'Remove admin' : 'Make admin'));
  return h('li', { class: user.disabled ? 'disabled' : '', dataset: { userId: String(user.id) } },
    avatar(user.display_name, user.id, { presence: user.disabled ? 'offline' : user.presence }),
    h('span', { class: 'who' }, h('span', {}, user.display_name), h('span', { class: 'muted small' }, facts.join(' · '))),
    actions);
}

/** A form to add an account (on hubs with a join code, the way to let someone in). */
function createRow() {
  const form = h('form', { class: 'admin-create', novalidate: true },
    h('input', { name: 'username', placeholder: 'username', 'aria-label': 'New username', required: true,
      minlength: 3, maxlength: 32, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }),
    h('input', { name: 'password', type: 'password', placeholder: 'password (8+)', 'aria-label': 'Their password',
      required: true, minlength: 8, autocomplete: 'new-password' }),
    h('label', { class: 'check small' }, h('input', { type: 'checkbox', name: 'admin' }), ' admin'),
    h('button', { type: 'submit' }, 'Add person'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(() => ctx.call('POST', '/admin/users', {
      username: form.username.value.trim(),
      password: form.password.value,
      admin: form.admin.checked,
    }));
  });
  return h('li', { class: 'create' }, form);
}

/** Runs an action, then shows the panel as the hub now has it (or the hub's refusal). */
async function act(fn) {
  $('admin-error').textContent = '';
  try {
    if ((await fn()) === false) return;
  } catch (err) {
    $('admin-error').textContent = err.message;
    return;
  }
  await load();
  render();
}
