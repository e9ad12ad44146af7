// `laneflow serve`: a local web page per flow with the diagram, its diagnostics and an editor,
// live reload, and the instances a database holds. node:http and a few routes of our own: the
// server has a dozen endpoints, all JSON except the page's static files.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSource } from '../../compiler/check-source';
import type { CompiledFlow } from '../../compiler/types';
import { THEME_NAMES, type RenderHighlight, type ThemeName } from '../../render/index';
import { scenarioCoverage } from './coverage';
import { FlowsFolder, MAX_FLOW_BYTES, textHash, type FlowFile } from './flows-folder';
import { checkHost, checkNotCrossSite, checkSameOrigin, HttpError, isLoopback, readJson, Router, send, sendJson, stringField, type Request } from './http';
import { InstanceReader } from './instances';
import { LiveReload } from './live-reload';
import { Previewer, type DrawingStyle } from './preview';
import type { FlowDocument, FlowListing, SaveResult } from './types';

export interface ServeOptions {
  /** The folder whose .flow files are served. */
  folder: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The SQLite database whose instances the page shows. */
  database: string;
}

export interface RunningServer {
  url: string;
  folder: string;
  close(): Promise<void>;
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const folder = new FlowsFolder(options.folder);
  const previewer = new Previewer();
  const instances = new InstanceReader(options.database);
  const page = pageFiles();
  const live = new LiveReload(folder.root);
  const router = routes(folder, previewer, instances, page).get('/api/events', (_request, response) => live.subscribe(response));
  const allowedHosts = hostNames(options.host);

  const server = createServer((raw, response) => {
    void answer(raw, response, router, allowedHosts);
  });
  // Headers and bodies arrive within these, or the connection is dropped.
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  try {
    await listen(server, options.host, options.port);
  } catch (error) {
    live.close();
    throw error;
  }

