// Handlers for payment-failure-recovery.flow: every node runs a built-in `billing.*` handler
// (src/runtime/packs/billing/handlers.ts) on the engine's own database and clock, so the flow
// needs no code of its own. Start an instance with `{ "subscriptionId": "sub_…" }` for a
// subscription in the billing tables, or with sandbox fields (`card`, `email`, `name`, `plan`,
// `price`, `currency`, all optional) to open one first: `card` is the card the renewal charges,
// by default one that is declined twice for insufficient funds and then pays.
import { defineBindings } from '../src/runtime/define';
import type { Flow } from './payment-failure-recovery.flow';

export default defineBindings<Flow>({
  nodes: {
    // A missing subscription or an unknown test card does not get better by retrying.
    'Load subscription': { handler: 'billing.loadSubscription', retry: false },
    'Wait for period end': 'billing.waitForRenewal',
    'Charge renewal invoice': 'billing.renewSubscription',
    'Renewal paid?': 'billing.paymentSucceeded',
    'Decline class?': 'billing.declineClass',
    'Send decline notice': 'billing.sendDunningEmail',
    'Wait for next retry': 'billing.waitForNextRetry',
    'Send card update link': 'billing.sendDunningEmail',
    'Update card via signed link': 'billing.waitForCardUpdate',
    'Retry charge': 'billing.retryPayment',
    'Retry paid?': 'billing.paymentSucceeded',
    'Retries remaining?': 'billing.retriesRemaining',
    'Apply graduated access': 'billing.applyEntitlements',
    'Send payment receipt': 'billing.sendDunningEmail',
    'Restore full access': 'billing.applyEntitlements',
    'Send final notice': 'billing.sendDunningEmail',
    'Revoke access': 'billing.applyEntitlements',
  },
});
