// Places nodes on a grid of cells: a column from ELK's layering, a lane band from the file, and
// a row within the band when a column holds several nodes of one lane. Between every two
// columns runs a vertical channel and between every two rows a horizontal one; no node ever
// lies in a channel, so a line along a channel cannot pass through a node. Channel sizes are
// decided late (they depend on how many routes share them), and every coordinate is derived
// from them by `measureGrid`.
import type { CompiledFlow, FlowEdge, Shape } from '../compiler/types';
import type { Columns } from './elk';
import type { SizedNode } from './shapes';
import { evenCeil, round } from './text';
import type { Rect } from './types';
import { append } from './multimap';

export interface Cell {
  column: number;
  lane: number;
  /** The row within the lane's band, 0 at the top. */
  row: number;
}

export interface Grid {
  columnCount: number;
  /** Rows per lane (at least one). */
  laneRows: number[];
  cells: Map<string, Cell>;
  sizes: Map<string, SizedNode>;
  shapes: Map<string, Shape>;
  /** The nodes of each column, for obstacle look-ups. */
  columnNodes: string[][];
}

/**
 * Horizontal channels are numbered top to bottom across all lanes: lane 0 has channels
 * 0..rows (above its first row, between rows, below its last), then lane 1, and so on.
 */
export function horizontalChannel(grid: Grid, lane: number, boundary: number): number {
  let index = 0;
  for (let l = 0; l < lane; l++) index += grid.laneRows[l]! + 1;
  return index + boundary;
}

export function horizontalChannelCount(grid: Grid): number {
  return grid.laneRows.reduce((sum, rows) => sum + rows + 1, 0);
}

/** Channel sizes: vertical ones (columnCount + 1) in px wide, horizontal ones in px high. */
export interface ChannelSizes {
  vertical: number[];
  horizontal: number[];
}

export interface GridGeometry {
  width: number;
  height: number;
  /** Left edge and width of each vertical channel. */
  verticalChannels: Array<{ start: number; size: number }>;
  horizontalChannels: Array<{ start: number; size: number }>;
  columns: Array<{ start: number; size: number }>;
  /** Per lane, its rows' top and height. */
  rows: Array<Array<{ start: number; size: number }>>;
  lanes: Array<{ start: number; size: number }>;
  boxes: Map<string, Rect>;
}

/** The left edge of the diagram's content, after the lane header column. */
export const HEADER_WIDTH = 150;

export function assignCells(flow: CompiledFlow, columns: Columns, sizes: Map<string, SizedNode>): Grid {
  const laneIndex = new Map(flow.lanes.map((lane, index) => [lane.id, index]));
  const nodeLane = new Map(flow.nodes.map((node) => [node.id, laneIndex.get(node.lane)!]));
  const incoming = new Map<string, FlowEdge[]>();
  for (const edge of flow.edges) {
    const list = incoming.get(edge.to.node) ?? [];
    list.push(edge);
    incoming.set(edge.to.node, list);
  }
  const cells = new Map<string, Cell>();
  const laneRows = flow.lanes.map(() => 1);
  columns.forEach((ids, column) => {
    const byLane = new Map<number, string[]>();
    for (const id of ids) {
      const lane = nodeLane.get(id)!;
      append(byLane, lane, id);
    }
    for (const [lane, members] of byLane) {
      // A node reached from a node of its own lane wants that node's row, one lower when the
      // edge goes bottom → top and one higher when it goes top → bottom, so that the edge
      // runs straight or turns once. Those nodes choose first; the others take the rows left.
      const wanted = members.map((id, order) => ({ id, order, row: preferredRow(id, lane, incoming, cells, nodeLane) }));
      wanted.sort((a, b) => (a.row === undefined ? 1 : 0) - (b.row === undefined ? 1 : 0) || (a.row ?? 0) - (b.row ?? 0) || a.order - b.order);
      const taken = new Set<number>();
      for (const { id, row } of wanted) {
        let assigned = row ?? 0;
        while (taken.has(assigned)) assigned++;
        taken.add(assigned);
        cells.set(id, { column, lane, row: assigned });
        laneRows[lane] = Math.max(laneRows[lane]!, assigned + 1);
      }
    }
  });
  return {
    columnCount: columns.length,
    laneRows,
    cells,
    sizes,
    shapes: new Map(flow.nodes.map((node) => [node.id, node.shape])),
    columnNodes: columns.map((ids) => [...ids]),
  };
}

