// Geometric checks of a laid-out diagram, computed from the layout alone: what a person would
// call a broken drawing (overlaps, a node outside its lane, an arrow on the wrong side, a line
// through a box, text spilling out of its shape).
import type { CompiledFlow, Side } from '../../src/compiler/types';
import type { LaidOutDiagram, LaidOutNode, Point, Rect, TextLine } from '../../src/render/types';

const EPSILON = 0.011;

export function geometryProblems(diagram: LaidOutDiagram, flow: CompiledFlow): string[] {
  return [
    ...laneProblems(diagram, flow),
    ...nodeProblems(diagram, flow),
    ...edgeProblems(diagram, flow),
    ...labelProblems(diagram),
    ...loopProblems(diagram, flow),
  ];
}

function laneProblems(diagram: LaidOutDiagram, flow: CompiledFlow): string[] {
  const problems: string[] = [];
  if (diagram.lanes.map((lane) => lane.id).join() !== flow.lanes.map((lane) => lane.id).join()) problems.push('lanes are not in file order');
  let y = 0;
  for (const lane of diagram.lanes) {
    if (lane.band.x !== 0 || lane.band.width !== diagram.width) problems.push(`lane ${lane.id} is not as wide as the diagram`);
    if (Math.abs(lane.band.y - y) > EPSILON) problems.push(`lane ${lane.id} does not start where the lane above it ends`);
    y = lane.band.y + lane.band.height;
    for (const line of lane.lines) if (!inside(line.box, lane.header)) problems.push(`lane ${lane.id}: header text "${line.text}" leaves the header`);
  }
  if (Math.abs(y - diagram.height) > EPSILON) problems.push('the lanes do not fill the diagram');
  return problems;
}

function nodeProblems(diagram: LaidOutDiagram, flow: CompiledFlow): string[] {
  const problems: string[] = [];
  if (diagram.nodes.length !== flow.nodes.length) problems.push('not every node is drawn');
  const lanes = new Map(diagram.lanes.map((lane) => [lane.id, lane]));
  const sorted = [...diagram.nodes].sort((a, b) => a.box.x - b.box.x);
  sorted.forEach((node, index) => {
    const lane = lanes.get(node.lane)!;
    const content = { x: lane.header.width, y: lane.band.y, width: lane.band.width - lane.header.width, height: lane.band.height };
    if (!inside(node.box, content)) problems.push(`node ${node.id} is not inside its lane ${node.lane}`);
    for (const other of sorted.slice(index + 1)) {
      if (other.box.x >= node.box.x + node.box.width) break;
      if (intersects(node.box, other.box)) problems.push(`nodes ${node.id} and ${other.id} overlap`);
    }
    for (const line of node.lines) if (!textFits(line, node)) problems.push(`node ${node.id}: text "${line.text}" leaves its ${node.shape}`);
  });
  return problems;
}

function textFits(line: TextLine, node: LaidOutNode): boolean {
  const { x, y, width, height } = node.box;
  const corners = [
    { x: line.box.x, y: line.box.y },
    { x: line.box.x + line.box.width, y: line.box.y },
    { x: line.box.x, y: line.box.y + line.box.height },
    { x: line.box.x + line.box.width, y: line.box.y + line.box.height },
  ];
  const cx = x + width / 2;
  const cy = y + height / 2;
  switch (node.shape) {
    case 'rectangle':
    case 'taskbox':
      return inside(line.box, node.box);
    case 'diamond':
      return corners.every((c) => Math.abs(c.x - cx) / (width / 2) + Math.abs(c.y - cy) / (height / 2) <= 1 + EPSILON);
    case 'circle':
      return corners.every((c) => Math.hypot(c.x - cx, c.y - cy) <= width / 2 + EPSILON);
  }
}

function edgeProblems(diagram: LaidOutDiagram, flow: CompiledFlow): string[] {
  const problems: string[] = [];
  const boxes = new Map(diagram.nodes.map((node) => [node.id, node]));
  if (diagram.edges.length !== flow.edges.length) problems.push('not every edge is drawn');
  for (const edge of diagram.edges) {
    const points = edge.points;
    if (points.length < 2) {
      problems.push(`edge ${edge.id} has no route`);
      continue;
    }
    for (let index = 0; index + 1 < points.length; index++) {
      const a = points[index]!;
      const b = points[index + 1]!;
      if (a.x !== b.x && a.y !== b.y) problems.push(`edge ${edge.id}: segment ${index} is not orthogonal`);
      for (const node of diagram.nodes) {
        if (crossesInterior(a, b, node.box)) problems.push(`edge ${edge.id} passes through node ${node.id}`);
      }
    }
    const source = boxes.get(edge.from.node)!;
    const target = boxes.get(edge.to.node)!;
    if (!onSide(points[0]!, source, edge.from.side)) problems.push(`edge ${edge.id} does not start on the ${edge.from.side} of ${edge.from.node}`);
    if (!onSide(points[points.length - 1]!, target, edge.to.side)) problems.push(`edge ${edge.id} does not end on the ${edge.to.side} of ${edge.to.node}`);
    if (!movesOutward(points[0]!, points[1]!, edge.from.side)) problems.push(`edge ${edge.id} does not leave ${edge.from.node} outwards`);
    if (!movesOutward(points[points.length - 1]!, points[points.length - 2]!, edge.to.side)) {
      problems.push(`edge ${edge.id} does not enter ${edge.to.node} from outside its ${edge.to.side}`);
    }
  }
  return problems;
}

