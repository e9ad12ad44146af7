import { afterEach, describe, expect, it } from 'vitest';
import { GatewayRequestError, IdempotencyConflictError, minorUnits, SandboxGateway, sandboxTestTokens } from '../../../src/runtime/packs/billing/index';
import { START, TestClock, tempDatabase } from './helpers';

describe('sandbox payment gateway', () => {
  const opened: Array<{ close(): void }> = [];
  afterEach(() => opened.splice(0).forEach((database) => database.close()));

  function gateway() {
    const database = tempDatabase();
    opened.push(database);
    const clock = new TestClock(START);
    return { gateway: new SandboxGateway(database.db, clock), db: database.db, clock };
  }

  async function chargeWith(subject: SandboxGateway, token: string, key: string, amount = 1_999) {
    const method = await subject.attachPaymentMethod({ customerId: 'cus_1', token }, `attach:${key}`);
    return subject.charge({ customerId: 'cus_1', paymentMethodId: method.id, amount: minorUnits(amount), currency: 'usd' }, key);
  }

  it.each([
    ['pm_card_visa', 'succeeded', null],
    ['pm_card_mastercard', 'succeeded', null],
    ['pm_card_chargeDeclined', 'failed', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'failed', 'insufficient_funds'],
    ['pm_card_chargeDeclinedLostCard', 'failed', 'lost_card'],
    ['pm_card_chargeDeclinedStolenCard', 'failed', 'stolen_card'],
    ['pm_card_chargeDeclinedFraudulent', 'failed', 'fraudulent'],
    ['pm_card_chargeDeclinedDoNotHonor', 'failed', 'do_not_honor'],
    ['pm_card_chargeDeclinedExpiredCard', 'failed', 'expired_card'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'failed', 'incorrect_cvc'],
    ['pm_card_chargeDeclinedProcessingError', 'failed', 'processing_error'],
  ])('%s charges as %s with decline code %s', async (token, status, declineCode) => {
    const { gateway: subject } = gateway();
    const result = await chargeWith(subject, token, `charge:${token}`);
    expect(result).toMatchObject({ status, declineCode, amount: 1_999, currency: 'usd', replayed: false });
    expect(result.message === null).toBe(status === 'succeeded');
    expect(subject.listCharges()).toHaveLength(1);
  });

  it('knows every test token it documents', () => {
    expect(sandboxTestTokens()).toContain('pm_card_chargeDeclinedInsufficientFunds');
    expect(sandboxTestTokens().length).toBeGreaterThanOrEqual(11);
  });

  it('records declined charges too, with their code', async () => {
    const { gateway: subject } = gateway();
    await chargeWith(subject, 'pm_card_chargeDeclinedStolenCard', 'k1');
    expect(subject.listCharges({ customerId: 'cus_1' })).toEqual([
      expect.objectContaining({ status: 'failed', declineCode: 'stolen_card', amount: 1_999 }),
    ]);
  });

  it('returns the first result for a repeated key without charging again', async () => {
    const { gateway: subject, clock } = gateway();
    const first = await chargeWith(subject, 'pm_card_visa', 'renewal-1');
    clock.advance(60_000);
    const again = await subject.charge({ customerId: 'cus_1', paymentMethodId: first.paymentMethodId, amount: minorUnits(1_999), currency: 'usd' }, 'renewal-1');
    expect(again).toEqual({ ...first, replayed: true });
    expect(subject.listCharges()).toHaveLength(1);
  });

  it('replays a decline under its key instead of asking the issuer again', async () => {
    const { gateway: subject } = gateway();
    const method = await subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_sandbox_declineFirst1_insufficient_funds' }, 'a');
    const request = { customerId: 'cus_1', paymentMethodId: method.id, amount: minorUnits(500), currency: 'usd' };
    const first = await subject.charge(request, 'k');
    const replay = await subject.charge(request, 'k');
    expect(first.status).toBe('failed');
    expect(replay).toEqual({ ...first, replayed: true });
    expect((await subject.charge(request, 'k2')).status).toBe('succeeded');
  });

  it('refuses a reused key with different parameters', async () => {
    const { gateway: subject } = gateway();
    const first = await chargeWith(subject, 'pm_card_visa', 'k');
    await expect(
      subject.charge({ customerId: 'cus_1', paymentMethodId: first.paymentMethodId, amount: minorUnits(2_000), currency: 'usd' }, 'k'),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(subject.listCharges()).toHaveLength(1);
  });

  it.each([12.5, 0, -100, Number.NaN, 2 ** 53])('rejects the amount %s before recording anything', async (amount) => {
    const { gateway: subject } = gateway();
    const method = await subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_card_visa' }, 'a');
    const request = { customerId: 'cus_1', paymentMethodId: method.id, amount: amount as ReturnType<typeof minorUnits>, currency: 'usd' };
    await expect(subject.charge(request, 'k')).rejects.toBeInstanceOf(GatewayRequestError);
    expect(subject.listCharges()).toHaveLength(0);
  });

  it('rejects an unknown token, a card of another customer and a bad currency', async () => {
    const { gateway: subject } = gateway();
    await expect(subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_card_nonsense' }, 'a')).rejects.toMatchObject({ code: 'resource_missing' });
    const method = await subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_card_visa' }, 'b');
    await expect(subject.charge({ customerId: 'cus_2', paymentMethodId: method.id, amount: minorUnits(100), currency: 'usd' }, 'c')).rejects.toMatchObject({
      code: 'payment_method_not_attached',
    });
    await expect(subject.charge({ customerId: 'cus_1', paymentMethodId: method.id, amount: minorUnits(100), currency: 'USD' }, 'd')).rejects.toMatchObject({
      code: 'parameter_invalid',
    });
  });

  it('attaches a token once per key', async () => {
    const { gateway: subject } = gateway();
    const first = await subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_card_visa' }, 'k');
    expect(await subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_card_visa' }, 'k')).toEqual(first);
    expect(first).toMatchObject({ brand: 'visa', last4: '4242', customerId: 'cus_1' });
    await expect(subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_card_mastercard' }, 'k')).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('scripts a card that declines the first two charges and then succeeds', async () => {
    const { gateway: subject } = gateway();
    const method = await subject.attachPaymentMethod({ customerId: 'cus_1', token: 'pm_sandbox_declineFirst2_insufficient_funds' }, 'a');
    const outcomes = [];
    for (const key of ['t1', 't2', 't3', 't4']) {
      const result = await subject.charge({ customerId: 'cus_1', paymentMethodId: method.id, amount: minorUnits(700), currency: 'usd' }, key);
      outcomes.push(result.declineCode ?? result.status);
    }
    expect(outcomes).toEqual(['insufficient_funds', 'insufficient_funds', 'succeeded', 'succeeded']);
  });

  it('stores amounts as integers that SQLite itself refuses to make fractional', () => {
    const { db } = gateway();
    expect(() =>
      db
        .prepare(
          `INSERT INTO billing_sandbox_charges (id, idempotency_key, request_hash, customer_id, payment_method_id, amount, currency, status, created_at)
           VALUES ('x', 'x', 'x', 'c', 'p', 12.5, 'usd', 'succeeded', 0)`,
        )
        .run(),
    ).toThrow(/cannot store REAL value in INTEGER column|datatype mismatch/i);
  });
});
