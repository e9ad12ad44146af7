import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../lib/files';
import { output } from './output';

const DEFAULT_DB = '.laneflow/laneflow.db';
const DEFAULT_PORT = 4321;

interface ServeCommandOptions {
  port: number;
  host: string;
  db: string;
}

/** `laneflow serve`. The server's modules load only when it runs, so other commands start as fast as before. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('a local web page to edit flows and watch the diagram, its problems and its runs update as you type')
    .argument('[folder]', 'the folder whose .flow files are served (default: flows/ when there is one, else the current folder)')
    .option('--port <port>', 'the port to listen on (0 picks a free one)', port, DEFAULT_PORT)
    .option('--host <host>', 'the address to listen on; anything but loopback lets other machines edit your flows', '127.0.0.1')
    .option('--db <file>', 'the SQLite database whose instances the page shows', DEFAULT_DB)
    .action(async (folder: string | undefined, options: ServeCommandOptions) => {
      process.exitCode = await runServe(folder ?? (isFolder('flows') ? 'flows' : '.'), options);
    });
}

async function runServe(folder: string, options: ServeCommandOptions): Promise<number> {
  if (!isFolder(folder)) throw new InputError(`${folder} is not a folder: name the folder that holds your .flow files`);
  const { startServer } = await import('./serve/server');
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ folder, host: options.host, port: options.port, database: options.db });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new InputError(`port ${options.port} is in use: pick another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`cannot listen on ${options.host}: no such address on this machine`);
    if (code === 'EACCES') throw new InputError(`not allowed to listen on port ${options.port}: pick one above 1023`);
    throw error;
  }
  if (options.host !== '127.0.0.1' && options.host !== 'localhost' && options.host !== '::1') {
    output.err(`laneflow serve: listening on ${options.host}: anyone who can reach it can read and change your flows\n`);
  }
  output.out(`laneflow serve: ${server.url} (flows in ${server.folder}; Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

function isFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InputError(`--port must be a whole number from 0 to 65535, not "${value}"`);
  return n;
}
