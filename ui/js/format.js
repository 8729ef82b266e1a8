// @ts-check
// How a message's text is shown. The wire format is plain text; the page shows a safe
// Markdown subset of it: bold, italic, strikethrough, inline code, fenced code blocks, block
// quotes, lists, and links (written `[text](url)`, `<url>` or bare; http, https and mailto
// only). markdown-it (vendored, raw HTML off, every other rule off) parses the text into
// tokens; `parse` turns those into a small tree of the constructs above, and `render` makes
// DOM nodes of that tree through text nodes and attribute setters only: no user text is
// ever parsed as HTML. Anything else (headings, tables, images, HTML, entities) stays the
// text that was typed. `plainText` is the text without its markup, for previews and
// announcements. `parse` and `plainText` need no page (tests/e2e/unit/format.test.mjs).

import markdownit from '../vendor/markdown-it.esm.min.mjs';

/**
 * A shown message as a tree: blocks (`p`, `ul`, `ol`, `li`, `quote`, `pre`) holding inline
 * nodes (`text`, `code`, `br`, `strong`, `em`, `s`, `a`).
 * @typedef {{t: 'text'|'code'|'pre'|'br', v?: string}
 *   | {t: 'p'|'ul'|'li'|'quote'|'strong'|'em'|'s', c: Node[]}
 *   | {t: 'ol', c: Node[], start: number}
 *   | {t: 'a', c: Node[], href: string}} Node
 */

/**
 * Nesting deeper than this (quotes in lists in quotes…) is not formatted: the whole message
 * is shown as the text it is. markdown-it stops parsing at `maxNesting`, dropping the rest,
 * so that limit is kept above this one and is never what decides.
 */
export const MAX_DEPTH = 16;

const SCHEMES = /^(https?:\/\/|mailto:)/i;

const md = markdownit('zero', { html: false, linkify: true, maxNesting: MAX_DEPTH + 8 });
md.enable(['emphasis', 'strikethrough', 'backticks', 'fence', 'blockquote', 'list', 'link',
  'autolink', 'linkify', 'newline', 'escape']);
// Bare links need their scheme (`example.com` stays text); ftp and `//` are not links here.
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false }).add('ftp:', null).add('//', null);
md.validateLink = (url) => SCHEMES.test(url);

/** The element types each opening token makes; tokens not here give their text. */
const CONTAINERS = /** @type {const} */ ({
  paragraph_open: 'p', bullet_list_open: 'ul', ordered_list_open: 'ol', list_item_open: 'li',
  blockquote_open: 'quote', strong_open: 'strong', em_open: 'em', s_open: 's', link_open: 'a',
});

/**
 * The tree of `text`, or one paragraph of the text as it is when it nests too deeply.
 * @param {string} text
 * @returns {Node[]}
 */
export function parse(text) {
  const tokens = md.parse(text, {});
  /** @type {Node[]} */
  const root = [];
  /** @type {Node[][]} */
  const stack = [root];
  /** @param {import('../vendor/markdown-it.esm.min.mjs').Token[]} list @returns {boolean} */
  const walk = (list) => {
    for (const token of list) {
      if (token.level >= MAX_DEPTH) return false;
      const into = stack[stack.length - 1];
      if (token.nesting === 1) {
        const t = CONTAINERS[/** @type {keyof CONTAINERS} */ (token.type)];
        // A tight list's paragraphs are hidden: their text goes straight into the item.
        if (!t || token.hidden) { stack.push(into); continue; }
        /** @type {Node[]} */
        const c = [];
        if (t === 'a') {
          const href = safeHref(token.attrGet('href'));
          if (href) into.push({ t, c, href }); else { stack.push(into); continue; }
        } else if (t === 'ol') {
          into.push({ t, c, start: Math.min(Math.max(Number(token.attrGet('start')) || 1, 0), 999999999) });
        } else into.push({ t, c });
        stack.push(c);
      } else if (token.nesting === -1) {
        if (stack.length > 1) stack.pop();
      } else if (token.type === 'inline') {
        if (!walk(token.children || [])) return false;
      } else if (token.type === 'text') {
        if (token.content) pushText(into, token.content);
      } else if (token.type === 'softbreak' || token.type === 'hardbreak') {
        into.push({ t: 'br' });
      } else if (token.type === 'code_inline') {
        into.push({ t: 'code', v: token.content });
      } else if (token.type === 'fence') {
        // A fence with nothing in it (a run of backticks, say) is the text that was typed.
        const code = token.content.replace(/\n$/, '');
        if (code.trim()) into.push({ t: 'pre', v: code });
        else pushText(into, `${token.markup}${token.info}${token.content}`);
      } else if (token.content) {
        pushText(into, token.content);
      }
    }
    return true;
  };
  if (!walk(tokens)) return [{ t: 'p', c: [{ t: 'text', v: text }] }];
  return root;
}

/** @param {Node[]} into @param {string} v */
function pushText(into, v) {
  const last = into[into.length - 1];
  if (last && last.t === 'text') last.v += v; else into.push({ t: 'text', v });
}

/**
 * A link's target when it is an absolute http, https or mailto URL, else null (the link is
 * then shown as its text).
 * @param {string|null} href
 */
