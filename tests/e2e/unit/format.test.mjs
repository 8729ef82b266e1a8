// Unit tests of ui/js/format.js: what a message's text becomes when shown, and as plain
// text. The tree is checked without a page; the browser tests check the page renders it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { parse, plainText, safeHref, MAX_DEPTH } from '../../../ui/js/format.js';

const p = (...c) => ({ t: 'p', c });
const text = (v) => ({ t: 'text', v });

test('plain text is one paragraph of itself; a newline is a line break', () => {
  assert.deepEqual(parse('hello world'), [p(text('hello world'))]);
  assert.deepEqual(parse('one\ntwo'), [p(text('one'), { t: 'br' }, text('two'))]);
});

test('the subset: bold, italic, strikethrough, inline code, links', () => {
  assert.deepEqual(parse('**b** _i_ *i* ~~s~~ `c` [l](https://ok.example/x)'), [p(
    { t: 'strong', c: [text('b')] }, text(' '), { t: 'em', c: [text('i')] }, text(' '),
    { t: 'em', c: [text('i')] }, text(' '), { t: 's', c: [text('s')] }, text(' '),
    { t: 'code', v: 'c' }, text(' '), { t: 'a', c: [text('l')], href: 'https://ok.example/x' })]);
});

test('fenced code, quotes and lists', () => {
  assert.deepEqual(parse('```rust\nfn main() {}\n  **not bold**\n```'), [{ t: 'pre', v: 'fn main() {}\n  **not bold**' }]);
  assert.deepEqual(parse('> said\n\nreply'), [{ t: 'quote', c: [p(text('said'))] }, p(text('reply'))]);
  assert.deepEqual(parse('- a\n- b'), [{ t: 'ul', c: [{ t: 'li', c: [text('a')] }, { t: 'li', c: [text('b')] }] }]);
  assert.deepEqual(parse('3. c'), [{ t: 'ol', start: 3, c: [{ t: 'li', c: [text('c')] }] }]);
});

test('bare links need a scheme; only http, https and mailto become links', () => {
  assert.deepEqual(parse('see https://a.example/p?q=1.'), [p(text('see '),
    { t: 'a', c: [text('https://a.example/p?q=1')], href: 'https://a.example/p?q=1' }, text('.'))]);
  for (const hostile of ['[x](javascript:alert(1))', '[x](JaVaScRiPt:alert(1))', '[x](data:text/html,<b>)',
    '[x](vbscript:msgbox)', '[x](file:///etc/passwd)', '<javascript:alert(1)>', 'example.com', 'ftp://a.example/f',
    '//a.example/x', '[x](/relative)', '[x](  javascript:alert(1))']) {
    const json = JSON.stringify(parse(hostile));
    assert.ok(!json.includes('"href"'), `${hostile} is no link: ${json}`);
    assert.equal(plainText(hostile), hostile, `${hostile} is shown as typed`);
  }
  assert.equal(safeHref('mailto:a@b.example'), 'mailto:a@b.example');
  assert.equal(safeHref('https://exa mple.com'), null);
});

test('what is not in the subset is the text that was typed', () => {
  for (const typed of ['# not a heading', '<b>html</b> <script>x</script>', '&amp; &lt;', '---', '| a | b |',
    '    indented', 'a  \\ b', '<!-- c -->', '[ref]: https://r.example']) {
    assert.equal(plainText(typed), typed.replace('    ', ''), typed);
    assert.ok(!JSON.stringify(parse(typed)).includes('"strong"'));
  }
});

test('plain text drops the markup, for previews and announcements', () => {
  assert.equal(plainText('**Lunch** at _noon_?\n> bring `cash`', true), 'Lunch at noon? bring cash');
  assert.equal(plainText('- a\n- b'), 'a\nb');
  assert.equal(plainText('```\ncode\n```\nafter'), 'code\nafter');
});

test('Markdown bombs are shown as text, whole', () => {
  const quotes = `${'>'.repeat(16000)} deep`;
  assert.deepEqual(parse(quotes), [p(text(quotes))], 'nesting past the limit is not formatted');
  const lists = Array.from({ length: MAX_DEPTH + 4 }, (_, i) => `${'  '.repeat(i)}- level ${i}`).join('\n');
  assert.deepEqual(parse(lists), [p(text(lists))]);
  const ticks = `${'`'.repeat(10000)}x`;
  assert.equal(plainText(ticks), ticks);
  const link = `https://a.example/${'a'.repeat(16000)}`;
  assert.equal(parse(link)[0].c[0].t, 'a', 'a long link is a link (linkify-it takes its first 10,000 characters)');
  assert.ok(plainText(link) === link, 'and none of it is lost');
  for (const bomb of ['*a **'.repeat(3000), '[['.repeat(8000), '_'.repeat(16000), '~~'.repeat(8000),
    '<'.repeat(16000), `${'[a]('.repeat(4000)}`]) {
    assert.ok(plainText(bomb).length >= bomb.length / 2, 'shown, not dropped');
  }
  // Nesting up to the limit is still formatted.
  assert.equal(parse('> > > three').at(0).t, 'quote');
});
