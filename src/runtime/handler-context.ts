import type { MachineLoop, MachineNode } from '../compiler/types';
import type { Duration, HandlerContext, SignalResult } from './define';
import { durationMs } from './duration';
import type { ErrorInfo, Json, JsonObject, OutboxEffect, RunRequest, Token, WaitRequest } from './types';

export interface RunContextInit {
  instanceId: string;
  data: JsonObject;
  node: MachineNode;
  lane: { id: string; label: string };
  loop?: MachineLoop;
  loopIteration: number;
  token: Token;
  run: RunRequest;
  now: () => number;
}

/**
 * The context of one handler run. `sleep` and `waitFor` replay the outcomes of this visit's
 * earlier waits in order; the first wait with no outcome yet records a suspension and returns a
 * promise that never settles, so the handler's code after it does not run (and a `try` around
 * it cannot swallow it): the executor sees the suspension and parks the token.
 */
export class RunContext implements HandlerContext {
  readonly instanceId: string;
  readonly data: JsonObject;
  readonly node: HandlerContext['node'];
  readonly lane: HandlerContext['lane'];
  readonly attempt: number;
  readonly visit: number;
  readonly loop?: HandlerContext['loop'];
  readonly idempotencyKey: string;
  readonly caught?: ErrorInfo;
  suspension: WaitRequest | undefined;
  outbox: OutboxEffect[] | undefined;
  /** Called once when the handler asks to wait. */
  onSuspend: (() => void) | undefined;
  private waitsUsed = 0;
  private readonly replayed: Token['waits'];
  private readonly clockNow: () => number;
  private controller: AbortController | undefined;

  constructor(init: RunContextInit) {
    this.instanceId = init.instanceId;
    this.data = init.data;
    this.node = { id: init.node.id, label: init.node.label, kind: init.node.kind === 'decision' ? 'decision' : 'step' };
    this.lane = init.lane;
    this.attempt = init.run.attempt;
    this.visit = init.run.visit;
    this.idempotencyKey = init.run.idempotencyKey;
    if (init.loop !== undefined) {
      this.loop = { id: init.loop.id, iteration: init.loopIteration, remaining: Math.max(0, init.loop.bound - init.loopIteration), bound: init.loop.bound };
    }
    if (init.token.caught !== undefined) this.caught = init.token.caught;
    this.replayed = init.token.waits;
    this.clockNow = init.now;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: string): void {
    this.controller?.abort(new Error(reason));
  }

  now(): Date {
    return new Date(this.clockNow());
  }

  sleep(durationOrUntil: Duration | Date): Promise<void> {
    if (this.replayed?.[this.waitsUsed++] !== undefined) return Promise.resolve();
    const until = durationOrUntil instanceof Date ? durationOrUntil.getTime() : this.clockNow() + this.duration(durationOrUntil, 'sleep');
    return this.suspend({ kind: 'sleep', until });
  }

  waitFor(signal: string, options: { timeout?: Duration } = {}): Promise<SignalResult> {
    const outcome = this.replayed?.[this.waitsUsed++];
    if (outcome !== undefined) {
      return Promise.resolve(outcome.kind === 'signal' ? { received: true, payload: outcome.payload } : { received: false, timedOut: true });
    }
    const wait: WaitRequest = { kind: 'signal', name: signal };
    if (options.timeout !== undefined) wait.deadline = this.clockNow() + this.duration(options.timeout, 'waitFor timeout');
    return this.suspend(wait);
  }

  emit(kind: string, payload: Json): void {
    const key = `${this.idempotencyKey}:${kind}`;
    this.outbox ??= [];
    if (this.outbox.some((e) => e.key === key)) throw new Error(`${this.node.id} emitted "${kind}" twice in one run; give each effect its own kind`);
    this.outbox.push({ key, kind, payload: JSON.parse(JSON.stringify(payload)) as Json });
  }

  private suspend<T>(wait: WaitRequest): Promise<T> {
    if (this.suspension === undefined) {
      this.suspension = wait;
      this.onSuspend?.();
    }
    return new Promise<T>(() => {});
  }

  private duration(duration: Duration, what: string): number {
    const ms = durationMs(duration);
    if (ms === undefined) throw new Error(`${what}: ${JSON.stringify(duration)} is not a duration such as 30s, 5m, 3d or 1500`);
    return ms;
  }
}
