import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root';
import type { RedisClient } from './connection';
import type { FinishedJob } from '../types';
import { LUA_NAMES } from './schema';

/**
 * pokequeue's Lua scripts, one `.lua` file each in src/redis/lua/ (read from the package at run
 * time, like the dashboard's page), each opening with its contract: keys, arguments, reply, what
 * it writes and publishes. On loading:
 * - `--- @include "name"` lines are replaced by src/redis/lua/includes/name.lua (BullMQ's way of
 *   sharing one function, such as the rule that finishes a batch, between scripts);
 * - `{{name}}` placeholders are replaced by the field names of schema.ts ({@link LUA_NAMES}) and
 *   the reply codes below, so a script and the TypeScript that reads what it wrote cannot drift.
 *   An unknown placeholder fails at load, not in production.
 */

/** What classify-ids answers for each id. */
export const IdState = { fresh: 0, stored: 1, live: 2, finished: 3 } as const;
/** What commit-group answers for each job. */
export const OutcomeCount = { counted: 1, duplicate: 0, noBatch: 2, countedLast: 3 } as const;

/** Whether a job's outcome went into its batch (as its last job or not). */
export const countedInBatch = (count: number) => count === OutcomeCount.counted || count === OutcomeCount.countedLast;
/** How commit-group is told a job ended. */
export const OutcomeCode = { completed: 'c', failed: 'f' } as const;

/**
 * One job as commit-group.lua reads it: its Pokémon id alone when it completed at its first
 * attempt with a request, as nearly every job does; otherwise id, outcome, cached, attempts made
 * and reason, comma-separated (reasons are words: `not_found`, `server_error`...).
 */
export function encodeOutcome(j: FinishedJob): string | number {
  if (j.outcome === 'completed' && !j.cached && j.attemptsMade === 0) return j.id;
  const outcome = j.outcome === 'failed' ? OutcomeCode.failed : OutcomeCode.completed;
  return `${j.id},${outcome},${j.cached ? 1 : 0},${j.attemptsMade},${j.reason ?? ''}`;
}

/** adopt-ids modes. */
export const AdoptMode = { adopt: 'adopt', check: 'check' } as const;

const CODES: Record<string, string | number> = {
  ...Object.fromEntries(Object.entries(IdState).map(([k, v]) => [`id.${k}`, v])),
  ...Object.fromEntries(Object.entries(OutcomeCount).map(([k, v]) => [`count.${k}`, v])),
  ...Object.fromEntries(Object.entries(OutcomeCode).map(([k, v]) => [`outcome.${k}`, v])),
  ...Object.fromEntries(Object.entries(AdoptMode).map(([k, v]) => [`mode.${k}`, v])),
};

const LUA_DIR = join(packageRoot(), 'src', 'redis', 'lua');
const cache = new Map<string, string>();

/** A script's source, ready to run: includes inlined, placeholders filled in. */
export function luaSource(name: string): string {
  let source = cache.get(name);
  if (source === undefined) {
    source = render(readFileSync(join(LUA_DIR, `${name}.lua`), 'utf8'), name);
    cache.set(name, source);
  }
  return source;
}

function render(text: string, name: string): string {
  const included = text.replace(/^--- @include "([a-z0-9-]+)"$/gm, (_m, inc: string) =>
    readFileSync(join(LUA_DIR, 'includes', `${inc}.lua`), 'utf8'),
  );
  return included.replace(/\{\{([A-Za-z0-9_.]+)\}\}/g, (_m, key: string) => {
    const value = LUA_NAMES[key] ?? CODES[key];
    if (value === undefined) throw new Error(`src/redis/lua/${name}.lua: unknown placeholder {{${key}}}`);
    return String(value);
  });
}

/**
 * Defines `script` as command `command` on `redis` once (ioredis sends EVALSHA, and the script
 * itself only when Redis does not know it yet). `numberOfKeys` undefined: the caller passes the
 * key count first, for scripts whose key count varies.
 */
export function defineScript(redis: RedisClient, command: string, script: string, numberOfKeys?: number): void {
  if (typeof (redis as unknown as Record<string, unknown>)[command] === 'function') return;
  redis.defineCommand(command, numberOfKeys === undefined ? { lua: luaSource(script) } : { numberOfKeys, lua: luaSource(script) });
}
