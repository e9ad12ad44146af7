// Places edge labels beside their routes. Each label tries spots along every segment of its
// route (above or below a horizontal run, right or left of a vertical one) and takes the best:
// never over a node or another label when any spot avoids them, then crossing the fewest
// lines, then nearest the route's source (a decision's "Yes" belongs next to the decision).
import { FONT_SIZE } from './shapes';
import { inflate, touches } from './rect';
import { LINE_HEIGHT, measureText, round, wrapText } from './text';
import type { PlacedLabel, Point, Rect, TextLine, TextRole } from './types';

/** The gap between a route and its label. */
const LABEL_GAP = 3;
/** The label's own padding, filled with the background so lines under it stay readable. */
export const LABEL_PADDING = 3;
const MAX_LABEL_WIDTH = 150;
const POSITIONS = [0.5, 0.25, 0.75, 0.1, 0.9];

export interface LabelRequest {
  id: string;
  text: string;
  points: Point[];
}

/** A text block measured for a label: its lines relative to the block's top-left, and its size. */
export function measureLabel(text: string, role: TextRole, fontSize: number): { width: number; height: number; lines: TextLine[] } {
  const texts = wrapText(text, MAX_LABEL_WIDTH, fontSize);
  const lineHeight = round(fontSize * LINE_HEIGHT);
  const widths = texts.map((line) => measureText(line, fontSize));
  const width = round(Math.max(0, ...widths) + 2 * LABEL_PADDING);
  const height = round(texts.length * lineHeight + 2 * LABEL_PADDING);
  const lines = texts.map((line, index) => ({
    text: line,
    box: { x: round((width - widths[index]!) / 2), y: round(LABEL_PADDING + index * lineHeight), width: widths[index]!, height: lineHeight },
    fontSize,
    role,
  }));
  return { width, height, lines };
}

/** Moves a label's lines from block-relative to absolute coordinates. */
export function positionLabel(text: string, measured: ReturnType<typeof measureLabel>, x: number, y: number): PlacedLabel {
  const box = { x: round(x), y: round(y), width: measured.width, height: measured.height };
  return {
    text,
    box,
    lines: measured.lines.map((line) => ({ ...line, box: { ...line.box, x: round(box.x + line.box.x), y: round(box.y + line.box.y) } })),
  };
}

/**
 * Places every label; `crowded` lists the edges whose label found no free spot near its route
 * (their labels are placed anyway, on the nearest free place or, failing that, the best spot).
 */
export function placeEdgeLabels(
  requests: readonly LabelRequest[],
  obstacles: readonly Rect[],
  routes: readonly Point[][],
): { placed: Map<string, PlacedLabel>; crowded: string[] } {
  const hard = new SpatialIndex();
  obstacles.forEach((box) => hard.add(inflate(box, 2)));
  // A label's backing would hide an arrowhead under it.
  for (const points of routes) hard.add(arrowheadBox(points[points.length - 2]!, points[points.length - 1]!));
  const lines = new SpatialIndex();
  for (const points of routes) {
    for (let index = 0; index + 1 < points.length; index++) lines.add(segmentBox(points[index]!, points[index + 1]!));
  }
  const shared = sharedRuns(routes);
  const placed = new Map<string, PlacedLabel>();
  const crowded: string[] = [];
  for (const request of requests) {
    const measured = measureLabel(request.text, 'edge', FONT_SIZE.edge);
    let best: { score: number; box: Rect } | undefined;
    let travelled = 0;
    for (let index = 0; index + 1 < request.points.length; index++) {
      const a = request.points[index]!;
      const b = request.points[index + 1]!;
      const length = Math.abs(b.x - a.x) + Math.abs(b.y - a.y);
      // A run that other routes share (a fan-out's trunk) would leave the label's edge ambiguous.
      const ambiguity = shared.has(runKey(a, b)) ? SHARED_RUN_PENALTY : 0;
      for (const [rank, t] of POSITIONS.entries()) {
        for (const [side, box] of beside(a, b, t, measured.width, measured.height).entries()) {
          const collisions = hard.count(box);
          const crossings = lines.count(box) - (touchesOwnSegment(box, a, b) ? 1 : 0);
          const score = collisions * 10_000 + crossings * 100 + ambiguity + (travelled + t * length) * 0.05 + rank * 4 + side;
          if (best === undefined || score < best.score) best = { score, box };
        }
      }
      travelled += length;
    }
    if (best === undefined) continue;
    if (best.score >= 10_000) {
      const free = nearestFreeSpot(best.box, hard, request.points);
      if (free === undefined) crowded.push(request.id);
      best = { score: 0, box: free ?? best.box };
    }
    const label = positionLabel(request.text, measured, best.box.x, best.box.y);
    placed.set(request.id, label);
    hard.add(inflate(label.box, 2));
  }
  return { placed, crowded };
}

