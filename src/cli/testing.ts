import { Command, Option } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { FlowPath, PathsOptions, PathsResult } from '../compiler/paths';
import type { CompiledFlow, Machine } from '../compiler/types';
import { InputError, readSource, writeFileAtomic } from '../lib/files';
import type { RenderHighlight } from '../render/svg';
import type { AnyFlow, FlowBindings } from '../runtime/define';
import type { ScenarioTarget } from '../runtime/testing/run';
import type { Scenario, ScenarioProblem, Trace } from '../runtime/testing/types';
import { checkFiles } from './check';
import { EXIT_PROBLEMS, output } from './output';
import type { FlowReport, TestRun } from './test-reporters';

const SCENARIO_SUFFIX = '.scenarios.yaml';
/** From this many scenarios on, a terminal gets a live progress line. */
const PROGRESS_FROM = 20;

export interface TestCommandOptions {
  coverage?: boolean;
  minCoverage?: number;
  reporter: 'default' | 'junit' | 'github';
  output?: string;
  filter?: string;
  scaffold?: boolean;
  database: 'memory' | 'file';
}

/**
 * `test` runs every flow's scenarios on the real engine with the virtual clock and reports
 * results and coverage; `paths` lists the routes through a flow. The engine, the YAML parser
 * and tsx load only when one of them runs.
 */
export function registerTestingCommands(program: Command): void {
  program
    .command('test')
    .description('run the scenarios of .flow files (<name>.scenarios.yaml beside each) on the engine with a virtual clock')
    .argument('[paths...]', '.flow files, .scenarios.yaml files or folders to search for both (default: flows/ when there is one, else the current folder)')
    .option('--coverage', 'print node, edge and branch coverage per flow and list every uncovered edge')
    .option('--min-coverage <pct>', 'fail when a flow\'s edge coverage is below this percentage', percentage)
    .addOption(new Option('--reporter <name>', 'default (readable), junit (JUnit XML) or github (readable, plus GitHub Actions annotations)').choices(['default', 'junit', 'github']).default('default'))
    .option('-o, --output <file>', 'write the JUnit XML (or the report) to this file instead of standard output')
    .option('-t, --filter <text>', 'run only scenarios whose name contains this text')
    .option('--scaffold', 'append skeleton scenarios for paths that take uncovered edges to each flow\'s scenario file')
    .addOption(new Option('--database <kind>', 'where each scenario\'s SQLite database lives').choices(['memory', 'file']).default('memory'))
    .action(async (paths: string[], options: TestCommandOptions) => {
      process.exitCode = await runTest(paths, options);
    });

  program
    .command('paths')
    .description('list the distinct paths from each start to every end, loops bounded by their iteration bound')
    .argument('<file>', 'a .flow file')
    .option('--json', 'print JSON')
    .option('--max <n>', 'list at most this many paths', positiveInteger, 1000)
    .action(async (file: string, options: { json?: boolean; max: number }) => {
      process.exitCode = await runPaths(file, options);
    });
}

/** A flow ready to test: compiled, its scenarios read, its bindings loaded. */
interface PreparedFlow {
  report: FlowReport;
  flow?: CompiledFlow;
  bindings?: FlowBindings<AnyFlow, unknown>;
  bindingsPath?: string;
  machine?: Machine;
  scenarios: Scenario[];
  scenarioText?: string;
}

