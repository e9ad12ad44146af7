import { compile, type CompileResult } from './compiler/compile';
import { sortDiagnostics } from './lib/diagnostics';
import { parse } from './parser/parse';
import type { FlowFile } from './parser/types';

export { parse, format, type FormatOptions } from './parser/index';
export { compile, validate, SHAPES, SIDES } from './compiler/index';
export type * from './parser/types';
export type * from './compiler/types';
export type { CompileResult } from './compiler/compile';
export { DIAGNOSTIC_CODES, hasErrors, type Diagnostic, type DiagnosticCode, type Range, type Position, type Severity } from './lib/diagnostics';
export { formatDiagnostic } from './lib/report';
export { layout, renderSvg, renderPng, THEME_NAMES, type RenderSvgOptions, type RenderHighlight, type RenderPngOptions, type ThemeName } from './render/index';
export type * from './render/types';

export interface CheckResult extends CompileResult {
  ast: FlowFile;
}

/** Parses and validates a .flow text: every diagnostic of both stages, and the flow if it has no errors. */
export function checkSource(path: string, text: string): CheckResult {
  const parsed = parse(path, text);
  // A parse stopped at the error limit saw only part of the file: validating that part would
  // report the unread rest as missing.
  if (parsed.diagnostics.some((d) => d.code === 'FZ107')) return { ast: parsed.ast, diagnostics: parsed.diagnostics };
  const compiled = compile(parsed.ast);
  const diagnostics = sortDiagnostics([...parsed.diagnostics, ...compiled.diagnostics]);
  const hasParseErrors = parsed.diagnostics.some((d) => d.severity === 'error');
  return {
    ast: parsed.ast,
    diagnostics,
    ...(compiled.flow !== undefined && !hasParseErrors && { flow: compiled.flow }),
  };
}
export { bind, DEFAULT_LOOP_BOUND, DEFAULT_RETRY, type BindResult, type BindOptions } from './compiler/bind';
export { declareTypes } from './compiler/declarations';
export { defineBindings, defineStep, defineDecision, definePack } from './runtime/define';
export type * from './runtime/define';
export { Engine, type EngineOptions, type DeployResult, type StartOptions, type InstanceDetails } from './runtime/engine';
export { begin, transition, nextWake, ENGINE_ERRORS } from './runtime/core';
export { wallClock, VirtualClock, type Clock } from './runtime/clock';
export { HandlerRegistry } from './runtime/registry';
export type { Json, JsonObject, Snapshot, RuntimeEvent, Effect, JournalEntry, HandlerOutcome, InstanceStatus, ErrorInfo } from './runtime/types';
export { flowPaths, type FlowPath, type PathsOptions, type PathsResult } from './compiler/paths';
export { runFlow, FlowRun, ScenarioAssertionError, type RunFlowOptions, type ExpectInput, type OutcomeInput } from './runtime/testing/run-flow';
export { coverageOf } from './runtime/testing/coverage';
export type { Trace, TraceVisit, TraceEffect, ExpectationFailure, FlowCoverage, CoverageItem } from './runtime/testing/types';
