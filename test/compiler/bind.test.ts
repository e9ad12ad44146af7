import { describe, expect, it } from 'vitest';
import { bind, DEFAULT_LOOP_BOUND, DEFAULT_RETRY } from '../../src/compiler/bind';
import type { BindingSpec, HandlerCatalog } from '../../src/compiler/types';
import { checkSource, formatDiagnostic } from '../../src/index';
import { testdata } from '../helpers/cases';
import { expectGolden, toJson } from '../helpers/golden';

const FLOW = `Shop { # Shop
  n1: circle label:"Start"
  n2: rectangle label:"Reserve stock"
  n3: diamond label:"In stock?"
  n4: rectangle label:"Ship"
  n5: rectangle label:"Backorder"
  n6: circle label:"End"
  n7: rectangle label:"Ship"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
  n3.handle(right) -> n4.handle(left) [label="Yes"]
  n3.handle(bottom) -> n5.handle(top) [label="No"]
  n4.handle(right) -> n6.handle(left)
  n5.handle(right) -> n7.handle(left)
  n7.handle(right) -> n2.handle(bottom)
  loop [retry up to 3 times] n2 n3 n5 n7
}
`;

const CATALOG: HandlerCatalog = {
  'stock.reserve': { kind: 'step' },
  'stock.check': { kind: 'decision', labels: ['yes', 'No'] },
  'stock.checkAny': { kind: 'decision', labels: ['Yes', 'No', 'Maybe'] },
  'stock.onlyYes': { kind: 'decision', labels: ['Yes'] },
  'ship.parcel': { kind: 'step' },
  inline: { kind: 'inline' },
};

const bound = (nodes: BindingSpec['nodes']): BindingSpec['nodes'] => [
  { key: 'Reserve stock', handler: 'stock.reserve' },
  { key: 'n3', handler: 'stock.check' },
  { key: 'n4', handler: 'ship.parcel' },
  { key: 'n5', handler: 'inline' },
  { key: 'n7', handler: 'ship.parcel' },
  ...nodes,
];

const CASES: { name: string; spec: Partial<BindingSpec> }[] = [
  { name: 'unbound-step-and-decision', spec: { nodes: [{ key: 'n4', handler: 'ship.parcel' }] } },
  { name: 'unknown-handler', spec: { nodes: bound([]).map((b) => (b.key === 'n4' ? { ...b, handler: 'ship.parcle' } : b)) } },
  { name: 'decision-handler-cannot-return-labels', spec: { nodes: bound([]).map((b) => (b.key === 'n3' ? { ...b, handler: 'stock.checkAny' } : b)) } },
  { name: 'step-handler-on-decision', spec: { nodes: bound([]).map((b) => (b.key === 'n3' ? { ...b, handler: 'stock.reserve' } : b)) } },
  { name: 'decision-handler-on-step', spec: { nodes: bound([]).map((b) => (b.key === 'n4' ? { ...b, handler: 'stock.check' } : b)) } },
  { name: 'branch-never-taken', spec: { nodes: bound([]).map((b) => (b.key === 'n3' ? { ...b, handler: 'stock.onlyYes' } : b)) } },
  { name: 'missing-node-and-ambiguous-label', spec: { nodes: bound([{ key: 'n99', handler: 'ship.parcel' }, { key: 'Ship', handler: 'ship.parcel' }, { key: 'Reserv stock', handler: 'ship.parcel' }]) } },
  { name: 'circle-and-twice', spec: { nodes: bound([{ key: 'n1', handler: 'ship.parcel' }, { key: 'n2', handler: 'stock.reserve' }]) } },
  {
    name: 'bad-catch-retry-loop',
    spec: {
      nodes: bound([]).map((b) =>
        b.key === 'n4'
          ? { ...b, catch: [{ errorEquals: ['States.ALL'], next: 'n42' }], retry: [{ ...DEFAULT_RETRY, backoffRate: 0.5, maxAttempts: -1 }], timeoutSeconds: 0 }
          : b,
      ),
      loops: [{ key: 'loop9', bound: 2 }, { key: 'retry up to 3 times', bound: 0 }],
    },
  },
];

function bindCase(spec: Partial<BindingSpec>) {
  const { flow } = checkSource('shop.flow', FLOW);
  return bind(flow!, { source: 'shop.bindings.ts', nodes: [], loops: [], defaults: {}, ...spec }, CATALOG);
}

describe('bind', () => {
  for (const { name, spec } of CASES) {
    it(`reports ${name}`, () => {
      const { machine, diagnostics } = bindCase(spec);
      expect(diagnostics.length).toBeGreaterThan(0);
      if (diagnostics.some((d) => d.severity === 'error')) expect(machine).toBeUndefined();
      const text = diagnostics.map((d) => formatDiagnostic('shop.flow', FLOW, d)).join('\n');
      expectGolden(`${testdata}compiler/bind/${name}.exp.txt`, text + '\n');
    });
  }

  it('binds by id or unique label into a machine with branches, forks, loop bounds, retry and catch', () => {
    const { machine, diagnostics } = bindCase({
      nodes: bound([]).map((b) => (b.key === 'n4' ? { ...b, catch: [{ errorEquals: ['States.ALL'], next: 'Backorder' }], timeoutSeconds: 5 } : b)),
      loops: [{ key: 'loop1', bound: 7 }],
    });
    expect(diagnostics).toEqual([]);
    expect(machine!.nodes['n3']!.branches).toEqual([{ label: 'Yes', to: 'n4' }, { label: 'No', to: 'n5' }]);
    expect(machine!.nodes['n2']).toMatchObject({ handler: 'stock.reserve', retry: [DEFAULT_RETRY], loop: 'loop1', next: ['n3'] });
    expect(machine!.nodes['n4']).toMatchObject({ catch: [{ errorEquals: ['States.ALL'], next: 'n5' }], timeoutSeconds: 5 });
    expect(machine!.loops['loop1']).toMatchObject({ bound: 7, boundFrom: 'binding' });
    expectGolden(`${testdata}compiler/bind/machine.exp.json`, toJson(machine));
  });

  it('gives a loop without a number the default bound, and versions the machine by flow and binding', () => {
    const text = FLOW.replace('retry up to 3 times', 'retry a while');
    const { flow } = checkSource('shop.flow', text);
    const spec: BindingSpec = { source: 'b', nodes: bound([]), loops: [], defaults: {} };
    const first = bind(flow!, spec, CATALOG).machine!;
    expect(first.loops['loop1']).toMatchObject({ bound: DEFAULT_LOOP_BOUND, boundFrom: 'default' });
    expect(bind(flow!, spec, CATALOG).machine!.version).toBe(first.version);
    const changed = bind(flow!, { ...spec, defaults: { timeoutSeconds: 9 } }, CATALOG).machine!;
    expect(changed.version).not.toBe(first.version);
    expect(changed.flowVersion).toBe(first.flowVersion);
  });

  it('allows unbound nodes when asked, for printing a machine without bindings', () => {
    const { flow } = checkSource('shop.flow', FLOW);
    const { machine, diagnostics } = bind(flow!, { source: 'none', nodes: [], loops: [], defaults: {} }, {}, { allowUnbound: true });
    expect(diagnostics).toEqual([]);
    expect(machine!.nodes['n2']!.handler).toBeUndefined();
  });
});
