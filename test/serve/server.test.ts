import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve/server';
import type { FlowCoverage, FlowDocument, FlowListing, InstanceListing, InstanceTrail, Preview } from '../../src/cli/serve/types';
import { makeWorkspace, ORDER_FLOW, ORDER_SCENARIOS, raw, runOrderInstance, serve, type Workspace } from './helpers';

let workspace: Workspace;
let server: RunningServer;

beforeAll(async () => {
  workspace = makeWorkspace();
  symlinkSync(join(workspace.root, 'secret.flow'), join(workspace.flows, 'escape.flow'));
  symlinkSync(join(workspace.flows, 'order.flow'), join(workspace.flows, 'alias.flow'));
  server = await serve(workspace);
});

afterAll(async () => {
  await server.close();
  workspace.remove();
});

const url = (path: string) => new URL(path, server.url).toString();
const json = { 'Content-Type': 'application/json' };

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url(path));
  return { status: response.status, body: (await response.json()) as T };
}

async function send<T>(method: string, path: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url(path), { method, headers: json, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

describe('laneflow serve: flows and previews', () => {
  it('listens on loopback and lists the .flow files below the folder with their problem counts', async () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    const { status, body } = await getJson<FlowListing>('/api/flows');
    expect(status).toBe(200);
    expect(body.flows.map((flow) => flow.name)).toEqual(['billing/refund.flow', 'broken.flow', 'order.flow']);
    expect(body.flows.find((flow) => flow.name === 'broken.flow')).toMatchObject({ errors: 1 });
    expect(body.flows.find((flow) => flow.name === 'order.flow')).toMatchObject({ errors: 0, warnings: 0 });
  });

  it('serves the list page and a page per flow, with a content security policy', async () => {
    for (const path of ['/', '/flow/order.flow', '/flow/billing/refund.flow']) {
      const response = await fetch(url(path));
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      expect(response.headers.get('content-security-policy')).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const script = await fetch(url('/assets/flow.js'));
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect(await script.text()).toContain('requestPreview');
    expect((await fetch(url('/flow/missing.flow'))).status).toBe(404);
  });

  it('sends a flow with its text, hash, diagnostics and drawing', async () => {
    const { status, body } = await getJson<FlowDocument>('/api/flow?name=order.flow&theme=dark');
    expect(status).toBe(200);
    expect(body.text).toBe(ORDER_FLOW);
    expect(body.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(body.diagnostics).toEqual([]);
    expect(body.svg).toContain('>Check order</text>');
    expect(body.svg).toContain('data-edge-id="n3-&gt;n5"');
    // The dark theme's background, not the light one's.
    expect(body.svg).toContain('#0b1120');
  });

  it('previews an edited text without saving it', async () => {
    const edited = ORDER_FLOW.replace('Check order', 'Validate the basket');
    const { status, body } = await send<Preview>('POST', '/api/preview', { name: 'order.flow', text: edited, theme: 'light' });
    expect(status).toBe(200);
    expect(body.svg).toContain('Validate the basket');
    expect(body.svg).not.toContain('Check order');
    expect(readFileSync(join(workspace.flows, 'order.flow'), 'utf8')).toBe(ORDER_FLOW);
  });

  it('reports a broken line with its position and draws nothing', async () => {
    const broken = ORDER_FLOW.replace('n4: rectangle', 'n4: rectangel');
    const { body } = await send<Preview>('POST', '/api/preview', { name: 'order.flow', text: broken, theme: 'light' });
    expect(body.svg).toBeUndefined();
    expect(body.diagnostics).toHaveLength(1);
    expect(body.diagnostics[0]).toMatchObject({ code: 'FZ201', severity: 'error', range: { start: { line: 5, column: 7 } } });
    expect(body.diagnostics[0]!.message).toContain('did you mean `rectangle`?');
  });

  it('escapes a label that looks like markup', async () => {
    const hostile = ORDER_FLOW.replace('Check order', '<img src=x onerror=alert(1)>');
    const { body } = await send<Preview>('POST', '/api/preview', { name: 'order.flow', text: hostile, theme: 'light' });
    // The label wraps over two lines, each escaped.
    expect(body.svg).toContain('>&lt;img src=x</text>');
    expect(body.svg).toContain('>onerror=alert(1)&gt;</text>');
    expect(body.svg).not.toContain('<img');
  });

  it('exports a PNG of the text and refuses one with errors', async () => {
    const response = await fetch(url('/api/png'), { method: 'POST', headers: json, body: JSON.stringify({ name: 'order.flow', text: ORDER_FLOW, theme: 'dark' }) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await response.arrayBuffer()).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const refused = await send<{ error: string }>('POST', '/api/png', { name: 'broken.flow', text: 'Shop {', theme: 'light' });
    expect(refused.status).toBe(422);
  });
});

describe('laneflow serve: saving', () => {
  it('saves to the file only with the hash it loaded, unless forced', async () => {
    const { body: loaded } = await getJson<FlowDocument>('/api/flow?name=billing/refund.flow');
    const edited = loaded.text.replace('Check refund', 'Check the refund');
    const saved = await send<{ hash: string }>('PUT', '/api/flow?name=billing/refund.flow', { text: edited, base: loaded.hash });
    expect(saved.status).toBe(200);
    expect(readFileSync(join(workspace.flows, 'billing', 'refund.flow'), 'utf8')).toBe(edited);

    // Someone else writes the file: a save based on the old hash is refused and changes nothing.
    writeFileSync(join(workspace.flows, 'billing', 'refund.flow'), 'changed elsewhere\n');
    const stale = await send<{ error: string }>('PUT', '/api/flow?name=billing/refund.flow', { text: edited, base: saved.body.hash });
    expect(stale.status).toBe(409);
    expect(readFileSync(join(workspace.flows, 'billing', 'refund.flow'), 'utf8')).toBe('changed elsewhere\n');

    const forced = await send<{ hash: string }>('PUT', '/api/flow?name=billing/refund.flow', { text: edited, base: saved.body.hash, force: true });
    expect(forced.status).toBe(200);
    expect(readFileSync(join(workspace.flows, 'billing', 'refund.flow'), 'utf8')).toBe(edited);
  });

  it('writes through a symlink inside the folder to its target, keeping the link', async () => {
    const { body: loaded } = await getJson<FlowDocument>('/api/flow?name=alias.flow');
    const edited = loaded.text.replace('Ship it', 'Ship it today');
    expect((await send('PUT', '/api/flow?name=alias.flow', { text: edited, base: loaded.hash })).status).toBe(200);
    expect(readFileSync(join(workspace.flows, 'order.flow'), 'utf8')).toBe(edited);
    writeFileSync(join(workspace.flows, 'order.flow'), ORDER_FLOW);
  });

  it('refuses a write that is not JSON from the page itself', async () => {
    const { body: loaded } = await getJson<FlowDocument>('/api/flow?name=order.flow');
    const body = JSON.stringify({ text: 'hijacked', base: loaded.hash });
    const asForm = await fetch(url('/api/flow?name=order.flow'), { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body });
    expect(asForm.status).toBe(415);
    const crossSite = await raw(server, 'PUT', '/api/flow?name=order.flow', { headers: { ...json, Origin: 'http://evil.example' }, body });
    expect(crossSite.status).toBe(403);
    const fetchMetadata = await raw(server, 'PUT', '/api/flow?name=order.flow', { headers: { ...json, 'Sec-Fetch-Site': 'cross-site' }, body });
    expect(fetchMetadata.status).toBe(403);
    expect(readFileSync(join(workspace.flows, 'order.flow'), 'utf8')).toBe(ORDER_FLOW);
  });
});

describe('laneflow serve: never outside the flows folder', () => {
  const secret = () => readFileSync(join(workspace.root, 'secret.flow'), 'utf8');

  it.each([
    ['../secret.flow', 400],
    ['..%2Fsecret.flow', 400],
    ['%2e%2e%2fsecret.flow', 400],
    ['billing/../../secret.flow', 400],
    ['./order.flow', 400],
    [encodeURIComponent(join('/', 'etc', 'passwd')), 400],
    [encodeURIComponent('/etc/hosts.flow'), 400],
    ['notes.txt', 400],
    ['order.flow%00.txt', 400],
    ['..%5Csecret.flow', 400],
    ['.hidden/secret.flow', 404],
    ['escape.flow', 403],
    ['missing.flow', 404],
  ])('GET /api/flow?name=%s is refused with %i', async (name, status) => {
    const response = await raw(server, 'GET', `/api/flow?name=${name}`);
    expect(response.status).toBe(status);
    expect(response.body).not.toContain('TOP SECRET');
    expect(JSON.parse(response.body)).toHaveProperty('error');
  });

  it.each(['/flow/../secret.flow', '/flow/%2e%2e/secret.flow', '/flow/..%2fsecret.flow', '/flow/%2e%2e%2fsecret.flow', '/flow/escape.flow', '/flow//etc/passwd'])(
    'does not serve a page for %s',
    async (path) => {
      const response = await raw(server, 'GET', path);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.body).not.toContain('TOP SECRET');
    },
  );

  it.each(['/assets/../server.ts', '/assets/%2e%2e/server.ts', '/assets/..%2fserver.ts', '/assets/%2e%2e%2fhttp.ts', '/assets/page/flow.js', '/assets/.', '/assets/'])(
    'serves no file but the page\'s own for %s',
    async (path) => {
      const response = await raw(server, 'GET', path);
      expect(response.status).toBe(404);
      expect(response.body).not.toContain('import');
    },
  );

  it('does not write outside: through a symlink, a traversal or to a new name', async () => {
    for (const name of ['escape.flow', '..%2fsecret.flow', '..%2f..%2fsecret.flow', 'new.flow']) {
      const response = await raw(server, 'PUT', `/api/flow?name=${name}`, { headers: json, body: JSON.stringify({ text: 'overwritten', force: true }) });
      expect(response.status, name).toBeGreaterThanOrEqual(400);
    }
    expect(secret()).toContain('TOP SECRET');
    expect(existsSync(join(workspace.flows, 'new.flow'))).toBe(false);
  });

  it('previews only under the names of flows in the folder', async () => {
    const response = await send<{ error: string }>('POST', '/api/preview', { name: '../secret.flow', text: ORDER_FLOW, theme: 'light' });
    expect(response.status).toBe(400);
  });
});

describe('laneflow serve: who may ask', () => {
  it.each([
    ['evil.example', 403],
    ['evil.example:4321', 403],
    ['127.0.0.1.nip.io', 403],
    ['localhost', 200],
    ['127.0.0.1:1', 200],
    ['[::1]:4321', 200],
  ])('answers a request with Host %s with %i', async (host, status) => {
    const response = await raw(server, 'GET', '/api/flows', { headers: { Host: host } });
    expect(response.status).toBe(status);
    if (status !== 200) expect(response.body).not.toContain('order.flow');
  });

  it('answers no API request that another site\'s page makes', async () => {
    for (const path of ['/api/flows', '/api/flow?name=order.flow', '/api/events']) {
      const response = await raw(server, 'GET', path, { headers: { 'Sec-Fetch-Site': 'cross-site' } });
      expect(response.status, path).toBe(403);
      expect(response.body).not.toContain('Shop');
    }
    expect((await raw(server, 'GET', '/api/flows', { headers: { 'Sec-Fetch-Site': 'same-origin' } })).status).toBe(200);
    // A link from elsewhere may open the page itself.
    expect((await raw(server, 'GET', '/flow/order.flow', { headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(200);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    expect((await raw(server, 'GET', '/api/nothing')).status).toBe(404);
    expect((await raw(server, 'DELETE', '/api/flow?name=order.flow')).status).toBe(405);
    expect((await raw(server, 'GET', '/flow/%E0%A4%A')).status).toBe(400);
  });
});

describe('laneflow serve: runs and coverage', () => {
  it('reports a missing database without creating it', async () => {
    const { body } = await getJson<InstanceListing>('/api/instances?name=order.flow');
    expect(body).toEqual({ database: workspace.database, exists: false, instances: [] });
    expect(existsSync(workspace.database)).toBe(false);
  });

  it('lists a flow\'s instances and gives one\'s trail and timeline', async () => {
    const id = await runOrderInstance(workspace);
    const { body: listing } = await getJson<InstanceListing>('/api/instances?name=order.flow');
    expect(listing.exists).toBe(true);
    expect(listing.instances.map((instance) => [instance.id, instance.status])).toEqual([[id, 'completed']]);
    expect((await getJson<InstanceListing>('/api/instances?name=billing/refund.flow')).body.instances).toEqual([]);

    const { status, body: trail } = await getJson<InstanceTrail>(`/api/instance?name=order.flow&id=${id}`);
    expect(status).toBe(200);
    expect(trail.sameVersion).toBe(true);
    expect(trail.highlight.nodes).toEqual(['n1', 'n2', 'n3', 'n5', 'n6']);
    expect(trail.highlight.taken).toEqual(['n1->n2', 'n2->n3', 'n3->n5', 'n5->n6']);
    expect(trail.current).toEqual([]);
    expect(trail.timeline.map((row) => [row.node, row.outcome])).toEqual([
      ['n1', 'started'],
      ['n2', 'completed'],
      ['n3', 'decided'],
      ['n5', 'completed'],
      ['n6', 'ended'],
    ]);
    expect(trail.timeline[2]).toMatchObject({ label: 'In stock?', lane: 'Shop', detail: { label: 'No' } });

    expect((await getJson(`/api/instance?name=billing/refund.flow&id=${id}`)).status).toBe(404);
    expect((await getJson(`/api/instance?name=order.flow&id=${id.slice(0, 8)}`)).status).toBe(404);
  });

  it('recognises an instance run from another folder by the file\'s name', async () => {
    const id = await runOrderInstance(workspace, join('somewhere', 'else', 'order.flow'));
    const { body } = await getJson<InstanceListing>('/api/instances?name=order.flow');
    expect(body.instances.map((instance) => instance.id)).toContain(id);
    expect((await getJson<InstanceListing>('/api/instances?name=broken.flow')).body.instances).toEqual([]);
  });

  it('runs the flow\'s scenarios for its coverage', async () => {
    expect((await send('POST', '/api/coverage', { name: 'order.flow' })).body).toBeNull();
    writeFileSync(join(workspace.flows, 'order.scenarios.yaml'), ORDER_SCENARIOS);
    const { status, body } = await send<FlowCoverage>('POST', '/api/coverage', { name: 'order.flow' });
    expect(status).toBe(200);
    expect(body.scenarios).toBe('order.scenarios.yaml');
    expect(body.highlight.taken.sort()).toEqual(['n1->n2', 'n2->n3', 'n3->n5', 'n5->n6']);
    expect(body.highlight.missed?.sort()).toEqual(['n3->n4', 'n4->n6']);
    expect(body.edges).toEqual({ covered: 4, total: 6 });
    expect((await send('POST', '/api/coverage', { name: 'broken.flow' })).status).toBe(422);
    // Running scenarios runs the binding module: never for a plain GET, nor for another site.
    expect((await raw(server, 'GET', '/api/coverage?name=order.flow')).status).toBe(405);
    const crossSite = await raw(server, 'POST', '/api/coverage', { headers: { ...json, 'Sec-Fetch-Site': 'cross-site' }, body: JSON.stringify({ name: 'order.flow' }) });
    expect(crossSite.status).toBe(403);
  });

  it('draws a highlight it is sent, and refuses one that is not lists of ids', async () => {
    const highlight = { taken: ['n1->n2'], missed: ['n3->n4'], nodes: ['n1', 'n2'] };
    const { body } = await send<Preview>('POST', '/api/preview', { name: 'order.flow', text: ORDER_FLOW, theme: 'light', highlight });
    expect(body.svg).toMatch(/data-edge-id="n1-&gt;n2"[^>]*data-highlight="taken"/);
    expect(body.svg).toMatch(/data-edge-id="n3-&gt;n4"[^>]*data-highlight="missed"/);
    const refused = await send<{ error: string }>('POST', '/api/preview', { name: 'order.flow', text: ORDER_FLOW, highlight: { taken: [1] } });
    expect(refused.status).toBe(400);
  });
});

describe('laneflow serve: live reload', () => {
  /** The event stream, and a wait for the `count`th message holding `text`. */
  async function openEvents() {
    const { port } = new URL(server.url);
    const stream = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/api/events' }, resolve).on('error', reject).end();
    });
    expect(stream.headers['content-type']).toContain('text/event-stream');
    let received = '';
    const waiters: (() => void)[] = [];
    stream.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      for (const waiter of waiters) waiter();
    });
    const messages = (text: string) => received.split('\n\n').filter((message) => message.includes(text)).length;
    return {
      get received() {
        return received;
      },
      /** Repeats `change` every half second until the `count`th message holding `text` has come. */
      async until(text: string, count: number, change: () => void): Promise<void> {
        const arrived = new Promise<void>((resolve) => {
          const check = () => messages(text) >= count && resolve();
          waiters.push(check);
          check();
        });
        change();
        const again = setInterval(change, 500);
        try {
          await arrived;
        } finally {
          clearInterval(again);
        }
      },
      close: () => stream.destroy(),
    };
  }

  it('tells open pages which file changed on disk', async () => {
    const events = await openEvents();
    await events.until('"name":"billing/refund.flow"', 1, () => writeFileSync(join(workspace.flows, 'billing', 'refund.flow'), ORDER_FLOW));
    events.close();
    expect(events.received).toMatch(/event: change\ndata: \{"name":"billing\/refund\.flow"\}\n\n/);
  });

  it('keeps following a file after a save replaced it with a rename', async () => {
    const events = await openEvents();
    const { body: loaded } = await getJson<FlowDocument>('/api/flow?name=order.flow');
    let saved = false;
    await events.until('"name":"order.flow"', 1, () => {
      if (saved) return;
      saved = true;
      void send('PUT', '/api/flow?name=order.flow', { text: `${ORDER_FLOW}\n`, base: loaded.hash });
    });
    // The save's own event has come; an editor writing in place afterwards is seen too.
    await events.until('"name":"order.flow"', 2, () => writeFileSync(join(workspace.flows, 'order.flow'), ORDER_FLOW));
    events.close();
  });

  it('follows flows in a folder made after the server started', async () => {
    const events = await openEvents();
    mkdirSync(join(workspace.flows, 'later'));
    await events.until('"name":"later/new.flow"', 1, () => writeFileSync(join(workspace.flows, 'later', 'new.flow'), ORDER_FLOW));
    events.close();
  });
});

describe('laneflow serve: the open file renamed or deleted on disk', () => {
  let gone: Workspace;
  let goneServer: RunningServer;
  const at = (path: string) => new URL(path, goneServer.url).toString();
  const put = async (name: string, body: unknown) => {
    const response = await fetch(at(`/api/flow?name=${encodeURIComponent(name)}`), { method: 'PUT', headers: json, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { error?: string; hash?: string } };
  };

  beforeAll(async () => {
    gone = makeWorkspace();
    goneServer = await serve(gone);
  });

  afterAll(async () => {
    await goneServer.close();
    gone.remove();
  });

  it('answers a save to a file that is no longer there with 410 and a sentence, writing nothing', async () => {
    const loaded = (await (await fetch(at('/api/flow?name=order.flow'))).json()) as FlowDocument;
    renameSync(join(gone.flows, 'order.flow'), join(gone.flows, 'order-renamed.flow'));
    const edited = ORDER_FLOW.replace('Ship it', 'Ship it now');
    const saved = await put('order.flow', { text: edited, base: loaded.hash });
    expect(saved.status).toBe(410);
    expect(saved.body.error).toBe('order.flow is no longer on disk (renamed or deleted): save your text under a new name, or create order.flow again');
    expect(existsSync(join(gone.flows, 'order.flow'))).toBe(false);
    // The page keeps drawing the text it holds.
    const preview = await fetch(at('/api/preview'), { method: 'POST', headers: json, body: JSON.stringify({ name: 'order.flow', text: edited, theme: 'light' }) });
    expect(preview.status).toBe(200);
    expect(((await preview.json()) as Preview).svg).toContain('Ship it now');
  });

  it('saves the text under a new name, refusing a name that is taken or leads outside', async () => {
    const text = ORDER_FLOW.replace('Ship it', 'Ship it now');
    const created = await put('billing/kept.flow', { text, create: true });
    expect(created.status).toBe(201);
    expect(readFileSync(join(gone.flows, 'billing', 'kept.flow'), 'utf8')).toBe(text);
    expect(created.body.hash).toMatch(/^[0-9a-f]{16}$/);
    const taken = await put('order-renamed.flow', { text, create: true });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toBe('order-renamed.flow already exists: choose another name');
    expect(readFileSync(join(gone.flows, 'order-renamed.flow'), 'utf8')).toBe(ORDER_FLOW);
    expect((await put('../outside.flow', { text, create: true })).status).toBe(400);
    expect((await put('nowhere/new.flow', { text, create: true })).status).toBe(404);
    expect((await put('notes.txt', { text, create: true })).status).toBe(400);
    expect(existsSync(join(gone.root, 'outside.flow'))).toBe(false);
  });

  it('creates the file again under its own name', async () => {
    const text = ORDER_FLOW.replace('Ship it', 'Ship it again');
    const created = await put('order.flow', { text, create: true });
    expect(created.status).toBe(201);
    expect(readFileSync(join(gone.flows, 'order.flow'), 'utf8')).toBe(text);
    const loaded = (await (await fetch(at('/api/flow?name=order.flow'))).json()) as FlowDocument;
    expect(loaded.hash).toBe(created.body.hash);
  });
});
