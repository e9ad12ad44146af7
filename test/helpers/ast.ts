import type { Diagnostic } from '../../src/index';

/** A syntax tree with every source position and the path removed: what formatting must preserve. */
export function withoutPositions(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (/range$|Range$/.test(key) || key === 'path' ? undefined : v)));
}

/**
 * Why a diagnostic's range is invalid for `text`, or undefined when it is valid: lines and
 * columns in bounds, offsets agreeing with them, start not after end.
 */
export function rangeProblem(text: string, d: Diagnostic): string | undefined {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const { lines, starts } = lineTable(source);
  for (const [name, p] of [['start', d.range.start], ['end', d.range.end]] as const) {
    const line = lines[p.line - 1];
    if (line === undefined) return `${name} line ${p.line} is outside 1..${lines.length}`;
    if (p.column < 1 || p.column > line.length + 1) return `${name} column ${p.column} is outside 1..${line.length + 1}`;
    const offset = starts[p.line - 1]! + p.column - 1;
    if (offset !== p.offset) return `${name} offset ${p.offset} does not match line ${p.line} column ${p.column} (${offset})`;
  }
  if (d.range.end.offset < d.range.start.offset) return 'end is before start';
  return undefined;
}

let cached: { source: string; table: { lines: string[]; starts: number[] } } | undefined;

/** Each line's text and start offset; the last text's table is kept, as callers check many diagnostics of one text. */
function lineTable(source: string): { lines: string[]; starts: number[] } {
  if (cached?.source === source) return cached.table;
  const lines: string[] = [];
  const starts: number[] = [];
  const breaks = /\r\n|\r|\n/g;
  let start = 0;
  for (let match = breaks.exec(source); match !== null; match = breaks.exec(source)) {
    lines.push(source.slice(start, match.index));
    starts.push(start);
    start = match.index + match[0].length;
  }
  lines.push(source.slice(start));
  starts.push(start);
  cached = { source, table: { lines, starts } };
  return cached.table;
}
