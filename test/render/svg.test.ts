import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { layout, renderSvg } from '../../src/index';
import { expectGolden } from '../helpers/golden';
import { compileCase, compileText, GOLDEN_CASES, RENDER_CASES } from './cases';

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  text: string;
}

/** Parses strictly (saxes throws on any well-formedness error) and lists the elements. */
function parseXml(xml: string): XmlElement[] {
  const parser = new SaxesParser({ xmlns: true });
  const elements: XmlElement[] = [];
  const open: XmlElement[] = [];
  parser.on('opentag', (tag) => {
    const attributes = Object.fromEntries(Object.entries(tag.attributes).map(([name, attribute]) => [name, attribute.value]));
    const element = { name: tag.local, attributes, text: '' };
    elements.push(element);
    open.push(element);
  });
  parser.on('text', (text) => {
    if (open.length > 0) open[open.length - 1]!.text += text;
  });
  parser.on('closetag', () => open.pop());
  parser.write(xml).close();
  return elements;
}

describe('renderSvg', () => {
  const golden = new Set(GOLDEN_CASES.map((c) => c.name));
  for (const { name, path } of RENDER_CASES) {
    it(`draws ${name} as well-formed XML${golden.has(name) ? ', as its golden' : ''}`, async () => {
      const svg = await renderSvg(await layout(compileCase(path)));
      expect(parseXml(svg)[0]!.name).toBe('svg');
      if (golden.has(name)) expectGolden(`test/testdata/svg/${name}.exp.svg`, svg);
    });
  }

  it('draws the dark theme as its golden', async () => {
    const svg = await renderSvg(await layout(compileCase('flows/webhook-integration.flow')), { theme: 'dark' });
    expectGolden('test/testdata/svg/webhook-integration.dark.exp.svg', svg);
  });

  it('writes well-formed XML with a title and every node and edge findable by id', async () => {
    const flow = compileCase('flows/plan-upgrade.flow');
    const elements = parseXml(await renderSvg(await layout(flow)));
    expect(elements[0]!.name).toBe('svg');
    expect(elements.find((e) => e.name === 'title')?.text).toBe('plan-upgrade');
    const nodeIds = elements.filter((e) => e.name === 'g' && e.attributes['data-node-id'] !== undefined).map((e) => e.attributes['data-node-id']);
    expect(nodeIds.sort()).toEqual(flow.nodes.map((node) => node.id).sort());
    const edgeIds = new Set(elements.filter((e) => e.name === 'path' && e.attributes['data-edge-id'] !== undefined).map((e) => e.attributes['data-edge-id']));
    expect([...edgeIds].sort()).toEqual(flow.edges.map((edge) => edge.id).sort());
    expect(elements.filter((e) => e.name === 'path' && e.attributes['data-edge-id'] !== undefined).every((e) => e.attributes['marker-end'] === 'url(#laneflow-arrow)')).toBe(true);
  });

  it('gives byte-identical SVG for the same flow', async () => {
    const flow = compileCase('flows/webhook-integration.flow');
    const first = await renderSvg(await layout(flow));
    const second = await renderSvg(await layout(compileCase('flows/webhook-integration.flow')));
    expect(second).toBe(first);
  });

  it('escapes every label: markup in a label is drawn as text', async () => {
    const text = [
      'Lane { # <img src=x onerror="alert(1)"> & co',
      '  n1: circle label:"Start"',
      '  n2: rectangle label:"<script>alert(\'x\')</script>"',
      '  n3: taskbox label:"A & B|<i>item</i>" owner:"]]> owner" system:"\\"sys\\""',
      '  n1.handle(right) -> n2.handle(left) [label="</text><script>x</script>"]',
      '  n2.handle(right) -> n3.handle(left)',
      '  loop [<b>3</b> times & more] n2 n3',
      '}',
      '',
    ].join('\n');
    const svg = await renderSvg(await layout(compileText('<evil>.flow', text)));
    const elements = parseXml(svg);
    expect(elements.map((e) => e.name)).not.toContain('script');
    expect(elements.map((e) => e.name)).not.toContain('img');
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain("<script>alert('x')</script>");
    expect(texts).toContain('</text><script>x</script>');
    expect(texts).toContain('Owner: ]]> owner');
    expect(texts.join(' ')).toContain('<img src=x onerror="alert(1)"> & co');
    expect(elements.find((e) => e.name === 'title')?.text).toBe('<evil>');
    expect(svg).toContain('&lt;script&gt;');
  });

  it('keeps characters XML cannot hold out of the document', async () => {
    const flow = compileText('control.flow', 'Lane {\n  n1: circle label:"Start"\n  n2: rectangle label:"bell \u0007 here"\n  n1.handle(right) -> n2.handle(left)\n}\n');
    const texts = parseXml(await renderSvg(await layout(flow))).filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain('bell \ufffd here');
  });
});
