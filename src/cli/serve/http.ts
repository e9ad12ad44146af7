// The small HTTP layer under `laneflow serve`: a router over node:http, JSON bodies with a size
// limit, and the headers and checks that keep a local server from being used by other pages
// the browser has open (DNS rebinding, cross-site requests).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the server refuses: answered with `status` and the message as JSON. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Request {
  method: string;
  /** The decoded path, without the query. */
  path: string;
  query: URLSearchParams;
  raw: IncomingMessage;
  /** Fires when the client goes away before the answer is sent. */
  aborted: AbortSignal;
}

export type Handler = (request: Request, response: ServerResponse) => Promise<void> | void;

interface Route {
  method: string;
  /** An exact path, or a prefix ending in `/` whose rest the handler reads from `request.path`. */
  path: string;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  get(path: string, handler: Handler): this {
    return this.add('GET', path, handler);
  }

  post(path: string, handler: Handler): this {
    return this.add('POST', path, handler);
  }

  put(path: string, handler: Handler): this {
    return this.add('PUT', path, handler);
  }

  private add(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, path, handler });
    return this;
  }

  /** The route for a path: an exact match first, then the longest prefix. */
  match(method: string, path: string): Route | 'wrong method' | undefined {
    const candidates = this.routes.filter((route) => route.path === path || (route.path.endsWith('/') && route.path !== '/' && path.startsWith(route.path)));
    if (candidates.length === 0) return undefined;
    candidates.sort((a, b) => Number(b.path === path) - Number(a.path === path) || b.path.length - a.path.length);
    return candidates.find((route) => route.method === method || (method === 'HEAD' && route.method === 'GET')) ?? 'wrong method';
  }
}

/**
 * What every answer carries. The page loads only its own scripts and styles, so a label that
 * somehow became markup could still run nothing; it may not be framed, and it sends no referrer.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for the names that reach this machine only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host.endsWith('.localhost');
}

/**
 * The Host header's name must be one the server answers to: a page on another site whose name
 * was rebound to 127.0.0.1 sends its own name and is refused.
 */
export function checkHost(request: IncomingMessage, allowedHosts: ReadonlySet<string>): void {
  const header = request.headers.host;
  if (header === undefined) throw new HttpError(400, 'the request has no Host header');
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d*$/, '');
  if (!allowedHosts.has(name.toLowerCase())) throw new HttpError(403, `this server answers to ${[...allowedHosts].join(', ')}, not ${name}`);
}

/**
 * The API answers the page only: a browser says where a request comes from, and one that
 * another site's page makes (an image, a script, a fetch) is refused before any work is done.
 */
export function checkNotCrossSite(request: IncomingMessage): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'requests from other sites are refused');
}

/**
 * A request that changes something or costs work must come from the page itself: a JSON body
 * (which a cross-site form cannot send without a preflight the server never grants) and, where
 * the browser says where it comes from, the same origin.
 */
export function checkSameOrigin(request: IncomingMessage): void {
  checkNotCrossSite(request);
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host}`) throw new HttpError(403, 'requests from other origins are refused');
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'send the body as application/json');
}

/** Reads a JSON object body of at most `limit` bytes. */
export async function readJson(request: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `the body is over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `the body is over ${limit} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string') throw new HttpError(400, `the body needs a string "${name}"`);
  return value;
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

export function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
