// Orthogonal edge routing on the grid's channels. Each edge is searched for (A* with a cost
// per bend) over a lattice made of every channel's centre line plus the lines through its own
// two ports, leaving the source on its named side and entering the target on its named side.
// Moves along a channel are always clear of nodes; moves along a port line are checked
// against the node boxes. Routes are kept symbolic (a channel or a node side, never a bare
// number) so they stay valid when channels are later widened to fit the routes that share them.
import type { FlowEdge, Side } from '../compiler/types';
import { horizontalChannel, type Grid, type GridGeometry } from './grid';
import { inflate } from './rect';
import { round } from './text';
import type { Point, Rect } from './types';
import { append } from './multimap';

/**
 * Where a route coordinate comes from: a channel's centre line, or a point across a node's box:
 * its left or top edge (fraction 0), its middle (0.5) or its right or bottom edge (1), moved by
 * `offset` pixels.
 */
export type CoordinateRef = { channel: number } | { node: string; fraction: 0 | 0.5 | 1; offset: number };

export interface RoutePoint {
  x: CoordinateRef;
  y: CoordinateRef;
}

export interface SymbolicRoute {
  edge: FlowEdge;
  points: RoutePoint[];
}

/** Where an edge leaves its source and enters its target. */
interface Ports {
  from: RoutePoint;
  to: RoutePoint;
}

/** Routes keep this far from every node but their own two. */
export const NODE_CLEARANCE = 10;
const BEND_COST = 40;
/** The cost per pixel of running along a line another route already runs along, off the channels. */
const OVERLAP_COST = 50;
/**
 * Columns and lanes searched beyond the span of the edge's own two nodes. The channels around
 * the two nodes always join them, so a route always exists inside; the margin leaves room for
 * detours around routes already laid.
 */
const WINDOW = 2;

type Axis = 'x' | 'y';

interface LatticeLine {
  ref: CoordinateRef;
  value: number;
}

const DIRECTIONS = [
  { dx: 1, dy: 0 },
  { dx: -1, dy: 0 },
  { dx: 0, dy: 1 },
  { dx: 0, dy: -1 },
] as const;

/** The direction index of leaving a node through a side, and of entering it through that side. */
const LEAVING: Record<Side, number> = { right: 0, left: 1, bottom: 2, top: 3 };
const ENTERING: Record<Side, number> = { left: 0, right: 1, top: 2, bottom: 3 };

function portRef(node: string, side: Side, offset: number): RoutePoint {
  const across: CoordinateRef = { node, fraction: 0.5, offset };
  const x: CoordinateRef = side === 'left' ? { node, fraction: 0, offset: 0 } : side === 'right' ? { node, fraction: 1, offset: 0 } : across;
  const y: CoordinateRef = side === 'top' ? { node, fraction: 0, offset: 0 } : side === 'bottom' ? { node, fraction: 1, offset: 0 } : across;
  return { x, y };
}

/** Two ports on one side keep this far from its corners and from each other, where the side allows. */
const PORT_MARGIN = 12;
const PORT_SPACING = 16;

/**
 * A handle is one point, as in the language: the edges that leave a node by one side start
 * together at one port and fork in the gap beside it, and the edges that enter by one side
 * meet at one port. Where a side of a rectangle or taskbox has both, the two ports sit apart
 * along it, each near the nodes its edges lead to, so an arrow in is never confused with a
 * line out. A circle or a diamond has a single point per side for both.
 */
