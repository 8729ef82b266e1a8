// Lints the web UI (ui/js) and the browser tests, from the repository root (scripts/test):
//   tests/e2e/node_modules/.bin/eslint -c tests/e2e/eslint.config.mjs ui/js tests/e2e tests/desktop
import globals from 'globals';

const rules = {
  'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
  'no-undef': 'error',
  'no-unreachable': 'error',
  'no-dupe-keys': 'error',
  'no-redeclare': 'error',
  'no-self-assign': 'error',
  'no-constant-condition': ['error', { checkLoops: false }],
  eqeqeq: ['error', 'always', { null: 'ignore' }],
  'no-var': 'error',
  'prefer-const': 'error',
  // innerHTML and friends would turn user text into markup (SECURITY.md).
  'no-restricted-properties': ['error',
    { property: 'innerHTML', message: 'User text becomes text nodes only (see dom.js).' },
    { property: 'outerHTML', message: 'User text becomes text nodes only (see dom.js).' },
    { property: 'insertAdjacentHTML', message: 'User text becomes text nodes only (see dom.js).' }],
};

export default [
  { ignores: ['**/node_modules/**', 'target/**', 'fuzz/**'] },
  {
    files: ['ui/js/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.browser } },
    rules: {
      ...rules,
      // One feature per module, one job per function (ARCHITECTURE.md, "The web UI").
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['tests/e2e/**/*.mjs', 'tests/desktop/**/*.mjs'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    rules: { ...rules, 'no-restricted-properties': 'off' },
  },
];
