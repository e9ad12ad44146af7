import { Command, CommanderError, Option } from 'commander';
import { checkSource, format, type CheckResult } from './index';
import { hasErrors } from './lib/diagnostics';
import { collectFlowFiles, InputError, readSource, writeFileAtomic } from './lib/files';
import { countDiagnostics, formatDiagnostic, summaryLine } from './lib/report';

/** Exit codes: 0 fine, 1 the flows have errors (or would be reformatted), 2 bad usage or input. */
const EXIT_PROBLEMS = 1;
const EXIT_USAGE = 2;

interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
}

const output: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  color: useColor(),
};

function useColor(): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return process.stdout.isTTY === true;
}

interface CheckedFile extends CheckResult {
  path: string;
  text: string;
}

function checkFiles(paths: readonly string[]): CheckedFile[] {
  return collectFlowFiles(paths).map((path) => {
    const { text } = readSource(path);
    return { path, text, ...checkSource(path, text) };
  });
}

function printDiagnostics(files: readonly CheckedFile[], write: (text: string) => void): void {
  for (const file of files) {
    for (const d of file.diagnostics) write(formatDiagnostic(file.path, file.text, d, { color: output.color }) + '\n');
  }
}

function runCheck(paths: string[], options: { format: 'text' | 'json' }): number {
  const files = checkFiles(paths);
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

interface FmtOptions {
  check?: boolean;
  write?: boolean;
  renumber?: boolean;
}

function runFmt(paths: string[], options: FmtOptions): number {
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
  if (options.check === true && unformatted === 0) output.out(`${files.length} file${files.length === 1 ? '' : 's'} formatted\n`);
  return unformatted > 0 ? EXIT_PROBLEMS : 0;
}

export function buildProgram(): Command {
  const program = new Command('laneflow')
    .description('Check, format, render and run FlowZap-style .flow diagrams')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('check')
    .description('parse and validate .flow files, reporting every problem with its position')
    .argument('<paths...>', '.flow files or folders to search for them')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((paths: string[], options: { format: 'text' | 'json' }) => {
      process.exitCode = runCheck(paths, options);
    });

  program
    .command('fmt')
    .description('print .flow files in canonical form')
    .argument('<paths...>', '.flow files or folders to search for them')
    .option('--check', 'list files that are not formatted; exit 1 if any')
    .option('--write', 'rewrite the files in place')
    .option('--renumber', 'rewrite node ids to n1..nN in declaration order')
    .action((paths: string[], options: FmtOptions) => {
      process.exitCode = runFmt(paths, options);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (error instanceof InputError) {
      output.err(`laneflow: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    throw error;
  }
}
