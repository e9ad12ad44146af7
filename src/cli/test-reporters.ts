import { styleText } from 'node:util';
import type { FlowCoverage, ScenarioProblem, ScenarioResult, SourceLocation } from '../runtime/testing/types';
import { expectationName, formatFailure, formatLocation } from '../runtime/testing/format';
import { percent } from '../runtime/testing/coverage';

/** What `laneflow test` found for one flow: its scenarios' results, problems reading them, coverage. */
export interface FlowReport {
  flowPath: string;
  scenarioPath?: string;
  results: ScenarioResult[];
  /** Problems that kept scenarios from running as written: flow errors, scenario file errors, a binding module that does not load. */
  problems: ScenarioProblem[];
  coverage?: FlowCoverage;
  durationMs: number;
}

export interface TestRun {
  flows: FlowReport[];
  /** The edge coverage every flow must reach, in percent. */
  minCoverage?: number;
  durationMs: number;
}

type Paint = (style: Parameters<typeof styleText>[0], text: string) => string;

export function painter(color: boolean): Paint {
  return (style, text) => (color ? styleText(style, text) : text);
}

/** Flows whose edge coverage is below the bar. */
export function belowMinimum(run: TestRun): FlowReport[] {
  if (run.minCoverage === undefined) return [];
  return run.flows.filter((flow) => flow.coverage !== undefined && percent(flow.coverage.edges) < run.minCoverage!);
}

export function runFailed(run: TestRun): boolean {
  return run.flows.some((flow) => flow.problems.length > 0 || flow.results.some((r) => r.status === 'failed')) || belowMinimum(run).length > 0;
}

/** One flow's results as the default reporter prints them when the flow is done. */
export function flowSection(flow: FlowReport, paint: Paint, sources: Map<string, string>): string {
  const failed = flow.problems.length > 0 || flow.results.some((r) => r.status === 'failed');
  const ran = flow.results.filter((r) => r.status !== 'skipped').length;
  const badge = failed ? paint(['bold', 'red'], 'FAIL') : flow.scenarioPath === undefined ? paint(['bold', 'yellow'], 'NONE') : paint(['bold', 'green'], 'PASS');
  const source = flow.scenarioPath === undefined ? paint('yellow', 'no scenario file') : `${ran} scenario${ran === 1 ? '' : 's'}`;
  const lines = [`${badge} ${flow.flowPath}  ${paint('gray', `${source}, ${Math.round(flow.durationMs)} ms`)}`];
  for (const problem of flow.problems) lines.push(`  ${paint('red', '✗')} ${formatLocation(problem.at)}: ${problem.message}`);
  for (const result of flow.results) {
    if (result.status === 'skipped') {
      lines.push(`  ${paint('yellow', '-')} ${result.scenario} ${paint('gray', '(skipped)')}`);
      continue;
    }
    const time = paint('gray', `(${Math.round(result.durationMs)} ms)`);
    if (result.status === 'passed') {
      lines.push(`  ${paint('green', '✓')} ${result.scenario} ${time}`);
      continue;
    }
    const where = result.at === undefined ? '' : paint('gray', ` ${formatLocation(result.at)}`);
    lines.push(`  ${paint('red', '✗')} ${result.scenario} ${time}${where}`);
    for (const failure of result.failures) lines.push(paint('red', formatFailure(failure, { indent: '      ', sources })));
  }
  return lines.join('\n') + '\n';
}

