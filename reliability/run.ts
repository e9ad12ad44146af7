// Runs every reliability/*.check.ts (or those whose names contain an argument), prints one
// table, and exits 1 if any check failed.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { printReliability, type ReliabilityCheck, type ReliabilitySection } from './table';

const folder = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(folder)
  .filter((f) => f.endsWith('.check.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const sections: ReliabilitySection[] = [];
for (const file of files) {
  const started = performance.now();
  process.stderr.write(`running ${file}…\n`);
  const check = (await import(pathToFileURL(folder + file).href)).default as ReliabilityCheck;
  sections.push(await check());
  process.stderr.write(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
process.stdout.write(printReliability(sections) + '\n');
const rows = sections.flatMap((s) => s.rows);
const failed = rows.filter((r) => !r.ok).length;
const lost = rows.reduce((n, r) => n + r.lost, 0);
const duplicates = rows.reduce((n, r) => n + r.duplicates, 0);
process.stdout.write(`${rows.length} checks: ${failed} failed; ${lost} items lost, ${duplicates} duplicated\n`);
process.exitCode = failed > 0 || lost > 0 || duplicates > 0 ? 1 : 0;
