// Runs every bench/*.bench.ts (or those whose names contain an argument) and prints their tables.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { printSection, type Bench } from './table';

const folder = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(folder)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

let missed = 0;
for (const file of files) {
  const bench = (await import(pathToFileURL(folder + file).href)).default as Bench;
  const section = await bench();
  missed += section.rows.filter((r) => r.met === false).length;
  process.stdout.write(printSection(section) + '\n');
}
process.stdout.write(`${files.length} benchmark files run; ${missed} target${missed === 1 ? '' : 's'} missed\n`);
