import type { Command } from 'commander';
import { PokeQueue } from '../../api/pokequeue';
import type { Batch } from '../../api/types';
import { hasFailures } from '../../batch/batch';
import { ExitCode } from '../../config/errors';
import { parseSpecs } from '../../ids/parse-spec';
import { formatSummary } from '../format-summary';
import { createProgressDisplay } from '../progress-display';
import { runCommand } from '../run-command';

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
          const batch = await pq.enqueue(specs, { refresh: !!opts.refresh });
          // With --json, stdout carries exactly one JSON document (these counts, or with --wait the
          // batch's summary, which repeats them); the line for a human goes to stderr.
          if (opts.json && !opts.wait) {
            const { id: batchId, requested, added, alreadyQueued, alreadyStored } = batch;
            process.stdout.write(`${JSON.stringify({ batchId, requested, added, alreadyQueued, alreadyStored })}\n`);
            return ExitCode.ok;
          }
          (opts.json ? process.stderr : process.stdout).write(`${describeEnqueue(batch)}\n`);
          if (!opts.wait) return ExitCode.ok;
          return await showProgressAndSummary(batch, !!opts.json);
        } finally {
          await pq.close();
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
