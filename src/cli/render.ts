import { Command, Option } from 'commander';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { bindingModuleBeside } from '../lib/binding-module';
import { hasErrors } from '../lib/diagnostics';
import { collectFlowFiles, InputError, writeFileAtomic } from '../lib/files';
import type { ThemeName } from '../render/theme';
import { checkFiles, printDiagnostics, type CheckedFile } from './check';
import { EXIT_PROBLEMS, output } from './output';

export interface RenderCommandOptions {
  output?: string;
  png?: string;
  theme: ThemeName;
  coverage?: boolean;
  trace?: string;
  db?: string;
}

export function registerRenderCommands(program: Command): void {
  program
    .command('render')
    .description('draw .flow files as swimlane diagrams (SVG, and PNG with --png)')
    .argument('<paths...>', '.flow files or folders to search for them')
    .option('-o, --output <path>', 'the SVG file, or a folder for several; `-` writes one SVG to standard output (default: beside each .flow file)')
    .option('--png <path>', 'also write a PNG: the file, or a folder for several')
    .addOption(new Option('--theme <theme>', 'colour theme').choices(['light', 'dark']).default('light'))
    .option('--coverage', 'run each flow\'s scenarios and mark covered edges green, uncovered ones red and dashed')
    .option('--trace <instance>', 'mark the path one instance took (with --db)')
    .option('--db <file>', 'the SQLite database that holds the --trace instance', '.laneflow/laneflow.db')
    .action(async (paths: string[], options: RenderCommandOptions) => {
      process.exitCode = await runRender(paths, options);
    });
}

interface RenderJob {
  file: CheckedFile;
  svgPath: string | undefined;
  pngPath: string | undefined;
}

export async function runRender(paths: string[], options: RenderCommandOptions): Promise<number> {
  const inputs = paths.flatMap((path) => collectFlowFiles([path]).map((file) => ({ file, root: inputRoot(path) })));
  const several = inputs.length > 1 || paths.some(isFolder);
  if (options.output === '-' && several) throw new InputError('`-o -` writes one SVG to standard output; give a single .flow file');
  if (options.trace !== undefined && several) throw new InputError('--trace marks one instance\'s path; give the single .flow file it ran');
  if (options.trace !== undefined && options.coverage === true) throw new InputError('--trace and --coverage mark the diagram differently; choose one');
  const files = checkFiles(inputs.map((input) => input.file));
  const jobs: RenderJob[] = files.map((file, index) => {
    const relativePath = relative(inputs[index]!.root, file.path).replace(/\.flow$/, '');
    return {
      file,
      svgPath: options.output === '-' ? undefined : target(options.output, several, relativePath, file.path, '.svg'),
      pngPath: options.png === undefined ? undefined : target(options.png, several, relativePath, file.path, '.png'),
    };
  });
  refuseCollisions(jobs);
  prepareFolders(jobs);

  const failed = files.filter((file) => hasErrors(file.diagnostics));
  printDiagnostics(
    failed.map((file) => ({ ...file, diagnostics: file.diagnostics.filter((d) => d.severity === 'error') })),
    output.err,
  );
  const renderable = jobs.filter((job) => !failed.includes(job.file));
  if (renderable.length > 0) {
    // Loaded here, not at start-up: the other commands never pay for ELK and the SVG DOM.
    const { layout, renderSvg, renderPng } = await import('../render/index');
    const { catchEdgesInSource, withCatchEdges } = await import('../compiler/catch-routes');
    for (const job of renderable) {
      const highlight = options.coverage === true || options.trace !== undefined ? await (await import('./testing')).highlightFor(job.file.flow!, options) : undefined;
      // Catch routes are read from the binding module's text: loading it would run its imports.
      const bindings = bindingModuleBeside(job.file.path);
      const caught = bindings === undefined ? { edges: [], skipped: [] } : catchEdgesInSource(job.file.flow!, readFileSync(bindings, 'utf8'));
      for (const note of caught.skipped) output.err(`${bindings}: ${note}\n`);
      const flow = withCatchEdges(job.file.flow!, caught.edges);
      const svg = await renderSvg(await layout(flow), {
        theme: options.theme,
        ...(highlight !== undefined && { highlight }),
        ...(caught.edges.length > 0 && { catchEdges: caught.edges.map((edge) => edge.id) }),
      });
      const written: string[] = [];
      if (job.svgPath === undefined) output.out(svg);
      else {
        writeFileAtomic(job.svgPath, svg);
        written.push(job.svgPath);
      }
      if (job.pngPath !== undefined) {
        writeFileAtomic(job.pngPath, await renderPng(svg));
        written.push(job.pngPath);
      }
      if (written.length > 0) output.err(`${job.file.path} → ${written.join(', ')}\n`);
    }
  }
  if (failed.length > 0) {
    output.err(`${failed.length} file${failed.length === 1 ? '' : 's'} not rendered because of errors\n`);
    return EXIT_PROBLEMS;
  }
  return 0;
}

function isFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** Output paths below a folder argument mirror the files' places under it. */
function inputRoot(path: string): string {
  return isFolder(path) ? path : dirname(path);
}

/**
 * Where one output goes: the given path itself for a single input (unless it names a folder),
 * else the file's relative path under the given folder; beside the .flow file by default.
 */
function target(given: string | undefined, several: boolean, relativePath: string, flowPath: string, extension: string): string {
  if (given === undefined) return flowPath.replace(/\.flow$/, '') + extension;
  const intoFolder = several || given.endsWith('/') || isFolder(given);
  return intoFolder ? join(given, relativePath + extension) : given;
}

function refuseCollisions(jobs: readonly RenderJob[]): void {
  const seen = new Map<string, string>();
  for (const job of jobs) {
    for (const path of [job.svgPath, job.pngPath]) {
      if (path === undefined) continue;
      const first = seen.get(path);
      if (first !== undefined) throw new InputError(`${first} and ${job.file.path} would both be written to ${path}`);
      seen.set(path, job.file.path);
    }
  }
}

/**
 * Makes the folder of every output before anything is drawn or written, so an unwritable
 * path fails the command with no file of it left behind.
 */
function prepareFolders(jobs: readonly RenderJob[]): void {
  for (const path of jobs.flatMap((job) => [job.svgPath, job.pngPath])) {
    if (path === undefined) continue;
    if (basename(path) === '') throw new InputError(`${path} names a folder, not a file`);
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(`cannot write ${path}: ${code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of the path is a file, not a folder' : 'its folder cannot be created'}`);
    }
  }
}
