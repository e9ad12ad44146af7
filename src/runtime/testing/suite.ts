import { checkExpectations } from './expect';
import { runScenario, type RunScenarioOptions, type ScenarioTarget } from './run';
import type { Scenario, ScenarioResult } from './types';

/** Runs a flow's scenarios one after another, each on its own fresh database and clock. */
export async function runScenarios(
  target: ScenarioTarget,
  scenarios: readonly Scenario[],
  options: RunScenarioOptions & { onResult?: (result: ScenarioResult) => void } = {},
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const started = performance.now();
    const base = { flow: target.flow.path, scenario: scenario.name, ...(scenario.at !== undefined && { at: scenario.at }) };
    let result: ScenarioResult;
    if (scenario.skip) result = { ...base, status: 'skipped', failures: [], durationMs: 0 };
    else if (scenario.problems !== undefined && scenario.problems.length > 0) {
      const failures = scenario.problems.map((problem) => ({ expectation: 'scenario-file', message: problem.message, at: problem.at }));
      result = { ...base, status: 'failed', failures, durationMs: 0 };
    } else {
      const { trace, failures } = await runScenario(target, scenario, options);
      if (trace !== undefined) failures.push(...checkExpectations(target.flow, trace, scenario.expect, scenario.locations));
      result = { ...base, status: failures.length === 0 ? 'passed' : 'failed', failures, durationMs: performance.now() - started, ...(trace !== undefined && { trace }) };
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
