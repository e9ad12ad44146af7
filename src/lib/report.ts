import { styleText } from 'node:util';
import type { Diagnostic } from './diagnostics';
import { splitLines, stripBom } from './text';

export interface ReportOptions {
  color?: boolean;
}

type Style = Parameters<typeof styleText>[0];

/**
 * `path:line:col: error FZxxx: message`, then the offending line with a caret under the
 * range, the way tsc and rustc print it.
 */
export function formatDiagnostic(path: string, source: string, d: Diagnostic, options: ReportOptions = {}): string {
  const paint = (style: Style, text: string) => (options.color === true ? styleText(style, text) : text);
  const { start, end } = d.range;
  const severity = paint(d.severity === 'error' ? 'red' : 'yellow', d.severity);
  const head = `${paint('cyan', path)}:${paint('yellow', String(start.line))}:${paint('yellow', String(start.column))}: ${severity} ${paint('gray', d.code)}: ${d.message}`;
  const lines = splitLines(stripBom(source));
  const text = lines[start.line - 1];
  if (text === undefined) return head;
  const gutter = String(start.line);
  const blank = ' '.repeat(gutter.length);
  // Keep tabs from the line itself so the caret lines up whatever the tab width.
  const lead = [...text.slice(0, start.column - 1)].map((c) => (c === '\t' ? '\t' : ' ')).join('');
  const width = end.line === start.line ? Math.max(1, end.column - start.column) : Math.max(1, text.length - start.column + 1);
  const caret = paint(d.severity === 'error' ? 'red' : 'yellow', '^'.repeat(width));
  return [head, '', `${paint('gray', gutter + ' |')} ${text}`, `${paint('gray', blank + ' |')} ${lead}${caret}`, ''].join('\n');
}

export interface Totals {
  errors: number;
  warnings: number;
  files: number;
}

export function countDiagnostics(files: readonly { diagnostics: readonly Diagnostic[] }[]): Totals {
  let errors = 0;
  let warnings = 0;
  for (const file of files) {
    for (const d of file.diagnostics) {
      if (d.severity === 'error') errors++;
      else warnings++;
    }
  }
  return { errors, warnings, files: files.length };
}

export function summaryLine({ errors, warnings, files }: Totals): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const checked = `${plural(files, 'file')} checked`;
  if (errors === 0 && warnings === 0) return `${checked}: no problems`;
  return `${checked}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
}
