import { Command, CommanderError, Option } from 'commander';
import { InputError } from '../lib/files';
import { runCheck, runFmt, type FmtOptions } from './check';
import { EXIT_USAGE, output } from './output';
import { registerRuntimeCommands } from './runtime';
import { registerRenderCommands } from './render';
import { registerTestingCommands } from './testing';
import { registerServeCommands } from './serve';
import { registerWebhookCommands } from './webhooks';

export function buildProgram(): Command {
  const program = new Command('laneflow')
    .description('Check, format, render and run FlowZap-style .flow diagrams')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('check')
    .description('parse and validate .flow files, reporting every problem with its position')
    .argument('<paths...>', '.flow files or folders to search for them')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--strict', 'check for running: rules only running needs (FZ210 no start) are errors, as for compile and run')
    .action((paths: string[], options: { format: 'text' | 'json'; strict?: boolean }) => {
      process.exitCode = runCheck(paths, options);
    });

  program
    .command('fmt')
    .description('print .flow files in canonical form')
    .argument('<paths...>', '.flow files or folders to search for them')
    .option('--check', 'list files that are not formatted; exit 1 if any')
    .option('--write', 'rewrite the files in place')
    .option('--renumber', 'rewrite node ids to n1..nN in declaration order')
    .action((paths: string[], options: FmtOptions) => {
      process.exitCode = runFmt(paths, options);
    });

  registerRenderCommands(program);
  registerRuntimeCommands(program);
  registerTestingCommands(program);
  registerServeCommands(program);
  registerWebhookCommands(program);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // A reader that stops early (`laneflow inspect | head`) closes the pipe: that ends the output, quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(process.exitCode ?? 0);
    });
  }
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (error instanceof InputError) {
      output.err(`laneflow: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    throw error;
  }
}
