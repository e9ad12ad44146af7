import { BillingError, BillingStateError, IdempotencyConflictError, NotFoundError } from './errors';
import { checkIdempotencyKey, fingerprint, stableId } from './idempotency';
import { currencyCode, positiveMinorUnits } from './money';
import { type Database, immediately } from './sqlite';
import { assertTransition } from './subscription-machine';
import type { BillingInterval, Customer, MinorUnits, Subscription, SubscriptionState, TransitionRecord, TransitionResult } from './types';

/** Customers, subscriptions and the state machine's transitions, as stored. */

interface CustomerRow {
  id: string;
  request_hash: string;
  email: string;
  name: string;
  default_payment_method_id: string | null;
  created_at: number;
}

interface SubscriptionRow {
  id: string;
  request_hash: string;
  customer_id: string;
  state: SubscriptionState;
  plan_id: string;
  price: number;
  currency: string;
  interval_unit: BillingInterval['unit'];
  interval_count: number;
  anchor_at: number | null;
  period_index: number;
  period_start: number | null;
  period_end: number | null;
  created_at: number;
  updated_at: number;
}

interface TransitionRow {
  idempotency_key: string;
  subscription_id: string;
  from_state: SubscriptionState;
  to_state: SubscriptionState;
  reason: string;
  at: number;
}

export interface NewCustomer {
  email: string;
  name: string;
}

export interface NewSubscription {
  customerId: string;
  planId: string;
  price: number;
  currency: string;
  interval: BillingInterval;
}

export function createCustomer(db: Database, input: NewCustomer, idempotencyKey: string, now: number): Customer {
  checkIdempotencyKey(idempotencyKey);
  if (!/^[^\s@]+@[^\s@]+$/.test(input.email)) throw new BillingError(`Not an email address: ${JSON.stringify(input.email)}.`);
  const requestHash = fingerprint(input);
  return immediately(db, () => {
    const existing = db.prepare<[string], CustomerRow>('SELECT * FROM billing_customers WHERE idempotency_key = ?').get(idempotencyKey);
    if (existing !== undefined) {
      if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(idempotencyKey, 'customer');
      return customerFromRow(existing);
    }
    const id = stableId('cus', idempotencyKey);
    db.prepare(
      `INSERT INTO billing_customers (id, idempotency_key, request_hash, email, name, default_payment_method_id, created_at)
       VALUES (?, ?, ?, ?, ?, NULL, ?)`,
    ).run(id, idempotencyKey, requestHash, input.email, input.name, now);
    return getCustomer(db, id);
  });
}

export function getCustomer(db: Database, customerId: string): Customer {
  const row = db.prepare<[string], CustomerRow>('SELECT * FROM billing_customers WHERE id = ?').get(customerId);
  if (row === undefined) throw new NotFoundError('customer', customerId);
  return customerFromRow(row);
}

export function setDefaultPaymentMethod(db: Database, customerId: string, paymentMethodId: string): void {
  db.prepare('UPDATE billing_customers SET default_payment_method_id = ? WHERE id = ?').run(paymentMethodId, customerId);
}