function assignPorts(edges: readonly FlowEdge[], grid: Grid, geometry: GridGeometry): Ports[] {
  const sides = new Map<string, Map<'from' | 'to', number[]>>();
  edges.forEach((edge, index) => {
    for (const end of ['from', 'to'] as const) {
      const key = `${edge[end].node}.${edge[end].side}`;
      const groups = sides.get(key) ?? new Map<'from' | 'to', number[]>();
      append(groups, end, index);
      sides.set(key, groups);
    }
  });
  const offsets = edges.map(() => ({ from: 0, to: 0 }));
  for (const [key, groups] of sides) {
    const node = key.slice(0, key.lastIndexOf('.'));
    const shape = grid.shapes.get(node);
    if (groups.size < 2 || shape === 'circle' || shape === 'diamond') continue;
    const horizontal = key.endsWith('.top') || key.endsWith('.bottom');
    const box = geometry.boxes.get(node)!;
    const start = horizontal ? box.x : box.y;
    const length = horizontal ? box.width : box.height;
    const margin = Math.min(PORT_MARGIN, length / 4);
    const spacing = Math.min(PORT_SPACING, length - 2 * margin);
    // Each group leans towards the middle of the nodes at its edges' other ends.
    const toward = ([...groups] as Array<['from' | 'to', number[]]>).map(([end, members]) => {
      const others = members.map((index) => geometry.boxes.get(end === 'from' ? edges[index]!.to.node : edges[index]!.from.node)!);
      const centres = others.map((other) => (horizontal ? other.x + other.width / 2 : other.y + other.height / 2)).sort((a, b) => a - b);
      return { end, members, at: centres[centres.length >> 1]! - start };
    });
    toward.sort((a, b) => a.at - b.at || (a.end === 'from' ? -1 : 1));
    const [first, second] = toward as [(typeof toward)[number], (typeof toward)[number]];
    let low = Math.min(Math.max(first.at, margin), length - margin - spacing);
    const high = Math.max(Math.min(Math.max(second.at, margin), length - margin), low + spacing);
    low = Math.min(low, high - spacing);
    for (const [group, position] of [[first, low], [second, high]] as const) {
      for (const index of group.members) offsets[index]![group.end] = round(position - length / 2);
    }
  }
  return edges.map((edge, index) => ({
    from: portRef(edge.from.node, edge.from.side, offsets[index]!.from),
    to: portRef(edge.to.node, edge.to.side, offsets[index]!.to),
  }));
}

export function resolveRef(ref: CoordinateRef, axis: Axis, geometry: GridGeometry): number {
  if ('channel' in ref) {
    const channel = axis === 'x' ? geometry.verticalChannels[ref.channel]! : geometry.horizontalChannels[ref.channel]!;
    return round(channel.start + channel.size / 2);
  }
  const box = geometry.boxes.get(ref.node)!;
  const start = axis === 'x' ? box.x : box.y;
  const size = axis === 'x' ? box.width : box.height;
  return round(start + size * ref.fraction + ref.offset);
}

/** One straight run of a route: the line it runs along, and how far along that line. */
export interface RouteRun {
  segment: number;
  vertical: boolean;
  line: CoordinateRef;
  low: number;
  high: number;
}

export function routeRuns(points: readonly RoutePoint[], geometry: GridGeometry): RouteRun[] {
  const at = points.map((point) => ({ x: resolveRef(point.x, 'x', geometry), y: resolveRef(point.y, 'y', geometry) }));
  return at.slice(1).map((b, segment) => {
    const a = at[segment]!;
    const vertical = a.x === b.x;
    const [low, high] = vertical ? ordered(a.y, b.y) : ordered(a.x, b.x);
    return { segment, vertical, line: vertical ? points[segment]!.x : points[segment]!.y, low, high };
  });
}

export function routeEdges(edges: readonly FlowEdge[], grid: Grid, geometry: GridGeometry): SymbolicRoute[] {
  const laneNodes = new Map<number, string[]>();
  for (const [id, cell] of grid.cells) append(laneNodes, cell.lane, id);
  const ports = assignPorts(edges, grid, geometry);
  const occupied = new Map<string, Array<[number, number]>>();
  return edges.map((edge, index) => {
    const points = searchRoute(edge, ports[index]!, grid, geometry, laneNodes, occupied);
    occupy(points, geometry, occupied);
    return { edge, points };
  });
}

/**
 * Records a route's runs along port lines, which tracks do not separate, so later routes avoid
 * them. A run that ends in a channel is recorded across the whole channel: its end moves to
 * whichever track the route gets there, so two runs meeting there would overlap after all.
 */
