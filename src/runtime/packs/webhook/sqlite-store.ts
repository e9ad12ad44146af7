import type Database from 'better-sqlite3';
import type {
  AttemptClassification,
  DeliveryAttempt,
  DeliveryStatus,
  EndpointSecret,
  SignatureScheme,
  WebhookDelivery,
  WebhookEndpoint,
} from './types';

/**
 * The sender's tables, in the engine's database file (it sets WAL mode; these tables only add
 * themselves). A delivery row is the unit of exactly-once: its id is the caller's idempotency
 * key, and an attempt first claims the row with a lease (`lease_until`), so two callers never
 * send the same delivery at once and a crashed sender's claim runs out. Secrets are stored as
 * given: the database file must be protected like the secrets themselves.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  scheme TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_endpoint_secrets (
  endpoint TEXT NOT NULL REFERENCES webhook_endpoints (id),
  version INTEGER NOT NULL,
  secret TEXT NOT NULL,
  valid_from INTEGER NOT NULL,
  valid_until INTEGER,
  rotation_key TEXT UNIQUE,
  PRIMARY KEY (endpoint, version)
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint TEXT NOT NULL REFERENCES webhook_endpoints (id),
  event_type TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  round_attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_status_code INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE status IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (endpoint, created_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
  delivery TEXT NOT NULL REFERENCES webhook_deliveries (id),
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  status_code INTEGER,
  latency_ms REAL,
  error TEXT,
  classification TEXT NOT NULL,
  PRIMARY KEY (delivery, attempt)
);
`;

/** Written in place of an attempt whose sender stopped before recording how it ended. */
export const INTERRUPTED_ATTEMPT_ERROR = 'interrupted: the sender stopped before recording the outcome';

interface EndpointRow {
  id: string;
  url: string;
  scheme: SignatureScheme;
  created_at: number;
}

interface SecretRow {
  endpoint: string;
  version: number;
  secret: string;
  valid_from: number;
  valid_until: number | null;
}

interface DeliveryRow {
  id: string;
  endpoint: string;
  event_type: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  round_attempts: number;
  next_attempt_at: number | null;
  lease_until: number | null;
  created_at: number;
  updated_at: number;
  last_status_code: number | null;
  last_error: string | null;
}

interface AttemptRow {
  delivery: string;
  attempt: number;
  started_at: number;
  status_code: number | null;
  latency_ms: number | null;
  error: string | null;
  classification: AttemptClassification;
}

export interface NewDelivery {
  id: string;
  endpoint: string;
  eventType: string;
  body: string;
  now: number;
  firstAttemptAt: number;
}

/** How an attempt ended and what the delivery becomes. */
export interface AttemptOutcome {
  attempt: DeliveryAttempt;
  status: DeliveryStatus;
  nextAttemptAt?: number;
  now: number;
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  endpoint?: string;
  /** Newest first; 100 unless told. */
  limit?: number;
}