/** A point on a node's named side: anywhere along a box's side, at the tip or tangent of a diamond or circle. */
function onSide(point: Point, node: LaidOutNode, side: Side): boolean {
  const { x, y, width, height } = node.box;
  const near = (a: number, b: number) => Math.abs(a - b) <= EPSILON;
  const between = (v: number, low: number, high: number) => v >= low - EPSILON && v <= high + EPSILON;
  const single = node.shape === 'circle' || node.shape === 'diamond';
  switch (side) {
    case 'left':
      return near(point.x, x) && (single ? near(point.y, y + height / 2) : between(point.y, y, y + height));
    case 'right':
      return near(point.x, x + width) && (single ? near(point.y, y + height / 2) : between(point.y, y, y + height));
    case 'top':
      return near(point.y, y) && (single ? near(point.x, x + width / 2) : between(point.x, x, x + width));
    case 'bottom':
      return near(point.y, y + height) && (single ? near(point.x, x + width / 2) : between(point.x, x, x + width));
  }
}

/** From a point on a side, the next point lies away from the node. */
function movesOutward(port: Point, next: Point, side: Side): boolean {
  switch (side) {
    case 'left':
      return next.x < port.x && next.y === port.y;
    case 'right':
      return next.x > port.x && next.y === port.y;
    case 'top':
      return next.y < port.y && next.x === port.x;
    case 'bottom':
      return next.y > port.y && next.x === port.x;
  }
}

function crossesInterior(a: Point, b: Point, box: Rect): boolean {
  const low = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y) };
  const high = { x: Math.max(a.x, b.x), y: Math.max(a.y, b.y) };
  return (
    low.x < box.x + box.width - EPSILON &&
    high.x > box.x + EPSILON &&
    low.y < box.y + box.height - EPSILON &&
    high.y > box.y + EPSILON
  );
}

function labelProblems(diagram: LaidOutDiagram): string[] {
  const problems: string[] = [];
  const labels = diagram.edges.flatMap((edge) => (edge.label === undefined ? [] : [{ id: edge.id, box: edge.label.box }]));
  labels.forEach((label, index) => {
    for (const node of diagram.nodes) if (intersects(label.box, node.box)) problems.push(`the label of edge ${label.id} covers node ${node.id}`);
    for (const other of labels.slice(index + 1)) if (intersects(label.box, other.box)) problems.push(`the labels of edges ${label.id} and ${other.id} overlap`);
    const content = { x: diagram.lanes[0]!.header.width, y: 0, width: diagram.width - diagram.lanes[0]!.header.width, height: diagram.height };
    if (!inside(label.box, content)) problems.push(`the label of edge ${label.id} leaves the diagram`);
  });
  return problems;
}

function loopProblems(diagram: LaidOutDiagram, flow: CompiledFlow): string[] {
  const problems: string[] = [];
  const boxes = new Map(diagram.nodes.map((node) => [node.id, node.box]));
  if (diagram.loops.length !== flow.loops.length) problems.push('not every loop is drawn');
  for (const loop of diagram.loops) {
    const members = new Set(loop.nodes);
    for (const id of loop.nodes) {
      if (!loop.frames.some((frame) => inside(boxes.get(id)!, frame))) problems.push(`loop ${loop.id}: no frame holds ${id}`);
    }
    for (const node of diagram.nodes) {
      if (!members.has(node.id) && loop.frames.some((frame) => intersects(frame, node.box))) problems.push(`loop ${loop.id}'s frame overlaps ${node.id}`);
    }
    for (const node of diagram.nodes) if (intersects(loop.label.box, node.box)) problems.push(`loop ${loop.id}'s text covers node ${node.id}`);
  }
  return problems;
}

function inside(inner: Rect, outer: Rect): boolean {
  return (
    inner.x >= outer.x - EPSILON &&
    inner.y >= outer.y - EPSILON &&
    inner.x + inner.width <= outer.x + outer.width + EPSILON &&
    inner.y + inner.height <= outer.y + outer.height + EPSILON
  );
}

function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width - EPSILON && b.x < a.x + a.width - EPSILON && a.y < b.y + b.height - EPSILON && b.y < a.y + a.height - EPSILON;
}
