// `laneflow run flows/ --clock virtual`: the built CLI runs one instance of every flow in the
// folder on its sandbox defaults, in one database, and summarises each with its effects.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { hasStackTrace, laneflow } from '../helpers/cli';

const folder = `${repoRoot}test/artifacts/cli-run-folder/`;

function freshDb(name: string): string {
  mkdirSync(folder, { recursive: true });
  const db = `${folder}${name}.db`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
  return db;
}

const FLOWS = readdirSync(`${repoRoot}flows`).filter((name) => name.endsWith('.flow')).sort();

/** The summary block of one flow: from its `<name>.flow:` line to the next blank line. */
function block(stdout: string, flow: string): string {
  const start = stdout.indexOf(`${flow}: `);
  expect(start, `${flow} is summarised`).toBeGreaterThanOrEqual(0);
  const end = stdout.indexOf('\n\n', start);
  return stdout.slice(start, end === -1 ? undefined : end);
}

/** The kinds of the effects listed in a block, in order. */
function effectKinds(text: string): string[] {
  return [...text.matchAll(/^ {4}\d{4}-\d\d-\d\dT[\d:.]+Z {2}(\S+)/gm)].map((match) => match[1]!);
}

interface Journal {
  flow: string;
  journal: { node: string; outcome: string; detail?: { label?: string } }[];
}

let db: string;
let stdout: string;
let status: number | null;
/** Per flow file name, the nodes its instance went through (a decision as `node=label`). */
const routes = new Map<string, string[]>();

beforeAll(() => {
  db = freshDb('all');
  const run = laneflow(['run', 'flows/', '--clock', 'virtual', '--db', db], { env: { LANEFLOW_SMTP_URL: '' } });
  expect(run.stderr).toBe('');
  ({ stdout, status } = run);
  for (const match of stdout.matchAll(/^([\w-]+\.flow): (\w+) /gm)) {
    const details = JSON.parse(laneflow(['inspect', match[2]!, '--db', db, '--json']).stdout) as Journal;
    const visited = details.journal.filter((entry) => ['started', 'completed', 'decided', 'ended'].includes(entry.outcome));
    routes.set(match[1]!, visited.map((entry) => (entry.outcome === 'decided' ? `${entry.node}=${entry.detail?.label}` : entry.node)));
  }
});

