// Rough edges a new user met with the runtime commands (issue 13): what `run` and `signal` say,
// databases a typo or a broken binding module left behind, a closed pipe, ISO times in
// `inspect --json`, and the worker's line per step.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { hasStackTrace, laneflow } from '../helpers/cli';
import { spawnWorker, waitFor } from '../helpers/worker';

const folder = mkdtempSync(join(tmpdir(), 'laneflow-first-day-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const APPROVAL = `Desk { # Desk
  n1: circle label:"Start"
  n2: rectangle label:"Await approval"
  n3: circle label:"Approved"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
}
`;

function project(name: string, bindings: string): { dir: string; flow: string; db: string } {
  const dir = join(folder, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'desk.flow'), APPROVAL);
  writeFileSync(join(dir, 'desk.bindings.mjs'), bindings);
  return { dir, flow: join(dir, 'desk.flow'), db: join(dir, 'desk.db') };
}

const WAITS = `export default { nodes: { n2: async (ctx) => { const r = await ctx.waitFor('approved'); return { approved: r.received }; } } };\n`;

describe('what the runtime commands tell a new user', () => {
  it('says which end `run` reached', () => {
    const { flow, db } = project('ends', 'export default { nodes: { n2: () => ({ ok: true }) } };\n');
    const run = laneflow(['run', flow, '--db', db]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\w+: completed at n3 "Approved"$/m);
  });

  it('says whether a signal resumed a waiting step or was only buffered, naming a likely misspelling', () => {
    const { flow, db } = project('signals', WAITS);
    const run = laneflow(['run', flow, '--db', db]);
    expect(run.status).toBe(0);
    const id = /^(\w+): running: n2 waiting for signal "approved"$/m.exec(run.stdout)![1]!;
    const typo = laneflow(['signal', id, 'aproved', '--db', db]);
    expect(typo.status).toBe(0);
    expect(typo.stdout).toBe(
      `signal "aproved" buffered for ${id}, not delivered: it waits for "approved" at n2 "Await approval" (did you mean \`approved\`?); a step that waits for "aproved" later gets it at once\n`,
    );
    const sent = laneflow(['signal', id, 'approved', '--db', db]);
    expect(sent.stdout).toBe(`signal "approved" sent to ${id}: n2 "Await approval" was waiting for it and resumes\n`);
  });

  it('refuses a --db in a folder that does not exist, making nothing', () => {
    const { flow, dir } = project('typo', 'export default { nodes: { n2: () => ({}) } };\n');
    const db = join(dir, 'no-such-folder', 'x.db');
    const run = laneflow(['run', flow, '--db', db]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`laneflow: there is no folder ${join(dir, 'no-such-folder')} for the database ${db}: create it first (only .laneflow/ is made when missing)\n`);
    expect(existsSync(join(dir, 'no-such-folder'))).toBe(false);
    const folderRun = laneflow(['run', dir, '--db', db, '--clock', 'virtual']);
    expect(folderRun.status).toBe(2);
    expect(existsSync(join(dir, 'no-such-folder'))).toBe(false);
  });

  it('leaves no database behind when the binding module does not load or does not bind, and points at the mistake', () => {
    const broken = project('broken', 'export default { nodes: { n2: () => ({ ok: true }) ;\n');
    const run = laneflow(['run', broken.flow, '--db', broken.db]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^laneflow: cannot load the binding module .*desk\.bindings\.mjs: .*desk\.bindings\.mjs:1:\d+: /);
    expect(hasStackTrace(run.stderr)).toBe(false);
    const detached = laneflow(['run', broken.flow, '--db', broken.db, '--detach']);
    expect(detached.status).toBe(2);
    const unbound = project('unbound', 'export default { nodes: { nope: () => ({}) } };\n');
    expect(laneflow(['run', unbound.flow, '--db', unbound.db]).status).toBe(1);
    for (const dir of [broken.dir, unbound.dir]) expect(readdirSync(dir).filter((f) => f.includes('.db'))).toEqual([]);
  });

  it('ends quietly when the reader of its output goes away', () => {
    const { flow, db } = project('pipe', 'export default { nodes: { n2: () => ({ ok: true }) } };\n');
    // `laneflow run … | true`: the reader exits without reading, so every write meets a closed pipe.
    for (const args of [['run', flow, '--db', db], ['inspect', '--db', db]]) {
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(`${repoRoot}bin/laneflow.js`)} ${args.map((a) => JSON.stringify(a)).join(' ')} | true; exit \${PIPESTATUS[0]}`;
      const piped = spawnSync('bash', ['-c', command], { encoding: 'utf8' });
      expect(piped.stderr).toBe('');
      expect(piped.status).toBe(0);
    }
  });

  it('gives every time in inspect --json as an ISO 8601 UTC string', () => {
    const { flow, db } = project('iso', WAITS);
    const id = /^(\w+):/.exec(laneflow(['run', flow, '--db', db]).stdout)![1]!;
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    const list = JSON.parse(laneflow(['inspect', '--db', db, '--json']).stdout) as { instances: { createdAt: string; updatedAt: string }[] };
    const one = JSON.parse(laneflow(['inspect', id, '--db', db, '--json']).stdout) as { createdAt: string; updatedAt: string; journal: { at: string }[] };
    for (const instance of [list.instances[0]!, one]) {
      expect(instance.createdAt).toMatch(iso);
      expect(instance.updatedAt).toMatch(iso);
    }
    expect(one.journal.length).toBeGreaterThan(0);
    for (const entry of one.journal) expect(entry.at).toMatch(iso);
  });
});

describe('the worker log', () => {
  it('writes a JSON line per step when its standard error is not a terminal, and lines for a person with --log pretty', async () => {
    const { flow, db } = project('log', 'export default { nodes: { n2: { handler: () => { throw new Error("partner down"); }, retry: false } } };\n');
    for (let i = 0; i < 2; i++) expect(laneflow(['run', flow, '--db', db, '--detach']).status).toBe(0);
    const json = spawnWorker(db, ['--poll', '50']);
    await waitFor(() => json.log().includes('"outcome":"dead-letter"') && json.log().split('"dead-letter"').length === 3, 15_000, 'two dead letters logged');
    json.kill('SIGTERM');
    expect(await json.exited).toBe(0);
    const lines = json.log().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const steps = lines.filter((line) => line['step'] === true);
    expect(steps).toHaveLength(2);
    for (const step of steps) {
      expect(step).toMatchObject({ node: 'n2', attempt: 1, outcome: 'dead-letter', level: 50 });
      expect(typeof step['ms']).toBe('number');
      expect(step['msg']).toMatch(/^\w+ n2 Await approval attempt 1: dead-letter \(Error: partner down\) in \d+\.\d ms$/);
    }
    expect(lines.every((line) => typeof line['time'] === 'string')).toBe(true);

    const again = project('log-pretty', 'export default { nodes: { n2: () => ({ ok: true }) } };\n');
    expect(laneflow(['run', again.flow, '--db', again.db, '--detach']).status).toBe(0);
    const pretty = spawnWorker(again.db, ['--log', 'pretty', '--poll', '50']);
    await waitFor(() => pretty.log().includes('completed in'), 15_000, 'the step logged');
    pretty.kill('SIGTERM');
    expect(await pretty.exited).toBe(0);
    expect(pretty.log()).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: \w+ n2 Await approval attempt 1: completed in \d+\.\d ms$/m);
    expect(pretty.log()).not.toContain('{');
  });
});
