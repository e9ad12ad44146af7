/** A point in a source file. `line` and `column` are 1-based; `offset` is 0-based (UTF-16 units). */
export interface Position {
  line: number;
  column: number;
  offset: number;
}

/** A half-open source span: `end` is the first position after the span. */
export interface Range {
  start: Position;
  end: Position;
}

/** An error stops a flow from being compiled and run; a warning does not. */
export type Severity = 'error' | 'warning';

/** One problem found in a file: a stable `code` (the README's Diagnostics table), its severity, a message naming what is wrong, and where. */
export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  range: Range;
  /** Set when the range is in another file than the one checked: a binding module's key, say. */
  file?: string;
}

/**
 * Every diagnostic laneflow can report. Codes are stable: tools and users match on them.
 * FZ1xx come from the parser, FZ2xx are validation errors, FZ3xx are lint warnings, FZ4xx
 * come from binding a flow to its handlers.
 */
export const DIAGNOSTIC_CODES = {
  FZ100: { severity: 'error', summary: 'unexpected character' },
  FZ101: { severity: 'error', summary: 'syntax error' },
  FZ102: { severity: 'error', summary: 'unterminated string' },
  FZ103: { severity: 'error', summary: 'unclosed lane' },
  FZ104: { severity: 'error', summary: 'stray closing brace' },
  FZ105: { severity: 'error', summary: 'node declared outside a lane' },
  FZ106: { severity: 'error', summary: 'unterminated loop condition' },
  FZ107: { severity: 'error', summary: 'too many errors: checking stopped' },
  FZ201: { severity: 'error', summary: 'unknown shape' },
  FZ202: { severity: 'error', summary: 'unknown handle side' },
  FZ203: { severity: 'error', summary: 'duplicate node id' },
  FZ204: { severity: 'error', summary: 'duplicate lane id' },
  FZ205: { severity: 'error', summary: 'reference to an undeclared node' },
  FZ206: { severity: 'error', summary: 'lane prefix names a missing lane' },
  FZ207: { severity: 'error', summary: 'lane prefix names the wrong lane' },
  FZ208: { severity: 'error', summary: 'loop with fewer than two nodes' },
  FZ209: { severity: 'error', summary: 'node in more than one loop' },
  FZ210: { severity: 'error', summary: 'no start node' },
  FZ301: { severity: 'warning', summary: 'decision with fewer than two outgoing edges' },
  FZ302: { severity: 'warning', summary: 'decision edge without a label' },
  FZ303: { severity: 'warning', summary: 'duplicate decision label' },
  FZ304: { severity: 'warning', summary: 'unreachable node' },
  FZ305: { severity: 'warning', summary: 'dead-end step' },
  FZ306: { severity: 'warning', summary: 'label over 50 characters' },
  FZ307: { severity: 'warning', summary: 'unknown attribute' },
  FZ308: { severity: 'warning', summary: 'cross-lane target without a lane prefix' },
  FZ309: { severity: 'warning', summary: 'edge without handles' },
  FZ310: { severity: 'warning', summary: 'node ids out of the n1..nN convention' },
  FZ311: { severity: 'warning', summary: 'attribute given twice' },
  FZ312: { severity: 'warning', summary: 'loop repeats a node' },
  FZ313: { severity: 'warning', summary: '`#` line outside a lane, read as a comment' },
  FZ401: { severity: 'error', summary: 'unbound step' },
  FZ402: { severity: 'error', summary: 'unbound decision' },
  FZ403: { severity: 'error', summary: 'unknown handler' },
  FZ404: { severity: 'error', summary: 'decision handler cannot return the diamond\'s labels' },
  FZ405: { severity: 'error', summary: 'binding for a node that does not exist' },
  FZ406: { severity: 'error', summary: 'binding by an ambiguous label' },
  FZ407: { severity: 'error', summary: 'binding for a circle' },
  FZ408: { severity: 'error', summary: 'catch target that does not exist' },
  FZ409: { severity: 'error', summary: 'loop override for a loop that does not exist' },
  FZ410: { severity: 'error', summary: 'invalid retry policy, timeout or loop bound' },
  FZ411: { severity: 'error', summary: 'decision handler bound to a step' },
  FZ412: { severity: 'warning', summary: 'decision branch the handler never returns' },
  FZ413: { severity: 'error', summary: 'node bound twice' },
} as const satisfies Record<string, { severity: Severity; summary: string }>;

/** `FZ100`…: every code laneflow reports, with its severity and summary in DIAGNOSTIC_CODES. */
export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export function diagnostic(code: DiagnosticCode, message: string, range: Range): Diagnostic {
  return { code, severity: DIAGNOSTIC_CODES[code].severity, message, range };
}

/** True when any diagnostic is an error (warnings do not count). */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Orders diagnostics by position, then code, so output is stable whatever stage found them. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) => a.range.start.offset - b.range.start.offset || a.code.localeCompare(b.code),
  );
}

/** The range covering `from` up to the end of `to`. */
export function spanning(from: Range, to: Range): Range {
  return { start: from.start, end: to.end };
}
