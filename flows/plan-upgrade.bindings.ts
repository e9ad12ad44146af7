// Handlers for plan-upgrade.flow: a customer moves to a dearer plan mid-period, pays the
// prorated difference (less any credit balance) and gets the new plan's features. Money is
// integer minor units (cents) throughout. The card gateway is simulated deterministically with
// the usual test card numbers: 4000000000000002 is declined, any other valid card is charged.
import { createHash } from 'node:crypto';
import { defineBindings } from '../src/runtime/define';
import type { Flow } from './plan-upgrade.flow';

const PLANS: Record<string, { priceCents: number; seats: number; apiCallsPerDay: number; features: string[] }> = {
  basic: { priceCents: 900, seats: 1, apiCallsPerDay: 1_000, features: ['projects'] },
  pro: { priceCents: 2_900, seats: 5, apiCallsPerDay: 50_000, features: ['projects', 'api', 'priority-support'] },
  team: { priceCents: 7_900, seats: 25, apiCallsPerDay: 500_000, features: ['projects', 'api', 'priority-support', 'sso', 'audit-log'] },
};

const DECLINED_CARD = '4000000000000002';

interface Card {
  number: string;
  expMonth: number;
  expYear: number;
}

interface PlanUpgradeData {
  customer: string;
  email: string;
  currentPlan: string;
  newPlan: string;
  /** Days left in the billing period, and its length. */
  daysRemaining: number;
  daysInPeriod: number;
  creditCents: number;
  /** Cards the customer enters, one per try. */
  cards: Card[];
  plan?: { from: string; to: string; fromPriceCents: number; toPriceCents: number };
  prorationCents?: number;
  creditAppliedCents?: number;
  amountDueCents?: number;
  quote?: string;
  paymentTries?: number;
  card?: { last4: string; valid: boolean; problem?: string };
  paymentErrors?: string[];
  charge?: { id: string; amountCents: number; status: 'succeeded' | 'declined' };
  failedCharges?: number;
  subscription?: { plan: string; seats: number };
  features?: string[];
  limits?: { seats: number; apiCallsPerDay: number };
  confirmation?: string;
}

class PlanError extends Error {
  override name = 'PlanError';
}

function planOf(name: string): (typeof PLANS)[string] {
  const plan = PLANS[name];
  if (plan === undefined) throw new PlanError(`no plan "${name}"; plans are ${Object.keys(PLANS).join(', ')}`);
  return plan;
}

