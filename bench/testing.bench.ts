// Scenario testing speed: the 30-day dunning fixture on the virtual clock, one scenario file's
// worth of scenarios, and `laneflow test flows/` end to end as CI runs it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { checkSource } from '../src/index';
import { loadBindingsModule } from '../src/runtime/bindings';
import type { AnyFlow, FlowBindings } from '../src/runtime/define';
import { readScenarios } from '../src/runtime/testing/scenario-file';
import { runScenarios } from '../src/runtime/testing/suite';
import type { Bench } from './table';
import { median, root } from './measure';

const DUNNING_TARGET_MS = 50;
const FLOWS_TARGET_MS = 5_000;

const testingBench: Bench = async () => {
  const path = 'test/testing/fixtures/dunning.flow';
  const { flow } = checkSource(path, readFileSync(`${root}${path}`, 'utf8'));
  const bindings = (await loadBindingsModule(`${root}test/testing/fixtures/dunning.bindings.ts`)) as FlowBindings<AnyFlow, unknown>;
  const scenarioPath = 'test/testing/fixtures/dunning.scenarios.yaml';
  const { scenarios } = readScenarios(scenarioPath, readFileSync(`${root}${scenarioPath}`, 'utf8'), flow!);
  const thirtyDays = scenarios.filter((s) => s.name.includes('30 days'));
  const run = async (list: typeof scenarios) => {
    const results = await runScenarios({ flow: flow!, bindings }, list);
    if (results.some((r) => r.status !== 'passed')) throw new Error('a dunning scenario failed');
  };
  const dunningMs = await medianMs(() => run(thirtyDays), 3, 15);
  const fileMs = await medianMs(() => run(scenarios), 2, 9);

  const cli: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, ['bin/laneflow.js', 'test', 'flows/', '--coverage'], { cwd: root, encoding: 'utf8' });
    cli.push(performance.now() - started);
    // Exit 1 (a failing scenario or a flow still without any) is measured all the same; 2 is a usage mistake.
    // Every scenario of flows/ passes: a run that fails one is not a timing of the suite.
    if (result.status !== 0) throw new Error(`laneflow test flows/ failed:\n${result.stdout}${result.stderr}`);
  }
  const scenarioCount = Number(/(\d+) total/.exec(spawnSync(process.execPath, ['bin/laneflow.js', 'test', 'flows/'], { cwd: root, encoding: 'utf8' }).stdout)?.[1] ?? 0);
  const flowsMs = Math.min(...cli);
  return {
    title: 'Scenario testing (virtual clock)',
    rows: [
      { measure: '30-day dunning scenario (4 charges, 4 waits), median', laneflow: `${dunningMs.toFixed(1)} ms`, target: `< ${DUNNING_TARGET_MS} ms`, met: dunningMs < DUNNING_TARGET_MS },
      { measure: `dunning.scenarios.yaml (${scenarios.length} scenarios), median`, laneflow: `${fileMs.toFixed(1)} ms` },
      { measure: `laneflow test flows/ --coverage (${scenarioCount} scenarios, process included), best of 3`, laneflow: `${Math.round(flowsMs)} ms`, target: `< ${FLOWS_TARGET_MS} ms`, met: flowsMs < FLOWS_TARGET_MS },
    ],
    notes: ['Each scenario gets a fresh in-memory SQLite database, deploys its flow and runs on its own virtual clock.'],
  };
};

async function medianMs(work: () => Promise<void>, warmups: number, runs: number): Promise<number> {
  for (let i = 0; i < warmups; i++) await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export default testingBench;
