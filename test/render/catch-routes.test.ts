import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { laneflow } from '../helpers/cli';

const flow = 'test/testing/fixtures/charge.flow';
const out = 'test/artifacts/render-catch';

describe('render of a flow whose binding module declares catch routes', () => {
  it('draws each catch route as a dashed edge labelled with its errors, or "catch"', () => {
    rmSync(`${repoRoot}${out}`, { recursive: true, force: true });
    const run = laneflow(['render', flow, '-o', `${out}/charge.svg`, '--png', `${out}/charge.png`]);
    expect(run.stderr).toBe(`${flow} → ${out}/charge.svg, ${out}/charge.png\n`);
    expect(run.status).toBe(0);
    const svg = readFileSync(`${repoRoot}${out}/charge.svg`, 'utf8');
    // Attribute values escape `>`.
    const attribute = (id: string) => `data-edge-id="${id.replace('>', '&gt;')}"`;
    const edge = (id: string) => svg.split('\n').find((line) => line.includes(attribute(id)) && line.startsWith('<path'));
    expect(edge('n2-catch->n4')).toMatch(/data-catch="true"/);
    expect(edge('n2-catch->n4')).toMatch(/stroke-dasharray="2 3 8 3"/);
    expect(edge('n2-catch->n5')).toMatch(/data-catch="true"/);
    // The file's own edges stay solid.
    expect(edge('n2->n3')).not.toMatch(/stroke-dasharray/);
    const labelOf = (id: string) => svg.split(`<g ${attribute(id)}>`)[1]?.split('</g>')[0] ?? '';
    // The label wraps after the comma.
    expect(labelOf('n2-catch->n4')).toMatch(/>GatewayTimeout,<\/text>\n<text [^>]*>CardDeclined</);
    expect(labelOf('n2-catch->n5')).toContain('>catch<');
    expect(existsSync(`${repoRoot}${out}/charge.png`)).toBe(true);
  });

  it('draws nothing extra for a flow without a binding module beside it', () => {
    const run = laneflow(['render', 'test/testing/fixtures/retry-loop.flow', '-o', '-']);
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain('data-catch');
  });
});
