// Renders a .d2 file to SVG with the D2 WebAssembly build (@terrastruct/d2), as the render
// benchmark's peer. `node bench/peers/d2-render.mjs in.d2 out.svg` is one cold render; with
// `--repeat N` it renders N more times in the same process and prints the median milliseconds
// of those warm renders. The bench runs it with no Node.js flags and again with --liftoff-only.
import { readFileSync, writeFileSync } from 'node:fs';
import { D2 } from '@terrastruct/d2';

const args = process.argv.slice(2);
const repeatAt = args.indexOf('--repeat');
const repeat = repeatAt >= 0 ? Number(args.splice(repeatAt, 2)[1]) : 0;
const [input, output] = args;
const source = readFileSync(input, 'utf8');
const d2 = new D2();
const render = async () => {
  const compiled = await d2.compile(source, { layout: 'elk' });
  return d2.render(compiled.diagram, compiled.renderOptions);
};
writeFileSync(output, await render());
if (repeat > 0) {
  const times = [];
  for (let run = 0; run < repeat; run++) {
    const start = performance.now();
    await render();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`${times[times.length >> 1]}\n`);
}
// The wasm runtime keeps a worker alive; the render is done.
process.exit(0);
