import type { Logger } from 'pino';
import type { StepReport } from '../runtime/executor';

/** How a worker's log reads: lines for a person on a terminal, or JSON lines for a log collector. */
export type LogFormat = 'pretty' | 'json';

/**
 * The worker's log on standard error, through pino: every line written before the call returns
 * (a worker may exit right after), JSON lines by default when standard error is not a terminal.
 * Loaded only by `laneflow worker`, so other commands start without pino.
 */
export async function openWorkerLog(format: LogFormat | undefined): Promise<Logger> {
  const { pino } = await import('pino');
  const chosen = format ?? (process.stderr.isTTY === true ? 'pretty' : 'json');
  if (chosen === 'json') return pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  const stream = pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,step,instance,node,attempt,outcome,ms' });
  return pino({ base: { pid: process.pid } }, stream);
}

/** One line per handler run: instance, node, attempt, outcome and how long it took. */
export function logStep(log: Logger, step: StepReport): void {
  const node = step.label === '' ? step.node : `${step.node} ${step.label}`;
  const detail = step.detail === undefined ? '' : ` (${step.detail})`;
  const level = step.outcome === 'dead-letter' ? 'error' : step.outcome === 'failed' ? 'warn' : 'info';
  log[level]({ step: true, instance: step.instance, node: step.node, attempt: step.attempt, outcome: step.outcome, ms: Math.round(step.ms * 10) / 10 }, `${step.instance} ${node} attempt ${step.attempt}: ${step.outcome}${detail} in ${step.ms.toFixed(1)} ms`);
}
