import { checkSource, type CheckResult } from '../compiler/check-source';
import type { CompileOptions } from '../compiler/compile';
import { format } from '../parser/format';
import { hasErrors } from '../lib/diagnostics';
import { collectFlowFiles, InputError, readSource, writeFileAtomic } from '../lib/files';
import { countDiagnostics, formatDiagnostic, summaryLine } from '../lib/report';
import { EXIT_PROBLEMS, output } from './output';

export interface CheckedFile extends CheckResult {
  path: string;
  text: string;
}

/** Reads and checks each file: for drawing unless `purpose: 'run'` (compile, run, types, test, check --strict). */
export function checkFiles(paths: readonly string[], options: CompileOptions = {}): CheckedFile[] {
  return collectFlowFiles(paths).map((path) => {
    const { text } = readSource(path);
    return { path, text, ...checkSource(path, text, options) };
  });
}

export function printDiagnostics(files: readonly CheckedFile[], write: (text: string) => void): void {
  for (const file of files) {
    for (const d of file.diagnostics) write(formatDiagnostic(file.path, file.text, d, { color: output.color }) + '\n');
  }
}

export function runCheck(paths: string[], options: { format: 'text' | 'json'; strict?: boolean }): number {
  const files = checkFiles(paths, { purpose: options.strict === true ? 'run' : 'draw' });
  const totals = countDiagnostics(files);
  if (options.format === 'json') {
    const report = {
      files: files.map((f) => ({ path: f.path, diagnostics: f.diagnostics })),
      summary: totals,
    };
    output.out(JSON.stringify(report, null, 2) + '\n');
  } else {
    printDiagnostics(files, output.out);
    output.out(summaryLine(totals) + '\n');
  }
  return totals.errors > 0 ? EXIT_PROBLEMS : 0;
}

export interface FmtOptions {
  check?: boolean;
  write?: boolean;
  renumber?: boolean;
}

export function runFmt(paths: string[], options: FmtOptions): number {
  if (options.check === true && options.write === true) throw new InputError('use either --check or --write, not both');
  const files = checkFiles(paths);
  if (files.length > 1 && options.check !== true && options.write !== true) {
    throw new InputError('formatting several files needs --write (rewrite them) or --check (list the unformatted ones)');
  }
  // A file that does not parse cannot be printed back faithfully, and renumbering needs every
  // reference resolved, so those files are left alone.
  const blocked = files.filter((f) =>
    options.renumber === true ? hasErrors(f.diagnostics) : f.diagnostics.some((d) => d.severity === 'error' && d.code < 'FZ200'),
  );
  printDiagnostics(blocked.map((f) => ({ ...f, diagnostics: f.diagnostics.filter((d) => d.severity === 'error') })), output.err);
  let unformatted = 0;
  for (const file of files) {
    if (blocked.includes(file)) continue;
    const formatted = format(file.ast, { renumber: options.renumber === true });
    if (options.check === true) {
      if (formatted !== file.text) {
        unformatted++;
        output.out(`${file.path}: not formatted\n`);
      }
    } else if (options.write === true) {
      if (formatted !== file.text) {
        writeFileAtomic(file.path, formatted);
        output.out(`${file.path}: formatted\n`);
      }
    } else {
      output.out(formatted);
    }
  }
  if (blocked.length > 0) {
    output.err(`${blocked.length} file${blocked.length === 1 ? '' : 's'} not formatted because of errors\n`);
    return EXIT_PROBLEMS;
  }
  if (options.check === true && unformatted === 0) output.out(files.length === 1 ? '1 file already formatted\n' : `all ${files.length} files are formatted\n`);
  return unformatted > 0 ? EXIT_PROBLEMS : 0;
}

