import { randomBytes } from 'node:crypto';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { BillingService } from './billing-service';
import { durationMs } from './durations';
import { BillingConfigError } from './errors';
import { createSmtpMailer } from './outbox';
import { SandboxGateway } from './sandbox-gateway';
import { type Database, immediately } from './sqlite';
import type { BillingClock, DunningSchedule, Mailer, OutboxStatus } from './types';

/**
 * What the built-in `billing.*` handlers run on, read from the environment so that a worker, a
 * `laneflow run` and the application's card-update page configure it alike:
 *
 * | variable | default |
 * |---|---|
 * | `LANEFLOW_BILLING_EMAIL_FROM` | `billing@laneflow.localhost` |
 * | `LANEFLOW_BILLING_LINK_SECRET` | a random secret made once and kept in the database (at least 32 bytes when set) |
 * | `LANEFLOW_BILLING_LINK_BASE_URL` | `http://localhost:3000/billing/update-card` |
 * | `LANEFLOW_BILLING_DUNNING_SCHEDULE` | the billing note's schedule, as JSON in the note's format |
 * | `LANEFLOW_SMTP_URL` | unset: emails wait in the outbox, unsent (`smtp://user:pass@host:587`, `smtps://…:465`) |
 * | `LANEFLOW_BILLING_EMAIL_CLAIM` | `60s`: how long a sender holds an email before another may send it again (a worker that died mid-send) |
 */
export interface BillingPackConfig {
  emailFrom: string;
  /** Undefined: the database's own secret. */
  linkSecret: string | undefined;
  linkBaseUrl: string;
  schedule: DunningSchedule | undefined;
  /** Undefined: no SMTP server, so the dispatcher sends nothing. */
  smtp: SMTPTransportOptions | undefined;
  emailClaimMs: number;
}

export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BillingPackConfig {
  const emailClaimMs = durationMs(env['LANEFLOW_BILLING_EMAIL_CLAIM'] || '60s');
  return {
    emailFrom: env['LANEFLOW_BILLING_EMAIL_FROM'] || 'billing@laneflow.localhost',
    linkSecret: env['LANEFLOW_BILLING_LINK_SECRET'] || undefined,
    linkBaseUrl: env['LANEFLOW_BILLING_LINK_BASE_URL'] || 'http://localhost:3000/billing/update-card',
    schedule: env['LANEFLOW_BILLING_DUNNING_SCHEDULE'] ? parseSchedule(env['LANEFLOW_BILLING_DUNNING_SCHEDULE']) : undefined,
    smtp: env['LANEFLOW_SMTP_URL'] ? smtpOptions(env['LANEFLOW_SMTP_URL'], emailClaimMs) : undefined,
    emailClaimMs,
  };
}

/**
 * The billing service the handlers use, on `db` (the engine's connection) and the engine's
 * clock. An application's card-update page opens one the same way, on its own connection to
 * the same file, so that it verifies the links the handlers' emails carry.
 */
export function openBillingService(db: Database, clock: BillingClock, config: BillingPackConfig = billingConfigFromEnv()): BillingService {
  const gateway = new SandboxGateway(db, clock);
  return new BillingService({
    db,
    gateway,
    clock,
    emailFrom: config.emailFrom,
    updateLinks: { secret: config.linkSecret ?? storedLinkSecret(db), baseUrl: config.linkBaseUrl },
    ...(config.schedule !== undefined && { schedule: config.schedule }),
  });
}

/** A queued dunning email as the flow reports it. */
export interface QueuedEmail {
  template: string;
  to: string;
  subject: string;
  status: OutboxStatus;
  attempts: number;
  lastError: string | null;
  /** When a dispatcher may try it next: its retry time when pending, its claim's end when being sent. */
  retryAt: number | null;
}

interface QueuedEmailRow {
  template: string;
  to_address: string;
  subject: string;
  status: OutboxStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  claimed_until: number | null;
}

/** Dispatches in progress, per connection: see `BillingPackServices.dispatch`. */
const dispatching = new WeakMap<Database, Promise<unknown>>();