const SHARED_RUN_PENALTY = 250;

function runKey(a: Point, b: Point): string {
  return a.x === b.x ? `x${a.x}:${Math.min(a.y, b.y)}` : `y${a.y}:${Math.min(a.x, b.x)}`;
}

/** Runs that start at the same place along the same line in more than one route. */
function sharedRuns(routes: readonly Point[][]): Set<string> {
  const seen = new Map<string, number>();
  for (const points of routes) {
    for (let index = 0; index + 1 < points.length; index++) {
      const key = runKey(points[index]!, points[index + 1]!);
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  return new Set([...seen].filter(([, count]) => count > 1).map(([key]) => key));
}

/**
 * Where every spot beside the route is taken (a crowd of edges around one small node), the
 * label goes to the nearest free place within reach of its route, searched in growing rings.
 */
function nearestFreeSpot(box: Rect, hard: SpatialIndex, route: readonly Point[]): Rect | undefined {
  for (let radius = 8; radius <= MAX_LABEL_DISTANCE; radius += 8) {
    for (let step = 0; step < 16; step++) {
      const angle = (step / 16) * 2 * Math.PI;
      const candidate = { ...box, x: round(box.x + radius * Math.cos(angle)), y: round(box.y + radius * Math.sin(angle)) };
      if (hard.count(candidate) === 0 && distanceToRoute(candidate, route) <= MAX_LABEL_DISTANCE / 2) return candidate;
    }
  }
  return undefined;
}

/** How far from the route a label may be pushed before its channel is widened instead. */
const MAX_LABEL_DISTANCE = 120;

function distanceToRoute(box: Rect, route: readonly Point[]): number {
  const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  let nearest = Infinity;
  for (let index = 0; index + 1 < route.length; index++) {
    const a = route[index]!;
    const b = route[index + 1]!;
    const x = Math.min(Math.max(centre.x, Math.min(a.x, b.x)), Math.max(a.x, b.x));
    const y = Math.min(Math.max(centre.y, Math.min(a.y, b.y)), Math.max(a.y, b.y));
    nearest = Math.min(nearest, Math.hypot(centre.x - x, centre.y - y));
  }
  return nearest;
}

/** The two spots beside a segment at fraction t of its length: above/below, or right/left. */
function beside(a: Point, b: Point, t: number, width: number, height: number): Rect[] {
  const x = a.x + (b.x - a.x) * t;
  const y = a.y + (b.y - a.y) * t;
  if (a.y === b.y) {
    return [
      { x: x - width / 2, y: y - LABEL_GAP - height, width, height },
      { x: x - width / 2, y: y + LABEL_GAP, width, height },
    ];
  }
  return [
    { x: x + LABEL_GAP, y: y - height / 2, width, height },
    { x: x - LABEL_GAP - width, y: y - height / 2, width, height },
  ];
}

/** The area an arrowhead covers at the end of a route, with a little room around it. */
function arrowheadBox(before: Point, tip: Point): Rect {
  const length = 12;
  const half = 7;
  if (before.y === tip.y) {
    const x = before.x < tip.x ? tip.x - length : tip.x;
    return { x, y: tip.y - half, width: length, height: 2 * half };
  }
  const y = before.y < tip.y ? tip.y - length : tip.y;
  return { x: tip.x - half, y, width: 2 * half, height: length };
}

function touchesOwnSegment(box: Rect, a: Point, b: Point): boolean {
  return touches(box, segmentBox(a, b));
}

function segmentBox(a: Point, b: Point): Rect {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(b.x - a.x), height: Math.abs(b.y - a.y) };
}

/** Rectangles bucketed on a coarse grid, so a query looks only at its neighbourhood. */
class SpatialIndex {
  private static readonly CELL = 200;
  private readonly buckets = new Map<string, Rect[]>();

  add(box: Rect): void {
    for (const key of this.keys(box)) {
      const bucket = this.buckets.get(key);
      if (bucket === undefined) this.buckets.set(key, [box]);
      else bucket.push(box);
    }
  }

  count(box: Rect): number {
    const seen = new Set<Rect>();
    for (const key of this.keys(box)) {
      for (const other of this.buckets.get(key) ?? []) if (touches(box, other)) seen.add(other);
    }
    return seen.size;
  }

  private keys(box: Rect): string[] {
    const cell = SpatialIndex.CELL;
    const keys: string[] = [];
    for (let i = Math.floor(box.x / cell); i <= Math.floor((box.x + box.width) / cell); i++) {
      for (let j = Math.floor(box.y / cell); j <= Math.floor((box.y + box.height) / cell); j++) keys.push(`${i},${j}`);
    }
    return keys;
  }
}
