import type { HandlerCatalog, HandlerInfo } from '../compiler/types';
import type { HandlerContext, HandlerDefinition, HandlerPack } from './define';

/** A handler as the executor calls it: what it returns is read by the node's kind (a patch or a label). */
export type HandlerFunction = (context: HandlerContext) => unknown;

/** Stands between the executor and a handler: it may call the handler or answer for it. */
export type HandlerInterceptor = (context: HandlerContext, handler: HandlerFunction) => unknown;

/**
 * Handlers by name. Packs (the built-in billing or webhook steps, or a team's own) register
 * many at once; a name can be registered once only, so two packs cannot silently shadow each other.
 */
export class HandlerRegistry {
  private readonly handlers = new Map<string, { run: HandlerFunction; info: HandlerInfo }>();

  register(name: string, handler: HandlerDefinition): this {
    const info: HandlerInfo = handler.kind === 'decision' ? { kind: 'decision', labels: [...handler.labels] } : { kind: 'step' };
    return this.add(name, (context) => handler.run(context), info);
  }

  /** A function written in a binding module: its labels are checked by the generated types, not here. */
  registerInline(name: string, run: HandlerFunction): this {
    return this.add(name, run, { kind: 'inline' });
  }

  use(pack: HandlerPack): this {
    for (const [name, handler] of Object.entries(pack.handlers)) this.register(name, handler);
    return this;
  }

  /** Routes every registered handler's runs through `interceptor`. */
  intercept(interceptor: HandlerInterceptor): this {
    for (const [name, entry] of this.handlers) {
      const handler = entry.run;
      this.handlers.set(name, { ...entry, run: (context) => interceptor(context, handler) });
    }
    return this;
  }

  get(name: string): HandlerFunction | undefined {
    return this.handlers.get(name)?.run;
  }

  catalog(): HandlerCatalog {
    return Object.fromEntries([...this.handlers].map(([name, { info }]) => [name, info]));
  }

  private add(name: string, run: HandlerFunction, info: HandlerInfo): this {
    if (this.handlers.has(name)) throw new Error(`a handler named "${name}" is already registered`);
    this.handlers.set(name, { run, info });
    return this;
  }
}
