import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStackTrace, laneflow } from '../helpers/cli';

// Issue 13: files as FlowZap publishes them must check and render. An agent architecture has
// no circle at all, and FlowZap's templates put `#` lines outside the lanes.
const noCircle = 'test/testdata/render-cases/agent-no-circle.flow';
const hashComments = 'test/testdata/parser/hash-comments.flow';

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

describe('`#` lines outside the lanes', () => {
  it('are comments: check exits 0 with one warning per line, at its position', () => {
    const run = laneflow(['check', hashComments]);
    expect(run.status).toBe(0);
    const warnings = heads(run.stdout, hashComments);
    expect(warnings.map((line) => line.split(': ').slice(0, 2).join(': '))).toEqual(
      ['1:1', '2:1', '10:3', '16:1'].map((at) => `${hashComments}:${at}: warning FZ313`),
    );
    expect(warnings[0]).toContain('read as a comment');
  });

  it('are kept by fmt, with their text, as `//` comments in the same places', () => {
    const run = laneflow(['fmt', hashComments]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      [
        '// Support triage: a FlowZap template',
        '// Lanes: Customer, Support',
        'Customer { # Customer',
        '  n1: circle label:"Start"',
        '  n2: rectangle label:"Open a ticket"',
        '',
        '  n1.handle(right) -> n2.handle(left)',
        '  n2.handle(bottom) -> Support.n3.handle(top) [label="Ticket"]',
        '}',
        '',
        '// Support answers every ticket',
        'Support { # Support',
        '  n3: rectangle label:"Answer the ticket"',
        '  n4: circle label:"Done"',
        '',
        '  n3.handle(right) -> n4.handle(left)',
        '}',
        '',
        '//',
        '',
      ].join('\n'),
    );
  });

  it('leave no warning once fmt --write has rewritten them', () => {
    const dir = scratch();
    const file = join(dir, 'triage.flow');
    writeFileSync(file, readFileSync(hashComments, 'utf8'));
    expect(laneflow(['fmt', '--write', file]).status).toBe(0);
    const run = laneflow(['check', '--format', 'json', file]);
    expect(run.status).toBe(0);
    expect((JSON.parse(run.stdout) as { files: { diagnostics: unknown[] }[] }).files[0]!.diagnostics).toEqual([]);
  });

  it('inside a lane stay a syntax error, as LANGUAGE.md has no such comment', () => {
    const dir = scratch();
    const file = join(dir, 'inside.flow');
    writeFileSync(file, 'Main { # Main\n  # not a label\n  n1: circle label:"Start"\n  n2: circle label:"End"\n  n1.handle(right) -> n2.handle(left)\n}\n');
    const run = laneflow(['check', file]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`${file}:2:3: error FZ101: expected a lane, a node, an edge or a loop, found \`# not a label\``);
  });
});
