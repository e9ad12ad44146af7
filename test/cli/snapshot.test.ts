// The launcher (bin/laneflow) starts `render` from the CLI's V8 start-up snapshot, and `check`,
// `fmt` and the rest from bin/laneflow.js, which the startup benchmark found faster for them. A
// snapshot is the CLI frozen after a warm-up at build time, so the danger is state from the
// build leaking into a run: these tests compare every output of the snapshot with the plain CLI
// (`node bin/laneflow.js`), byte for byte, and check that the launcher uses it for render alone.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { hasStackTrace, laneflow, type CliRun } from '../helpers/cli';

const flows = readdirSync(join(repoRoot, 'flows'))
  .filter((name) => name.endsWith('.flow'))
  .map((name) => `flows/${name}`);

/** Runs a launcher under `sh -x`, whose trace shows the command it finally executes. */
function launcherCommand(launcher: string, args: string[], env: Record<string, string> = {}): { exec: string; stderr: string } {
  const traced = spawnSync('sh', ['-x', launcher, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', LANEFLOW_NO_SNAPSHOT: '', ...env } });
  const lines = traced.stderr.split('\n');
  return { exec: lines.filter((line) => line.startsWith('+ exec ')).join('\n'), stderr: lines.filter((line) => !line.startsWith('+')).join('\n') };
}

/** A copy of the launcher beside a stand-in dist/snapshot/, to see what it chooses. */
function fakeInstall(builder: string): { launcher: string; blob: string } {
  const folder = scratch();
  mkdirSync(join(folder, 'bin'));
  mkdirSync(join(folder, 'dist', 'snapshot'), { recursive: true });
  copyFileSync(join(repoRoot, 'bin/laneflow'), join(folder, 'bin/laneflow'));
  writeFileSync(join(folder, 'bin/laneflow.js'), '// a stand-in for the CLI, which does nothing\n');
  const blob = join(folder, 'dist/snapshot/laneflow.blob');
  writeFileSync(blob, 'a stand-in: the launcher only checks that it is there and how old it is');
  writeFileSync(join(folder, 'dist/snapshot/node'), `${builder}\n`);
  return { launcher: join(folder, 'bin/laneflow'), blob };
}

/** The snapshot through the launcher (render) or started directly (any command), beside the plain CLI. */
function bothWays(args: string[], env: Record<string, string | undefined> = {}, snapshotBy: 'launcher' | 'blob' = 'launcher'): { snapshot: CliRun; plain: CliRun } {
  return {
    snapshot: snapshotBy === 'launcher' ? laneflow(args, { env, launcher: 'bin/laneflow' }) : fromSnapshot(args, env),
    plain: laneflow(args, { env, launcher: 'bin/laneflow.js' }),
  };
}

/** The CLI started from the snapshot directly, as the launcher starts `render`, for any command. */
function fromSnapshot(args: string[], env: Record<string, string | undefined> = {}): CliRun {
  const blob = join(repoRoot, 'dist/snapshot/laneflow.blob');
  const merged: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, NODE_OPTIONS: undefined, ...env };
  const result = spawnSync(process.execPath, ['--snapshot-blob', blob, join(repoRoot, 'bin/laneflow.js'), ...args], {
    cwd: repoRoot,
    env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'laneflow-snapshot-'));
}

describe('the start-up snapshot', () => {
  it('is built for this Node.js, and the launcher starts render from it, check and fmt without it', () => {
    const launcher = join(repoRoot, 'bin/laneflow');
    expect(launcherCommand(launcher, ['render', '--help']).exec).toMatch(/^\+ exec \S+ --snapshot-blob \S+\/dist\/snapshot\/laneflow\.blob \S+\/bin\/laneflow\.js /);
    for (const command of ['check', 'fmt']) expect(launcherCommand(launcher, [command, '--help']).exec).toMatch(/^\+ exec node \S+\/bin\/laneflow\.js /);
    expect(readFileSync(join(repoRoot, 'dist/snapshot/node'), 'utf8')).toBe(`${process.execPath}\n`);
  });

  it('is used only with the Node.js binary that built it, unchanged since, without NODE_OPTIONS, and only for render', () => {
    const plain = /^\+ exec node \S+\/bin\/laneflow\.js /;
    const node = spawnSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
    const matching = fakeInstall(node);
    expect(launcherCommand(matching.launcher, ['render', '--help']).exec).toContain(`--snapshot-blob ${matching.blob.replace('/dist/', '/bin/../dist/')} `);
    for (const command of ['check', 'fmt', 'inspect']) expect(launcherCommand(matching.launcher, [command, '--help']).exec).toMatch(plain);
    expect(launcherCommand(matching.launcher, ['render', '--help'], { NODE_OPTIONS: '--max-old-space-size=300' }).exec).toMatch(plain);
    expect(launcherCommand(matching.launcher, ['render', '--help'], { LANEFLOW_NO_SNAPSHOT: '1' }).exec).toMatch(plain);
    // Built by another binary, or before this one was replaced in place.
    expect(launcherCommand(fakeInstall('/bin/sh').launcher, ['render', '--help']).exec).toMatch(plain);
    const stale = fakeInstall(node);
    utimesSync(stale.blob, new Date('2000-01-01'), new Date('2000-01-01'));
    expect(launcherCommand(stale.launcher, ['render', '--help']).exec).toMatch(plain);
    const none = fakeInstall(node);
    rmSync(join(none.blob, '..'), { recursive: true });
    const missing = launcherCommand(none.launcher, ['render', '--help']);
    expect(missing.exec).toMatch(plain);
    expect(missing.stderr.trim()).toBe('');
  });

  it('is not needed: with NODE_OPTIONS set the launcher renders the same through bin/laneflow.js', () => {
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

  it('started directly, checks and formats like the plain CLI: diagnostics, code frames, colour, JSON and exit codes', () => {
    const folder = scratch();
    const broken = join(folder, 'broken.flow');
    writeFileSync(broken, 'Lane { # Lane\n  n1: circle label:"Start"\n  n1.handle(right) -> n9.handle(left)\n  n2: hexagon label:"What"\n}\n');
    for (const args of [['check', 'flows/'], ['check', broken], ['check', broken, '--format', 'json'], ['fmt', 'flows/plan-upgrade.flow'], ['fmt', '--check', 'flows/']]) {
      const { snapshot, plain } = bothWays(args, {}, 'blob');
      expect(snapshot, args.join(' ')).toEqual(plain);
    }
    // render reports a file's errors as check does, through the launcher's snapshot.
    const reported = bothWays(['render', broken, '-o', '-']);
    expect(reported.snapshot.status).toBe(1);
    expect(reported.snapshot.stdout + reported.snapshot.stderr).toContain('n9');
    expect(reported.snapshot).toEqual(reported.plain);
    // The snapshot was built without a terminal: colour must still follow the user's.
    const coloured = bothWays(['check', broken], { FORCE_COLOR: '1' }, 'blob');
    expect(coloured.snapshot.stdout).toContain('\u001b[');
    expect(coloured.snapshot).toEqual(coloured.plain);
    expect(bothWays(['check', broken], {}, 'blob').snapshot.stdout).not.toContain('\u001b[');
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
    // Started by a relative path, as `bin/laneflow` from the repository: binding modules still load.
    const relative = spawnSync('bin/laneflow', ['render', 'flows/webhook-integration.flow', '--coverage', '-o', '-'], { cwd: repoRoot, encoding: 'utf8' });
    expect(relative.stdout).toBe(covered.plain.stdout);
    const missing = bothWays(['render', 'no-such.flow']);
    expect(missing.snapshot.status).toBe(2);
    expect(hasStackTrace(missing.snapshot.stderr)).toBe(false);
    expect(missing.snapshot).toEqual(missing.plain);
  });
});
