import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const testdata = `${repoRoot}test/testdata/`;

export interface FlowCase {
  name: string;
  path: string;
  text: string;
}

/** The .flow files of a folder, relative to the repository root, in name order. */
export function flowCases(folder: string): FlowCase[] {
  return readdirSync(`${repoRoot}${folder}`)
    .filter((f) => f.endsWith('.flow'))
    .sort()
    .map((f) => {
      const path = `${folder}/${f}`;
      return { name: f.replace(/\.flow$/, ''), path, text: readFileSync(`${repoRoot}${path}`, 'utf8') };
    });
}