export function safeHref(href) {
  if (!href || !SCHEMES.test(href)) return null;
  try {
    const url = new URL(href);
    return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The text without markup: what a preview, a notification or a screen-reader announcement
 * says. Blocks are separated by a newline; `oneLine` joins them with spaces.
 * @param {string} text @param {boolean} [oneLine]
 */
export function plainText(text, oneLine = false) {
  /** @type {string[]} */
  const out = [];
  /** @param {Node[]} nodes */
  const walk = (nodes) => {
    for (const n of nodes) {
      if ('c' in n) {
        const block = n.t === 'p' || n.t === 'li' || n.t === 'quote' || n.t === 'ul' || n.t === 'ol';
        walk(n.c);
        if (block && out.length && !out[out.length - 1].endsWith('\n')) out.push('\n');
      } else if (n.t === 'br') out.push('\n');
      else if (n.t === 'pre') out.push(`${n.v}\n`);
      else out.push(n.v || '');
    }
  };
  walk(parse(text));
  const joined = out.join('').replace(/\n+$/, '');
  return oneLine ? joined.replace(/\s*\n\s*/g, ' ') : joined;
}

/**
 * What a name after `@` is in a message: `me`, someone else (`other`), or nothing the hub
 * recorded (null: it stays text).
 * @typedef {(name: string) => 'me'|'other'|null} MentionOf
 */

/**
 * The DOM nodes of `text` as shown in a message bubble; `mentionOf` marks the mentions the
 * hub recorded.
 * @param {string} text @param {MentionOf|null} [mentionOf]
 * @returns {DocumentFragment}
 */
export function render(text, mentionOf = null) {
  const frag = document.createDocumentFragment();
  for (const n of parse(text)) frag.append(node(n, mentionOf));
  return frag;
}

/**
 * `@name` as the hub reads it (crates/proto/src/text.rs, `mentioned`): after the start or a
 * character that is not a username's or `@`; a trailing `.` or `-` is punctuation.
 */
const MENTION = /(^|[^A-Za-z0-9._@-])@([A-Za-z0-9._-]+)/g;

/**
 * Splits a run of text at its mentions: each one the hub recorded becomes a marked span.
 * @param {string} text @param {MentionOf} mentionOf
 */
export function mentionPieces(text, mentionOf) {
  /** @type {({text: string}|{mention: string, me: boolean})[]} */
  const out = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    const name = match[2].replace(/[.-]+$/, '');
    const kind = name ? mentionOf(name.toLowerCase()) : null;
    if (!kind) continue;
    const at = (match.index || 0) + match[1].length;
    if (at > last) out.push({ text: text.slice(last, at) });
    out.push({ mention: `@${name}`, me: kind === 'me' });
    last = at + 1 + name.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

const TAGS = { p: 'p', ul: 'ul', ol: 'ol', li: 'li', quote: 'blockquote', strong: 'strong', em: 'em', s: 's', a: 'a' };

/** @param {Node} n @param {MentionOf|null} mentionOf @returns {globalThis.Node} */
function node(n, mentionOf) {
  if (!('c' in n)) {
    if (n.t === 'br') return document.createElement('br');
    if (n.t === 'pre') return codeBlock(n.v || '');
    if (n.t === 'text') return mentionOf ? textWithMentions(n.v || '', mentionOf) : document.createTextNode(n.v || '');
    const code = document.createElement('code');
    code.textContent = n.v || '';
    return code;
  }
  const el = document.createElement(TAGS[n.t]);
  if (n.t === 'a') {
    el.setAttribute('href', n.href);
    el.setAttribute('target', '_blank');
    el.setAttribute('rel', 'noopener noreferrer');
  }
  if (n.t === 'ol' && n.start !== 1) el.setAttribute('start', String(n.start));
  for (const child of n.c) el.append(node(child, mentionOf));
  return el;
}

/** @param {string} text @param {MentionOf} mentionOf */
function textWithMentions(text, mentionOf) {
  const frag = document.createDocumentFragment();
  for (const piece of mentionPieces(text, mentionOf)) {
    if ('text' in piece) {
      frag.append(document.createTextNode(piece.text));
    } else {
      const span = document.createElement('span');
      span.className = piece.me ? 'mention of-me' : 'mention';
      span.textContent = piece.mention;
      frag.append(span);
    }
  }
  return frag;
}

/** A fenced code block: monospace, scrolled sideways rather than wrapped, with a copy button. */
function codeBlock(/** @type {string} */ text) {
  const pre = document.createElement('pre');
  pre.tabIndex = 0; // scrollable by keyboard
  const code = document.createElement('code');
  code.textContent = text;
  pre.append(code);
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'copy-code';
  copy.textContent = 'Copy';
  copy.setAttribute('aria-label', 'Copy code');
  copy.addEventListener('click', () => copyText(text, pre).then((ok) => {
    copy.textContent = ok ? 'Copied' : 'Select and copy';
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  }));
  const box = document.createElement('div');
  box.className = 'code-block';
  box.append(pre, copy);
  return box;
}

/**
 * Copies `text`: through the clipboard API where the page may (a secure context), else by
 * selecting `shown` and asking the browser to copy the selection.
 * @param {string} text @param {HTMLElement} shown @returns {Promise<boolean>}
 */
async function copyText(text, shown) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // refused (no permission): fall back to the selection
    }
  }
  const range = document.createRange();
  range.selectNodeContents(shown);
  const selection = window.getSelection();
  if (!selection) return false;
  selection.removeAllRanges();
  selection.addRange(range);
  // execCommand is deprecated but is the only copy a plain-http page has.
  return document.execCommand('copy');
}