/** The coverage table, then every uncovered edge (and node) by its place in the .flow file. */
export function coverageSection(run: TestRun, paint: Paint): string {
  const flows = run.flows.filter((flow) => flow.coverage !== undefined);
  if (flows.length === 0) return '';
  const cell = (count: FlowCoverage['edges']) => `${count.covered}/${count.total}`.padStart(7) + `${percent(count).toFixed(0)}%`.padStart(6);
  const width = Math.max(8, ...flows.map((flow) => flow.flowPath.length));
  const lines = ['', paint('bold', `${'Coverage'.padEnd(width)}  ${'nodes'.padStart(13)}  ${'edges'.padStart(13)}  ${'branches'.padStart(13)}  scenarios`)];
  for (const flow of flows) {
    const coverage = flow.coverage!;
    const low = run.minCoverage !== undefined && percent(coverage.edges) < run.minCoverage;
    const edges = cell(coverage.edges);
    lines.push(`${flow.flowPath.padEnd(width)}  ${cell(coverage.nodes)}  ${low ? paint('red', edges) : edges}  ${cell(coverage.branches)}  ${String(coverage.scenarios).padStart(9)}`);
  }
  const uncovered = flows.flatMap((flow) => flow.coverage!.edgeItems.filter((item) => item.hits === 0));
  if (uncovered.length > 0) {
    lines.push('', paint('bold', 'Uncovered edges:'));
    for (const item of uncovered) {
      const why = item.unreachable === true ? paint('gray', '  (unreachable: no edge or catch route leads to its source)') : '';
      lines.push(`  ${paint('yellow', formatLocation(item.at))}  ${item.id}  ${item.describe}${why}`);
    }
  }
  const nodes = flows.flatMap((flow) => flow.coverage!.nodeItems.filter((item) => item.hits === 0));
  if (nodes.length > 0) {
    lines.push('', paint('bold', 'Nodes never visited:'));
    for (const item of nodes) lines.push(`  ${paint('yellow', formatLocation(item.at))}  ${item.describe}`);
  }
  return lines.join('\n') + '\n';
}

export function summaryLine(run: TestRun, paint: Paint): string {
  const results = run.flows.flatMap((flow) => flow.results);
  const count = (status: ScenarioResult['status']) => results.filter((r) => r.status === status).length;
  const parts = [];
  if (count('failed') > 0) parts.push(paint('red', `${count('failed')} failed`));
  parts.push(paint('green', `${count('passed')} passed`));
  if (count('skipped') > 0) parts.push(paint('yellow', `${count('skipped')} skipped`));
  const problems = run.flows.reduce((sum, flow) => sum + flow.problems.length, 0);
  const lines = [`\nScenarios: ${parts.join(', ')}, ${results.length} total; ${run.flows.length} flow${run.flows.length === 1 ? '' : 's'} in ${(run.durationMs / 1000).toFixed(2)} s`];
  if (problems > 0) lines.push(paint('red', `${problems} problem${problems === 1 ? '' : 's'} in flows or scenario files`));
  for (const flow of belowMinimum(run)) {
    lines.push(paint('red', `Edge coverage of ${flow.flowPath} is ${percent(flow.coverage!.edges).toFixed(1)}%, below the minimum of ${run.minCoverage}%`));
  }
  return lines.join('\n') + '\n';
}

