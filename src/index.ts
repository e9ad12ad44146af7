import { compile, type CompileResult } from './compiler/compile';
import { sortDiagnostics } from './lib/diagnostics';
import { parse } from './parser/parse';
import type { FlowFile } from './parser/types';

export { parse, format, type FormatOptions } from './parser/index';
export { compile, validate, SHAPES, SIDES } from './compiler/index';
export type * from './parser/types';
export type * from './compiler/types';
export type { CompileResult } from './compiler/compile';
export { DIAGNOSTIC_CODES, hasErrors, type Diagnostic, type DiagnosticCode, type Range, type Position, type Severity } from './lib/diagnostics';
export { formatDiagnostic } from './lib/report';

export interface CheckResult extends CompileResult {
  ast: FlowFile;
}

/** Parses and validates a .flow text: every diagnostic of both stages, and the flow if it has no errors. */
export function checkSource(path: string, text: string): CheckResult {
  const parsed = parse(path, text);
  const compiled = compile(parsed.ast);
  const diagnostics = sortDiagnostics([...parsed.diagnostics, ...compiled.diagnostics]);
  const hasParseErrors = parsed.diagnostics.some((d) => d.severity === 'error');
  return {
    ast: parsed.ast,
    diagnostics,
    ...(compiled.flow !== undefined && !hasParseErrors && { flow: compiled.flow }),
  };
}