/** The billing service of one engine, with the SMTP mailer that sends its outbox. */
export class BillingPackServices {
  readonly billing: BillingService;
  /** Null when no SMTP server is configured: emails then stay in the outbox. */
  readonly mailer: Mailer | null;

  private readonly emailClaimMs: number;

  constructor(
    private readonly db: Database,
    clock: BillingClock,
    config: BillingPackConfig = billingConfigFromEnv(),
  ) {
    this.billing = openBillingService(db, clock, config);
    this.mailer = config.smtp === undefined ? null : createSmtpMailer(config.smtp);
    this.emailClaimMs = config.emailClaimMs;
  }

  /**
   * Sends the outbox's due emails. Dispatches on one connection run one after another: a
   * dispatch claims the rows it sends, so a second one started meanwhile would find its own row
   * claimed by the first and wait for the claim; in turn, it finds the row sent.
   */
  dispatch(mailer: Mailer): Promise<unknown> {
    const previous = dispatching.get(this.db) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.billing.dispatchEmails(mailer, { leaseMs: this.emailClaimMs }));
    dispatching.set(this.db, next);
    return next;
  }

  /** The email queued under `idempotencyKey` (a service call's key with `:email`), or undefined. */
  queuedEmail(idempotencyKey: string): QueuedEmail | undefined {
    const row = this.db
      .prepare<[string], QueuedEmailRow>(
        `SELECT template, to_address, subject, status, attempts, last_error, next_attempt_at, claimed_until
         FROM billing_email_outbox WHERE idempotency_key = ?`,
      )
      .get(idempotencyKey);
    if (row === undefined) return undefined;
    return {
      template: row.template,
      to: row.to_address,
      subject: row.subject,
      status: row.status,
      attempts: row.attempts,
      lastError: row.last_error,
      retryAt: row.status === 'pending' ? row.next_attempt_at : row.status === 'sending' ? row.claimed_until : null,
    };
  }
}

const SETTINGS_SCHEMA = `
CREATE TABLE IF NOT EXISTS billing_pack_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`;

/**
 * Without a configured secret, the first process to need one makes a random one and keeps it in
 * the database: every worker on the file then signs and verifies with it, and links survive a
 * restart, with no well-known default secret that would let anyone forge them.
 */
function storedLinkSecret(db: Database): string {
  db.exec(SETTINGS_SCHEMA);
  return immediately(db, () => {
    db.prepare("INSERT INTO billing_pack_settings (name, value) VALUES ('update_link_secret', ?) ON CONFLICT (name) DO NOTHING").run(
      randomBytes(32).toString('base64url'),
    );
    return db.prepare<[], { value: string }>("SELECT value FROM billing_pack_settings WHERE name = 'update_link_secret'").get()!.value;
  });
}

function parseSchedule(text: string): DunningSchedule {
  try {
    return JSON.parse(text) as DunningSchedule;
  } catch (error) {
    throw new BillingConfigError(`LANEFLOW_BILLING_DUNNING_SCHEDULE is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * `smtp://user:password@host:port` (STARTTLS when the server offers it) or `smtps://…` (TLS from
 * the start). A send gives up well within the claim on its email, so that a slow server is never
 * sent the same email twice by a second sender taking the claim over.
 */
function smtpOptions(text: string, claimMs: number): SMTPTransportOptions {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BillingConfigError(`LANEFLOW_SMTP_URL must be a URL such as smtp://user:password@host:587; got ${JSON.stringify(text)}.`);
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new BillingConfigError(`LANEFLOW_SMTP_URL must start with smtp:// or smtps://; got ${url.protocol}//.`);
  const secure = url.protocol === 'smtps:';
  const options: SMTPTransportOptions = {
    host: url.hostname,
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    connectionTimeout: claimMs / 6,
    greetingTimeout: claimMs / 6,
    socketTimeout: claimMs / 3,
  };
  if (url.username !== '') options.auth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
  return options;
}
