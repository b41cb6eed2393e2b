/**
 * The demo's waiting line: one job runs at a time (the model is one), at most `maxWaiting` more
 * wait behind it, and the next one is refused at once instead of piling up memory and time.
 */

export class QueueFullError extends Error {
  /** Seconds after which a retry may find room (the HTTP Retry-After header). */
  constructor(readonly retryAfter: number, message: string) {
    super(message);
  }
}

export class JobQueue<J, R> {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** Durations of the last jobs, for the Retry-After estimate. */
  private recent: number[] = [];

  constructor(private readonly run: (job: J) => Promise<R>, readonly maxWaiting: number) {}

  /** Jobs running or waiting. */
  get size(): number {
    return this.pending;
  }

  /** Throws QueueFullError when one job runs and `maxWaiting` wait already. */
  checkRoom(): void {
    if (this.pending > this.maxWaiting) {
      throw new QueueFullError(this.retryAfter(), `The demo is busy (${this.pending} transcriptions running or waiting); ` +
        'try again in a moment.');
    }
  }

  /** Runs `job` after those already queued; throws QueueFullError when there is no room (checkRoom). */
  submit(job: J): Promise<R> {
    this.checkRoom();
    this.pending += 1;
    const result = this.tail.then(async () => {
      const t0 = performance.now();
      try {
        return await this.run(job);
      } finally {
        this.recent = [...this.recent.slice(-9), (performance.now() - t0) / 1000];
      }
    }).finally(() => {
      this.pending -= 1;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** About when the line will be one shorter: the mean job time so far (10 s before any job finished). */
  private retryAfter(): number {
    const mean = this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : 10;
    return Math.min(600, Math.max(1, Math.ceil(mean)));
  }
}
