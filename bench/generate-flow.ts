// Generates large, valid .flow diagrams for benchmarks and tests, and the same graph as a
// mermaid flowchart so a peer parser can be timed on equivalent input.
import type { Shape, Side } from '../src/compiler/types';

export interface GenerateFlowOptions {
  lanes: number;
  nodes: number;
  edges: number;
  /** Loops to declare, at most one per lane; defaults to one per lane that has room. */
  loops?: number;
  /** Same seed, same graph. */
  seed?: number;
}

export interface GeneratedNode {
  id: string;
  lane: string;
  shape: Shape;
  label: string;
  owner?: string;
  description?: string;
  system?: string;
}

export interface GeneratedEdge {
  from: string;
  fromSide: Side;
  to: string;
  toSide: Side;
  label?: string;
}

export interface GeneratedLoop {
  condition: string;
  nodes: string[];
}

export interface GeneratedLane {
  id: string;
  label: string;
  nodes: GeneratedNode[];
}

/** A flow as plain data: lanes in order, each holding its nodes in declaration order. */
export interface GeneratedGraph {
  lanes: GeneratedLane[];
  edges: GeneratedEdge[];
  loops: GeneratedLoop[];
}

const LANE_NAMES: [id: string, label: string][] = [
  ['Customer', 'Customer'],
  ['Sales', 'Sales Team'],
  ['PricingEngine', 'Pricing Engine'],
  ['Billing', 'Billing System'],
  ['Fulfilment', 'Order Fulfilment'],
  ['Warehouse', 'Warehouse'],
  ['Shipping', 'Shipping Partner'],
  ['Support', 'Customer Support'],
  ['Finance', 'Finance'],
  ['Compliance', 'Compliance Office'],
];
const VERBS = ['Validate', 'Review', 'Approve', 'Calculate', 'Send', 'Prepare', 'Check', 'Update', 'Log', 'Notify', 'Fetch', 'Archive', 'Route', 'Score', 'Reconcile'];
const OBJECTS = ['payment method', 'order details', 'invoice', 'customer record', 'shipping label', 'refund request', 'credit limit', 'inventory level', 'support ticket', 'contract terms', 'tax rate', 'delivery slot'];
const QUESTIONS = ['valid?', 'approved?', 'complete?', 'in stock?', 'over the limit?', 'overdue?'];
const MILESTONES = ['Order placed', 'Payment received', 'Goods shipped', 'Case opened', 'Month closed'];
const OWNERS = ['Dev Team', 'Ops Team', 'Finance Desk', 'Account Manager', 'Legal', 'Tier 2 Support'];
const SYSTEMS = ['Salesforce', 'Stripe', 'SAP', 'Zendesk', 'GitHub'];
const EDGE_LABELS = ['Submit', 'Notify', 'Escalate', 'Approved', 'Hand off', 'Sync', 'Request data', 'Confirm'];
/** Labels of a decision's outgoing edges, in the order they are used: each is unique per decision. */
const BRANCH_LABELS = ['Yes', 'No', 'Retry', 'Escalate', 'Defer'];

const DIAMOND_SHARE = 0.1;
const TASKBOX_SHARE = 0.25;
const MILESTONE_SHARE = 0.03;
const CROSS_LANE_SHARE = 0.35;
const EXTRA_LABEL_SHARE = 0.3;

/**
 * A deterministic flow with exactly the requested numbers of lanes, nodes, edges and loops,
 * which checks without errors or warnings: node ids n1..nN in declaration order, one start
 * circle, an end circle closing each lane, every node reachable, every decision with two or
 * more uniquely labelled branches, cross-lane targets lane-prefixed.
 */
