/**
 * What binding modules and handler packs write: handler signatures, the context a handler
 * receives, and `defineBindings`. This module imports nothing at run time, so a binding
 * module that imports it loads fast.
 */
import type { RetryPolicy } from '../compiler/types';
import type { ErrorInfo, Json, JsonObject } from './types';

/** Milliseconds, or a number with a unit: `"250ms"`, `"30s"`, `"5m"`, `"2h"`, `"3d"`, `"1w"`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`;

/** How a `waitFor` ended: the signal's payload, or the timeout. */
export type SignalResult = { received: true; payload: Json } | { received: false; timedOut: true };

/** What a handler receives for one run. */
export interface HandlerContext<D = JsonObject> {
  readonly instanceId: string;
  /** The instance's data as committed before this step. */
  readonly data: Readonly<D>;
  readonly node: { readonly id: string; readonly label: string; readonly kind: 'step' | 'decision' };
  readonly lane: { readonly id: string; readonly label: string };
  /** 1 on the first run of this visit, 2 on the first retry… */
  readonly attempt: number;
  /** How many times a token has arrived at this node, this arrival included. */
  readonly visit: number;
  /** The loop this node belongs to: `iteration` counts from 1, `remaining` is what the bound still allows. */
  readonly loop?: { readonly id: string; readonly iteration: number; readonly remaining: number; readonly bound: number };
  /** `instanceId:nodeId:visit`: the same for every attempt of this visit. Pass it to every side effect. */
  readonly idempotencyKey: string;
  /** The error that a catch route brought the token here with. */
  readonly caught?: ErrorInfo;
  /**
   * Aborted when the run passes its timeout, or when the worker stops before the run ends: pass
   * it to `fetch`, database drivers and timers so that the handler's own I/O stops too. Its
   * `reason` is an Error saying which.
   */
  readonly signal: AbortSignal;
  /** The engine's clock: the wall clock in production, a virtual one in tests. */
  now(): Date;
  /**
   * A durable timer: the instance parks in the database until then. The handler runs again from
   * the top when it is due, and this call then returns at once; code before it must be safe to repeat.
   */
  sleep(durationOrUntil: Duration | Date): Promise<void>;
  /** Parks until the signal arrives (`laneflow signal`) or the timeout passes, then runs the handler again from the top. */
  waitFor(signal: string, options?: { timeout?: Duration }): Promise<SignalResult>;
  /**
   * Records a side effect in the outbox, committed with this step: once per idempotency key and
   * kind, however often the handler runs.
   */
  emit(kind: string, payload: Json): void;
}

/** A JSON Merge Patch of the data: keys to set, `null` to delete. */
export type Patch<D> = { [K in keyof D]?: D[K] | null };

/** What a step's handler returns: a patch merged into the data (a JSON Merge Patch: `null` deletes, arrays are replaced whole), or nothing. */
export type StepResult<D> = Patch<D> | JsonObject | void | undefined;

/** A step handler registered by name: `run` returns a patch of the data, or nothing. */
export interface StepDefinition<D = JsonObject> {
  kind: 'step';
  run(context: HandlerContext<D>): StepResult<D> | Promise<StepResult<D>>;
}

/** A decision handler registered by name: `run` returns one of `labels`, the label of the outgoing edge to follow. */
export interface DecisionDefinition<L extends string = string, D = JsonObject> {
  kind: 'decision';
  /** Every label the handler can return. */
  labels: readonly L[];
  run(context: HandlerContext<D>): L | Promise<L>;
}

/** A handler registered by name: a step or a decision. */
export type HandlerDefinition = StepDefinition | DecisionDefinition;

/** A named set of handlers, such as the built-in billing or webhook steps. */
export interface HandlerPack {
  name: string;
  handlers: Record<string, HandlerDefinition>;
}

/** A step handler to register by name (in a binding module's `handlers`, or a pack): `run` gets the context and returns a patch of the data, or nothing. */
export function defineStep<D = JsonObject>(run: StepDefinition<D>['run']): StepDefinition<D> {
  return { kind: 'step', run };
}

/** A decision handler to register by name: `labels` lists every label `run` may return, which the binder checks against the diamond's. */
export function defineDecision<const L extends string, D = JsonObject>(labels: readonly L[], run: DecisionDefinition<L, D>['run']): DecisionDefinition<L, D> {
  return { kind: 'decision', labels, run };
}

/** A named set of handlers, registered together (`packs: [definePack('shop', { … })]` in a binding module). */
export function definePack(name: string, handlers: Record<string, HandlerDefinition>): HandlerPack {
  return { name, handlers };
}

/**
 * A flow's shape as `laneflow types` declares it: step ids → labels, decision ids → the labels
 * they may return, unique labels → ids, loop names and node ids.
 */