/** JUnit XML: a testsuite per flow, a testcase per scenario, and one per flow for the coverage bar. */
export function junitReport(run: TestRun): string {
  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  const suites = run.flows.map((flow) => {
    const cases = flow.results.map((result) => {
      const attributes = { name: result.scenario, classname: flowName(flow.flowPath), time: seconds(result.durationMs), ...locationAttributes(result.at) };
      if (result.status === 'skipped') return `    <testcase ${attrs(attributes)}>\n      <skipped/>\n    </testcase>`;
      if (result.status === 'passed') return `    <testcase ${attrs(attributes)}/>`;
      const failures = result.failures.map((failure) => {
        const first = `${expectationName(failure.expectation)}: ${failure.message.split('\n')[0]}`;
        return `      <failure ${attrs({ message: first, type: expectationName(failure.expectation) })}>${text(formatFailure(failure))}</failure>`;
      });
      return `    <testcase ${attrs(attributes)}>\n${failures.join('\n')}\n    </testcase>`;
    });
    for (const problem of flow.problems) {
      cases.push(`    <testcase ${attrs({ name: `problem at ${formatLocation(problem.at)}`, classname: flowName(flow.flowPath), time: '0', ...locationAttributes(problem.at) })}>\n      <error ${attrs({ message: problem.message, type: 'problem' })}>${text(`${formatLocation(problem.at)}: ${problem.message}`)}</error>\n    </testcase>`);
    }
    if (run.minCoverage !== undefined && flow.coverage !== undefined) {
      const edges = percent(flow.coverage.edges);
      const name = `edge coverage at least ${run.minCoverage}%`;
      const attributes = attrs({ name, classname: flowName(flow.flowPath), time: '0', file: flow.flowPath });
      if (edges >= run.minCoverage) cases.push(`    <testcase ${attributes}/>`);
      else {
        const missing = flow.coverage.edgeItems.filter((item) => item.hits === 0).map((item) => `${formatLocation(item.at)}  ${item.id}  ${item.describe}`);
        cases.push(`    <testcase ${attributes}>\n      <failure ${attrs({ message: `edge coverage is ${edges.toFixed(1)}%`, type: 'coverage' })}>${text(`uncovered edges:\n${missing.join('\n')}`)}</failure>\n    </testcase>`);
      }
    }
    const counts = {
      tests: cases.length,
      failures: cases.filter((c) => c.includes('<failure ')).length,
      errors: flow.problems.length,
      skipped: flow.results.filter((r) => r.status === 'skipped').length,
    };
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key];
    const caseTexts = cases.join('\n');
    const properties = flow.coverage === undefined ? '' : `    <properties>\n${(['nodes', 'edges', 'branches'] as const).map((key) => `      <property ${attrs({ name: `coverage.${key}`, value: `${flow.coverage![key].covered}/${flow.coverage![key].total}` })}/>`).join('\n')}\n    </properties>\n`;
    const suite = {
      name: flow.flowPath,
      tests: String(counts.tests),
      failures: String(counts.failures),
      errors: String(counts.errors),
      skipped: String(counts.skipped),
      time: seconds(flow.durationMs),
      ...(flow.scenarioPath !== undefined && { file: flow.scenarioPath }),
    };
    return `  <testsuite ${attrs(suite)}>\n${properties}${caseTexts}${caseTexts === '' ? '' : '\n'}  </testsuite>`;
  });
  const head = attrs({ name: 'laneflow', tests: String(totals.tests), failures: String(totals.failures), errors: String(totals.errors), skipped: String(totals.skipped), time: seconds(run.durationMs) });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ${head}>\n${suites.join('\n')}${suites.length === 0 ? '' : '\n'}</testsuites>\n`;
}

/**
 * GitHub Actions workflow commands: an error per unmet expectation at the node's line of the
 * .flow file (or the scenario's line when there is no node), a warning per uncovered edge,
 * an error per flow below the coverage bar.
 */
export function githubAnnotations(run: TestRun, withCoverage: boolean): string {
  const lines: string[] = [];
  for (const flow of run.flows) {
    for (const problem of flow.problems) lines.push(annotation('error', problem.at, `${flowName(flow.flowPath)}: scenario file problem`, problem.message));
    for (const result of flow.results) {
      for (const failure of result.failures) {
        const at = failure.node?.at ?? failure.at ?? result.at;
        const where = failure.at === undefined ? '' : ` (${formatLocation(failure.at)})`;
        const node = failure.node === undefined ? '' : ` at ${failure.node.id} "${failure.node.label}"`;
        lines.push(annotation('error', at, `${flowName(flow.flowPath)} › ${result.scenario}`, `${expectationName(failure.expectation)}${where}${node}: ${failure.message}`));
      }
    }
    if (flow.coverage === undefined) continue;
    if (withCoverage) {
      for (const item of flow.coverage.edgeItems.filter((i) => i.hits === 0)) {
        const why = item.unreachable === true ? ' It is unreachable: no edge or catch route leads to its source.' : '';
        lines.push(annotation('warning', item.at, `Uncovered edge ${item.id}`, `No scenario takes ${item.describe}.${why}`));
      }
    }
    if (run.minCoverage !== undefined && percent(flow.coverage.edges) < run.minCoverage) {
      const at = { path: flow.flowPath, line: 1, column: 1 };
      lines.push(annotation('error', at, 'Coverage below the minimum', `Edge coverage of ${flow.flowPath} is ${percent(flow.coverage.edges).toFixed(1)}%, below ${run.minCoverage}%`));
    }
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

function annotation(level: 'error' | 'warning', at: SourceLocation | undefined, title: string, message: string): string {
  const place = at === undefined ? '' : `file=${property(at.path)},line=${at.line},col=${at.column},`;
  return `::${level} ${place}title=${property(title)}::${data(message)}`;
}

/** Escaping of workflow command data, as @actions/core does it. */
function data(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function property(value: string): string {
  return data(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function flowName(path: string): string {
  return path.replace(/^.*\//, '').replace(/\.flow$/, '');
}

function locationAttributes(at: SourceLocation | undefined): Record<string, string> {
  return at === undefined ? {} : { file: at.path, line: String(at.line) };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function attrs(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}="${xml(value).replace(/"/g, '&quot;').replace(/\n/g, '&#10;')}"`)
    .join(' ');
}

function text(value: string): string {
  return xml(value);
}

/** Escapes markup and drops characters XML 1.0 cannot hold at all. */
function xml(value: string): string {
  return value
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
