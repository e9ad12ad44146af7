import { sortDiagnostics } from '../lib/diagnostics';
import { parse } from '../parser/parse';
import type { FlowFile } from '../parser/types';
import { compile, type CompileOptions, type CompileResult } from './compile';

/** What `checkSource` found: the syntax tree, every diagnostic, and the flow when none is an error. */
export interface CheckResult extends CompileResult {
  ast: FlowFile;
}

/**
 * Parses and validates a .flow text: every diagnostic of both stages, and the flow if it has
 * no errors. Like `laneflow check`, it checks for drawing unless told `purpose: 'run'`.
 */
export function checkSource(path: string, text: string, options: CompileOptions = {}): CheckResult {
  const parsed = parse(path, text);
  // A parse stopped at the error limit saw only part of the file: validating that part would
  // report the unread rest as missing.
  if (parsed.diagnostics.some((d) => d.code === 'FZ107')) return { ast: parsed.ast, diagnostics: parsed.diagnostics };
  const compiled = compile(parsed.ast, { purpose: options.purpose ?? 'draw' });
  const diagnostics = sortDiagnostics([...parsed.diagnostics, ...compiled.diagnostics]);
  const hasParseErrors = parsed.diagnostics.some((d) => d.severity === 'error');
  return {
    ast: parsed.ast,
    diagnostics,
    ...(compiled.flow !== undefined && !hasParseErrors && { flow: compiled.flow }),
  };
}
