import { BadPayloadError } from '../src/pokeapi/errors';
import { normalizePokemon } from '../src/pokeapi/normalize';
import { syntheticPokemon } from '../src/simulator/payload';

const base = 'http://127.0.0.1:1/api/v2';

/** A payload in the real API's shape, trimmed to what normalization reads (values of #1). */
const bulbasaurLike = () => ({
  id: 1,
  name: 'bulbasaur',
  height: 7,
  weight: 69,
  base_experience: 64,
  order: 1,
  is_default: true,
  species: { name: 'bulbasaur', url: `${base}/pokemon-species/1/` },
  types: [
    { slot: 2, type: { name: 'poison', url: '' } },
    { slot: 1, type: { name: 'grass', url: '' } },
  ],
  abilities: [
    { ability: { name: 'chlorophyll', url: '' }, is_hidden: true, slot: 3 },
    { ability: { name: 'overgrow', url: '' }, is_hidden: false, slot: 1 },
  ],
  stats: [
    ['hp', 45], ['attack', 49], ['defense', 49], ['special-attack', 65], ['special-defense', 65], ['speed', 45],
  ].map(([name, v]) => ({ base_stat: v, effort: 0, stat: { name, url: '' } })),
  sprites: { front_default: 'https://example/1.png' },
  moves: [{}, {}, {}],
});

describe('normalizing a payload into a record', () => {
  it('keeps the fields a user asks for, types and abilities in slot order', () => {
    const r = normalizePokemon(bulbasaurLike(), 1, `${base}/pokemon/1/`, new Date('2026-01-01T00:00:00Z'));
    expect(r).toEqual({
      id: 1, name: 'bulbasaur', height: 7, weight: 69, baseExperience: 64, order: 1, isDefault: true,
      species: 'bulbasaur', types: ['grass', 'poison'],
      abilities: [{ name: 'overgrow', hidden: false }, { name: 'chlorophyll', hidden: true }],
      stats: { hp: 45, attack: 49, defense: 49, 'special-attack': 65, 'special-defense': 65, speed: 45 },
      sprite: 'https://example/1.png', moveCount: 3, fetchedAt: '2026-01-01T00:00:00.000Z', sourceUrl: `${base}/pokemon/1/`,
    });
  });

  it('accepts a null base_experience (some alternate forms)', () => {
    expect(normalizePokemon({ ...bulbasaurLike(), base_experience: null }, 1, '').baseExperience).toBeNull();
  });

  it('normalizes every simulated payload, forms included', () => {
    for (const id of [1, 25, 151, 1025, 10001, 10300]) {
      expect(normalizePokemon(syntheticPokemon(id, base), id, '').id).toBe(id);
    }
  });

  it.each([
    ['another id', { id: 2 }, /has id 2 instead/],
    ['no name', { name: undefined }, /no name/],
    ['no types', { types: [] }, /no types/],
    ['no stats', { stats: undefined }, /no stats/],
    ['a string weight', { weight: '69' }, /no weight/],
  ])('rejects a payload with %s', (_label, patch, message) => {
    const bad = { ...bulbasaurLike(), ...patch };
    expect(() => normalizePokemon(bad, 1, '')).toThrow(BadPayloadError);
    expect(() => normalizePokemon(bad, 1, '')).toThrow(message);
  });

  it('rejects an HTML page or an array', () => {
    expect(() => normalizePokemon('<html>', 1, '')).toThrow(/not a JSON object/);
    expect(() => normalizePokemon([], 1, '')).toThrow(/not a JSON object/);
  });
});
