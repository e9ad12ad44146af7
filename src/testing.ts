/**
 * `laneflow/testing`: running a flow from a test on a virtual clock and an in-memory database,
 * with scripted outcomes and assertions that name the node and its line, and coverage of runs.
 *
 * @module laneflow/testing
 */
export { runFlow, FlowRun, ScenarioAssertionError, type RunFlowOptions, type ExpectInput, type OutcomeInput } from './runtime/testing/run-flow';
export { coverageOf } from './runtime/testing/coverage';
export type { Trace, TraceVisit, TraceEffect, ExpectationFailure, FlowCoverage, CoverageItem } from './runtime/testing/types';
export { VirtualClock } from './runtime/clock';
