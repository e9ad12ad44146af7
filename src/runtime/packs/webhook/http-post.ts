import http, { type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';

/** One HTTP exchange: the status when a response came, the error when something broke. */
export interface PostResult {
  statusCode?: number;
  error?: string;
  latencyMs: number;
}

export interface HttpPoster {
  post(url: URL, headers: OutgoingHttpHeaders, body: string, timeoutMs: number): Promise<PostResult>;
  /** Closes the idle kept-alive connections. */
  close(): void;
}

export interface HttpPosterOptions {
  /** Connections per host; deliveries beyond that wait for a free one. */
  maxSockets?: number;
}

class AttemptTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`);
  }
}

/**
 * POSTs over kept-alive connections: a new TCP connection per delivery would cap throughput
 * far below what signing and journaling allow. Redirects are not followed (see `classify.ts`).
 */
export function createHttpPoster(options: HttpPosterOptions = {}): HttpPoster {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64, scheduling: 'lifo' as const };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

  function once(url: URL, headers: OutgoingHttpHeaders, body: string, timeoutMs: number, started: number) {
    return new Promise<PostResult & { staleSocket?: boolean }>((resolve) => {
      let settled = false;
      const finish = (result: Omit<PostResult, 'latencyMs'> & { staleSocket?: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, latencyMs: performance.now() - started });
      };
      const transport = url.protocol === 'https:' ? https : http;
      const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const request = transport.request(
        url,
        { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (response) => {
          const statusCode = response.statusCode;
          // The body is read to its end only so the connection can be reused; its text is not kept.
          response.resume();
          response.on('end', () => finish({ statusCode }));
          response.on('error', (error) => finish({ statusCode, error: describe(error) }));
          response.on('close', () => finish({ statusCode, error: response.complete ? undefined : 'response cut short' }));
        },
      );
      const timer = setTimeout(() => request.destroy(new AttemptTimeout(timeoutMs)), timeoutMs);
      request.on('error', (error) => {
        // A kept-alive connection the server closed while idle fails on reuse before the server
        // read anything; Node's documentation advises sending again on a fresh connection.
        const staleSocket = request.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET';
        finish({ error: describe(error), staleSocket });
      });
      request.end(body);
    });
  }

  return {
    async post(url, headers, body, timeoutMs) {
      const started = performance.now();
      const first = await once(url, headers, body, timeoutMs, started);
      if (!first.staleSocket) return withoutFlag(first);
      return withoutFlag(await once(url, headers, body, Math.max(1, timeoutMs - first.latencyMs), started));
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

function withoutFlag(result: PostResult & { staleSocket?: boolean }): PostResult {
  const { staleSocket: _, ...rest } = result;
  return rest;
}

function describe(error: Error): string {
  if (error instanceof AttemptTimeout) return `timeout: ${error.message}`;
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}
