// Handlers for plan-downgrade.flow: a customer asks to move to a cheaper plan. Retention comes
// first, with up to two offers (the loop's "up to 2"), paid as billing credit if one is taken.
// Otherwise the customer is told what the lower plan takes away, and the change is scheduled
// for the end of the period: the flow sleeps until then on a durable timer. If the next period
// has not been billed yet, the subscription renews on the lower plan; if it was already billed
// at the old price, the plan changes prorated and the unused difference becomes credit, in
// integer minor units. Projects over the new limit are then archived, least recently used first.
import { defineBindings, type Duration } from '../src/runtime/define';
import type { Flow } from './plan-downgrade.flow';

/** The signal the offer page sends with `{ accepted: boolean }`. */
export const RETENTION_RESPONSE = 'retention.response';

interface Plan {
  price: number;
  seats: number;
  projects: number;
  storageGb: number;
  features: string[];
}

export const PLANS: Record<string, Plan> = {
  basic: { price: 900, seats: 1, projects: 5, storageGb: 10, features: ['projects'] },
  pro: { price: 2_900, seats: 5, projects: 50, storageGb: 100, features: ['projects', 'api', 'priority-support'] },
  team: { price: 7_900, seats: 25, projects: 500, storageGb: 1_000, features: ['projects', 'api', 'priority-support', 'sso', 'audit-log'] },
};

/**
 * What a sandbox run asks for when the input names no subscription: "Load subscription" then
 * opens a sandbox team subscription, and the request moves it to pro with a usage over pro's
 * seats and projects, so the restrictions, the archiving and the seat cut all have work to do.
 */
const SANDBOX_REQUEST = {
  newPlan: 'pro',
  usage: {
    seats: 8,
    storageGb: 40,
    projects: Array.from({ length: 52 }, (_, index) => ({ name: `sandbox_project_${String(index + 1).padStart(2, '0')}`, updatedAt: Date.UTC(2024, 0, 1 + index) })),
  },
};

/** The offers in the order they are made: a discount first, a deeper and shorter one second. */
const RETENTION_OFFERS = [
  { percentOff: 25, months: 3 },
  { percentOff: 50, months: 2 },
];

interface PlanDowngradeData {
  subscriptionId: string;
  newPlan: string;
  usage: { seats: number; storageGb: number; projects: { name: string; updatedAt: number }[] };
  offerTimeout?: Duration;
  targetPlan?: { id: string; price: number };
  subscription?: { id: string; planId: string; price: number; currency: string; state: string; periodStart: number; periodEnd: number };
  creditBalance?: number;
  retentionOffer?: { percentOff: number; months: number };
  offerResponse?: 'accepted' | 'declined' | 'no answer';
  offersDeclined?: number;
  retentionCredit?: { amount: number; currency: string; balance: number };
  restrictions?: { lostFeatures: string[]; overLimits: { resource: string; used: number; limit: number }[] };
  scheduledChange?: { id: string; effectiveAt: number; nextPeriodBilled?: boolean };
  downgrade?: { appliedAs: 'renewed' | 'credited'; planId: string; creditAdded?: number; amountCharged?: number; payment?: string };
  migration?: { archivedProjects: string[]; seatsToRemove: number };
  entitlements?: { plan: string; features: string[]; limits: { seats: number; projects: number; storageGb: number } };
}

class DowngradeError extends Error {
  override name = 'DowngradeError';
}

function planOf(name: string): Plan {
  const plan = PLANS[name];
  if (plan === undefined) throw new DowngradeError(`no plan "${name}"; plans are ${Object.keys(PLANS).join(', ')}`);
  return plan;
}

/** The projects beyond `limit`, least recently updated first: those are archived. */
function projectsOverLimit(projects: PlanDowngradeData['usage']['projects'], limit: number): string[] {
  const oldestFirst = [...projects].sort((a, b) => a.updatedAt - b.updatedAt || a.name.localeCompare(b.name));
  return oldestFirst.slice(0, Math.max(0, projects.length - limit)).map((project) => project.name);
}

export default defineBindings<Flow, PlanDowngradeData>({
  nodes: {
    'Request downgrade': {
      handler: ({ data }) => {
        // Production names the subscription and the plan; only a sandbox run gets the sandbox request.
        const sandbox = data.subscriptionId === undefined ? { newPlan: data.newPlan ?? SANDBOX_REQUEST.newPlan, usage: data.usage ?? SANDBOX_REQUEST.usage } : {};
        const newPlan = sandbox.newPlan ?? data.newPlan;
        return { ...sandbox, targetPlan: { id: newPlan, price: planOf(newPlan).price } };
      },
      retry: false,
    },
    'Load subscription': 'plans.readSubscription',
    'Pick retention offer': {
      handler: ({ data, loop }) => {
        const current = data.subscription!;
        if (current.price <= data.targetPlan!.price) throw new DowngradeError(`${data.newPlan} is no downgrade from ${current.planId}`);
        return { retentionOffer: RETENTION_OFFERS[(loop?.iteration ?? 1) - 1]! };
      },
      retry: false,
    },
    'Consider retention offer': async (ctx) => {
      const answer = await ctx.waitFor(RETENTION_RESPONSE, { timeout: ctx.data.offerTimeout ?? '3d' });
      if (!answer.received) return { offerResponse: 'no answer' as const, offersDeclined: (ctx.data.offersDeclined ?? 0) + 1 };
      const accepted = typeof answer.payload === 'object' && answer.payload !== null && !Array.isArray(answer.payload) && answer.payload['accepted'] === true;
      if (accepted) return { offerResponse: 'accepted' as const };
      return { offerResponse: 'declined' as const, offersDeclined: (ctx.data.offersDeclined ?? 0) + 1 };
    },
    'Offer accepted?': ({ data }) => (data.offerResponse === 'accepted' ? 'Yes' : 'No'),
    'Another offer left?': ({ loop }) => ((loop?.remaining ?? 0) > 0 ? 'Yes' : 'No'),
    'Apply retention credit': 'plans.grantRetentionCredit',
    'Compare plan features': ({ data }) => {
      const current = planOf(data.subscription!.planId);
      const target = planOf(data.newPlan);
      const { usage } = data;
      const measured = [
        { resource: 'seats', used: usage.seats, limit: target.seats },
        { resource: 'projects', used: usage.projects.length, limit: target.projects },
        { resource: 'GB of storage', used: usage.storageGb, limit: target.storageGb },
      ];
      return {
        restrictions: {
          lostFeatures: current.features.filter((feature) => !target.features.includes(feature)),
          overLimits: measured.filter((measure) => measure.used > measure.limit),
        },
      };
    },
    'Warn about restrictions': 'plans.warnRestrictions',
    'Schedule change at period end': 'plans.scheduleDowngrade',
    'Wait for period end': 'plans.awaitPeriodEnd',
    'Next period already billed?': ({ data }) => (data.scheduledChange!.nextPeriodBilled === true ? 'Yes' : 'No'),
    'Credit unused difference': 'plans.applyDowngradeAsCredit',
    'Renew on lower plan': 'plans.applyDowngradeByRenewal',
    'Migrate data over limits': ({ data }) => {
      const target = planOf(data.newPlan);
      return { migration: { archivedProjects: projectsOverLimit(data.usage.projects, target.projects), seatsToRemove: Math.max(0, data.usage.seats - target.seats) } };
    },
    'Apply lower plan limits': ({ data }) => {
      const target = planOf(data.newPlan);
      return { entitlements: { plan: data.newPlan, features: target.features, limits: { seats: target.seats, projects: target.projects, storageGb: target.storageGb } } };
    },
  },
});
