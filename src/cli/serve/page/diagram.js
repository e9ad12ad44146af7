// The diagram: the server's SVG shown inline (so overlays can style its elements), zoomed and
// panned with a CSS transform, and exported as it was drawn.

const SVG_NS = 'http://www.w3.org/2000/svg';
/** What laneflow's renderer writes; anything else in an SVG is dropped before it is shown. */
const ALLOWED_ELEMENTS = new Set(['svg', 'g', 'title', 'desc', 'defs', 'marker', 'path', 'rect', 'circle', 'ellipse', 'polygon', 'polyline', 'line', 'text', 'tspan']);
const MIN_SCALE = 0.01;
const MAX_SCALE = 8;

/**
 * Parses SVG text into an element of this document without running anything in it: the text
 * is parsed as XML (never as HTML), and only drawing elements and their non-event, non-link
 * attributes are kept. The server's renderer already escapes every label; this is the second
 * lock on the door, with the page's Content-Security-Policy the third.
 */
export function parseSvg(text) {
  const parsed = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = parsed.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== 'svg') throw new Error('the server sent something that is not an SVG');
  const clean = (element) => {
    for (const child of [...element.children]) {
      if (child.namespaceURI !== SVG_NS || !ALLOWED_ELEMENTS.has(child.localName)) child.remove();
      else clean(child);
    }
    for (const attribute of [...element.attributes]) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith('on') || name.endsWith('href') || name === 'style') element.removeAttribute(attribute.name);
    }
  };
  clean(root);
  return document.importNode(root, true);
}

export class Diagram {
  constructor(viewport, canvas, zoomLabel) {
    this.viewport = viewport;
    this.canvas = canvas;
    this.zoomLabel = zoomLabel;
    this.svgText = undefined;
    this.svg = undefined;
    this.view = { scale: 1, x: 0, y: 0 };
    /** True while the view is the fitted one: a resized pane then fits the diagram again. */
    this.autoFit = true;
    this.marks = undefined;
    this.setUpPointer();
    new ResizeObserver(() => {
      if (this.autoFit) this.fit();
    }).observe(viewport);
  }

  /** Shows a new drawing: fitted while the user has not zoomed or panned, else where they put it. */
  show(svgText) {
    const svg = parseSvg(svgText);
    this.svgText = svgText;
    this.svg = svg;
    this.canvas.replaceChildren(svg);
    this.setStale(false);
    this.applyMarks();
    if (this.autoFit) this.fit();
    else this.apply();
  }

  /** Greys the last good drawing while the text has errors. */
  setStale(stale) {
    this.canvas.classList.toggle('stale', stale);
  }

  size() {
    if (this.svg === undefined) return { width: 0, height: 0 };
    return { width: Number(this.svg.getAttribute('width')) || 1, height: Number(this.svg.getAttribute('height')) || 1 };
  }

  fit() {
    const { width, height } = this.size();
    const room = this.viewport.getBoundingClientRect();
    if (width === 0 || room.width === 0) return;
    const margin = 24;
    const scale = clamp(Math.min((room.width - 2 * margin) / width, (room.height - 2 * margin) / height, 1));
    this.view = { scale, x: (room.width - width * scale) / 2, y: Math.max(margin, (room.height - height * scale) / 2) };
    this.apply();
    this.autoFit = true;
  }

  actualSize() {
    const room = this.viewport.getBoundingClientRect();
    this.zoomAt(1 / this.view.scale, room.width / 2, room.height / 2);
  }

  /** Zooms by `factor` keeping the point under (x, y) of the viewport where it is. */
  zoomAt(factor, x, y) {
    this.autoFit = false;
    const scale = clamp(this.view.scale * factor);
    const applied = scale / this.view.scale;
    this.view = { scale, x: x - (x - this.view.x) * applied, y: y - (y - this.view.y) * applied };
    this.apply();
  }

  zoomBy(factor) {
    const room = this.viewport.getBoundingClientRect();
    this.zoomAt(factor, room.width / 2, room.height / 2);
  }

