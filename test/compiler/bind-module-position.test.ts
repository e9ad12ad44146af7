import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { laneflow } from '../helpers/cli';

describe('a binding key that names no node', () => {
  it('is reported at the key in the binding module, with its code frame, not at line 1 of the flow', () => {
    const folder = mkdtempSync(join(tmpdir(), 'laneflow-bind-key-'));
    copyFileSync(`${repoRoot}test/testing/fixtures/refund.flow`, join(folder, 'refund.flow'));
    writeFileSync(
      join(folder, 'refund.bindings.ts'),
      [
        "// Binds 'Look up ordr' — the comment's text is no key.",
        'export default {',
        '  nodes: {',
        "    'Look up ordr': () => ({}),",
        '  },',
        '};',
        '',
      ].join('\n'),
    );
    const run = laneflow(['compile', join(folder, 'refund.flow')]);
    expect(run.status).toBe(1);
    const bindings = join(folder, 'refund.bindings.ts');
    expect(run.stderr).toContain(`${bindings}:4:5: error FZ405: ${bindings} binds "Look up ordr", which is no node id or label in ${join(folder, 'refund.flow')} (did you mean \`Look up order\`?)`);
    expect(run.stderr).toContain("4 |     'Look up ordr': () => ({}),\n  |     ^^^^^^^^^^^^^^");
    expect(run.stderr).not.toContain('refund.flow:1:1');
  });
});
