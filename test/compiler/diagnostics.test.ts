import { describe, expect, it } from 'vitest';
import { RUN_ONLY_CODES } from '../../src/compiler/index';
import { checkSource, DIAGNOSTIC_CODES } from '../../src/index';
import { diagnosticCases, lane, startEnd, type DiagnosticCase, type FlowDiagnosticCode } from '../helpers/diagnostic-cases';

describe('every diagnostic code', () => {
  it('has a test case below', () => {
    const flowCodes = Object.keys(DIAGNOSTIC_CODES).filter((code) => !code.startsWith('FZ4'));
    expect(Object.keys(diagnosticCases).sort()).toEqual(flowCodes.sort());
  });

  for (const [code, c] of Object.entries(diagnosticCases) as [FlowDiagnosticCode, DiagnosticCase][]) {
    it(`${code} ${DIAGNOSTIC_CODES[code].summary}`, () => {
      const { diagnostics } = checkSource('case.flow', c.source);
      const found = diagnostics.filter((d) => d.code === code);
      expect(found, JSON.stringify(diagnostics, null, 1)).toHaveLength(1);
      const [d] = found;
      expect([d!.range.start.line, d!.range.start.column]).toEqual(c.at);
      expect(d!.message).toContain(c.says);
      // checkSource checks for drawing, where a rule only running needs is a warning.
      expect(d!.severity).toBe(RUN_ONLY_CODES.has(code) ? 'warning' : DIAGNOSTIC_CODES[code].severity);
      const forRunning = checkSource('case.flow', c.source, { purpose: 'run' }).diagnostics.filter((r) => r.code === code);
      expect(forRunning.map((r) => r.severity)).toEqual([DIAGNOSTIC_CODES[code].severity]);
    });
  }

  it('leaves a well-formed flow with no diagnostics at all', () => {
    const source = lane(startEnd + '  n1.handle(right) -> n2.handle(left)');
    expect(checkSource('ok.flow', source).diagnostics).toEqual([]);
  });
});

describe('an unterminated string', () => {
  it('is the only error on its line, and its node still resolves', () => {
    const source = lane('  n1: circle label:"Start\n  n2: circle label:"End"\n  n1.handle(right) -> n2.handle(left) [label="go]');
    const { diagnostics } = checkSource('case.flow', source);
    expect(diagnostics.map((d) => [d.code, d.range.start.line, d.range.start.column])).toEqual([
      ['FZ102', 2, 20],
      ['FZ102', 4, 46],
    ]);
  });
});
