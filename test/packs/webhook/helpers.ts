import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookClock } from '../../../src/runtime/packs/webhook';

/** A real SQLite file in a fresh temp folder, in WAL mode as the engine opens it. */
export function tempDatabase(): { db: Database.Database; path: string; cleanup(): void } {
  const folder = mkdtempSync(join(tmpdir(), 'laneflow-webhook-'));
  const path = join(folder, 'laneflow.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return {
    db,
    path,
    cleanup() {
      db.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Time that moves only when a test says so. */
export class ManualClock implements WebhookClock {
  constructor(public current = Date.UTC(2025, 0, 1)) {}

  now(): number {
    return this.current;
  }

  advance(milliseconds: number): void {
    this.current += milliseconds;
  }

  set(at: number): void {
    this.current = at;
  }
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A plain HTTP server on 127.0.0.1 that records what it receives and answers as told. */
export async function startEndpoint(
  answer: (request: RecordedRequest, response: ServerResponse) => void = (_, response) => response.end('ok'),
): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded = { path: request.url ?? '/', headers: request.headers, body: Buffer.concat(chunks).toString() };
      requests.push(recorded);
      answer(recorded, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on: bound, read, then released. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
