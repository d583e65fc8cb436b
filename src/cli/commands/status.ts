import type { Command } from 'commander';
import { PokeQueue } from '../../api/pokequeue';
import { runCommand } from '../run-command';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('job counts per state, live workers, stored records, batches in progress')
    .option('--json', 'print one JSON object: { workers, counts, stored, ... }')
    .action((opts: { json?: boolean }) =>
      runCommand({}, async (config, log) => {
        const pq = await PokeQueue.open(config, log);
        try {
          const s = await pq.status();
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(s)}\n`);
            return;
          }
          const c = s.counts;
          const eta = (s: number | null) => (s === null ? '?' : `${Math.ceil(s)}s`);
          const out = [
            `queue ${config.queuePrefix}${s.paused ? ' (paused)' : ''}: ${c.waiting ?? 0} waiting, ${c.active ?? 0} active, ${c.delayed ?? 0} delayed, ${c.prioritized ?? 0} prioritized, ${c.completed ?? 0} completed, ${c.failed ?? 0} failed (kept)`,
            `stored records: ${s.stored}`,
            `live workers: ${s.workers}`,
            ...s.workerList.map(
              (w) => `  ${w.id}  concurrency ${w.concurrency}, in flight ${w.inFlight}, done ${w.completed}, failed ${w.failed}, ${w.jobsPerSecond.toFixed(1)} jobs/s`,
            ),
            `batches in progress: ${s.batchesInProgress.length}`,
            ...s.batchesInProgress.map(
              (b) =>
                `  ${b.batchId} (${b.spec}): ${b.done}/${b.total} done, ${b.failed + b.adopted.failed} failed, ${b.averageJobsPerSecond.toFixed(1)} jobs/s, ETA ${eta(b.etaSeconds)}`,
            ),
          ];
          process.stdout.write(`${out.join('\n')}\n`);
        } finally {
          await pq.close();
        }
      }),
    );
}
