// Hostile labels (markup, quotes, ampersands, control characters, right-to-left text, lone
// surrogates, 10,000 characters) in a lane label, a node label and an edge label: the SVG must
// parse as XML, hold no element or attribute name that a plain label does not produce, and keep
// the label's markup as text.
import { SaxesParser } from 'saxes';
import { checkSource, layout, renderSvg } from '../src/index';
import type { ReliabilityRow, ReliabilitySection } from './table';

const HOSTILE: Record<string, string> = {
  'script element': '<script>alert(1)</script>',
  'event attribute': '<img src=x onerror=alert(1)>',
  'quotes and ampersands': `"quoted" & 'single' &amp; &#x41; &lt;`,
  'CDATA and comment': ']]><!-- --><![CDATA[x]]>',
  'control characters': 'a\u0001b\u0008c\u000bd\u001fe\u007f',
  'right-to-left text': '\u202eRTL override عربى עברית',
  'lone surrogate': 'broken \ud800 pair',
  '10,000 characters': 'x'.repeat(10_000),
};

function flowWith(label: string): string {
  const quoted = label.replace(/["\\]/g, '\\$&');
  return [
    `Lane { # ${label}`,
    `  n1: circle label:"Start"`,
    `  n2: rectangle label:"${quoted}"`,
    `  n3: circle label:"End"`,
    `  n1.handle(right) -> n2.handle(left) [label="${quoted}"]`,
    `  n2.handle(right) -> n3.handle(left)`,
    '}',
    '',
  ].join('\n');
}

interface Scan {
  error?: string;
  elements: Set<string>;
  attributes: Set<string>;
  text: string;
}

function scan(svg: string): Scan {
  const result: Scan = { elements: new Set(), attributes: new Set(), text: '' };
  const parser = new SaxesParser();
  parser.on('error', (error) => (result.error ??= error.message));
  parser.on('opentag', (tag) => {
    result.elements.add(tag.name);
    for (const name of Object.keys(tag.attributes)) result.attributes.add(name);
  });
  parser.on('text', (text) => (result.text += text));
  parser.write(svg).close();
  return result;
}

async function render(text: string): Promise<string> {
  const { flow, diagnostics } = checkSource('hostile.flow', text);
  if (flow === undefined) throw new Error(`does not compile: ${diagnostics.map((d) => d.message).join('; ')}`);
  return renderSvg(await layout(flow), {});
}

export default async function renderSafety(): Promise<ReliabilitySection> {
  const baseline = scan(await render(flowWith('Plain label')));
  const rows: ReliabilityRow[] = [];
  for (const [name, label] of Object.entries(HOSTILE)) {
    let problem: string | undefined;
    try {
      const found = scan(await render(flowWith(label)));
      const strangeElements = [...found.elements].filter((e) => !baseline.elements.has(e));
      const strangeAttributes = [...found.attributes].filter((a) => !baseline.attributes.has(a));
      // Markup must survive as text: its first characters appear in the drawn text.
      const visible = label.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 12);
      if (found.error !== undefined) problem = `not XML: ${found.error}`;
      else if (strangeElements.length > 0) problem = `elements from the label: ${strangeElements.join(', ')}`;
      else if (strangeAttributes.length > 0) problem = `attributes from the label: ${strangeAttributes.join(', ')}`;
      else if (/[<&]/.test(visible) && !found.text.includes(visible.slice(0, 5))) problem = 'the label text is missing';
    } catch (error) {
      problem = `threw: ${error instanceof Error ? error.message : String(error)}`;
    }
    rows.push({
      check: `render: ${name}`,
      cases: 3,
      faults: 3,
      lost: 0,
      duplicates: 0,
      ok: problem === undefined,
      note: problem ?? 'valid XML, no element or attribute from the label',
    });
  }
  return { title: 'render', rows };
}
