import type { Machine, MachineNode } from '../compiler/types';
import { mergePatch } from './merge-patch';
import { catchFor, retrierFor, retryDelayMs } from './retry-policy';
import type { Effect, ErrorInfo, Json, JournalEntry, JsonObject, OutboxEffect, RunRequest, RuntimeEvent, Snapshot, Token, Transition, WaitRequest } from './types';

/** Errors the engine itself raises; handlers' retry and catch policies match them by name. */
export const ENGINE_ERRORS = {
  loopExhausted: 'laneflow.LoopExhausted',
  invalidLabel: 'laneflow.InvalidLabel',
  invalidResult: 'laneflow.InvalidResult',
  timeout: 'laneflow.Timeout',
  handlerNotFound: 'laneflow.HandlerNotFound',
  unbound: 'laneflow.Unbound',
  cycle: 'laneflow.Cycle',
} as const;

/**
 * Errors that no retry can mend — the binding or the handler's code is wrong — so they fail the
 * instance at once: no retry policy and no catch route applies (as Step Functions treats
 * States.Runtime). Fix the code, then `laneflow upgrade` and `laneflow retry` the dead letter.
 */
export const PERMANENT_ERRORS: ReadonlySet<string> = new Set([ENGINE_ERRORS.invalidLabel, ENGINE_ERRORS.invalidResult, ENGINE_ERRORS.handlerNotFound, ENGINE_ERRORS.unbound]);

export interface BeginOptions {
  id: string;
  at: number;
  input: JsonObject;
  /** The start node's id. */
  start: string;
}

/** A new instance: a token on the start node, carried on to the first step. */
export function begin(machine: Machine, options: BeginOptions): Transition {
  const snapshot: Snapshot = {
    id: options.id,
    machine: machine.version,
    status: 'running',
    data: options.input,
    tokens: [],
    nextToken: 1,
    visits: {},
    loops: {},
    inbox: [],
    signalSeq: 0,
    startedAt: options.at,
    updatedAt: options.at,
  };
  const effects = new EffectList();
  new Stepper(machine, snapshot, effects).start(options.start, options.at);
  return { snapshot, effects: effects.list };
}

/**
 * The pure core: the next snapshot and the effects an event asks for. It reads no clock, draws
 * no random numbers and does no I/O; the executor commits the result and runs the effects.
 */
export function transition(machine: Machine, snapshot: Snapshot, event: RuntimeEvent): Transition {
  const effects = new EffectList();
  const stepper = new Stepper(machine, copySnapshot(snapshot), effects);
  stepper.apply(event);
  return { snapshot: stepper.snapshot, effects: effects.list };
}

/** Where a stepper puts the effects each event asks for, in the order it asks for them. */
export interface EffectSink {
  journal(entry: JournalEntry): void;
  run(run: RunRequest): void;
  outbox(effect: OutboxEffect): void;
}

/** Effects as one list of `Effect` values, as `transition` and `begin` return them. */
class EffectList implements EffectSink {
  readonly list: Effect[] = [];

  journal(entry: JournalEntry): void {
    this.list.push({ type: 'journal', entry });
  }

  run(run: RunRequest): void {
    this.list.push({ type: 'run', run });
  }

  outbox(effect: OutboxEffect): void {
    this.list.push({ type: 'outbox', effect });
  }
}

/**
 * When the instance next needs a worker: now (`at`) if a token is ready, else the earliest
 * timer, else null (finished, or waiting only for signals).
 */
export function nextWake(snapshot: Snapshot, at: number): number | null {
  if (snapshot.status !== 'running') return null;
  let earliest: number | null = null;
  for (const token of snapshot.tokens) {
    if (token.state === 'ready') return at;
    if (token.dueAt !== undefined && (earliest === null || token.dueAt < earliest)) earliest = token.dueAt;
  }
  return earliest;
}

/**
 * A snapshot's copy with its own token list and counts (everything else is only ever replaced,
 * never changed in place), so that the original stays as it was.
 */
