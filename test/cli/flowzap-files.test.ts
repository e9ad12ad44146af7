import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStackTrace, laneflow } from '../helpers/cli';

// Issue 13: files as FlowZap publishes them must check and render. An agent architecture has
// no circle at all, and FlowZap's templates put `#` lines outside the lanes.
const noCircle = 'test/testdata/render-cases/agent-no-circle.flow';

const scratch = () => mkdtempSync(join(tmpdir(), 'laneflow-flowzap-'));
/** The first line of each diagnostic `check` printed for `path`. */
const heads = (stdout: string, path: string) => stdout.split('\n').filter((line) => line.startsWith(`${path}:`));

describe('a flow with no circle', () => {
  it('checks with exit 0 and reports the missing start as a warning', () => {
    const run = laneflow(['check', noCircle]);
    expect(run.status).toBe(0);
    expect(heads(run.stdout, noCircle)).toEqual([
      `${noCircle}:2:3: warning FZ210: no start node: a flow starts at a circle with no incoming edge`,
      `${noCircle}:3:3: warning FZ305: \`n2\` "Read the answer" has no outgoing edge: flows should end at a circle`,
    ]);
  });

  it('checks with exit 1 and the same code as an error with --strict', () => {
    const run = laneflow(['check', '--strict', noCircle]);
    expect(run.status).toBe(1);
    expect(heads(run.stdout, noCircle).map((line) => line.split(': ').slice(0, 2).join(': '))).toEqual([
      `${noCircle}:2:3: error FZ210`,
      `${noCircle}:3:3: warning FZ305`,
    ]);
  });

  it('reports the warning in JSON too', () => {
    const run = laneflow(['check', '--format', 'json', noCircle]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as { files: { diagnostics: { code: string; severity: string }[] }[] };
    expect(report.files[0]!.diagnostics.filter((d) => d.code === 'FZ210')).toMatchObject([{ severity: 'warning' }]);
  });

  it('renders as SVG and PNG', () => {
    const out = scratch();
    const run = laneflow(['render', noCircle, '-o', join(out, 'agent.svg'), '--png', join(out, 'agent.png')]);
    expect(run.stderr).not.toContain('error');
    expect(run.status).toBe(0);
    const svg = readFileSync(join(out, 'agent.svg'), 'utf8');
    for (const label of ['Ask a question', 'Tool needed?', 'Call the search API', 'loop: until the agent can']) expect(svg).toContain(label);
    const png = readFileSync(join(out, 'agent.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it('is accepted by fmt as it is written', () => {
    const run = laneflow(['fmt', noCircle]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(readFileSync(noCircle, 'utf8'));
  });

  it.each([
    ['compile', []],
    ['types', ['--out', '-']],
    ['run', ['--clock', 'virtual', '--db', ':memory:']],
  ])('is refused by %s with error FZ210, exit 1', (command, options) => {
    const run = laneflow([command, ...options, noCircle]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${noCircle}:2:3: error FZ210: no start node`);
    expect(run.stdout).toBe('');
    expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it.each([['test'], ['paths']])('is refused by %s, exit 1', (command) => {
    const run = laneflow([command, noCircle]);
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).toContain('no start node');
    expect(hasStackTrace(run.stdout + run.stderr)).toBe(false);
  });
});

