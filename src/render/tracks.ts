// Routes found on channel centre lines overlap wherever they share a channel. Here every
// channel's route segments are given tracks (interval colouring: two segments that overlap
// along the channel get different tracks, unless they carry the same net, i.e. leave the same
// port or enter the same port, where running together reads as one branching line), and the
// channel is made wide enough for its tracks.
import type { GridGeometry } from './grid';
import { resolveRef, routeRuns, type SymbolicRoute } from './route';
import { round } from './text';
import type { Point } from './types';
import { append } from './multimap';

/** The distance between two parallel routes in a channel. */
export const TRACK_SPACING = 10;
/** The distance from a channel's outer tracks to its edges. */
export const CHANNEL_PADDING = 14;

export interface TrackAssignment {
  /** Per route, per segment: the offset from the channel centre, 0 for segments not on a channel. */
  offsets: number[][];
  /** Tracks needed per vertical channel and per horizontal channel. */
  verticalTracks: number[];
  horizontalTracks: number[];
}

interface ChannelSegment {
  route: number;
  segment: number;
  low: number;
  high: number;
  net: string;
  /**
   * Where the route goes at the segment's two ends: -1 for each end that turns towards the
   * channel's lower coordinate (up, or left), +1 towards the higher.
   */
  turns: number;
}

export function assignTracks(routes: readonly SymbolicRoute[], geometry: GridGeometry): TrackAssignment {
  const vertical = new Map<number, ChannelSegment[]>();
  const horizontal = new Map<number, ChannelSegment[]>();
  const resolved = routes.map((route) => route.points.map((point) => ({ x: resolveRef(point.x, 'x', geometry), y: resolveRef(point.y, 'y', geometry) })));
  const sharing = new Map<string, number>();
  for (const points of resolved) {
    for (const key of [`from ${points[0]!.x},${points[0]!.y}`, `to ${points[points.length - 1]!.x},${points[points.length - 1]!.y}`]) {
      sharing.set(key, (sharing.get(key) ?? 0) + 1);
    }
  }
  routes.forEach((route, routeIndex) => {
    const points = resolved[routeIndex]!;
    const fromNet = `from ${points[0]!.x},${points[0]!.y}`;
    const toNet = `to ${points[points.length - 1]!.x},${points[points.length - 1]!.y}`;
    for (const { segment, vertical: isVertical, line: ref, low, high } of routeRuns(route.points, geometry)) {
      if (!('channel' in ref)) continue;
      // A segment next to both ends joins the bigger bundle: a fan-out's, or a fan-in's.
      const nearFrom = segment === 1;
      const nearTo = segment === points.length - 3;
      const net =
        nearFrom && (!nearTo || sharing.get(fromNet)! >= sharing.get(toNet)!) ? fromNet : nearTo ? toNet : `edge ${route.edge.id}#${segment}`;
      const across = (from: number, to: number) => {
        const [a, b] = [points[from], points[to]];
        if (a === undefined || b === undefined) return 0;
        return Math.sign(isVertical ? b.x - a.x : b.y - a.y);
      };
      const turns = across(segment, segment - 1) + across(segment + 1, segment + 2);
      const channels = isVertical ? vertical : horizontal;
      append(channels, ref.channel, { route: routeIndex, segment, low, high, net, turns });
    }
  });
  const offsets = routes.map((route) => route.points.map(() => 0));
  const trackCounts = (channels: Map<number, ChannelSegment[]>, count: number) => {
    const tracks = Array.from({ length: count }, () => 1);
    for (const [channel, segments] of channels) {
      const assigned = orderTracks(segments, colour(segments));
      const used = Math.max(...assigned) + 1;
      tracks[channel] = used;
      segments.forEach((segment, index) => {
        offsets[segment.route]![segment.segment] = round((assigned[index]! - (used - 1) / 2) * TRACK_SPACING);
      });
    }
    return tracks;
  };
  return {
    offsets,
    verticalTracks: trackCounts(vertical, geometry.verticalChannels.length),
    horizontalTracks: trackCounts(horizontal, geometry.horizontalChannels.length),
  };
}

/** Greedy interval colouring in order of start: optimal for intervals, and deterministic. */
function colour(segments: readonly ChannelSegment[]): number[] {
  const order = segments.map((_, index) => index).sort((a, b) => segments[a]!.low - segments[b]!.low || segments[a]!.high - segments[b]!.high || a - b);
  const tracks: Array<{ end: number; net: string }> = [];
  const assigned: number[] = new Array<number>(segments.length).fill(0);
  for (const index of order) {
    const segment = segments[index]!;
    let track = tracks.findIndex((t) => t.net === segment.net || t.end + TRACK_SPACING <= segment.low);
    if (track < 0) {
      track = tracks.length;
      tracks.push({ end: segment.high, net: segment.net });
    } else {
      tracks[track] = { end: Math.max(tracks[track]!.end, segment.high), net: segment.net };
    }
    assigned[index] = track;
  }
  return assigned;
}

/**
 * Puts the tracks in the order that crosses least: routes that turn towards the lower side at
 * both ends run nearest that side, the shorter inside the longer (nested, not crossed), and
 * likewise towards the higher side; routes that go through, in the middle.
 */
function orderTracks(segments: readonly ChannelSegment[], assigned: readonly number[]): number[] {
  const keys = new Map<number, { sum: number; count: number }>();
  segments.forEach((segment, index) => {
    const span = segment.high - segment.low;
    const key = segment.turns * 1e6 + (segment.turns <= 0 ? span : -span);
    const track = keys.get(assigned[index]!) ?? { sum: 0, count: 0 };
    keys.set(assigned[index]!, { sum: track.sum + key, count: track.count + 1 });
  });
  const order = [...keys]
    .map(([track, { sum, count }]) => ({ track, key: sum / count }))
    .sort((a, b) => a.key - b.key || a.track - b.track)
    .map(({ track }) => track);
  const position = new Map(order.map((track, index) => [track, index]));
  return assigned.map((track) => position.get(track)!);
}

/** The size a channel needs for a number of tracks. */
export function channelSizeFor(tracks: number): number {
  return 2 * CHANNEL_PADDING + (tracks - 1) * TRACK_SPACING;
}

/** A route's points in the final geometry, each channel segment moved onto its track. */
export function realizeRoute(route: SymbolicRoute, offsets: readonly number[], geometry: GridGeometry): Point[] {
  const points = route.points.map((point) => ({ x: resolveRef(point.x, 'x', geometry), y: resolveRef(point.y, 'y', geometry) }));
  const vertical = points.slice(1).map((point, index) => point.x === points[index]!.x);
  for (let segment = 0; segment + 1 < points.length; segment++) {
    const offset = offsets[segment]!;
    if (offset === 0) continue;
    const a = points[segment]!;
    const b = points[segment + 1]!;
    if (vertical[segment]) {
      a.x = round(a.x + offset);
      b.x = a.x;
    } else {
      a.y = round(a.y + offset);
      b.y = a.y;
    }
  }
  return points;
}
