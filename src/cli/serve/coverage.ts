import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { CompiledFlow } from '../../compiler/types';
import { InputError } from '../../lib/files';
import { SCENARIO_SUFFIX } from '../../runtime/testing/scenario-file';
import { HttpError } from './http';
import type { FlowCoverage } from './types';

/**
 * Runs the flow's scenarios (its `<name>.scenarios.yaml`, as `laneflow test` does) and marks
 * what they cover: undefined when the flow has no scenario file. The flow must be compiled
 * from its real path, where its scenario file and binding module are found.
 */
export async function scenarioCoverage(flow: CompiledFlow): Promise<FlowCoverage | undefined> {
  const scenarioFile = flow.path.replace(/\.flow$/, SCENARIO_SUFFIX);
  if (!existsSync(scenarioFile)) return undefined;
  const { highlightFor } = await import('../testing');
  try {
    const highlight = await highlightFor(flow, { coverage: true });
    const covered = highlight.taken.length;
    return { scenarios: basename(scenarioFile), highlight, edges: { covered, total: covered + (highlight.missed?.length ?? 0) } };
  } catch (error) {
    if (error instanceof InputError) throw new HttpError(422, error.message);
    throw error;
  }
}
