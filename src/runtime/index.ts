export { Engine, type EngineOptions, type DeployResult, type StartOptions, type InstanceDetails } from './engine';
export { begin, transition, nextWake, ENGINE_ERRORS } from './core';
export { wallClock, VirtualClock, type Clock } from './clock';
export { HandlerRegistry } from './registry';
export { BUILTIN_PACKS, type PackEnvironment, type PackFactory } from './builtins';
export { defineBindings, defineStep, defineDecision, definePack } from './define';
export type * from './define';
export type * from './types';
