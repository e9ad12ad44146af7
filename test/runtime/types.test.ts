// `laneflow types` output checked by the real TypeScript compiler: a binding module that binds a
// node the flow lacks, or whose decision handler returns a label its diamond lacks, fails `tsc`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declareTypes } from '../../src/compiler/declarations';
import { checkSource } from '../../src/index';
import { repoRoot } from '../helpers/cases';

// Outside the repository, so that the project's own `tsc -p .` never sees these deliberate errors.
const project = `${mkdtempSync(join(tmpdir(), 'laneflow-types-'))}/`;

const header = `import { defineBindings, defineDecision } from '${repoRoot}src/runtime/define';
import type { Flow } from './plan-upgrade.flow';
`;

const FILES: Record<string, string> = {
  'good.ts': `${header}
export default defineBindings<Flow, { creditCents: number }>({
  nodes: {
    n2: 'plans.select',
    'Credit balance available?': (ctx) => (ctx.data.creditCents > 0 ? 'Yes' : 'No'),
    n13: async () => 'No' as const,
    n16: { handler: defineDecision(['Yes', 'No'], () => 'Yes'), retry: false, catch: 'n18' },
    'Send upgrade email': (ctx) => {
      ctx.emit('email', { to: 'a@example.com' });
    },
  },
});
`,
  'bad-label.ts': `${header}
export default defineBindings<Flow>({
  nodes: {
    n9: () => 'Maybe',
  },
});
`,
  'bad-label-by-name.ts': `${header}
export default defineBindings<Flow>({
  nodes: {
    'Payment valid?': { handler: () => 'Perhaps', retry: false },
  },
});
`,
  'bad-key.ts': `${header}
export default defineBindings<Flow>({
  nodes: {
    n99: () => ({}),
  },
});
`,
  'bad-catch.ts': `${header}
export default defineBindings<Flow>({
  nodes: {
    n14: { handler: () => ({}), catch: 'n77' },
  },
});
`,
};

function tscErrors(): Map<string, string[]> {
  const flowPath = 'flows/plan-upgrade.flow';
  const { flow } = checkSource(flowPath, readFileSync(`${repoRoot}${flowPath}`, 'utf8'));
  writeFileSync(`${project}plan-upgrade.flow.d.ts`, declareTypes(flow!));
  for (const [name, text] of Object.entries(FILES)) writeFileSync(project + name, text);
  const compilerOptions = { strict: true, noEmit: true, module: 'preserve', moduleResolution: 'bundler', target: 'ES2022', lib: ['ES2023'], types: ['node'], typeRoots: [`${repoRoot}node_modules/@types`], skipLibCheck: true };
  writeFileSync(`${project}tsconfig.json`, JSON.stringify({ compilerOptions, include: ['*.ts'] }));
  const result = spawnSync(process.execPath, [`${repoRoot}node_modules/typescript/bin/tsc`, '-p', project, '--pretty', 'false'], { cwd: repoRoot, encoding: 'utf8' });
  rmSync(project, { recursive: true, force: true });
  const errors = new Map<string, string[]>();
  for (const line of result.stdout.split('\n')) {
    const match = /([\w-]+\.ts)\(\d+,\d+\): error (TS\d+: .*)/.exec(line);
    if (match !== null) errors.set(match[1]!, [...(errors.get(match[1]!) ?? []), match[2]!]);
  }
  return errors;
}

describe('laneflow types', () => {
  it('makes tsc reject bindings for missing nodes and decision labels the diamond lacks, and accept correct ones', () => {
    const errors = tscErrors();
    expect(errors.get('good.ts')).toBeUndefined();
    expect(errors.get('bad-label.ts')?.join('\n')).toMatch(/"Maybe"/);
    expect(errors.get('bad-label-by-name.ts')?.join('\n')).toMatch(/"Perhaps"/);
    expect(errors.get('bad-key.ts')?.join('\n')).toMatch(/n99/);
    expect(errors.get('bad-catch.ts')?.join('\n')).toMatch(/n77/);
    expect([...errors.keys()].sort()).toEqual(['bad-catch.ts', 'bad-key.ts', 'bad-label-by-name.ts', 'bad-label.ts']);
  });
});
