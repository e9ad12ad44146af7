// Runs every bench/*.bench.ts (or those whose names contain an argument) and prints their tables,
// with the load average, since the machine is shared; exits 1 when any target is missed.
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { missed, printSection, type Bench } from './table';

const folder = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(folder)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const load = () => loadavg().map((value) => value.toFixed(2)).join(', ');
process.stdout.write(`${new Date().toISOString()}, load average ${load()}\n\n`);

// A target missed, a target left without a verdict (a peer or tool that could not run) and a
// bench that failed outright all count, and any of them makes the run exit 1.
let missedTargets = 0;
const failedBenches: string[] = [];
for (const file of files) {
  try {
    const bench = (await import(pathToFileURL(folder + file).href)).default as Bench;
    const before = load();
    const started = performance.now();
    const section = await bench();
    missedTargets += section.rows.filter(missed).length;
    process.stdout.write(printSection(section));
    process.stdout.write(`\n${file}: ${((performance.now() - started) / 1000).toFixed(0)} s; load average before ${before}, after ${load()}\n\n`);
  } catch (error) {
    failedBenches.push(file);
    process.stdout.write(`## ${file}\n\nFAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n\n`);
  }
}
process.stdout.write(
  `${files.length} benchmark files run${failedBenches.length > 0 ? ` (${failedBenches.length} failed: ${failedBenches.join(', ')})` : ''}; ` +
    `${missedTargets} target${missedTargets === 1 ? '' : 's'} missed; load average at the end ${load()}\n`,
);
if (files.length === 0) process.stdout.write(`no bench file matches ${filters.join(', ')}\n`);
process.exitCode = missedTargets > 0 || failedBenches.length > 0 || files.length === 0 ? 1 : 0;
