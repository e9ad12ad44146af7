/** The engine's time source. Timestamps are UTC milliseconds since the Unix epoch. */
export interface Clock {
  readonly virtual: boolean;
  now(): number;
  /** Resolves when `at` has come, or sooner when `abort` fires. A virtual clock jumps there at once. */
  sleepUntil(at: number, abort?: AbortSignal): Promise<void>;
}

/** The real time: what the engine reads unless given another clock. */
export const wallClock: Clock = {
  virtual: false,
  now: () => Date.now(),
  sleepUntil: (at, abort) =>
    new Promise((resolve) => {
      if (abort?.aborted === true) return resolve();
      const timer = setTimeout(done, Math.max(0, at - Date.now()));
      abort?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        abort?.removeEventListener('abort', done);
        resolve();
      }
    }),
};

/**
 * Time that moves only when the engine has nothing to do before the next timer, and then jumps
 * straight to it: a 30-day schedule runs in milliseconds, the same way every time.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  private current: number;

  constructor(start: number | Date = Date.UTC(2025, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  async sleepUntil(at: number): Promise<void> {
    this.current = Math.max(this.current, at);
  }

  /** Moves the time on by `milliseconds`, as a test does to let time pass between events. */
  advance(milliseconds: number): void {
    this.current += milliseconds;
  }
}
