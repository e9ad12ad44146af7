import { readFileSync } from 'node:fs';
import { checkSource } from '../../src/index';
import type { CompiledFlow } from '../../src/compiler/types';
import { loadBindingsModule } from '../../src/runtime/bindings';
import type { AnyFlow, FlowBindings } from '../../src/runtime/define';
import { readScenarios } from '../../src/runtime/testing/scenario-file';
import { runScenarios } from '../../src/runtime/testing/suite';
import type { ScenarioResult } from '../../src/runtime/testing/types';
import { repoRoot } from '../helpers/cases';

export const fixtures = 'test/testing/fixtures';

/** A fixture flow compiled, by the path a user would give (relative to the repository). */
export function fixtureFlow(name: string): CompiledFlow {
  const path = `${fixtures}/${name}.flow`;
  const { flow, diagnostics } = checkSource(path, readFileSync(`${repoRoot}${path}`, 'utf8'));
  if (flow === undefined) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return flow;
}

export async function fixtureBindings(name: string): Promise<FlowBindings<AnyFlow, unknown>> {
  return (await loadBindingsModule(`${repoRoot}${fixtures}/${name}.bindings.ts`)) as FlowBindings<AnyFlow, unknown>;
}

/** Runs scenarios written as YAML text against a fixture flow and its bindings. */
export async function runYaml(name: string, yaml: string): Promise<ScenarioResult[]> {
  const flow = fixtureFlow(name);
  const { scenarios, problems } = readScenarios(`${fixtures}/${name}.scenarios.yaml`, yaml, flow);
  if (problems.length > 0) throw new Error(problems.map((p) => `${p.at.line}: ${p.message}`).join('\n'));
  return runScenarios({ flow, bindings: await fixtureBindings(name) }, scenarios);
}
