// The laneflow CLI run from its TypeScript source (tsx compiles it on load), with chevrotain's
// default entry instead of the bundled build. parse.bench.ts times its start-up against
// `bin/laneflow.js` to show what bundling buys.
import { main } from '../src/cli/main';

await main(process.argv);
