/**
 * `laneflow`: parse, check, format and render `.flow` diagrams; bind them to handlers
 * (`defineBindings`) and run them durably on SQLite (`Engine`).
 *
 * @module laneflow
 */
export { parse, format, type FormatOptions } from './parser/index';
export { compile, validate, SHAPES, SIDES } from './compiler/index';
export type * from './parser/types';
export type * from './compiler/types';
export type { CompileOptions, CompileResult } from './compiler/compile';
export { DIAGNOSTIC_CODES, hasErrors, type Diagnostic, type DiagnosticCode, type Range, type Position, type Severity } from './lib/diagnostics';
export { formatDiagnostic } from './lib/report';
export { layout, renderSvg, renderPng, THEME_NAMES, type RenderSvgOptions, type RenderHighlight, type RenderPngOptions, type ThemeName } from './render/index';
export type * from './render/types';

export { checkSource, type CheckResult } from './compiler/check-source';
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
