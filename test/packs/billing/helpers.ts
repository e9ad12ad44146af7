import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { BillingService, type BillingServiceOptions, SandboxGateway } from '../../../src/runtime/packs/billing/index';

/** A clock the test moves by hand: the billing services read time only through it. */
export class TestClock {
  constructor(private at: number) {}
  now(): number {
    return this.at;
  }
  set(at: number): void {
    this.at = at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const START = Date.UTC(2025, 0, 15, 9, 0, 0);
export const LINK_SECRET = 'test-secret-that-is-at-least-32-bytes-long';

/** A real SQLite file in a fresh temporary directory. */
export function tempDatabase(): { db: Database.Database; path: string; dir: string; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'laneflow-billing-'));
  const path = join(dir, 'billing.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  return {
    db,
    path,
    dir,
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface BillingFixture {
  billing: BillingService;
  gateway: SandboxGateway;
  clock: TestClock;
  db: Database.Database;
  path: string;
  close(): void;
}

export function billingFixture(overrides: Partial<BillingServiceOptions> = {}): BillingFixture {
  const database = tempDatabase();
  const clock = new TestClock(START);
  const gateway = new SandboxGateway(database.db, clock);
  const billing = new BillingService({
    db: database.db,
    gateway,
    clock,
    emailFrom: 'billing@laneflow.test',
    updateLinks: { secret: LINK_SECRET, baseUrl: 'https://billing.laneflow.test/update-card', ttlMs: 7 * DAY },
    ...overrides,
  });
  return { billing, gateway, clock, db: database.db, path: database.path, close: database.close };
}

/** A customer with a card and an active monthly subscription of `price` usd cents. */
export async function activeSubscription(fixture: BillingFixture, card: string, price = 2_000, name = 'ada') {
  const customer = fixture.billing.createCustomer({ email: `${name}@example.test`, name }, `setup:${name}:customer`);
  await fixture.billing.attachPaymentMethod(customer.id, card, `setup:${name}:card`);
  const subscription = fixture.billing.createSubscription(
    { customerId: customer.id, planId: 'pro', price, currency: 'usd', interval: { unit: 'month', count: 1 } },
    `setup:${name}:subscription`,
  );
  const activation = await fixture.billing.activateSubscription(subscription.id, `setup:${name}:activate`);
  return { customer, subscription: fixture.billing.subscription(subscription.id), activation };
}

export interface ReceivedEmail {
  from: string | null;
  to: string[];
  subject: string;
  messageId: string;
  body: string;
}

/** The SMTP server process of `fixtures/smtp-sink.mjs`. */
export interface SmtpSink {
  port: number;
  received: ReceivedEmail[];
  /** Resolves once `count` messages have arrived (or fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedEmail[]>;
  stop(): Promise<void>;
}

export function startSmtpSink(): Promise<SmtpSink> {
  const script = fileURLToPath(new URL('./fixtures/smtp-sink.mjs', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const received: ReceivedEmail[] = [];
  return new Promise((resolve, reject) => {
    let buffered = '';
    let port: number | undefined;
    child.once('error', reject);
    child.once('exit', (code) => {
      if (port === undefined) reject(new Error(`smtp sink exited with ${code} before listening`));
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = JSON.parse(buffered.slice(0, newline)) as { listening?: number; from?: string | null; to?: string[]; raw?: string };
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (line.listening !== undefined) {
          port = line.listening;
          resolve(sink(port));
        } else {
          received.push(parseMessage(line.from ?? null, line.to ?? [], line.raw ?? ''));
        }
      }
    });
  });

  function sink(port: number): SmtpSink {
    return {
      port,
      received,
      async waitFor(count, timeoutMs = 5_000) {
        const deadline = Date.now() + timeoutMs;
        while (received.length < count) {
          if (Date.now() > deadline) throw new Error(`expected ${count} emails, received ${received.length}`);
          await new Promise((done) => setTimeout(done, 10));
        }
        return received;
      },
      stop: () =>
        new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
    };
  }
}

/** Headers and decoded text body of a raw message, enough for what the tests assert. */
function parseMessage(from: string | null, to: string[], raw: string): ReceivedEmail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  const decoded =
    encoding === 'quoted-printable'
      ? Buffer.from(
          body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          'latin1',
        ).toString('utf8')
      : encoding === 'base64'
        ? Buffer.from(body, 'base64').toString('utf8')
        : body;
  return { from, to, subject: header('Subject'), messageId: header('Message-ID'), body: decoded.replace(/\r\n/g, '\n') };
}

/** The update link in an email body. */
export function linkIn(text: string): string | undefined {
  return /https:\/\/billing\.laneflow\.test\/update-card\?token=[A-Za-z0-9._-]+/.exec(text)?.[0];
}
