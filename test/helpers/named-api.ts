import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { syntheticPokemon } from '../../src/simulator/payload';

/**
 * Real names for a few ids, the ones the README's examples use: the simulator's own names are
 * invented (`zesuling` for #25), so a program that says `pikachu` needs an API that knows it.
 */
export const REAL_NAMES: Record<number, string> = { 1: 'bulbasaur', 4: 'charmander', 7: 'squirtle', 25: 'pikachu', 150: 'mewtwo', 151: 'mew' };

/**
 * Writes `{id}.json.gz` payloads for ids 1..`last` into `dir`, for `pokequeue sim-api --data-dir`:
 * the simulator's synthetic payloads, renamed after {@link REAL_NAMES} where it has one. The
 * simulator then lists, serves and looks up these names like the real API.
 */
export function writeNamedPayloads(dir: string, last = 151): string {
  mkdirSync(dir, { recursive: true });
  for (let id = 1; id <= last; id++) {
    const payload = syntheticPokemon(id, 'https://pokeapi.co/api/v2') as { name: string; species: { name: string } };
    const name = REAL_NAMES[id];
    if (name) payload.name = payload.species.name = name;
    writeFileSync(join(dir, `${id}.json.gz`), gzipSync(JSON.stringify(payload), { level: 1 }));
  }
  return dir;
}
