import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { SECURITY_HEADERS } from './http';

/** Editors save in bursts (truncate, write, rename): one event per file after it settles. */
const SETTLE_MS = 80;
/** A comment line now and then keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 25_000;

/**
 * Watches the flows folder and tells every open page, over Server-Sent Events, which .flow
 * file changed on disk. The page decides what to do: reload an unchanged editor, or offer to.
 *
 * Each folder is watched on its own rather than with `recursive: true`: Node 20's recursive
 * watcher on Linux watches files one by one and loses a file for good once it is replaced by a
 * rename, which is how laneflow itself and many editors save. A folder's watch sees every
 * entry in it, whatever replaced what.
 */
export class LiveReload {
  private readonly clients = new Set<ServerResponse>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly root: string) {
    this.watchFolder('');
    this.keepalive = setInterval(() => {
      for (const client of this.clients) client.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Turns a response into an event stream that stays open until the page goes away. */
  subscribe(response: ServerResponse): void {
    response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    response.write('retry: 1000\n\n');
    this.clients.add(response);
    response.on('close', () => this.clients.delete(response));
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    clearInterval(this.keepalive);
    for (const timer of this.pending.values()) clearTimeout(timer);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  /** Watches a folder (relative to the root, `/`-separated with a trailing `/`) and those below it. */
  private watchFolder(prefix: string): void {
    if (this.watchers.has(prefix)) return;
    const path = join(this.root, prefix);
    let watcher: FSWatcher;
    try {
      watcher = watch(path, (_event, name) => {
        if (name !== null && !name.startsWith('.')) this.changed(`${prefix}${name}`);
      });
    } catch {
      return;
    }
    // A folder removed, or no more watches allowed: that folder goes quiet, not the server.
    watcher.on('error', () => this.unwatch(prefix));
    this.watchers.set(prefix, watcher);
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') this.watchFolder(`${prefix}${entry.name}/`);
    }
  }

  private unwatch(prefix: string): void {
    for (const [watched, watcher] of this.watchers) {
      if (!watched.startsWith(prefix)) continue;
      watcher.close();
      this.watchers.delete(watched);
    }
  }

  private changed(name: string): void {
    if (name.endsWith('.flow')) {
      clearTimeout(this.pending.get(name));
      this.pending.set(
        name,
        setTimeout(() => {
          this.pending.delete(name);
          this.broadcast('change', { name });
        }, SETTLE_MS),
      );
      return;
    }
    // A new folder (or one renamed into place) is watched too; a removed one is let go.
    const folder = `${name}/`;
    if (name.split('/').at(-1) === 'node_modules') return;
    let isFolder = false;
    try {
      isFolder = statSync(join(this.root, name)).isDirectory();
    } catch {
      isFolder = false;
    }
    if (isFolder) this.watchFolder(folder);
    else this.unwatch(folder);
  }

  private broadcast(event: string, data: unknown): void {
    const message = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) client.write(message);
  }
}
