// Writes a laid-out diagram as SVG text with @svgdotjs/svg.js on svgdom. Every position comes
// from the layout; nothing here measures text or asks the DOM for a bounding box (rectangles
// and circles are made as plain elements: svg.js's own constructors size them through one),
// which keeps svgdom's font engine idle and the output identical on every machine. Text reaches the DOM as
// text nodes only, so the serializer escapes it: a label can never become markup.
import type { Container, Element } from '@svgdotjs/svg.js';
import { shapeColours, THEMES, type Theme, type ThemeName } from './theme';
import type { LaidOutDiagram, LaidOutEdge, LaidOutLoop, LaidOutNode, PlacedLabel, Point, TextLine } from './types';

export interface RenderSvgOptions {
  theme?: ThemeName;
  /** Marks edges and nodes over the drawing: scenario coverage, or one instance's path. */
  highlight?: RenderHighlight;
  /** Edges that are a binding's catch routes rather than the file's (see `withCatchEdges`): drawn dashed. */
  catchEdges?: string[];
}

/**
 * Edge ids drawn as `taken` (green) or `missed` (red, dashed); edges in neither list are
 * dimmed. With `nodes`, nodes not listed are dimmed too.
 */
export interface RenderHighlight {
  taken: string[];
  missed?: string[];
  nodes?: string[];
}

const HIGHLIGHT_COLOURS = { taken: '#16a34a', missed: '#dc2626' } as const;
const CATCH_DASHES = '2 3 8 3';
const DIMMED_OPACITY = 0.35;

// DejaVu Sans before the generic names: where Open Sans lacks a glyph (→, ✓), renderers that
// fall back font by font pick its regular face rather than whatever face they meet first.
const FONT_FAMILY = "'Open Sans', 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif";
const ARROW_ID = 'laneflow-arrow';
const CORNER_RADIUS = 8;
/** Where a line of text sits in its box: the baseline, as a fraction of the font size below the box's middle. */
const BASELINE_SHIFT = 0.36;

type SvgModule = typeof import('@svgdotjs/svg.js');

let svgModule: Promise<SvgModule> | undefined;

async function loadSvg(): Promise<SvgModule> {
  // Loaded on first use, so the CLI's other commands do not pay for svgdom.
  svgModule ??= (async () => {
    const [svgjs, { createSVGWindow }] = await Promise.all([import('@svgdotjs/svg.js'), import('svgdom')]);
    const window = createSVGWindow();
    svgjs.registerWindow(window, window.document);
    return svgjs;
  })();
  return svgModule;
}

export async function renderSvg(diagram: LaidOutDiagram, options: RenderSvgOptions = {}): Promise<string> {
  const { SVG } = await loadSvg();
  const theme = THEMES[options.theme ?? 'light'];
  const canvas = SVG().attr({
    width: diagram.width,
    height: diagram.height,
    viewBox: `0 0 ${diagram.width} ${diagram.height}`,
    role: 'img',
    'font-family': FONT_FAMILY,
  });
  canvas.element('title').words(clean(diagram.title));
  drawDefinitions(canvas, theme);
  const highlight = options.highlight;
  if (highlight !== undefined) drawHighlightMarkers(canvas);
  canvas.element('rect').attr({ x: 0, y: 0, width: diagram.width, height: diagram.height, fill: theme.background });
  drawLanes(canvas.group().attr({ class: 'lanes' }), diagram, theme);
  drawLoopFrames(canvas.group().attr({ class: 'loops' }), diagram.loops, theme);
  const edges = canvas.group().attr({ class: 'edges' });
  const catchEdges = new Set(options.catchEdges ?? []);
  for (const edge of diagram.edges) {
    const path = drawEdge(edges, edge, theme);
    // Dashed and dotted: a catch route is where errors go, not a line the analyst drew.
    if (catchEdges.has(edge.id)) path.attr({ 'data-catch': 'true', 'stroke-dasharray': CATCH_DASHES });
    if (highlight !== undefined) markEdge(path, edge.id, highlight);
  }
  const nodes = canvas.group().attr({ class: 'nodes' });
  const reached = highlight?.nodes === undefined ? undefined : new Set(highlight.nodes);
  const dimmed = reached === undefined ? nodes : nodes.group().attr({ class: 'dimmed', opacity: DIMMED_OPACITY });
  for (const node of diagram.nodes) drawNode(reached === undefined || reached.has(node.id) ? nodes : dimmed, node, theme);
  // Texts go last, on a backing of the background colour, so no line ever runs through them.
  const labels = canvas.group().attr({ class: 'labels' });
  for (const edge of diagram.edges) {
    const missed = highlight?.missed?.includes(edge.id) === true;
    if (edge.label !== undefined) drawLabel(labels.group().attr({ 'data-edge-id': edge.id }), edge.label, missed ? HIGHLIGHT_COLOURS.missed : theme.edgeText, theme);
  }
  for (const loop of diagram.loops) drawLabel(labels.group().attr({ 'data-loop-id': loop.id }), loop.label, theme.loop, theme, { 'font-style': 'italic' });
  // An element a line, so a change shows as a readable diff. Text never holds a bare `><`
  // (the serializer escapes both), so only the gaps between elements get a line break.
  return `${canvas.svg().replace(/><(?!\/)/g, '>\n<')}\n`;
}

