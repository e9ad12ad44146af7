import type { Machine } from '../compiler/types';
import type { JournalEntry, Snapshot } from './types';

/**
 * An instance moved to another version of its machine, as `laneflow upgrade` does it: the same
 * data, tokens, visits and loop counts, pinned to `to`. Refused, with the reason, when a token
 * sits at a node `to` does not have (or has as another kind, or outside the loop it was in):
 * the instance could not go on from where it is. Loop counts of loops `to` does not have are
 * dropped. Pure: the engine writes the result.
 */
export function upgradeSnapshot(from: Machine, to: Machine, snapshot: Snapshot, at: number): { snapshot: Snapshot; journal: JournalEntry[] } | { refused: string } {
  for (const token of snapshot.tokens) {
    const was = from.nodes[token.node];
    const now = to.nodes[token.node];
    const where = `${token.node}${was === undefined || was.label === '' ? '' : ` "${was.label}"`}`;
    if (now === undefined) return { refused: `version ${to.version} has no node ${where}, where the instance is (${token.state})` };
    if (was !== undefined && now.kind !== was.kind) return { refused: `${where} is a ${was.kind} in version ${from.version} but a ${now.kind} in ${to.version}` };
    if (was?.loop !== now.loop) return { refused: `${where} is ${was?.loop === undefined ? 'in no loop' : `in loop ${was.loop}`} in version ${from.version} but ${now.loop === undefined ? 'in none' : `in loop ${now.loop}`} in ${to.version}` };
    if (token.state !== 'failed' && (now.kind === 'step' || now.kind === 'decision') && now.handler === undefined) {
      return { refused: `${where} has no handler bound in version ${to.version}` };
    }
  }
  const loops: Record<string, number> = {};
  for (const [loop, count] of Object.entries(snapshot.loops)) if (to.loops[loop] !== undefined) loops[loop] = count;
  const upgraded: Snapshot = { ...snapshot, machine: to.version, loops, updatedAt: at };
  const journal: JournalEntry[] = [{ at, token: '', node: '', visit: 0, attempt: 0, outcome: 'upgraded', detail: { from: from.version, to: to.version } }];
  return { snapshot: upgraded, journal };
}
