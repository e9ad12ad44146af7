import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { laneflow } from '../helpers/cli';

const canonical = 'A { # Lane A\n  n1: circle label:"Start"\n  n2: circle label:"End"\n\n  n1.handle(right) -> n2.handle(left)\n}\n';

describe('laneflow fmt --check on canonical files', () => {
  it('says the file is already formatted, not that it formatted it, and exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'laneflow-fmt-'));
    writeFileSync(join(dir, 'a.flow'), canonical);
    const run = laneflow(['fmt', '--check', join(dir, 'a.flow')]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('1 file already formatted\n');
  });

  it('counts every file of a folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'laneflow-fmt-'));
    writeFileSync(join(dir, 'a.flow'), canonical);
    writeFileSync(join(dir, 'b.flow'), canonical);
    const run = laneflow(['fmt', '--check', dir]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('all 2 files are formatted\n');
  });
});
