/**
 * The accounts pack's data: accounts and what they own, API keys with their validity windows,
 * deletion requests and the audit log. Plain JSON throughout, so a handler can return any of it
 * in its data patch; timestamps are UTC milliseconds since the Unix epoch.
 */
import type { JsonObject } from '../../types';

export interface AccountsClock {
  now(): number;
}

export type AccountStatus = 'active' | 'deactivated' | 'deleted';

export interface Account {
  id: string;
  email: string;
  name: string | null;
  status: AccountStatus;
  createdAt: number;
  deactivatedAt: number | null;
  deletedAt: number | null;
}

export interface NewAccount {
  id: string;
  email: string;
  name: string;
}

/** Something an account owns and that deletion erases: a project, a file, a member, a session. */
export interface NewRecord {
  kind: string;
  name: string;
  bytes?: number;
}

/**
 * `active`: accepted. `deprecated`: still accepted until `validUntil` (its sunset), with a
 * warning to the caller; a rotation's dual-key period. `revoked`: refused for good.
 */
export type ApiKeyStatus = 'active' | 'deprecated' | 'revoked';

export interface ApiKey {
  id: string;
  accountId: string;
  /** The first characters of the secret, safe to show: `lfk_Ab3dE9xQ`. */
  prefix: string;
  status: ApiKeyStatus;
  validFrom: number;
  /** When the key stops being accepted; null for no end. */
  validUntil: number | null;
  replacedBy: string | null;
  createdAt: number;
  deprecatedAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface IssuedKey {
  key: ApiKey;
  /** The whole secret: only ever returned here and by `revealSecret`; the database keeps its hash. */
  secret: string | null;
}

export type KeyRejection = 'unknown' | 'revoked' | 'expired' | 'not_yet_valid' | 'account_inactive';

/** What an API gateway learns from a presented key. */
export type KeyVerification =
  | { ok: true; keyId: string; accountId: string; deprecated: boolean; sunsetAt: number | null }
  | { ok: false; reason: KeyRejection };

export interface NewAuditEntry {
  accountId: string;
  /** Who did it: `flow:<instance>`, `system`, an operator's id. */
  actor: string;
  /** `api_key.issued`, `account.deleted` … */
  action: string;
  /** The thing acted on: a key id, a deletion id. */
  subject: string;
  detail: JsonObject;
}

/** One row of the append-only audit log; `hash` covers the row and the previous row's hash. */
export interface AuditEntry extends NewAuditEntry {
  seq: number;
  at: number;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  intact: boolean;
  entries: number;
  /** The last row's hash: what an external notary would countersign. */
  head: string;
  /** The first row whose hash does not match, when the chain is broken. */
  brokenAt: number | null;
}

/** Why a customer leaves, as the cancellation form offers it. */
export type CancellationReason = 'too_expensive' | 'not_using' | 'missing_features' | 'switching_provider' | 'privacy' | 'other';

export type DeletionStatus = 'requested' | 'retained' | 'pending' | 'undone' | 'completed';

export interface DeletionRequest {
  id: string;
  accountId: string;
  reason: CancellationReason;
  /** The customer's own words; erased with the account. */
  comment: string | null;
  status: DeletionStatus;
  requestedAt: number;
  graceUntil: number | null;
  recordsErased: number;
  completedAt: number | null;
}

export interface ErasureBatch {
  erased: number;
  remaining: number;
  totalErased: number;
}
