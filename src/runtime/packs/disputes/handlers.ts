import type { PackFactory } from '../../builtins';
import { definePack, defineStep, type HandlerContext } from '../../define';
import type { JsonObject } from '../../types';
import { formatMinorUnits, minorUnits } from '../billing/index';
import { HandlerInputError, integerField, optionalInteger, optionalString, senderAddress, stringField, toJson } from '../handler-data';
import type { DisputeService } from './dispute-service';

/**
 * The chargeback a sandbox run files when the data names no dispute: "product not received" on
 * a payment that was delivered and used, so the desk contests it.
 */
const SANDBOX_CHARGEBACK = { reason: 'product_not_received', amount: 4_900, currency: 'usd', merchantEmail: 'sandbox.merchant@example.com' } as const;

/** How long a merchant has to respond when the network's notice gives no date. */
const DEFAULT_RESPONSE_WINDOW_MS = 7 * 86_400_000;

/**
 * The `disputes.*` handlers, for a chargeback flow from intake to outcome. Each reads the fields
 * of the flow's data named in its comment (`disputeId` in all but intake) and returns what it
 * adds; the dispute's state lives in the engine's database, the flow's data carries a copy.
 */
export const disputesPack: PackFactory = (environment) => {
  let loading: Promise<DisputeService> | undefined;
  // Loaded on a handler's first run: checking a binding never opens the database or loads the mailer.
  const disputes = () =>
    (loading ??= import('./dispute-service').then(
      ({ DisputeService }) => new DisputeService({ db: environment.database(), clock: environment.clock, emailFrom: senderAddress('disputes') }),
    ));
  const step = (run: (service: DisputeService, context: HandlerContext, disputeId: string) => JsonObject | Promise<JsonObject>) =>
    defineStep(async (context) => run(await disputes(), context, stringField(context.data, 'disputeId')));

  return definePack('disputes', {
    /**
     * `disputeId`, `transactionId`, `reason`, `amount`, `currency`, optional `evidenceDueBy` (ms;
     * 7 days from now) → `dispute.{status, openedAt, evidenceDueBy}`, `balanceEffect`: the
     * chargeback and its fee, already debited. Without `disputeId`, files a sandbox chargeback
     * (`sandbox_dp_…`) on a sandbox payment and adds the fields it filed with.
     */
    'disputes.logIntake': defineStep(async (context) => {
      const service = await disputes();
      const { data, idempotencyKey } = context;
      const sandbox = optionalString(data, 'disputeId') === undefined ? sandboxChargeback(service, context) : undefined;
      const request = sandbox ?? {
        disputeId: stringField(data, 'disputeId'),
        transactionId: stringField(data, 'transactionId'),
        reason: stringField(data, 'reason'),
        amount: integerField(data, 'amount'),
        currency: stringField(data, 'currency'),
      };
      const dispute = service.openDispute(
        {
          id: request.disputeId,
          transactionId: request.transactionId,
          reason: request.reason,
          amount: request.amount,
          currency: request.currency,
          evidenceDueBy: optionalInteger(data, 'evidenceDueBy') ?? context.now().getTime() + DEFAULT_RESPONSE_WINDOW_MS,
        },
        idempotencyKey,
      );
      const balanceEffect = service.net(dispute.id);
      const money = (amount: number) => formatMinorUnits(minorUnits(amount), dispute.currency);
      context.emit('disputes.chargeback', { dispute: dispute.id, reason: dispute.reason, amount: money(dispute.amount), fee: money(-balanceEffect - dispute.amount) });
      return { ...sandbox, dispute: { status: dispute.status, openedAt: dispute.openedAt, evidenceDueBy: dispute.evidenceDueBy }, balanceEffect };
    }),

    /** → `review`: the payment against the dispute and the card's other payments. */
    'disputes.reviewTransaction': step((service, _context, disputeId) => ({ review: toJson(service.reviewTransaction(disputeId)) })),

    /** → `fraud.{score, verdict, signals}`. */
    'disputes.analyseFraud': step((service, _context, disputeId) => ({ fraud: toJson(service.analyseFraud(disputeId)) })),

    /** → `evidence.{items, strength}`, `recommendation.{action, reasons}`: contest or accept. */
    'disputes.assembleEvidence': step((service, _context, disputeId) => toJson(service.assembleEvidence(disputeId))),

    /** → `submission.{round, at, items}`, refused once the response window has closed. */
    'disputes.submitRepresentment': step((service, { idempotencyKey }, disputeId) => {
      const { round, at, evidence } = service.submitResponse(disputeId, idempotencyKey);
      return { submission: { round, at, items: evidence.items.map((item) => item.kind) } };
    }),

    /** `ruling.requested` (a list of evidence kinds) → `evidence`, with what the records have. */
    'disputes.addRequestedEvidence': step((service, { data }, disputeId) => {
      const requested = (data['ruling'] as JsonObject | undefined)?.['requested'];
      if (!Array.isArray(requested) || !requested.every((kind): kind is string => typeof kind === 'string')) throw new HandlerInputError('"ruling.requested" must be a list of evidence kinds');
      return { evidence: toJson(service.addRequestedEvidence(disputeId, requested)) };
    }),

    /** `recommendation.reasons` → `outcome.{status, resolution, net, closedAt}`. */
    'disputes.acceptChargeback': step((service, { data }, disputeId) => {
      const reasons = (data['recommendation'] as JsonObject | undefined)?.['reasons'];
      const resolution = Array.isArray(reasons) && reasons.length > 0 ? reasons.join('; ') : 'accepted by the dispute desk';
      return outcomeOf(service, service.accept(disputeId, resolution));
    }),

    /** Optional `ruling.note` → `outcome`: the disputed amount comes back. */
    'disputes.recoverFunds': step((service, { data }, disputeId) =>
      outcomeOf(service, service.recordWin(disputeId, optionalString(data, 'ruling.note') ?? 'the issuer ruled for the merchant')),
    ),

    /** Optional `ruling.note` → `outcome`: the chargeback stands. */
    'disputes.writeOff': step((service, { data }, disputeId) =>
      outcomeOf(service, service.recordLoss(disputeId, optionalString(data, 'ruling.note') ?? 'the issuer ruled for the cardholder')),
    ),

    /** `merchantEmail` → `notification.{emailId, template}`: the outcome through the billing outbox. */
    'disputes.notifyMerchant': step((service, context, disputeId) => {
      const { data, idempotencyKey } = context;
      const email = service.notifyMerchant(disputeId, stringField(data, 'merchantEmail'), idempotencyKey);
      context.emit('disputes.email', { template: email.template, to: email.to, subject: email.subject, status: email.status === 'pending' ? 'queued in the outbox' : email.status });
      return { notification: { emailId: email.id, template: email.template } };
    }),
  });
};

/** The sandbox chargeback's fields, its payment recorded first; the merchant's address unless the data gives one. */
function sandboxChargeback(service: DisputeService, context: HandlerContext) {
  const { reason, amount, currency } = SANDBOX_CHARGEBACK;
  const transaction = service.openSandboxTransaction(context.idempotencyKey, { amount, currency });
  const disputeId = transaction.id.replace(/^sandbox_tx_/, 'sandbox_dp_');
  return { disputeId, transactionId: transaction.id, reason, amount, currency, merchantEmail: optionalString(context.data, 'merchantEmail') ?? SANDBOX_CHARGEBACK.merchantEmail };
}

function outcomeOf(service: DisputeService, dispute: { id: string; status: string; resolution: string | null; closedAt: number | null }): JsonObject {
  return { outcome: { status: dispute.status, resolution: dispute.resolution, net: service.net(dispute.id), closedAt: dispute.closedAt } };
}
