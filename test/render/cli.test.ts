import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { laneflow as run } from '../helpers/cli';

const root = join(import.meta.dirname, '..', '..');

// Through the launcher, as a user runs it: `render` starts from the start-up snapshot.
function laneflow(...args: string[]) {
  const result = run(args, { env: { NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scratchFolder(): string {
  return mkdtempSync(join(tmpdir(), 'laneflow-render-'));
}

describe('laneflow render', () => {
  it('renders a folder of flows into an output folder, as SVG and PNG', () => {
    const out = scratchFolder();
    const result = laneflow('render', 'flows/', '-o', join(out, 'svg'), '--png', join(out, 'png'));
    expect(result.stderr).toContain('flows/webhook-integration.flow →');
    expect(result.code).toBe(0);
    for (const name of ['plan-upgrade', 'webhook-integration']) {
      const svg = readFileSync(join(out, 'svg', `${name}.svg`), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*viewBox="0 0 [\d.]+ [\d.]+"/);
      expect(svg).toContain(`<title>${name}</title>`);
      const png = readFileSync(join(out, 'png', `${name}.png`));
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      const svgWidth = Number(/width="([\d.]+)"/.exec(svg)![1]);
      expect(png.readUInt32BE(16)).toBe(Math.ceil(svgWidth * 2));
    }
  });

  it('writes the SVG beside the .flow file by default, and to standard output with -o -', () => {
    const folder = scratchFolder();
    copyFileSync(join(root, 'flows/plan-upgrade.flow'), join(folder, 'plan.flow'));
    expect(laneflow('render', join(folder, 'plan.flow')).code).toBe(0);
    const beside = readFileSync(join(folder, 'plan.svg'), 'utf8');
    const piped = laneflow('render', join(folder, 'plan.flow'), '-o', '-');
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(beside);
  });

  it('does not render a file with errors, reports them like check, and still renders the others', () => {
    const folder = scratchFolder();
    mkdirSync(join(folder, 'nested'));
    copyFileSync(join(root, 'flows/plan-upgrade.flow'), join(folder, 'nested', 'good.flow'));
    writeFileSync(join(folder, 'bad.flow'), 'Lane {\n  n1: circle label:"Start"\n  n1.handle(right) -> n2.handle(left)\n}\n');
    const out = scratchFolder();
    const result = laneflow('render', folder, '-o', out);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bad\.flow:3:\d+: error FZ\d+: /);
    expect(result.stderr).toContain('1 file not rendered because of errors');
    expect(existsSync(join(out, 'bad.svg'))).toBe(false);
    expect(existsSync(join(out, 'nested', 'good.svg'))).toBe(true);
  });

  it('draws the dark theme on request and refuses an unknown one', () => {
    const dark = laneflow('render', 'flows/plan-upgrade.flow', '-o', '-', '--theme', 'dark');
    expect(dark.code).toBe(0);
    expect(dark.stdout).toContain('fill="#0b1120"');
    const unknown = laneflow('render', 'flows/plan-upgrade.flow', '-o', '-', '--theme', 'sepia');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("'sepia' is invalid");
  });

  it('explains usage mistakes in one sentence', () => {
    const several = laneflow('render', 'flows/', '-o', '-');
    expect(several.code).toBe(2);
    expect(several.stderr).toBe('laneflow: `-o -` writes one SVG to standard output; give a single .flow file\n');
    const missing = laneflow('render', 'no-such.flow');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('laneflow: cannot read no-such.flow: no such file or folder\n');
  });

  it('keeps the render libraries out of what the other commands load', () => {
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const code = readFileSync(file, 'utf8');
      for (const match of code.matchAll(/^import\s[^;]*?from\s*"(\.[^"]+)"|^import\s*"(\.[^"]+)"/gm)) visit(join(dirname(file), match[1] ?? match[2]!));
    };
    visit(join(root, 'dist/cli.js'));
    const statically = [...loaded].map((file) => readFileSync(file, 'utf8')).join('\n');
    expect(statically).not.toMatch(/from\s*"(elkjs[^"]*|@svgdotjs\/svg\.js|@resvg\/resvg-js)"/);
    // svgdom is bundled into its own chunk: its window factory is defined there, only imported dynamically.
    expect(statically).not.toMatch(/function createSVGWindow|createSVGWindow = /);
  });
});
