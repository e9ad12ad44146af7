import { createHash } from 'node:crypto';
import { existsSync, linkSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../lib/files';
import { HttpError } from './http';

/** A .flow file inside the served folder: the name the page uses, and where it really is. */
export interface FlowFile {
  /** Relative to the folder, `/`-separated. */
  name: string;
  /** The file's real path, symlinks resolved. */
  path: string;
}

/** The biggest .flow file the server reads or writes. */
export const MAX_FLOW_BYTES = 4 * 1024 * 1024;

/**
 * The one folder whose .flow files the server reads and writes. Every name the page sends is
 * checked here: relative, no `.`/`..` or hidden segments, ending in `.flow`, and, once symlinks
 * are resolved, still inside the folder.
 */
export class FlowsFolder {
  /** The folder's real path. */
  readonly root: string;

  constructor(folder: string) {
    this.root = realpathSync(folder);
  }

  /** Every .flow file below the folder, sorted by name; hidden folders and node_modules skipped. */
  list(): FlowFile[] {
    const names: string[] = [];
    const walk = (folder: string, prefix: string) => {
      const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        if (entry.isDirectory() && entry.name !== 'node_modules') walk(join(folder, entry.name), `${prefix}${entry.name}/`);
        else if (entry.isFile() && entry.name.endsWith('.flow')) names.push(`${prefix}${entry.name}`);
      }
    };
    walk(this.root, '');
    return names.map((name) => ({ name, path: join(this.root, ...name.split('/')) }));
  }

  /** The file a name from the page stands for; an HttpError for any name that leaves the folder. */
  resolve(name: string): FlowFile {
    const segments = checkedName(name);
    let real: string;
    try {
      real = realpathSync(join(this.root, ...segments));
    } catch {
      throw new HttpError(404, `no flow ${name}`);
    }
    this.refuseOutside(name, real);
    if (!statSync(real).isFile()) throw new HttpError(404, `${name} is not a file`);
    return { name, path: real };
  }

  /**
   * Where a new file of that name goes: its folder must exist inside this one (symlinks
   * resolved) and the file must not exist yet.
   */
  resolveNew(name: string): FlowFile {
    const segments = checkedName(name);
    let folder: string;
    try {
      folder = realpathSync(join(this.root, ...segments.slice(0, -1)));
    } catch {
      throw new HttpError(404, `there is no folder for ${name} in the flows folder`);
    }
    if (folder !== this.root) this.refuseOutside(name, folder);
    const path = join(folder, segments.at(-1)!);
    if (existsSync(path) || isSymlink(path)) throw new HttpError(409, `${name} already exists: choose another name`);
    return { name, path };
  }

  /** Whether a new file could take that name now (see `resolveNew`). */
  isFree(name: string): boolean {
    try {
      this.resolveNew(name);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A name the page may draw text under: a flow in the folder, or a name a new one could take
   * (the open file renamed or deleted on disk); an HttpError for any other.
   */
  drawable(name: string): string {
    return this.isFree(name) ? name : this.resolve(name).name;
  }

  /**
   * Writes a new file whole, atomically, and only if the name is still free: the text goes to
   * a temporary file that is then linked into place, which fails if another file got there first.
   */
  create(file: FlowFile, text: string): void {
    if (text.includes('\0')) throw new HttpError(400, 'a .flow file cannot hold NUL characters');
    const temporary = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.${Date.now()}.tmp`);
    try {
      writeFileSync(temporary, text);
      linkSync(temporary, file.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new HttpError(409, `${file.name} already exists: choose another name`);
      throw new HttpError(500, `cannot write ${file.name}: ${(error as Error).message}`);
    } finally {
      rmSync(temporary, { force: true });
    }
  }

  private refuseOutside(name: string, real: string): void {
    const inside = relative(this.root, real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new HttpError(403, `${name} leads outside the flows folder`);
    }
  }

  read(file: FlowFile): string {
    const bytes = readFileSync(file.path);
    if (bytes.length > MAX_FLOW_BYTES) throw new HttpError(413, `${file.name} is over ${MAX_FLOW_BYTES} bytes`);
    if (bytes.includes(0)) throw new HttpError(415, `${file.name} is a binary file`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new HttpError(415, `${file.name} is not UTF-8 text`);
    }
  }

  /** Replaces the file's content whole (a symlink inside the folder keeps pointing at it). */
  write(file: FlowFile, text: string): void {
    if (text.includes('\0')) throw new HttpError(400, 'a .flow file cannot hold NUL characters');
    writeFileAtomic(file.path, text);
  }
}

/** A name's segments once it is known to be a relative `.flow` path with no `.`, `..` or hidden segment. */
function checkedName(name: string): string[] {
  if (name === '') throw new HttpError(400, 'name a .flow file');
  if (name.includes('\0') || name.includes('\\')) throw new HttpError(400, 'a flow name cannot hold NUL or backslash characters');
  if (isAbsolute(name)) throw new HttpError(400, 'a flow name is relative to the flows folder');
  const segments = name.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new HttpError(400, 'a flow name cannot hold empty, `.` or `..` segments');
  }
  if (segments.some((segment) => segment.startsWith('.'))) throw new HttpError(404, `no flow ${name}`);
  if (!name.endsWith('.flow')) throw new HttpError(400, 'only .flow files are served');
  return segments;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Identifies a file's content, so the page can tell its own save from someone else's edit. */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Whether a path recorded elsewhere (an instance's flow, a coverage entry) names this file. It
 * was recorded as given, relative to where the command ran; when it leads nowhere from here
 * (the command ran elsewhere), the file's name decides.
 */
export function recordedAs(recorded: string, file: FlowFile): boolean {
  const absolute = resolve(recorded);
  if (existsSync(absolute)) return realpathSync(absolute) === file.path;
  return basename(recorded) === basename(file.path);
}
