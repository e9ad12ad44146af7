// Stands in for fontkit in the CLI bundle. svgdom loads fontkit (a large library) only to measure
// text for bounding boxes; laneflow measures text with its own table and never asks svgdom for a
// box, so the bundle leaves fontkit out and start-up stays fast. A call would be a bug: say so.
export function openSync() {
  throw new Error('svgdom text measuring is disabled in the laneflow CLI bundle');
}
export const create = openSync;