function drawDefinitions(canvas: Container, theme: Theme): void {
  canvas
    .defs()
    .marker(10, 10, (marker) => marker.path('M 0 1 L 10 5 L 0 9 z').attr({ fill: theme.edge }))
    .attr({ id: ARROW_ID, viewBox: '0 0 10 10', refX: 10, refY: 5, markerUnits: 'userSpaceOnUse', orient: 'auto' });
}

function drawLanes(group: Container, diagram: LaidOutDiagram, theme: Theme): void {
  diagram.lanes.forEach((lane, index) => {
    const band = group.group().attr({ 'data-lane-id': lane.id });
    band.element('rect').attr({ ...lane.band, fill: theme.bands[index % 2] });
    band.element('rect').attr({ ...lane.header, fill: theme.headerFill });
    for (const line of lane.lines) drawText(band, line, theme.laneText, { 'font-weight': 600 });
    if (index > 0) band.line(0, lane.band.y, lane.band.width, lane.band.y).attr({ stroke: theme.laneBorder, 'stroke-width': 1 });
  });
  const right = diagram.lanes[0]?.header.width ?? 0;
  group.line(right, 0, right, diagram.height).attr({ stroke: theme.laneBorder, 'stroke-width': 1 });
  group.element('rect').attr({ x: 0.5, y: 0.5, width: diagram.width - 1, height: diagram.height - 1, fill: 'none', stroke: theme.laneBorder });
}

function drawLoopFrames(group: Container, loops: readonly LaidOutLoop[], theme: Theme): void {
  for (const loop of loops) {
    const frames = group.group().attr({ 'data-loop-id': loop.id });
    for (const box of loop.frames) {
      frames.element('rect').attr({ ...box, rx: CORNER_RADIUS + 4, fill: 'none', stroke: theme.loop, 'stroke-width': 1.5, 'stroke-dasharray': '6 4' });
    }
  }
}

function drawEdge(group: Container, edge: LaidOutEdge, theme: Theme): Element {
  return group
    .path(pathData(edge.points))
    .attr({ 'data-edge-id': edge.id, fill: 'none', stroke: theme.edge, 'stroke-width': 1.5, 'stroke-linejoin': 'round', 'marker-end': `url(#${ARROW_ID})` });
}

function drawHighlightMarkers(canvas: Container): void {
  const defs = canvas.defs();
  for (const [kind, colour] of Object.entries(HIGHLIGHT_COLOURS)) {
    defs
      .marker(10, 10, (marker) => marker.path('M 0 1 L 10 5 L 0 9 z').attr({ fill: colour }))
      .attr({ id: `${ARROW_ID}-${kind}`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerUnits: 'userSpaceOnUse', orient: 'auto' });
  }
}

function markEdge(path: Element, id: string, highlight: RenderHighlight): void {
  const kind = highlight.taken.includes(id) ? 'taken' : highlight.missed?.includes(id) === true ? 'missed' : undefined;
  if (kind === undefined) {
    path.attr({ opacity: DIMMED_OPACITY });
    return;
  }
  path.attr({ 'data-highlight': kind, stroke: HIGHLIGHT_COLOURS[kind], 'stroke-width': 2.5, 'marker-end': `url(#${ARROW_ID}-${kind})` });
  if (kind === 'missed') path.attr({ 'stroke-dasharray': '7 5' });
}