function copySnapshot(from: Snapshot): Snapshot {
  const copy: Snapshot = {
    id: from.id,
    machine: from.machine,
    status: from.status,
    data: from.data,
    tokens: from.tokens.slice(),
    nextToken: from.nextToken,
    visits: copyCounts(from.visits),
    loops: copyCounts(from.loops),
    inbox: from.inbox,
    signalSeq: from.signalSeq,
    startedAt: from.startedAt,
    updatedAt: from.updatedAt,
  };
  if (from.error !== undefined) copy.error = from.error;
  return copy;
}

/**
 * Counts by node or loop id, copied key by key into a new literal: the copy then grows, a node
 * at a time, along the same hidden classes for every instance, where a spread's copy would make
 * new ones for each.
 */
function copyCounts(from: Record<string, number>): Record<string, number> {
  const copy: Record<string, number> = {};
  for (const key in from) copy[key] = from[key]!;
  return copy;
}

const nodeCounts = new WeakMap<Machine, number>();

/** How many nodes a machine has: more circles than that in one move is a cycle. */
function nodeCount(machine: Machine): number {
  let count = nodeCounts.get(machine);
  if (count === undefined) {
    count = Object.keys(machine.nodes).length;
    nodeCounts.set(machine, count);
  }
  return count;
}

/** The journal's instance-level rows (signals, retries) name no token and no node. */
const INSTANCE = '';

/**
 * Takes one instance through events, one after another, as `transition` does for one: the
 * executor keeps one for each instance it drives, on the snapshot it has just read from the
 * store, so that a chain of steps neither copies the snapshot at every step nor keeps the one
 * it started from. Token objects and `data` are never changed in place, only replaced, so a
 * handler's context can keep the token and data it was given while the snapshot moves on.
 */
export class Stepper {
  private at: number;

  /**
   * `snapshot` becomes the stepper's own and changes with every event (pass a copy to keep the
   * original as it is); the effects of each event go to `effects`.
   */
  constructor(
    private readonly machine: Machine,
    readonly snapshot: Snapshot,
    private readonly effects: EffectSink,
  ) {
    this.at = snapshot.updatedAt;
  }

  /** Moves the snapshot on by `event`, handing the effects it asks for to the sink. */
  apply(event: RuntimeEvent): void {
    this.begin(event.at);
    switch (event.type) {
      case 'wake':
        this.wake();
        break;
      case 'signal':
        this.signal(event.seq, event.name, event.payload);
        break;
      case 'handled':
        this.handled(event);
        break;
      case 'retry':
        this.retry();
        break;
    }
    this.finish();
  }

  /** A new instance's first move: a new token arrives at the start node. */
  start(startNode: string, at: number): void {
    this.begin(at);
    this.arrive(this.newTokenId(), undefined, startNode, 0);
    this.finish();
  }

  private begin(at: number): void {
    this.at = at;
    this.snapshot.updatedAt = at;
  }

  private finish(): void {
    const s = this.snapshot;
    if (s.status === 'running' && s.tokens.length === 0) s.status = 'completed';
  }

  private newTokenId(): string {
    return `t${this.snapshot.nextToken++}`;
  }

