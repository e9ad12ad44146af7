import type { CompiledFlow } from '../compiler/types';
import { layerColumns } from './elk';
import { assignCells, horizontalChannel, horizontalChannelCount, HEADER_WIDTH, measureGrid, type ChannelSizes, type Grid, type GridGeometry } from './grid';
import { measureLabel, placeEdgeLabels, LABEL_PADDING } from './labels';
import { layeringInput } from './layering';
import { frameLoop, LOOP_LABEL_ROOM } from './loops';
import { routeEdges, routeRuns, type SymbolicRoute } from './route';
import { centredLines, FONT_SIZE, sizeNode } from './shapes';
import { LINE_HEIGHT, wrapText } from './text';
import { assignTracks, channelSizeFor, realizeRoute, type TrackAssignment } from './tracks';
import type { LaidOutDiagram, LaidOutNode, Rect } from './types';

/** The smallest gap between two columns, and between a lane's edge and its rows. */
const MIN_COLUMN_GAP = 48;
const MIN_ROW_GAP = 36;
const LANE_MARGIN = 30;
const HEADER_PADDING = 12;
const HEADER_TEXT_WIDTH = HEADER_WIDTH - 2 * HEADER_PADDING;
/**
 * A file with no lanes (empty, or only comments) is drawn as a blank canvas as high as an
 * empty lane: a PNG cannot be 0 pixels high.
 */
const EMPTY_DIAGRAM_HEIGHT = 2 * LANE_MARGIN;

/**
 * Lays a flow out as a swimlane diagram: ELK layers the nodes into columns, each lane becomes
 * a horizontal band holding its nodes in rows, and every edge is routed orthogonally through
 * the gaps between them. Deterministic: the same flow gives the same diagram.
 */
export async function layout(flow: CompiledFlow): Promise<LaidOutDiagram> {
  const sizes = new Map(flow.nodes.map((node) => [node.id, sizeNode(node)]));
  const columns = await layerColumns(layeringInput(flow));
  const grid = assignCells(flow, columns, sizes);
  const minimum = minimumChannels(flow, grid);
  const provisional = measureGrid(grid, minimum);
  const routes = routeEdges(flow.edges, grid, provisional);
  const tracks = assignTracks(routes, provisional);
  const channels: ChannelSizes = {
    vertical: minimum.vertical.map((size, index) => Math.max(size, channelSizeFor(tracks.verticalTracks[index]!))),
    horizontal: minimum.horizontal.map((size, index) => Math.max(size, channelSizeFor(tracks.horizontalTracks[index]!))),
  };
  reserveLabelRoom(routes, grid, channels);
  // Routes are symbolic, so widening a channel moves them along; a label with no free spot
  // beside its route widens the channel its route runs longest in, and the drawing is redone.
  for (let attempt = 0; ; attempt++) {
    const drawing = draw(flow, grid, routes, tracks, channels);
    if (drawing.crowded.length === 0 || attempt === MAX_WIDENINGS) return drawing.diagram;
    const crowded = new Set(drawing.crowded);
    for (const route of routes) if (crowded.has(route.edge.id)) widenForLabel(route, grid, provisional, channels);
  }
}

const MAX_WIDENINGS = 3;