export async function runTest(paths: string[], options: TestCommandOptions): Promise<number> {
  const started = performance.now();
  if (options.output !== undefined) refuseMissingFolder(options.output);
  if (paths.length === 0) paths = [isFolder('flows') ? 'flows' : '.'];
  const { runScenarios } = await import('../runtime/testing/suite');
  const { coverageOf } = await import('../runtime/testing/coverage');
  const reporters = await import('./test-reporters');
  const paint = reporters.painter(output.color);
  const prepared: PreparedFlow[] = [];
  for (const target of await collectTargets(paths)) prepared.push(await prepare(target.flowPath, target.scenarioPath));
  const matches = (scenario: Scenario) => options.filter === undefined || scenario.name.includes(options.filter);
  const total = prepared.reduce((sum, flow) => sum + flow.scenarios.filter(matches).length, 0);
  const readable = options.reporter !== 'junit' && options.output === undefined;
  const progress = output.color && process.stderr.isTTY === true && total >= PROGRESS_FROM;
  const sources = new Map<string, string>();
  let done = 0;

  const run: TestRun = { flows: [], durationMs: 0, ...(options.minCoverage !== undefined && { minCoverage: options.minCoverage }) };
  for (const item of prepared) {
    const flowStarted = performance.now();
    const { report, flow } = item;
    if (flow !== undefined) {
      report.results = await runScenarios(
        targetOf(item, flow),
        item.scenarios.filter(matches),
        {
          database: options.database,
          onResult: (result) => {
            done++;
            if (progress) output.err(`\r\u001b[2K[${String(done).padStart(String(total).length)}/${total}] ${report.flowPath} › ${result.scenario}`);
          },
        },
      );
      report.coverage = coverageOf(flow, traces(report), item.machine);
    }
    report.durationMs = performance.now() - flowStarted;
    run.flows.push(report);
    if (progress) output.err('\r\u001b[2K');
    if (readable) output.out(reporters.flowSection(report, paint, sources));
  }
  run.durationMs = performance.now() - started;

  const withCoverage = options.coverage === true || options.minCoverage !== undefined;
  if (options.reporter === 'junit') emit(reporters.junitReport(run), options.output);
  else {
    let text = readable ? '' : prepared.map((item) => reporters.flowSection(item.report, paint, sources)).join('');
    if (withCoverage) text += reporters.coverageSection(run, paint);
    text += reporters.summaryLine(run, paint);
    if (options.reporter === 'github') text += reporters.githubAnnotations(run, withCoverage);
    emit(text, options.output);
  }
  if (options.output !== undefined) output.err(reporters.summaryLine(run, paint).trimStart());
  if (options.scaffold === true) await scaffold(prepared);
  return reporters.runFailed(run) ? EXIT_PROBLEMS : 0;
}

async function runPaths(file: string, options: { json?: boolean; max: number }): Promise<number> {
  readSource(file); // a missing, binary or folder argument is a usage error, exit 2
  const item = await prepare(file, besideScenarioFile(file));
  if (item.flow === undefined) {
    for (const problem of item.report.problems) output.err(`${problem.at.path}:${problem.at.line}:${problem.at.column}: ${problem.message}\n`);
    return EXIT_PROBLEMS;
  }
  const flow = item.flow;
  const { flowPaths } = await import('../compiler/paths');
  const { coveredPathIndexes } = await import('../runtime/testing/scaffold');
  const result = flowPaths(flow, { maxPaths: options.max, ...(await pathOptions(item)) });
  let covered = new Set<number>();
  if (item.scenarios.length > 0 && item.report.problems.length === 0) {
    const { runScenarios } = await import('../runtime/testing/suite');
    const results = await runScenarios(targetOf(item, flow), item.scenarios);
    covered = coveredPathIndexes(result.paths, results.flatMap((r) => (r.trace === undefined ? [] : [r.trace])));
  }
  if (options.json === true) {
    output.out(JSON.stringify({ flow: flow.path, ...result, paths: result.paths.map((path, index) => ({ ...path, covered: covered.has(index) })) }, null, 2) + '\n');
    return 0;
  }
  output.out(pathsText(flow, result, covered, item.report.scenarioPath));
  return 0;
}

function pathsText(flow: CompiledFlow, result: PathsResult, covered: Set<number>, scenarioPath: string | undefined): string {
  const label = (id: string) => flow.nodes.find((n) => n.id === id)?.label ?? id;
  const lines: string[] = [];
  const starts = flow.starts.map((id) => `${id} "${label(id)}"`).join(', ');
  lines.push(`${flow.path}: ${result.paths.length}${result.truncated ? '+' : ''} path${result.paths.length === 1 ? '' : 's'} from ${starts}`);
  const loops = flow.loops.map((loop) => `${loop.id} "${loop.condition}" at most ${result.loopBounds[loop.id]} iterations`);
  if (loops.length > 0) lines.push(`loops: ${loops.join('; ')}`);
  if (result.unboundedCycleNodes.length > 0) lines.push(`cycles without a loop (${result.unboundedCycleNodes.join(' ')}) are followed at most once around`);
  lines.push('');
  const width = String(result.paths.length).length;
  result.paths.forEach((path, index) => {
    const mark = scenarioPath === undefined ? ' ' : covered.has(index) ? '✓' : '·';
    lines.push(`${String(index + 1).padStart(width + 1)} ${mark} ${describePath(flow, path)}`);
    lines.push(`${' '.repeat(width + 4)}${outcomeText(flow, path)}`);
  });
  if (result.truncated) lines.push(`… more paths not listed (--max ${result.paths.length})`);
  if (scenarioPath !== undefined) lines.push('', `${covered.size} of ${result.paths.length} paths taken by the scenarios in ${scenarioPath} (✓)`);
  else lines.push('', `no scenario file: write ${flow.path.replace(/\.flow$/, SCENARIO_SUFFIX)} (\`laneflow test --scaffold ${flow.path}\` starts one)`);
  return lines.join('\n') + '\n';
}