export function generateGraph(options: GenerateFlowOptions): GeneratedGraph {
  const { lanes: laneCount, nodes: nodeCount, edges: edgeCount } = options;
  if (!Number.isInteger(laneCount) || laneCount < 1) throw new RangeError('a generated flow needs at least one lane');
  if (!Number.isInteger(nodeCount) || nodeCount < 2 * laneCount) {
    throw new RangeError(`${laneCount} lanes need at least ${2 * laneCount} nodes (a first and an end circle each)`);
  }
  // Each lane is a chain, and each lane after the first is entered from the one before it.
  const requiredEdges = nodeCount - 1;
  if (!Number.isInteger(edgeCount) || edgeCount < requiredEdges) {
    throw new RangeError(`${nodeCount} nodes in ${laneCount} lanes need at least ${requiredEdges} edges to stay connected`);
  }
  const random = mulberry32(options.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

  const lanes = declareLanes(laneCount, nodeCount);
  const roomForLoops = lanes.filter((lane) => lane.nodes.length >= 4).length;
  const loopCount = Math.min(options.loops ?? roomForLoops, roomForLoops, edgeCount - requiredEdges);
  // Every decision costs one edge beyond the chain (its second branch): keep them within budget.
  const maxDiamonds = edgeCount - requiredEdges - loopCount;
  let diamonds = 0;
  for (const [laneIndex, lane] of lanes.entries()) {
    for (const [position, node] of lane.nodes.entries()) {
      const isStart = laneIndex === 0 && position === 0;
      const isEnd = position === lane.nodes.length - 1;
      if (isStart || isEnd) {
        node.shape = 'circle';
        node.label = isStart ? 'Start' : 'End';
        continue;
      }
      const roll = random();
      if (roll < DIAMOND_SHARE && diamonds < maxDiamonds) {
        diamonds++;
        node.shape = 'diamond';
        node.label = `${capitalize(pick(OBJECTS))} ${pick(QUESTIONS)}`;
      } else if (roll < DIAMOND_SHARE + MILESTONE_SHARE) {
        node.shape = 'circle';
        node.label = pick(MILESTONES);
      } else if (roll < DIAMOND_SHARE + MILESTONE_SHARE + TASKBOX_SHARE) {
        node.shape = 'taskbox';
        node.label = `${pick(VERBS)} ${pick(OBJECTS)}`;
        node.owner = pick(OWNERS);
        node.description = `${pick(VERBS)} the ${pick(OBJECTS)} for ${node.owner}`;
        if (random() < 0.5) node.system = pick(SYSTEMS);
      } else {
        node.label = `${pick(VERBS)} ${pick(OBJECTS)}`;
      }
    }
  }

  const edges = new EdgeSet(lanes);
  for (const lane of lanes) {
    for (let i = 0; i + 1 < lane.nodes.length; i++) {
      const from = lane.nodes[i]!;
      edges.add(from, 'right', lane.nodes[i + 1]!, 'left', edges.labelFor(from, random() < 0.1 ? pick(EDGE_LABELS) : undefined));
    }
  }
  for (let k = 1; k < lanes.length; k++) {
    const previous = lanes[k - 1]!.nodes;
    const from = previous[Math.floor(random() * (previous.length - 1))]!;
    edges.add(from, 'bottom', lanes[k]!.nodes[0]!, 'top', edges.labelFor(from, 'Hand off'));
  }
  const loops: GeneratedLoop[] = [];
  for (const lane of lanes.filter((l) => l.nodes.length >= 4).slice(0, loopCount)) {
    // Two or three consecutive nodes strictly inside the lane, closed by an edge back to the first.
    const inner = lane.nodes.length - 2;
    const size = Math.min(3, inner);
    const first = 1 + Math.floor(random() * (inner - size + 1));
    const members = lane.nodes.slice(first, first + size);
    const bound = 2 + Math.floor(random() * 4);
    loops.push({ condition: `retry up to ${bound} times`, nodes: members.map((n) => n.id) });
    const last = members[members.length - 1]!;
    edges.add(last, 'top', members[0]!, 'top', edges.labelFor(last, 'Retry'));
  }
  // A random draw can repeat an existing pair, so each edge below may take a few draws.
  const draws = { left: 100 * edgeCount };
  const drawUntilAdded = (from: () => GeneratedNode) => {
    while (!edges.addRandom(from(), random, pick)) {
      if (--draws.left === 0) throw new RangeError(`could not place ${edgeCount} distinct edges among ${nodeCount} nodes`);
    }
  };
  for (const node of lanes.flatMap((lane) => lane.nodes).filter((n) => n.shape === 'diamond')) {
    drawUntilAdded(() => node);
  }
  // Extra edges leave any node but an end circle and never enter the start circle.
  const sources = lanes.flatMap((lane) => lane.nodes.slice(0, -1));
  while (edges.size < edgeCount) drawUntilAdded(() => pick(sources));
  return { lanes, edges: edges.inDeclarationOrder(), loops };
}

/** The graph as .flow source: nodes, then edges leaving the lane's nodes, then its loop. */
export function toFlowSource(graph: GeneratedGraph): string {
  const laneOf = new Map(graph.lanes.flatMap((lane) => lane.nodes.map((n) => [n.id, lane.id] as const)));
  const loopOfLane = new Map(graph.loops.map((loop) => [laneOf.get(loop.nodes[0]!)!, loop]));
  const out: string[] = [];
  for (const lane of graph.lanes) {
    if (out.length > 0) out.push('');
    out.push(`${lane.id} { # ${lane.label}`);
    for (const node of lane.nodes) {
      const attributes = [['label', node.label], ['owner', node.owner], ['description', node.description], ['system', node.system]]
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}:${quote(value!)}`);
      out.push(`  ${node.id}: ${node.shape} ${attributes.join(' ')}`);
    }
    out.push('');
    for (const edge of graph.edges.filter((e) => laneOf.get(e.from) === lane.id)) {
      const target = laneOf.get(edge.to) === lane.id ? edge.to : `${laneOf.get(edge.to)}.${edge.to}`;
      const label = edge.label === undefined ? '' : ` [label=${quote(edge.label)}]`;
      out.push(`  ${edge.from}.handle(${edge.fromSide}) -> ${target}.handle(${edge.toSide})${label}`);
    }
    const loop = loopOfLane.get(lane.id);
    if (loop !== undefined) out.push('', `  loop [${loop.condition}] ${loop.nodes.join(' ')}`);
    out.push('}');
  }
  return out.join('\n') + '\n';
}

/**
 * The same graph as a mermaid flowchart: a subgraph per lane, the same node ids, labels and
 * shapes (a taskbox is a rectangle whose text carries owner and description), the same edges
 * and labels. Mermaid has no handles and no loop groups; a loop's closing edge is kept.
 */
export function toMermaidSource(graph: GeneratedGraph): string {
  const out = ['flowchart LR'];
  for (const lane of graph.lanes) {
    out.push(`  subgraph ${lane.id} ["${lane.label}"]`);
    for (const node of lane.nodes) out.push(`    ${node.id}${mermaidShape(node)}`);
    out.push('  end');
  }
  for (const edge of graph.edges) {
    out.push(`  ${edge.from} -->${edge.label === undefined ? '' : `|${edge.label}|`} ${edge.to}`);
  }
  return out.join('\n') + '\n';
}

function mermaidShape(node: GeneratedNode): string {
  switch (node.shape) {
    case 'circle':
      return `(("${node.label}"))`;
    case 'diamond':
      return `{"${node.label}"}`;
    case 'taskbox':
      return `["${node.label} (${node.owner}: ${node.description}${node.system === undefined ? '' : `, ${node.system}`})"]`;
    case 'rectangle':
      return `["${node.label}"]`;
  }
}

function declareLanes(laneCount: number, nodeCount: number): GeneratedLane[] {
  const lanes: GeneratedLane[] = [];
  let next = 1;
  for (let k = 0; k < laneCount; k++) {
    const [name, label] = LANE_NAMES[k % LANE_NAMES.length]!;
    const round = Math.floor(k / LANE_NAMES.length);
    const id = round === 0 ? name : `${name}${round + 1}`;
    const size = Math.floor(nodeCount / laneCount) + (k < nodeCount % laneCount ? 1 : 0);
    const nodes: GeneratedNode[] = [];
    for (let i = 0; i < size; i++) nodes.push({ id: `n${next++}`, lane: id, shape: 'rectangle', label: '' });
    lanes.push({ id, label: round === 0 ? label : `${label} ${round + 1}`, nodes });
  }
  return lanes;
}

/** Edges without repeated node pairs, labelling a decision's branches uniquely. */
class EdgeSet {
  private readonly edges: GeneratedEdge[] = [];
  private readonly pairs = new Set<string>();
  private readonly branchCount = new Map<string, number>();
  private readonly laneIndex: Map<string, number>;
  private readonly byLane: GeneratedNode[][];
  private readonly targets: GeneratedNode[];

  constructor(lanes: GeneratedLane[]) {
    this.laneIndex = new Map(lanes.flatMap((lane, k) => lane.nodes.map((n) => [n.id, k] as const)));
    // The start circle (first node of the first lane) must keep no incoming edge.
    this.byLane = lanes.map((lane, k) => (k === 0 ? lane.nodes.slice(1) : lane.nodes));
    this.targets = this.byLane.flat();
  }

  get size(): number {
    return this.edges.length;
  }

  /** The label an edge from `from` gets: a decision's next branch name, else `wanted`. */
  labelFor(from: GeneratedNode, wanted: string | undefined): string | undefined {
    if (from.shape !== 'diamond') return wanted;
    const count = this.branchCount.get(from.id) ?? 0;
    this.branchCount.set(from.id, count + 1);
    return BRANCH_LABELS[count] ?? `Option ${count + 1}`;
  }

  add(from: GeneratedNode, fromSide: Side, to: GeneratedNode, toSide: Side, label: string | undefined): boolean {
    const pair = `${from.id}->${to.id}`;
    if (from === to || this.pairs.has(pair)) return false;
    this.pairs.add(pair);
    this.edges.push({ from: from.id, fromSide, to: to.id, toSide, ...(label !== undefined && { label }) });
    return true;
  }

  /** One edge from `from` to a random node, in its own lane or (sometimes) another. */
  addRandom(from: GeneratedNode, random: () => number, pick: <T>(items: readonly T[]) => T): boolean {
    const own = this.laneIndex.get(from.id)!;
    const to = random() < CROSS_LANE_SHARE ? pick(this.targets) : pick(this.byLane[own]!);
    if (to === undefined || to === from || this.pairs.has(`${from.id}->${to.id}`)) return false;
    const other = this.laneIndex.get(to.id)!;
    const [fromSide, toSide]: [Side, Side] = other === own ? ['bottom', 'bottom'] : other > own ? ['bottom', 'top'] : ['top', 'bottom'];
    const label = this.labelFor(from, random() < EXTRA_LABEL_SHARE ? pick(EDGE_LABELS) : undefined);
    return this.add(from, fromSide, to, toSide, label);
  }

  /** Edges sorted by source node, keeping insertion order for one source. */
  inDeclarationOrder(): GeneratedEdge[] {
    const order = (id: string) => Number(id.slice(1));
    return this.edges.map((edge, index) => ({ edge, index }))
      .sort((a, b) => order(a.edge.from) - order(b.edge.from) || a.index - b.index)
      .map(({ edge }) => edge);
  }
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A small seeded PRNG (mulberry32): the same seed always yields the same graph. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