function drawLabel(group: Container, label: PlacedLabel, colour: string, theme: Theme, style: Record<string, string | number> = {}): void {
  group.element('rect').attr({ ...label.box, rx: 3, fill: theme.labelBackground, 'fill-opacity': 0.9 });
  for (const line of label.lines) drawText(group, line, colour, style);
}

/** Straight runs with the corners rounded off, ending exactly on the target's side. */
function pathData(points: readonly Point[]): string {
  const radius = 6;
  const parts = [`M ${points[0]!.x} ${points[0]!.y}`];
  for (let index = 1; index < points.length - 1; index++) {
    const before = points[index - 1]!;
    const corner = points[index]!;
    const after = points[index + 1]!;
    const r = Math.min(radius, distance(before, corner) / 2, distance(corner, after) / 2);
    const entry = towards(corner, before, r);
    const exit = towards(corner, after, r);
    parts.push(`L ${entry.x} ${entry.y}`, `Q ${corner.x} ${corner.y} ${exit.x} ${exit.y}`);
  }
  const last = points[points.length - 1]!;
  parts.push(`L ${last.x} ${last.y}`);
  return parts.join(' ');
}

function distance(a: Point, b: Point): number {
  return Math.abs(a.x - b.x) + Math.abs(a.y - b.y);
}

function towards(from: Point, to: Point, by: number): Point {
  const length = distance(from, to);
  if (length === 0) return from;
  return { x: trim(from.x + ((to.x - from.x) / length) * by), y: trim(from.y + ((to.y - from.y) / length) * by) };
}

function drawNode(group: Container, node: LaidOutNode, theme: Theme): void {
  const shape = group.group().attr({ 'data-node-id': node.id, class: `node ${node.shape}` });
  const colours = shapeColours(theme, node.shape, node.kind);
  const paint = { fill: colours.fill, stroke: colours.stroke, 'stroke-width': 1.5 };
  const { x, y, width, height } = node.box;
  switch (node.shape) {
    case 'circle':
      shape.element('circle').attr({ cx: x + width / 2, cy: y + height / 2, r: width / 2, ...paint });
      break;
    case 'diamond':
      shape.polygon(`${x + width / 2},${y} ${x + width},${y + height / 2} ${x + width / 2},${y + height} ${x},${y + height / 2}`).attr(paint);
      break;
    case 'rectangle':
      shape.element('rect').attr({ ...node.box, rx: CORNER_RADIUS, ...paint });
      break;
    case 'taskbox': {
      shape.element('rect').attr({ ...node.box, rx: CORNER_RADIUS / 2, ...paint });
      shape.element('rect').attr({ x, y, width: 4, height, fill: colours.stroke });
      const firstDetail = node.lines.find((line) => line.role === 'description' || line.role === 'owner' || line.role === 'system');
      if (firstDetail !== undefined) {
        const dividerY = trim(firstDetail.box.y - 3);
        shape.line(x + 10, dividerY, x + width - 10, dividerY).attr({ stroke: theme.divider, 'stroke-width': 1 });
      }
      break;
    }
  }
  for (const line of node.lines) {
    const muted = line.role === 'owner' || line.role === 'system' || line.role === 'description';
    drawText(shape, line, muted ? theme.mutedText : theme.text, line.role === 'description' ? { 'font-style': 'italic' } : {});
  }
}

function drawText(group: Container, line: TextLine, colour: string, style: Record<string, string | number> = {}): Element {
  return group.plain(clean(line.text)).attr({
    x: trim(line.box.x + line.box.width / 2),
    y: trim(line.box.y + line.box.height / 2 + line.fontSize * BASELINE_SHIFT),
    'text-anchor': 'middle',
    'font-size': line.fontSize,
    fill: colour,
    ...style,
  });
}

/** Characters XML 1.0 cannot hold at all, even escaped, become U+FFFD. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function trim(value: number): number {
  return Math.round(value * 100) / 100;
}
