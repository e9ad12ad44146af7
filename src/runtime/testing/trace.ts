import type { CompiledFlow, FlowEdge } from '../../compiler/types';
import type { InstanceDetails } from '../engine';
import type { JournalEntry, JsonObject } from '../types';
import type { Trace, TraceEffect, TraceVisit } from './types';

/** Outcomes that end a handler run; a failure at arrival (an exhausted loop, an unbound node) is no run. */
const RUN_OUTCOMES = new Set(['completed', 'decided', 'failed', 'caught', 'dead-letter']);
const ARRIVAL_ERRORS = new Set(['laneflow.LoopExhausted', 'laneflow.Unbound']);

/**
 * Reads what an instance did from its journal: each token's visits in order, the edge each
 * arrival came by, the ends reached and the effects recorded. A token that moves along an edge
 * keeps its id, so consecutive visits of one token give the edge (a decision's label picks
 * among several). A forked token's first visit is credited to the latest visit of a node with an
 * edge to it; a catch route's jump is no edge.
 */
export function traceOf(flow: CompiledFlow, instance: InstanceDetails): Trace {
  const outgoing = new Map<string, FlowEdge[]>();
  for (const edge of flow.edges) outgoing.set(edge.from.node, [...(outgoing.get(edge.from.node) ?? []), edge]);
  const kinds = new Map(flow.nodes.map((node) => [node.id, node.kind]));

  const visits: TraceVisit[] = [];
  const current = new Map<string, TraceVisit>();
  const last = new Map<TraceVisit, JournalEntry>();
  const writers: Record<string, string> = {};

  const arrive = (token: string, node: string, visit: number, at: number): TraceVisit => {
    const next: TraceVisit = { node, token, visit, attempts: 0, at };
    const previous = current.get(token);
    if (previous !== undefined) {
      const left = last.get(previous);
      if (left?.outcome === 'caught') next.caught = errorName(left.detail);
      else {
        const edge = edgeTaken(outgoing.get(previous.node) ?? [], node, previous.decided);
        if (edge !== undefined) next.via = edge.id;
      }
    } else if (visits.length > 0) {
      // A forked token: its parent is the latest visit of a non-decision node with an edge here.
      for (let index = visits.length - 1; index >= 0; index--) {
        const candidate = visits[index]!;
        if (kinds.get(candidate.node) === 'decision') continue;
        const edge = edgeTaken(outgoing.get(candidate.node) ?? [], node, undefined);
        if (edge !== undefined) {
          next.via = edge.id;
          break;
        }
      }
    }
    visits.push(next);
    current.set(token, next);
    return next;
  };

  for (const entry of instance.journal) {
    if (entry.node === '') continue;
    let visit = current.get(entry.token);
    if (visit === undefined || visit.node !== entry.node || visit.visit !== entry.visit) visit = arrive(entry.token, entry.node, entry.visit, entry.at);
    last.set(visit, entry);
    if (RUN_OUTCOMES.has(entry.outcome) && !ARRIVAL_ERRORS.has(errorName(entry.detail) ?? '')) visit.attempts = Math.max(visit.attempts, entry.attempt);
    if (entry.outcome === 'decided' && typeof entry.detail?.['label'] === 'string') visit.decided = entry.detail['label'];
    const patch = entry.outcome === 'completed' ? entry.detail?.['patch'] : undefined;
    if (isObject(patch)) for (const key of Object.keys(patch)) writers[key] = entry.node;
  }

  const { snapshot } = instance;
  // Tokens that arrived but whose handler has not run yet have no journal row.
  for (const token of snapshot.tokens) {
    const visit = current.get(token.id);
    if (visit === undefined || visit.node !== token.node || visit.visit !== token.visit) arrive(token.id, token.node, token.visit, snapshot.updatedAt);
  }

  const trace: Trace = {
    instanceId: instance.id,
    flowPath: instance.flowPath,
    status: instance.status,
    data: snapshot.data,
    visits,
    path: visits.map((v) => v.node),
    edges: visits.flatMap((v) => (v.via === undefined ? [] : [v.via])),
    ends: visits.filter((v) => kinds.get(v.node) === 'end').map((v) => v.node),
    effects: instance.outbox.map((effect): TraceEffect => ({ kind: effect.kind, key: effect.key, payload: effect.payload, node: effectNode(instance.id, effect.key), at: effect.at })),
    pending: snapshot.status === 'running' ? snapshot.tokens.map(pendingOf) : [],
    startedAt: snapshot.startedAt,
    updatedAt: snapshot.updatedAt,
    writers,
  };
  if (snapshot.error !== undefined) {
    const failed = snapshot.tokens.find((t) => t.state === 'failed');
    trace.error = { name: snapshot.error.name, message: snapshot.error.message, ...(failed !== undefined && { node: failed.node }) };
  }
  return trace;
}

/** The edge from a node to `target`: for a decision, the one with the label it chose. */
function edgeTaken(edges: readonly FlowEdge[], target: string, label: string | undefined): FlowEdge | undefined {
  const wanted = label?.trim().toLowerCase();
  return edges.find((edge) => edge.to.node === target && (wanted === undefined || (edge.label ?? '').trim().toLowerCase() === wanted));
}

function pendingOf(token: InstanceDetails['snapshot']['tokens'][number]): Trace['pending'][number] {
  const until = token.dueAt === undefined ? '' : ` until ${new Date(token.dueAt).toISOString()}`;
  switch (token.state) {
    case 'waiting':
      return { node: token.node, state: 'waiting', detail: `for signal "${token.signal}"${until}`, ...(token.signal !== undefined && { signal: token.signal }) };
    case 'sleeping':
    case 'backoff':
      return { node: token.node, state: token.state, detail: until.trim() };
    default:
      return { node: token.node, state: token.state };
  }
}

/** Outbox keys are `instanceId:nodeId:visit:kind`. */
function effectNode(instanceId: string, key: string): string {
  return key.slice(instanceId.length + 1).split(':')[0] ?? '';
}

function errorName(detail: JsonObject | undefined): string | undefined {
  const error = detail?.['error'];
  return isObject(error) && typeof error['name'] === 'string' ? error['name'] : undefined;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
