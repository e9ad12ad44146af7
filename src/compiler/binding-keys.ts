import { readFileSync } from 'node:fs';
import type { Position, Range } from '../lib/diagnostics';

/**
 * Where a binding module writes its keys, found in its TypeScript source text, so a binding
 * diagnostic can point at the key rather than at the flow. The module is not parsed in full:
 * a tokenizer that knows comments, strings, template literals and regular expressions finds
 * every `nodes: { … }` object, and the keys at its top level (`n9:`, `'Charge card':`,
 * `"Wait": …`, methods and shorthands). Nothing inside a comment, a string or a nested object
 * is taken for a key.
 */
export interface BindingKeyLocations {
  /** Each key of a `nodes` object (or the object asked for), as the module's object will have it, with its range. */
  keys: Map<string, Range[]>;
  /** The first `nodes:` (or `loops:`) itself: where to point for a key that comes from elsewhere, such as a spread. */
  object?: Range;
}

/** The key locations of a binding module file, or undefined when it cannot be read (no module, a name in place of a path). */
export function bindingKeysOfFile(path: string, object: 'nodes' | 'loops' = 'nodes'): BindingKeyLocations | undefined {
  try {
    return bindingKeyLocations(readFileSync(path, 'utf8'), object);
  } catch {
    return undefined;
  }
}

interface Token {
  kind: 'name' | 'string' | 'number' | 'punct' | 'template' | 'regex';
  /** For a name or number its text; for a string its value; for punctuation the characters. */
  value: string;
  start: number;
  end: number;
}

export function bindingKeyLocations(text: string, object: 'nodes' | 'loops' = 'nodes'): BindingKeyLocations {
  const tokens = tokenize(text);
  const at = lineIndex(text);
  const range = (token: Token): Range => ({ start: at(token.start), end: at(token.end) });
  const keys = new Map<string, Range[]>();
  let objectAt: Range | undefined;
  tokens.forEach((token, index) => {
    if (!isKeyToken(token) || token.value !== object || !isKeyPosition(tokens, index)) return;
    if (tokens[index + 1]?.value !== ':' || tokens[index + 2]?.value !== '{') return;
    objectAt ??= range(token);
    for (const key of topLevelKeys(tokens, index + 2).map((at) => tokens[at]!)) keys.set(key.value, [...(keys.get(key.value) ?? []), range(key)]);
  });
  return { keys, ...(objectAt !== undefined && { object: objectAt }) };
}

/** A `catch:` route as a binding module writes it, read from its text without running it. */
export interface WrittenCatchRoute {
  /** The `nodes` key whose binding has the route: a node id or label. */
  key: string;
  /** The target node's id or label; absent when it is not written as a string. */
  next?: string;
  /** The error names it catches, when each is written as a string; absent for every error. */
  errorEquals?: string[];
  /** Where `catch` is written. */
  range: Range;
}

/**
 * The catch routes of a binding module's `nodes`, read from its text: `catch: 'n18'`,
 * `catch: { next: …, errorEquals: [...] }` or a list of those. Reading the text rather than
 * loading the module keeps drawing a flow from running its binding module's imports.
 */
export function catchRoutesInSource(text: string): WrittenCatchRoute[] {
  const tokens = tokenize(text);
  const at = lineIndex(text);
  const routes: WrittenCatchRoute[] = [];
  tokens.forEach((token, index) => {
    if (!isKeyToken(token) || token.value !== 'nodes' || !isKeyPosition(tokens, index)) return;
    if (tokens[index + 1]?.value !== ':' || tokens[index + 2]?.value !== '{') return;
    for (const keyAt of topLevelKeys(tokens, index + 2)) {
      const binding = valueAfter(tokens, keyAt);
      if (tokens[binding]?.value !== '{') continue;
      const catchAt = topLevelKeys(tokens, binding).find((i) => tokens[i]!.value === 'catch');
      if (catchAt === undefined) continue;
      const range = { start: at(tokens[catchAt]!.start), end: at(tokens[catchAt]!.end) };
      for (const route of routesAt(tokens, valueAfter(tokens, catchAt))) routes.push({ key: tokens[keyAt]!.value, ...route, range });
    }
  });
  return routes;
}

