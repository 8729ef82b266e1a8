// @ts-check
// The sign-in screen: signing in or creating an account (with the hub's join code when it
// asks for one). The token is kept in localStorage for the next visit.

import { api } from './hub.js';
import { field, $ } from './dom.js';
import { state, TOKEN_KEY } from './state.js';

let authMode = 'login';
/** @type {(token: string, me: any) => void} */
let signedIn = () => {};

const form = () => /** @type {HTMLFormElement} */ ($('auth-form'));
/** @param {string} name */
const input = (/** @type {string} */ name) => field(form(), name);

export function showAuth() {
  $('app-screen').hidden = true;
  $('auth-screen').hidden = false;
  // A hub nobody has an account on yet opens on "Create account": its first is the admin.
  const first = Boolean(state.hub && state.hub.first_account);
  setAuthMode(first ? 'register' : authMode);
  $('first-account-note').hidden = !first;
  input('username').focus();
}

function setAuthMode(/** @type {string} */ mode) {
  authMode = mode;
  const register = mode === 'register';
  $('tab-login').setAttribute('aria-selected', String(!register));
  $('tab-register').setAttribute('aria-selected', String(register));
  /** @type {HTMLElement} */ (form().querySelector('.register-only')).hidden = !register;
  /** @type {HTMLElement} */ (form().querySelector('.join-code')).hidden = !(register && state.hub && state.hub.join_code_required);
  input('password').autocomplete = register ? 'new-password' : 'current-password';
  $('auth-submit').textContent = register ? 'Create account' : 'Sign in';
  authError('');
}

export function authError(/** @type {string} */ message) {
  $('auth-error').textContent = message;
}

async function submitAuth(/** @type {Event} */ event) {
  event.preventDefault();
  const username = input('username').value.trim();
  const password = input('password').value;
  if (username.length < 3) return authError('Enter your username (at least 3 characters).');
  if (password.length < 8) return authError('The password has at least 8 characters.');
  const button = /** @type {HTMLButtonElement} */ ($('auth-submit'));
  button.disabled = true;
  try {
    let reply;
    if (authMode === 'register') {
      /** @type {Record<string, string>} */
      const body = { username, password };
      const display = input('display_name').value.trim();
      if (display) body.display_name = display;
      if (state.hub && state.hub.join_code_required) body.join_code = input('join_code').value.trim();
      reply = await api('POST', '/auth/register', { body });
    } else {
      reply = await api('POST', '/auth/login', { body: { username, password } });
    }
    localStorage.setItem(TOKEN_KEY, reply.token);
    form().reset();
    signedIn(reply.token, reply.user);
  } catch (err) {
    authError(err.message);
  } finally {
    button.disabled = false;
  }
}

/** Wires the screen; `onSignedIn(token, me)` starts the app. */
export function wireAuth(/** @type {(token: string, me: any) => void} */ onSignedIn) {
  signedIn = onSignedIn;
  $('tab-login').addEventListener('click', () => setAuthMode('login'));
  $('tab-register').addEventListener('click', () => setAuthMode('register'));
  form().addEventListener('submit', submitAuth);
}
