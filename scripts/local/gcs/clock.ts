// The emulator's notion of "now": the wall clock plus an offset tests can move forward, so expiry (signed URLs,
// upload sessions) can be exercised without waiting.

export class EmulatorClock {
  #offsetMs = 0;

  constructor(private readonly base: () => number = Date.now) {}

  readonly now = (): number => this.base() + this.#offsetMs;

  /** Moves time forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  reset(): void {
    this.#offsetMs = 0;
  }
}
