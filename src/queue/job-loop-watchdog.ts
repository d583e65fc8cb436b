import type { Worker } from 'bullmq';

/**
 * Decides whether a worker's job loop is alive from evidence, not from the process being up.
 *
 * A worker process can be up, connected, and publishing heartbeats while its BullMQ job loop
 * takes nothing: the loop waits on a reply that will never come, or on a connection that cannot
 * come back (taskforcesh/bullmq#3185 is that class of report; the maintainers' answer is that the
 * application must detect it). A heartbeat that only proves the process runs then reports lost
 * capacity as healthy. So the heartbeat is tied to this watchdog instead:
 *
 * - a **turn** of the loop is a round trip it completed: BullMQ's `moveToActive` answered (a job,
 *   or "nothing to do", which a healthy idle loop hears at least every `drainDelay` + 1 s), or a
 *   job started, completed or failed;
 * - **Redis answers** is what the worker's own heartbeat reports, on its own round trips;
 * - the loop is **stuck** when Redis has answered for `stuckAfterMs` while the loop made no turn
 *   and had a free slot. A loop with every slot running a job is waiting on those jobs, which end
 *   by themselves (HTTP and shutdown deadlines). A worker cut off from Redis is not stuck: it
 *   cannot turn, and its heartbeat cannot be published either, so it goes stale on its own.
 *
 * Once stuck, `healthy` is false for good (the heartbeat stops) and `onStuck` is called once;
 * the CLI then exits 1 so the supervisor (`--processes`, systemd, Docker, Kubernetes) restarts it.
 */
export interface JobLoopWatchdogOptions {
  /**
   * How long Redis must answer while the loop makes no turn before it counts as stuck.
   * Must be above the longest quiet spell of a healthy loop: BullMQ waits up to 30 s
   * (`maximumRateLimitDelay`) while the queue is rate-limited, then turns.
   */
  readonly stuckAfterMs: number;
  /** Called once, when the loop is found stuck. */
  readonly onStuck: (report: StuckReport) => void;
  /** Whether every slot is running a job (then the loop has nothing to turn for). */
  readonly allSlotsBusy: () => boolean;
  /**
   * How often to look.
   * @defaultValue stuckAfterMs / 10, at least 1 s
   */
  readonly checkEveryMs?: number;
  readonly now?: () => number;
}

export interface StuckReport {
  /** Milliseconds since the loop's last turn. */
  sinceLastTurnMs: number;
  /** Milliseconds Redis has been answering without a break. */
  redisAnsweringForMs: number;
}

export class JobLoopWatchdog {
  private readonly now: () => number;
  private lastTurnAt: number;
  /** Since when Redis has answered every heartbeat; null while it does not. */
  private answeringSince: number | null = null;
  private stuck = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: JobLoopWatchdogOptions) {
    this.now = opts.now ?? Date.now;
    this.lastTurnAt = this.now();
  }

  /** False once the loop was found stuck: from then on the worker must not call itself live. */
  get healthy(): boolean {
    return !this.stuck;
  }

  /** The loop completed a round trip (see the class comment). */
  loopTurned(): void {
    this.lastTurnAt = this.now();
  }

  /** Redis answered one of this worker's own commands. */
  redisAnswered(): void {
    this.answeringSince ??= this.now();
  }

  /** Redis did not answer (an error, or no reply in time): the loop cannot be blamed for waiting. */
  redisFailed(): void {
    this.answeringSince = null;
  }

  /**
   * Counts the turns of this worker's loop. BullMQ has no event for "fetched nothing", so its
   * `moveToActive` (protected, the method every fetch of the loop goes through) is wrapped on
   * this instance; a BullMQ that renamed it fails here, at start-up, not by killing idle workers.
   */
  watch(worker: Worker): void {
    const w = worker as unknown as { moveToActive?: (...args: unknown[]) => Promise<unknown> };
    const original = w.moveToActive;
    if (typeof original !== 'function') {
      throw new Error('this BullMQ Worker has no moveToActive(): the job-loop watchdog (src/queue/job-loop-watchdog.ts) needs updating');
    }
    w.moveToActive = (...args: unknown[]) =>
      original.apply(worker, args).then((job) => {
        this.loopTurned();
        return job;
      });
    const turned = () => this.loopTurned();
    worker.on('active', turned);
    worker.on('completed', turned);
    worker.on('failed', turned);
  }

  start(): void {
    const every = this.opts.checkEveryMs ?? Math.max(1000, Math.floor(this.opts.stuckAfterMs / 10));
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Looks once; public so a caller (or a spec) can look at a moment of its choosing. */
  check(): void {
    if (this.stuck || this.answeringSince === null) return;
    const now = this.now();
    if (this.opts.allSlotsBusy()) {
      // Waiting on its own jobs is not being stuck; the clock starts again when a slot frees.
      this.lastTurnAt = now;
      return;
    }
    // A loop that could not reach Redis a moment ago is given the whole period from then.
    const quietSince = Math.max(this.lastTurnAt, this.answeringSince);
    if (now - quietSince < this.opts.stuckAfterMs) return;
    this.stuck = true;
    this.stop();
    this.opts.onStuck({ sinceLastTurnMs: now - this.lastTurnAt, redisAnsweringForMs: now - this.answeringSince });
  }
}