  /**
   * A token arrives at a node: circles pass it on at once, steps and decisions make it ready for
   * their handler. `hops` counts circles passed in this move, to stop a cycle of circles.
   */
  private arrive(tokenId: string, caught: ErrorInfo | undefined, nodeId: string, hops: number): void {
    const node = this.machine.nodes[nodeId]!;
    const visit = (this.snapshot.visits[nodeId] ?? 0) + 1;
    this.snapshot.visits[nodeId] = visit;
    const token: Token = { id: tokenId, node: nodeId, visit, attempt: 1, state: 'ready' };
    if (caught !== undefined) token.caught = caught;
    this.snapshot.tokens.push(token);

    const loop = node.loop === undefined ? undefined : this.machine.loops[node.loop];
    if (loop !== undefined && loop.nodes[0] === nodeId) {
      const iteration = (this.snapshot.loops[loop.id] ?? 0) + 1;
      this.snapshot.loops[loop.id] = iteration;
      if (iteration > loop.bound) {
        const error = { name: ENGINE_ERRORS.loopExhausted, message: `loop exhausted: "${loop.condition}" allows ${loop.bound} iterations` };
        this.fail(token, node, error, 0, false);
        return;
      }
    }

    switch (node.kind) {
      case 'start':
      case 'milestone':
      case 'end':
        this.journal(token, node.kind === 'end' ? 'ended' : token.visit === 1 && node.kind === 'start' ? 'started' : 'passed');
        this.removeToken(token.id);
        if (hops > nodeCount(this.machine)) {
          this.deadLetter(token, { name: ENGINE_ERRORS.cycle, message: `the token went round a cycle of circles without reaching a step` });
          return;
        }
        this.follow(token, node.next, hops + 1);
        return;
      case 'step':
      case 'decision':
        if (node.handler === undefined) {
          this.fail(token, node, { name: ENGINE_ERRORS.unbound, message: `${nodeId} has no handler bound` }, 0, false);
          return;
        }
        this.requestRun(token, node);
        return;
    }
  }

  /**
   * Moves a token along edges to `targets`: the first keeps its id, each further one is a new
   * token (a fork). A caught error is for the catch target alone, not for the nodes after it.
   */
  private follow(token: Token, targets: readonly string[], hops: number): void {
    for (let index = 0; index < targets.length; index++) {
      this.arrive(index === 0 ? token.id : this.newTokenId(), undefined, targets[index]!, hops);
    }
  }

  private wake(): void {
    if (this.snapshot.status !== 'running') return;
    for (const [index, token] of this.snapshot.tokens.entries()) {
      if (token.dueAt === undefined || token.dueAt > this.at || token.state === 'failed') continue;
      const woken: Token = { ...token, state: 'ready' };
      delete woken.dueAt;
      if (token.state === 'sleeping') {
        woken.waits = [...(token.waits ?? []), { kind: 'slept' }];
        this.journal(woken, 'woke');
      } else if (token.state === 'waiting') {
        woken.waits = [...(token.waits ?? []), { kind: 'timeout', name: token.signal! }];
        delete woken.signal;
        this.journal(woken, 'timed-out', { signal: token.signal! });
      }
      this.snapshot.tokens[index] = woken;
    }
    for (const token of this.snapshot.tokens) {
      if (token.state === 'ready') this.requestRun(token, this.machine.nodes[token.node]!);
    }
  }

  private signal(seq: number, name: string, payload: Json): void {
    const s = this.snapshot;
    s.signalSeq = Math.max(s.signalSeq, seq);
    const detail = { signal: name, payload };
    if (s.status !== 'running') {
      this.journalInstance('signal-ignored', detail);
      return;
    }
    const index = s.tokens.findIndex((t) => t.state === 'waiting' && t.signal === name);
    if (index === -1) {
      s.inbox = [...s.inbox, { name, payload, at: this.at }];
      this.journalInstance('signal-buffered', detail);
      return;
    }
    const token = s.tokens[index]!;
    const resumed: Token = { ...token, state: 'ready', waits: [...(token.waits ?? []), { kind: 'signal', name, payload }] };
    delete resumed.signal;
    delete resumed.dueAt;
    s.tokens[index] = resumed;
    this.journal(resumed, 'signalled', detail);
  }