function occupy(points: readonly RoutePoint[], geometry: GridGeometry, occupied: Map<string, Array<[number, number]>>): void {
  const reach = (ref: CoordinateRef, axis: Axis, towards: number): number => {
    const value = resolveRef(ref, axis, geometry);
    if (!('channel' in ref)) return value;
    const channel = (axis === 'x' ? geometry.verticalChannels : geometry.horizontalChannels)[ref.channel]!;
    return towards > value ? channel.start : channel.start + channel.size;
  };
  for (let index = 0; index + 1 < points.length; index++) {
    const a = points[index]!;
    const b = points[index + 1]!;
    const ax = resolveRef(a.x, 'x', geometry);
    const bx = resolveRef(b.x, 'x', geometry);
    const vertical = ax === bx;
    const ref = vertical ? a.x : a.y;
    if ('channel' in ref) continue;
    const key = vertical ? `x${ax}` : `y${resolveRef(a.y, 'y', geometry)}`;
    const axis: Axis = vertical ? 'y' : 'x';
    const [aValue, bValue] = [resolveRef(vertical ? a.y : a.x, axis, geometry), resolveRef(vertical ? b.y : b.x, axis, geometry)];
    const interval = ordered(reach(vertical ? a.y : a.x, axis, bValue), reach(vertical ? b.y : b.x, axis, aValue));
    append(occupied, key, interval);
  }
}

