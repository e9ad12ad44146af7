// The entry of the CLI's V8 start-up snapshot (see scripts/snapshot.mjs and bin/laneflow). At
// build time it loads the CLI, the parser and the renderer with ELK bundled in, and renders a
// sample flow, so that the snapshot's heap holds them loaded, initialised and compiled. A
// process started from the snapshot skips all of that and runs `main` on its own arguments.
import ELK from 'elkjs/lib/elk.bundled.js';
import { resolve } from 'node:path';
import { startupSnapshot } from 'node:v8';
import { checkSource } from '../compiler/check-source';
import { format } from '../parser/format';
import { provideElk } from '../render/elk';
import { layout, renderSvg } from '../render/index';
import { main } from './main';
import { SNAPSHOT_SAMPLE } from './snapshot-sample';

async function warmUp(): Promise<void> {
  const checked = checkSource('sample.flow', SNAPSHOT_SAMPLE);
  if (checked.flow === undefined) throw new Error(`the snapshot's sample flow has errors: ${checked.diagnostics.map((d) => d.message).join('; ')}`);
  format(checked.ast);
  // In both themes, and once more: the later passes run the code the first one compiled.
  for (const theme of ['light', 'dark', 'light'] as const) await renderSvg(await layout(checked.flow), { theme });
}

if (!startupSnapshot.isBuildingSnapshot()) throw new Error('dist/snapshot.cjs builds the start-up snapshot: run it with node --build-snapshot');

provideElk(ELK);
startupSnapshot.setDeserializeMainFunction(() => {
  // argv[1] is the launcher's bin/laneflow.js, as given: Node.js makes a script's path absolute,
  // and the modules that resolve files from their own place need it so.
  if (process.argv[1] !== undefined) process.argv[1] = resolve(process.argv[1]);
  // As bin/laneflow.js does, a failure that is not the user's (a bug) is left to Node.js to report.
  void main(process.argv);
});
// A failed warm-up is an unhandled rejection: the build stops with it and writes no snapshot.
void warmUp();
