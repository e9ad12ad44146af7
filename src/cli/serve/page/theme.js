// The page's theme: light or dark, remembered in this browser, the system's choice at first.
const KEY = 'laneflow.theme';

export function currentTheme() {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyTheme(theme, button) {
  document.documentElement.dataset.theme = theme;
  button.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
  button.setAttribute('aria-pressed', String(theme === 'dark'));
}

/** Wires the toggle button; `changed(theme)` runs after each switch. */
export function setUpThemeToggle(button, changed = () => {}) {
  let theme = currentTheme();
  applyTheme(theme, button);
  button.addEventListener('click', () => {
    theme = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(KEY, theme);
    applyTheme(theme, button);
    changed(theme);
  });
  return () => theme;
}
