// The database on a full disk, and on a read-only file system: every command that cannot
// write says so in one sentence and exits 2, as the README promises (exactly 2, not any
// failure); what was committed before stays intact and the file passes SQLite's integrity
// check. Uses a real tmpfs (the check runs as root, as CI does).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ReliabilityRow, ReliabilitySection } from './table';

const FLOW = 'flows/plan-upgrade.flow';

function laneflow(args: string[]) {
  return spawnSync(process.execPath, ['bin/laneflow.js', ...args], { encoding: 'utf8', timeout: 60_000 });
}

function oneSentence(stderr: string): boolean {
  const lines = stderr.trim().split('\n');
  return lines.length === 1 && lines[0]!.startsWith('laneflow: ') && !/\n\s+at /.test(stderr);
}

function inspectDatabase(path: string): { integrity: string; completed: number } {
  const db = new Database(path, { readonly: true });
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check;
    const completed = (db.prepare("SELECT count(*) AS n FROM instances WHERE status = 'completed'").get() as { n: number }).n;
    return { integrity, completed };
  } finally {
    db.close();
  }
}

export default async function storage(): Promise<ReliabilitySection> {
  const mountpoint = mkdtempSync(join(tmpdir(), 'laneflow-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountpoint], { stdio: 'pipe' });
  } catch (error) {
    const note = `not run: cannot mount a tmpfs here (${String(error).split('\n')[0]})`;
    return { title: 'storage', rows: [{ check: 'disk full', cases: 0, faults: 0, lost: 0, duplicates: 0, ok: false, note }] };
  }
  const rows: ReliabilityRow[] = [];
  const db = join(mountpoint, 'laneflow.db');
  try {
    // Fill the disk with real runs until one fails.
    let runs = 0;
    let failure: ReturnType<typeof laneflow> | undefined;
    while (failure === undefined && runs < 200) {
      const run = laneflow(['run', FLOW, '--db', db]);
      if (run.status === 0) runs++;
      else failure = run;
    }
    const full = inspectDatabase(db);
    rows.push({
      check: 'disk full during `laneflow run`',
      cases: runs + 1,
      faults: 1,
      lost: runs - full.completed,
      duplicates: Math.max(0, full.completed - runs),
      ok: failure !== undefined && failure.status === 2 && oneSentence(failure.stderr) && full.integrity === 'ok' && full.completed === runs,
      note: failure === undefined ? 'the disk never filled' : `exit ${failure.status}: "${failure.stderr.trim()}"; integrity ${full.integrity}; ${full.completed}/${runs} earlier runs intact`,
    });

    execFileSync('mount', ['-o', 'remount,ro', mountpoint]);
    for (const args of [['run', FLOW, '--db', db], ['retry', 'nonexistent', '--db', db]]) {
      const result = laneflow(args);
      const after = inspectDatabase(db);
      rows.push({
        check: `read-only file system: \`laneflow ${args[0]}\``,
        cases: 1,
        faults: 1,
        lost: runs - after.completed,
        duplicates: 0,
        ok: result.status === 2 && oneSentence(result.stderr) && after.integrity === 'ok' && after.completed === runs,
        note: `exit ${result.status}: "${result.stderr.trim()}"; integrity ${after.integrity}`,
      });
    }
  } finally {
    execFileSync('umount', [mountpoint]);
  }
  return { title: 'storage', rows };
}
