import type { HandlerContext } from '../define';
import type { HandlerInterceptor } from '../registry';
import type { NodeScript, ScriptedOutcome } from './types';

export interface ScriptOptions {
  /** Nodes with no handler of their own: a placeholder is bound, and answers only through the script. */
  unbound: ReadonlySet<string>;
  /** Unbound steps without a scripted outcome pass (a flow with no binding module at all). */
  passUnboundSteps: boolean;
  /** Called before every run: the runner counts them to stop a scenario that never ends. */
  onRun?: () => void;
}

/** The error a scenario's `throw` outcome raises: named as the script says, so retry and catch policies match it. */
export class ScriptedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * An interceptor that answers each run of a scripted node with its scripted outcome. A run is
 * one attempt of one visit: a handler that slept or waited and runs again from the top is the
 * same run and gets the same outcome.
 */
export function scriptedHandlers(scripts: Readonly<Record<string, NodeScript>>, options: ScriptOptions): HandlerInterceptor {
  const runIndex = new Map<string, Map<string, number>>();
  const outcomeFor = (context: HandlerContext): ScriptedOutcome | undefined => {
    const script = scripts[context.node.id];
    if (script === undefined) return undefined;
    if ('each' in script) return script.each;
    let seen = runIndex.get(context.node.id);
    if (seen === undefined) runIndex.set(context.node.id, (seen = new Map()));
    const run = `${context.visit}:${context.attempt}`;
    let index = seen.get(run);
    if (index === undefined) seen.set(run, (index = seen.size));
    return script.runs[index];
  };

  return (context, handler) => {
    options.onRun?.();
    const outcome = outcomeFor(context);
    switch (outcome?.kind) {
      case 'return':
        for (const effect of outcome.emit) context.emit(effect.kind, effect.payload);
        return outcome.patch;
      case 'throw':
        throw new ScriptedError(outcome.name, outcome.message);
      case 'decide':
        return outcome.label;
      case 'run':
      case undefined:
        break;
    }
    if (!options.unbound.has(context.node.id)) return handler(context);
    if (options.passUnboundSteps && context.node.kind === 'step') return undefined;
    const script = scripts[context.node.id];
    const reason = script === undefined ? 'the scenario scripts no outcome for it' : `the scenario's script for it ran out after ${'runs' in script ? script.runs.length : 0} runs`;
    throw new ScriptedError('laneflow.Unbound', `${context.node.id} "${context.node.label}" has no handler bound and ${reason}`);
  };
}
