import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layout } from '../../src/index';
import { SHAPES, SIDES } from '../../src/compiler/types';
import { compileText } from './cases';
import { geometryProblems } from './geometry';

const label = fc.oneof(
  fc.constantFrom('Yes', 'No', 'Retry', 'Approve & ship', '<b>x</b>', 'Überprüfung → done'),
  fc.string({ minLength: 1, maxLength: 60 }).map((text) => text.replace(/["\\\r\n]/g, ' ')),
);

/** A valid random flow: lanes of nodes of every shape, edges between any two sides, a loop now and then. */
const flowText = fc
  .record({
    lanes: fc.array(
      fc.record({ label, nodes: fc.array(fc.record({ shape: fc.constantFrom(...SHAPES), label }), { minLength: 1, maxLength: 5 }) }),
      { minLength: 1, maxLength: 5 },
    ),
    edges: fc.array(
      fc.record({ from: fc.nat(), to: fc.nat(), fromSide: fc.constantFrom(...SIDES), toSide: fc.constantFrom(...SIDES), label: fc.option(label) }),
      { maxLength: 14 },
    ),
    loop: fc.option(fc.record({ first: fc.nat(), length: fc.integer({ min: 2, max: 4 }) })),
  })
  .map(({ lanes, edges, loop }) => {
    const nodes = lanes.flatMap((lane, laneIndex) => lane.nodes.map((node) => ({ ...node, lane: `L${laneIndex}` })));
    const id = (index: number) => `n${(index % nodes.length) + 1}`;
    const lines: string[] = [];
    let next = 0;
    lanes.forEach((lane, laneIndex) => {
      lines.push(`L${laneIndex} { # ${lane.label}`);
      // A start that no edge enters, so every flow has one.
      if (laneIndex === 0) lines.push('  n999: circle label:"Start"', '  n999.handle(right) -> n1.handle(left)');
      for (const node of lane.nodes) {
        next++;
        lines.push(`  n${next}: ${node.shape} label:"${node.label}"${node.shape === 'taskbox' ? ' owner:"Team" system:"CRM"' : ''}`);
      }
      lines.push('}');
    });
    for (const edge of edges) {
      const from = id(edge.from);
      const to = nodes[edge.to % nodes.length]!;
      const target = id(edge.to);
      const text = edge.label === null ? '' : ` [label="${edge.label}"]`;
      lines.push(`${from}.handle(${edge.fromSide}) -> ${to.lane}.${target}.handle(${edge.toSide})${text}`);
    }
    if (loop !== null && nodes.length >= loop.length) {
      const members = Array.from({ length: loop.length }, (_, k) => id(loop.first + k));
      if (new Set(members).size === members.length) lines.push(`loop [retry up to 3 times] ${members.join(' ')}`);
    }
    return lines.join('\n') + '\n';
  });

describe('layout of random flows', () => {
  it('never overlaps, never routes through a node, always honours the named sides', async () => {
    await fc.assert(
      fc.asyncProperty(flowText, async (text) => {
        const flow = compileText('random.flow', text);
        const diagram = await layout(flow);
        expect(geometryProblems(diagram, flow)).toEqual([]);
      }),
      { numRuns: 100, seed: 20261123 },
    );
  });
});
