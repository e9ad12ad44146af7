import type { Machine } from '../compiler/types';
import { canonicalJson } from '../lib/hash';
import { begin, transition } from './core';
import type { ErrorInfo, HandlerOutcome, Json, JournalEntry, JsonObject, RuntimeEvent, Snapshot, Transition } from './types';

/**
 * What the journal does not hold about an instance: its id (the journal's rows name the
 * instance by the store's row number) and the input it was started with.
 */
export interface ReplayOrigin {
  id: string;
  input: JsonObject;
}

export type ReplayResult =
  | { ok: true; snapshot: Snapshot; events: number }
  /** The journal row at `row` is not what the core writes for the state replayed so far. */
  | { ok: false; row: number; reason: string; snapshot: Snapshot | undefined };

/**
 * Folds an instance's journal back into its state through the pure core: each row that records
 * an input from outside the core (a handler's outcome, a timer firing, a signal, an operator's
 * retry) becomes the event that caused it, `transition` applies it, and the rows the core
 * writes for that event must be the journal's next rows, to the field. The state at the end
 * is what the journal says the instance came to.
 *
 * Two things are taken from the rows rather than recomputed: a failed step's retry time (the
 * executor's jitter draw is not journaled, only the time it gave) and a signal's sequence
 * number (the state's `signalSeq` is therefore not replayed).
 */
export function replay(machine: Machine, journal: readonly JournalEntry[], origin: ReplayOrigin): ReplayResult {
  const first = journal[0];
  if (first === undefined || first.outcome !== 'started') return { ok: false, row: 0, reason: 'the journal does not begin with a started row', snapshot: undefined };
  if (machine.nodes[first.node]?.kind !== 'start') return { ok: false, row: 0, reason: `${first.node} is not a start node of the machine`, snapshot: undefined };

  let current = begin(machine, { id: origin.id, at: first.at, input: origin.input, start: first.node });
  let written = journalOf(current);
  let row = 0;
  let events = 0;
  let signals = 0;
  while (true) {
    const mismatch = firstMismatch(written, journal, row);
    if (mismatch !== undefined) return { ok: false, row: mismatch.row, reason: mismatch.reason, snapshot: current.snapshot };
    row += written.length;
    const entry = journal[row];
    if (entry === undefined) return { ok: true, snapshot: current.snapshot, events };
    if (isSignalArrival(entry)) signals++;
    const event = eventOf(entry, signals);
    if (typeof event === 'string') return { ok: false, row, reason: event, snapshot: current.snapshot };
    // A token backing off before a retry becomes ready again without a row of its own: its
    // handler's next outcome is the first sign that the wake came.
    const backoffEnds = event.type === 'handled' ? backoffEnd(current.snapshot, event.token) : undefined;
    written = [];
    if (backoffEnds !== undefined && backoffEnds <= event.at) {
      current = transition(machine, current.snapshot, { type: 'wake', at: backoffEnds });
      written = journalOf(current);
    }
    current = transition(machine, current.snapshot, event);
    if (entry.outcome === 'failed') current = withRecordedRetry(current, entry);
    const rows = journalOf(current);
    // Every event a row stands for makes the core write that row: an event that writes nothing
    // did not happen in the state replayed so far.
    if (rows.length === 0) return { ok: false, row, reason: `the core writes nothing for the "${entry.outcome}" row of ${entry.node}`, snapshot: current.snapshot };
    written.push(...rows);
    events++;
  }
}

/** When a token backing off before its retry is due again. */
function backoffEnd(snapshot: Snapshot, tokenId: string): number | undefined {
  const token = snapshot.tokens.find((t) => t.id === tokenId);
  return token?.state === 'backoff' ? token.dueAt : undefined;
}

/** The fields in which two snapshots of one instance differ, of those the journal determines. */
export function snapshotDifferences(replayed: Snapshot, stored: Snapshot): string[] {
  const fields: (keyof Snapshot)[] = ['status', 'data', 'tokens', 'visits', 'loops', 'nextToken', 'error', 'machine', 'id'];
  const differences: string[] = fields.filter((field) => canonical(replayed[field] as Json | undefined) !== canonical(stored[field] as Json | undefined));
  const inbox = (snapshot: Snapshot) => canonical(snapshot.inbox.map((signal) => ({ name: signal.name, payload: signal.payload, at: signal.at })));
  if (inbox(replayed) !== inbox(stored)) differences.push('inbox');
  return differences;
}

function journalOf(current: Transition): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const effect of current.effects) if (effect.type === 'journal') entries.push(effect.entry);
  return entries;
}

