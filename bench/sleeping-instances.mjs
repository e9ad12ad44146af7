// Started by runtime.bench.ts in a fresh process: parks N instances on a one-day timer, then
// prints the process's memory as JSON. Sleeping instances live in the database, not in memory.
// It runs the built library (dist/index.js), as an application would.
import { checkSource, defineBindings, Engine } from '../dist/index.js';

const [db, count] = [process.argv[2], Number(process.argv[3])];
const text = `Main { # Main
  n1: circle label:"Start"
  n2: rectangle label:"Wait a day"
  n3: circle label:"End"
  n1.handle(right) -> n2.handle(left)
  n2.handle(right) -> n3.handle(left)
}
`;
const engine = new Engine({ db });
const { machine } = engine.deploy(
  checkSource('sleep.flow', text).flow,
  defineBindings({
    nodes: {
      'Wait a day': async (ctx) => {
        await ctx.sleep('1d');
      },
    },
  }),
);
for (let i = 0; i < count; i += 1000) engine.startMany(machine.version, Array.from({ length: Math.min(1000, count - i) }, () => ({})));
await engine.runUntilIdle();
const sleeping = engine.instances({ limit: 1 })[0].snapshot.tokens[0].state;
if (engine.counts().running !== count || sleeping !== 'sleeping') throw new Error('the instances did not all park');
const { rss, heapUsed } = process.memoryUsage();
engine.close();
process.stdout.write(JSON.stringify({ rssMb: Math.round(rss / 1e6), heapMb: Math.round(heapUsed / 1e6) }));