export class WebhookStore {
  private readonly statements;
  private readonly claimTransaction: (
    id: string,
    now: number,
    leaseUntil: number,
  ) => { delivery: WebhookDelivery; attempt: number } | undefined;
  private readonly settleTransaction: (id: string, outcome: AttemptOutcome) => WebhookDelivery;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.statements = {
      insertEndpoint: db.prepare<[EndpointRow]>(
        'INSERT INTO webhook_endpoints (id, url, scheme, created_at) VALUES (@id, @url, @scheme, @created_at)',
      ),
      endpoint: db.prepare<[string], EndpointRow>('SELECT * FROM webhook_endpoints WHERE id = ?'),
      insertSecret: db.prepare<[SecretRow & { rotation_key: string | null }]>(
        `INSERT INTO webhook_endpoint_secrets (endpoint, version, secret, valid_from, valid_until, rotation_key)
         VALUES (@endpoint, @version, @secret, @valid_from, @valid_until, @rotation_key)`,
      ),
      secretsAt: db.prepare<[string, number, number], SecretRow>(
        `SELECT * FROM webhook_endpoint_secrets WHERE endpoint = ? AND valid_from <= ?
         AND (valid_until IS NULL OR valid_until > ?) ORDER BY version DESC`,
      ),
      latestSecret: db.prepare<[string], SecretRow>(
        'SELECT * FROM webhook_endpoint_secrets WHERE endpoint = ? ORDER BY version DESC LIMIT 1',
      ),
      secretByRotation: db.prepare<[string], SecretRow>('SELECT * FROM webhook_endpoint_secrets WHERE rotation_key = ?'),
      endOpenSecrets: db.prepare<[{ until: number; endpoint: string; now: number }]>(
        `UPDATE webhook_endpoint_secrets SET valid_until = @until
         WHERE endpoint = @endpoint AND (valid_until IS NULL OR valid_until > @until) AND valid_from <= @now`,
      ),
      insertDelivery: db.prepare<[DeliveryRow]>(
        `INSERT INTO webhook_deliveries (id, endpoint, event_type, body, status, attempts, round_attempts,
           next_attempt_at, lease_until, created_at, updated_at, last_status_code, last_error)
         VALUES (@id, @endpoint, @event_type, @body, @status, @attempts, @round_attempts,
           @next_attempt_at, @lease_until, @created_at, @updated_at, @last_status_code, @last_error)
         ON CONFLICT (id) DO NOTHING`,
      ),
      delivery: db.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?'),
      claim: db.prepare<[{ id: string; now: number; lease_until: number }]>(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, round_attempts = round_attempts + 1,
           lease_until = @lease_until, updated_at = @now
         WHERE id = @id AND status IN ('pending', 'retrying') AND next_attempt_at <= @now
           AND (lease_until IS NULL OR lease_until <= @now)`,
      ),
      upsertAttempt: db.prepare<[AttemptRow]>(
        `INSERT OR REPLACE INTO webhook_attempts (delivery, attempt, started_at, status_code, latency_ms, error, classification)
         VALUES (@delivery, @attempt, @started_at, @status_code, @latency_ms, @error, @classification)`,
      ),
      insertAttemptIfAbsent: db.prepare<[AttemptRow]>(
        `INSERT OR IGNORE INTO webhook_attempts (delivery, attempt, started_at, status_code, latency_ms, error, classification)
         VALUES (@delivery, @attempt, @started_at, @status_code, @latency_ms, @error, @classification)`,
      ),
      // A late outcome only moves the delivery when it is still the latest attempt, except that a
      // 2xx always wins: the receiver has the event, whatever a later attempt says.
      settle: db.prepare<
        [{ id: string; attempt: number; status: DeliveryStatus; next: number | null; code: number | null; error: string | null; now: number }]
      >(
        `UPDATE webhook_deliveries SET status = @status, next_attempt_at = @next, lease_until = NULL,
           last_status_code = @code, last_error = @error, updated_at = @now
         WHERE id = @id AND status != 'delivered' AND (attempts = @attempt OR @status = 'delivered')`,
      ),
      due: db.prepare<[number, number, number], { id: string }>(
        `SELECT id FROM webhook_deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?
           AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at LIMIT ?`,
      ),
      nextDue: db.prepare<[], { at: number | null }>(
        `SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) AS at FROM webhook_deliveries
         WHERE status IN ('pending', 'retrying')`,
      ),
      restartRound: db.prepare<[{ id: string; now: number }]>(
        `UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0, next_attempt_at = @now, updated_at = @now
         WHERE id = @id AND status IN ('failed', 'permanent_failure')`,
      ),
      attempts: db.prepare<[string], AttemptRow>('SELECT * FROM webhook_attempts WHERE delivery = ? ORDER BY attempt'),
    };
    // Built once: creating a better-sqlite3 transaction function per call costs more than the
    // statements inside it.
    this.claimTransaction = db.transaction((id: string, now: number, leaseUntil: number) => {
      const before = this.statements.delivery.get(id);
      if (!before) return undefined;
      if (this.statements.claim.run({ id, now, lease_until: leaseUntil }).changes === 0) return undefined;
      if (before.lease_until !== null) {
        this.statements.insertAttemptIfAbsent.run({
          delivery: id,
          attempt: before.attempts,
          started_at: before.updated_at,
          status_code: null,
          latency_ms: null,
          error: INTERRUPTED_ATTEMPT_ERROR,
          classification: 'retryable',
        });
      }
      const delivery = toDelivery(this.statements.delivery.get(id)!);
      return { delivery, attempt: delivery.attempts };
    });
    this.settleTransaction = db.transaction((id: string, outcome: AttemptOutcome) => {
      const { attempt } = outcome;
      this.statements.upsertAttempt.run({
        delivery: id,
        attempt: attempt.attempt,
        started_at: attempt.startedAt,
        status_code: attempt.statusCode ?? null,
        latency_ms: attempt.latencyMs ?? null,
        error: attempt.error ?? null,
        classification: attempt.classification,
      });
      this.statements.settle.run({
        id,
        attempt: attempt.attempt,
        status: outcome.status,
        next: outcome.nextAttemptAt ?? null,
        code: attempt.statusCode ?? null,
        error: attempt.error ?? null,
        now: outcome.now,
      });
      return toDelivery(this.statements.delivery.get(id)!);
    });
  }

  insertEndpoint(endpoint: WebhookEndpoint, secret: string): void {
    this.db.transaction(() => {
      this.statements.insertEndpoint.run({ id: endpoint.id, url: endpoint.url, scheme: endpoint.scheme, created_at: endpoint.createdAt });
      this.statements.insertSecret.run({
        endpoint: endpoint.id,
        version: 1,
        secret,
        valid_from: endpoint.createdAt,
        valid_until: null,
        rotation_key: null,
      });
    })();
  }

  endpoint(id: string): WebhookEndpoint | undefined {
    const row = this.statements.endpoint.get(id);
    return row && { id: row.id, url: row.url, scheme: row.scheme, createdAt: row.created_at };
  }

  /** The secrets in force at `at`, newest first. */
  secretsAt(endpoint: string, at: number): EndpointSecret[] {
    return this.statements.secretsAt.all(endpoint, at, at).map(toSecret);
  }

  latestSecret(endpoint: string): EndpointSecret | undefined {
    const row = this.statements.latestSecret.get(endpoint);
    return row && toSecret(row);
  }

  /**
   * Ends every secret still open at `now + overlapMs` and starts a new version at `now`, once
   * per rotation key: asking again with the same key returns the version it made.
   */
  rotate(endpoint: string, rotationKey: string, secret: string, now: number, overlapMs: number): EndpointSecret {
    return this.db.transaction(() => {
      const earlier = this.statements.secretByRotation.get(rotationKey);
      if (earlier) return toSecret(earlier);
      const version = (this.statements.latestSecret.get(endpoint)?.version ?? 0) + 1;
      this.statements.endOpenSecrets.run({ until: now + overlapMs, endpoint, now });
      const row = { endpoint, version, secret, valid_from: now, valid_until: null, rotation_key: rotationKey };
      this.statements.insertSecret.run(row);
      return toSecret(row);
    })();
  }

  /** Inserts a delivery unless its id exists; returns the row as stored either way. */
  insertDelivery(input: NewDelivery): { delivery: WebhookDelivery; created: boolean } {
    const result = this.statements.insertDelivery.run({
      id: input.id,
      endpoint: input.endpoint,
      event_type: input.eventType,
      body: input.body,
      status: 'pending',
      attempts: 0,
      round_attempts: 0,
      next_attempt_at: input.firstAttemptAt,
      lease_until: null,
      created_at: input.now,
      updated_at: input.now,
      last_status_code: null,
      last_error: null,
    });
    return { delivery: this.delivery(input.id)!, created: result.changes === 1 };
  }

  delivery(id: string): WebhookDelivery | undefined {
    const row = this.statements.delivery.get(id);
    return row && toDelivery(row);
  }

  /**
   * Takes the delivery for one attempt if it is due and nobody holds it, and returns the
   * attempt's number. A lease that ran out means the sender that held it stopped mid-attempt:
   * that attempt is written down as interrupted (the request may or may not have reached the
   * endpoint, which is why receivers deduplicate by `webhook-id`).
   */
  claim(id: string, now: number, leaseUntil: number): { delivery: WebhookDelivery; attempt: number } | undefined {
    return this.claimTransaction(id, now, leaseUntil);
  }

  /** Writes the attempt and moves the delivery on, in one transaction. */
  settle(id: string, outcome: AttemptOutcome): WebhookDelivery {
    return this.settleTransaction(id, outcome);
  }

  dueIds(now: number, limit: number): string[] {
    return this.statements.due.all(now, now, limit).map((row) => row.id);
  }

  /** When the earliest waiting delivery becomes due (or its lease runs out). */
  nextDueAt(): number | undefined {
    return this.statements.nextDue.get()?.at ?? undefined;
  }

  /** Puts a dead letter or permanent failure back to pending, due now, with a fresh round. */
  restartRound(id: string, now: number): boolean {
    return this.statements.restartRound.run({ id, now }).changes === 1;
  }

  attempts(delivery: string): DeliveryAttempt[] {
    return this.statements.attempts.all(delivery).map(toAttempt);
  }

  deliveries(filter: DeliveryFilter = {}): WebhookDelivery[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.endpoint !== undefined) {
      where.push('endpoint = ?');
      params.push(filter.endpoint);
    }
    const sql = `SELECT * FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id LIMIT ?`;
    return this.db
      .prepare<(string | number)[], DeliveryRow>(sql)
      .all(...params, filter.limit ?? 100)
      .map(toDelivery);
  }
}

function toSecret(row: SecretRow): EndpointSecret {
  return {
    endpoint: row.endpoint,
    version: row.version,
    secret: row.secret,
    validFrom: row.valid_from,
    ...(row.valid_until !== null && { validUntil: row.valid_until }),
  };
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpoint: row.endpoint,
    eventType: row.event_type,
    body: row.body,
    status: row.status,
    attempts: row.attempts,
    roundAttempts: row.round_attempts,
    ...(row.next_attempt_at !== null && { nextAttemptAt: row.next_attempt_at }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.last_status_code !== null && { lastStatusCode: row.last_status_code }),
    ...(row.last_error !== null && { lastError: row.last_error }),
  };
}

function toAttempt(row: AttemptRow): DeliveryAttempt {
  return {
    delivery: row.delivery,
    attempt: row.attempt,
    startedAt: row.started_at,
    ...(row.status_code !== null && { statusCode: row.status_code }),
    ...(row.latency_ms !== null && { latencyMs: row.latency_ms }),
    ...(row.error !== null && { error: row.error }),
    classification: row.classification,
  };
}