  private handled(event: RuntimeEvent & { type: 'handled' }): void {
    const token = this.tokenById(event.token);
    // A result for a visit that has moved on (a run that lost its lease) changes nothing.
    if (token === undefined || token.node !== event.node || token.visit !== event.visit || token.state !== 'ready' || this.snapshot.status !== 'running') return;
    const node = this.machine.nodes[token.node]!;
    const { outcome } = event;
    switch (outcome.kind) {
      case 'failed':
        this.fail(token, node, outcome.error, event.random, true);
        return;
      case 'suspended':
        this.suspend(token, outcome.wait);
        return;
      case 'completed': {
        if (node.kind === 'decision') {
          const chosen = (outcome.label ?? '').trim().toLowerCase();
          const branch = node.branches?.find((b) => b.label.toLowerCase() === chosen);
          if (branch === undefined) {
            const allowed = (node.branches ?? []).map((b) => `"${b.label}"`).join(', ');
            const returned = outcome.label === undefined ? 'no label' : `"${outcome.label}"`;
            this.fail(token, node, { name: ENGINE_ERRORS.invalidLabel, message: `decision ${node.id} returned ${returned}; its labels are ${allowed}` }, event.random, true);
            return;
          }
          this.recordOutcome(token, node, outcome.outbox, 'decided', { label: branch.label });
          this.follow(token, [branch.to], 0);
          return;
        }
        if (outcome.patch !== undefined) this.snapshot.data = mergePatch(this.snapshot.data, outcome.patch);
        this.recordOutcome(token, node, outcome.outbox, 'completed', outcome.patch === undefined ? undefined : { patch: outcome.patch });
        this.follow(token, node.next, 0);
        return;
      }
    }
  }

  private retry(): void {
    const s = this.snapshot;
    if (s.status !== 'failed') return;
    s.status = 'running';
    delete s.error;
    s.tokens = s.tokens.map((token) => {
      if (token.state !== 'failed') return token;
      const node = this.machine.nodes[token.node]!;
      // A loop that ran out gets a fresh count: the operator's retry is a new first iteration.
      if (token.error?.name === ENGINE_ERRORS.loopExhausted && node.loop !== undefined) {
        s.loops[node.loop] = 1;
      }
      const resumed: Token = { id: token.id, node: token.node, visit: token.visit, attempt: 1, state: 'ready' };
      if (token.caught !== undefined) resumed.caught = token.caught;
      return resumed;
    });
    this.journalInstance('retried');
    for (const token of s.tokens) if (token.state === 'ready') this.requestRun(token, this.machine.nodes[token.node]!);
  }

  private recordOutcome(token: Token, node: MachineNode, outbox: OutboxEffect[] | undefined, outcome: 'completed' | 'decided', detail: JsonObject | undefined): void {
    this.removeToken(token.id);
    this.journal(token, outcome, detail, node.handler);
    if (outbox !== undefined) for (const effect of outbox) this.effects.outbox(effect);
  }

  private suspend(token: Token, wait: WaitRequest): void {
    const index = this.snapshot.tokens.indexOf(token);
    const handler = this.machine.nodes[token.node]!.handler;
    if (wait.kind === 'sleep') {
      this.snapshot.tokens[index] = { ...token, state: 'sleeping', dueAt: wait.until };
      this.journal(token, 'sleeping', { until: new Date(wait.until).toISOString() }, handler);
      return;
    }
    const inbox = this.snapshot.inbox;
    const buffered = inbox.findIndex((signal) => signal.name === wait.name);
    if (buffered !== -1) {
      const signal = inbox[buffered]!;
      this.snapshot.inbox = inbox.filter((_, i) => i !== buffered);
      const resumed: Token = { ...token, waits: [...(token.waits ?? []), { kind: 'signal', name: signal.name, payload: signal.payload }] };
      this.snapshot.tokens[index] = resumed;
      this.journal(resumed, 'signalled', { signal: signal.name, payload: signal.payload }, handler);
      this.requestRun(resumed, this.machine.nodes[token.node]!);
      return;
    }
    const waiting: Token = { ...token, state: 'waiting', signal: wait.name };
    if (wait.deadline !== undefined) waiting.dueAt = wait.deadline;
    this.snapshot.tokens[index] = waiting;
    const detail: JsonObject = { signal: wait.name };
    if (wait.deadline !== undefined) detail['deadline'] = new Date(wait.deadline).toISOString();
    this.journal(token, 'waiting', detail, handler);
  }

