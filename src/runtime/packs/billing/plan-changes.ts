import type { BillingService } from './billing-service';
import { creditBalance, postCredit } from './credits';
import { BillingError, BillingStateError } from './errors';
import { checkIdempotencyKey, derivedKey, stableId } from './idempotency';
import { formatMinorUnits, minorUnits, positiveMinorUnits } from './money';
import { enqueueEmail } from './outbox';
import { shareOf } from './proration';
import { type Database, immediately } from './sqlite';
import { getCustomer, getSubscription, setSubscriptionPlan } from './subscriptions';
import type { BillingClock, MinorUnits, OutboxEmail, PaymentOutcome, Subscription, TransitionResult } from './types';

/**
 * Plan changes a customer asks for, on top of `BillingService`: retention credits, downgrades
 * that take effect when the period ends, and closing a subscription with the account. Every
 * method with an effect takes the handler's idempotency key and writes its rows and its email in
 * one transaction, so running it again returns the first result.
 */

/** "`percentOff` % off the next `months` periods", paid out as credit that renewals spend first. */
export interface RetentionOffer {
  percentOff: number;
  months: number;
}

export interface RetentionCredit {
  subscriptionId: string;
  amount: MinorUnits;
  currency: string;
  /** The customer's credit balance after it. */
  balance: MinorUnits;
}

export type ScheduledChangeStatus = 'scheduled' | 'applied' | 'canceled';

/**
 * A downgrade waiting for the end of the period. It is applied one of two ways: if the next
 * period has not been billed yet, the subscription renews on the new plan (`renewed`); if it was
 * already billed at the old price, the unused difference becomes credit (`credited`).
 */
export interface ScheduledPlanChange {
  id: string;
  subscriptionId: string;
  fromPlanId: string;
  fromPrice: MinorUnits;
  toPlanId: string;
  toPrice: MinorUnits;
  currency: string;
  effectiveAt: number;
  status: ScheduledChangeStatus;
  appliedAs: 'renewed' | 'credited' | null;
  creditAdded: MinorUnits;
  amountCharged: MinorUnits;
  invoiceId: string | null;
  appliedAt: number | null;
}

/** What the lower plan takes away, as the warning email lists it. */
export interface PlanRestrictions {
  lostFeatures: string[];
  overLimits: { resource: string; used: number; limit: number }[];
}

const PLAN_CHANGES_SCHEMA = `
CREATE TABLE IF NOT EXISTS billing_retention_credits (
  idempotency_key TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL REFERENCES billing_subscriptions(id),
  percent_off INTEGER NOT NULL CHECK (percent_off BETWEEN 1 AND 100),
  months INTEGER NOT NULL CHECK (months BETWEEN 1 AND 24),
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS billing_scheduled_plan_changes (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  subscription_id TEXT NOT NULL REFERENCES billing_subscriptions(id),
  from_plan_id TEXT NOT NULL,
  from_price INTEGER NOT NULL,
  to_plan_id TEXT NOT NULL,
  to_price INTEGER NOT NULL CHECK (to_price > 0),
  currency TEXT NOT NULL,
  effective_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('scheduled', 'applied', 'canceled')),
  applied_as TEXT CHECK (applied_as IN ('renewed', 'credited')),
  credit_added INTEGER NOT NULL DEFAULT 0,
  amount_charged INTEGER NOT NULL DEFAULT 0,
  invoice_id TEXT,
  created_at INTEGER NOT NULL,
  applied_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS billing_scheduled_plan_changes_subscription ON billing_scheduled_plan_changes(subscription_id, status);
`;

interface ScheduledChangeRow {
  id: string;
  subscription_id: string;
  from_plan_id: string;
  from_price: number;
  to_plan_id: string;
  to_price: number;
  currency: string;
  effective_at: number;
  status: ScheduledChangeStatus;
  applied_as: 'renewed' | 'credited' | null;
  credit_added: number;
  amount_charged: number;
  invoice_id: string | null;
  applied_at: number | null;
}

export class PlanChangeService {
  constructor(
    private readonly billing: BillingService,
    private readonly db: Database,
    private readonly clock: BillingClock,
    private readonly emailFrom: string,
  ) {
    this.db.exec(PLAN_CHANGES_SCHEMA);
  }

  subscription(subscriptionId: string): Subscription {
    return getSubscription(this.db, subscriptionId);
  }