  apply() {
    const { scale, x, y } = this.view;
    this.canvas.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    this.zoomLabel.textContent = `${scale < 0.1 ? (scale * 100).toFixed(1) : Math.round(scale * 100)}%`;
  }

  setUpPointer() {
    const viewport = this.viewport;
    viewport.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const box = viewport.getBoundingClientRect();
        // Trackpads send many small deltas, mouse wheels few large ones: zoom by how far it went.
        const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
        this.zoomAt(Math.exp(-delta * 0.0015), event.clientX - box.left, event.clientY - box.top);
      },
      { passive: false },
    );
    let drag;
    viewport.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      drag = { id: event.pointerId, x: event.clientX, y: event.clientY, view: { ...this.view } };
      viewport.setPointerCapture(event.pointerId);
      viewport.classList.add('panning');
    });
    viewport.addEventListener('pointermove', (event) => {
      if (drag === undefined || event.pointerId !== drag.id) return;
      this.view = { ...drag.view, x: drag.view.x + event.clientX - drag.x, y: drag.view.y + event.clientY - drag.y };
      this.autoFit = false;
      this.apply();
    });
    const end = (event) => {
      if (drag === undefined || event.pointerId !== drag.id) return;
      drag = undefined;
      viewport.classList.remove('panning');
    };
    viewport.addEventListener('pointerup', end);
    viewport.addEventListener('pointercancel', end);
    viewport.addEventListener('keydown', (event) => {
      const step = 60;
      const actions = {
        '+': () => this.zoomBy(1.25),
        '=': () => this.zoomBy(1.25),
        '-': () => this.zoomBy(0.8),
        0: () => this.fit(),
        1: () => this.actualSize(),
        ArrowLeft: () => this.panBy(step, 0),
        ArrowRight: () => this.panBy(-step, 0),
        ArrowUp: () => this.panBy(0, step),
        ArrowDown: () => this.panBy(0, -step),
      };
      const action = actions[event.key];
      if (action === undefined || event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      action();
    });
  }

  panBy(dx, dy) {
    this.autoFit = false;
    this.view = { ...this.view, x: this.view.x + dx, y: this.view.y + dy };
    this.apply();
  }

  /**
   * Marks the nodes an instance waits on (`current`) and failed on (`failed`) over the drawing;
   * the server draws the path itself. Kept across redraws, so typing does not lose them.
   */
  setMarks(marks) {
    this.marks = marks;
    this.applyMarks();
  }

  applyMarks() {
    if (this.svg === undefined) return;
    // The server dims the edges a highlight leaves out, but not their labels: dimmed here too,
    // so the labels of the path stand out.
    const marked = new Set([...this.svg.querySelectorAll('.edges [data-highlight]')].map((path) => path.getAttribute('data-edge-id')));
    for (const label of this.svg.querySelectorAll('.labels [data-edge-id]')) label.classList.toggle('lf-dim', marked.size > 0 && !marked.has(label.getAttribute('data-edge-id')));
    for (const element of this.svg.querySelectorAll('.lf-current, .lf-failed')) element.classList.remove('lf-current', 'lf-failed');
    const nodes = new Map([...this.svg.querySelectorAll('.nodes [data-node-id]')].map((element) => [element.getAttribute('data-node-id'), element]));
    for (const id of this.marks?.current ?? []) nodes.get(id)?.classList.add('lf-current');
    for (const id of this.marks?.failed ?? []) nodes.get(id)?.classList.add('lf-failed');
  }

  /** Briefly marks one node, as the timeline row under the pointer names it. */
  focusNode(id) {
    for (const element of this.svg?.querySelectorAll('.lf-focus') ?? []) element.classList.remove('lf-focus');
    if (id === undefined || this.svg === undefined) return;
    for (const element of this.svg.querySelectorAll('.nodes [data-node-id]')) {
      if (element.getAttribute('data-node-id') === id) element.classList.add('lf-focus');
    }
  }
}

function clamp(scale) {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
}

/** Saves a Blob as a file download. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
