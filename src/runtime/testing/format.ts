import { readFileSync } from 'node:fs';
import { splitLines } from '../../lib/text';
import type { ExpectationFailure, SourceLocation } from './types';

/**
 * A failure as a reader wants it: which expectation and where it is written, what was expected
 * and what happened, then the node it points at with its line of the .flow file.
 */
export function formatFailure(failure: ExpectationFailure, options: { indent?: string; sources?: Map<string, string> } = {}): string {
  const indent = options.indent ?? '';
  const where = failure.at === undefined ? '' : ` (${formatLocation(failure.at)})`;
  const lines = [`${indent}${expectationName(failure.expectation)}${where}: ${failure.message.replace(/\n/g, `\n${indent}`)}`];
  if (failure.node !== undefined) {
    const { id, label, at } = failure.node;
    lines.push(`${indent}  at ${id}${label === '' ? '' : ` "${label}"`} (${formatLocation(at)})`);
    const text = sourceLine(at, options.sources);
    if (text !== undefined) lines.push(`${indent}  ${String(at.line).padStart(4)} | ${text}`);
  }
  return lines.join('\n');
}

export function formatLocation(at: SourceLocation): string {
  return `${at.path}:${at.line}:${at.column}`;
}

/** 691290000 → `691290s`: a duration as scenario files write one, in the largest unit that divides it evenly. */
export function durationInOneUnit(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ['ms', 1];
  return `${ms / size}${unit}`;
}

/** `expect.status`, `expect.data.plan`, `signals[0]`, `bindings`. */
export function expectationName(expectation: string): string {
  return ['bindings', 'runs', 'scenario-file'].includes(expectation) || expectation.startsWith('signals[') ? expectation : `expect.${expectation}`;
}

function sourceLine(at: SourceLocation, sources: Map<string, string> | undefined): string | undefined {
  let text = sources?.get(at.path);
  if (text === undefined) {
    try {
      text = readFileSync(at.path, 'utf8');
    } catch {
      return undefined;
    }
    sources?.set(at.path, text);
  }
  return splitLines(text)[at.line - 1];
}
