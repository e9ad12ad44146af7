import { describe, expect, it } from 'vitest';
import { laneflow } from '../helpers/cli';

describe('flows/', () => {
  it('every flow has scenarios that pass and take every edge', () => {
    const run = laneflow(['test', 'flows/', '--min-coverage', '100']);
    // The report names each failing scenario, its node and line, and each uncovered edge.
    expect(run.stdout + run.stderr).not.toMatch(/✗|below the minimum|NONE /);
    expect(run.status).toBe(0);
  });
});
