/**
 * A preload for measured processes (`node --require dist/bench/lib/probe.js ...`): it watches
 * event-loop delay with perf_hooks.monitorEventLoopDelay and heap use, without any change to the
 * code under test.
 *
 * Each SIGUSR2 writes a snapshot of the window since the previous one to the JSON file named by
 * BENCH_PROBE_OUT, then starts a new window; the bench signals once when the measured part
 * begins and once when it ends. SIGUSR2 is otherwise unused by Node (SIGUSR1 is the inspector's).
 *
 * With BENCH_PROFILE_OUT set it also takes a CPU profile of exactly that window (in-process
 * inspector session, no debugger port): started at one signal, written at the next, so the
 * profile holds the measured work and not the process's start-up.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** What one snapshot holds; event-loop delays in milliseconds. */
export interface ProbeSnapshot {
  seq: number;
  windowMs: number;
  eld: { p50: number; p99: number; max: number; mean: number };
  heapUsedMb: number;
  peakHeapUsedMb: number;
  /** Heap reserved by V8 (used + free space in its pages). */
  peakHeapTotalMb: number;
  /** Memory outside the V8 heap held by JS objects: Buffers, ArrayBuffers. */
  peakExternalMb: number;
  rssMb: number;
}

/** Resolution of the delay histogram: fine enough to see a 20 ms parse, cheap enough to leave on. */
const RESOLUTION_MS = 5;

const out = process.env.BENCH_PROBE_OUT;
if (out) startProbe(out);

function startProbe(out: string): void {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let seq = 0;
  let windowStart = performance.now();
  const peak = { heapUsed: 0, heapTotal: 0, external: 0 };
  const sampleHeap = () => {
    const m = process.memoryUsage();
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.external = Math.max(peak.external, m.external);
    return m;
  };
  const heapTimer = setInterval(sampleHeap, 50);
  heapTimer.unref();

  const profileOut = process.env.BENCH_PROFILE_OUT;
  let session: Session | undefined;
  /** Starts profiling at an odd signal, stops at an even one; calls `then` once it is safe to go on. */
  const toggleProfile = (then: () => void) => {
    if (!profileOut) return then();
    if (!session) {
      session = new Session();
      session.connect();
      session.post('Profiler.enable', () => session!.post('Profiler.setSamplingInterval', { interval: 500 }, () => session!.post('Profiler.start', () => then())));
      return;
    }
    const s = session;
    session = undefined;
    s.post('Profiler.stop', (err, result) => {
      if (!err && result) writeFileSync(profileOut, JSON.stringify(result.profile));
      s.disconnect();
      then();
    });
  };

  const ns = (v: number) => Math.round((v / 1e6) * 10) / 10;
  process.on('SIGUSR2', () => toggleProfile(snapshot));
  function snapshot(): void {
    const mem = sampleHeap();
    const mb = (bytes: number) => Math.round(bytes / 1048576);
    const snap: ProbeSnapshot = {
      seq: ++seq,
      windowMs: Math.round(performance.now() - windowStart),
      eld: {
        p50: ns(histogram.percentile(50)),
        p99: ns(histogram.percentile(99)),
        max: ns(histogram.max),
        mean: ns(histogram.mean),
      },
      heapUsedMb: mb(mem.heapUsed),
      peakHeapUsedMb: mb(peak.heapUsed),
      peakHeapTotalMb: mb(peak.heapTotal),
      peakExternalMb: mb(peak.external),
      rssMb: mb(mem.rss),
    };
    writeFileSync(out, JSON.stringify(snap));
    histogram.reset();
    peak.heapUsed = 0;
    peak.heapTotal = 0;
    peak.external = 0;
    windowStart = performance.now();
  }
}
