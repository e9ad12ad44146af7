import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { hasStackTrace, laneflow } from '../helpers/cli';

const folder = `${repoRoot}test/artifacts/cli-runtime/`;

function freshDb(name: string): string {
  mkdirSync(folder, { recursive: true });
  const db = `${folder}${name}.db`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
  return db;
}

describe('laneflow run / inspect / signal / retry / compile / types', () => {
  it('runs plan-upgrade.flow with its bindings and shows the timeline', () => {
    const db = freshDb('plan');
    const run = laneflow(['run', 'flows/plan-upgrade.flow', '--db', db, '--input', '{"creditCents": 250, "newPlan": "team"}']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // The run names the end it reached.
    const id = /^(\w+): completed at n\d+ "End"$/m.exec(run.stdout)?.[1];
    expect(id).toBeDefined();
    expect(run.stdout).toContain('"amountDueCents": 3250');

    const list = laneflow(['inspect', '--db', db]);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+plan-upgrade\\.flow\\s+completed`));
    expect(list.stdout).toContain('0 running, 1 completed, 0 failed');

    const timeline = laneflow(['inspect', id!.slice(0, 12), '--db', db]);
    expect(timeline.status).toBe(0);
    expect(timeline.stdout).toMatch(/n9 Credit balance available\?\s+PricingEngine\s+inline:Credit balance available\?\s+1\s+decided\s+label=Yes/);
    expect(timeline.stdout).toMatch(/n14 Charge prorated amount\s+Billing\s+\S+.*completed/);
    expect(timeline.stdout).toContain(`gateway.charge  ${id}:n14:1:gateway.charge`);

    const json = JSON.parse(laneflow(['inspect', id!, '--db', db, '--json']).stdout) as { status: string; journal: unknown[] };
    expect(json.status).toBe('completed');
    expect(json.journal.length).toBeGreaterThan(15);
  });

  it('keeps a failed instance as a dead letter that retry can resume', () => {
    const db = freshDb('dead-letter');
    const run = laneflow(['run', 'flows/plan-upgrade.flow', '--db', db, '--input', '{"newPlan": "platinum"}']);
    expect(run.status).toBe(1);
    const id = /^(\w+): failed: PlanError: no plan "platinum"/m.exec(run.stdout)?.[1];
    expect(id).toBeDefined();
    expect(laneflow(['inspect', '--db', db, '--status', 'failed']).stdout).toContain(`${id}`);
    const retried = laneflow(['retry', id!, '--db', db]);
    expect(retried.status).toBe(0);
    expect(retried.stdout).toContain('will be retried');
    const again = laneflow(['retry', id!, '--db', db]);
    expect(again.status).toBe(2);
    expect(again.stderr).toBe(`laneflow: instance ${id} is running; only failed instances can be retried\n`);
  });

  it('parks a waiting instance for the worker and takes signals for it', () => {
    const db = freshDb('signal');
    const started = laneflow(['run', 'flows/plan-upgrade.flow', '--db', db, '--detach']);
    expect(started.status).toBe(0);
    const id = /^(\w+): started/.exec(started.stdout)![1]!;
    // Nothing runs it yet, so no step waits: the signal is only buffered, and `signal` says so.
    const sent = laneflow(['signal', id, 'card-updated', '--payload', '{"last4":"4242"}', '--db', db]);
    expect(sent.status).toBe(0);
    expect(sent.stdout).toBe(`signal "card-updated" buffered for ${id}, not delivered: no step waits for a signal now; a step that waits for "card-updated" later gets it at once\n`);
    const bad = laneflow(['signal', id, 'x', '--payload', '{oops', '--db', db]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^laneflow: --payload is not valid JSON/);
    expect(hasStackTrace(bad.stderr)).toBe(false);
    const missing = laneflow(['signal', 'nope', 'x', '--db', db]);
    expect(missing.stderr).toBe('laneflow: no instance nope in this database\n');
  });

  it('prints the compiled machine, and the generated types', () => {
    const compiled = laneflow(['compile', 'flows/webhook-integration.flow']);
    expect(compiled.status).toBe(0);
    const machine = JSON.parse(compiled.stdout) as { nodes: Record<string, { branches?: unknown; handler?: string }>; loops: Record<string, { bound: number }> };
    expect(machine.nodes['n5']!.branches).toEqual([{ label: 'Yes', to: 'n6' }, { label: 'No', to: 'n15' }]);
    expect(machine.nodes['n4']!.handler).toBe('webhook.send');
    expect(machine.loops['loop1']!.bound).toBe(5);
    expect(compiled.stdout).not.toContain('"range"');

    const types = laneflow(['types', 'flows/plan-upgrade.flow', '--out', '-']);
    expect(types.status).toBe(0);
    expect(types.stdout).toBe(readFileSync(`${repoRoot}flows/plan-upgrade.flow.d.ts`, 'utf8'));
  });

  it('simulates a flow without bindings with --dry: steps pass, decisions take --branch, nothing is written', () => {
    mkdirSync(folder, { recursive: true });
    const flow = `${folder}unbound-webhook.flow`;
    writeFileSync(flow, readFileSync(`${repoRoot}flows/webhook-integration.flow`, 'utf8'));
    const happy = laneflow(['run', flow, '--dry']);
    expect(happy.status).toBe(0);
    expect(happy.stdout).toMatch(/status\s+completed/);
    expect(happy.stdout).toMatch(/n9 Signature valid\?\s+WebhookReceiver\s+dry\.branch\.n9\s+1\s+decided\s+label=Yes/);
    const rejected = laneflow(['run', flow, '--dry', '--branch', 'Signature valid?=no', '--branch', 'n5=No']);
    expect(rejected.status).toBe(1);
    expect(rejected.stdout).toContain('laneflow.LoopExhausted');
    expect(rejected.stdout.match(/n15 Add to retry queue/g)).toHaveLength(6);
    const wrong = laneflow(['run', flow, '--dry', '--branch', 'n9=Maybe']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toBe('laneflow: --branch n9=Maybe: n9 has the labels "Yes", "No"\n');
  });

  it('reports binding errors against the flow with their codes', () => {
    const run = laneflow(['run', 'flows/plan-upgrade.flow', '--bindings', 'flows/webhook-integration.bindings.ts', '--db', freshDb('unbound')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/flows\/webhook-integration\.bindings\.ts:\d+:\d+: error FZ405: flows\/webhook-integration\.bindings\.ts binds "Event occurs"/);
    expect(run.stderr).toMatch(/error FZ401: step n2 "Select new plan tier" has no handler/);
    expect(hasStackTrace(run.stderr)).toBe(false);
  });
});
