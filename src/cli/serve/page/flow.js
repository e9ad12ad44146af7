// One flow's page: the editor re-draws the diagram as the user types (without saving), saves
// on request, and follows the file when it changes on disk.
import { api, ApiError, onFileChange } from './api.js';
import { Diagram, download } from './diagram.js';
import { Editor } from './editor.js';
import { RunsPanel } from './runs.js';
import { setUpSplitter } from './splitter.js';
import { setUpThemeToggle } from './theme.js';

/** Typing pauses this long before the text is drawn again. */
const PREVIEW_DELAY_MS = 150;

const $ = (id) => document.getElementById(id);
const name = decodeURIComponent(location.pathname.slice('/flow/'.length));
document.title = `${name} · laneflow`;
$('flow-name').textContent = name;

/** What the diagram marks: an instance's path or the scenarios' coverage, drawn by the server. */
let overlay;
const editor = new Editor($('source'), $('gutter'), $('diagnostics'), $('problem-count'));
const diagram = new Diagram($('viewport'), $('canvas'), $('zoom-level'));
const runs = new RunsPanel(name, diagram, {
  refresh: $('refresh-runs'),
  database: $('database'),
  instances: $('instances'),
  coverage: $('coverage'),
  coverageSummary: $('coverage-summary'),
  legend: $('legend'),
  trail: $('trail'),
  trailHint: $('trail-hint'),
  trailTitle: $('trail-title'),
  trailStatus: $('trail-status'),
  timeline: $('timeline'),
  toggle: $('runs-toggle'),
}, (changed) => {
  overlay = changed;
  requestPreview(0);
});

/** What the page knows of the file on disk: its text and hash as last loaded or saved. */
const disk = { text: '', hash: '' };
const theme = setUpThemeToggle($('theme'), () => requestPreview(0));
/** The text of a save on its way, whose own change on disk must not look like someone else's. */
let saving;
/** Set when the file was renamed or deleted on disk while the page had it open. */
let gone = false;

const isDirty = () => editor.text !== disk.text;

function showSaveState(text, kind = '') {
  const status = $('save-status');
  status.textContent = text;
  status.className = `save-status ${kind}`;
}

function refreshSaveState() {
  if (gone) showSaveState('Not on disk: renamed or deleted', 'failed');
  else if (isDirty()) showSaveState('Edited, not saved', 'dirty');
  else showSaveState('Saved');
}

/** The file is no longer on disk: the text stays in the editor, to be saved under a name. */
function showGone() {
  gone = true;
  $('disk-notice').hidden = true;
  $('gone-notice-text').textContent = `${name} is no longer on disk: it was renamed or deleted. Your text is still here.`;
  if ($('gone-notice').hidden) $('save-as-name').value = name;
  $('gone-notice').hidden = false;
  refreshSaveState();
}

function notGone() {
  gone = false;
  $('gone-notice').hidden = true;
}

/** Writes the editor's text to a new file: `target` another name (then opens its page) or this one again. */
async function create(target) {
  const text = editor.text;
  showSaveState('Saving…');
  saving = text;
  try {
    const { hash } = await api.create(target, text);
    if (target !== name) {
      // The text is safe in the new file: leaving this page loses nothing.
      disk.text = text;
      location.assign(`/flow/${target.split('/').map(encodeURIComponent).join('/')}`);
      return;
    }
    disk.text = text;
    disk.hash = hash;
    notGone();
    refreshSaveState();
  } catch (error) {
    showSaveState(`Not saved: ${error.message}`, 'failed');
  } finally {
    saving = undefined;
  }
}

function showPreview(preview) {
  editor.showDiagnostics(preview.diagnostics);
  const message = $('diagram-message');
  const status = $('render-status');
  if (preview.svg !== undefined) {
    diagram.show(preview.svg);
    message.hidden = true;
    status.textContent = preview.renderMs === undefined ? '' : `drawn in ${preview.renderMs} ms`;
    status.classList.remove('stale');
    return;
  }
  diagram.setStale(true);
  const errors = preview.diagnostics.filter((d) => d.severity === 'error');
  message.textContent =
    preview.renderError ??
    (errors.length > 0 ? `Line ${errors[0].range.start.line}: ${errors[0].message}` : 'The diagram could not be drawn.');
  message.hidden = false;
  status.textContent = diagram.svg === undefined ? 'no diagram' : 'showing the last diagram without errors';
  status.classList.add('stale');
}

// Only the newest preview is shown: an older answer that arrives late is dropped, and the
// request it belonged to is aborted so the server can skip it.
let previewTimer;
let previewController;
let previewSequence = 0;

function requestPreview(delay = PREVIEW_DELAY_MS) {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    previewController?.abort();
    const controller = new AbortController();
    previewController = controller;
    const sequence = ++previewSequence;
    try {
      const preview = await api.preview(name, editor.text, theme(), overlay?.highlight, controller.signal);
      if (sequence === previewSequence) showPreview(preview);
    } catch (error) {
      if (error.name !== 'AbortError' && sequence === previewSequence) showError(`Could not draw the diagram: ${error.message}`);
    }
  }, delay);
}

