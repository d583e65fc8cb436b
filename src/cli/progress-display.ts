import { SingleBar, Presets } from 'cli-progress';
import type { BatchProgress } from '../batch/batch';

export interface ProgressDisplay {
  update(p: BatchProgress): void;
  stop(): void;
}

/**
 * A bar with rate and ETA on a terminal; a plain line every few seconds otherwise (CI logs and
 * pipes should not fill with carriage returns).
 */
export function createProgressDisplay(stream: NodeJS.WriteStream = process.stderr, lineEveryMs = 5000): ProgressDisplay {
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        stream,
        format: ' {bar} {percentage}% | {value}/{total} jobs | {rate}/s | ETA {eta_formatted} | failed {failed}',
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (p.total === 0) return;
        if (!started) {
          bar.start(p.total, p.done, { rate: '0.0', failed: 0 });
          started = true;
        }
        bar.setTotal(p.total);
        bar.update(p.done, { rate: p.rate.toFixed(1), failed: p.failed });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let lastDone = -1;
  return {
    update(p) {
      if (p.total === 0) return;
      const now = Date.now();
      if ((now - last >= lineEveryMs && p.done !== lastDone) || (p.done >= p.total && p.done !== lastDone)) {
        last = now;
        lastDone = p.done;
        const eta = p.etaMs === null ? '?' : `${Math.ceil(p.etaMs / 1000)}s`;
        stream.write(`progress ${p.done}/${p.total} (${p.completed} ok, ${p.failed} failed) ${p.rate.toFixed(1)} jobs/s, ETA ${eta}\n`);
      }
    },
    stop() {},
  };
}
