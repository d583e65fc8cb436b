import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import { parseSpecs } from '../../ids/parse-spec';
import { BadListError } from '../../pokeapi/errors';
import { waitForBatch } from '../../queue/batch-waiter';
import { enqueueBatch, type EnqueueResult } from '../../queue/producer';
import type { Config } from '../../config/variables';
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
    .option('--json', 'print the result as JSON on stdout')
    .action((specs: string[], opts: { wait?: boolean; refresh?: boolean; json?: boolean }) =>
      runCommand({}, async (config, log) => {
        // Parse before connecting: bad input must change nothing and fail fast.
        const parsed = parseSpecs(specs);
        // The list too, before Redis is touched: a list that cannot be trusted changes nothing.
        const ids = parsed.all ? mergeIds(parsed.ids, await listAll(config)) : parsed.ids;
        const ctx = await openContext(config, log, { startup: 'fail-fast', connections: 4 });
        try {
          const result = await enqueueBatch(ctx, { ids, refresh: !!opts.refresh, spec: specs.join(' ') });
          if (!opts.json || opts.wait) process.stdout.write(`${describeEnqueue(result)}\n`);
          if (!opts.wait) {
            if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
            return ExitCode.ok;
          }
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

/** Shows progress until the batch is done, prints the summary, and returns the exit code. */
export async function waitAndSummarize(ctx: AppContext, batchId: string, json = false): Promise<number> {
  const display = createProgressDisplay();
  const outcome = await waitForBatch({ redis: ctx.redis, queue: ctx.queue, prefix: ctx.config.queuePrefix, log: ctx.log }, batchId, (p) =>
    display.update(p),
  );
  display.stop();
  process.stdout.write(`${json ? JSON.stringify(outcome) : formatSummary(outcome)}\n`);
  return outcome.failed + outcome.adopted.failed > 0 ? ExitCode.failure : ExitCode.ok;
}

/**
 * Every id the API lists, before anything is written. A list that cannot be trusted (BadListError:
 * a foreign or looping `next`, an id out of range, a malformed entry) is bad input, exit 2; an
 * API that cannot be reached is exit 1. Either way nothing is enqueued.
 */
async function listAll(config: Config): Promise<number[]> {
  const client = createPokeApiClient(config, 4);
  try {
    return await client.listAllIds();
  } catch (err) {
    const code = err instanceof BadListError ? ExitCode.usage : ExitCode.failure;
    throw new UserFacingError(`cannot list every id from ${config.pokeapiUrl}: ${(err as Error).message}`, code);
  } finally {
    await client.close();
  }
}

function mergeIds(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}
