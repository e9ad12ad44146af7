import type Database from 'better-sqlite3';
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GroupCommit } from './group-commit';
import { ReceivedStore } from './received-store';
import {
  DEFAULT_TOLERANCE_SECONDS,
  matchStandardSignature,
  matchStripeSignature,
  parseStandardHeaders,
  parseStripeHeader,
  withinTolerance,
  type ParsedSignature,
} from './signature';
import type {
  ReceivedWebhook,
  ReceiverMetrics,
  ReceiverOutcome,
  SignatureScheme,
  WebhookClock,
  WebhookJson,
} from './types';

export interface WebhookReceiverOptions {
  /** Where the deduplication table (`webhook_received`) lives: the engine's database. */
  db: Database.Database;
  /**
   * The `whsec_` secrets valid for requests on `path` at `now`: several during a rotation, any
   * of which may match. None means no endpoint is served there (404).
   */
  secretsFor(path: string, now: number): readonly string[];
  /**
   * Called once per new event, after the 200 has gone out: where a flow instance is started
   * or signalled. It should itself be idempotent by `event.id` (start the instance with an id
   * derived from it), because `processPending` hands over again an event whose processing
   * was cut short.
   */
  onEvent(event: ReceivedWebhook): void | Promise<void>;
  /**
   * Told when `onEvent` throws (with the event, which stays `failed` for `processPending`) and
   * when the receiver itself fails on a request (without one; the request got a 500).
   */
  onError?(error: unknown, event?: ReceivedWebhook): void;
  scheme?: SignatureScheme;
  clock?: WebhookClock;
  /** How far a signature's timestamp may be from now, past or future. 5 minutes. */
  toleranceSeconds?: number;
  /** Larger bodies get 413, without being read past this size. 1 MiB. */
  maxBodyBytes?: number;
  /** Time allowed for the request line and headers. 10 s. */
  headersTimeoutMs?: number;
  /** Time allowed for the whole body, from the end of the headers. 10 s. */
  bodyTimeoutMs?: number;
}

export interface WebhookReceiver {
  server: http.Server;
  /** The request listener itself, for mounting in another server. */
  handle: RequestListener;
  /** Listens on `host` (127.0.0.1) and `port` (any free one); resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Waits for accepted events' processing, then closes the server and its connections. */
  close(): Promise<void>;
  metrics(): ReceiverMetrics;
  /** Resolves when every accepted event handed to `onEvent` so far has been processed. */
  idle(): Promise<void>;
  /**
   * Hands over again every event acknowledged but not processed (the process stopped, or
   * `onEvent` threw); resolves to how many were handed over.
   */
  processPending(): Promise<number>;
  /** Forgets processed events received before `before` (see `ReceivedStore.prune`). */
  prune(before: number): number;
}

const MEBIBYTE = 1024 * 1024;

/** Status and reason phrase for every refusal: the response issue 7's attacks expect. */
const REFUSALS: Record<Exclude<ReceiverOutcome, 'accepted' | 'duplicate'>, number> = {
  missing_headers: 400,
  malformed_json: 400,
  bad_request: 400,
  bad_signature: 401,
  stale_timestamp: 401,
  unknown_endpoint: 404,
  method_not_allowed: 405,
  timeout: 408,
  too_large: 413,
  internal_error: 500,
};

type BodyRead = { kind: 'body'; body: Buffer } | { kind: 'too_large' } | { kind: 'timeout' } | { kind: 'aborted' };

/**
 * A webhook endpoint server. Each request is checked in the order that spends the least on a
 * bad one: method, path, headers (missing or unparseable: 400, since a request without them is
 * not a webhook at all and no secret is needed to tell), timestamp tolerance (401), declared
 * length (413), then the body is read under a size cap and a deadline (413, 408), then the
 * signature (401, constant-time), then JSON (400, parsed only once authenticated), then the
 * event id is deduplicated. A new event is committed before the 200 (in a group commit with
 * the others of the same tick), and processed after it.
 */