  // Layout and SVG modules load on first use; warming them now makes the first page quick.
  const first = folder.list()[0];
  if (first !== undefined) void previewer.preview(first.name, safeRead(folder, first), { theme: 'light' }).catch(() => undefined);

  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/`,
    folder: folder.root,
    close: () =>
      new Promise((resolve) => {
        live.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function routes(folder: FlowsFolder, previewer: Previewer, instances: InstanceReader, page: PageFiles): Router {
  const flowOf = (request: Request): FlowFile => folder.resolve(request.query.get('name') ?? '');
  return new Router()
    .get('/', (_request, response) => page.send(response, 'index.html'))
    .get('/flow/', (request, response) => {
      folder.resolve(request.path.slice('/flow/'.length));
      page.send(response, 'flow.html');
    })
    .get('/assets/', (request, response) => page.send(response, request.path.slice('/assets/'.length)))
    .get('/api/flows', (_request, response) => {
      const listing: FlowListing = {
        folder: folder.root,
        flows: folder.list().map((file) => {
          try {
            const { diagnostics } = checkSource(file.name, folder.read(file));
            const errors = diagnostics.filter((d) => d.severity === 'error').length;
            return { name: file.name, errors, warnings: diagnostics.length - errors };
          } catch (error) {
            return { name: file.name, errors: 0, warnings: 0, problem: error instanceof Error ? error.message : String(error) };
          }
        }),
      };
      sendJson(response, 200, listing);
    })
    .get('/api/flow', async (request, response) => {
      const file = flowOf(request);
      const text = folder.read(file);
      const preview = await previewer.preview(file.name, text, { theme: themeOf(request.query.get('theme')) });
      const document: FlowDocument = { name: file.name, text, hash: textHash(text), ...preview! };
      sendJson(response, 200, document);
    })
    .post('/api/preview', async (request, response) => {
      checkSameOrigin(request.raw);
      const body = await readJson(request.raw, MAX_FLOW_BYTES);
      // Drawing the page's text needs no file: it goes on after the file is renamed on disk.
      const name = folder.drawable(stringField(body, 'name'));
      const preview = await previewer.preview(name, stringField(body, 'text'), styleOf(body), request.aborted);
      if (preview !== undefined) sendJson(response, 200, preview);
    })
    .put('/api/flow', async (request, response) => {
      checkSameOrigin(request.raw);
      const name = request.query.get('name') ?? '';
      const body = await readJson(request.raw, MAX_FLOW_BYTES);
      const text = stringField(body, 'text');
      // Save as, or create again a file renamed or deleted on disk while its page was open.
      if (body['create'] === true) {
        const file = folder.resolveNew(name);
        folder.create(file, text);
        const result: SaveResult = { hash: textHash(text) };
        sendJson(response, 201, result);
        return;
      }
      const file = existingOrGone(folder, name);
      // The page names the version it edited; a file changed on disk since then is not
      // overwritten unless the page says so.
      const onDisk = textHash(folder.read(file));
      if (body['force'] !== true && body['base'] !== onDisk) throw new HttpError(409, `${file.name} changed on disk since it was loaded`);
      folder.write(file, text);
      const result: SaveResult = { hash: textHash(text) };
      sendJson(response, 200, result);
    })
    .post('/api/png', async (request, response) => {
      checkSameOrigin(request.raw);
      const body = await readJson(request.raw, MAX_FLOW_BYTES);
      const name = folder.drawable(stringField(body, 'name'));
      const png = await previewer.png(name, stringField(body, 'text'), styleOf(body));
      if (png === undefined) throw new HttpError(422, 'a flow with errors cannot be exported');
      send(response, 200, 'image/png', png);
    })
    .get('/api/instances', async (request, response) => sendJson(response, 200, await instances.list(flowOf(request))))
    .get('/api/instance', async (request, response) => {
      const file = flowOf(request);
      sendJson(response, 200, await instances.trail(file, request.query.get('id') ?? '', compiledOnDisk(folder, file)));
    })
    // A POST, not a GET: running the scenarios runs the flow's binding module, which only the
    // page itself may ask for.
    .post('/api/coverage', async (request, response) => {
      checkSameOrigin(request.raw);
      const flow = compiledOnDisk(folder, folder.resolve(stringField(await readJson(request.raw, 4096), 'name')));
      if (flow === undefined) throw new HttpError(422, 'fix the flow\'s errors (and save) to run its scenarios');
      sendJson(response, 200, (await scenarioCoverage(flow)) ?? null);
    });
}

async function answer(raw: IncomingMessage, response: ServerResponse, router: Router, allowedHosts: ReadonlySet<string>): Promise<void> {
  const aborted = new AbortController();
  response.on('close', () => {
    if (!response.writableFinished) aborted.abort();
  });
  try {
    checkHost(raw, allowedHosts);
    const url = new URL(raw.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/api/')) checkNotCrossSite(raw);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      throw new HttpError(400, 'the path is not valid percent-encoding');
    }
    const route = router.match(raw.method ?? 'GET', path);
    if (route === undefined) throw new HttpError(404, `nothing at ${path}`);
    if (route === 'wrong method') throw new HttpError(405, `${raw.method} is not allowed on ${path}`);
    await route.handler({ method: raw.method ?? 'GET', path, query: url.searchParams, raw, aborted: aborted.signal }, response);
  } catch (error) {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (error instanceof HttpError) sendJson(response, error.status, { error: error.message });
    else sendJson(response, 500, { error: `the server failed: ${error instanceof Error ? error.message : String(error)}` });
  }
}

function themeOf(value: unknown): ThemeName {
  return THEME_NAMES.find((name) => name === value) ?? 'light';
}

/** The theme and highlight a preview or PNG request asks for. */
function styleOf(body: Record<string, unknown>): DrawingStyle {
  const theme = themeOf(body['theme']);
  const highlight = body['highlight'];
  if (highlight === undefined || highlight === null) return { theme };
  if (typeof highlight !== 'object') throw new HttpError(400, '"highlight" must be an object');
  const ids = (name: string): string[] | undefined => {
    const value = (highlight as Record<string, unknown>)[name];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((id) => typeof id === 'string')) throw new HttpError(400, `"highlight.${name}" must be a list of ids`);
    return value as string[];
  };
  const marks: RenderHighlight = { taken: ids('taken') ?? [] };
  const missed = ids('missed');
  const nodes = ids('nodes');
  if (missed !== undefined) marks.missed = missed;
  if (nodes !== undefined) marks.nodes = nodes;
  return { theme, highlight: marks };
}

/**
 * The file a save names. One that was there when the page loaded it and is not now (renamed
 * or deleted on disk) is 410 Gone, so the page can offer to keep the text under another name.
 */
function existingOrGone(folder: FlowsFolder, name: string): FlowFile {
  try {
    return folder.resolve(name);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404 && folder.isFree(name)) {
      throw new HttpError(410, `${name} is no longer on disk (renamed or deleted): save your text under a new name, or create ${name} again`);
    }
    throw error;
  }
}

/**
 * The file on disk compiled for running, under its real path, where the runtime finds its
 * binding module and scenario file; undefined while it has errors (a flow with no start among them).
 */
function compiledOnDisk(folder: FlowsFolder, file: FlowFile): CompiledFlow | undefined {
  return checkSource(file.path, folder.read(file), { purpose: 'run' }).flow;
}

function safeRead(folder: FlowsFolder, file: FlowFile): string {
  try {
    return folder.read(file);
  } catch {
    return '';
  }
}

/** The names the server answers to: loopback, and the host it was bound to with its addresses. */
function hostNames(host: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  if (isLoopback(host)) return names;
  const bracketed = (address: string) => (address.includes(':') ? `[${address}]` : address);
  names.add(bracketed(host.toLowerCase()));
  if (host === '0.0.0.0' || host === '::') {
    for (const addresses of Object.values(networkInterfaces())) for (const { address } of addresses ?? []) names.add(bracketed(address.toLowerCase()));
  }
  return names;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface PageFiles {
  send(response: ServerResponse, name: string): void;
}

/**
 * The page's static files: a flat folder of HTML, CSS and ES modules, listed once at start-up.
 * Only those names are ever read, so no request can reach another file through them.
 */
function pageFiles(): PageFiles {
  const folder = pageFolder();
  const names = new Set(readdirSync(folder).filter((name) => STATIC_TYPES[extname(name)] !== undefined && statSync(join(folder, name)).isFile()));
  return {
    send(response, name) {
      if (!names.has(name)) throw new HttpError(404, `no page file ${name}`);
      send(response, 200, STATIC_TYPES[extname(name)]!, readFileSync(join(folder, name)), { 'Cache-Control': 'no-cache' });
    },
  };
}

/**
 * Where the page's files are: beside this module when it runs from the source, or in the
 * package's src/cli/serve/page when it runs from the bundle in dist/.
 */
function pageFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'page')];
  for (let folder = here; dirname(folder) !== folder; folder = dirname(folder)) candidates.push(join(folder, 'src', 'cli', 'serve', 'page'));
  const found = candidates.find((candidate) => existsSync(join(candidate, 'flow.html')));
  if (found === undefined) throw new Error(`the page's files are missing (looked in ${candidates[0]})`);
  return found;
}
