import { durationMs } from '../duration';
import type { Json, JsonObject } from '../types';

/**
 * How built-in handlers read a flow's data: each handler documents the fields it needs, and a
 * missing or mistyped one fails the step with a message that names the field, instead of a
 * TypeError deep inside a service.
 */
export class HandlerInputError extends Error {
  override name = 'HandlerInputError';
}

export function stringField(data: JsonObject, path: string): string {
  const value = fieldAt(data, path);
  if (typeof value !== 'string' || value.length === 0) throw new HandlerInputError(`the flow's data needs "${path}" as a non-empty string; it is ${describe(value)}`);
  return value;
}

export function optionalString(data: JsonObject, path: string): string | undefined {
  const value = fieldAt(data, path);
  return value === undefined || value === null ? undefined : stringField(data, path);
}

export function integerField(data: JsonObject, path: string): number {
  const value = fieldAt(data, path);
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new HandlerInputError(`the flow's data needs "${path}" as a whole number; it is ${describe(value)}`);
  return value;
}

export function optionalInteger(data: JsonObject, path: string): number | undefined {
  const value = fieldAt(data, path);
  return value === undefined || value === null ? undefined : integerField(data, path);
}

/** A duration field (`"7d"`, `"36h"`, or milliseconds), with a default when the data has none. */
export function durationField(data: JsonObject, path: string, fallback: string): number {
  const value = fieldAt(data, path) ?? fallback;
  const ms = typeof value === 'string' || typeof value === 'number' ? durationMs(value) : undefined;
  if (ms === undefined || ms <= 0) throw new HandlerInputError(`"${path}" must be a duration such as 7d, 36h or 90m; it is ${describe(value)}`);
  return ms;
}

export function objectField(data: JsonObject, path: string): JsonObject {
  const value = fieldAt(data, path);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HandlerInputError(`the flow's data needs "${path}" as an object; it is ${describe(value)}`);
  return value;
}

/** `a.b.c` in nested objects; undefined where the path runs out. */
function fieldAt(data: JsonObject, path: string): Json | undefined {
  let current: Json | undefined = data;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = current[part];
  }
  return current;
}

function describe(value: Json | undefined): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/** The From address of the emails a built-in pack queues: `LANEFLOW_<PACK>_EMAIL_FROM`, else `<pack>@laneflow.localhost`. */
export function senderAddress(pack: string): string {
  return process.env[`LANEFLOW_${pack.toUpperCase()}_EMAIL_FROM`] || `${pack}@laneflow.localhost`;
}

/**
 * A service's result as the flow's JSON. The packs declare their data as interfaces, which
 * TypeScript does not take for `Json` however plain they are; the round trip also drops
 * `undefined`s, as the journal would.
 */
export function toJson(value: object): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}
