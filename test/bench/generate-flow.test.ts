import { describe, expect, it } from 'vitest';
import { generateGraph, toFlowSource, toMermaidSource, type GenerateFlowOptions } from '../../bench/generate-flow';
import { checkSource } from '../../src/index';

function checkGenerated(options: GenerateFlowOptions) {
  const text = toFlowSource(generateGraph(options));
  return { text, ...checkSource('generated.flow', text) };
}

describe('generateGraph', () => {
  it.each([
    { lanes: 3, nodes: 40, edges: 55, seed: 1 },
    { lanes: 10, nodes: 500, edges: 600, seed: 7 },
    { lanes: 1, nodes: 2, edges: 1, seed: 3 },
    { lanes: 12, nodes: 300, edges: 299, seed: 9 },
  ])('makes a valid flow with exactly $lanes lanes, $nodes nodes and $edges edges', (options) => {
    const { diagnostics, flow } = checkGenerated(options);
    expect(diagnostics).toEqual([]);
    expect(flow?.lanes).toHaveLength(options.lanes);
    expect(flow?.nodes).toHaveLength(options.nodes);
    expect(flow?.edges).toHaveLength(options.edges);
    expect(flow?.starts).toEqual(['n1']);
  });

  it('mixes every shape, labels decision branches, crosses lanes and declares loops', () => {
    const { text, flow } = checkGenerated({ lanes: 10, nodes: 2000, edges: 2400, seed: 5 });
    const shapes = new Set(flow!.nodes.map((n) => n.shape));
    expect([...shapes].sort()).toEqual(['circle', 'diamond', 'rectangle', 'taskbox']);
    const laneOf = new Map(flow!.nodes.map((n) => [n.id, n.lane]));
    expect(flow!.edges.some((e) => laneOf.get(e.from.node) !== laneOf.get(e.to.node))).toBe(true);
    expect(flow!.nodes.filter((n) => n.shape === 'taskbox').every((n) => n.owner !== undefined && n.description !== undefined)).toBe(true);
    expect(flow!.loops).toHaveLength(10);
    expect(flow!.loops.every((loop) => loop.bound !== undefined && loop.nodes.length >= 2)).toBe(true);
    expect(text).toMatch(/-> [A-Za-z]+\.n\d+\.handle\(top\)/);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const options = { lanes: 4, nodes: 200, edges: 260 };
    const first = toFlowSource(generateGraph({ ...options, seed: 11 }));
    expect(toFlowSource(generateGraph({ ...options, seed: 11 }))).toBe(first);
    expect(toFlowSource(generateGraph({ ...options, seed: 12 }))).not.toBe(first);
  });

  it('writes the same nodes and edges as a mermaid flowchart', () => {
    const graph = generateGraph({ lanes: 3, nodes: 30, edges: 40, seed: 2 });
    const mermaid = toMermaidSource(graph);
    expect(mermaid.startsWith('flowchart LR\n')).toBe(true);
    expect(mermaid.match(/^\s+subgraph /gm)).toHaveLength(3);
    expect(mermaid.match(/^\s+n\d+[[({]/gm)).toHaveLength(30);
    expect(mermaid.match(/^\s+n\d+ -->(\|[^|]+\|)? n\d+$/gm)).toHaveLength(40);
  });

  it('refuses counts that cannot make a connected, valid flow', () => {
    expect(() => generateGraph({ lanes: 5, nodes: 8, edges: 20 })).toThrow(RangeError);
    expect(() => generateGraph({ lanes: 2, nodes: 10, edges: 5 })).toThrow(RangeError);
    expect(() => generateGraph({ lanes: 1, nodes: 3, edges: 50 })).toThrow(RangeError);
  });
});
