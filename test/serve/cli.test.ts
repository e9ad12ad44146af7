import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { hasStackTrace, laneflow } from '../helpers/cli';
import { makeWorkspace, type Workspace } from './helpers';

let workspace: Workspace | undefined;
let child: ChildProcess | undefined;

afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
  workspace?.remove();
  workspace = undefined;
});

/** Starts the built CLI's `serve` and resolves with the URL it prints. */
function startServe(args: string[]): Promise<{ url: string; process: ChildProcess }> {
  const started = spawn(process.execPath, [`${repoRoot}bin/laneflow.js`, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = started;
  return new Promise((resolve, reject) => {
    let out = '';
    started.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const url = /(http:\/\/\S+\/)/.exec(out)?.[1];
      if (url !== undefined) resolve({ url, process: started });
    });
    started.on('exit', (code) => reject(new Error(`laneflow serve exited with ${code} before listening: ${out}`)));
  });
}

describe('laneflow serve (the built CLI)', () => {
  it('serves the folder on loopback, page files included, and stops on SIGTERM', async () => {
    workspace = makeWorkspace();
    const { url, process: server } = await startServe([workspace.flows, '--port', '0', '--db', workspace.database]);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    const listing = (await (await fetch(new URL('/api/flows', url))).json()) as { flows: { name: string }[] };
    expect(listing.flows.map((flow) => flow.name)).toContain('order.flow');
    const page = await fetch(new URL('/flow/order.flow', url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/assets/flow.js">');
    expect((await fetch(new URL('/assets/diagram.js', url))).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('says in one sentence what is wrong with a missing folder or a busy port', async () => {
    const missing = laneflow(['serve', 'no-such-folder']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('laneflow: no-such-folder is not a folder: name the folder that holds your .flow files\n');

    workspace = makeWorkspace();
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const taken = laneflow(['serve', workspace.flows, '--port', String(port)]);
      expect(taken.status).toBe(2);
      expect(taken.stderr).toBe(`laneflow: port ${port} is in use: pick another with --port\n`);
      expect(hasStackTrace(taken.stderr)).toBe(false);
    } finally {
      busy.close();
    }
    const badPort = laneflow(['serve', workspace.flows, '--port', 'http']);
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toContain('--port must be a whole number from 0 to 65535');
  });
});
