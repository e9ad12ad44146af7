// `laneflow run flows/payment-failure-recovery.flow --clock …`: the built CLI plays a recovery
// out on a virtual clock and lists its charges and emails with their times.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, laneflow } from '../helpers/cli';
import { type SmtpSink, startSmtpSink } from '../packs/billing/helpers';
import { FLOW, freshDb } from './payment-failure-recovery.helpers';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.stop());

const START = '2025-01-15T09:00:00Z';
/** No SMTP server, whatever the environment of the test run says. */
const NO_SMTP = { LANEFLOW_SMTP_URL: '' };

/** The effect lines of `laneflow run`'s output, without the charge ids. */
function effectLines(stdout: string): string[] {
  const section = stdout.slice(stdout.indexOf('effects:\n') + 'effects:\n'.length);
  return section
    .split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim().replace(/ chargeId=\S+/, '').replace(/\s+/g, ' '));
}

describe('laneflow run flows/payment-failure-recovery.flow', () => {
  it('plays the default story out on a virtual clock and lists its charges and emails, saying the emails were not sent without SMTP', () => {
    const run = laneflow(['run', FLOW, '--db', freshDb('cli-default'), '--clock', START], { env: NO_SMTP });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\w+: completed at n\d+ "[^"]+"$/m);
    expect(run.stdout).toContain('virtual clock: 2025-01-15T09:00:00.000Z → 2025-02-16T09:00:00.000Z\n');
    expect(run.stdout).toContain('"state": "active"');
    const notSent = 'status="not sent (no SMTP server: set LANEFLOW_SMTP_URL); kept in the outbox"';
    expect(effectLines(run.stdout)).toEqual([
      '2025-01-15T09:00:00.000Z billing.charge purpose=activation amount="25.00 USD" status=succeeded',
      '2025-02-15T09:00:00.000Z billing.charge purpose=renewal amount="25.00 USD" status=declined declineCode=insufficient_funds declineClass=soft_decline',
      `2025-02-15T09:00:00.000Z billing.email template=soft_decline.first_failure to=ada@example.com subject="Your payment of 25.00 USD did not go through" ${notSent}`,
      '2025-02-15T09:00:00.000Z billing.charge purpose=retry amount="25.00 USD" status=declined declineCode=insufficient_funds declineClass=soft_decline',
      `2025-02-15T09:00:00.000Z billing.email template=soft_decline.repeated_failure to=ada@example.com subject="Payment attempt 2 of 25.00 USD failed" ${notSent}`,
      '2025-02-16T09:00:00.000Z billing.charge purpose=retry amount="25.00 USD" status=succeeded',
      `2025-02-16T09:00:00.000Z billing.email template=payment_recovered to=ada@example.com subject="Payment received: 25.00 USD" ${notSent}`,
    ]);
  });

  it('sends the emails when LANEFLOW_SMTP_URL names a server, and takes the scenario card from --input', async () => {
    const input = JSON.stringify({ card: 'pm_card_chargeDeclinedStolenCard', email: 'cli@example.test', name: 'Cli' });
    const run = laneflow(['run', FLOW, '--db', freshDb('cli-smtp'), '--clock', START, '--input', input], { env: { LANEFLOW_SMTP_URL: `smtp://127.0.0.1:${sink.port}` } });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('"state": "unpaid"');
    expect(effectLines(run.stdout).slice(1)).toEqual([
      '2025-02-15T09:00:00.000Z billing.charge purpose=renewal amount="25.00 USD" status=declined declineCode=stolen_card declineClass=hard_decline',
      '2025-02-15T09:00:00.000Z billing.email template=hard_decline.suspended to=cli@example.test subject="Action required: your card was declined" status=sent',
    ]);
    const [received] = await sink.waitFor(1);
    expect(received).toMatchObject({ to: ['cli@example.test'], subject: 'Action required: your card was declined' });
  });

  it('refuses a --clock it cannot read in one sentence', () => {
    const run = laneflow(['run', FLOW, '--db', freshDb('cli-bad-clock'), '--clock', 'yesterday'], { env: NO_SMTP });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('laneflow: --clock must be wall, virtual or a UTC time such as 2025-01-15T09:00:00Z to start a virtual clock at, not "yesterday"\n');
    expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it('on the wall clock, leaves the instance asleep until the renewal for a worker', () => {
    const run = laneflow(['run', FLOW, '--db', freshDb('cli-wall')], { env: NO_SMTP });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\w+: running: n3 sleeping until \d{4}-\d\d-\d\dT/m);
    expect(run.stdout).not.toContain('virtual clock');
    expect(effectLines(run.stdout)).toHaveLength(1);
    expect(run.stdout).toContain('`laneflow worker --db');
  });
});