describe('laneflow run <folder> --clock virtual', () => {
  it('runs every flow of flows/ to completion in one database and lists each one\'s effects', () => {
    expect(status).toBe(0);
    expect(stdout).toContain(`${FLOWS.length} flows in flows/: ${FLOWS.length} completed, 0 waiting, 0 failed (database ${db})`);
    for (const flow of FLOWS) {
      const summary = block(stdout, flow);
      expect(summary).toMatch(new RegExp(`^${flow.replace('.', '\\.')}: \\w+ completed at n\\d+ "[^"\\n]+"\\n(  sandbox: .*\\n)?  virtual time: \\S+Z → \\S+Z \\(.+\\)\\n  effects:\\n {4}\\d{4}-`));
      expect(effectKinds(summary).length, `${flow} lists effects`).toBeGreaterThan(0);
    }
    const instances = JSON.parse(laneflow(['inspect', '--db', db, '--json']).stdout) as { counts: Record<string, number>; instances: { flow: string }[] };
    expect(instances.counts).toMatchObject({ completed: FLOWS.length, running: 0, failed: 0 });
    expect(instances.instances.map((instance) => instance.flow.replace(/^flows\//, '')).sort()).toEqual(FLOWS);
  });

  it('takes each flow down the path its sandbox default sets up', () => {
    // No account named: a sandbox account without a subscription gets no offer, sits out the 14-day grace period unasked to undo, and is erased in one batch.
    expect(routes.get('account-deletion.flow')).toEqual(['n1', 'n2', 'n8=No', 'n12', 'n13', 'n14', 'n15=No', 'n17', 'n18=No', 'n19', 'n20', 'n6']);
    // A sandbox account's one key, never called after the notice: no reminder, revoked at the 7-day deadline, the audit chain intact.
    expect(routes.get('api-key-rotation.flow')).toEqual(['n1', 'n2', 'n4', 'n5', 'n10', 'n6', 'n7=No', 'n8', 'n9', 'n12', 'n3']);
    // "Product not received" on a delivered, used payment is contested; the issuer's 30 days of silence are a win.
    expect(routes.get('billing-dispute.flow')).toEqual(['n1', 'n4', 'n5', 'n10', 'n6', 'n7=Contest', 'n8', 'n2', 'n3=Won', 'n12', 'n14', 'n15']);
    // The sandbox card is declined twice for insufficient funds, then pays.
    expect(routes.get('payment-failure-recovery.flow')).toEqual(['n1', 'n2', 'n3', 'n4', 'n5=No', 'n7=Soft decline', 'n12', 'n8', 'n9', 'n10=No', 'n11=Yes', 'n18', 'n7=Soft decline', 'n12', 'n8', 'n9', 'n10=Yes', 'n15', 'n17', 'n20']);
    // A sandbox team subscription moving to pro: both retention offers go unanswered, the plan renews lower at the period end.
    expect(routes.get('plan-downgrade.flow')).toEqual(['n1', 'n2', 'n6', 'n12', 'n3', 'n13=No', 'n14=Yes', 'n12', 'n3', 'n13=No', 'n14=No', 'n16', 'n17', 'n7', 'n8', 'n9=No', 'n11', 'n18', 'n19', 'n5']);
    // The sandbox receiver verifies the signed POST, acknowledges it and hands the event back for processing.
    expect(routes.get('webhook-integration.flow')).toEqual(['n1', 'n2', 'n3', 'n4', 'n8', 'n9=Yes', 'n10', 'n11', 'n13', 'n18', 'n19', 'n20', 'n21', 'n7']);
    expect(routes.get('plan-upgrade.flow')).toContain('n14');
  });

  it('lists the effects the sandbox defaults make, with sandbox records named as such', () => {
    expect(effectKinds(block(stdout, 'account-deletion.flow'))).toEqual(['accounts.email']);
    expect(block(stdout, 'account-deletion.flow')).not.toContain(' to=');
    expect(block(stdout, 'api-key-rotation.flow')).toMatch(/accounts\.email +template=accounts\.api_key_rotation to=sandbox_acct_\w+@sandbox\.example\.com/);
    expect(effectKinds(block(stdout, 'billing-dispute.flow'))).toEqual(['disputes.chargeback', 'disputes.email']);
    expect(block(stdout, 'billing-dispute.flow')).toMatch(/dispute=sandbox_dp_\w+ reason=product_not_received amount="49\.00 USD" fee="15\.00 USD"/);
    expect(block(stdout, 'billing-dispute.flow')).toMatch(/template=disputes\.won to=sandbox\.merchant@example\.com/);
    expect(effectKinds(block(stdout, 'payment-failure-recovery.flow'))).toEqual(['billing.charge', 'billing.charge', 'billing.email', 'billing.charge', 'billing.email', 'billing.charge', 'billing.email']);
    const downgrade = block(stdout, 'plan-downgrade.flow');
    expect(downgrade).toMatch(/billing\.charge +purpose="sandbox activation" amount="79\.00 USD" status=succeeded/);
    expect(downgrade).toMatch(/plans\.email +template=plans\.restriction_warning to=sandbox\.customer@example\.com/);
    expect(downgrade).toMatch(/billing\.charge +purpose="downgrade renewal" amount="29\.00 USD" status=succeeded/);
    const webhook = block(stdout, 'webhook-integration.flow');
    expect(webhook).toMatch(/sandbox: the input names no webhook endpoint; (sandbox_webhook_\d+) was a receiver on http:\/\/127\.0\.0\.1:\d+\/sandbox-webhooks for this run/);
    expect(webhook).toMatch(/webhook\.attempt +id=\w+:webhook status=delivered attempts=1 statusCode=200 latencyMs=[\d.]+ endpoint=sandbox_webhook_\d+/);
  });

  it('exits 1 when an instance fails, and says which', () => {
    const run = laneflow(['run', 'flows', '--clock', 'virtual', '--db', freshDb('failing'), '--input', '{"newPlan": "platinum"}']);
    expect(run.status).toBe(1);
    expect(hasStackTrace(run.stdout + run.stderr)).toBe(false);
    expect(block(run.stdout, 'plan-upgrade.flow')).toMatch(/^plan-upgrade\.flow: \w+ failed: PlanError: no plan "platinum"/);
    expect(block(run.stdout, 'plan-downgrade.flow')).toMatch(/^plan-downgrade\.flow: \w+ failed: DowngradeError: no plan "platinum"/);
    expect(run.stdout).toMatch(/7 flows in flows: 5 completed, 0 waiting, 2 failed/);
  });
});

describe('laneflow run <file> with records named in the input', () => {
  it('invents nothing: an unknown account fails the first step and no sandbox account is opened', () => {
    const missing = freshDb('named-account');
    const run = laneflow(['run', 'flows/api-key-rotation.flow', '--clock', 'virtual', '--db', missing, '--input', '{"accountId": "acct_nobody"}']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^\w+: failed: HandlerInputError: account acct_nobody has no active API key to rotate/m);
    expect(run.stdout).not.toContain('sandbox_acct_');
  });

  it('invents no receiver for a named webhook endpoint: an unregistered one fails as before', () => {
    const run = laneflow(['run', 'flows/webhook-integration.flow', '--clock', 'virtual', '--db', freshDb('named-endpoint'), '--input', '{"endpoint": "acme"}']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^\w+: failed: WebhookUnknownEndpoint: No webhook endpoint "acme" is registered\./m);
    expect(run.stdout).not.toContain('sandbox');
  });
});
