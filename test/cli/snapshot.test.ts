// The launcher (bin/laneflow) starts `render`, `check` and `fmt` from the CLI's V8 start-up
// snapshot. A snapshot is the CLI frozen after a warm-up at build time, so the danger is state
// from the build leaking into a run: these tests compare every output of the snapshot with the
// plain CLI (`node bin/laneflow.js`), byte for byte, and check that the launcher really uses it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { hasStackTrace, laneflow, type CliRun } from '../helpers/cli';

const flows = readdirSync(join(repoRoot, 'flows'))
  .filter((name) => name.endsWith('.flow'))
  .map((name) => `flows/${name}`);

/** Runs the launcher under `sh -x`, whose trace shows the command it finally executes. */
function launcherCommand(args: string[], env: Record<string, string> = {}): string {
  const traced = spawnSync('sh', ['-x', join(repoRoot, 'bin/laneflow'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  expect(traced.status, traced.stderr).toBe(0);
  return traced.stderr.split('\n').filter((line) => line.startsWith('+ exec ')).join('\n');
}

function bothWays(args: string[], env: Record<string, string | undefined> = {}): { snapshot: CliRun; plain: CliRun } {
  return {
    snapshot: laneflow(args, { env, launcher: 'bin/laneflow' }),
    plain: laneflow(args, { env, launcher: 'bin/laneflow.js' }),
  };
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'laneflow-snapshot-'));
}

describe('the start-up snapshot', () => {
  it('is built for this Node.js, and the launcher starts render, check and fmt from it', () => {
    for (const command of ['render', 'check', 'fmt']) {
      expect(launcherCommand([command, '--help'])).toMatch(/^\+ exec \S+ --snapshot-blob \S+\/dist\/snapshot\/\d+-\d+-\d+\.blob \S+\/bin\/laneflow\.js /);
    }
  });

  it('is left out for the other commands, and when NODE_OPTIONS carries V8 flags it was not built with', () => {
    expect(launcherCommand(['inspect', '--help'])).not.toContain('--snapshot-blob');
    const withFlags = launcherCommand(['render', '--help'], { NODE_OPTIONS: '--max-old-space-size=300' });
    expect(withFlags).not.toContain('--snapshot-blob');
    expect(withFlags).toMatch(/^\+ exec node \S+\/bin\/laneflow\.js render --help$/);
    const rendered = laneflow(['render', 'flows/plan-upgrade.flow', '-o', '-'], { env: { NODE_OPTIONS: '--max-old-space-size=300' } });
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.stdout).toBe(laneflow(['render', 'flows/plan-upgrade.flow', '-o', '-'], { launcher: 'bin/laneflow.js' }).stdout);
  });

  it.each(flows)('renders %s byte for byte as the plain CLI does, in both themes', (flow) => {
    for (const theme of ['light', 'dark']) {
      const { snapshot, plain } = bothWays(['render', flow, '-o', '-', '--theme', theme]);
      expect(snapshot.status, snapshot.stderr).toBe(0);
      expect(snapshot.stdout).toMatch(/^<svg /);
      expect(snapshot).toEqual(plain);
    }
  });

  it('checks and formats like the plain CLI: diagnostics, code frames, colour, JSON and exit codes', () => {
    const folder = scratch();
    const broken = join(folder, 'broken.flow');
    writeFileSync(broken, 'Lane { # Lane\n  n1: circle label:"Start"\n  n1.handle(right) -> n9.handle(left)\n  n2: hexagon label:"What"\n}\n');
    for (const args of [['check', 'flows/'], ['check', broken], ['check', broken, '--format', 'json'], ['fmt', 'flows/plan-upgrade.flow'], ['fmt', '--check', 'flows/']]) {
      const { snapshot, plain } = bothWays(args);
      expect(snapshot, args.join(' ')).toEqual(plain);
    }
    // The snapshot was built without a terminal: colour must still follow the user's.
    const coloured = bothWays(['check', broken], { FORCE_COLOR: '1' });
    expect(coloured.snapshot.stdout).toContain('\u001b[');
    expect(coloured.snapshot).toEqual(coloured.plain);
    expect(bothWays(['check', broken]).snapshot.stdout).not.toContain('\u001b[');
  });

  it('writes PNGs, marks coverage and reports bad input without a stack trace', () => {
    const folder = scratch();
    const png = laneflow(['render', 'flows/plan-upgrade.flow', '-o', join(folder, 'plan.svg'), '--png', join(folder, 'plan.png')]);
    expect(png.status, png.stderr).toBe(0);
    expect(readFileSync(join(folder, 'plan.png')).subarray(1, 4).toString()).toBe('PNG');
    const covered = bothWays(['render', 'flows/webhook-integration.flow', '--coverage', '-o', '-']);
    expect(covered.snapshot.status, covered.snapshot.stderr).toBe(0);
    expect(covered.snapshot.stdout).toContain('data-highlight="taken"');
    expect(covered.snapshot.stdout).not.toContain('data-highlight="missed"');
    expect(covered.snapshot).toEqual(covered.plain);
    const missing = bothWays(['render', 'no-such.flow']);
    expect(missing.snapshot.status).toBe(2);
    expect(hasStackTrace(missing.snapshot.stderr)).toBe(false);
    expect(missing.snapshot).toEqual(missing.plain);
  });
});
