/**
 * The accounts pack: accounts and what they own, API keys stored as hashes with validity
 * windows, deletion requests carried out in steps, and a hash-chained audit log. Flows use its
 * `accounts.*` handlers (see `handlers.ts`); tests and services use `AccountService`.
 */
export { AccountService, CANCELLATION_REASONS, type AccountServiceOptions } from './account-service';
export { accountsPack } from './handlers';
export { verifyAuditChain } from './audit-log';
export { ensureAccountsSchema } from './schema';
export * from './errors';
export type * from './types';