function dollars(cents: number): string {
  return `$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

/** The Luhn checksum every card number carries. */
function luhnValid(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The input's fields, with defaults so that `laneflow run` works with no --input. */
function withDefaults(data: Partial<PlanUpgradeData>): PlanUpgradeData {
  return {
    customer: data.customer ?? 'cus_0001',
    email: data.email ?? 'ada@example.com',
    currentPlan: data.currentPlan ?? 'basic',
    newPlan: data.newPlan ?? 'pro',
    daysRemaining: data.daysRemaining ?? 15,
    daysInPeriod: data.daysInPeriod ?? 30,
    creditCents: data.creditCents ?? 0,
    cards: data.cards ?? [{ number: '4242424242424242', expMonth: 12, expYear: 2030 }],
    ...data,
  };
}

export default defineBindings<Flow, PlanUpgradeData>({
  nodes: {
    'Select new plan tier': {
      handler: (ctx) => {
        const data = withDefaults(ctx.data);
        const from = planOf(data.currentPlan);
        const to = planOf(data.newPlan);
        if (to.priceCents <= from.priceCents) throw new PlanError(`${data.newPlan} is not an upgrade from ${data.currentPlan}`);
        return { ...data, plan: { from: data.currentPlan, to: data.newPlan, fromPriceCents: from.priceCents, toPriceCents: to.priceCents } };
      },
      retry: false,
    },
    'Fetch current subscription': (ctx) => ({ subscription: { plan: ctx.data.currentPlan, seats: planOf(ctx.data.currentPlan).seats } }),
    'Calculate prorated amount': (ctx) => {
      const { plan, daysRemaining, daysInPeriod } = ctx.data;
      if (daysInPeriod <= 0 || daysRemaining < 0 || daysRemaining > daysInPeriod) throw new PlanError(`${daysRemaining} of ${daysInPeriod} days is no billing period`);
      // Rounded half up, in whole cents: the difference for the days left.
      const numerator = (plan!.toPriceCents - plan!.fromPriceCents) * daysRemaining;
      return { prorationCents: Math.floor((2 * numerator + daysInPeriod) / (2 * daysInPeriod)) };
    },
    'Credit balance available?': (ctx) => (ctx.data.creditCents > 0 ? 'Yes' : 'No'),
    'Apply credit to upgrade': (ctx) => {
      const applied = Math.min(ctx.data.creditCents, ctx.data.prorationCents!);
      return { creditAppliedCents: applied, creditCents: ctx.data.creditCents - applied, amountDueCents: ctx.data.prorationCents! - applied };
    },
    'Show full price': (ctx) => ({ creditAppliedCents: 0, amountDueCents: ctx.data.prorationCents! }),
    'Review price difference': (ctx) => {
      const { plan, amountDueCents, creditAppliedCents } = ctx.data;
      const credit = creditAppliedCents! > 0 ? ` after ${dollars(creditAppliedCents!)} credit` : '';
      return { quote: `${plan!.from} → ${plan!.to}: ${dollars(amountDueCents!)} now${credit}, then ${dollars(plan!.toPriceCents)} a month` };
    },
    'Enter payment details': (ctx) => {
      const tries = (ctx.data.paymentTries ?? 0) + 1;
      if (tries > ctx.data.cards.length) throw new PlanError(`the customer has no more cards to try after ${tries - 1}`);
      return { paymentTries: tries };
    },
    'Validate payment method': (ctx) => {
      const card = ctx.data.cards[ctx.data.paymentTries! - 1]!;
      const now = ctx.now();
      const last4 = card.number.slice(-4);
      const expired = card.expYear < now.getUTCFullYear() || (card.expYear === now.getUTCFullYear() && card.expMonth < now.getUTCMonth() + 1);
      if (!luhnValid(card.number)) return { card: { last4, valid: false, problem: 'the card number is mistyped' } };
      if (expired) return { card: { last4, valid: false, problem: `the card expired in ${card.expMonth}/${card.expYear}` } };
      return { card: { last4, valid: true, problem: null } };
    },
    'Payment valid?': (ctx) => (ctx.data.card!.valid ? 'Yes' : 'No'),
    'Return payment error': (ctx) => ({ paymentErrors: [...(ctx.data.paymentErrors ?? []), `card ending ${ctx.data.card!.last4}: ${ctx.data.card!.problem}`] }),
    'Charge prorated amount': {
      handler: (ctx) => {
        const card = ctx.data.cards[ctx.data.paymentTries! - 1]!;
        const amountCents = ctx.data.amountDueCents!;
        // The gateway dedupes on the idempotency key, so a retried visit charges once.
        const id = `ch_${createHash('sha256').update(ctx.idempotencyKey).digest('hex').slice(0, 16)}`;
        const status = card.number === DECLINED_CARD ? ('declined' as const) : ('succeeded' as const);
        ctx.emit('gateway.charge', { id, customer: ctx.data.customer, amountCents, currency: 'usd', idempotencyKey: ctx.idempotencyKey, status });
        return { charge: { id, amountCents, status } };
      },
      retry: { maxAttempts: 5, intervalSeconds: 2, backoffRate: 2, maxDelaySeconds: 60, jitterStrategy: 'FULL' },
    },
    'Charge successful?': (ctx) => (ctx.data.charge!.status === 'succeeded' ? 'Yes' : 'No'),
    'Log failed charge': (ctx) => ({ failedCharges: (ctx.data.failedCharges ?? 0) + 1 }),
    'Update subscription tier': (ctx) => ({ subscription: { plan: ctx.data.newPlan, seats: planOf(ctx.data.newPlan).seats }, currentPlan: ctx.data.newPlan }),
    'Enable premium features': (ctx) => ({ features: planOf(ctx.data.newPlan).features }),
    'Update usage limits': (ctx) => {
      const plan = planOf(ctx.data.newPlan);
      return { limits: { seats: plan.seats, apiCallsPerDay: plan.apiCallsPerDay } };
    },
    'Send upgrade email': (ctx) => {
      ctx.emit('email', {
        to: ctx.data.email,
        subject: `You are now on ${ctx.data.newPlan}`,
        body: `We charged ${dollars(ctx.data.charge!.amountCents)} to the card ending ${ctx.data.card!.last4}.`,
      });
    },
    'Receive upgrade confirmation': (ctx) => ({ confirmation: `${ctx.data.customer} upgraded to ${ctx.data.newPlan}; charge ${ctx.data.charge!.id}` }),
  },
});