/** The row a node's first already-placed predecessor in its own lane points it to, if any. */
function preferredRow(
  id: string,
  lane: number,
  incoming: Map<string, FlowEdge[]>,
  cells: Map<string, Cell>,
  nodeLane: Map<string, number>,
): number | undefined {
  for (const edge of incoming.get(id) ?? []) {
    const source = cells.get(edge.from.node);
    if (source === undefined || nodeLane.get(edge.from.node) !== lane) continue;
    const shift = edge.from.side === 'bottom' ? 1 : edge.from.side === 'top' ? -1 : 0;
    return Math.max(0, source.row + shift);
  }
  return undefined;
}

/** Every coordinate of the grid, for given channel sizes (rounded up to even whole numbers). */
export function measureGrid(grid: Grid, requested: ChannelSizes): GridGeometry {
  const channels = { vertical: requested.vertical.map(evenCeil), horizontal: requested.horizontal.map(evenCeil) };
  const columnWidths = Array.from({ length: grid.columnCount }, () => 0);
  const rowHeights = grid.laneRows.map((rows) => Array.from({ length: rows }, () => 0));
  for (const [id, cell] of grid.cells) {
    const size = grid.sizes.get(id)!;
    columnWidths[cell.column] = Math.max(columnWidths[cell.column]!, size.width);
    rowHeights[cell.lane]![cell.row] = Math.max(rowHeights[cell.lane]![cell.row]!, size.height);
  }
  const verticalChannels: GridGeometry['verticalChannels'] = [];
  const columns: GridGeometry['columns'] = [];
  let x = HEADER_WIDTH;
  for (let column = 0; column <= grid.columnCount; column++) {
    verticalChannels.push({ start: round(x), size: channels.vertical[column]! });
    x += channels.vertical[column]!;
    if (column === grid.columnCount) break;
    columns.push({ start: round(x), size: columnWidths[column]! });
    x += columnWidths[column]!;
  }
  const horizontalChannels: GridGeometry['horizontalChannels'] = [];
  const rows: GridGeometry['rows'] = [];
  const lanes: GridGeometry['lanes'] = [];
  let y = 0;
  let channel = 0;
  grid.laneRows.forEach((rowCount, lane) => {
    const laneStart = y;
    const laneRowsGeometry: Array<{ start: number; size: number }> = [];
    for (let row = 0; row <= rowCount; row++) {
      horizontalChannels.push({ start: round(y), size: channels.horizontal[channel]! });
      y += channels.horizontal[channel]!;
      channel++;
      if (row === rowCount) break;
      const height = rowHeights[lane]![row]!;
      laneRowsGeometry.push({ start: round(y), size: height });
      y += height;
    }
    rows.push(laneRowsGeometry);
    lanes.push({ start: round(laneStart), size: round(y - laneStart) });
  });
  const boxes = new Map<string, Rect>();
  for (const [id, cell] of grid.cells) {
    const size = grid.sizes.get(id)!;
    const column = columns[cell.column]!;
    const row = rows[cell.lane]![cell.row]!;
    boxes.set(id, {
      x: round(column.start + (column.size - size.width) / 2),
      y: round(row.start + (row.size - size.height) / 2),
      width: size.width,
      height: size.height,
    });
  }
  return { width: round(x), height: round(y), verticalChannels, horizontalChannels, columns, rows, lanes, boxes };
}