function searchRoute(
  edge: FlowEdge,
  { from, to }: Ports,
  grid: Grid,
  geometry: GridGeometry,
  laneNodes: Map<number, string[]>,
  occupied: Map<string, Array<[number, number]>>,
): RoutePoint[] {
  const fromCell = grid.cells.get(edge.from.node)!;
  const toCell = grid.cells.get(edge.to.node)!;

  const firstColumn = Math.max(0, Math.min(fromCell.column, toCell.column) - WINDOW);
  const lastColumn = Math.min(grid.columnCount, Math.max(fromCell.column, toCell.column) + 1 + WINDOW);
  const xs: LatticeLine[] = [from.x, to.x].map((ref) => ({ ref, value: resolveRef(ref, 'x', geometry) }));
  for (let channel = firstColumn; channel <= lastColumn; channel++) {
    xs.push({ ref: { channel }, value: resolveRef({ channel }, 'x', geometry) });
  }
  const firstLane = Math.max(0, Math.min(fromCell.lane, toCell.lane) - WINDOW);
  const lastLane = Math.min(grid.laneRows.length - 1, Math.max(fromCell.lane, toCell.lane) + WINDOW);
  const ys: LatticeLine[] = [from.y, to.y].map((ref) => ({ ref, value: resolveRef(ref, 'y', geometry) }));
  for (let channel = horizontalChannel(grid, firstLane, 0); channel <= horizontalChannel(grid, lastLane, grid.laneRows[lastLane]!); channel++) {
    ys.push({ ref: { channel }, value: resolveRef({ channel }, 'y', geometry) });
  }
  const columnLines = dedupe(xs);
  const rowLines = dedupe(ys);

  const obstacles = (axis: Axis, line: LatticeLine): Rect[] => {
    if ('channel' in line.ref) return [];
    const owner = grid.cells.get(line.ref.node)!;
    const candidates = axis === 'x' ? grid.columnNodes[owner.column]! : laneNodes.get(owner.lane)!;
    return candidates.map((id) => {
      const box = geometry.boxes.get(id)!;
      return id === edge.from.node || id === edge.to.node ? box : inflate(box, NODE_CLEARANCE);
    });
  };
  // Per lattice line, the open intervals along it that a node blocks.
  const blockedX = columnLines.map((line) => blockedIntervals(obstacles('x', line), 'x', line.value));
  const blockedY = rowLines.map((line) => blockedIntervals(obstacles('y', line), 'y', line.value));
  const takenX = columnLines.map((line) => ('channel' in line.ref ? [] : (occupied.get(`x${line.value}`) ?? [])));
  const takenY = rowLines.map((line) => ('channel' in line.ref ? [] : (occupied.get(`y${line.value}`) ?? [])));
  const overlap = (taken: ReadonlyArray<[number, number]>, low: number, high: number) =>
    taken.reduce((sum, [start, end]) => sum + Math.max(0, Math.min(high, end) - Math.max(low, start)), 0);

  const startI = columnLines.findIndex((line) => line.value === resolveRef(from.x, 'x', geometry));
  const startJ = rowLines.findIndex((line) => line.value === resolveRef(from.y, 'y', geometry));
  const goalI = columnLines.findIndex((line) => line.value === resolveRef(to.x, 'x', geometry));
  const goalJ = rowLines.findIndex((line) => line.value === resolveRef(to.y, 'y', geometry));
  const goalDirection = ENTERING[edge.to.side];

  const width = columnLines.length;
  const height = rowLines.length;
  const { cost, previous } = searchBuffers.reset(width * height * 4);
  const stateOf = (i: number, j: number, direction: number) => (j * width + i) * 4 + direction;
  const heuristic = (i: number, j: number) =>
    Math.abs(columnLines[i]!.value - columnLines[goalI]!.value) + Math.abs(rowLines[j]!.value - rowLines[goalJ]!.value);

  const canMove = (i: number, j: number, ni: number, nj: number): boolean => {
    if (ni < 0 || nj < 0 || ni >= width || nj >= height) return false;
    if (nj === j) {
      const [low, high] = ordered(columnLines[i]!.value, columnLines[ni]!.value);
      return !blockedY[j]!.some(([start, end]) => low < end && high > start);
    }
    const [low, high] = ordered(rowLines[j]!.value, rowLines[nj]!.value);
    return !blockedX[i]!.some(([start, end]) => low < end && high > start);
  };

  const heap = new MinHeap();
  const startDirection = LEAVING[edge.from.side];
  const start = stateOf(startI, startJ, startDirection);
  cost.set(start, 0);
  previous[start] = -1;
  heap.push(start, heuristic(startI, startJ));
  let reached = -1;
  while (heap.size > 0) {
    const state = heap.pop();
    const direction = state % 4;
    const cellIndex = (state - direction) / 4;
    const i = cellIndex % width;
    const j = (cellIndex - i) / width;
    if (i === goalI && j === goalJ && direction === goalDirection && state !== start) {
      reached = state;
      break;
    }
    DIRECTIONS.forEach((move, next) => {
      // The first move leaves through the named side; no move ever doubles back.
      if (state === start && next !== startDirection) return;
      if (next === (direction ^ 1)) return;
      const ni = i + move.dx;
      const nj = j + move.dy;
      if (!canMove(i, j, ni, nj)) return;
      const along =
        nj === j
          ? overlap(takenY[j]!, ...ordered(columnLines[i]!.value, columnLines[ni]!.value))
          : overlap(takenX[i]!, ...ordered(rowLines[j]!.value, rowLines[nj]!.value));
      const step =
        Math.abs(columnLines[ni]!.value - columnLines[i]!.value) +
        Math.abs(rowLines[nj]!.value - rowLines[j]!.value) +
        along * OVERLAP_COST +
        (next === direction ? 0 : BEND_COST);
      const nextState = stateOf(ni, nj, next);
      const nextCost = cost.get(state) + step;
      if (nextCost < cost.get(nextState)) {
        cost.set(nextState, nextCost);
        previous[nextState] = state;
        heap.push(nextState, nextCost + heuristic(ni, nj));
      }
    });
  }
  if (reached < 0) throw new Error(`laneflow bug: no route found for edge ${edge.id}, though the channels always join two nodes`);

  const path: RoutePoint[] = [];
  for (let state = reached; state >= 0; state = previous[state]!) {
    const cellIndex = (state - (state % 4)) / 4;
    const i = cellIndex % width;
    const j = (cellIndex - i) / width;
    path.push({ x: columnLines[i]!.ref, y: rowLines[j]!.ref });
    if (state === start) break;
  }
  path.reverse();
  path[0] = from;
  path[path.length - 1] = to;
  return withoutStraightPoints(path, geometry);
}

function dedupe(lines: LatticeLine[]): LatticeLine[] {
  const sorted = [...lines].sort((a, b) => a.value - b.value);
  return sorted.filter((line, index) => index === 0 || line.value !== sorted[index - 1]!.value);
}

function ordered(a: number, b: number): [number, number] {
  return a < b ? [a, b] : [b, a];
}

