import type { BatchSummary } from '../batch/batch';
import type { Percentiles } from '../stats/histogram';

const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`);
const row = (label: string, p: Percentiles) =>
  p.count === 0 ? `  ${label.padEnd(6)} (none)` : `  ${label.padEnd(6)} p50 ${ms(p.p50).padStart(7)}  p95 ${ms(p.p95).padStart(7)}  p99 ${ms(p.p99).padStart(7)}  max ${ms(p.max).padStart(7)}`;

/** The end-of-batch block: what finished, how fast, where the time went, what failed and why. */
export function formatSummary(s: BatchSummary): string {
  const succeeded = s.completed + s.adopted.completed;
  const failed = s.failed + s.adopted.failed;
  const lines = [
    `batch ${s.batchId} (${s.spec}) finished`,
    `  succeeded ${succeeded}, failed ${failed}, retried ${s.retried} (${s.retries} failed attempts retried)` +
      (s.cached ? `, ${s.cached} answered from the store` : ''),
    `  skipped: ${s.stored} already stored, ${s.queued} already queued by another batch`,
    `  wall time ${(s.wallMs / 1000).toFixed(2)}s, ${s.jobsPerSecond.toFixed(1)} jobs/s`,
    'timing:',
    row('wait', s.timing.wait),
    row('fetch', s.timing.fetch),
    row('total', s.timing.total),
  ];
  const reasons = Object.entries(s.failures).sort((a, b) => b[1] - a[1]);
  if (reasons.length || s.adopted.failed) {
    lines.push('failures by reason:');
    for (const [reason, n] of reasons) lines.push(`  ${reason.padEnd(14)} ${n}`);
    if (s.adopted.failed) lines.push(`  ${'other batch'.padEnd(14)} ${s.adopted.failed}`);
  }
  return lines.join('\n');
}
