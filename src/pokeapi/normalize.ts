import { hasUnprintable } from '../printable';
import type { PokemonRecord } from '../types';
import { BadPayloadError } from './errors';
import { sample } from './fetch-policy';

/**
 * How large a record's parts may be. Real payloads have at most 2 types, 3 abilities and 6 stats,
 * names of at most 27 characters and sprite URLs of 82 (all 1351 checked); each cap leaves room
 * for the API to grow several times over. A payload past a cap fails as a bad payload rather than
 * being cut down: a record with 16 of a million abilities would pass a made-up Pokémon off as
 * real, while a failed job says plainly that the API sent something wrong. With the caps a
 * record is at most ~10 KB, so a page of the records API stays bounded too.
 */
export const RECORD_LIMITS = {
  /** Characters in a name: the Pokémon's, its species', a type's, an ability's, a stat's. */
  nameChars: 100,
  types: 8,
  abilities: 16,
  stats: 16,
  /** Characters in the sprite URL. */
  urlChars: 2048,
} as const;

/**
 * Turns a `/pokemon/{id}/` payload into the record the store keeps, checking on the way that it
 * IS the Pokémon we asked for. Any missing or mistyped field, any part over {@link RECORD_LIMITS}
 * and any name holding control characters throws {@link BadPayloadError}: a record with holes
 * would be worse than a failed job a user can see and retry.
 */
export function normalizePokemon(
  payload: unknown,
  expectedId: number,
  sourceUrl: string,
  fetchedAt: Date = new Date(),
): PokemonRecord {
  try {
    return normalize(payload, expectedId, sourceUrl, fetchedAt);
  } catch (err) {
    // A payload nested thousands deep parses (JSON.parse does not recurse) but overflows the stack
    // of anything that walks it: the same answer would come back on every try.
    if (err instanceof RangeError) throw new BadPayloadError(`payload for id ${expectedId} could not be read (${err.message})`, '(not shown)');
    throw err;
  }
}

function normalize(payload: unknown, expectedId: number, sourceUrl: string, fetchedAt: Date): PokemonRecord {
  const bad = (what: string): never => {
    throw new BadPayloadError(`payload for id ${expectedId} ${what}`, sample(stringify(payload)));
  };
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) bad('is not a JSON object');
  const p = payload as Record<string, unknown>;
  if (p.id !== expectedId) bad(`has id ${sample(stringify(p.id))} instead`);
  const name = (what: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') return bad(`has no ${what}`);
    if (v.length > RECORD_LIMITS.nameChars) return bad(`has a ${what} of ${v.length} characters (at most ${RECORD_LIMITS.nameChars})`);
    if (hasUnprintable(v)) return bad(`has a ${what} with control characters`);
    return v;
  };
  const list = (what: string, v: unknown, max: number): unknown[] => {
    if (!Array.isArray(v)) return bad(`has no ${what}`);
    if (v.length > max) return bad(`has ${v.length} ${what} (at most ${max})`);
    return v;
  };

  const pokemonName = name('name', p.name);
  const height = int(p.height) ?? bad('has no height');
  const weight = int(p.weight) ?? bad('has no weight');
  const order = int(p.order) ?? bad('has no order');
  if (typeof p.is_default !== 'boolean') bad('has no is_default');
  if (p.base_experience !== null && int(p.base_experience) === undefined) bad('has a non-integer base_experience');
  const species = name('species name', (p.species as { name?: unknown } | undefined)?.name);

  const rawTypes = list('types', p.types, RECORD_LIMITS.types) as { slot?: unknown; type?: { name?: unknown } }[];
  if (rawTypes.length === 0) bad('has no types');
  const types = rawTypes
    .map((t) => ({ slot: int(t?.slot) ?? bad('has a type without a slot'), name: name('type name', t?.type?.name) }))
    .sort((a, b) => a.slot - b.slot)
    .map((t) => t.name);

  const abilities = (list('abilities', p.abilities, RECORD_LIMITS.abilities) as { ability?: { name?: unknown }; is_hidden?: unknown; slot?: unknown }[])
    .slice()
    .sort((a, b) => (int(a?.slot) ?? 0) - (int(b?.slot) ?? 0))
    .map((a) => ({ name: name('ability name', a?.ability?.name), hidden: a?.is_hidden === true }));

  const rawStats = list('stats', p.stats, RECORD_LIMITS.stats) as { base_stat?: unknown; stat?: { name?: unknown } }[];
  if (rawStats.length === 0) bad('has no stats');
  const stats: Record<string, number> = {};
  for (const s of rawStats) {
    stats[name('stat name', s?.stat?.name)] = int(s?.base_stat) ?? bad('has a stat without a base value');
  }

  const front = (p.sprites as { front_default?: unknown } | undefined)?.front_default;
  const sprite = typeof front === 'string' && front !== '' ? front : null;
  if (sprite !== null && !isHttpUrl(sprite)) bad(`has a sprite that is not an http(s) URL of at most ${RECORD_LIMITS.urlChars} characters`);
  if (!Array.isArray(p.moves)) bad('has no moves list');

  return {
    id: expectedId,
    name: pokemonName,
    height,
    weight,
    baseExperience: p.base_experience === null ? null : (p.base_experience as number),
    order,
    isDefault: p.is_default as boolean,
    species,
    types,
    abilities,
    stats,
    sprite,
    moveCount: (p.moves as unknown[]).length,
    fetchedAt: fetchedAt.toISOString(),
    sourceUrl,
  };
}

function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function isHttpUrl(v: string): boolean {
  if (v.length > RECORD_LIMITS.urlChars || hasUnprintable(v)) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** JSON for a body sample; a value too deeply nested to stringify is described instead. */
function stringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch (err) {
    return `(unprintable: ${(err as Error).message})`;
  }
}
