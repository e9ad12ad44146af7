// The bar between the editor and the diagram: drag it (or use the arrow keys on it) to give
// either more room. The width is remembered in this browser.
const KEY = 'laneflow.editorWidth';
const MIN = 220;

export function setUpSplitter(splitter, workspace) {
  const setWidth = (width) => {
    const max = workspace.clientWidth - 260;
    const clamped = Math.round(Math.min(max, Math.max(MIN, width)));
    workspace.style.setProperty('--editor-width', `${clamped}px`);
    localStorage.setItem(KEY, String(clamped));
  };
  const saved = Number(localStorage.getItem(KEY));
  if (saved > 0) setWidth(saved);
  const current = () => splitter.getBoundingClientRect().left - workspace.getBoundingClientRect().left;
  splitter.addEventListener('pointerdown', (event) => {
    splitter.setPointerCapture(event.pointerId);
    splitter.classList.add('dragging');
    const move = (moved) => setWidth(moved.clientX - workspace.getBoundingClientRect().left);
    const stop = () => {
      splitter.classList.remove('dragging');
      splitter.removeEventListener('pointermove', move);
      splitter.removeEventListener('pointerup', stop);
      splitter.removeEventListener('pointercancel', stop);
      window.dispatchEvent(new Event('resize'));
    };
    splitter.addEventListener('pointermove', move);
    splitter.addEventListener('pointerup', stop);
    splitter.addEventListener('pointercancel', stop);
  });
  splitter.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowLeft') setWidth(current() - 40);
    else if (event.key === 'ArrowRight') setWidth(current() + 40);
  });
}
