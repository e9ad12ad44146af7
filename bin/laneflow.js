#!/usr/bin/env node
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist')) throw error;
  process.stderr.write('laneflow: the CLI is not built yet: run `npm install` (or `npm run build`) in the laneflow folder\n');
  process.exit(2);
}
await cli.main(process.argv);
