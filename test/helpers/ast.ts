import { splitLines } from '../../src/lib/text';
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
  const lines = splitLines(source);
  for (const [name, p] of [['start', d.range.start], ['end', d.range.end]] as const) {
    const line = lines[p.line - 1];
    if (line === undefined) return `${name} line ${p.line} is outside 1..${lines.length}`;
    if (p.column < 1 || p.column > line.length + 1) return `${name} column ${p.column} is outside 1..${line.length + 1}`;
    const offset = lineStart(source, p.line) + p.column - 1;
    if (offset !== p.offset) return `${name} offset ${p.offset} does not match line ${p.line} column ${p.column} (${offset})`;
  }
  if (d.range.end.offset < d.range.start.offset) return 'end is before start';
  return undefined;
}

function lineStart(text: string, line: number): number {
  const breaks = /\r\n|\r|\n/g;
  let offset = 0;
  for (let current = 1; current < line; current++) {
    const match = breaks.exec(text);
    if (match === null) return -1;
    offset = match.index + match[0].length;
  }
  return offset;
}
