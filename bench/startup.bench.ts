// CLI start-up, and what the V8 start-up snapshot does to it: `check`, `fmt` and `render` timed
// from the snapshot and without it, each pair interleaved run by run so that load from elsewhere
// on the machine falls on both alike; the launcher must take the faster way for each command.
// Beside them, where a cold start goes: Node.js alone, the CLI loaded from its bundle or from the
// snapshot with nothing to do (`--version`), and the command's own work after that.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchRow } from './table';
import { LAUNCHER, launcherUsesSnapshot, median, ms, root, spawnMs } from './measure';

const RUNS = 10;
const BLOB = `${root}dist/snapshot/laneflow.blob`;
/** How much slower than the other way the launcher's way may be and still count as the faster: the noise between two medians here. */
const TOLERANCE = 0.05;

interface Way {
  name: string;
  args: string[];
}

/** Medians of several ways of running a process, their runs interleaved, after one warm-up run of each. */
function interleaved(ways: Way[], runs: number): { ok: true; ms: number[] } | { ok: false; failure: string } {
  const times: number[][] = ways.map(() => []);
  for (let run = 0; run <= runs; run++) {
    for (const [index, way] of ways.entries()) {
      const timing = spawnMs(process.execPath, way.args);
      if (!timing.ok) return { ok: false, failure: `${way.name}: ${timing.failure}` };
      if (run > 0) times[index]!.push(timing.ms);
    }
  }
  return { ok: true, ms: times.map(median) };
}

const startupBench: Bench = async () => {
  const load = loadavg()[0]!.toFixed(2);
  if (!existsSync(BLOB)) {
    const missing = `unavailable: no ${BLOB} (npm run build makes it)`;
    return { title: 'CLI start-up and the start-up snapshot', rows: [{ measure: 'start-up snapshot', laneflow: missing, target: 'built', met: false }] };
  }
  const work = mkdtempSync(join(tmpdir(), 'laneflow-startup-bench-'));
  try {
    const commands: { command: string; args: string[] }[] = [
      { command: 'check', args: ['check', 'flows/plan-upgrade.flow'] },
      { command: 'fmt', args: ['fmt', 'flows/plan-upgrade.flow'] },
      { command: 'render', args: ['render', 'flows/webhook-integration.flow', '-o', join(work, 'seed.svg')] },
    ];
    const rows: BenchRow[] = [];
    const snapshotAt = ['--snapshot-blob', BLOB, 'bin/laneflow.js'];
    const plainAt = ['bin/laneflow.js'];

    // Every way in one interleaved round, so that the differences below are of times taken together.
    const ways: Way[] = [
      { name: 'node -e 0', args: ['-e', '0'] },
      { name: 'bundle --version', args: [...plainAt, '--version'] },
      { name: 'snapshot --version', args: [...snapshotAt, '--version'] },
      ...commands.flatMap(({ command, args }) => [
        { name: `${command} from the snapshot`, args: [...snapshotAt, ...args] },
        { name: `${command} without it`, args: [...plainAt, ...args] },
      ]),
    ];
    const timed = interleaved(ways, RUNS);
    if (!timed.ok) throw new Error(timed.failure);
    const [nodeMs, bundleMs, snapshotMs, ...pairs] = timed.ms as [number, number, number, ...number[]];
    rows.push(
      { measure: `Node.js alone: node -e 0 (median of ${RUNS})`, laneflow: ms(nodeMs) },
      { measure: '  + the CLI loaded from dist/cli.js: laneflow.js --version', laneflow: `${ms(bundleMs)} (+${ms(bundleMs - nodeMs)})` },
      { measure: '  + the CLI loaded from the snapshot: --snapshot-blob … --version', laneflow: `${ms(snapshotMs)} (+${ms(snapshotMs - nodeMs)})` },
    );

    for (const [index, { command, args }] of commands.entries()) {
      const fromSnapshot = pairs[2 * index]!;
      const without = pairs[2 * index + 1]!;
      const usesSnapshot = launcherUsesSnapshot(command);
      const [taken, other] = usesSnapshot ? [fromSnapshot, without] : [without, fromSnapshot];
      rows.push({
        measure: `${args.join(' ').replace(work, '<tmp>')} (median of ${RUNS})`,
        laneflow: `snapshot ${ms(fromSnapshot)}, without ${ms(without)}`,
        peer: 'launcher bin/laneflow takes',
        peerValue: usesSnapshot ? 'the snapshot' : 'bin/laneflow.js',
        target: `launcher's way ≤ other +${TOLERANCE * 100}%`,
        met: taken <= other * (1 + TOLERANCE),
      });
      rows.push({
        measure: `  its own work after start-up (minus --version)`,
        laneflow: `snapshot ${ms(fromSnapshot - snapshotMs)}, without ${ms(without - bundleMs)}`,
      });
    }
    const launcherCheck = spawnSync(LAUNCHER, ['check', 'flows/plan-upgrade.flow'], { cwd: root, encoding: 'utf8' });
    if (launcherCheck.status !== 0) throw new Error(`bin/laneflow check failed: ${launcherCheck.stderr}`);
    return {
      title: 'CLI start-up and the start-up snapshot',
      rows,
      notes: [
        `Wall time of a spawned process, warm file cache, from the project root; all ways interleaved run by run (one round runs each once). Load average (1 min) when the section started: ${load}.`,
        '"snapshot" runs `node --snapshot-blob dist/snapshot/laneflow.blob bin/laneflow.js …`, "without" runs `node bin/laneflow.js …`; the launcher row says which of the two bin/laneflow runs for the command here (its `sh -x` trace).',
        "A command's own work is its time minus the same way's `--version`: from the snapshot, the parser, svgdom and ELK are loaded and warmed at build time, but deserialising that larger heap is paid by every start.",
      ],
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};

export default startupBench;
