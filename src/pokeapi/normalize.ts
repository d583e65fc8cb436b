import type { PokemonRecord } from '../types';
import { BadPayloadError } from './errors';
import { sample } from './fetch-policy';

/**
 * Turns a `/pokemon/{id}/` payload into the record the store keeps, checking on the way that it
 * IS the Pokémon we asked for. Any missing or mistyped field throws {@link BadPayloadError}:
 * a record with holes would be worse than a failed job a user can see and retry.
 */
export function normalizePokemon(
  payload: unknown,
  expectedId: number,
  sourceUrl: string,
  fetchedAt: Date = new Date(),
): PokemonRecord {
  const bad = (what: string): never => {
    throw new BadPayloadError(`payload for id ${expectedId} ${what}`, sample(JSON.stringify(payload) ?? String(payload)));
  };
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) bad('is not a JSON object');
  const p = payload as Record<string, unknown>;
  if (p.id !== expectedId) bad(`has id ${JSON.stringify(p.id)} instead`);
  const name = str(p.name) ?? bad('has no name');
  const height = int(p.height) ?? bad('has no height');
  const weight = int(p.weight) ?? bad('has no weight');
  const order = int(p.order) ?? bad('has no order');
  if (typeof p.is_default !== 'boolean') bad('has no is_default');
  if (p.base_experience !== null && int(p.base_experience) === undefined) bad('has a non-integer base_experience');
  const species = str((p.species as { name?: unknown } | undefined)?.name) ?? bad('has no species name');

  if (!Array.isArray(p.types) || p.types.length === 0) bad('has no types');
  const types = (p.types as { slot?: unknown; type?: { name?: unknown } }[])
    .map((t) => ({ slot: int(t?.slot) ?? bad('has a type without a slot'), name: str(t?.type?.name) ?? bad('has a type without a name') }))
    .sort((a, b) => a.slot - b.slot)
    .map((t) => t.name);

  if (!Array.isArray(p.abilities)) bad('has no abilities');
  const abilities = (p.abilities as { ability?: { name?: unknown }; is_hidden?: unknown; slot?: unknown }[])
    .slice()
    .sort((a, b) => (int(a?.slot) ?? 0) - (int(b?.slot) ?? 0))
    .map((a) => ({ name: str(a?.ability?.name) ?? bad('has an ability without a name'), hidden: a?.is_hidden === true }));

  if (!Array.isArray(p.stats) || p.stats.length === 0) bad('has no stats');
  const stats: Record<string, number> = {};
  for (const s of p.stats as { base_stat?: unknown; stat?: { name?: unknown } }[]) {
    stats[str(s?.stat?.name) ?? bad('has a stat without a name')] = int(s?.base_stat) ?? bad('has a stat without a base value');
  }

  const sprites = p.sprites as { front_default?: unknown } | undefined;
  if (!Array.isArray(p.moves)) bad('has no moves list');

  return {
    id: expectedId,
    name,
    height,
    weight,
    baseExperience: p.base_experience === null ? null : (p.base_experience as number),
    order,
    isDefault: p.is_default as boolean,
    species,
    types,
    abilities,
    stats,
    sprite: str(sprites?.front_default) ?? null,
    moveCount: (p.moves as unknown[]).length,
    fetchedAt: fetchedAt.toISOString(),
    sourceUrl,
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}