  /**
   * A step failed: retry it when a retrier matches and has attempts left, else follow a
   * matching catch route, else the instance fails and becomes a dead letter. A permanent error
   * makes it a dead letter at once.
   */
  private fail(token: Token, node: MachineNode, error: ErrorInfo, random: number, retryable: boolean): void {
    if (PERMANENT_ERRORS.has(error.name)) {
      this.deadLetter(token, error, node.handler);
      return;
    }
    const index = this.snapshot.tokens.findIndex((t) => t.id === token.id);
    if (retryable) {
      const retrier = retrierFor(node.retry, error.name);
      const policy = node.retry[retrier];
      const used = token.retries?.[retrier] ?? 0;
      if (policy !== undefined && used < policy.maxAttempts) {
        const delay = retryDelayMs(policy, used, random);
        const retries = [...(token.retries ?? [])];
        while (retries.length < retrier) retries.push(0);
        retries[retrier] = used + 1;
        const retrying: Token = { ...token, attempt: token.attempt + 1, retries };
        delete retrying.waits;
        if (delay > 0) {
          retrying.state = 'backoff';
          retrying.dueAt = this.at + delay;
        }
        this.snapshot.tokens[index] = retrying;
        this.journal(token, 'failed', { error: { ...error }, retryAt: new Date(this.at + delay).toISOString() }, node.handler);
        if (delay === 0) this.requestRun(retrying, node);
        return;
      }
    }
    const route = catchFor(node.catch, error.name);
    if (route !== undefined) {
      this.removeToken(token.id);
      this.journal(token, 'caught', { error: { ...error }, next: route.next }, node.handler);
      this.arrive(token.id, error, route.next, 0);
      return;
    }
    this.deadLetter(token, error, node.handler);
  }

  private deadLetter(token: Token, error: ErrorInfo, handler?: string): void {
    const failed: Token = { ...token, state: 'failed', error };
    delete failed.dueAt;
    const index = this.snapshot.tokens.findIndex((t) => t.id === token.id);
    if (index === -1) this.snapshot.tokens.push(failed);
    else this.snapshot.tokens[index] = failed;
    this.snapshot.status = 'failed';
    this.snapshot.error = error;
    this.journal(token, 'dead-letter', { error: { ...error } }, handler);
  }

  private requestRun(token: Token, node: MachineNode): void {
    this.effects.run({
      token: token.id,
      node: node.id,
      handler: node.handler ?? '',
      visit: token.visit,
      attempt: token.attempt,
      idempotencyKey: `${this.snapshot.id}:${node.id}:${token.visit}`,
    });
  }

  private tokenById(id: string): Token | undefined {
    for (const token of this.snapshot.tokens) if (token.id === id) return token;
    return undefined;
  }

  /**
   * Removes a token from the stepper's own token list in place: a splice would allocate the
   * removed part, and shortening `length` to nothing drops the list's storage, which the next
   * token's push then allocates again; `pop` keeps it.
   */
  private removeToken(id: string): void {
    const tokens = this.snapshot.tokens;
    let index = 0;
    while (index < tokens.length && tokens[index]!.id !== id) index++;
    if (index === tokens.length) return;
    for (; index < tokens.length - 1; index++) tokens[index] = tokens[index + 1]!;
    tokens.pop();
  }

  private journal(token: Token, outcome: JournalEntry['outcome'], detail?: JsonObject, handler?: string): void {
    this.record(token.id, token.node, token.visit, token.attempt, outcome, handler, detail);
  }

  private journalInstance(outcome: JournalEntry['outcome'], detail?: JsonObject): void {
    this.record(INSTANCE, INSTANCE, 0, 0, outcome, undefined, detail);
  }

  /**
   * One literal for each combination of the optional fields: an entry never gains a property
   * after it is made, which would give it a separate property store to allocate and carry
   * until the commit.
   */
  private record(token: string, node: string, visit: number, attempt: number, outcome: JournalEntry['outcome'], handler: string | undefined, detail: JsonObject | undefined): void {
    const at = this.at;
    let entry: JournalEntry;
    if (handler === undefined) entry = detail === undefined ? { at, token, node, visit, attempt, outcome } : { at, token, node, visit, attempt, outcome, detail };
    else entry = detail === undefined ? { at, token, node, visit, attempt, outcome, handler } : { at, token, node, visit, attempt, outcome, handler, detail };
    this.effects.journal(entry);
  }
}
