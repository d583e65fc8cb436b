import { Worker } from 'node:worker_threads';
import { parseThreadFile } from '../package-root';
import type { PokemonRecord } from '../types';
import { BadPayloadError, type PokeApiError, TooLargeError, TransientFetchError } from './errors';
import type { ParseReply, ParseTask, ThreadError } from './parse-thread';

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (r: PokemonRecord) => void; reject: (e: Error) => void }>;
}

/**
 * A few parse threads (parse-thread.ts) shared by all the jobs of a worker process. Each task
 * goes to the thread with the fewest waiting; a thread handles one at a time, so the bodies
 * waiting are compressed ones and memory stays bounded however many jobs are in flight.
 */
export class ParsePool {
  private readonly threads: Thread[] = [];
  private taskSeq = 0;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly file: string = parseThreadFile(),
  ) {
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  run(task: Omit<ParseTask, 'taskId'>): Promise<PokemonRecord> {
    if (this.closed) return Promise.reject(new Error('parse pool is closed'));
    let thread = this.threads[0]!;
    for (const t of this.threads) if (t.pending.size < thread.pending.size) thread = t;
    const taskId = ++this.taskSeq;
    // Referenced while it has work, so the process cannot exit under a job; idle, it holds nothing.
    if (thread.pending.size === 0) thread.worker.ref();
    return new Promise<PokemonRecord>((resolve, reject) => {
      thread.pending.set(taskId, { resolve, reject });
      thread.worker.postMessage({ ...task, taskId } satisfies ParseTask);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Tasks still waiting (a shutdown that did not wait for its jobs) fail rather than hang.
    for (const t of this.threads) {
      for (const task of t.pending.values()) task.reject(new TransientFetchError('bad_body', 'parse pool closed before the body was parsed'));
      t.pending.clear();
    }
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private spawn(): Thread {
    const thread: Thread = { worker: new Worker(this.file), pending: new Map() };
    thread.worker.unref();
    thread.worker.on('message', (reply: ParseReply) => {
      const task = thread.pending.get(reply.taskId);
      if (!task) return;
      thread.pending.delete(reply.taskId);
      if (thread.pending.size === 0) thread.worker.unref();
      if ('record' in reply) task.resolve(reply.record);
      else task.reject(rebuild(reply.error));
    });
    // A thread that dies (out of memory on a hostile body, say) fails its own tasks as transient,
    // so they are retried, and is replaced: the other jobs of the process carry on.
    const fail = (err: Error) => {
      for (const task of thread.pending.values()) task.reject(new TransientFetchError('bad_body', `parse thread failed: ${err.message}`));
      thread.pending.clear();
      const i = this.threads.indexOf(thread);
      if (i >= 0 && !this.closed) this.threads[i] = this.spawn();
    };
    thread.worker.on('error', fail);
    thread.worker.on('exit', (code) => {
      if (!this.closed && this.threads.includes(thread)) fail(new Error(`exited with code ${code}`));
    });
    return thread;
  }
}

/** The same error class the event-loop path would have thrown, so the fetch policy sees no difference. */
function rebuild(e: ThreadError): PokeApiError | Error {
  if (e.reason === 'bad_payload') {
    const err = new BadPayloadError('', e.sample ?? '');
    err.message = e.message; // already "…; body starts: <sample>", as the thread built it
    return err;
  }
  if (e.reason === 'bad_body') return new TransientFetchError('bad_body', e.message);
  if (e.reason === 'too_large') return new TooLargeError(e.message);
  return new Error(e.message);
}