/**
 * The open intervals a set of boxes blocks along the line x = value (axis 'x') or y = value.
 * Box edges are rounded like every coordinate, so a port on a side is exactly on its edge.
 */
function blockedIntervals(boxes: readonly Rect[], axis: Axis, value: number): Array<[number, number]> {
  return boxes.flatMap((box): Array<[number, number]> => {
    const [left, right, top, bottom] = [round(box.x), round(box.x + box.width), round(box.y), round(box.y + box.height)];
    if (axis === 'x') return left < value && value < right ? [[top, bottom]] : [];
    return top < value && value < bottom ? [[left, right]] : [];
  });
}

/** Drops the points in the middle of straight runs, keeping the two ends and every bend. */
function withoutStraightPoints(path: RoutePoint[], geometry: GridGeometry): RoutePoint[] {
  const at = (point: RoutePoint): Point => ({ x: resolveRef(point.x, 'x', geometry), y: resolveRef(point.y, 'y', geometry) });
  return path.filter((point, index) => {
    if (index === 0 || index === path.length - 1) return true;
    const before = at(path[index - 1]!);
    const here = at(point);
    const after = at(path[index + 1]!);
    return !((before.x === here.x && here.x === after.x) || (before.y === here.y && here.y === after.y));
  });
}

/**
 * The search's per-state arrays, kept between searches: a diagram routes hundreds of edges, and
 * allocating and clearing arrays the size of the lattice for each one would dominate. A cost
 * counts only when written in the current search (its stamp matches), so nothing is cleared.
 */
class SearchBuffers {
  private costs = new Float64Array(0);
  private stamps = new Uint32Array(0);
  private search = 0;
  previous = new Int32Array(0);
  readonly cost = {
    get: (state: number): number => (this.stamps[state] === this.search ? this.costs[state]! : Infinity),
    set: (state: number, value: number): void => {
      this.stamps[state] = this.search;
      this.costs[state] = value;
    },
  };

  reset(states: number): { cost: SearchBuffers['cost']; previous: Int32Array } {
    if (this.costs.length < states) {
      this.costs = new Float64Array(states);
      this.stamps = new Uint32Array(states);
      this.previous = new Int32Array(states);
      this.search = 0;
    }
    this.search++;
    return { cost: this.cost, previous: this.previous };
  }
}

const searchBuffers = new SearchBuffers();

/** A binary min-heap of states; ties go to the earlier push, so searches are repeatable. */
class MinHeap {
  private states = new Int32Array(64);
  private keys = new Float64Array(64);
  private order = new Int32Array(64);
  private pushes = 0;
  size = 0;

  push(state: number, key: number): void {
    if (this.size === this.states.length) this.grow();
    let index = this.size++;
    const order = this.pushes++;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.keys[parent]! < key || (this.keys[parent] === key && this.order[parent]! < order)) break;
      this.states[index] = this.states[parent]!;
      this.keys[index] = this.keys[parent]!;
      this.order[index] = this.order[parent]!;
      index = parent;
    }
    this.states[index] = state;
    this.keys[index] = key;
    this.order[index] = order;
  }

  pop(): number {
    const top = this.states[0]!;
    const last = --this.size;
    const state = this.states[last]!;
    const key = this.keys[last]!;
    const order = this.order[last]!;
    let index = 0;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= last) break;
      const right = child + 1;
      if (right < last && (this.keys[right]! < this.keys[child]! || (this.keys[right] === this.keys[child] && this.order[right]! < this.order[child]!))) {
        child = right;
      }
      if (key < this.keys[child]! || (key === this.keys[child] && order < this.order[child]!)) break;
      this.states[index] = this.states[child]!;
      this.keys[index] = this.keys[child]!;
      this.order[index] = this.order[child]!;
      index = child;
    }
    this.states[index] = state;
    this.keys[index] = key;
    this.order[index] = order;
    return top;
  }

  private grow(): void {
    const states = new Int32Array(this.states.length * 2);
    const keys = new Float64Array(this.keys.length * 2);
    const order = new Int32Array(this.order.length * 2);
    states.set(this.states);
    keys.set(this.keys);
    order.set(this.order);
    this.states = states;
    this.keys = keys;
    this.order = order;
  }
}
