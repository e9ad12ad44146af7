/** Exit codes: 0 fine, 1 the flows have problems (errors, failed runs, unformatted files), 2 bad usage or input. */
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
}

let color: boolean | undefined;

export const output: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  // Decided on first use, not at load: the start-up snapshot loads this module at build time,
  // when the terminal and the environment are not the user's.
  get color() {
    color ??= useColor();
    return color;
  },
  set color(value: boolean) {
    color = value;
  },
};

function useColor(): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return process.stdout.isTTY === true;
}
