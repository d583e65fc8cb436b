/** What the runner hands every scenario, and what a scenario is. */
import { resolve } from 'node:path';
import type { BenchRedis } from './infra';
import { DIST_BENCH } from './processes';
import type { ScenarioReport, Table } from './report';

export interface BenchOptions {
  /** Fewer repetitions and smaller volumes: a smoke run of every scenario. */
  readonly quick: boolean;
  /** Scenario keys to run; all when empty. */
  readonly only: readonly string[];
  /** Serve the real payloads from this directory (`--real`); synthetic ones when undefined. */
  readonly dataDir: string | undefined;
  /** Also take CPU profiles of the worker (one extra, unmeasured run per profiled scenario). */
  readonly profile: boolean;
  /** Where profiles and probe files go. */
  readonly workDir: string;
}

export interface ScenarioContext {
  readonly opts: BenchOptions;
  readonly redis: BenchRedis;
  /** Measured repetitions per contender. */
  readonly reps: number;
  log(message: string): void;
  /** Profile tables and findings go here, for the report's Profiles section. */
  addProfile(tables: Table[], notes?: string[]): void;
}

export interface Scenario {
  readonly key: string;
  readonly title: string;
  run(ctx: ScenarioContext): Promise<ScenarioReport>;
}

/** The probe preload (event-loop delay, heap): `--require` it into a measured process. */
export const PROBE = resolve(DIST_BENCH, 'lib/probe.js');
/** The module-load timer preload. */
export const REQUIRE_TIMER = resolve(DIST_BENCH, 'lib/require-timer.js');
