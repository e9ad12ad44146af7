import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { IdempotencyConflictError } from './errors';
import { checkIdempotencyKey, fingerprint } from './idempotency';
import type { Database } from './sqlite';
import type { DispatchReport, Mailer, OutboxEmail, OutboxStatus } from './types';

/**
 * The email outbox. A service writes the email row in the same transaction as the state change
 * that causes it, so the change and its email commit together or not at all; a dispatcher sends
 * pending rows afterwards. The row's key is UNIQUE, so a retried handler cannot queue a second
 * copy, and its status is compare-and-set, so two dispatchers cannot both send one row.
 */

export interface EmailToQueue {
  template: string;
  from: string;
  to: string;
  subject: string;
  text: string;
}

interface OutboxRow {
  id: number;
  idempotency_key: string;
  request_hash: string;
  template: string;
  to_address: string;
  from_address: string;
  subject: string;
  text_body: string;
  message_id: string;
  status: OutboxStatus;
  attempts: number;
  claimed_until: number | null;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

/**
 * Queues an email once per key; call it inside the caller's transaction. Returns the row and
 * whether this call queued it. The same key with a different email is a conflict.
 */
export function enqueueEmail(db: Database, email: EmailToQueue, idempotencyKey: string, now: number): { email: OutboxEmail; queued: boolean } {
  checkIdempotencyKey(idempotencyKey);
  const requestHash = fingerprint(email);
  const existing = db.prepare<[string], OutboxRow>('SELECT * FROM billing_email_outbox WHERE idempotency_key = ?').get(idempotencyKey);
  if (existing !== undefined) {
    if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(idempotencyKey, 'email');
    return { email: emailFromRow(existing), queued: false };
  }
  const messageId = `<${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}@billing.laneflow>`;
  const result = db
    .prepare(
      `INSERT INTO billing_email_outbox
         (idempotency_key, request_hash, template, to_address, from_address, subject, text_body, message_id, status, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    )
    .run(idempotencyKey, requestHash, email.template, email.to, email.from, email.subject, email.text, messageId, now, now);
  const row = db.prepare<[number], OutboxRow>('SELECT * FROM billing_email_outbox WHERE id = ?').get(Number(result.lastInsertRowid))!;
  return { email: emailFromRow(row), queued: true };
}

export function listOutbox(db: Database, filter: { to?: string; status?: OutboxStatus } = {}): OutboxEmail[] {
  return db
    .prepare<{ to: string | null; status: string | null }, OutboxRow>(
      'SELECT * FROM billing_email_outbox WHERE (@to IS NULL OR to_address = @to) AND (@status IS NULL OR status = @status) ORDER BY id',
    )
    .all({ to: filter.to ?? null, status: filter.status ?? null })
    .map(emailFromRow);
}

export interface DispatchOptions {
  now: () => number;
  /** Rows per round. */
  limit?: number;
  /**
   * How long a claimed row is reserved for its sender. A sender that dies mid-send leaves the row
   * `sending`; after the lease another dispatcher sends it again, with the same Message-ID, so
   * the one duplicate a crash inside the SMTP exchange can cause is recognisable downstream.
   */
  leaseMs?: number;
  /** Sends per row before it is marked failed. */
  maxAttempts?: number;
  /** Wait before a row whose send failed is tried again (doubled per attempt). */
  retryDelayMs?: number;
}

/** Sends due outbox rows through `mailer`, each at most once per claim, and marks them sent. */
export async function dispatchEmails(db: Database, mailer: Mailer, options: DispatchOptions): Promise<DispatchReport> {
  const limit = options.limit ?? 50;
  const leaseMs = options.leaseMs ?? 60_000;
  const maxAttempts = options.maxAttempts ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 60_000;
  const report: DispatchReport = { sent: 0, errors: 0 };
  const now = options.now();
  const due = db
    .prepare<[number, number, number], OutboxRow>(
      `SELECT * FROM billing_email_outbox
       WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until <= ?)
       ORDER BY id LIMIT ?`,
    )
    .all(now, now, limit);
  const claim = db.prepare(
    `UPDATE billing_email_outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1
     WHERE id = ? AND ((status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until <= ?))`,
  );
  for (const row of due) {
    const claimedAt = options.now();
    if (claim.run(claimedAt + leaseMs, row.id, claimedAt, claimedAt).changes !== 1) continue;
    try {
      await mailer.send({ from: row.from_address, to: row.to_address, subject: row.subject, text: row.text_body, messageId: row.message_id });
      db.prepare(`UPDATE billing_email_outbox SET status = 'sent', sent_at = ?, claimed_until = NULL, last_error = NULL WHERE id = ?`).run(options.now(), row.id);
      report.sent += 1;
    } catch (error) {
      const attempts = row.attempts + 1;
      const status: OutboxStatus = attempts >= maxAttempts ? 'failed' : 'pending';
      db.prepare('UPDATE billing_email_outbox SET status = ?, claimed_until = NULL, next_attempt_at = ?, last_error = ? WHERE id = ?').run(
        status,
        options.now() + retryDelayMs * 2 ** (attempts - 1),
        error instanceof Error ? error.message : String(error),
        row.id,
      );
      report.errors += 1;
    }
  }
  return report;
}

/** A mailer that speaks SMTP through nodemailer; `close()` ends its connections. */
export function createSmtpMailer(options: SMTPTransportOptions): Mailer & { close(): void } {
  const transport = nodemailer.createTransport(options);
  return {
    async send(email) {
      const info = await transport.sendMail({ from: email.from, to: email.to, subject: email.subject, text: email.text, messageId: email.messageId });
      return { messageId: info.messageId };
    },
    close() {
      transport.close();
    },
  };
}

function emailFromRow(row: OutboxRow): OutboxEmail {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    template: row.template,
    to: row.to_address,
    from: row.from_address,
    subject: row.subject,
    text: row.text_body,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: row.created_at,
    sentAt: row.sent_at,
    messageId: row.message_id,
  };
}