/** `n1 → n2 → n9 [No] → n11 → n4 [catch GatewayTimeout] → n18`: the label a decision takes, or the catch route a step's errors take. */
function describePath(flow: CompiledFlow, path: FlowPath): string {
  const labels = new Map(flow.edges.map((edge) => [edge.id, (edge.label ?? '').trim()]));
  const kinds = new Map(flow.nodes.map((node) => [node.id, node.kind]));
  let caught = 0;
  return path.nodes
    .map((node, index) => {
      const edge = path.edges[index];
      if (edge === undefined) return node;
      const route = path.catches[caught];
      if (!labels.has(edge) && route !== undefined && route.node === node) {
        caught++;
        const names = route.errors.filter((name) => name !== 'States.ALL');
        return `${node} [catch${names.length === 0 || names.length < route.errors.length ? '' : ` ${names.join(', ')}`}]`;
      }
      return kinds.get(node) === 'decision' ? `${node} [${labels.get(edge)}]` : node;
    })
    .join(' → ');
}

function outcomeText(flow: CompiledFlow, path: FlowPath): string {
  const label = flow.nodes.find((n) => n.id === path.outcome.node)?.label ?? '';
  switch (path.outcome.kind) {
    case 'end':
      return `ends at ${path.outcome.node} "${label}"`;
    case 'dead-end':
      return `stops at ${path.outcome.node} "${label}", a step with no outgoing edge`;
    case 'loop-exhausted':
      return `fails: ${path.outcome.loop} runs out when the token enters ${path.outcome.node} "${label}" again`;
  }
}

/** How `paths` and `--scaffold` list a flow's paths: with its binding's loop bounds and catch routes. */
async function pathOptions(item: PreparedFlow): Promise<PathsOptions> {
  if (item.machine === undefined) return {};
  const { catchEdgesOf } = await import('../compiler/catch-routes');
  return { loopBounds: boundsOf(item.machine), catchEdges: catchEdgesOf(item.machine) };
}

function boundsOf(machine: Machine): Record<string, number> {
  return Object.fromEntries(Object.values(machine.loops).map((loop) => [loop.id, loop.bound]));
}

/** Compiles the flow, reads its scenario file and loads its binding module, collecting every problem. */
async function prepare(flowPath: string, scenarioPath: string | undefined): Promise<PreparedFlow> {
  const report: FlowReport = { flowPath, results: [], problems: [], durationMs: 0, ...(scenarioPath !== undefined && { scenarioPath }) };
  const item: PreparedFlow = { report, scenarios: [] };
  const problem = (message: string, at: ScenarioProblem['at'] = { path: flowPath, line: 1, column: 1 }) => report.problems.push({ message, at });
  let checked;
  try {
    [checked] = checkFiles([flowPath], { purpose: 'run' });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    problem(error.message, scenarioPath === undefined ? undefined : { path: scenarioPath, line: 1, column: 1 });
    return item;
  }
  if (checked?.flow === undefined) {
    for (const d of checked?.diagnostics.filter((d) => d.severity === 'error') ?? []) problem(d.message, { path: flowPath, line: d.range.start.line, column: d.range.start.column });
    return item;
  }
  const flow = checked.flow;
  item.flow = flow;
  const { readScenarioHeader, readScenarios } = await import('../runtime/testing/scenario-file');
  let bindingsOverride: string | undefined;
  if (scenarioPath !== undefined) {
    const text = readSource(scenarioPath).text;
    item.scenarioText = text;
    const header = readScenarioHeader(scenarioPath, text);
    bindingsOverride = header.bindingsPath;
    const contents = header.problems.length > 0 ? { scenarios: [], problems: header.problems } : readScenarios(scenarioPath, text, flow);
    // A scenario's own mistakes are reported as its failures; the flow's list keeps the rest.
    const ownedByScenarios = new Set(contents.scenarios.flatMap((scenario) => scenario.problems ?? []));
    report.problems.push(...contents.problems.filter((problem) => !ownedByScenarios.has(problem)));
    item.scenarios = contents.scenarios;
  }
  const { defaultBindingsPath, loadBindingsModule, readBindings } = await import('../runtime/bindings');
  const bindingsPath = bindingsOverride ?? defaultBindingsPath(flowPath);
  if (bindingsPath !== undefined) {
    try {
      item.bindings = (await loadBindingsModule(bindingsPath)) as FlowBindings<AnyFlow, unknown>;
      item.bindingsPath = bindingsPath;
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      report.problems.push(...bindingsLoadProblems(bindingsPath, error.message));
      item.scenarios = [];
      return item;
    }
  }
  const { bind } = await import('../compiler/bind');
  const { spec, registry } = readBindings(item.bindings ?? { nodes: {} }, bindingsPath ?? 'no binding module');
  const { machine } = bind(flow, spec, registry.catalog(), { allowUnbound: true });
  if (machine !== undefined) item.machine = machine;
  return item;
}

