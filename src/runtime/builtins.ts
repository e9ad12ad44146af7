import type { HandlerPack } from './define';

/**
 * Packs every engine registers before a flow's own handlers, so binding modules can name their
 * handlers without importing them.
 */
export const BUILTIN_PACKS: readonly HandlerPack[] = [];
