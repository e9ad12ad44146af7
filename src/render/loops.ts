// Loop frames: a dashed frame around a loop's members in each lane they occupy, with the loop's
// text beside the highest frame, where it crosses the fewest edges. A frame that would also enclose a node outside the loop is
// replaced by one marker frame per member, so no frame ever claims a node it does not hold.
import type { FlowLoop } from '../compiler/types';
import { measureLabel, positionLabel } from './labels';
import { FONT_SIZE } from './shapes';
import { inflate, intersects, touches, union } from './rect';
import { round } from './text';
import type { LaidOutLoop, Point, Rect } from './types';
import { append } from './multimap';

/** How far a loop frame stands off its nodes. */
export const LOOP_PADDING = 8;
/** The room a loop's text needs above its frame. */
export const LOOP_LABEL_ROOM = round(FONT_SIZE.loop * 1.3 + 10);

export function loopText(loop: FlowLoop): string {
  return `loop: ${loop.condition}`;
}

export function frameLoop(loop: FlowLoop, boxes: Map<string, Rect>, laneOf: Map<string, string>, routes: readonly Point[][]): LaidOutLoop {
  const byLane = new Map<string, string[]>();
  for (const id of loop.nodes) append(byLane, laneOf.get(id)!, id);
  const members = new Set(loop.nodes);
  const outsiders = [...boxes].filter(([id]) => !members.has(id)).map(([, box]) => box);
  const frames = [...byLane.values()].flatMap((ids) => {
    const frame = inflate(union(ids.map((id) => boxes.get(id)!)), LOOP_PADDING);
    return outsiders.some((box) => intersects(frame, box)) ? ids.map((id) => inflate(boxes.get(id)!, LOOP_PADDING)) : [frame];
  });
  const text = loopText(loop);
  const measured = measureLabel(text, 'loop', FONT_SIZE.loop);
  // Above the highest frame is the room kept for the text: slide it along the frame's top to
  // where the fewest edges cross it; below the lowest frame only if every spot above touches a node.
  const highest = [...frames].sort((a, b) => a.y - b.y || a.x - b.x)[0]!;
  const lowest = [...frames].sort((a, b) => b.y + b.height - (a.y + a.height) || a.x - b.x)[0]!;
  const slide = Math.max(0, highest.width - measured.width);
  const spots = [
    ...[0, 1, 0.5, 0.25, 0.75].map((t) => ({ x: round(highest.x + t * slide), y: round(highest.y - measured.height - 1) })),
    { x: lowest.x, y: round(lowest.y + lowest.height + 1) },
  ];
  const nodes = [...boxes.values()];
  const scored = spots.map((spot, rank) => {
    const box = { ...spot, width: measured.width, height: measured.height };
    const blocked = nodes.some((node) => intersects(box, node));
    return { spot, score: (blocked ? 1000 : 0) + crossings(box, routes) * 10 + rank };
  });
  const spot = scored.reduce((best, next) => (next.score < best.score ? next : best)).spot;
  return {
    id: loop.id,
    condition: loop.condition,
    nodes: [...loop.nodes],
    frames,
    label: positionLabel(text, measured, spot.x, spot.y),
  };
}


function crossings(box: Rect, routes: readonly Point[][]): number {
  let count = 0;
  for (const points of routes) {
    for (let index = 0; index + 1 < points.length; index++) {
      const a = points[index]!;
      const b = points[index + 1]!;
      const segment = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(a.x - b.x), height: Math.abs(a.y - b.y) };
      if (touches(box, segment)) count++;
    }
  }
  return count;
}
