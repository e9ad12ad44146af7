// What the server sends the page, as JSON. The page's scripts read exactly these shapes.
import type { Diagnostic } from '../../lib/diagnostics';
import type { RenderHighlight } from '../../render/index';
import type { JournalOutcome, Json, JsonObject, InstanceStatus, ErrorInfo } from '../../runtime/types';

export interface FlowListing {
  folder: string;
  flows: FlowSummary[];
}

export interface FlowSummary {
  name: string;
  errors: number;
  warnings: number;
  /** Set when the file could not be read as flow text. */
  problem?: string;
}

/** A text checked and, when it has no errors, drawn. */
export interface Preview {
  diagnostics: Diagnostic[];
  svg?: string;
  /** Set when the text is valid but the diagram could not be drawn. */
  renderError?: string;
  /** The compiled flow's content hash, to compare with an instance's. */
  version?: string;
  renderMs?: number;
}

/** A flow file as it is on disk, with its preview. */
export interface FlowDocument extends Preview {
  name: string;
  text: string;
  /** Hash of the text on disk: a save names it, so that another writer's change is not lost. */
  hash: string;
}

export interface SaveResult {
  hash: string;
}

export interface InstanceListing {
  database: string;
  /** False when there is no database file yet; nothing is created by looking. */
  exists: boolean;
  instances: InstanceSummary[];
}

export interface InstanceSummary {
  id: string;
  status: InstanceStatus;
  flowPath: string;
  flowVersion: string;
  createdAt: number;
  updatedAt: number;
  /** The nodes its tokens are on now. */
  at: string[];
  error?: ErrorInfo;
}

/** Where an instance went: what the page highlights, and its journal as a timeline. */
export interface InstanceTrail extends InstanceSummary {
  /** False when the flow has changed since the instance started: its path is drawn on the flow as it is now. */
  sameVersion: boolean;
  /** The edges its tokens took and the nodes they reached, for `renderSvg`. */
  highlight: RenderHighlight;
  /** Nodes a token waits on, and nodes it failed on, now. */
  current: string[];
  failed: string[];
  timeline: TimelineRow[];
  data: JsonObject;
}

export interface TimelineRow {
  at: number;
  node: string;
  label: string;
  lane: string;
  handler: string;
  attempt: number;
  outcome: JournalOutcome;
  detail: Json;
}

/** What the flow's scenarios (`laneflow test`) cover, run now. */
export interface FlowCoverage {
  /** The scenario file, relative to the flows folder. */
  scenarios: string;
  /** Covered edges as taken, uncovered ones as missed, reached nodes, for `renderSvg`. */
  highlight: RenderHighlight;
  edges: { covered: number; total: number };
}
