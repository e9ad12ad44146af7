import type { Json, JsonObject } from './types';

/**
 * Applies a JSON Merge Patch (RFC 7386) without touching either argument: objects merge key
 * by key, `null` deletes a key, anything else replaces.
 */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else if (isObject(value)) {
      const current = result[key];
      result[key] = mergePatch(current !== undefined && isObject(current) ? current : {}, value);
    } else {
      result[key] = value;
    }
  }
  return result;
}

function isObject(value: Json): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