/** Everything positioned for given channel sizes, and the edges whose labels found no free spot. */
function draw(
  flow: CompiledFlow,
  grid: Grid,
  routes: readonly SymbolicRoute[],
  tracks: TrackAssignment,
  channels: ChannelSizes,
): { diagram: LaidOutDiagram; crowded: string[] } {
  const geometry = measureGrid(grid, channels);
  const nodes: LaidOutNode[] = flow.nodes.map((node) => {
    const box = geometry.boxes.get(node.id)!;
    const lines = grid.sizes.get(node.id)!.lines.map((line) => ({ ...line, box: { ...line.box, x: box.x + line.box.x, y: box.y + line.box.y } }));
    return { id: node.id, lane: node.lane, shape: node.shape, kind: node.kind, box, lines };
  });
  const lanes = flow.lanes.map((lane, index) => {
    const band = { x: 0, y: geometry.lanes[index]!.start, width: geometry.width, height: geometry.lanes[index]!.size };
    const header = { x: 0, y: band.y, width: HEADER_WIDTH, height: band.height };
    const texts = wrapText(lane.label, HEADER_TEXT_WIDTH, FONT_SIZE.lane);
    const lines = centredLines(texts, 'lane', FONT_SIZE.lane, header.width, header.height).map((line) => ({
      ...line,
      box: { ...line.box, y: line.box.y + header.y },
    }));
    return { id: lane.id, label: lane.label, band, header, lines };
  });
  const points = routes.map((route, index) => realizeRoute(route, tracks.offsets[index]!, geometry));
  const laneOf = new Map(flow.nodes.map((node) => [node.id, node.lane]));
  const loops = flow.loops.map((loop) => frameLoop(loop, geometry.boxes, laneOf, points));

  // Labels stay off the lane headers and inside the diagram.
  const outside: Rect[] = [
    { x: -1000, y: -1000, width: HEADER_WIDTH + 1000, height: geometry.height + 2000 },
    { x: geometry.width, y: -1000, width: 1000, height: geometry.height + 2000 },
    { x: -1000, y: -1000, width: geometry.width + 2000, height: 1000 },
    { x: -1000, y: geometry.height, width: geometry.width + 2000, height: 1000 },
  ];
  const { placed, crowded } = placeEdgeLabels(
    routes.flatMap((route, index) => (route.edge.label ? [{ id: route.edge.id, text: route.edge.label, points: points[index]! }] : [])),
    [...nodes.map((node) => node.box), ...loops.map((loop) => loop.label.box), ...outside],
    points,
  );
  const edges = routes.map((route, index) => {
    const label = placed.get(route.edge.id);
    return {
      id: route.edge.id,
      from: { node: route.edge.from.node, side: route.edge.from.side },
      to: { node: route.edge.to.node, side: route.edge.to.side },
      points: points[index]!,
      ...(label !== undefined && { label }),
    };
  });
  const diagram = {
    title: flow.path.replace(/^.*[\\/]/, '').replace(/\.flow$/, ''),
    width: geometry.width,
    height: flow.lanes.length === 0 ? EMPTY_DIAGRAM_HEIGHT : geometry.height,
    lanes,
    nodes,
    edges,
    loops,
  };
  return { diagram, crowded };
}

/**
 * Makes room for a crowded label beside its route: the channel the route runs longest in
 * grows by twice the label (its tracks stay centred, so each side gains one label), or, for a
 * route that runs straight from port to port, the gap it crosses.
 */
function widenForLabel(route: SymbolicRoute, grid: Grid, geometry: GridGeometry, channels: ChannelSizes): void {
  const label = measureLabel(route.edge.label ?? '', 'edge', FONT_SIZE.edge);
  let longest: { vertical: boolean; channel: number; length: number } | undefined;
  for (const run of routeRuns(route.points, geometry)) {
    if (!('channel' in run.line)) continue;
    const length = run.high - run.low;
    if (longest === undefined || length > longest.length) longest = { vertical: run.vertical, channel: run.line.channel, length };
  }
  const from = grid.cells.get(route.edge.from.node)!;
  if (longest === undefined) {
    const horizontal = route.edge.from.side === 'left' || route.edge.from.side === 'right';
    longest = horizontal
      ? { vertical: true, channel: from.column + (route.edge.from.side === 'right' ? 1 : 0), length: 0 }
      : { vertical: false, channel: horizontalChannel(grid, from.lane, from.row + (route.edge.from.side === 'bottom' ? 1 : 0)), length: 0 };
  }
  if (longest.vertical) channels.vertical[longest.channel] = channels.vertical[longest.channel]! + 2 * (label.width + LABEL_PADDING);
  else channels.horizontal[longest.channel] = channels.horizontal[longest.channel]! + 2 * (label.height + LABEL_PADDING);
}