/** The index of the first token of a property's value (`key: value`); -1 for a method or shorthand. */
function valueAfter(tokens: readonly Token[], keyAt: number): number {
  return tokens[keyAt + 1]?.value === ':' ? keyAt + 2 : -1;
}

function routesAt(tokens: readonly Token[], at: number): { next?: string; errorEquals?: string[] }[] {
  const token = tokens[at];
  if (token === undefined) return [];
  if (token.kind === 'string') return [{ next: token.value }];
  if (token.value === '{') return [routeObject(tokens, at)];
  if (token.value === '[') return elementsOf(tokens, at).flatMap((element) => (tokens[element]?.value === '{' ? [routeObject(tokens, element)] : [{}]));
  return [{}];
}

function routeObject(tokens: readonly Token[], open: number): { next?: string; errorEquals?: string[] } {
  const route: { next?: string; errorEquals?: string[] } = {};
  for (const keyAt of topLevelKeys(tokens, open)) {
    const value = valueAfter(tokens, keyAt);
    const first = tokens[value];
    if (first === undefined) continue;
    if (tokens[keyAt]!.value === 'next' && first.kind === 'string' && isValueEnd(tokens[value + 1])) route.next = first.value;
    if (tokens[keyAt]!.value === 'errorEquals' && first.value === '[') {
      const names = elementsOf(tokens, value).map((element) => (tokens[element]!.kind === 'string' && isValueEnd(tokens[element + 1]) ? tokens[element]!.value : undefined));
      if (names.every((name) => name !== undefined)) route.errorEquals = names as string[];
    }
  }
  return route;
}

/** True after a whole value: the next token ends it (`,`, `}` or `]`). */
function isValueEnd(token: Token | undefined): boolean {
  return token !== undefined && [',', '}', ']'].includes(token.value);
}

/** The first token of each element of the array literal whose `[` is `tokens[open]`. */
function elementsOf(tokens: readonly Token[], open: number): number[] {
  const elements: number[] = [];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const token = tokens[i]!;
    // An element starts right after the `[` or a `,` of this array, before any bracket it opens counts.
    if (depth === 1 && (i - 1 === open || tokens[i - 1]!.value === ',') && token.value !== ']') elements.push(i);
    if (token.kind === 'punct' && '{(['.includes(token.value)) depth++;
    else if (token.kind === 'punct' && '})]'.includes(token.value)) {
      depth--;
      if (depth === 0) break;
    }
  }
  return elements;
}

/** The indexes of the keys written at the top level of the object literal whose `{` is `tokens[open]`. */
function topLevelKeys(tokens: readonly Token[], open: number): number[] {
  const keys: number[] = [];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'punct' && '{(['.includes(token.value)) depth++;
    else if (token.kind === 'punct' && '})]'.includes(token.value)) {
      depth--;
      if (depth === 0) break;
    }
    if (depth !== 1 || !(tokens[i - 1]?.value === '{' || tokens[i - 1]?.value === ',') || i - 1 < open) continue;
    let key = i;
    // `async 'Wait a day'(ctx) { … }`, `get n9() { … }`: a modifier before the key.
    if (token.kind === 'name' && ['async', 'get', 'set'].includes(token.value) && tokens[i + 1] !== undefined && isKeyToken(tokens[i + 1]!)) key = i + 1;
    const next = tokens[key + 1];
    if (!isKeyToken(tokens[key]!)) continue;
    if (next !== undefined && [':', '(', '<', ',', '}', '?'].includes(next.value)) keys.push(key);
  }
  return keys;
}

/** A token that can name a property: `n9`, `'Charge card'`, `1`. */
function isKeyToken(token: Token): boolean {
  return token.kind === 'name' || token.kind === 'string' || token.kind === 'number';
}

/** True when the token begins a property of an object literal: after `{` or `,`. */
function isKeyPosition(tokens: readonly Token[], index: number): boolean {
  const before = tokens[index - 1];
  return before !== undefined && (before.value === '{' || before.value === ',');
}

