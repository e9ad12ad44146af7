/**
 * The runtime's data: instance snapshots, the events that move them, the effects the core asks
 * for and the journal rows it writes. All plain JSON; timestamps are UTC milliseconds since the
 * Unix epoch.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object: an instance's data, a patch, a payload. */
export type JsonObject = { [key: string]: Json };

/** `running` until no token is left (`completed`) or a step fails with nothing left to catch it (`failed`: a dead letter). */
export type InstanceStatus = 'running' | 'completed' | 'failed';

/** One instance of a machine: its data and its tokens. */
export interface Snapshot {
  id: string;
  /** The machine version the instance is pinned to. */
  machine: string;
  status: InstanceStatus;
  data: JsonObject;
  tokens: Token[];
  /** The number in the next new token's id. */
  nextToken: number;
  /** How many times a token has arrived at each node: the `visit` of idempotency keys. */
  visits: Record<string, number>;
  /** Each loop's iteration count. */
  loops: Record<string, number>;
  /** Signals that arrived before any handler waited for them, oldest first. */
  inbox: ReceivedSignal[];
  /** The sequence number of the last signal read from the store. */
  signalSeq: number;
  /** Why the instance failed: the dead letter's error. */
  error?: ErrorInfo;
  startedAt: number;
  updatedAt: number;
}

/**
 * A token on a node. `ready`: its handler is due to run; `sleeping`, `waiting` (for a signal,
 * until `dueAt` when there is a timeout) and `backoff` (before a retry) wait for time or a
 * signal; `failed` is a dead letter's token, kept so that a retry can resume it.
 */
export interface Token {
  id: string;
  node: string;
  visit: number;
  /** 1 for the first run of this visit's handler, 2 for the first retry… */
  attempt: number;
  state: 'ready' | 'sleeping' | 'waiting' | 'backoff' | 'failed';
  dueAt?: number;
  /** The signal a `waiting` token waits for. */
  signal?: string;
  /** Outcomes of this visit's earlier waits, replayed in order when the handler runs again. */
  waits?: WaitOutcome[];
  /** Retries used so far by each of the node's retry policies, by position. */
  retries?: number[];
  /** The error that routed this token here through a catch route. */
  caught?: ErrorInfo;
  /** A failed token's error. */
  error?: ErrorInfo;
}

/** An error as the runtime keeps it: `name` is what retry and catch policies match. */
export interface ErrorInfo {
  name: string;
  message: string;
}

export interface ReceivedSignal {
  name: string;
  payload: Json;
  at: number;
}

/** What a handler asks to wait for, when it calls `sleep` or `waitFor`. */
export type WaitRequest = { kind: 'sleep'; until: number } | { kind: 'signal'; name: string; deadline?: number };

/** How a wait ended, as the handler sees it when it runs again. */
export type WaitOutcome =
  | { kind: 'slept' }
  | { kind: 'signal'; name: string; payload: Json }
  | { kind: 'timeout'; name: string };

/** A side effect recorded with the step that emitted it, once per idempotency key. */
export interface OutboxEffect {
  key: string;
  kind: string;
  payload: Json;
}

/** What a handler's run came to, as the executor reports it to the core. */
export type HandlerOutcome =
  | { kind: 'completed'; patch?: JsonObject; label?: string; outbox?: OutboxEffect[] }
  | { kind: 'failed'; error: ErrorInfo }
  | { kind: 'suspended'; wait: WaitRequest };

export type RuntimeEvent =
  /** Time has come to `at`: due timers fire and every ready token's handler is asked for. */
  | { type: 'wake'; at: number }
  | { type: 'signal'; at: number; seq: number; name: string; payload: Json }
  /**
   * A handler run ended. `random` in [0, 1) is the executor's draw for a full-jitter backoff,
   * so that the core itself stays deterministic.
   */
  | { type: 'handled'; at: number; token: string; node: string; visit: number; outcome: HandlerOutcome; random: number }
  /** An operator retries a failed instance (`laneflow retry`). */
  | { type: 'retry'; at: number };

/** A handler run the core asks for. */
export interface RunRequest {
  token: string;
  node: string;
  handler: string;
  visit: number;
  attempt: number;
  /** `instanceId:nodeId:visit`: the same for every attempt of one visit. */
  idempotencyKey: string;
}

export type Effect = { type: 'run'; run: RunRequest } | { type: 'journal'; entry: JournalEntry } | { type: 'outbox'; effect: OutboxEffect };

export type JournalOutcome =
  | 'started'
  | 'passed'
  | 'ended'
  | 'completed'
  | 'decided'
  | 'failed'
  | 'retrying'
  | 'caught'
  | 'dead-letter'
  | 'sleeping'
  | 'waiting'
  | 'woke'
  | 'signalled'
  | 'timed-out'
  | 'signal-buffered'
  | 'signal-ignored'
  | 'retried'
  | 'upgraded';

/** One append-only history row. */
export interface JournalEntry {
  at: number;
  token: string;
  node: string;
  visit: number;
  attempt: number;
  outcome: JournalOutcome;
  handler?: string;
  detail?: JsonObject;
}

export interface Transition {
  snapshot: Snapshot;
  effects: Effect[];
}
