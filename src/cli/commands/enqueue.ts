import type { Command } from 'commander';
import { PokeQueue } from '../../api/pokequeue';
import type { Batch } from '../../api/types';
import { BatchWatchLostError, hasFailures } from '../../batch/batch';
import { ExitCode } from '../../config/errors';
import { parseSpecs } from '../../ids/parse-spec';
import { PartialEnqueueError } from '../../batch/batch';
import { describeRedis } from '../../redis/connection';
import type { Config } from '../../config/variables';
import { formatSummary } from '../format-summary';
import { createProgressDisplay } from '../progress-display';
import { runCommand, UserFacingError } from '../run-command';

export function registerEnqueue(program: Command): void {
  program
    .command('enqueue')
    .description('enqueue one job per Pokémon id: 25, 1-151, 1-10,25,10001-10010, pikachu, or all')
    .argument('<spec...>', 'ids, ranges, comma lists, names, or all')
    .option('--wait', 'show progress until the batch is done, then a summary; exit 1 if any job failed')
    .option('--refresh', 'fetch again ids that are already stored')
    .option('--json', 'print one JSON document on stdout: the counts, or with --wait the batch summary')
    .action((specs: string[], opts: { wait?: boolean; refresh?: boolean; json?: boolean }) =>
      runCommand({}, async (config, log) => {
        // Parsed before connecting too: a spec that is no spec at all fails fast and touches nothing.
        // Names and `all` are then looked up by PokeQueue, before anything is enqueued.
        parseSpecs(specs);
        const pq = await PokeQueue.open(config, log);
        try {
          const batch = await pq.enqueue(specs, { refresh: !!opts.refresh }).catch((err: unknown) => {
            throw err instanceof PartialEnqueueError ? partlyEnqueued(err, config, !!opts.json) : err;
          });
          // With --json, stdout carries exactly one JSON document (these counts, or with --wait the
          // batch's summary, which repeats them); the line for a human goes to stderr.
          if (opts.json && !opts.wait) {
            const { id: batchId, requested, added, alreadyQueued, alreadyStored } = batch;
            process.stdout.write(`${JSON.stringify({ batchId, requested, added, alreadyQueued, alreadyStored })}\n`);
            return ExitCode.ok;
          }
          (opts.json ? process.stderr : process.stdout).write(`${describeEnqueue(batch)}\n`);
          if (!opts.wait) return ExitCode.ok;
          return await showProgressAndSummary(batch, !!opts.json).catch((err: unknown) => {
            throw err instanceof BatchWatchLostError ? lostRedis(err, config) : err;
          });
        } finally {
          // With Redis gone, a graceful close would wait for it; the process exits right after.
          await Promise.race([pq.close(), new Promise((r) => setTimeout(r, 2000).unref())]);
        }
      }),
    );
}

export function describeEnqueue(b: Batch): string {
  return `batch ${b.id}: ${b.requested} requested, ${b.added} added, ${b.alreadyQueued} already queued, ${b.alreadyStored} already stored`;
}

/**
 * Shows the batch's progress (on stderr) until it is done, prints its summary (the BatchSummary
 * `batch.done()` gives a program, as JSON with `json`) and returns the exit code.
 */
export async function showProgressAndSummary(batch: Batch, json = false): Promise<number> {
  const display = createProgressDisplay();
  try {
    for await (const p of batch.progress()) display.update(p);
  } finally {
    display.stop();
  }
  const summary = await batch.done();
  process.stdout.write(`${json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
  return hasFailures(summary) ? ExitCode.failure : ExitCode.ok;
}

/** A batch cut off while its jobs were being added: say exactly that, and how to finish it. */
function partlyEnqueued(err: PartialEnqueueError, config: Config, json: boolean): UserFacingError {
  if (json) {
    const { batchId, added, requested } = err;
    process.stdout.write(`${JSON.stringify({ batchId, partial: true, added, requested, error: err.cause.message })}\n`);
  }
  return new UserFacingError(
    `batch ${err.batchId} was only partly enqueued: ${err.added} of its ${err.requested} ids had their jobs added before ` +
      `${describeRedis(config)} stopped answering (${err.cause.message}). Run the same command again once Redis answers: ` +
      'it adds the rest, and ids already queued or stored are not fetched again.',
  );
}

/** `--wait` gave up on a Redis that no longer answers; the batch goes on without it. */
function lostRedis(err: BatchWatchLostError, config: Config): UserFacingError {
  const seen = err.last ? ` (last seen: ${err.last.done}/${err.last.total} done, ${err.last.failed} failed)` : '';
  return new UserFacingError(
    `lost ${describeRedis(config)}: no answer for ${Math.round(err.silentMs / 1000)} s while waiting for batch ${err.batchId}${seen}. ` +
      'The batch goes on without this command: watch it with `pokequeue status`, or run the same enqueue again to wait for it (nothing is fetched twice).',
  );
}
