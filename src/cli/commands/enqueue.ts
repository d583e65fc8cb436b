import type { Command } from 'commander';
import { hasFailures } from '../../batch/batch';
import { BatchWatch, FinishedBatches } from '../../batch/batch-watch';
import { ExitCode } from '../../config/errors';
import type { Config } from '../../config/variables';
import { IdSet } from '../../ids/id-set';
import { parseSpecs } from '../../ids/parse-spec';
import { BadListError } from '../../pokeapi/errors';
import { enqueueBatch, type EnqueueResult } from '../../queue/producer';
import { createPokeApiClient, openContext, type AppContext } from '../context';
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
    .option('--json', 'print one JSON document on stdout: the counts, or with --wait the batch summary')
    .action((specs: string[], opts: { wait?: boolean; refresh?: boolean; json?: boolean }) =>
      runCommand({}, async (config, log) => {
        // Parse before connecting: bad input must change nothing and fail fast.
        const parsed = parseSpecs(specs);
        // The list too, before Redis is touched: a list that cannot be trusted changes nothing.
        const ids = parsed.all ? parsed.ids.union(IdSet.of(await listAll(config))) : parsed.ids;
        const ctx = await openContext(config, log, { startup: 'fail-fast' });
        try {
          const result = await enqueueBatch(ctx, { ids, refresh: !!opts.refresh, spec: specs.join(' ') });
          // With --json, stdout carries exactly one JSON document (this result, or with --wait the
          // batch's summary, which repeats these counts); the line for a human goes to stderr.
          if (opts.json && !opts.wait) {
            process.stdout.write(`${JSON.stringify(result)}\n`);
            return ExitCode.ok;
          }
          (opts.json ? process.stderr : process.stdout).write(`${describeEnqueue(result)}\n`);
          if (!opts.wait) return ExitCode.ok;
          return await waitAndSummarize(ctx, result.batchId, !!opts.json);
        } finally {
          await ctx.close();
        }
      }),
    );
}

export function describeEnqueue(r: EnqueueResult): string {
  return `batch ${r.batchId}: ${r.requested} requested, ${r.added} added, ${r.alreadyQueued} already queued, ${r.alreadyStored} already stored`;
}

/** Shows progress (on stderr) until the batch is done, prints the summary, and returns the exit code. */
export async function waitAndSummarize(ctx: AppContext, batchId: string, json = false): Promise<number> {
  const finished = new FinishedBatches(ctx.redis, ctx.batches.keys.batchFinishedChannel, ctx.log);
  try {
    const watch = new BatchWatch({ batches: ctx.batches, finished, log: ctx.log }, batchId);
    const display = createProgressDisplay();
    for await (const p of watch.progress()) display.update(p);
    display.stop();
    const summary = await watch.done();
    process.stdout.write(`${json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
    return hasFailures(summary) ? ExitCode.failure : ExitCode.ok;
  } finally {
    finished.close();
  }
}

/**
 * Every id the API lists, before anything is written. A list that cannot be trusted (BadListError:
 * a foreign or looping `next`, an id out of range, a malformed entry) is bad input, exit 2; an
 * API that cannot be reached is exit 1. Either way nothing is enqueued.
 */
async function listAll(config: Config): Promise<number[]> {
  const client = createPokeApiClient(config, { connections: 4 });
  try {
    return await client.listAllIds();
  } catch (err) {
    const code = err instanceof BadListError ? ExitCode.usage : ExitCode.failure;
    throw new UserFacingError(`cannot list every id from ${config.pokeapiUrl}: ${(err as Error).message}`, code);
  } finally {
    await client.close();
  }
}