function showError(text) {
  const message = $('diagram-message');
  message.textContent = text;
  message.hidden = false;
}

async function load() {
  let flowDocument;
  try {
    flowDocument = await api.flow(name, theme());
  } catch (error) {
    showError(error instanceof ApiError && error.status === 404 ? `There is no flow ${name}.` : `Could not load ${name}: ${error.message}`);
    return;
  }
  disk.text = flowDocument.text;
  disk.hash = flowDocument.hash;
  editor.setText(flowDocument.text);
  $('source').disabled = false;
  refreshSaveState();
  showFlowDocument(flowDocument);
}

/** A document from disk comes drawn plain: shown at once, then drawn again with the overlay. */
function showFlowDocument(flowDocument) {
  showPreview(flowDocument);
  if (overlay !== undefined) requestPreview(0);
}

async function save(force = false) {
  if (gone) {
    showGone();
    $('save-as-name').focus();
    return;
  }
  if (!isDirty() && !force) return;
  const text = editor.text;
  showSaveState('Saving…');
  saving = text;
  try {
    const { hash } = await api.save(name, text, disk.hash, force);
    disk.text = text;
    disk.hash = hash;
    $('disk-notice').hidden = true;
    refreshSaveState();
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      showDiskNotice('The file changed on disk since you loaded it. Your edits are not saved.');
      showSaveState('Not saved: the file changed on disk', 'failed');
    } else if (error instanceof ApiError && error.status === 410) showGone();
    else showSaveState(`Not saved: ${error.message}`, 'failed');
  } finally {
    saving = undefined;
  }
}

function showDiskNotice(text) {
  $('disk-notice-text').textContent = text;
  $('disk-notice').hidden = false;
}

/** The file changed on disk: an unedited page follows it; an edited one asks; a vanished one says so. */
async function followDisk() {
  let flowDocument;
  try {
    flowDocument = await api.flow(name, theme());
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) showGone();
    return;
  }
  if (gone) {
    // Back on disk (renamed back, or made again elsewhere): compare with it as if just loaded.
    notGone();
    disk.text = flowDocument.text;
    disk.hash = flowDocument.hash;
    refreshSaveState();
    if (isDirty()) showDiskNotice('The file is back on disk and differs from your text.');
    return;
  }
  if (flowDocument.hash === disk.hash || flowDocument.text === saving) return;
  if (!isDirty() || flowDocument.text === editor.text) {
    disk.text = flowDocument.text;
    disk.hash = flowDocument.hash;
    editor.setText(flowDocument.text);
    refreshSaveState();
    showFlowDocument(flowDocument);
    return;
  }
  showDiskNotice('The file changed on disk while you were editing it.');
}

$('source').addEventListener('input', () => {
  refreshSaveState();
  requestPreview();
});
$('save').addEventListener('click', () => save());
document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
    event.preventDefault();
    save();
  }
});
$('load-disk').addEventListener('click', async () => {
  $('disk-notice').hidden = true;
  await load();
});
$('overwrite').addEventListener('click', () => save(true));
$('gone-notice').addEventListener('submit', (event) => {
  event.preventDefault();
  const target = $('save-as-name').value.trim();
  if (target === '') return;
  create(target.endsWith('.flow') ? target : `${target}.flow`);
});
$('recreate').addEventListener('click', () => create(name));
window.addEventListener('beforeunload', (event) => {
  if (isDirty()) event.preventDefault();
});

$('zoom-in').addEventListener('click', () => diagram.zoomBy(1.25));
$('zoom-out').addEventListener('click', () => diagram.zoomBy(0.8));
$('zoom-fit').addEventListener('click', () => diagram.fit());
$('zoom-actual').addEventListener('click', () => diagram.actualSize());
const baseName = name.replace(/^.*\//, '').replace(/\.flow$/, '');
$('export-svg').addEventListener('click', () => {
  if (diagram.svgText !== undefined) download(new Blob([diagram.svgText], { type: 'image/svg+xml' }), `${baseName}.svg`);
});
$('export-png').addEventListener('click', async () => {
  try {
    download(await api.png(name, editor.text, theme(), overlay?.highlight), `${baseName}.png`);
  } catch (error) {
    showError(`Could not export a PNG: ${error.message}`);
  }
});
function showRuns(shown) {
  $('runs-pane').hidden = !shown;
  $('runs-toggle').setAttribute('aria-expanded', String(shown));
}
$('runs-toggle').addEventListener('click', () => showRuns($('runs-pane').hidden));
setUpSplitter($('splitter'), document.querySelector('.workspace'));

onFileChange((changed) => {
  if (changed === name) followDisk();
});
await load();
await runs.refresh();
// The panel opens by itself only when there is a run to show; the diagram gets the room otherwise.
if ($('instances').childElementCount === 0) showRuns(false);
