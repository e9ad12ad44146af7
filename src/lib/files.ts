import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A user mistake about input or output files: reported in one sentence, exit code 2. */
export class InputError extends Error {
  override name = 'InputError';
}

export interface SourceFile {
  path: string;
  text: string;
}

/**
 * The .flow files named by the arguments: files as given, folders searched recursively.
 * Throws InputError for a missing path, a folder without .flow files, or a file that is not
 * UTF-8 text.
 */
export function collectFlowFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    const stats = statOrThrow(path);
    if (!stats.isDirectory()) {
      files.push(path);
      continue;
    }
    const found = findFlowFiles(path);
    if (found.length === 0) throw new InputError(`${path} is a folder with no .flow files in it`);
    files.push(...found);
  }
  return [...new Set(files)];
}

function statOrThrow(path: string) {
  try {
    return statSync(path);
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${reason(error)}`);
  }
}

function findFlowFiles(folder: string): string[] {
  const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  return entries.flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) return findFlowFiles(path);
    return entry.isFile() && entry.name.endsWith('.flow') ? [path] : [];
  });
}

/** Reads a file as UTF-8 text, refusing folders and binary files. */
export function readSource(path: string): SourceFile {
  if (statOrThrow(path).isDirectory()) throw new InputError(`${path} is a folder, not a .flow file`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${reason(error)}`);
  }
  if (bytes.includes(0)) throw new InputError(`${path} is a binary file, not a .flow text file`);
  try {
    return { path, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    throw new InputError(`${path} is not UTF-8 text`);
  }
}

/**
 * Writes a file so that it is either wholly replaced or left as it was: the text goes to a
 * temporary file beside it, which is then renamed over the target.
 */
export function writeFileAtomic(path: string, text: string | Uint8Array): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // The temporary file was never created (its folder is missing or not a folder).
    }
    throw new InputError(`cannot write ${path}: ${reason(error)}`);
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'the file system is read-only';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
