import type { CompiledFlow, Machine } from '../../compiler/types';
import type { InstanceDetails } from '../../runtime/engine';
import type { InstanceRow } from '../../runtime/sqlite-store';
import { traceOf } from '../../runtime/testing/trace';
import type { Json } from '../../runtime/types';
import type { InstanceSummary, InstanceTrail } from './types';

export function summaryOf(instance: InstanceRow): InstanceSummary {
  return {
    id: instance.id,
    status: instance.status,
    flowPath: instance.flowPath,
    flowVersion: instance.flowVersion,
    createdAt: instance.createdAt,
    updatedAt: instance.updatedAt,
    at: instance.snapshot.tokens.map((token) => token.node),
    ...(instance.snapshot.error !== undefined && { error: instance.snapshot.error }),
  };
}

/**
 * Where an instance went, drawn on the flow as it is now (`flow`, absent while the file has
 * errors): the edges and nodes its trace took, the nodes it waits or failed on, and its
 * journal as a timeline labelled from the machine it ran.
 */
export function trailOf(instance: InstanceDetails, machine: Machine | undefined, flow: CompiledFlow | undefined): InstanceTrail {
  const trace = flow === undefined ? undefined : traceOf(flow, instance);
  const tokens = instance.snapshot.tokens;
  const laneLabel = (lane: string) => machine?.lanes.find((candidate) => candidate.id === lane)?.label ?? lane;
  return {
    ...summaryOf(instance),
    sameVersion: flow?.version === instance.flowVersion,
    highlight: {
      taken: [...new Set(trace?.edges ?? [])],
      nodes: [...new Set(trace?.path ?? instance.journal.map((entry) => entry.node).filter((node) => node !== ''))],
    },
    current: tokens.filter((token) => token.state !== 'failed').map((token) => token.node),
    failed: tokens.filter((token) => token.state === 'failed').map((token) => token.node),
    timeline: instance.journal.map((entry) => {
      const node = machine?.nodes[entry.node];
      return {
        at: entry.at,
        node: entry.node,
        label: node?.label ?? '',
        lane: node === undefined ? '' : laneLabel(node.lane),
        handler: entry.handler ?? '',
        attempt: entry.attempt,
        outcome: entry.outcome,
        detail: (entry.detail ?? null) as Json,
      };
    }),
    data: instance.snapshot.data,
  };
}
