import type { NodeKind, Shape, Side } from '../compiler/types';

/**
 * A flow laid out for drawing: every box, line and text position decided, in SVG user units
 * (pixels), origin at the top left. Plain JSON. The SVG writer consumes only this, so a layout
 * change and a drawing change show up as separate golden diffs.
 */
export interface LaidOutDiagram {
  /** What the diagram is called: the flow file's name without its folder and extension. */
  title: string;
  width: number;
  height: number;
  /** One band per lane, top to bottom in file order, each as wide as the diagram. */
  lanes: LaidOutLane[];
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  loops: LaidOutLoop[];
}

export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One line of text, measured: `box` is the line's extent, its text centred in it. */
export interface TextLine {
  text: string;
  box: Rect;
  fontSize: number;
  /** What the line says, so the writer can style it. */
  role: TextRole;
}

export type TextRole = 'lane' | 'label' | 'item' | 'owner' | 'description' | 'system' | 'edge' | 'loop';

export interface LaidOutLane {
  id: string;
  label: string;
  /** The whole band, header included. */
  band: Rect;
  /** The header column at the band's left, holding the display label. */
  header: Rect;
  lines: TextLine[];
}

export interface LaidOutNode {
  id: string;
  lane: string;
  shape: Shape;
  kind: NodeKind;
  /** The bounding box of the shape (a circle's square, a diamond's extent). */
  box: Rect;
  lines: TextLine[];
}

export interface LaidOutEdgeEnd {
  node: string;
  side: Side;
}

export interface LaidOutEdge {
  id: string;
  from: LaidOutEdgeEnd;
  to: LaidOutEdgeEnd;
  /**
   * The orthogonal route: the first point is on the source's named side, the last on the
   * target's named side; consecutive points share an x or a y. The arrowhead is at the end.
   */
  points: Point[];
  label?: PlacedLabel;
}

/** A label placed on its own: its text, the box it occupies and its measured lines. */
export interface PlacedLabel {
  text: string;
  box: Rect;
  lines: TextLine[];
}

export interface LaidOutLoop {
  id: string;
  condition: string;
  /** The member nodes, in the order the loop lists them. */
  nodes: string[];
  /**
   * Dashed frames drawn around the members: one around them all when they share a lane and
   * enclose no other node, else one marker per member.
   */
  frames: Rect[];
  /** The loop's text, beside the first frame. */
  label: PlacedLabel;
}
