import type BetterSqlite3 from 'better-sqlite3';
import { wallClock, type Clock } from './clock';
import type { HandlerPack } from './define';
import { accountsPack } from './packs/accounts/handlers';
import { billingPack } from './packs/billing/handlers';
import { billingPlansPack } from './packs/billing/plan-handlers';
import { disputesPack } from './packs/disputes/handlers';
import { createRetryPack } from './packs/retry';
import { createWebhookPack } from './packs/webhook/handlers';

/**
 * What a built-in pack's handlers can reach. Packs keep their tables (charges, outbox,
 * deliveries) in the engine's own SQLite file, on the engine's connection.
 */
export interface PackEnvironment {
  /**
   * The engine's connection. Call it from inside a handler run only: binding checks
   * (`laneflow compile`) build packs with no database behind them.
   */
  database(): BetterSqlite3.Database;
  clock: Clock;
}

/** Builds a pack for one engine. Keep it cheap: create services on a handler's first run. */
export type PackFactory = (environment: PackEnvironment) => HandlerPack;

/**
 * Packs every engine registers before a flow's own handlers, so binding modules can name their
 * handlers without importing them.
 */
export const BUILTIN_PACKS: readonly PackFactory[] = [
  createRetryPack,
  billingPack,
  createWebhookPack,
  accountsPack,
  billingPlansPack,
  disputesPack,
];

/** For reading bindings outside an engine: handlers are listed, never run. */
export const CATALOG_ONLY: PackEnvironment = {
  database() {
    throw new Error('built-in handlers run only inside an engine; this binding was read for checking');
  },
  clock: wallClock,
};
