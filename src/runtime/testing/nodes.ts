import type { CompiledFlow, FlowNode } from '../../compiler/types';
import { didYouMean } from '../../lib/suggest';

/**
 * A node named by id, or by label when exactly one node has it (compared trimmed, then
 * ignoring case); otherwise a sentence saying why not, for the author to fix.
 */
export function findNode(flow: CompiledFlow, reference: string): FlowNode | string {
  const text = reference.trim();
  let found = flow.nodes.filter((n) => n.id === text);
  if (found.length === 0) found = flow.nodes.filter((n) => n.label.trim() === text);
  if (found.length === 0) found = flow.nodes.filter((n) => n.label.trim().toLowerCase() === text.toLowerCase());
  if (found.length === 1) return found[0]!;
  if (found.length > 1) return `"${text}" is the label of ${found.map((n) => n.id).join(', ')}: name one by id`;
  const names = [...flow.nodes.map((n) => n.id), ...flow.nodes.map((n) => n.label.trim())];
  return `${flow.path} has no node "${text}"${didYouMean(text, names)}`;
}

/** `n9 "Credit balance available?"`, or the id alone for a node without a label. */
export function nodeName(flow: CompiledFlow, id: string): string {
  const label = flow.nodes.find((n) => n.id === id)?.label ?? '';
  return label === '' ? id : `${id} "${label}"`;
}

/** A decision's branch labels, trimmed, in file order. */
export function branchLabels(flow: CompiledFlow, node: string): string[] {
  return flow.edges.filter((e) => e.from.node === node && e.label !== undefined && e.label.trim() !== '').map((e) => e.label!.trim());
}