/**
 * A binding module that does not compile, at each error's own line and column: the loader's
 * message carries esbuild's `file:line:column: ERROR: text` lines. Any other load failure has
 * no place in the file, so it is given at the module's first line.
 */
function bindingsLoadProblems(bindingsPath: string, message: string): ScenarioProblem[] {
  const compileErrors = message.split('\n').flatMap((line) => {
    const match = /^(.+):(\d+):(\d+): ERROR: (.+)$/.exec(line);
    if (match === null || resolve(match[1]!) !== resolve(bindingsPath)) return [];
    return [{ message: `the binding module does not compile: ${match[4]!}`, at: { path: bindingsPath, line: Number(match[2]), column: Number(match[3]) + 1 } }];
  });
  return compileErrors.length > 0 ? compileErrors : [{ message, at: { path: bindingsPath, line: 1, column: 1 } }];
}

/** Appends skeleton scenarios for paths that take uncovered edges to each flow's scenario file. */
async function scaffold(prepared: readonly PreparedFlow[]): Promise<void> {
  const { flowPaths } = await import('../compiler/paths');
  const { coveredPathIndexes, pathsToScaffold, scaffoldScenarios } = await import('../runtime/testing/scaffold');
  for (const item of prepared) {
    const { flow, report } = item;
    if (flow === undefined || report.coverage === undefined) continue;
    const result = flowPaths(flow, await pathOptions(item));
    const coveredEdges = new Set(report.coverage.edgeItems.filter((e) => e.hits > 0).map((e) => e.id));
    const chosen = pathsToScaffold(result.paths, coveredEdges, coveredPathIndexes(result.paths, traces(report)));
    if (chosen.length === 0) continue;
    const target = report.scenarioPath ?? flow.path.replace(/\.flow$/, SCENARIO_SUFFIX);
    const text = await scaffoldScenarios(targetOf(item, flow), chosen.map((index) => ({ index, path: result.paths[index]! })), item.scenarioText, target);
    writeFileAtomic(target, text);
    output.err(`${target}: ${chosen.length} skeleton scenario${chosen.length === 1 ? '' : 's'} written for path${chosen.length === 1 ? '' : 's'} ${chosen.map((i) => i + 1).join(', ')} (\`laneflow paths ${flow.path}\` lists them)\n`);
  }
}

/**
 * What `render --coverage` or `render --trace` marks on a flow's diagram: the edges its
 * scenarios took and missed, or the edges and nodes one instance went through.
 */
export async function highlightFor(flow: CompiledFlow, options: { coverage?: boolean; trace?: string; db?: string }): Promise<RenderHighlight> {
  if (options.trace !== undefined) {
    const db = options.db ?? '.laneflow/laneflow.db';
    if (!existsSync(db)) throw new InputError(`there is no database at ${db} (\`laneflow run\` creates it)`);
    const { Engine } = await import('../runtime/engine');
    const { traceOf } = await import('../runtime/testing/trace');
    const engine = new Engine({ db });
    try {
      const instance = engine.instance(options.trace);
      if (instance === undefined) throw new InputError(`no instance ${options.trace} in ${db}`);
      if (instance.flowVersion !== flow.version) output.err(`laneflow: ${flow.path} has changed since instance ${instance.id} started; its path is drawn on the current diagram\n`);
      const trace = traceOf(flow, instance);
      output.err(`${flow.path}: instance ${instance.id} (${trace.status}) took ${new Set(trace.edges).size} of ${flow.edges.length} edges\n`);
      return { taken: [...new Set(trace.edges)], nodes: [...new Set(trace.path)] };
    } finally {
      engine.close();
    }
  }
  const item = await prepare(flow.path, besideScenarioFile(flow.path));
  const { runScenarios } = await import('../runtime/testing/suite');
  const { coverageOf, percent } = await import('../runtime/testing/coverage');
  if (item.report.problems.length > 0) output.err(`laneflow: ${item.report.problems.length} problem(s) in ${item.report.scenarioPath ?? flow.path}; \`laneflow test ${flow.path}\` lists them\n`);
  const results = await runScenarios(targetOf(item, flow), item.scenarios);
  const coverage = coverageOf(flow, results.flatMap((r) => (r.trace === undefined ? [] : [r.trace])), item.machine);
  const failed = results.filter((r) => r.status === 'failed').length;
  const note = item.report.scenarioPath === undefined ? 'no scenario file' : `${results.length} scenarios${failed > 0 ? `, ${failed} failing` : ''}`;
  output.err(`${flow.path}: edge coverage ${coverage.edges.covered}/${coverage.edges.total} (${percent(coverage.edges).toFixed(0)}%) from ${note}\n`);
  return {
    taken: coverage.edgeItems.filter((e) => e.hits > 0).map((e) => e.id),
    missed: coverage.edgeItems.filter((e) => e.hits === 0).map((e) => e.id),
    nodes: coverage.nodeItems.filter((n) => n.hits > 0).map((n) => n.id),
  };
}

