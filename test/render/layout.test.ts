import { describe, expect, it } from 'vitest';
import { layout } from '../../src/index';
import { expectGolden } from '../helpers/golden';
import { compileCase, GOLDEN_CASES, RENDER_CASES } from './cases';
import { geometryProblems } from './geometry';

describe('layout', () => {
  for (const { name, path } of RENDER_CASES) {
    it(`lays out ${name} without overlaps, stray routes or spilled text`, async () => {
      const flow = compileCase(path);
      const diagram = await layout(flow);
      expect(geometryProblems(diagram, flow)).toEqual([]);
    });

  }

  for (const { name, path } of GOLDEN_CASES) {
    it(`lays out ${name} as its golden`, async () => {
      const diagram = await layout(compileCase(path));
      expectGolden(`test/testdata/layout/${name}.exp.json`, JSON.stringify(diagram, null, 1) + '\n');
    });
  }

  it('gives the same layout for the same flow', async () => {
    const flow = compileCase('flows/webhook-integration.flow');
    expect(JSON.stringify(await layout(flow))).toBe(JSON.stringify(await layout(structuredClone(flow))));
  });

  it('puts lanes in file order as bands as wide as the diagram, each node in its own band', async () => {
    const diagram = await layout(compileCase('flows/plan-upgrade.flow'));
    expect(diagram.lanes.map((lane) => lane.label)).toEqual(['Customer', 'Pricing Engine', 'Billing System', 'Feature Provisioning']);
    const bands = new Map(diagram.lanes.map((lane) => [lane.id, lane.band]));
    for (const node of diagram.nodes) {
      const band = bands.get(node.lane)!;
      expect(node.box.y).toBeGreaterThanOrEqual(band.y);
      expect(node.box.y + node.box.height).toBeLessThanOrEqual(band.y + band.height);
    }
  });
});
