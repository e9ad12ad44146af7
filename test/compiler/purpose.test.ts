import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RUN_ONLY_CODES } from '../../src/compiler/index';
import { checkSource, compile, DIAGNOSTIC_CODES, parse } from '../../src/index';
import { repoRoot } from '../helpers/cases';

// Issue 13: a rule only running needs is a warning when a flow is drawn or checked, and an
// error, with the same code, when it is compiled to run.
const path = 'test/testdata/render-cases/agent-no-circle.flow';
const text = readFileSync(`${repoRoot}${path}`, 'utf8');

const noStart = (diagnostics: { code: string; severity: string }[]) => diagnostics.filter((d) => d.code === 'FZ210');

describe('compiling for a purpose', () => {
  it('refuses a flow with no start by default, as running it needs', () => {
    const { flow, diagnostics } = compile(parse(path, text).ast);
    expect(flow).toBeUndefined();
    expect(noStart(diagnostics)).toMatchObject([{ severity: 'error', range: { start: { line: 2, column: 3 } } }]);
  });

  it('compiles the same flow for drawing, with the same code as a warning and no start', () => {
    const { flow, diagnostics } = compile(parse(path, text).ast, { purpose: 'draw' });
    expect(noStart(diagnostics)).toMatchObject([{ severity: 'warning', range: { start: { line: 2, column: 3 } } }]);
    expect(diagnostics.every((d) => d.severity === 'warning')).toBe(true);
    expect(flow?.starts).toEqual([]);
    expect(flow?.nodes.map((n) => n.kind)).toEqual(['step', 'step', 'step', 'decision', 'step', 'step', 'step']);
    expect(flow?.loops.map((l) => l.nodes)).toEqual([['n3', 'n4', 'n6', 'n7']]);
  });

  it('leaves every other error an error when drawing', () => {
    const broken = text.replace('n6: rectangle', 'n6: rect');
    const { flow, diagnostics } = compile(parse(path, broken).ast, { purpose: 'draw' });
    expect(flow).toBeUndefined();
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => d.code)).toEqual(['FZ201']);
  });

  it('gives checkSource the purpose of `laneflow check`: drawing unless told to run', () => {
    expect(noStart(checkSource(path, text).diagnostics)).toMatchObject([{ severity: 'warning' }]);
    expect(checkSource(path, text).flow).toBeDefined();
    const forRunning = checkSource(path, text, { purpose: 'run' });
    expect(noStart(forRunning.diagnostics)).toMatchObject([{ severity: 'error' }]);
    expect(forRunning.flow).toBeUndefined();
  });

  it('lists only errors of the code table as run-only, and no start among them', () => {
    expect(RUN_ONLY_CODES.has('FZ210')).toBe(true);
    for (const code of RUN_ONLY_CODES) expect(DIAGNOSTIC_CODES[code].severity).toBe('error');
  });
});
