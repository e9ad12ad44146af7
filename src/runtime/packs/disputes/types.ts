/**
 * The disputes pack's data: the merchant's record of a card transaction (with the risk signals
 * checkout collected), the dispute a card network opens against it, and what the desk makes of
 * it. Plain JSON; money is an integer of minor units, timestamps UTC milliseconds.
 */

export interface DisputesClock {
  now(): number;
}

export type CheckResult = 'pass' | 'fail' | 'unavailable';

/** A card payment as the merchant recorded it at checkout. */
export interface TransactionRecord {
  id: string;
  customerId: string;
  amount: number;
  currency: string;
  description: string;
  createdAt: number;
  /** The gateway's fingerprint of the card: the same card gives the same value. */
  cardFingerprint: string;
  cardCountry: string;
  /** Where the buyer's IP address was located at checkout. */
  ipCountry: string;
  avsCheck: CheckResult;
  cvcCheck: CheckResult;
  threeDSecure: 'authenticated' | 'attempted' | 'none';
  deviceSeenBefore: boolean;
  customerSince: number;
  refundedAmount: number;
  /** Sign-ins and API calls by the customer after the payment. */
  usageAfterPurchase: number;
  /** When what was paid for was delivered or provisioned; null if never. */
  deliveredAt: number | null;
  /** When the customer canceled the subscription the payment was for; null if never. */
  canceledAt: number | null;
}

/** The network's reason categories, as gateways group the card schemes' reason codes. */
export type DisputeReason = 'fraudulent' | 'product_not_received' | 'duplicate' | 'subscription_canceled' | 'credit_not_processed' | 'general';

export interface NewDispute {
  /** The network's (or gateway's) dispute id. */
  id: string;
  transactionId: string;
  reason: DisputeReason;
  amount: number;
  currency: string;
  /** The last moment a response is accepted. */
  evidenceDueBy: number;
}

export type DisputeStatus = 'needs_response' | 'under_review' | 'won' | 'lost' | 'accepted';

export interface TransactionReview {
  transactionId: string;
  disputedAmount: number;
  transactionAmount: number;
  refundedAmount: number;
  /** Earlier payments with the same card that nobody disputed. */
  priorUndisputedPayments: number;
  priorDisputes: number;
  /** Other charges of the same amount on the same card within a day of this one. */
  possibleDuplicates: string[];
  customerTenureDays: number;
  usageAfterPurchase: number;
}

export interface FraudSignal {
  signal: string;
  /** Points added to (or, negative, taken from) the score. */
  weight: number;
}

export type FraudVerdict = 'likely_fraud' | 'inconclusive' | 'likely_legitimate';

export interface FraudAssessment {
  /** 0 (surely the cardholder) to 100 (surely a stolen card). */
  score: number;
  verdict: FraudVerdict;
  signals: FraudSignal[];
}

export interface EvidenceItem {
  kind: string;
  summary: string;
  /** How much the item counts towards winning, for this dispute's reason. */
  weight: number;
}

export interface Evidence {
  items: EvidenceItem[];
  /** 0 to 100: the items' weights, capped. */
  strength: number;
}

export interface Recommendation {
  action: 'contest' | 'accept';
  reasons: string[];
}

export type Ruling = { outcome: 'won' } | { outcome: 'lost'; note?: string } | { outcome: 'more_info'; requested: string[] };

export interface Dispute {
  id: string;
  transactionId: string;
  reason: DisputeReason;
  amount: number;
  currency: string;
  status: DisputeStatus;
  openedAt: number;
  evidenceDueBy: number;
  review: TransactionReview | null;
  fraud: FraudAssessment | null;
  evidence: Evidence | null;
  recommendation: Recommendation | null;
  submissions: number;
  closedAt: number | null;
  /** Why it closed as it did. */
  resolution: string | null;
}

export type LedgerKind = 'chargeback' | 'dispute_fee' | 'reversal';

/** A movement of the merchant's balance a dispute caused. */
export interface LedgerEntry {
  disputeId: string;
  kind: LedgerKind;
  /** Signed: negative leaves the merchant's balance. */
  amount: number;
  currency: string;
  at: number;
}
