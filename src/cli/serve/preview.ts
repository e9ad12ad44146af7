import { checkSource } from '../../compiler/check-source';
import { hasErrors } from '../../lib/diagnostics';
import { layout, renderPng, renderSvg, type RenderHighlight, type ThemeName } from '../../render/index';
import { textHash } from './flows-folder';
import type { Preview } from './types';

/** How the page wants a flow drawn: its theme, and the instance's path or coverage it marks. */
export interface DrawingStyle {
  theme: ThemeName;
  highlight?: RenderHighlight;
}

/** Previews kept for texts seen lately: switching themes or reloading the page costs nothing. */
const CACHE_SIZE = 24;

/**
 * Checks and draws flow texts for the page. Drawing is CPU work on the server's one thread, so
 * previews run one at a time, newest last; a request whose page has moved on (it typed again
 * and aborted the fetch) is dropped before it starts.
 */
export class Previewer {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly cache = new Map<string, Preview>();

  preview(name: string, text: string, style: DrawingStyle, aborted?: AbortSignal): Promise<Preview | undefined> {
    const key = `${name}:${textHash(text)}:${JSON.stringify(style)}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return Promise.resolve(cached);
    }
    return this.enqueue(async () => {
      if (aborted?.aborted === true) return undefined;
      const preview = await draw(name, text, style);
      this.cache.set(key, preview);
      if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
      return preview;
    });
  }

  /** The PNG of a text that has no errors, or undefined when it has. */
  png(name: string, text: string, style: DrawingStyle): Promise<Uint8Array | undefined> {
    return this.enqueue(async () => {
      const { flow } = checkSource(name, text);
      if (flow === undefined) return undefined;
      return renderPng(await renderSvg(await layout(flow), style));
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

async function draw(name: string, text: string, style: DrawingStyle): Promise<Preview> {
  const started = performance.now();
  const { diagnostics, flow } = checkSource(name, text);
  if (flow === undefined || hasErrors(diagnostics)) return { diagnostics };
  try {
    const svg = await renderSvg(await layout(flow), style);
    return { diagnostics, svg, version: flow.version, renderMs: Math.round(performance.now() - started) };
  } catch (error) {
    // A flow the layout cannot handle (ELK's recursion on thousands of nodes) is reported on
    // the page instead of taking the server down.
    return { diagnostics, version: flow.version, renderError: `the diagram could not be drawn: ${error instanceof Error ? error.message : String(error)}` };
  }
}
