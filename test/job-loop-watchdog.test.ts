import { JobLoopWatchdog, type StuckReport } from '../src/queue/job-loop-watchdog';

/**
 * The watchdog's verdicts on a clock the spec moves. The end-to-end case (a real worker whose
 * loop is really stuck, exiting, and its supervisor replacing it) is in network-partition.test.ts.
 */
describe('the job-loop watchdog', () => {
  let now = 0;
  let busy = false;
  let reports: StuckReport[] = [];
  const make = () => {
    now = 1_000_000;
    busy = false;
    reports = [];
    return new JobLoopWatchdog({ stuckAfterMs: 60_000, allSlotsBusy: () => busy, onStuck: (r) => reports.push(r), now: () => now });
  };

  it('finds a loop stuck when Redis answers for the whole period and the loop never turns', () => {
    const w = make();
    w.redisAnswered();
    now += 59_000;
    w.check();
    expect(w.healthy).toBe(true);
    now += 1_000;
    w.check();
    expect(w.healthy).toBe(false);
    expect(reports).toEqual([{ sinceLastTurnMs: 60_000, redisAnsweringForMs: 60_000 }]);
  });

  it('keeps a loop that turns healthy', () => {
    const w = make();
    w.redisAnswered();
    for (let i = 0; i < 100; i++) {
      now += 5_000;
      w.loopTurned();
      w.check();
    }
    expect(w.healthy).toBe(true);
  });

  it('does not blame the loop while Redis does not answer, and gives it a full period once Redis is back', () => {
    const w = make();
    w.redisFailed();
    now += 300_000;
    w.check();
    expect(w.healthy).toBe(true);
    w.redisAnswered();
    now += 59_000;
    w.check();
    expect(w.healthy).toBe(true);
    now += 1_000;
    w.check();
    expect(w.healthy).toBe(false);
  });

  it('a break in the answers starts the period again', () => {
    const w = make();
    w.redisAnswered();
    now += 50_000;
    w.redisFailed();
    w.redisAnswered();
    now += 50_000;
    w.check();
    expect(w.healthy).toBe(true);
  });

  it('does not count a loop waiting on its own jobs (every slot busy) as stuck', () => {
    const w = make();
    w.redisAnswered();
    busy = true;
    now += 120_000;
    w.check();
    expect(w.healthy).toBe(true);
    busy = false;
    now += 59_000;
    w.check();
    expect(w.healthy).toBe(true);
  });

  it('reports once, and stays unhealthy', () => {
    const w = make();
    w.redisAnswered();
    now += 61_000;
    w.check();
    w.loopTurned();
    now += 61_000;
    w.check();
    expect(reports).toHaveLength(1);
    expect(w.healthy).toBe(false);
  });
});