export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const received = new ReceivedStore(options.db);
  const commits = new GroupCommit(options.db);
  const clock = options.clock ?? { now: () => Date.now() };
  const scheme = options.scheme ?? 'standard';
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const maxBodyBytes = options.maxBodyBytes ?? MEBIBYTE;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
  const counters = zeroMetrics();
  const processing = new Map<string, Promise<void>>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const handle: RequestListener = (request, response) => {
    try {
      receive(request, response);
    } catch (error) {
      failed(request, response, error);
    }
  };

  function receive(request: IncomingMessage, response: ServerResponse): void {
    const now = clock.now();
    if (request.method !== 'POST') return refuse(request, response, 'method_not_allowed');
    const path = new URL(request.url ?? '/', 'http://receiver').pathname;
    const secrets = options.secretsFor(path, now);
    if (secrets.length === 0) return refuse(request, response, 'unknown_endpoint');
    const signature = parseSignature(request);
    if (!signature) return refuse(request, response, 'missing_headers');
    if (!withinTolerance(signature.timestamp, { now, toleranceSeconds })) {
      return refuse(request, response, 'stale_timestamp');
    }
    if (Number(request.headers['content-length'] ?? 0) > maxBodyBytes) return refuse(request, response, 'too_large');
    void readBody(request).then((read) => {
      try {
        if (read.kind === 'body') return checkAndRecord(request, response, path, now, signature, secrets, read.body);
        if (read.kind === 'aborted') return;
        refuse(request, response, read.kind);
      } catch (error) {
        failed(request, response, error);
      }
    });
  }

  function checkAndRecord(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    now: number,
    signature: ParsedSignature,
    secrets: readonly string[],
    body: Buffer,
  ): void {
    const match = scheme === 'stripe' ? matchStripeSignature : matchStandardSignature;
    if (match(signature, body, secrets) < 0) return refuse(request, response, 'bad_signature');
    let text: string;
    let payload: WebhookJson;
    try {
      text = utf8.decode(body);
      payload = JSON.parse(text) as WebhookJson;
    } catch {
      return refuse(request, response, 'malformed_json');
    }
    const id = scheme === 'stripe' ? stringField(payload, 'id') : signature.id;
    if (id === undefined) return refuse(request, response, 'malformed_json', 'the event has no string id');
    const type = stringField(payload, 'type');
    const event: ReceivedWebhook = {
      id,
      ...(type !== undefined && { type }),
      payload,
      signedAt: signature.timestamp * 1000,
      receivedAt: now,
      path,
    };
    commits.run(() => received.recordIfNew(event, text)).then(
      (isNew) => {
        if (!isNew) {
          counters.duplicate++;
          return reply(response, 200, { received: true, duplicate: true });
        }
        counters.accepted++;
        reply(response, 200, { received: true });
        void process(event, true);
      },
      (error: unknown) => failed(request, response, error),
    );
  }

  function parseSignature(request: IncomingMessage): ParsedSignature | undefined {
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    if (scheme === 'stripe') return parseStripeHeader(header('stripe-signature'));
    return parseStandardHeaders({
      id: header('webhook-id'),
      timestamp: header('webhook-timestamp'),
      signature: header('webhook-signature'),
    });
  }

  /**
   * Reads the body while counting: a sender that lies about (or omits) its length is cut off
   * at the cap, not after buffering everything it sends. The deadline covers a body that
   * trickles in (slowloris); Node's own request timeout is only a backstop behind it.
   */
  function readBody(request: IncomingMessage): Promise<BodyRead> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const settle = (read: BodyRead) => {
        clearTimeout(timer);
        request.off('data', onData).off('end', onEnd).off('aborted', onAborted).off('error', onAborted);
        if (read.kind !== 'body') request.pause();
        resolve(read);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) return settle({ kind: 'too_large' });
        chunks.push(chunk);
      };
      const onEnd = () => settle({ kind: 'body', body: Buffer.concat(chunks, size) });
      const onAborted = () => settle({ kind: 'aborted' });
      const timer = setTimeout(() => settle({ kind: 'timeout' }), bodyTimeoutMs);
      request.on('data', onData).on('end', onEnd).on('aborted', onAborted).on('error', onAborted);
    });
  }

  /** A fault of ours: told to `onError`, answered 500 without its text (not the client's business). */
  function failed(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    options.onError?.(error);
    refuse(request, response, 'internal_error');
  }

  function refuse(request: IncomingMessage, response: ServerResponse, outcome: keyof typeof REFUSALS, detail?: string) {
    counters[outcome]++;
    if (response.headersSent) return;
    // A refused request's body may be unread (or still arriving): closing the connection is
    // the only way not to read it.
    if (!request.complete) response.setHeader('connection', 'close');
    reply(response, REFUSALS[outcome], { error: outcome, ...(detail !== undefined && { detail }) });
  }

  /** Registered at once (so `processPending` cannot hand the event over twice), run later. */
  function process(event: ReceivedWebhook, afterReply = false): Promise<void> {
    const running = processing.get(event.id);
    if (running) return running;
    const started = (async () => {
      // After the reply is written: the sender's wait (and its timeout) does not include our work.
      if (afterReply) await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        await options.onEvent(event);
      } catch (error) {
        await commits.run(() => received.markFailed(event.id, clock.now(), error instanceof Error ? error.message : String(error)));
        counters.processing_failed++;
        options.onError?.(error, event);
        return;
      }
      await commits.run(() => received.markProcessed(event.id, clock.now()));
      counters.processed++;
    })().finally(() => processing.delete(event.id));
    processing.set(event.id, started);
    return started;
  }

  const server = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + bodyTimeoutMs + 1000,
      // Node checks the timeouts above on this interval (30 s by default), which would let a
      // slow client hold its connection far longer than the timeouts say.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
    },
    handle,
  );
  const answeredSockets = new WeakSet<Socket>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // After we answered, the parser only reports the connection's end: not a new request.
    if (answeredSockets.has(socket) || !socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    answeredSockets.add(socket);
    const [outcome, status, phrase]: [ReceiverOutcome, number, string] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['timeout', 408, 'Request Timeout']
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? ['too_large', 431, 'Request Header Fields Too Large']
          : ['bad_request', 400, 'Bad Request'];
    counters[outcome]++;
    socket.end(`HTTP/1.1 ${status} ${phrase}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  async function idle(): Promise<void> {
    while (processing.size > 0) await Promise.all(processing.values());
  }

  return {
    server,
    handle,
    listen: (port = 0, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          resolve(`http://${host}:${address.port}`);
        });
      }),
    close: async () => {
      await idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    metrics: () => ({ ...counters }),
    idle,
    processPending: async () => {
      const events = received.unprocessed(10_000).filter((event) => !processing.has(event.id));
      for (const event of events) await process(event);
      return events.length;
    },
    prune: (before) => received.prune(before),
  };
}

function reply(response: ServerResponse, status: number, body: Record<string, WebhookJson>): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function stringField(payload: WebhookJson, name: string): string | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function zeroMetrics(): ReceiverMetrics {
  return {
    accepted: 0,
    duplicate: 0,
    bad_signature: 0,
    stale_timestamp: 0,
    missing_headers: 0,
    malformed_json: 0,
    too_large: 0,
    timeout: 0,
    unknown_endpoint: 0,
    method_not_allowed: 0,
    bad_request: 0,
    internal_error: 0,
    processed: 0,
    processing_failed: 0,
  };
}
