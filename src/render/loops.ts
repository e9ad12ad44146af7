// Loop frames: a dashed frame around a loop's members in each lane they occupy, with the loop's
// text above the first frame. A frame that would also enclose a node outside the loop is
// replaced by one marker frame per member, so no frame ever claims a node it does not hold.
import type { FlowLoop } from '../compiler/types';
import { measureLabel, positionLabel } from './labels';
import { FONT_SIZE } from './shapes';
import { inflate, intersects, union } from './rect';
import { round } from './text';
import type { LaidOutLoop, Rect } from './types';

/** How far a loop frame stands off its nodes. */
export const LOOP_PADDING = 8;
/** The room a loop's text needs above its frame. */
export const LOOP_LABEL_ROOM = round(FONT_SIZE.loop * 1.3 + 10);

export function loopText(loop: FlowLoop): string {
  return `loop: ${loop.condition}`;
}

export function frameLoop(loop: FlowLoop, boxes: Map<string, Rect>, laneOf: Map<string, string>): LaidOutLoop {
  const byLane = new Map<string, string[]>();
  for (const id of loop.nodes) byLane.set(laneOf.get(id)!, [...(byLane.get(laneOf.get(id)!) ?? []), id]);
  const members = new Set(loop.nodes);
  const outsiders = [...boxes].filter(([id]) => !members.has(id)).map(([, box]) => box);
  const frames = [...byLane.values()].flatMap((ids) => {
    const frame = inflate(union(ids.map((id) => boxes.get(id)!)), LOOP_PADDING);
    return outsiders.some((box) => intersects(frame, box)) ? ids.map((id) => inflate(boxes.get(id)!, LOOP_PADDING)) : [frame];
  });
  const text = loopText(loop);
  const measured = measureLabel(text, 'loop', FONT_SIZE.loop);
  // Above the highest frame is the room kept for the text; where it would still touch a node,
  // its other corner, or below the lowest frame.
  const highest = [...frames].sort((a, b) => a.y - b.y || a.x - b.x)[0]!;
  const lowest = [...frames].sort((a, b) => b.y + b.height - (a.y + a.height) || a.x - b.x)[0]!;
  const spots = [
    { x: highest.x, y: highest.y - measured.height - 1 },
    { x: highest.x + highest.width - measured.width, y: highest.y - measured.height - 1 },
    { x: lowest.x, y: lowest.y + lowest.height + 1 },
  ];
  const free = spots.find((spot) => outsiders.every((box) => !intersects({ ...spot, width: measured.width, height: measured.height }, box)));
  const spot = free ?? spots[0]!;
  return {
    id: loop.id,
    condition: loop.condition,
    nodes: [...loop.nodes],
    frames,
    label: positionLabel(text, measured, spot.x, spot.y),
  };
}

