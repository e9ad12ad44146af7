import type Database from 'better-sqlite3';
import type { ReceivedWebhook, WebhookJson } from './types';

/**
 * The receiver's deduplication table, which doubles as its inbox: an event is written here
 * before the 200 goes out, so an event acknowledged and then lost to a crash is still here,
 * `received`, for `processPending` to hand over again.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS webhook_received (
  event_id TEXT PRIMARY KEY,
  path TEXT NOT NULL,
  event_type TEXT,
  payload TEXT NOT NULL,
  signed_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  processed_at INTEGER,
  error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_received_unprocessed ON webhook_received (received_at)
  WHERE status != 'processed';
`;

/** `received`: acknowledged, not yet handed over; `failed`: `onEvent` threw. */
export type ReceivedStatus = 'received' | 'processed' | 'failed';

interface ReceivedRow {
  event_id: string;
  path: string;
  event_type: string | null;
  payload: string;
  signed_at: number;
  received_at: number;
  status: ReceivedStatus;
  processed_at: number | null;
  error: string | null;
}

export class ReceivedStore {
  private readonly statements;

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.statements = {
      insert: db.prepare<[ReceivedRow]>(
        `INSERT INTO webhook_received (event_id, path, event_type, payload, signed_at, received_at, status, processed_at, error)
         VALUES (@event_id, @path, @event_type, @payload, @signed_at, @received_at, @status, @processed_at, @error)
         ON CONFLICT (event_id) DO NOTHING`,
      ),
      finish: db.prepare<[{ id: string; status: ReceivedStatus; at: number; error: string | null }]>(
        'UPDATE webhook_received SET status = @status, processed_at = @at, error = @error WHERE event_id = @id',
      ),
      unprocessed: db.prepare<[number], ReceivedRow>(
        `SELECT * FROM webhook_received WHERE status != 'processed' ORDER BY received_at LIMIT ?`,
      ),
      status: db.prepare<[string], { status: ReceivedStatus }>('SELECT status FROM webhook_received WHERE event_id = ?'),
      prune: db.prepare<[number]>(`DELETE FROM webhook_received WHERE status = 'processed' AND received_at < ?`),
    };
  }

  /** Records the event unless its id was seen before; true when it is new. */
  recordIfNew(event: ReceivedWebhook, payloadText: string): boolean {
    const result = this.statements.insert.run({
      event_id: event.id,
      path: event.path,
      event_type: event.type ?? null,
      payload: payloadText,
      signed_at: event.signedAt,
      received_at: event.receivedAt,
      status: 'received',
      processed_at: null,
      error: null,
    });
    return result.changes === 1;
  }

  markProcessed(id: string, at: number): void {
    this.statements.finish.run({ id, status: 'processed', at, error: null });
  }

  markFailed(id: string, at: number, error: string): void {
    this.statements.finish.run({ id, status: 'failed', at, error });
  }

  status(id: string): ReceivedStatus | undefined {
    return this.statements.status.get(id)?.status;
  }

  unprocessed(limit: number): ReceivedWebhook[] {
    return this.statements.unprocessed.all(limit).map((row) => ({
      id: row.event_id,
      ...(row.event_type !== null && { type: row.event_type }),
      payload: JSON.parse(row.payload) as WebhookJson,
      signedAt: row.signed_at,
      receivedAt: row.received_at,
      path: row.path,
    }));
  }

  /**
   * Forgets processed events received before `before`. Keep them longer than the sender's
   * whole retry schedule (about 28 hours by default): a retry re-signs with a fresh
   * timestamp, so only this table recognizes it as a repeat.
   */
  prune(before: number): number {
    return this.statements.prune.run(before).changes;
  }
}
