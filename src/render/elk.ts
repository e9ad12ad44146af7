// The only module that speaks elkjs's JSON. ELK's layered algorithm decides the columns (its
// layers) and the order of the nodes within each column (its crossing minimisation); the lanes
// are applied afterwards, by placing each column's nodes in their lanes' bands. ELK's own
// partitioning would do the lanes too, but it grows quadratically with the graph.
import type { ELK as ElkEngine, ElkNode } from 'elkjs/lib/elk-api';

/** A directed acyclic graph to be layered: the ids in a stable order, and edges source → target. */
export interface LayeringInput {
  nodes: readonly string[];
  edges: ReadonlyArray<readonly [string, string]>;
}

/** Columns left to right, each listing its node ids top to bottom in ELK's order. */
export type Columns = string[][];

// Every node gets the same size, so the nodes of one layer share one x and the layers can be
// read back from the coordinates.
const NODE_SIZE = 10;

/**
 * Crossing minimisation repeats its sweeps `thoroughness` times: worth it on a diagram a person
 * reads node by node, too slow on hundreds of nodes, where one pass already orders well.
 */
const THOROUGH_UP_TO_NODES = 200;

const LAYOUT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.separateConnectedComponents': 'false',
  'elk.edgeRouting': 'POLYLINE',
  'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
  'elk.layered.nodePlacement.strategy': 'SIMPLE',
  'elk.randomSeed': '1',
};

let engine: ElkEngine | undefined;
let saveCodeCache: (() => void) | undefined;

/**
 * Gives the layout an ELK that is already loaded: the start-up snapshot bundles ELK into its
 * heap, where the code-cache loader below could not run.
 */
export function provideElk(ELK: new () => ElkEngine): void {
  engine = new ELK();
}

async function loadEngine(): Promise<ElkEngine> {
  // Loaded on first use: `laneflow check` and the runtime never pay for it.
  if (engine === undefined) {
    const { default: ELK } = await loadElkWithCodeCache();
    engine = new ELK();
  }
  return engine;
}

/**
 * ELK is 1.6 MB of generated JavaScript: compiling it is much of a short render's time. Node 20
 * has no module compile cache, so the bundle is compiled through `vm.Script` with V8's code
 * cache, kept in node_modules/.cache/laneflow (or the temporary folder) after the first layout,
 * when it also holds the functions that layout compiled. V8 checks the cache against the source
 * and its own version and ignores a stale one, which is then replaced.
 */
async function loadElkWithCodeCache(): Promise<{ default: new () => ElkEngine }> {
  const [{ createRequire }, fs, path, vm, os] = await Promise.all([
    import('node:module'),
    import('node:fs'),
    import('node:path'),
    import('node:vm'),
    import('node:os'),
  ]);
  const require = createRequire(import.meta.url);
  const file = require.resolve('elkjs/lib/elk.bundled.js');
  const source = fs.readFileSync(file, 'utf8');
  const packageFolder = path.dirname(path.dirname(file));
  const nodeModules = path.dirname(packageFolder);
  const cacheFolder = path.basename(nodeModules) === 'node_modules' ? path.join(nodeModules, '.cache', 'laneflow') : path.join(os.tmpdir(), 'laneflow-cache');
  const { version } = require(path.join(packageFolder, 'package.json')) as { version: string };
  const cacheFile = path.join(cacheFolder, `elk-${version}-${process.version}-${process.arch}.v8cache`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(`(function (exports, require, module) {${source}\n})`, { filename: file, ...(cachedData && { cachedData }) });
  const module = { exports: {} as { default: new () => ElkEngine } };
  (script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object) => void)(module.exports, require, module);
  if (cachedData === undefined || script.cachedDataRejected === true) {
    saveCodeCache = () => {
      // A cache is an optimisation: a read-only or full disk just means compiling next time too.
      try {
        fs.mkdirSync(cacheFolder, { recursive: true });
        const temporary = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(temporary, script.createCachedData());
        fs.renameSync(temporary, cacheFile);
      } catch {
        return;
      }
    };
  }
  return module.exports;
}

export async function layerColumns(input: LayeringInput): Promise<Columns> {
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: { ...LAYOUT_OPTIONS, 'elk.layered.thoroughness': input.nodes.length <= THOROUGH_UP_TO_NODES ? '4' : '1' },
    children: input.nodes.map((id) => ({ id, width: NODE_SIZE, height: NODE_SIZE })),
    edges: input.edges.map(([source, target], index) => ({ id: `e${index}`, sources: [source], targets: [target] })),
  };
  const laidOut = await (await loadEngine()).layout(graph);
  saveCodeCache?.();
  saveCodeCache = undefined;
  const positioned = (laidOut.children ?? []).map((child, order) => ({
    id: child.id,
    x: child.x ?? 0,
    y: child.y ?? 0,
    order,
  }));
  const xs = [...new Set(positioned.map((node) => node.x))].sort((a, b) => a - b);
  const columnOf = new Map(xs.map((x, index) => [x, index]));
  const columns: Columns = xs.map(() => []);
  positioned
    .sort((a, b) => a.y - b.y || a.order - b.order)
    .forEach((node) => columns[columnOf.get(node.x)!]!.push(node.id));
  return columns;
}
