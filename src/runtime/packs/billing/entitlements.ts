import { durationMs } from './durations';
import { BillingConfigError } from './errors';
import type { Database } from './sqlite';
import type { DeclineClass, DunningCase, Entitlement, EntitlementChange, EntitlementLevel, EntitlementPolicy, Subscription } from './types';

/**
 * Payment-driven entitlements: what a customer may use follows from the subscription's state,
 * the class of the decline and how long it has been unpaid, instead of one delinquent flag that
 * treats last week's expired card like six months of non-payment.
 *
 * The defaults: a soft decline keeps full access for three days (most recover within the
 * first retries), then premium features are restricted, and access is suspended after a week.
 * An expired card gets a longer grace period, since the customer only has to type in a new
 * one: premium features go after four days. A hard decline suspends at once, as the billing
 * architecture note asks. `unpaid` is suspended; `canceled` and `draft` have no access.
 */
export const DEFAULT_ENTITLEMENT_POLICY: EntitlementPolicy = {
  soft_decline: { restrict_after: '72h', suspend_after: '168h' },
  expired_method: { restrict_after: '96h', suspend_after: '168h' },
  hard_decline: { restrict_after: '0h', suspend_after: '0h' },
};

const FEATURES: Record<EntitlementLevel, { core: boolean; premium: boolean }> = {
  full: { core: true, premium: true },
  restricted: { core: true, premium: false },
  suspended: { core: false, premium: false },
  none: { core: false, premium: false },
};

export function checkEntitlementPolicy(policy: EntitlementPolicy): EntitlementPolicy {
  for (const declineClass of ['soft_decline', 'hard_decline', 'expired_method'] as const) {
    const entry = policy[declineClass];
    if (entry === undefined) throw new BillingConfigError(`The entitlement policy has no entry for ${declineClass}.`);
    if (durationMs(entry.suspend_after) < durationMs(entry.restrict_after)) {
      throw new BillingConfigError(`${declineClass}: access cannot be suspended before premium features are restricted.`);
    }
  }
  return policy;
}

export interface EntitlementInput {
  subscription: Subscription;
  /** When the subscription entered its current state. */
  stateSince: number;
  /** The open (or exhausted) dunning case behind a past_due or unpaid state. */
  dunning: Pick<DunningCase, 'declineClass' | 'firstFailedAt'> | null;
  now: number;
}

/** The entitlement a subscription has at `now` under `policy`: pure, so a test can walk the clock through it. */
export function computeEntitlement(input: EntitlementInput, policy: EntitlementPolicy): Entitlement {
  const { subscription, stateSince, dunning, now } = input;
  const base = { subscriptionId: subscription.id, customerId: subscription.customerId };
  const at = (level: EntitlementLevel, reason: string, since: number, nextChangeAt: number | null): Entitlement => ({
    ...base,
    level,
    features: FEATURES[level],
    reason,
    since,
    nextChangeAt,
  });
  switch (subscription.state) {
    case 'draft':
      return at('none', 'not activated yet', stateSince, null);
    case 'canceled':
      return at('none', 'canceled', stateSince, null);
    case 'active':
      return at('full', 'paid', stateSince, null);
    case 'unpaid':
      return at('suspended', dunning === null ? 'unpaid' : `unpaid after ${label(dunning.declineClass)}`, stateSince, null);
    case 'past_due': {
      if (dunning === null) return at('full', 'past due', stateSince, null);
      const thresholds = policy[dunning.declineClass];
      const restrictAt = dunning.firstFailedAt + durationMs(thresholds.restrict_after);
      const suspendAt = dunning.firstFailedAt + durationMs(thresholds.suspend_after);
      const why = label(dunning.declineClass);
      if (now >= suspendAt) return at('suspended', `past due since ${iso(dunning.firstFailedAt)} (${why})`, suspendAt, null);
      if (now >= restrictAt) return at('restricted', `past due since ${iso(dunning.firstFailedAt)} (${why})`, restrictAt, suspendAt);
      return at('full', `past due, in grace (${why})`, stateSince, restrictAt);
    }
  }
}

function label(declineClass: DeclineClass): string {
  return declineClass.replace('_', ' ');
}

function iso(at: number): string {
  return new Date(at).toISOString();
}

interface EntitlementRow {
  subscription_id: string;
  customer_id: string;
  level: EntitlementLevel;
  reason: string;
  since: number;
  next_change_at: number | null;
}

interface ChangeRow {
  id: number;
  subscription_id: string;
  customer_id: string;
  from_level: EntitlementLevel | null;
  to_level: EntitlementLevel;
  reason: string;
  at: number;
}

/**
 * Stores `entitlement` and, when its level differs from the stored one, appends a change row:
 * the event stream consumers read (`listEntitlementChanges`) instead of polling a flag.
 * Recomputing the same level records nothing, so a refresh is idempotent without a key.
 */
export function storeEntitlement(db: Database, entitlement: Entitlement, now: number): EntitlementChange | null {
  const stored = db.prepare<[string], EntitlementRow>('SELECT * FROM billing_entitlements WHERE subscription_id = ?').get(entitlement.subscriptionId);
  db.prepare(
    `INSERT INTO billing_entitlements (subscription_id, customer_id, level, reason, since, next_change_at, updated_at)
     VALUES (@subscriptionId, @customerId, @level, @reason, @since, @nextChangeAt, @now)
     ON CONFLICT (subscription_id) DO UPDATE SET
       level = excluded.level, reason = excluded.reason, since = excluded.since,
       next_change_at = excluded.next_change_at, updated_at = excluded.updated_at`,
  ).run({ ...entitlement, now });
  if (stored !== undefined && stored.level === entitlement.level) return null;
  const result = db
    .prepare('INSERT INTO billing_entitlement_changes (subscription_id, customer_id, from_level, to_level, reason, at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(entitlement.subscriptionId, entitlement.customerId, stored?.level ?? null, entitlement.level, entitlement.reason, now);
  return {
    id: Number(result.lastInsertRowid),
    subscriptionId: entitlement.subscriptionId,
    customerId: entitlement.customerId,
    from: stored?.level ?? null,
    to: entitlement.level,
    reason: entitlement.reason,
    at: now,
  };
}

/** The stored entitlements of a customer's subscriptions. */
export function entitlementsForCustomer(db: Database, customerId: string): Entitlement[] {
  return db
    .prepare<[string], EntitlementRow>('SELECT * FROM billing_entitlements WHERE customer_id = ? ORDER BY subscription_id')
    .all(customerId)
    .map((row) => ({
      subscriptionId: row.subscription_id,
      customerId: row.customer_id,
      level: row.level,
      features: FEATURES[row.level],
      reason: row.reason,
      since: row.since,
      nextChangeAt: row.next_change_at,
    }));
}

/** Entitlement changes in the order they happened, after change `afterId` (for a consumer's cursor). */
export function listEntitlementChanges(db: Database, filter: { customerId?: string; afterId?: number } = {}): EntitlementChange[] {
  return db
    .prepare<{ customerId: string | null; afterId: number }, ChangeRow>(
      'SELECT * FROM billing_entitlement_changes WHERE (@customerId IS NULL OR customer_id = @customerId) AND id > @afterId ORDER BY id',
    )
    .all({ customerId: filter.customerId ?? null, afterId: filter.afterId ?? 0 })
    .map((row) => ({
      id: row.id,
      subscriptionId: row.subscription_id,
      customerId: row.customer_id,
      from: row.from_level,
      to: row.to_level,
      reason: row.reason,
      at: row.at,
    }));
}