/**
 * Channel sizes before any route is known: gaps between rows, room for loop texts, and lanes
 * tall enough for their header text.
 */
function minimumChannels(flow: CompiledFlow, grid: Grid): ChannelSizes {
  const vertical = Array.from({ length: grid.columnCount + 1 }, () => MIN_COLUMN_GAP);
  const horizontal = Array.from({ length: horizontalChannelCount(grid) }, () => MIN_ROW_GAP);
  grid.laneRows.forEach((rows, lane) => {
    horizontal[horizontalChannel(grid, lane, 0)] = LANE_MARGIN;
    horizontal[horizontalChannel(grid, lane, rows)] = LANE_MARGIN;
  });
  for (const loop of flow.loops) {
    const lanesAbove = new Map<number, number>();
    for (const id of loop.nodes) {
      const cell = grid.cells.get(id)!;
      lanesAbove.set(cell.lane, Math.min(lanesAbove.get(cell.lane) ?? Infinity, cell.row));
    }
    for (const [lane, row] of lanesAbove) {
      const channel = horizontalChannel(grid, lane, row);
      horizontal[channel] = horizontal[channel]! + LOOP_LABEL_ROOM;
    }
  }
  const lanes = measureGrid(grid, { vertical, horizontal }).lanes;
  flow.lanes.forEach((lane, index) => {
    const needed = wrapText(lane.label, HEADER_TEXT_WIDTH, FONT_SIZE.lane).length * FONT_SIZE.lane * LINE_HEIGHT + 2 * HEADER_PADDING;
    const missing = needed - lanes[index]!.size;
    if (missing <= 0) return;
    horizontal[horizontalChannel(grid, index, 0)]! += missing / 2;
    horizontal[horizontalChannel(grid, index, grid.laneRows[index]!)]! += missing / 2;
  });
  return { vertical, horizontal };
}

/**
 * Some labels have only one short run of their own to sit beside, and its gap must fit them:
 * an edge running straight between neighbours (the gap between them), and a branch of a
 * fan-out, whose shared trunk would leave the label ambiguous (the gap between trunk and
 * target, half the channel, as the trunk's tracks are centred).
 */
function reserveLabelRoom(routes: readonly SymbolicRoute[], grid: Grid, channels: ChannelSizes): void {
  const outgoing = new Map<string, number>();
  for (const route of routes) {
    const key = `${route.edge.from.node}.${route.edge.from.side}`;
    outgoing.set(key, (outgoing.get(key) ?? 0) + 1);
  }
  for (const route of routes) {
    if (route.edge.label === undefined || route.edge.label === '') continue;
    const label = measureLabel(route.edge.label, 'edge', FONT_SIZE.edge);
    const width = label.width + 2 * LABEL_PADDING + 16;
    const fromCell = grid.cells.get(route.edge.from.node)!;
    const toCell = grid.cells.get(route.edge.to.node)!;
    if (route.points.length === 2) {
      if (fromCell.lane === toCell.lane && fromCell.row === toCell.row) {
        const channel = Math.min(fromCell.column, toCell.column) + 1;
        channels.vertical[channel] = Math.max(channels.vertical[channel]!, width);
      } else if (fromCell.column === toCell.column) {
        const upper = fromCell.lane < toCell.lane || (fromCell.lane === toCell.lane && fromCell.row < toCell.row) ? fromCell : toCell;
        const channel = horizontalChannel(grid, upper.lane, upper.row + 1);
        channels.horizontal[channel] = Math.max(channels.horizontal[channel]!, label.height + 2 * LABEL_PADDING + 12);
      }
      continue;
    }
    const fansOut = outgoing.get(`${route.edge.from.node}.${route.edge.from.side}`)! > 1;
    const trunk = route.points[route.points.length - 2]!.x;
    const entersSideways = route.edge.to.side === 'left' || route.edge.to.side === 'right';
    if (fansOut && entersSideways && 'channel' in trunk) {
      channels.vertical[trunk.channel] = Math.max(channels.vertical[trunk.channel]!, 2 * width);
    }
  }
}