/** A subscription starts as a draft; activating it (the first successful charge) starts its first period. */
export function createSubscription(db: Database, input: NewSubscription, idempotencyKey: string, now: number): Subscription {
  checkIdempotencyKey(idempotencyKey);
  const price = positiveMinorUnits(input.price, 'price');
  const currency = currencyCode(input.currency);
  if (!Number.isInteger(input.interval.count) || input.interval.count < 1) throw new BillingError('A billing interval counts at least one unit.');
  const requestHash = fingerprint({ ...input, price, currency });
  return immediately(db, () => {
    const existing = db.prepare<[string], SubscriptionRow>('SELECT * FROM billing_subscriptions WHERE idempotency_key = ?').get(idempotencyKey);
    if (existing !== undefined) {
      if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(idempotencyKey, 'subscription');
      return subscriptionFromRow(existing);
    }
    getCustomer(db, input.customerId);
    const id = stableId('sub', idempotencyKey);
    db.prepare(
      `INSERT INTO billing_subscriptions
         (id, idempotency_key, request_hash, customer_id, state, plan_id, price, currency, interval_unit, interval_count, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(id, idempotencyKey, requestHash, input.customerId, input.planId, price, currency, input.interval.unit, input.interval.count, now, now);
    return getSubscription(db, id);
  });
}

export function getSubscription(db: Database, subscriptionId: string): Subscription {
  const row = db.prepare<[string], SubscriptionRow>('SELECT * FROM billing_subscriptions WHERE id = ?').get(subscriptionId);
  if (row === undefined) throw new NotFoundError('subscription', subscriptionId);
  return subscriptionFromRow(row);
}

export function listSubscriptions(db: Database, customerId: string): Subscription[] {
  return db
    .prepare<[string], SubscriptionRow>('SELECT * FROM billing_subscriptions WHERE customer_id = ? ORDER BY created_at, id')
    .all(customerId)
    .map(subscriptionFromRow);
}

/** Moves the subscription to its period `index`; the caller has checked that this is the next one. */
export function setSubscriptionPeriod(db: Database, subscriptionId: string, period: { anchorAt: number; index: number; start: number; end: number }, now: number): void {
  db.prepare('UPDATE billing_subscriptions SET anchor_at = ?, period_index = ?, period_start = ?, period_end = ?, updated_at = ? WHERE id = ?').run(
    period.anchorAt,
    period.index,
    period.start,
    period.end,
    now,
    subscriptionId,
  );
}

export function setSubscriptionPlan(db: Database, subscriptionId: string, planId: string, price: MinorUnits, now: number): void {
  db.prepare('UPDATE billing_subscriptions SET plan_id = ?, price = ?, updated_at = ? WHERE id = ?').run(planId, price, now, subscriptionId);
}

export interface TransitionRequest {
  subscriptionId: string;
  to: SubscriptionState;
  reason: string;
}

/**
 * Moves a subscription along one edge of the state machine, once per idempotency key. The same
 * key again returns the first result (`replayed: true`) whatever the state is now; a new key
 * checks the edge against the current state and writes with `WHERE state = <the state read>`
 * inside an immediate transaction, so of two racing transitions from one state exactly one
 * wins and the other gets an `InvalidTransitionError` naming the state it actually found.
 */
export function transitionSubscription(db: Database, request: TransitionRequest, idempotencyKey: string, now: number): TransitionResult {
  checkIdempotencyKey(idempotencyKey);
  return immediately(db, () => {
    const earlier = db.prepare<[string], TransitionRow>('SELECT * FROM billing_transitions WHERE idempotency_key = ?').get(idempotencyKey);
    if (earlier !== undefined) {
      if (earlier.subscription_id !== request.subscriptionId || earlier.to_state !== request.to) {
        throw new IdempotencyConflictError(idempotencyKey, 'subscription transition');
      }
      return { ...transitionFromRow(earlier), replayed: true };
    }
    const subscription = getSubscription(db, request.subscriptionId);
    assertTransition(subscription.id, subscription.state, request.to);
    const written = db
      .prepare('UPDATE billing_subscriptions SET state = ?, updated_at = ? WHERE id = ? AND state = ?')
      .run(request.to, now, subscription.id, subscription.state);
    if (written.changes !== 1) throw new BillingStateError(`Subscription ${subscription.id} changed state while it was being moved to ${request.to}.`);
    const seq = db.prepare<[string], { seq: number }>('SELECT coalesce(max(seq), 0) + 1 AS seq FROM billing_transitions WHERE subscription_id = ?').get(subscription.id)!.seq;
    db.prepare(
      `INSERT INTO billing_transitions (idempotency_key, seq, subscription_id, from_state, to_state, reason, at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(idempotencyKey, seq, subscription.id, subscription.state, request.to, request.reason, now);
    return {
      subscriptionId: subscription.id,
      from: subscription.state,
      to: request.to,
      reason: request.reason,
      at: now,
      idempotencyKey,
      replayed: false,
    };
  });
}

/** The subscription's history of transitions, oldest first. */
export function listTransitions(db: Database, subscriptionId: string): TransitionRecord[] {
  return db
    .prepare<[string], TransitionRow>('SELECT * FROM billing_transitions WHERE subscription_id = ? ORDER BY seq')
    .all(subscriptionId)
    .map(transitionFromRow);
}

function customerFromRow(row: CustomerRow): Customer {
  return { id: row.id, email: row.email, name: row.name, defaultPaymentMethodId: row.default_payment_method_id, createdAt: row.created_at };
}

function subscriptionFromRow(row: SubscriptionRow): Subscription {
  return {
    id: row.id,
    customerId: row.customer_id,
    state: row.state,
    planId: row.plan_id,
    price: row.price as MinorUnits,
    currency: row.currency,
    interval: { unit: row.interval_unit, count: row.interval_count },
    anchorAt: row.anchor_at,
    periodIndex: row.period_index,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function transitionFromRow(row: TransitionRow): TransitionRecord {
  return {
    subscriptionId: row.subscription_id,
    from: row.from_state,
    to: row.to_state,
    reason: row.reason,
    at: row.at,
    idempotencyKey: row.idempotency_key,
  };
}