function targetOf(item: PreparedFlow, flow: CompiledFlow): ScenarioTarget {
  return { flow, ...(item.bindings !== undefined && { bindings: item.bindings }), ...(item.bindingsPath !== undefined && { bindingsPath: item.bindingsPath }) };
}

function traces(report: FlowReport): Trace[] {
  return report.results.flatMap((result) => (result.trace === undefined ? [] : [result.trace]));
}

/** Each flow to test, with its scenario file: from folders, .flow files and .scenarios.yaml files. */
async function collectTargets(paths: readonly string[]): Promise<{ flowPath: string; scenarioPath?: string }[]> {
  const { readScenarioHeader } = await import('../runtime/testing/scenario-file');
  const flowOfScenarioFile = (path: string) => readScenarioHeader(path, readSource(path).text).flowPath;
  const targets = new Map<string, { flowPath: string; scenarioPath?: string }>();
  const add = (flowPath: string, scenarioPath: string | undefined) => {
    const known = targets.get(flowPath);
    if (known?.scenarioPath !== undefined && scenarioPath !== undefined && known.scenarioPath !== scenarioPath) {
      throw new InputError(`${known.scenarioPath} and ${scenarioPath} both test ${flowPath}; keep one scenario file per flow`);
    }
    targets.set(flowPath, { flowPath, ...((scenarioPath ?? known?.scenarioPath) !== undefined && { scenarioPath: scenarioPath ?? known!.scenarioPath! }) });
  };
  for (const path of paths) {
    let stats;
    try {
      stats = statSync(path);
    } catch {
      throw new InputError(`cannot read ${path}: no such file or folder`);
    }
    if (stats.isDirectory()) {
      const found = filesUnder(path);
      if (found.length === 0) throw new InputError(`${path} is a folder with no .flow or ${SCENARIO_SUFFIX} files in it`);
      for (const file of found) {
        if (file.endsWith('.flow')) add(file, besideScenarioFile(file));
        else add(flowOfScenarioFile(file), file);
      }
    } else if (path.endsWith(SCENARIO_SUFFIX)) add(flowOfScenarioFile(path), path);
    else if (path.endsWith('.flow')) {
      readSource(path); // a file named on the command line must be readable text: else exit 2
      add(path, besideScenarioFile(path));
    } else throw new InputError(`${path} is neither a .flow file nor a ${SCENARIO_SUFFIX} file`);
  }
  return [...targets.values()];
}

function besideScenarioFile(flowPath: string): string | undefined {
  const path = flowPath.replace(/\.flow$/, SCENARIO_SUFFIX);
  return existsSync(path) ? path : undefined;
}

function filesUnder(folder: string): string[] {
  const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  return entries.flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : filesUnder(path);
    return entry.isFile() && (entry.name.endsWith('.flow') || entry.name.endsWith(SCENARIO_SUFFIX)) ? [path] : [];
  });
}

/** A mistyped `-o` folder is refused before anything runs, rather than created or found missing at the end. */
function refuseMissingFolder(file: string): void {
  const folder = dirname(file);
  if (!isFolder(folder)) throw new InputError(`there is no folder ${folder} to write ${file} in`);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function emit(text: string, file: string | undefined): void {
  if (file === undefined) output.out(text);
  else writeFileAtomic(file, text);
}

function percentage(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InputError(`--min-coverage ${value} is not a percentage from 0 to 100`);
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`"${value}" is not a whole number above 0`);
  return n;
}