function firstMismatch(written: readonly JournalEntry[], journal: readonly JournalEntry[], from: number): { row: number; reason: string } | undefined {
  for (const [index, entry] of written.entries()) {
    const recorded = journal[from + index];
    const expected = canonical(comparable(entry));
    if (recorded === undefined) return { row: from + index, reason: `the journal ends where the core writes ${expected}` };
    const found = canonical(comparable(recorded));
    if (found !== expected) return { row: from + index, reason: `the journal has ${found} where the core writes ${expected}` };
  }
  return undefined;
}

/** A signal sent to the instance, as opposed to one a waiting handler took from its inbox. */
function isSignalArrival(entry: JournalEntry): boolean {
  return entry.outcome === 'signal-buffered' || entry.outcome === 'signal-ignored' || (entry.outcome === 'signalled' && entry.handler === undefined);
}

/** The event that made the core write `entry` first, or why no event does. */
function eventOf(entry: JournalEntry, signalSeq: number): RuntimeEvent | string {
  const detail = entry.detail ?? {};
  const handled = (outcome: HandlerOutcome): RuntimeEvent => ({ type: 'handled', at: entry.at, token: entry.token, node: entry.node, visit: entry.visit, outcome, random: 0 });
  switch (entry.outcome) {
    case 'woke':
    case 'timed-out':
      return { type: 'wake', at: entry.at };
    case 'signal-buffered':
    case 'signal-ignored':
      return { type: 'signal', at: entry.at, seq: signalSeq, name: String(detail['signal']), payload: detail['payload'] ?? null };
    case 'signalled':
      if (entry.handler === undefined) return { type: 'signal', at: entry.at, seq: signalSeq, name: String(detail['signal']), payload: detail['payload'] ?? null };
      // A handler asked to wait for a signal that had already arrived: it resumed at once.
      return handled({ kind: 'suspended', wait: { kind: 'signal', name: String(detail['signal']) } });
    case 'retried':
      return { type: 'retry', at: entry.at };
    case 'completed': {
      const patch = detail['patch'];
      return handled(isObject(patch) ? { kind: 'completed', patch } : { kind: 'completed' });
    }
    case 'decided':
      return handled({ kind: 'completed', label: String(detail['label']) });
    case 'sleeping':
      return handled({ kind: 'suspended', wait: { kind: 'sleep', until: Date.parse(String(detail['until'])) } });
    case 'waiting': {
      const deadline = detail['deadline'];
      const wait = typeof deadline === 'string' ? { kind: 'signal' as const, name: String(detail['signal']), deadline: Date.parse(deadline) } : { kind: 'signal' as const, name: String(detail['signal']) };
      return handled({ kind: 'suspended', wait });
    }
    case 'failed':
    case 'caught':
    case 'dead-letter': {
      const error = detail['error'];
      if (!isObject(error)) return `row "${entry.outcome}" of ${entry.node} has no error`;
      return handled({ kind: 'failed', error: { name: String(error['name']), message: String(error['message']) } satisfies ErrorInfo });
    }
    default:
      return `a "${entry.outcome}" row of ${entry.node || 'the instance'} that no event explains`;
  }
}

/**
 * A failed step waits for the retry time the journal recorded: the replayed token takes it,
 * and so does the row the core wrote for it, which the next comparison then checks.
 */
function withRecordedRetry(current: Transition, entry: JournalEntry): Transition {
  const retryAt = Date.parse(String(entry.detail?.['retryAt']));
  if (Number.isNaN(retryAt)) return current;
  const tokens = current.snapshot.tokens.map((token) => {
    if (token.id !== entry.token || token.node !== entry.node || token.visit !== entry.visit) return token;
    const pinned = { ...token };
    if (retryAt > entry.at) {
      pinned.state = 'backoff';
      pinned.dueAt = retryAt;
    } else {
      pinned.state = 'ready';
      delete pinned.dueAt;
    }
    return pinned;
  });
  const effects = current.effects.map((effect) => {
    if (effect.type !== 'journal' || effect.entry.outcome !== 'failed' || effect.entry.token !== entry.token) return effect;
    return { ...effect, entry: { ...effect.entry, detail: { ...effect.entry.detail, retryAt: String(entry.detail?.['retryAt']) } } };
  });
  return { snapshot: { ...current.snapshot, tokens }, effects };
}

/** A row's recorded fields, without the store's sequence number. */
function comparable(entry: JournalEntry): Json {
  const row: JsonObject = { at: entry.at, token: entry.token, node: entry.node, visit: entry.visit, attempt: entry.attempt, outcome: entry.outcome };
  if (entry.handler !== undefined) row['handler'] = entry.handler;
  if (entry.detail !== undefined) row['detail'] = entry.detail;
  return row;
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted, so that equal values read alike whatever order their keys were written in. */
function canonical(value: Json | undefined): string {
  return value === undefined ? 'undefined' : canonicalJson(value);
}
