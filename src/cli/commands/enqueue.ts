import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import { parseSpecs } from '../../ids/parse-spec';
import { waitForBatch, type BatchOutcome, type BatchProgress } from '../../queue/batch-waiter';
import { enqueueBatch, PartialEnqueueError, type EnqueueResult } from '../../queue/producer';
import { describeRedis } from '../../redis/connection';
import { openContext, type AppContext } from '../context';
import { formatSummary } from '../format-summary';
import { createProgressDisplay } from '../progress-display';
import { runCommand, UserFacingError } from '../run-command';

export function registerEnqueue(program: Command): void {
  program
    .command('enqueue')
    .description('enqueue one job per Pokémon id: 25, 1-151, 1-10,25,10001-10010, or all')
    .argument('<spec...>', 'ids, ranges, comma lists, or all')
    .option('--wait', 'show progress until the batch is done, then a summary; exit 1 if any job failed')
    .option('--refresh', 'fetch again ids that are already stored')
    .option('--json', 'print the result as JSON on stdout')
    .action((specs: string[], opts: { wait?: boolean; refresh?: boolean; json?: boolean }) =>
      runCommand({}, async (config, log) => {
        // Parse before connecting: bad input must change nothing and fail fast.
        const parsed = parseSpecs(specs);
        const ctx = await openContext(config, log, { startup: 'fail-fast', connections: 4 });
        try {
          const ids = parsed.all ? mergeIds(parsed.ids, await listAll(ctx)) : parsed.ids;
          const result = await enqueueBatch(ctx, { ids, refresh: !!opts.refresh, spec: specs.join(' ') }).catch((err: unknown) => {
            throw err instanceof PartialEnqueueError ? partialEnqueue(err, ctx, !!opts.json) : err;
          });
          if (!opts.json || opts.wait) process.stdout.write(`${describeEnqueue(result)}\n`);
          if (!opts.wait) {
            if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
            return ExitCode.ok;
          }
          return await waitAndSummarize(ctx, result.batchId, !!opts.json);
        } finally {
          // With Redis gone, a graceful close would wait for it; the process exits right after.
          await Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 2000).unref())]);
        }
      }),
    );
}

/** A batch cut off while its jobs were being added: say exactly that, and how to finish it. */
function partialEnqueue(err: PartialEnqueueError, ctx: AppContext, json: boolean): UserFacingError {
  if (json) process.stdout.write(`${JSON.stringify({ batchId: err.batchId, partial: true, addedAtLeast: err.added, toAdd: err.toAdd, error: err.cause.message })}\n`);
  return new UserFacingError(
    `batch ${err.batchId} was only partly enqueued: ${err.added} of its ${err.toAdd} new jobs were added before ` +
      `${describeRedis(ctx.config)} stopped answering (${err.cause.message}). Run the same command again once Redis answers: ` +
      'it adds the rest, and ids already queued or stored are not fetched again.',
  );
}

export function describeEnqueue(r: EnqueueResult): string {
  return `batch ${r.batchId}: ${r.requested} requested, ${r.added} added, ${r.alreadyQueued} already queued, ${r.alreadyStored} already stored`;
}

/**
 * Shows progress until the batch is done, prints the summary, and returns the exit code. Rides
 * out a Redis outage (the wait resumes by itself), but not forever: with no answer from Redis for
 * REDIS_LOST_TIMEOUT_MS it stops with a clear error, exit 1. The batch goes on without it.
 */
export async function waitAndSummarize(ctx: AppContext, batchId: string, json = false): Promise<number> {
  const display = createProgressDisplay();
  const lost = new AbortController();
  let answeredAt = Date.now();
  let last: BatchProgress | undefined;
  // Each progress report is a poll Redis answered: the evidence, whatever the socket's state says.
  const deadline = setInterval(() => {
    if (Date.now() - answeredAt >= ctx.config.redisLostTimeoutMs) lost.abort(redisLost(ctx, batchId, last));
  }, 250);
  let outcome: BatchOutcome;
  try {
    outcome = await Promise.race([
      waitForBatch({ redis: ctx.redis, queue: ctx.queue, prefix: ctx.config.queuePrefix, log: ctx.log }, batchId, (p) => {
        answeredAt = Date.now();
        last = p;
        display.update(p);
      }, { signal: lost.signal }),
      // A poll stuck on a dead link would only see the signal once it fails: do not wait for that.
      new Promise<never>((_, reject) => lost.signal.addEventListener('abort', () => reject(lost.signal.reason as Error))),
    ]);
  } finally {
    clearInterval(deadline);
    display.stop();
  }
  process.stdout.write(`${json ? JSON.stringify(outcome) : formatSummary(outcome)}\n`);
  return outcome.failed + outcome.adopted.failed > 0 ? ExitCode.failure : ExitCode.ok;
}

function redisLost(ctx: AppContext, batchId: string, last: BatchProgress | undefined): UserFacingError {
  const seen = last ? ` (last seen: ${last.done}/${last.total} done, ${last.failed} failed)` : '';
  return new UserFacingError(
    `lost ${describeRedis(ctx.config)}: no answer for ${Math.round(ctx.config.redisLostTimeoutMs / 1000)} s while waiting for batch ${batchId}${seen}. ` +
      'The batch goes on without this command: watch it with `pokequeue status`, or run the same enqueue again to wait for it (nothing is fetched twice).',
  );
}

async function listAll(ctx: AppContext): Promise<number[]> {
  try {
    return await ctx.client.listAllIds();
  } catch (err) {
    throw new UserFacingError(`cannot list every id from ${ctx.config.pokeapiUrl}: ${(err as Error).message}`);
  }
}

function mergeIds(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}