export interface FlowShape {
  steps: object;
  decisions: object;
  labels: object;
  loops: string;
  nodes: string;
}

/** The shape of a flow whose types were not generated: any key, any label. */
export interface AnyFlow extends FlowShape {
  steps: Record<string, string>;
  decisions: Record<string, string>;
  labels: Record<string, string>;
  loops: string;
  nodes: string;
}

/**
 * A retrier as a binding writes it: States Language's fields (missing ones take its defaults),
 * or `schedule`, explicit waits before retry 1, 2, … (`['0h', '24h', '72h', '168h']`), which
 * also sets `maxAttempts` to one retry per wait unless given.
 */
export type RetryPolicyInput = Partial<Omit<RetryPolicy, 'scheduleSeconds'>> & { schedule?: readonly Duration[] };

/** A retrier, a list of them (the first whose `errorEquals` matches an error handles it), or `false`: never retry. */
export type RetryInput = RetryPolicyInput | RetryPolicyInput[] | false;

type NodeRef<F extends FlowShape> = F['nodes'] | Extract<keyof F['labels'], string>;

/** Where a node's token goes when its retries are exhausted: a node id or unique label (for every error), `{ next, errorEquals }`, or a list of those. */
export type CatchInput<F extends FlowShape> = NodeRef<F> | { next: NodeRef<F>; errorEquals?: string[] } | { next: NodeRef<F>; errorEquals?: string[] }[];

/** What a node's binding may set beside its handler. */
export interface NodeOptions<F extends FlowShape> {
  retry?: RetryInput;
  catch?: CatchInput<F>;
  /** A run that takes longer fails with `laneflow.Timeout`. */
  timeout?: Duration;
}

/** A step's handler written as a function. */
export type StepFunction<D> = StepDefinition<D>['run'];
/**
 * A decision's handler returns one of its diamond's labels. An `async` one marks its labels
 * `as const` (`async () => 'No' as const`): TypeScript 7 infers `Promise<string>` for an async
 * arrow whose expected result is `L | Promise<L>`.
 */
export type DecisionFunction<D, L extends string> = (context: HandlerContext<D>) => L | Promise<L>;

/** A step bound to a registered handler by name, a function, or either with options. */
export type StepBinding<F extends FlowShape, D> = string | StepFunction<D> | StepDefinition<D> | ({ handler: string | StepFunction<D> | StepDefinition<D> } & NodeOptions<F>);

/** Like a step's, but its function must return one of the diamond's labels. */
export type DecisionBinding<F extends FlowShape, D, L extends string> =
  | string
  | DecisionFunction<D, L>
  | DecisionDefinition<L, D>
  | ({ handler: string | DecisionFunction<D, L> | DecisionDefinition<L, D> } & NodeOptions<F>);

type LabelsFor<F extends FlowShape, Ids> = { [L in keyof F['labels']]: F['labels'][L] extends Ids ? L : never }[keyof F['labels']];
type DecisionKey<F extends FlowShape> = keyof F['decisions'] | LabelsFor<F, keyof F['decisions']>;
type ReturnLabels<F extends FlowShape, K> = K extends keyof F['decisions']
  ? F['decisions'][K]
  : K extends keyof F['labels']
    ? F['labels'][K] extends keyof F['decisions']
      ? F['decisions'][F['labels'][K]]
      : never
    : never;

/** Bindings keyed by node id or unique label; a key the flow does not have is a type error. */
export type NodeBindings<F extends FlowShape, D> = string extends keyof F['steps']
  ? Record<string, StepBinding<F, D> | DecisionBinding<F, D, string>>
  : {
      [K in keyof F['steps'] | keyof F['decisions'] | keyof F['labels']]?: K extends DecisionKey<F>
        ? DecisionBinding<F, D, Extract<ReturnLabels<F, K>, string>>
        : StepBinding<F, D>;
    };

/** What a binding module default-exports. */
export interface FlowBindings<F extends FlowShape = AnyFlow, D = JsonObject> {
  nodes: NodeBindings<F, D>;
  /** Handlers registered by name for this flow, beside the built-in packs. */
  handlers?: Record<string, HandlerDefinition>;
  packs?: HandlerPack[];
  /** Loop bound overrides by loop id or condition text. */
  loops?: { [K in F['loops']]?: number };
  defaults?: { retry?: RetryInput; timeout?: Duration };
}

/**
 * Declares a flow's bindings. With the flow's generated shape (`laneflow types`),
 * `defineBindings<PlanUpgradeFlow, PlanData>({ … })` makes `tsc` check every key and every
 * decision's labels.
 */
export function defineBindings<F extends FlowShape = AnyFlow, D = JsonObject>(bindings: FlowBindings<F, D>): FlowBindings<F, D> {
  return bindings;
}