  creditBalance(subscriptionId: string): MinorUnits {
    const subscription = getSubscription(this.db, subscriptionId);
    return creditBalance(this.db, subscription.customerId, subscription.currency);
  }

  /**
   * Pays a retention offer out as credit: `months` × `percentOff` % of the current price, each
   * month's share rounded half-to-even to the minor unit. The next renewals spend it first.
   */
  grantRetentionCredit(subscriptionId: string, offer: RetentionOffer, idempotencyKey: string): RetentionCredit {
    checkIdempotencyKey(idempotencyKey);
    if (!Number.isInteger(offer.percentOff) || offer.percentOff < 1 || offer.percentOff > 100) throw new BillingError(`A retention offer takes 1 to 100 % off; got ${offer.percentOff}.`);
    if (!Number.isInteger(offer.months) || offer.months < 1 || offer.months > 24) throw new BillingError(`A retention offer lasts 1 to 24 months; got ${offer.months}.`);
    return immediately(this.db, () => {
      const subscription = getSubscription(this.db, subscriptionId);
      const done = this.db.prepare<[string], { amount: number }>('SELECT amount FROM billing_retention_credits WHERE idempotency_key = ?').get(idempotencyKey);
      if (done !== undefined) return this.retentionCredit(subscription, minorUnits(done.amount));
      if (subscription.state !== 'active') throw new BillingStateError(`Subscription ${subscriptionId} is ${subscription.state}; retention offers are for active subscriptions.`);
      const now = this.clock.now();
      const amount = minorUnits(shareOf(subscription.price, offer.percentOff, 100) * offer.months);
      postCredit(
        this.db,
        { customerId: subscription.customerId, currency: subscription.currency, amount, reason: `retention offer: ${offer.percentOff}% off for ${offer.months} months`, reference: idempotencyKey },
        derivedKey(idempotencyKey, 'credit'),
        now,
      );
      this.db
        .prepare('INSERT INTO billing_retention_credits (idempotency_key, subscription_id, percent_off, months, amount, currency, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(idempotencyKey, subscriptionId, offer.percentOff, offer.months, amount, subscription.currency, now);
      const price = formatMinorUnits(subscription.price, subscription.currency);
      this.queueEmail(subscription, {
        template: 'plans.retention_offer_applied',
        subject: `Thanks for staying: ${offer.percentOff}% off your next ${plural(offer.months, 'month')}`,
        text: `We added ${formatMinorUnits(amount, subscription.currency)} of credit to your account: ${offer.percentOff}% off ${offer.months} ${offer.months === 1 ? 'renewal' : 'renewals'} of your ${subscription.planId} plan at ${price}. Your next invoices use it up first.`,
      }, idempotencyKey, now);
      return this.retentionCredit(subscription, amount);
    });
  }

  /** Tells the customer what the lower plan takes away, before the change is scheduled. */
  warnRestrictions(subscriptionId: string, target: { planId: string }, restrictions: PlanRestrictions, idempotencyKey: string): OutboxEmail {
    checkIdempotencyKey(idempotencyKey);
    return immediately(this.db, () => {
      const subscription = getSubscription(this.db, subscriptionId);
      if (subscription.periodEnd === null) throw new BillingStateError(`Subscription ${subscriptionId} has no current period.`);
      const lines = [
        `Your ${subscription.planId} plan changes to ${target.planId} on ${utc(subscription.periodEnd)}, when the current period ends. Until then nothing changes.`,
        '',
      ];
      if (restrictions.lostFeatures.length > 0) lines.push(`These features stop working then: ${restrictions.lostFeatures.join(', ')}.`);
      for (const over of restrictions.overLimits) lines.push(`You use ${over.used} ${over.resource}; ${target.planId} allows ${over.limit}. The rest is archived, read-only, when the plan changes.`);
      if (restrictions.lostFeatures.length === 0 && restrictions.overLimits.length === 0) lines.push(`Everything you use today is included in ${target.planId}.`);
      return this.queueEmail(subscription, { template: 'plans.restriction_warning', subject: `What changes when you move to ${target.planId}`, text: lines.join('\n') }, idempotencyKey, this.clock.now());
    });
  }

  /** Records a downgrade to take effect when the current period ends. */
  scheduleDowngrade(subscriptionId: string, target: { planId: string; price: number }, idempotencyKey: string): ScheduledPlanChange {
    checkIdempotencyKey(idempotencyKey);
    const toPrice = positiveMinorUnits(target.price, 'price');
    return immediately(this.db, () => {
      const existing = this.db.prepare<[string], { id: string }>('SELECT id FROM billing_scheduled_plan_changes WHERE idempotency_key = ?').get(idempotencyKey);
      if (existing !== undefined) return this.scheduledChange(existing.id);
      const subscription = getSubscription(this.db, subscriptionId);
      if (subscription.state !== 'active' || subscription.periodEnd === null) throw new BillingStateError(`Subscription ${subscriptionId} is ${subscription.state}; only an active one is downgraded.`);
      if (toPrice >= subscription.price) throw new BillingStateError(`${target.planId} at ${toPrice} is no downgrade from ${subscription.planId} at ${subscription.price}.`);
      const now = this.clock.now();
      // One change waits per subscription: a newer request replaces an older one.
      this.db.prepare(`UPDATE billing_scheduled_plan_changes SET status = 'canceled' WHERE subscription_id = ? AND status = 'scheduled'`).run(subscriptionId);
      const id = stableId('chg', idempotencyKey);
      this.db
        .prepare(
          `INSERT INTO billing_scheduled_plan_changes
             (id, idempotency_key, subscription_id, from_plan_id, from_price, to_plan_id, to_price, currency, effective_at, status, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?)`,
        )
        .run(id, idempotencyKey, subscriptionId, subscription.planId, subscription.price, target.planId, toPrice, subscription.currency, subscription.periodEnd, now);
      return this.scheduledChange(id);
    });
  }

  scheduledChange(changeId: string): ScheduledPlanChange {
    const row = this.db.prepare<[string], ScheduledChangeRow>('SELECT * FROM billing_scheduled_plan_changes WHERE id = ?').get(changeId);
    if (row === undefined) throw new BillingError(`No scheduled plan change ${changeId}.`);
    return changeFromRow(row);
  }

  /** Whether the period that starts when the change takes effect has been invoiced already (at the old price). */
  nextPeriodBilled(changeId: string): boolean {
    const change = this.scheduledChange(changeId);
    const subscription = getSubscription(this.db, change.subscriptionId);
    return subscription.periodStart !== null && subscription.periodStart >= change.effectiveAt && subscription.planId === change.fromPlanId;
  }

  /**
   * The next period was billed at the old price: change the plan now, prorated. The unused part
   * of the old price, less the new price for the same time, goes to the credit balance.
   */
  async applyAsCredit(changeId: string, idempotencyKey: string): Promise<ScheduledPlanChange> {
    const change = this.pending(changeId);
    if (change.status === 'applied') return change;
    const outcome = await this.billing.changePlan(change.subscriptionId, { planId: change.toPlanId, price: change.toPrice }, idempotencyKey);
    if (outcome.status !== 'applied') throw new BillingStateError(`The downgrade of ${change.subscriptionId} came back ${outcome.status}.`);
    return immediately(this.db, () => {
      const now = this.clock.now();
      const subscription = getSubscription(this.db, change.subscriptionId);
      const credit = formatMinorUnits(outcome.creditAdded, change.currency);
      this.markApplied(changeId, { appliedAs: 'credited', creditAdded: outcome.creditAdded, amountCharged: minorUnits(0), invoiceId: null }, now);
      this.queueEmail(subscription, {
        template: 'plans.downgrade_applied',
        subject: `You are now on ${change.toPlanId}`,
        text: `Your plan changed from ${change.fromPlanId} to ${change.toPlanId}. This period was already billed at the ${change.fromPlanId} price, so we added the difference for the rest of it, ${credit}, to your credit balance.`,
      }, idempotencyKey, now);
      return this.scheduledChange(changeId);
    });
  }

  /** The next period is not billed yet: switch the plan and renew on it, spending credit first. */
  async applyByRenewal(changeId: string, idempotencyKey: string): Promise<{ change: ScheduledPlanChange; payment: PaymentOutcome }> {
    const change = this.pending(changeId);
    immediately(this.db, () => {
      const subscription = getSubscription(this.db, change.subscriptionId);
      if (subscription.planId === change.toPlanId) return;
      if (subscription.periodEnd !== change.effectiveAt) throw new BillingStateError(`Subscription ${change.subscriptionId} was renewed meanwhile; apply the change as credit.`);
      setSubscriptionPlan(this.db, change.subscriptionId, change.toPlanId, change.toPrice, this.clock.now());
    });
    const payment = await this.billing.renewSubscription(change.subscriptionId, idempotencyKey);
    return immediately(this.db, () => {
      const now = this.clock.now();
      if (this.scheduledChange(changeId).status !== 'applied') {
        const paid = payment.kind === 'paid';
        this.markApplied(changeId, { appliedAs: 'renewed', creditAdded: minorUnits(0), amountCharged: paid ? payment.amountCharged : minorUnits(0), invoiceId: 'invoiceId' in payment ? payment.invoiceId : null }, now);
        if (paid) {
          const charged = formatMinorUnits(payment.amountCharged, change.currency);
          const credit = payment.creditApplied > 0 ? ` after ${formatMinorUnits(payment.creditApplied, change.currency)} of credit` : '';
          this.queueEmail(getSubscription(this.db, change.subscriptionId), {
            template: 'plans.downgrade_applied',
            subject: `You are now on ${change.toPlanId}`,
            text: `Your plan changed from ${change.fromPlanId} to ${change.toPlanId} as the new period began. We charged ${charged}${credit} for it, the ${change.toPlanId} price.`,
          }, idempotencyKey, now);
        }
      }
      return { change: this.scheduledChange(changeId), payment };
    });
  }

  /** Ends the subscription at once (the account is closing) and drops any change waiting for it. */
  terminate(subscriptionId: string, reason: string, idempotencyKey: string): TransitionResult | null {
    return immediately(this.db, () => {
      const subscription = getSubscription(this.db, subscriptionId);
      const canceledHere = this.db.prepare('SELECT 1 FROM billing_transitions WHERE idempotency_key = ?').get(idempotencyKey) !== undefined;
      // Canceled by something else (retries that ran out): nothing left to end.
      if (subscription.state === 'canceled' && !canceledHere) return null;
      this.db.prepare(`UPDATE billing_scheduled_plan_changes SET status = 'canceled' WHERE subscription_id = ? AND status = 'scheduled'`).run(subscriptionId);
      return this.billing.cancelSubscription(subscriptionId, reason, idempotencyKey);
    });
  }

  private pending(changeId: string): ScheduledPlanChange {
    const change = this.scheduledChange(changeId);
    if (change.status === 'canceled') throw new BillingStateError(`The plan change ${changeId} was canceled.`);
    if (change.status === 'scheduled' && this.clock.now() < change.effectiveAt) throw new BillingStateError(`The plan change ${changeId} takes effect at ${utc(change.effectiveAt)}, not before.`);
    return change;
  }

  private markApplied(changeId: string, applied: { appliedAs: 'renewed' | 'credited'; creditAdded: MinorUnits; amountCharged: MinorUnits; invoiceId: string | null }, now: number): void {
    this.db
      .prepare(
        `UPDATE billing_scheduled_plan_changes SET status = 'applied', applied_as = ?, credit_added = ?, amount_charged = ?, invoice_id = ?, applied_at = ?
         WHERE id = ? AND status = 'scheduled'`,
      )
      .run(applied.appliedAs, applied.creditAdded, applied.amountCharged, applied.invoiceId, now, changeId);
  }

  private retentionCredit(subscription: Subscription, amount: MinorUnits): RetentionCredit {
    return { subscriptionId: subscription.id, amount, currency: subscription.currency, balance: creditBalance(this.db, subscription.customerId, subscription.currency) };
  }

  private queueEmail(subscription: Subscription, email: { template: string; subject: string; text: string }, idempotencyKey: string, now: number): OutboxEmail {
    const customer = getCustomer(this.db, subscription.customerId);
    return enqueueEmail(this.db, { ...email, from: this.emailFrom, to: customer.email }, derivedKey(idempotencyKey, 'email'), now).email;
  }
}

function changeFromRow(row: ScheduledChangeRow): ScheduledPlanChange {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    fromPlanId: row.from_plan_id,
    fromPrice: minorUnits(row.from_price),
    toPlanId: row.to_plan_id,
    toPrice: minorUnits(row.to_price),
    currency: row.currency,
    effectiveAt: row.effective_at,
    status: row.status,
    appliedAs: row.applied_as,
    creditAdded: minorUnits(row.credit_added),
    amountCharged: minorUnits(row.amount_charged),
    invoiceId: row.invoice_id,
    appliedAt: row.applied_at,
  };
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${count} ${word}s`;
}

/** "2025-03-04 09:30 UTC". */
function utc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
