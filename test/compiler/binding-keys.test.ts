import { describe, expect, it } from 'vitest';
import { bindingKeyLocations, catchRoutesInSource } from '../../src/compiler/binding-keys';

/** `line:column` of each range of a key. */
function places(text: string, key: string): string[] {
  return (bindingKeyLocations(text).keys.get(key) ?? []).map((r) => `${r.start.line}:${r.start.column}`);
}

const MODULE = `// nodes: { 'Charge card': … } in a comment is no key
import { defineBindings } from 'laneflow';
const pattern = /nodes: { n9: x }/g;
const note = \`nodes: { n9: \${ { n9: 1 }.n9 } }\`;
/* 'Charge card': block comment */
export default defineBindings({
  packs: [],
  nodes: {
    'Charge card': { handler: 'billing.retryPayment', retry: { n9: 3 }, catch: 'n18' },
    "Wait \\"a\\" day": async (ctx) => { await ctx.sleep('1d'); },
    n9: (ctx) => (ctx.data.total / 2 > 1 ? 'Yes' : 'No'),
    async 'Send email'(ctx) { return { n12: true }; },
    1: 'billing.applyEntitlements',
    ...shared,
    n10,
  },
  loops: { loop1: 3 },
});
`;

describe('bindingKeyLocations', () => {
  it('finds each key of the nodes object at its line and column, quoted or not', () => {
    expect(places(MODULE, 'Charge card')).toEqual(['9:5']);
    expect(places(MODULE, 'Wait "a" day')).toEqual(['10:5']);
    expect(places(MODULE, 'n9')).toEqual(['11:5']);
    expect(places(MODULE, 'Send email')).toEqual(['12:11']);
    expect(places(MODULE, '1')).toEqual(['13:5']);
    expect(places(MODULE, 'n10')).toEqual(['15:5']);
    expect(bindingKeyLocations(MODULE).object?.start).toEqual({ line: 8, column: 3, offset: MODULE.indexOf('  nodes: {') + 2 });
  });

  it('takes nothing from comments, strings, templates, regular expressions or nested objects for a key', () => {
    const keys = [...bindingKeyLocations(MODULE).keys.keys()].sort();
    expect(keys).toEqual(['1', 'Charge card', 'Send email', 'Wait "a" day', 'n10', 'n9'].sort());
    expect(places(MODULE, 'n12')).toEqual([]);
    expect(places(MODULE, 'loop1')).toEqual([]);
  });

  it('gives a key written twice both places, and nothing for a module without nodes', () => {
    expect(places('export default { nodes: { a: 1 } };\nconst other = { nodes: { a: 2 } };\n', 'a')).toEqual(['1:27', '2:26']);
    expect(bindingKeyLocations('export default {};\n')).toEqual({ keys: new Map() });
  });
});

describe('catchRoutesInSource', () => {
  it('reads a target written as text, one object or a list, with error names when each is a string', () => {
    const text = `export default defineBindings({
  nodes: {
    'Charge card': { handler: 'billing.retryPayment', catch: 'n18' },
    Send: {
      handler: 'webhook.send',
      catch: [
        { errorEquals: [ERRORS.attemptFailed], next: 'Response 2xx?' },
        { next: 'Return 400', errorEquals: ['SyntaxError', "Refused"] },
        { next: target },
      ],
    },
    'Parse': { handler: 'webhook.parsePayload', retry: false, catch: { next: 'n14', errorEquals: ['SyntaxError'] } },
    n9: (ctx) => { try { return 'Yes'; } catch { return 'No'; } },
  },
});
`;
    expect(catchRoutesInSource(text).map(({ key, next, errorEquals, range }) => ({ key, next, errorEquals, line: range.start.line }))).toEqual([
      { key: 'Charge card', next: 'n18', errorEquals: undefined, line: 3 },
      { key: 'Send', next: 'Response 2xx?', errorEquals: undefined, line: 6 },
      { key: 'Send', next: 'Return 400', errorEquals: ['SyntaxError', 'Refused'], line: 6 },
      { key: 'Send', next: undefined, errorEquals: undefined, line: 6 },
      { key: 'Parse', next: 'n14', errorEquals: ['SyntaxError'], line: 12 },
    ]);
  });
});
