import type { DeclineClass } from './types';

/** What a dunning email can say. Dates are already written out in UTC. */
export interface DunningEmailVars {
  customerName: string;
  planId: string;
  /** "12.34 USD". */
  amount: string;
  declineCode: string;
  /** Failed charges so far, the first included. */
  failures: number;
  nextRetryAt: string | null;
  /** The signed payment-method-update link; present exactly when the template asks for it. */
  updateLink: string | null;
}

export interface DunningEmailTemplate {
  /** Recorded on the outbox row: what tests and support look for. */
  id: string;
  /** The sender creates a signed update link only for templates that show it. */
  includesUpdateLink: boolean;
  render(vars: DunningEmailVars): { subject: string; text: string };
}

/**
 * The dunning emails of each decline class: `failures[n-1]` after the n-th failed charge (the
 * last one repeats), `exhausted` when the schedule runs out (instead of a failure email, so
 * the customer gets one email per event), `recovered` when a payment succeeds.
 */
export interface DunningEmailSequence {
  classes: Record<DeclineClass, { failures: readonly DunningEmailTemplate[]; exhausted: DunningEmailTemplate }>;
  recovered: DunningEmailTemplate;
}

export type DunningEmailEvent = { kind: 'failed'; declineClass: DeclineClass; failures: number } | { kind: 'exhausted'; declineClass: DeclineClass } | { kind: 'recovered' };

function linkLines(vars: DunningEmailVars): string {
  return vars.updateLink === null ? '' : `\nUpdate your payment method here (the link is valid for a limited time):\n${vars.updateLink}\n`;
}

function retryLine(vars: DunningEmailVars): string {
  return vars.nextRetryAt === null ? '' : `We will try again on ${vars.nextRetryAt}.\n`;
}

const softFirst: DunningEmailTemplate = {
  id: 'soft_decline.first_failure',
  includesUpdateLink: false,
  render: (vars) => ({
    subject: `Your payment of ${vars.amount} did not go through`,
    text: `Hi ${vars.customerName},\n\nWe could not collect ${vars.amount} for your ${vars.planId} plan (the bank said: ${vars.declineCode}).\n${retryLine(vars)}Nothing changes for you in the meantime.\n`,
  }),
};

const softRepeat: DunningEmailTemplate = {
  id: 'soft_decline.repeated_failure',
  includesUpdateLink: true,
  render: (vars) => ({
    subject: `Payment attempt ${vars.failures} of ${vars.amount} failed`,
    text: `Hi ${vars.customerName},\n\nOur attempt number ${vars.failures} to collect ${vars.amount} for your ${vars.planId} plan failed (${vars.declineCode}).\n${retryLine(vars)}If another card would work better, you can switch now.\n${linkLines(vars)}`,
  }),
};

const softExhausted: DunningEmailTemplate = {
  id: 'soft_decline.canceled',
  includesUpdateLink: false,
  render: (vars) => ({
    subject: 'Your subscription has been canceled',
    text: `Hi ${vars.customerName},\n\nAfter ${vars.failures} attempts we could not collect ${vars.amount} for your ${vars.planId} plan, so the subscription has been canceled.\n`,
  }),
};

const hardExhausted: DunningEmailTemplate = {
  id: 'hard_decline.suspended',
  includesUpdateLink: true,
  render: (vars) => ({
    subject: 'Action required: your card was declined',
    text: `Hi ${vars.customerName},\n\nYour bank declined the payment of ${vars.amount} for your ${vars.planId} plan and will not accept further charges on this card (${vars.declineCode}). We will not try it again, and access to your account is suspended until a new card is added.\n${linkLines(vars)}`,
  }),
};

const expiredFirst: DunningEmailTemplate = {
  id: 'expired_method.update_requested',
  includesUpdateLink: true,
  render: (vars) => ({
    subject: 'Your card on file needs updating',
    text: `Hi ${vars.customerName},\n\nThe card we have on file for your ${vars.planId} plan can no longer be charged (${vars.declineCode}), so the payment of ${vars.amount} did not go through.\n${linkLines(vars)}`,
  }),
};

const expiredReminder: DunningEmailTemplate = {
  id: 'expired_method.reminder',
  includesUpdateLink: true,
  render: (vars) => ({
    subject: `Reminder: update your card to keep your ${vars.planId} plan`,
    text: `Hi ${vars.customerName},\n\nWe still cannot charge ${vars.amount} to the card on file.\n${retryLine(vars)}${linkLines(vars)}`,
  }),
};

const expiredExhausted: DunningEmailTemplate = {
  id: 'expired_method.suspended',
  includesUpdateLink: true,
  render: (vars) => ({
    subject: 'Your account is suspended until you update your card',
    text: `Hi ${vars.customerName},\n\nWe could not collect ${vars.amount} for your ${vars.planId} plan with the card on file. Your account is suspended; your data is kept. Add a new card to restore access.\n${linkLines(vars)}`,
  }),
};

const recovered: DunningEmailTemplate = {
  id: 'payment_recovered',
  includesUpdateLink: false,
  render: (vars) => ({
    subject: `Payment received: ${vars.amount}`,
    text: `Hi ${vars.customerName},\n\nThank you: we received ${vars.amount} for your ${vars.planId} plan, and your subscription is active again.\n`,
  }),
};

export const DEFAULT_DUNNING_EMAILS: DunningEmailSequence = {
  classes: {
    soft_decline: { failures: [softFirst, softRepeat], exhausted: softExhausted },
    hard_decline: { failures: [hardExhausted], exhausted: hardExhausted },
    expired_method: { failures: [expiredFirst, expiredReminder], exhausted: expiredExhausted },
  },
  recovered,
};

/** The template for an event; null when the class lists no failure emails at all. */
export function dunningTemplateFor(sequence: DunningEmailSequence, event: DunningEmailEvent): DunningEmailTemplate | null {
  if (event.kind === 'recovered') return sequence.recovered;
  const entry = sequence.classes[event.declineClass];
  if (event.kind === 'exhausted') return entry.exhausted;
  if (entry.failures.length === 0) return null;
  return entry.failures[Math.min(event.failures, entry.failures.length) - 1]!;
}
