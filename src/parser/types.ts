import type { Diagnostic, Range } from '../lib/diagnostics';

/**
 * The syntax tree of a .flow file. It records what was written, lenient variants included,
 * without judging it: the validator in src/compiler decides what is wrong.
 * Every element carries its source range; `comments` are the `//` lines just above it (and the
 * `#` lines, outside the lanes), their text without the marker.
 */
export interface FlowFile {
  path: string;
  lanes: Lane[];
  /** Nodes written outside any lane: kept so references resolve, reported by the validator. */
  nodes: NodeDecl[];
  /** Edges written after (or between) the lanes, at top level. */
  edges: Edge[];
  /** Loops written at top level. */
  loops: Loop[];
  /** Comment lines after the last statement. */
  trailingComments: string[];
  range: Range;
}

export interface Lane {
  id: string;
  idRange: Range;
  /** The `# text` display label, trimmed; absent when the lane has none. */
  label?: string;
  labelRange?: Range;
  nodes: NodeDecl[];
  edges: Edge[];
  loops: Loop[];
  comments: string[];
  /** Comment lines after the lane's last statement, before its `}`. */
  trailingComments: string[];
  /** From the lane id to its closing brace (or its last line when unclosed). */
  range: Range;
}

export interface NodeDecl {
  id: string;
  idRange: Range;
  /** As written; the validator checks it is one of the four shapes. */
  shape: string;
  shapeRange: Range;
  attributes: Attribute[];
  comments: string[];
  range: Range;
}

export interface Attribute {
  key: string;
  keyRange: Range;
  /** The unescaped value. */
  value: string;
  valueRange: Range;
}

export interface Edge {
  from: EdgeEnd;
  to: EdgeEnd;
  /** Attributes inside `[...]`; `label` is the usual one. Absent when there is no bracket. */
  attributes?: Attribute[];
  comments: string[];
  range: Range;
}

export interface EdgeEnd extends NodeRef {
  /** The side inside `handle(...)`, as written; absent for a bare `n1 -> n2` edge. */
  side?: string;
  sideRange?: Range;
}

/** A node reference, `n4` or `Billing.n4`. */
export interface NodeRef {
  /** The `Lane.` prefix, when written. */
  lane?: { id: string; range: Range };
  node: string;
  nodeRange: Range;
  range: Range;
}

export interface Loop {
  /** The text inside `[...]`, trimmed. */
  condition: string;
  conditionRange: Range;
  members: NodeRef[];
  comments: string[];
  range: Range;
}

export interface ParseResult {
  ast: FlowFile;
  diagnostics: Diagnostic[];
}
