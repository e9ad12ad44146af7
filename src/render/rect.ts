import { round } from './text';
import type { Rect } from './types';

/** The box grown by `by` on every side. */
export function inflate(box: Rect, by: number): Rect {
  return { x: round(box.x - by), y: round(box.y - by), width: round(box.width + 2 * by), height: round(box.height + 2 * by) };
}

/** Whether two boxes share any area (touching edges do not count). */
export function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Whether two boxes touch or overlap: a zero-width line along a box's inside counts. */
export function touches(a: Rect, b: Rect): boolean {
  return a.x <= b.x + b.width && b.x <= a.x + a.width && a.y <= b.y + b.height && b.y <= a.y + a.height;
}

/** The smallest box holding all the given ones. */
export function union(rects: readonly Rect[]): Rect {
  const left = Math.min(...rects.map((r) => r.x));
  const top = Math.min(...rects.map((r) => r.y));
  const right = Math.max(...rects.map((r) => r.x + r.width));
  const bottom = Math.max(...rects.map((r) => r.y + r.height));
  return { x: left, y: top, width: right - left, height: bottom - top };
}
