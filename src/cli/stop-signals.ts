/**
 * SIGINT and SIGTERM while a command works: the first asks it to stop at the next safe point (the
 * command polls `requested`), a second exits at once after `onSecond` (which must be synchronous).
 * Exit codes follow the shell's 128 + signal number: 130 for SIGINT, 143 for SIGTERM.
 */
export class StopSignals {
  requested: NodeJS.Signals | null = null;
  private readonly handler = (signal: NodeJS.Signals) => {
    if (this.requested) {
      this.onSecond(signal);
      this.exit(exitCodeFor(signal));
      return;
    }
    this.requested = signal;
    this.onFirst(signal);
  };

  constructor(
    private readonly onFirst: (signal: NodeJS.Signals) => void,
    private readonly onSecond: (signal: NodeJS.Signals) => void,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  get exitCode(): number {
    return this.requested ? exitCodeFor(this.requested) : 0;
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

export function exitCodeFor(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}
