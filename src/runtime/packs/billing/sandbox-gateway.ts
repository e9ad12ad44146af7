import { GatewayRequestError, IdempotencyConflictError } from './errors';
import { checkIdempotencyKey, fingerprint, stableId } from './idempotency';
import { currencyCode, positiveMinorUnits } from './money';
import { type Database, immediately } from './sqlite';
import type { AttachPaymentMethodRequest, BillingClock, ChargeRequest, ChargeResult, MinorUnits, PaymentGateway, PaymentMethod } from './types';

/** How a sandbox test card behaves when charged. */
interface TestCard {
  brand: string;
  last4: string;
  /** The decline code of every charge, or null for a card that always succeeds. */
  declineCode: string | null;
  /** Decline only the first this-many charges, then succeed: "recovers on the third try" is `declineFirst: 2`. */
  declineFirst?: number;
}

/**
 * The test tokens, named and numbered as Stripe's test cards are, so a flow written against the
 * sandbox reads like one written against the real gateway. `do_not_honor` has no Stripe token;
 * ours follows the same naming.
 */
const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: { brand: 'visa', last4: '4242', declineCode: null },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', declineCode: null },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', declineCode: null },
  pm_card_amex: { brand: 'amex', last4: '8431', declineCode: null },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002', declineCode: 'generic_decline' },
  pm_card_chargeDeclinedInsufficientFunds: { brand: 'visa', last4: '9995', declineCode: 'insufficient_funds' },
  pm_card_chargeDeclinedLostCard: { brand: 'visa', last4: '9987', declineCode: 'lost_card' },
  pm_card_chargeDeclinedStolenCard: { brand: 'visa', last4: '9979', declineCode: 'stolen_card' },
  pm_card_chargeDeclinedFraudulent: { brand: 'visa', last4: '0019', declineCode: 'fraudulent' },
  pm_card_chargeDeclinedDoNotHonor: { brand: 'visa', last4: '0036', declineCode: 'do_not_honor' },
  pm_card_chargeDeclinedExpiredCard: { brand: 'visa', last4: '0069', declineCode: 'expired_card' },
  pm_card_chargeDeclinedIncorrectCvc: { brand: 'visa', last4: '0127', declineCode: 'incorrect_cvc' },
  pm_card_chargeDeclinedProcessingError: { brand: 'visa', last4: '0119', declineCode: 'processing_error' },
  pm_card_chargeDeclinedVelocityLimitExceeded: { brand: 'visa', last4: '6975', declineCode: 'card_velocity_exceeded' },
};

/** `pm_sandbox_declineFirst2_insufficient_funds`: declines the first 2 charges with that code, then succeeds. */
const DECLINE_FIRST_TOKEN = /^pm_sandbox_declineFirst(\d{1,3})_([a-z_]+)$/;

const DECLINE_MESSAGES: Readonly<Record<string, string>> = {
  insufficient_funds: 'Your card has insufficient funds.',
  expired_card: 'Your card has expired.',
  incorrect_cvc: "Your card's security code is incorrect.",
  processing_error: 'An error occurred while processing your card. Try again in a little bit.',
  lost_card: 'Your card has been declined.',
  stolen_card: 'Your card has been declined.',
  fraudulent: 'Your card has been declined.',
  do_not_honor: 'Your card has been declined.',
  generic_decline: 'Your card has been declined.',
};

/** The test tokens the sandbox knows, for documentation and tests. */
export function sandboxTestTokens(): string[] {
  return Object.keys(TEST_CARDS);
}

function testCard(token: string): TestCard | undefined {
  const known = TEST_CARDS[token];
  if (known !== undefined) return known;
  const scripted = DECLINE_FIRST_TOKEN.exec(token);
  if (scripted === null) return undefined;
  return { brand: 'visa', last4: '3220', declineCode: scripted[2]!, declineFirst: Number(scripted[1]) };
}

const SANDBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS billing_sandbox_payment_methods (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  request_hash TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  token TEXT NOT NULL,
  brand TEXT NOT NULL,
  last4 TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS billing_sandbox_charges (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  request_hash TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  payment_method_id TEXT NOT NULL REFERENCES billing_sandbox_payment_methods(id),
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  description TEXT,
  status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
  decline_code TEXT,
  message TEXT,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billing_sandbox_charges_method ON billing_sandbox_charges(payment_method_id);
`;

interface PaymentMethodRow {
  id: string;
  request_hash: string;
  customer_id: string;
  token: string;
  brand: string;
  last4: string;
  created_at: number;
}

interface ChargeRow {
  id: string;
  request_hash: string;
  customer_id: string;
  payment_method_id: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'failed';
  decline_code: string | null;
  message: string | null;
  created_at: number;
}

/**
 * A payment gateway that behaves like a real one's test mode, kept in SQLite tables of its own
 * (in the same file or another: it shares nothing with the billing tables). Charges are
 * recorded whatever their outcome; keys replay results; declines carry real decline codes.
 */
export class SandboxGateway implements PaymentGateway {
  constructor(
    private readonly db: Database,
    private readonly clock: BillingClock,
  ) {
    db.exec(SANDBOX_SCHEMA);
  }

  async attachPaymentMethod(request: AttachPaymentMethodRequest, idempotencyKey: string): Promise<PaymentMethod> {
    checkIdempotencyKey(idempotencyKey);
    const card = testCard(request.token);
    if (card === undefined) {
      throw new GatewayRequestError('resource_missing', `No such PaymentMethod: '${request.token}'.`);
    }
    const requestHash = fingerprint({ customerId: request.customerId, token: request.token });
    return immediately(this.db, () => {
      const existing = this.db
        .prepare<[string], PaymentMethodRow>('SELECT * FROM billing_sandbox_payment_methods WHERE idempotency_key = ?')
        .get(idempotencyKey);
      if (existing !== undefined) {
        if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(idempotencyKey, 'payment method attachment');
        return paymentMethodFromRow(existing);
      }
      const row: PaymentMethodRow = {
        id: stableId('pm', 'sandbox', idempotencyKey),
        request_hash: requestHash,
        customer_id: request.customerId,
        token: request.token,
        brand: card.brand,
        last4: card.last4,
        created_at: this.clock.now(),
      };
      this.db
        .prepare(
          `INSERT INTO billing_sandbox_payment_methods (id, idempotency_key, request_hash, customer_id, token, brand, last4, created_at)
           VALUES (@id, @idempotency_key, @request_hash, @customer_id, @token, @brand, @last4, @created_at)`,
        )
        .run({ ...row, idempotency_key: idempotencyKey });
      return paymentMethodFromRow(row);
    });
  }

  async charge(request: ChargeRequest, idempotencyKey: string): Promise<ChargeResult> {
    checkIdempotencyKey(idempotencyKey);
    // Validation errors are not stored under the key (as at real gateways): the caller fixes the request and may reuse it.
    let amount: MinorUnits;
    try {
      amount = positiveMinorUnits(request.amount, 'amount');
      currencyCode(request.currency);
    } catch (error) {
      throw new GatewayRequestError('parameter_invalid', (error as Error).message);
    }
    const requestHash = fingerprint({
      customerId: request.customerId,
      paymentMethodId: request.paymentMethodId,
      amount,
      currency: request.currency,
      description: request.description ?? null,
    });
    return immediately(this.db, () => {
      const existing = this.db.prepare<[string], ChargeRow>('SELECT * FROM billing_sandbox_charges WHERE idempotency_key = ?').get(idempotencyKey);
      if (existing !== undefined) {
        if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(idempotencyKey, 'charge');
        return chargeFromRow(existing, true);
      }
      const method = this.db.prepare<[string], PaymentMethodRow>('SELECT * FROM billing_sandbox_payment_methods WHERE id = ?').get(request.paymentMethodId);
      if (method === undefined) {
        throw new GatewayRequestError('resource_missing', `No such PaymentMethod: '${request.paymentMethodId}'.`);
      }
      if (method.customer_id !== request.customerId) {
        throw new GatewayRequestError('payment_method_not_attached', `PaymentMethod ${method.id} does not belong to customer ${request.customerId}.`);
      }
      const declineCode = this.declineCodeFor(method);
      const row: ChargeRow = {
        id: stableId('ch', 'sandbox', idempotencyKey),
        request_hash: requestHash,
        customer_id: request.customerId,
        payment_method_id: method.id,
        amount,
        currency: request.currency,
        status: declineCode === null ? 'succeeded' : 'failed',
        decline_code: declineCode,
        message: declineCode === null ? null : (DECLINE_MESSAGES[declineCode] ?? 'Your card has been declined.'),
        created_at: this.clock.now(),
      };
      this.db
        .prepare(
          `INSERT INTO billing_sandbox_charges
             (id, idempotency_key, request_hash, customer_id, payment_method_id, amount, currency, description, status, decline_code, message, created_at)
           VALUES (@id, @idempotency_key, @request_hash, @customer_id, @payment_method_id, @amount, @currency, @description, @status, @decline_code, @message, @created_at)`,
        )
        .run({ ...row, idempotency_key: idempotencyKey, description: request.description ?? null });
      return chargeFromRow(row, false);
    });
  }

  /** Every charge the sandbox recorded, oldest first: what a test asserts against. */
  listCharges(filter: { customerId?: string } = {}): ChargeResult[] {
    const rows =
      filter.customerId === undefined
        ? this.db.prepare<[], ChargeRow>('SELECT * FROM billing_sandbox_charges ORDER BY created_at, rowid').all()
        : this.db.prepare<[string], ChargeRow>('SELECT * FROM billing_sandbox_charges WHERE customer_id = ? ORDER BY created_at, rowid').all(filter.customerId);
    return rows.map((row) => chargeFromRow(row, false));
  }

  private declineCodeFor(method: PaymentMethodRow): string | null {
    const card = testCard(method.token);
    if (card === undefined || card.declineCode === null) return null;
    if (card.declineFirst === undefined) return card.declineCode;
    const earlier = this.db
      .prepare<[string], { count: number }>('SELECT count(*) AS count FROM billing_sandbox_charges WHERE payment_method_id = ?')
      .get(method.id)!.count;
    return earlier < card.declineFirst ? card.declineCode : null;
  }
}

function paymentMethodFromRow(row: PaymentMethodRow): PaymentMethod {
  return { id: row.id, customerId: row.customer_id, brand: row.brand, last4: row.last4, createdAt: row.created_at };
}

function chargeFromRow(row: ChargeRow, replayed: boolean): ChargeResult {
  return {
    id: row.id,
    status: row.status,
    customerId: row.customer_id,
    paymentMethodId: row.payment_method_id,
    amount: row.amount as MinorUnits,
    currency: row.currency,
    declineCode: row.decline_code,
    message: row.message,
    createdAt: row.created_at,
    replayed,
  };
}
