import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSource } from '../../src/index';
import { hasStackTrace, laneflow } from '../helpers/cli';

const scratch = () => mkdtempSync(join(tmpdir(), 'laneflow-cli-'));
const manyErrors = 'test/testdata/parser/many-errors.flow';

describe('laneflow check', () => {
  it('passes the flows in flows/ with exit code 0', () => {
    const run = laneflow(['check', 'flows/']);
    expect(run.status).toBe(0);
    const flows = readdirSync('flows').filter((name) => name.endsWith('.flow')).length;
    expect(run.stdout).toMatch(new RegExp(`^${flows} files checked: 0 errors, 1 warning$`, 'm'));
  });

  it('reports every mistake of a file with its line and column, a code frame and a summary', () => {
    const run = laneflow(['check', manyErrors]);
    expect(run.status).toBe(1);
    const expected = checkSource(manyErrors, readFileSync(manyErrors, 'utf8')).diagnostics;
    const heads = run.stdout.split('\n').filter((l) => l.startsWith(`${manyErrors}:`));
    expect(heads).toEqual(
      expected.map((d) => `${manyErrors}:${d.range.start.line}:${d.range.start.column}: ${d.severity} ${d.code}: ${d.message}`),
    );
    expect(run.stdout).toContain('3 |   n2: rect label:"Charge"\n  |       ^^^^');
    const errors = expected.filter((d) => d.severity === 'error').length;
    expect(run.stdout).toMatch(new RegExp(`^1 file checked: ${errors} errors, ${expected.length - errors} warnings$`, 'm'));
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('colours output only when asked or on a terminal', () => {
    expect(laneflow(['check', manyErrors], { env: { FORCE_COLOR: '1' } }).stdout).toContain('\u001b[31merror');
  });

  it('prints machine-readable diagnostics with --format json', () => {
    const run = laneflow(['check', '--format', 'json', manyErrors, 'flows/plan-upgrade.flow']);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as { files: { path: string; diagnostics: { code: string }[] }[]; summary: { errors: number; files: number } };
    expect(report.files.map((f) => f.path)).toEqual([manyErrors, 'flows/plan-upgrade.flow']);
    expect(report.files[1]!.diagnostics).toEqual([]);
    expect(report.summary.files).toBe(2);
    expect(report.summary.errors).toBeGreaterThan(10);
  });

  it('treats an empty file as a flow with no start: a warning, an error with --strict', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'empty.flow'), '// nothing here yet\n');
    const run = laneflow(['check', join(dir, 'empty.flow')]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('warning FZ210: no start node: the file declares no nodes');
    const strict = laneflow(['check', '--strict', join(dir, 'empty.flow')]);
    expect(strict.status).toBe(1);
    expect(strict.stdout).toContain('error FZ210: no start node: the file declares no nodes');
  });

  it.each([
    ['a missing file', (dir: string) => join(dir, 'nope.flow'), 'no such file or folder'],
    ['a folder without .flow files', (dir: string) => (mkdirSync(join(dir, 'empty')), join(dir, 'empty')), 'is a folder with no .flow files in it'],
    ['a binary file', (dir: string) => (writeFileSync(join(dir, 'x.flow'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2])), join(dir, 'x.flow')), 'is a binary file'],
    ['a file that is not UTF-8', (dir: string) => (writeFileSync(join(dir, 'latin1.flow'), Buffer.from('A {\n n1: circle label:"caf\xe9"\n}\n', 'latin1')), join(dir, 'latin1.flow')), 'is not UTF-8 text'],
  ])('exits 2 with one clear sentence for %s', (_, make, says) => {
    const run = laneflow(['check', make(scratch())]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(says);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it('exits 2 on a usage mistake', () => {
    expect(laneflow(['check']).status).toBe(2);
    expect(laneflow(['check', '--format', 'xml', 'flows']).status).toBe(2);
    expect(laneflow(['chek', 'flows']).status).toBe(2);
  });
});

describe('laneflow fmt', () => {
  const messy = 'A {#Lane A\nn1: circle label="Start"\nn1.handle(right) -> n2.handle(left)\nn2: circle label:"End"\n}';
  const canonical = 'A { # Lane A\n  n1: circle label:"Start"\n  n2: circle label:"End"\n\n  n1.handle(right) -> n2.handle(left)\n}\n';

  it('prints the canonical form of one file', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.flow'), messy);
    const run = laneflow(['fmt', join(dir, 'a.flow')]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(canonical);
  });

  it('--check lists unformatted files and exits 1, leaving them alone', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.flow'), messy);
    writeFileSync(join(dir, 'b.flow'), canonical);
    const run = laneflow(['fmt', '--check', dir]);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe(`${join(dir, 'a.flow')}: not formatted\n`);
    expect(readFileSync(join(dir, 'a.flow'), 'utf8')).toBe(messy);
    expect(laneflow(['fmt', '--check', 'flows']).status).toBe(0);
  });

  it('--write rewrites files in place', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.flow'), messy);
    expect(laneflow(['fmt', '--write', dir]).status).toBe(0);
    expect(readFileSync(join(dir, 'a.flow'), 'utf8')).toBe(canonical);
  });

  it('refuses a file with syntax errors and does not touch it', () => {
    const dir = scratch();
    const broken = messy.replace('label="Start"', 'label="Start');
    writeFileSync(join(dir, 'a.flow'), broken);
    const run = laneflow(['fmt', '--write', join(dir, 'a.flow')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('error FZ102: unterminated string');
    expect(readFileSync(join(dir, 'a.flow'), 'utf8')).toBe(broken);
  });

  it('--renumber rewrites ids', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.flow'), canonical.replaceAll('n2', 'n9'));
    const run = laneflow(['fmt', '--renumber', join(dir, 'a.flow')]);
    expect(run.stdout).toBe(canonical);
  });
});
