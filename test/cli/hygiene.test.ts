import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, laneflow, type CliRun } from '../helpers/cli';

// Issue 7's CLI hygiene: every command, given a bad input, exits non-zero with one clear
// sentence (or, for a readable file that is not a valid flow, its diagnostics), never a stack
// trace, and leaves no partial output file behind.

let dir: string;
const path = (name: string) => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'laneflow-hygiene-'));
  mkdirSync(path('folder'));
  writeFileSync(path('binary.flow'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]));
  writeFileSync(path('empty.flow'), '');
  writeFileSync(path('comments.flow'), '// a flow still to be written\n// by the analysts\n');
  writeFileSync(path('a-file'), 'not a folder');
});

/** One sentence on standard error, starting `laneflow: `, and nothing like a stack trace. */
function expectOneSentence(run: CliRun, says: RegExp): void {
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^laneflow: /);
  expect(lines[0]).toMatch(says);
  expect(hasStackTrace(run.stderr + run.stdout)).toBe(false);
}

/** Commands that read a .flow file named on the command line (`test` reads its scenarios too). */
const FILE_COMMANDS: string[][] = [['check'], ['fmt'], ['render', '-o', '-'], ['compile'], ['types', '--out', '-'], ['run', '--clock', 'virtual', '--db', ':memory:'], ['paths'], ['test']];

describe.each(FILE_COMMANDS)('laneflow %s', (command, ...options) => {
  const run = (file: string) => laneflow([command!, ...options, path(file)]);

  it('refuses a missing file in one sentence, exit 2', () => {
    const result = run('missing.flow');
    expect(result.status).toBe(2);
    expectOneSentence(result, /missing\.flow.*no such file/);
  });

  it('refuses a folder without .flow files in one sentence, exit 2', () => {
    const result = run('folder');
    expect(result.status).toBe(2);
    expectOneSentence(result, /folder/);
  });

  it('refuses a binary file in one sentence, exit 2', () => {
    const result = run('binary.flow');
    expect(result.status).toBe(2);
    expectOneSentence(result, /binary\.flow is a binary file/);
  });

  // fmt only formats: an empty or comment-only file is valid syntax, printed back as it is.
  // check and render draw it, blank, with no start as a warning (issue 13); the commands
  // that run a flow refuse it.
  if (command === 'check' || command === 'render') {
    it.each(['empty.flow', 'comments.flow'])('takes %s as a blank diagram, exit 0', (file) => {
      const result = run(file);
      expect(result.status).toBe(0);
      if (command === 'check') expect(result.stdout).toContain('warning FZ210: no start node');
      else expect(result.stdout).toMatch(/^<svg [^>]*height="60"/);
      expect(hasStackTrace(result.stdout + result.stderr)).toBe(false);
    });
  } else if (command !== 'fmt') {
    it.each(['empty.flow', 'comments.flow'])('reports %s as a flow with no start, exit 1', (file) => {
      const result = run(file);
      expect(result.status).toBe(1);
      expect(result.stdout + result.stderr).toMatch(/FZ210|no start node/);
      expect(hasStackTrace(result.stdout + result.stderr)).toBe(false);
    });
  }
});

describe('bad JSON and unwritable outputs', () => {
  it('run refuses bad --input JSON in one sentence', () => {
    const result = laneflow(['run', 'flows/plan-upgrade.flow', '--db', path('input.db'), '--input', '{"newPlan": pro}']);
    expect(result.status).toBe(2);
    expectOneSentence(result, /--input is not valid JSON/);
    expect(existsSync(path('input.db'))).toBe(false);
  });

  it('run refuses --input that is JSON but not an object', () => {
    const result = laneflow(['run', 'flows/plan-upgrade.flow', '--db', path('array.db'), '--input', '[1, 2]']);
    expect(result.status).toBe(2);
    expectOneSentence(result, /--input/);
  });

  it('signal refuses a bad --payload in one sentence', () => {
    const result = laneflow(['signal', 'some-instance', 'go', '--db', path('signal.db'), '--payload', '{nope']);
    expect(result.status).toBe(2);
    expectOneSentence(result, /--payload is not valid JSON/);
  });

  it.each([
    ['render -o', ['render', 'flows/plan-upgrade.flow', '-o', 'a-file/out.svg'], ['a-file/out.svg']],
    ['render --png', ['render', 'flows/plan-upgrade.flow', '-o', 'png-case.svg', '--png', 'a-file/out.png'], ['png-case.svg']],
    ['types --out', ['types', 'flows/plan-upgrade.flow', '--out', 'a-file/types.d.ts'], []],
    ['test -o', ['test', 'flows/plan-upgrade.flow', '--reporter', 'junit', '-o', 'a-file/junit.xml'], []],
    ['run --db', ['run', 'flows/plan-upgrade.flow', '--db', 'a-file/laneflow.db'], []],
  ])('%s to an unwritable path fails in one sentence and leaves no partial file', (_, args, mustNotExist) => {
    const before = readdirSync(dir).sort();
    const result = laneflow(args.map((a) => (a.startsWith('a-file') || a === 'png-case.svg' ? path(a) : a)));
    expect(result.status).toBe(2);
    expectOneSentence(result, /a-file/);
    for (const file of mustNotExist) expect(existsSync(path(file)), file).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it.each([['inspect'], ['retry', 'some-instance'], ['signal', 'some-instance', 'go'], ['deliveries'], ['worker']])(
    '%s on a missing database says so instead of creating one',
    (...args) => {
      const db = path('nowhere.db');
      const result = laneflow([...args, '--db', db]);
      expect(result.status).toBe(2);
      expectOneSentence(result, /nowhere\.db/);
      expect(existsSync(db)).toBe(false);
    },
  );
});
