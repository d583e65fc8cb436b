/**
 * Lets at most `limit` callers run at once; the rest wait in order. The client uses it around
 * decompress-and-parse: with 200 jobs in flight, 200 payloads decoded at once hold ~200 MB of
 * buffers and strings alive, while a few at a time keep the CPU just as busy with a fraction of it.
 */
export class ParseGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