/** After these, a `/` begins a regular expression rather than dividing. */
const BEFORE_REGEX_WORDS = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'instanceof', 'new', 'delete', 'void', 'throw', 'yield', 'await']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  /** For each open `${` of a template literal, the brace depth at which it closes. */
  const templates: number[] = [];
  let braces = 0;
  let i = 0;
  const push = (kind: Token['kind'], value: string, start: number) => tokens.push({ kind, value, start, end: i });
  while (i < text.length) {
    const char = text[i]!;
    const start = i;
    if (/\s/.test(char)) {
      i++;
    } else if (text.startsWith('//', i)) {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (char === '"' || char === "'") {
      push('string', readString(text, char), start);
    } else if (char === '`' || (char === '}' && templates.at(-1) === braces)) {
      // A template literal, or its continuation after a `${ … }` closes.
      if (char === '}') {
        templates.pop();
        braces--;
      }
      i++;
      for (; i < text.length; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '`') {
          i++;
          break;
        } else if (text.startsWith('${', i)) {
          i += 2;
          templates.push(++braces);
          break;
        }
      }
      push('template', '', start);
    } else if (/[A-Za-z_$\u0080-\uffff]/.test(char)) {
      while (i < text.length && /[\w$\u0080-\uffff]/.test(text[i]!)) i++;
      push('name', text.slice(start, i), start);
    } else if (/\d/.test(char) || (char === '.' && /\d/.test(text[i + 1] ?? ''))) {
      while (i < text.length && /[\w.]/.test(text[i]!)) i++;
      push('number', String(Number(text.slice(start, i).replace(/_/g, ''))), start);
    } else if (char === '/' && regexMayStart(tokens.at(-1))) {
      i = regexEnd(text, i);
      push('regex', '', start);
    } else {
      if (char === '{') braces++;
      else if (char === '}') braces--;
      const spread = text.startsWith('...', i) ? '...' : text.startsWith('=>', i) ? '=>' : char;
      i += spread.length;
      push('punct', spread, start);
    }
  }
  return tokens;

  function readString(source: string, quote: string): string {
    let value = '';
    i++;
    while (i < source.length && source[i] !== quote && source[i] !== '\n') {
      if (source[i] === '\\') {
        const [decoded, length] = escape(source, i + 1);
        value += decoded;
        i += 1 + length;
      } else value += source[i++];
    }
    i++;
    return value;
  }
}

/** One escape sequence after a backslash: what it stands for and how many characters it takes. */
function escape(text: string, at: number): [string, number] {
  const char = text[at] ?? '';
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };
  if (char in simple) return [simple[char]!, 1];
  if (char === 'x') return [String.fromCharCode(parseInt(text.slice(at + 1, at + 3), 16)), 3];
  if (char === 'u' && text[at + 1] === '{') {
    const close = text.indexOf('}', at);
    return [String.fromCodePoint(parseInt(text.slice(at + 2, close), 16)), close - at + 1];
  }
  if (char === 'u') return [String.fromCharCode(parseInt(text.slice(at + 1, at + 5), 16)), 5];
  if (char === '\r' && text[at + 1] === '\n') return ['', 2];
  if (char === '\n' || char === '\r') return ['', 1];
  return [char, 1];
}

function regexMayStart(previous: Token | undefined): boolean {
  if (previous === undefined) return true;
  if (previous.kind === 'name') return BEFORE_REGEX_WORDS.has(previous.value);
  if (previous.kind === 'punct') return ![')', ']', '}'].includes(previous.value);
  return false;
}

/** The index after a regular expression literal's flags. */
function regexEnd(text: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  for (; i < text.length && text[i] !== '\n'; i++) {
    const char = text[i];
    if (char === '\\') i++;
    else if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    else if (char === '/' && !inClass) {
      i++;
      break;
    }
  }
  while (i < text.length && /[a-z]/.test(text[i]!)) i++;
  return i;
}

/** Offsets to 1-based lines and columns. */
function lineIndex(text: string): (offset: number) => Position {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - starts[low]! + 1, offset };
  };
}
