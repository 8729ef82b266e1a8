// @ts-check
// Light or dark, set on <html data-theme> before the page is first painted (a classic
// script in <head>, so no flash of the wrong theme): the system's, unless the person chose
// one on this device. The one place the choice is kept: the profile dialog reads it from
// <html data-theme-choice> and changes it by dispatching a "chinwag-theme" CustomEvent
// (detail "system", "light" or "dark"). Other tabs follow through the storage event.
(() => {
  const KEY = 'chinwag.theme';
  const system = window.matchMedia('(prefers-color-scheme: dark)');
  const stored = () => {
    try {
      return localStorage.getItem(KEY);
    } catch {
      return null; // storage refused (private mode, a policy): the system's theme
    }
  };
  let choice = stored();
  const apply = () => {
    if (choice !== 'light' && choice !== 'dark') choice = 'system';
    const dark = choice === 'dark' || (choice === 'system' && system.matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    document.documentElement.dataset.themeChoice = choice;
  };
  apply();
  system.addEventListener('change', apply);
  window.addEventListener('storage', (event) => {
    if (event.key !== KEY) return;
    choice = stored();
    apply();
  });
  window.addEventListener('chinwag-theme', (event) => {
    choice = /** @type {CustomEvent} */ (event).detail;
    try {
      if (choice === 'light' || choice === 'dark') localStorage.setItem(KEY, choice);
      else localStorage.removeItem(KEY);
    } catch {
      // Not kept: shown until the page goes.
    }
    apply();
  });
})();
