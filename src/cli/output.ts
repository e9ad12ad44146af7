/** Exit codes: 0 fine, 1 the flows have problems (errors, failed runs, unformatted files), 2 bad usage or input. */
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
}

export const output: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  color: useColor(),
};

function useColor(): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return process.stdout.isTTY === true;
}
